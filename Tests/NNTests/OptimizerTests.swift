// SGD, Adam, AdamW and gradient clipping against PyTorch float64 reference values
// (Tools/References/optimizers.py -> References/optimizers.json), and pruning masks under training.
import Testing
import Foundation
import Linalg
import _TestSupport
import NN

/// The contents of References/optimizers.json.
fileprivate struct OptimizerReference: Decodable {
    struct Options: Decodable {
        var lr: Double
        var momentum: Double?
        var dampening: Double?
        var weight_decay: Double
        var nesterov: Bool?
        var betas: [Double]?
        var eps: Double?
    }
    struct Case: Decodable {
        var name: String
        var optimizer: String
        var options: Options
        /// Every parameter (flat, store order) after each step.
        var parameters: [[Double]]
    }
    struct Clip: Decodable {
        var name: String
        var maxNorm: Double
        var gradients: [Double]
        var totalNorm: Double
        var clipped: [Double]
    }
    var shapes: [[Int]]
    var initial: [Double]
    var gradients: [[Double]]
    var cases: [Case]
    var clip: [Clip]

    static func load() throws -> OptimizerReference {
        let url = try #require(Bundle.module.url(forResource: "optimizers", withExtension: "json", subdirectory: "References"))
        return try JSONDecoder().decode(OptimizerReference.self, from: Data(contentsOf: url))
    }

    /// A Double store with the reference layout, at the initial values.
    func store() -> ParameterStore<Double> {
        let store = ParameterStore<Double>()
        for (k, shape) in shapes.enumerated() { store.add("p\(k)", shape: shape) }
        precondition(store.totalCount == initial.count, "optimizers.json: shapes and initial values disagree")
        for i in initial.indices { store.values[i] = initial[i] }
        return store
    }
}

/// The largest relative difference |a - b| / |b| (b never 0 here).
fileprivate func maxRelativeDifference(_ a: some Collection<Double>, _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
}

@Suite struct OptimizerTests {
    fileprivate func optimizer(_ c: OptimizerReference.Case) -> any Optimizer<Double> {
        let o = c.options
        switch c.optimizer {
        case "SGD":
            return SGD<Double>(
                learningRate: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0,
                weightDecay: o.weight_decay, nesterov: o.nesterov ?? false)
        case "Adam":
            return Adam<Double>(learningRate: o.lr, betas: (o.betas![0], o.betas![1]), epsilon: o.eps!, weightDecay: o.weight_decay)
        case "AdamW":
            return Adam<Double>.adamW(learningRate: o.lr, betas: (o.betas![0], o.betas![1]), epsilon: o.eps!, weightDecay: o.weight_decay)
        default:
            preconditionFailure("optimizers.json: unknown optimizer \(c.optimizer)")
        }
    }

    @Test func matchesPyTorchEveryStep() throws {
        let ref = try OptimizerReference.load()
        #expect(ref.cases.count == 9)
        for c in ref.cases {
            let store = ref.store()
            var opt = optimizer(c)
            #expect(c.parameters.count == ref.gradients.count)
            for (step, expected) in c.parameters.enumerated() {
                for i in ref.gradients[step].indices { store.gradients[i] = ref.gradients[step][i] }
                opt.step(store)
                let err = maxRelativeDifference(store.values, expected)
                #expect(err < 1e-12, "\(c.name) step \(step + 1): relative error \(err)")
            }
        }
    }

    @Test func adamWDefaultsArePyTorchs() {
        let w = Adam<Float>.adamW()
        #expect(w.weightDecay == 0.01 && w.learningRate == 1e-3 && w.betas == (0.9, 0.999) && w.epsilon == 1e-8 && w.decoupledWeightDecay)
        let a = Adam<Float>()
        #expect(a.weightDecay == 0 && !a.decoupledWeightDecay)
    }

    @Test func clipGradientNormMatchesPyTorch() throws {
        let ref = try OptimizerReference.load()
        for c in ref.clip {
            let store = ref.store()
            for i in c.gradients.indices { store.gradients[i] = c.gradients[i] }
            let norm = clipGradientNorm(store, maxNorm: c.maxNorm)
            #expect(abs(norm - c.totalNorm) <= 1e-14 * c.totalNorm, "\(c.name)")
            let err = maxRelativeDifference(store.gradients, c.clipped)
            #expect(err < 1e-13, "\(c.name): relative error \(err)")
            // PyTorch's formula: g *= min(1, maxNorm / (norm + 1e-6)).
            let coefficient = min(1, c.maxNorm / (c.totalNorm + 1e-6))
            #expect(maxRelativeDifference(store.gradients, c.gradients.map { $0 * coefficient }) < 1e-15, "\(c.name)")
        }
        #expect(ref.clip.contains { $0.totalNorm > $0.maxNorm } && ref.clip.contains { $0.totalNorm < $0.maxNorm })
    }

    /// Trains 10 steps unmasked (so moments build up everywhere), then prunes a third of one
    /// tensor and trains 200 more steps with nonzero gradients everywhere: pruned entries stay
    /// exactly 0 after every step, the kept entries keep moving, and the optimizer's moment buffers
    /// (`state.buffers[name]`) are 0 exactly at the pruned entries. Then probes the same moments
    /// through the update rule: with the mask lifted and a zero gradient there,
    /// an entry stays exactly 0 only if its first moment (Adam's m, SGD's momentum buffer) is 0;
    /// with a unit gradient next, Adam's step equals the first step from zero moments
    /// (m = 1 - b1, v = 1 - b2) only if v was 0 as well.
    func checkMasks(
        _ make: () -> any Optimizer<Float>, moments: [String],
        adam: (betas: (Double, Double), epsilon: Double)?, label: String
    ) {
        var rng = SeededGenerator(seed: 301)
        let store = ParameterStore<Float>()
        let w = store.add("w", shape: [4, 5], .uniform(bound: 1), rng: &rng)
        store.add("b", shape: [5], .uniform(bound: 1), rng: &rng)
        var opt = make()
        func randomGradients() { for i in 0..<store.totalCount { store.gradients[i] = Float(rng.normal()) } }
        let warmUp = 10, masked = 200
        for _ in 0..<warmUp { randomGradients(); opt.step(store) }

        let pruned = stride(from: 0, to: 20, by: 3).map { store.info(w).offset + $0 }
        for i in pruned { store.masks[i] = 0 }
        store.enableMask(w)
        let before = Array(store.values)
        for step in 0..<masked {
            randomGradients()
            opt.step(store)
            let values = pruned.map { store.values[$0] }
            #expect(values.allSatisfy { $0 == 0 }, "\(label) step \(step): pruned values \(values) seed 301")
        }
        let kept = (0..<store.totalCount).filter { !pruned.contains($0) }
        #expect(kept.allSatisfy { store.values[$0] != before[$0] }, "\(label): kept entries moved")
        #expect(store.masks.filter { $0 == 0 }.count == pruned.count)
        let state = opt.state
        #expect(state.stepCount == warmUp + masked, "\(label)")
        for name in moments {
            let buffer = state.buffers[name] ?? []
            #expect(buffer.count == store.totalCount, "\(label) \(name) has \(buffer.count) entries")
            guard buffer.count == store.totalCount else { continue }
            #expect(pruned.allSatisfy { buffer[$0] == 0 }, "\(label) \(name) at pruned entries, seed 301")
            #expect(kept.allSatisfy { buffer[$0] != 0 }, "\(label) \(name) at kept entries, seed 301")
        }

        // Probe 1: mask lifted, zero gradient at the pruned entries.
        for i in pruned { store.masks[i] = 1 }
        randomGradients()
        for i in pruned { store.gradients[i] = 0 }
        opt.step(store)
        #expect(pruned.allSatisfy { store.values[$0] == 0 }, "\(label): first moments at pruned entries are not 0, seed 301")

        // Probe 2 (Adam): unit gradient at the pruned entries.
        guard let adam else { return }
        randomGradients()
        for i in pruned { store.gradients[i] = 1 }
        opt.step(store)
        let t = Double(warmUp + masked + 2), (b1, b2) = adam.betas
        let expected =
            -opt.learningRate / (1 - Double.pow(b1, t)) * (1 - b1)
            / ((1 - b2).squareRoot() / (1 - Double.pow(b2, t)).squareRoot() + adam.epsilon)
        for i in pruned {
            #expect(
                abs(Double(store.values[i]) - expected) < 1e-5 * abs(expected),
                "\(label): second moment at entry \(i) is not 0 (value \(store.values[i]), expected \(expected)), seed 301")
        }
    }

    @Test func masksHoldUnderAdam() {
        checkMasks(
            { Adam<Float>(learningRate: 0.01, weightDecay: 0.1) }, moments: ["exp_avg", "exp_avg_sq"], adam: ((0.9, 0.999), 1e-8),
            label: "Adam")
    }
    @Test func masksHoldUnderAdamW() {
        checkMasks(
            { Adam<Float>.adamW(learningRate: 0.01, betas: (0.8, 0.99), weightDecay: 0.1) }, moments: ["exp_avg", "exp_avg_sq"],
            adam: ((0.8, 0.99), 1e-8), label: "AdamW")
    }
    @Test func masksHoldUnderSGDMomentum() {
        checkMasks(
            { SGD<Float>(learningRate: 0.01, momentum: 0.9, weightDecay: 0.01) }, moments: ["momentum_buffer"], adam: nil,
            label: "SGD momentum")
        checkMasks(
            { SGD<Float>(learningRate: 0.01, momentum: 0.9, weightDecay: 0.01, nesterov: true) }, moments: ["momentum_buffer"], adam: nil,
            label: "SGD Nesterov")
    }
}
