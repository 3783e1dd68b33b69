// The penalty lambda * mean(R |W|^p) and its gradient w.r.t. W_hh: naive loops and central
// differences in Double (p = 1, 2; gate-tiled G = 4; several layers). Reference: docs/method.md section 2.
import Geometry
import Linalg
import NN
import Testing
import _TestSupport
@testable import Sparsity

@Suite struct RegularizerGradientTests {
    /// Penalty from explicit loops over R and every slot: lambda * sum_layers mean_{g,i,j} R_ij |W_gij|^p.
    func naivePenalty(
        _ r: Matrix<Double>, _ store: ParameterStore<Double>, _ slots: [ParameterSlot],
        lambda: Double, power: Int
    ) -> Double {
        let h = r.rows
        var total = 0.0
        for slot in slots {
            let w = values(store, slot), blocks = store.info(slot).rows / h
            var sum = 0.0
            for g in 0..<blocks {
                for i in 0..<h {
                    for j in 0..<h {
                        let x = abs(w[(g * h + i) * h + j])
                        sum += r[i, j] * (power == 1 ? x : x * x)
                    }
                }
            }
            total += lambda * sum / Double(blocks * h * h)
        }
        return total
    }

    func check(config: RegularizerConfig, gates: [Int], seed: UInt64) throws {
        let h = 7
        let (store, slots) = recurrentStore(hiddenSize: h, gates: gates, seed: seed, as: Double.self)
        var rng = SeededGenerator(seed: seed &+ 100)
        var regularizer = try ModuliRegularizer(config: config, hiddenSize: h, in: store, rng: &rng)
        try regularizer.checkWeights(slots, in: store)
        let r = try #require(regularizer.coefficients)

        store.zeroGradients()
        let penalty = regularizer.addGradients(weights: slots, in: store)
        let naive = naivePenalty(r, store, slots, lambda: config.lambda, power: config.power)
        #expect(abs(penalty - naive) <= 1e-12 * max(1, abs(naive)), "penalty vs naive loops, \(config.space) seed \(seed)")
        #expect(abs(regularizer.penalty(weights: slots, in: store) - penalty) <= 1e-12 * max(1, abs(penalty)))

        for slot in slots {
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: store.info(slot).count) {
                regularizer.penalty(weights: slots, in: store)
            }
            let error = GradientCheck.maxRelativeError(numeric, gradients(store, slot))
            #expect(
                error < 1e-7,
                """
                dW \(store.info(slot).name), \(config.space)/\(config.inhibitor) p = \(config.power) gates \(gates) seed \(seed): \
                error \(error)
                """
            )
        }
    }

    @Test(arguments: [1, 2])
    func torusInvertedDoG(power: Int) throws {
        try check(config: .geometric(space: "torus", inhibitor: .invertedDoG, lambda: 0.1, power: power), gates: [1], seed: 11)
    }

    @Test(arguments: [1, 2])
    func gateTiledLSTM(power: Int) throws {
        try check(config: .geometric(space: "klein", inhibitor: .gauss, lambda: 0.3, power: power), gates: [4], seed: 12)
    }

    @Test func severalLayersGRUAndStandard() throws {
        try check(config: .geometric(space: "sphere", inhibitor: .square, lambda: 0.01, power: 1), gates: [3, 3], seed: 13)
        try check(config: .standard(lambda: 0.5, power: 1), gates: [1, 1, 1], seed: 14)
        try check(config: .standard(lambda: 0.5, power: 2), gates: [4], seed: 15)
    }

    @Test func subgradientIsZeroAtZeroWeights() throws {
        let h = 4
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [1], seed: 16, as: Double.self)
        let w = store.value(slots[0])
        for i in stride(from: 0, to: h * h, by: 3) { w[i] = 0 }
        var rng = SeededGenerator(seed: 17)
        var regularizer = try ModuliRegularizer(config: .geometric(space: "torus", lambda: 1), hiddenSize: h, in: store, rng: &rng)
        store.zeroGradients()
        regularizer.addGradients(weights: slots, in: store)
        let g = gradients(store, slots[0])
        for i in stride(from: 0, to: h * h, by: 3) { #expect(g[i] == 0, "entry \(i) seed 16") }
        #expect(g.allSatisfy { $0.isFinite })
    }

    /// The Float training loop (eight SIMD lanes, sign from bits) against a scalar Float loop:
    /// exact for p = 1 (including +0, -0, subnormal and negative weights), close for p = 2.
    @Test(arguments: [1, 2])
    func floatKernelMatchesScalarLoop(power: Int) throws {
        let h = 13  // 169 entries per block: 21 vectors of 8 and a tail of 1
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [3], seed: 25, as: Float.self)
        let w = store.value(slots[0]), count = 3 * h * h
        let specials: [Float] = [0, -0.0, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, -1e-30, 1e-30]
        for (k, v) in specials.enumerated() { w[k * 17] = v }
        var rng = SeededGenerator(seed: 26)
        var regularizer = try ModuliRegularizer(
            config: .geometric(space: "torus", lambda: 0.3, power: power),
            hiddenSize: h, in: store, rng: &rng)
        let r = try #require(regularizer.coefficients).converted(to: Float.self)
        let initial = (0..<count).map { _ in Float(rng.normal()) }
        for i in 0..<count { store.gradient(slots[0])[i] = initial[i] }
        let penalty = regularizer.addGradients(weights: slots, in: store)
        let scale = Float(0.3 / Double(count))
        var naive = 0.0
        for i in 0..<count {
            let x = w[i], c = r.scalars[i % (h * h)]
            naive += Double(power == 1 ? c * abs(x) : c * x * x)
            let expected: Float =
                power == 1
                ? initial[i] + scale * (x > 0 ? c : (x < 0 ? -c : 0))
                : initial[i] + 2 * scale * c * x
            let got = store.gradient(slots[0])[i]
            if power == 1 {
                #expect(got == expected, "entry \(i), w = \(x), seed 25")
            } else {
                #expect(abs(got - expected) <= 1e-6 * max(1, abs(expected)), "entry \(i), seed 25")
            }
        }
        #expect(abs(penalty - 0.3 * naive / Double(count)) <= 1e-5 * penalty, "seed 25")
    }

    @Test func gradientIsAddedNotAssigned() throws {
        let h = 5
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [1], seed: 18, as: Double.self)
        var rng = SeededGenerator(seed: 19)
        var regularizer = try ModuliRegularizer(config: .geometric(space: "circle", lambda: 1), hiddenSize: h, in: store, rng: &rng)
        store.zeroGradients()
        regularizer.addGradients(weights: slots, in: store)
        let once = gradients(store, slots[0])
        regularizer.addGradients(weights: slots, in: store)
        let twice = gradients(store, slots[0])
        #expect(zip(once, twice).allSatisfy { abs(2 * $0 - $1) <= 1e-15 * max(1, abs($1)) })
    }

    @Test(arguments: [1, 2])
    func floatMatchesDouble(power: Int) throws {
        let h = 33
        let config = RegularizerConfig.geometric(space: "torus", lambda: 0.1, power: power)
        let (sd, slotsD) = recurrentStore(hiddenSize: h, gates: [4, 1], seed: 20, as: Double.self)
        let (sf, slotsF) = recurrentStore(hiddenSize: h, gates: [4, 1], seed: 20, as: Float.self)
        for (a, b) in zip(slotsD, slotsF) { sd.setValue(a, sf.matrix(b).converted(to: Double.self)) }
        var r1 = SeededGenerator(seed: 21), r2 = SeededGenerator(seed: 21)
        var rd = try ModuliRegularizer(config: config, hiddenSize: h, in: sd, rng: &r1)
        var rf = try ModuliRegularizer(config: config, hiddenSize: h, in: sf, rng: &r2)
        sd.zeroGradients(); sf.zeroGradients()
        let pd = rd.addGradients(weights: slotsD, in: sd)
        let pf = rf.addGradients(weights: slotsF, in: sf)
        #expect(abs(pd - pf) <= 1e-5 * abs(pd), "Float penalty \(pf) vs Double \(pd), p = \(power), seed 20")
        for (a, b) in zip(slotsD, slotsF) {
            let e = GradientCheck.maxRelativeError(gradients(sd, a), gradients(sf, b))
            #expect(e < 1e-6, "Float vs Double gradient, p = \(power), seed 20: \(e)")
        }
    }

    @Test func noneIsInactive() throws {
        let (store, slots) = recurrentStore(hiddenSize: 4, gates: [1], seed: 22, as: Double.self)
        var rng = SeededGenerator(seed: 23)
        var regularizer = try ModuliRegularizer(config: .none, hiddenSize: 4, in: store, rng: &rng)
        store.zeroGradients()
        #expect(regularizer.addGradients(weights: slots, in: store) == 0)
        #expect(gradients(store, slots[0]).allSatisfy { $0 == 0 })
        #expect(regularizer.coefficients == nil && regularizer.statistics() == nil)
        var fresh = SeededGenerator(seed: 23)
        #expect(rng.next() == fresh.next(), "none must draw nothing")
    }

    @Test func wrongWeightShapeIsRejected() throws {
        let store = ParameterStore<Double>()
        let bad = store.add("rnn.weight_hh_l0", shape: [5, 4])
        var rng = SeededGenerator(seed: 24)
        let regularizer = try ModuliRegularizer(config: .geometric(space: "torus", lambda: 1), hiddenSize: 4, in: store, rng: &rng)
        #expect(throws: RegularizerError.weightShape(name: "rnn.weight_hh_l0", shape: [5, 4], hiddenSize: 4)) {
            try regularizer.checkWeights([bad], in: store)
        }
    }
}
