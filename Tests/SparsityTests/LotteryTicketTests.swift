// Lottery tickets: masks moved onto a freshly initialised model (the paper's version) and
// Frankle-Carbin rewinding to the initial values. Reference: docs/method.md section 3.
import Linalg
import NN
import Testing
@testable import Sparsity

@Suite struct LotteryTicketTests {
    func model(seed: UInt64) -> (ParameterStore<Float>, RecurrentNetwork) {
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .rnnReLU, inputSize: 3, hiddenSize: 8, in: store, rng: &rng)
        return (store, net)
    }

    @Test func masksMoveToAFreshModel() throws {
        let (trained, net) = model(seed: 1)
        let pruned = [net.layers[0].weightIH, net.layers[0].weightHH]
        GradualMagnitudePruner.prune(pruned, toSparsity: 0.7, in: trained)
        let (fresh, _) = model(seed: 2)
        let freshBefore = fresh.copy()
        let moved = try LotteryTicket.transferMasks(from: trained, to: fresh)
        #expect(moved == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"])
        for slot in pruned {
            #expect(mask(fresh, slot) == mask(trained, slot), "seeds 1 -> 2")
            #expect(fresh.isMasked[slot.index])
            let m = mask(fresh, slot), v = values(fresh, slot), v0 = values(freshBefore, slot)
            for i in m.indices { #expect(v[i] == (m[i] == 0 ? 0 : v0[i]), "fresh values kept where the mask is 1") }
        }
        let bias = try #require(net.layers[0].biasIH)
        #expect(!fresh.isMasked[bias.index] && values(fresh, bias) == values(freshBefore, bias))
    }

    @Test func transferRejectsADifferentLayout() {
        let (trained, net) = model(seed: 3)
        GradualMagnitudePruner.prune([net.layers[0].weightHH], toSparsity: 0.5, in: trained)
        var rng = SeededGenerator(seed: 4)
        let other = ParameterStore<Float>()
        _ = RecurrentNetwork(kind: .rnnReLU, inputSize: 3, hiddenSize: 9, in: other, rng: &rng)
        #expect(throws: LotteryTicketError.shapeMismatch(name: "rnn.weight_hh_l0", trained: [8, 8], other: [9, 9])) {
            try LotteryTicket.transferMasks(from: trained, to: other)
        }
        #expect(throws: LotteryTicketError.missingTensor("rnn.weight_hh_l0")) {
            try LotteryTicket.transferMasks(from: trained, to: ParameterStore<Float>())
        }
    }

    @Test func rewindingRestoresInitialValuesOnSurvivors() throws {
        let (store, net) = model(seed: 5)
        let initial = store.copy()
        var rng = SeededGenerator(seed: 6)
        var adam = Adam<Float>(learningRate: 0.05)
        for _ in 0..<10 {
            store.zeroGradients()
            for i in 0..<store.totalCount { store.gradients[i] = Float(rng.normal()) }
            adam.step(store)
        }
        let hh = net.layers[0].weightHH
        GradualMagnitudePruner.prune([hh], toSparsity: 0.6, in: store)
        try LotteryTicket.rewind(store, to: initial)
        let m = mask(store, hh), v = values(store, hh), v0 = values(initial, hh)
        #expect(m.filter { $0 == 0 }.count == Int((0.6 * 64).rounded()))
        for i in m.indices { #expect(v[i] == (m[i] == 0 ? 0 : v0[i]), "entry \(i), seed 5") }
        let ih = net.layers[0].weightIH
        #expect(values(store, ih) == values(initial, ih), "unpruned tensors rewound too")
        #expect(throws: LotteryTicketError.layoutMismatch) { try LotteryTicket.rewind(store, to: ParameterStore<Float>()) }
    }
}
