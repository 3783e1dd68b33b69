// Learned neuron positions: central differences of the penalty w.r.t. the positions on every space
// and inhibitor (with invert, permute, changeEmbed), projection after optimizer steps, no NaN.
// Reference: docs/method.md section 2.3.
import Geometry
import Linalg
import NN
import Testing
import _TestSupport
@testable import Sparsity

@Suite struct LearnedEmbeddingTests {
    func checkPositionGradient(
        space: String, inhibitor: Inhibitor, invert: Bool = false, permute: Bool = false,
        changeEmbed: Bool = false, power: Int = 1, gates: [Int] = [1], seed: UInt64
    ) throws {
        let h = 5
        let (store, slots) = recurrentStore(hiddenSize: h, gates: gates, seed: seed, as: Double.self)
        let config = RegularizerConfig(
            space: space, inhibitor: inhibitor, invert: invert, permute: permute,
            changeEmbed: changeEmbed, lambda: 0.7, power: power, learnEmbedding: true)
        var rng = SeededGenerator(seed: seed &+ 1)
        var regularizer = try ModuliRegularizer(config: config, hiddenSize: h, in: store, rng: &rng)
        let learned = try #require(regularizer.learned)
        store.zeroGradients()
        let penalty = regularizer.addGradients(weights: slots, in: store)
        #expect(penalty.isFinite)
        let positionSlots = [learned.positionsSlot] + (learned.columnPositionsSlot.map { [$0] } ?? [])
        #expect(positionSlots.count == (changeEmbed ? 2 : 1))
        for slot in positionSlots {
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: store.info(slot).count, step: 1e-5) {
                regularizer.updateCoefficients(from: store)
                return regularizer.penalty(weights: slots, in: store)
            }
            let analytic = gradients(store, slot)
            let error = GradientCheck.maxRelativeError(numeric, analytic)
            let label =
                """
                \(store.info(slot).name) on \(space), \(inhibitor), invert \(invert), permute \(permute), changeEmbed \(changeEmbed), \
                p = \(power), seed \(seed)
                """
            #expect(analytic.allSatisfy { $0.isFinite }, "\(label)")
            #expect(error < 1e-5, "\(label): max relative error \(error)")
        }
    }

    static let plainInhibitors: [Inhibitor] = [.square, .gauss, .dog, .ripple, .constant]

    @Test(arguments: ModuliSpaces.names)
    func everyInhibitorOnEverySpace(space: String) throws {
        for (k, inhibitor) in Self.plainInhibitors.enumerated() {
            try checkPositionGradient(space: space, inhibitor: inhibitor, seed: 100 + UInt64(k))
        }
        try checkPositionGradient(space: space, inhibitor: .invertedDoG, seed: 110)
    }

    @Test(arguments: ["torus", "sphere", "klein"])
    func invertPermuteAndChangeEmbed(space: String) throws {
        try checkPositionGradient(space: space, inhibitor: .gauss, invert: true, seed: 120)
        try checkPositionGradient(space: space, inhibitor: .dog, permute: true, seed: 121)
        try checkPositionGradient(space: space, inhibitor: .invertedDoG, permute: true, power: 2, seed: 122)
        try checkPositionGradient(space: space, inhibitor: .square, changeEmbed: true, seed: 123)
        try checkPositionGradient(space: space, inhibitor: .invertedDoG, permute: true, changeEmbed: true, gates: [4, 3], seed: 124)
    }

    @Test func learnedCoefficientsEqualFixedOnesForTheSameSeed() throws {
        for (k, config) in [
            RegularizerConfig(space: "torus", inhibitor: .invertedDoG, lambda: 1),
            RegularizerConfig(space: "sphere", inhibitor: .dog, invert: true, permute: true, lambda: 1),
            RegularizerConfig(space: "klein", inhibitor: .ripple, permute: true, changeEmbed: true, lambda: 1)
        ].enumerated() {
            var learnedConfig = config
            learnedConfig.learnEmbedding = true
            var r1 = SeededGenerator(seed: 130 + UInt64(k)), r2 = SeededGenerator(seed: 130 + UInt64(k))
            let fixed = try ModuliRegularizer<Double>(config: config, hiddenSize: 9, in: ParameterStore(), rng: &r1)
            let store = ParameterStore<Double>()
            let learned = try ModuliRegularizer<Double>(config: learnedConfig, hiddenSize: 9, in: store, rng: &r2)
            #expect(fixed.coefficients == learned.coefficients, "\(config.space) seed \(130 + k)")
            #expect(store.slot(named: LearnedEmbedding.positionsName) != nil)
            let positions = try #require(learned.positions(in: store))
            #expect(positions.rows == fixed.initialPositions?.positions)
        }
    }

    /// Adam steps with a large learning rate on the regularizer's gradient only, then `project`.
    func train(
        space: String, h: Int, seed: UInt64, steps: Int = 20,
        prepare: (ParameterStore<Float>, LearnedEmbedding) -> Void = { _, _ in }
    ) throws -> (ParameterStore<Float>, LearnedEmbedding) {
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [1], seed: seed, as: Float.self)
        var rng = SeededGenerator(seed: seed &+ 1)
        var regularizer = try ModuliRegularizer(
            config: RegularizerConfig(
                space: space, inhibitor: .invertedDoG, lambda: 10,
                learnEmbedding: true),
            hiddenSize: h, in: store, rng: &rng)
        let learned = try #require(regularizer.learned)
        prepare(store, learned)
        var adam = Adam<Float>(learningRate: 0.5)
        for step in 0..<steps {
            store.zeroGradients()
            let penalty = regularizer.addGradients(weights: slots, in: store)
            #expect(penalty.isFinite, "\(space) step \(step) seed \(seed)")
            #expect(gradients(store, learned.positionsSlot).allSatisfy { $0.isFinite }, "\(space) step \(step) seed \(seed)")
            adam.step(store)
            regularizer.projectPositions(in: store)
        }
        return (store, learned)
    }

    @Test func torusCoordinatesStayInRange() throws {
        let (store, learned) = try train(space: "torus", h: 16, seed: 140)
        let p = learned.positions(in: store)
        #expect(p.scalars.allSatisfy { $0 >= 0 && $0 < 10 }, "torus coordinates in [0, 10), seed 140")
        var rng = SeededGenerator(seed: 141)
        let initial = NeuronEmbedding.sample(space: try ModuliSpaces.named("torus"), count: 16, rng: &rng)
        #expect(p.maxAbsDifference(initial.positions) > 0.1, "the optimizer moved the positions, seed 140")
    }

    @Test func spherePointsStayUnitEvenWhenCoincidentOrAntipodal() throws {
        let (store, learned) = try train(space: "sphere", h: 8, seed: 150) { store, learned in
            // Neurons 1 and 2 coincide with 0; neuron 3 is antipodal to 0.
            let p = store.value(learned.positionsSlot)
            for c in 0..<3 {
                p[3 + c] = p[c]; p[6 + c] = p[c]; p[9 + c] = -p[c]
            }
        }
        let p = learned.positions(in: store)
        #expect(p.scalars.allSatisfy { $0.isFinite })
        for i in 0..<p.rows {
            let norm = p.row(i).reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-6, "sphere point \(i) norm \(norm), seed 150")
        }
    }

    @Test func coincidentTorusPointsGiveNoNaN() throws {
        let (store, learned) = try train(space: "torus", h: 6, seed: 160) { store, learned in
            let p = store.value(learned.positionsSlot)
            for i in 0..<12 { p[i] = 3 }  // every neuron at (3, 3)
        }
        #expect(learned.positions(in: store).scalars.allSatisfy { $0.isFinite && $0 >= 0 && $0 < 10 })
    }
}
