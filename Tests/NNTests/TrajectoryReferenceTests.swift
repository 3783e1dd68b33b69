// Two short Float training runs that must follow PyTorch's float32 loss trajectory step by step
// (References/trajectory.json from Tools/References/trajectory.py): the adding-problem shape
// (Elman ReLU with bias, Linear read-out of the last state, MSE, Adam, clipping; B = 8, so the
// Elman step runs on transposed states) and the navigation shape (encoder to h0, Elman ReLU
// without bias, decoder on every step, soft cross-entropy, AdamW; B = 70, the row-form step).
// Weights and data come from the JSON; the model is built with the public NN API.
import Foundation
import Testing
import Linalg
@testable import NN  // only for ElmanLayer.stepsOnTransposedStates; the runs use the public API

/// The contents of References/trajectory.json.
fileprivate struct TrajectoryDocument: Decodable {
    struct Tensor: Decodable { let shape: [Int]; let values: [Double] }
    struct Batch: Decodable {
        /// Grid numerators (value = k / grid), time-major.
        let input: [Int], target: [Int], initialTarget: [Int]?
    }
    struct OptimizerOptions: Decodable { let kind: String, lr: Double, betas: [Double], eps: Double, weight_decay: Double }
    struct Run: Decodable {
        let name: String
        let seeds: [String: Int]
        let bias: Bool
        let inputSize: Int, hiddenSize: Int, placeCells: Int?, steps: Int, batch: Int
        let optimizer: OptimizerOptions
        let clip: Double?
        let trainingSteps: Int
        let initial: [String: Tensor]
        let batches: [Batch]
        let losses: [Double]
        let firstGradients: [String: [Double]]
        let final: [String: Tensor]
    }
    let torch: String
    let grid: Double
    let runs: [Run]

    static func load() throws -> TrajectoryDocument {
        let url = try #require(
            Bundle.module.url(forResource: "trajectory", withExtension: "json", subdirectory: "References"),
            "References/trajectory.json is missing from the test bundle")
        return try JSONDecoder().decode(TrajectoryDocument.self, from: Data(contentsOf: url))
    }

    func run(_ name: String) throws -> Run { try #require(runs.first { $0.name == name }, "trajectory.json has no run \(name)") }

    /// A Float matrix from grid numerators (exact: k / 256 is a Float).
    func matrix(_ k: [Int], rows: Int, columns: Int) -> Matrix<Float> {
        precondition(k.count == rows * columns, "trajectory.json: \(k.count) values for \(rows) x \(columns)")
        return Matrix(rows: rows, columns: columns, scalars: k.map { Float(Double($0) / grid) })
    }
}

/// Where the Swift run and PyTorch's part: per-step losses, first-step gradients, final weights.
fileprivate struct Trace {
    var losses: [Double] = []
    var firstGradients: [String: [Float]] = [:]
}

@Suite struct TrajectoryReferenceTests {
    /// Loads a run's initial weights into the store by PyTorch name; every slot must be covered.
    fileprivate func load(_ run: TrajectoryDocument.Run, into store: ParameterStore<Float>) throws {
        #expect(Set(store.infos.map(\.name)) == Set(run.initial.keys), "\(run.name): parameter names")
        for (name, tensor) in run.initial {
            let slot = try #require(store.slot(named: name), "\(run.name): no slot \(name)")
            #expect(store.info(slot).shape == tensor.shape, "\(run.name): shape of \(name)")
            store.setValue(slot, Matrix(rows: 1, columns: tensor.values.count, scalars: tensor.values.map { Float($0) }))
        }
    }

    fileprivate func gradients(_ store: ParameterStore<Float>) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: store.slots.map { (store.info($0).name, store.gradientMatrix($0).scalars) })
    }

    /// Per-step loss tolerance (relative). Float rounding alone (different summation orders here
    /// and in PyTorch) keeps both runs within about 6e-7 of PyTorch over all 30 steps.
    static func lossTolerance(step: Int) -> Double { 1e-5 }
    /// Final weights, relative to each tensor's scale (see `FloatOracle.error`).
    static let finalTolerance = 2e-5
    /// First-step gradients (before any update: only Float rounding differs, measured 3.3e-6).
    static let gradientTolerance = 2e-5

    /// Compares a trace and the final store with the run's PyTorch values.
    fileprivate func compare(_ trace: Trace, _ store: ParameterStore<Float>, _ run: TrajectoryDocument.Run, seeds: String) {
        let label = "trajectory.json \(run.name) (\(seeds))"
        #expect(trace.losses.count == run.losses.count, "\(label): \(trace.losses.count) steps, PyTorch \(run.losses.count)")
        var report: [String] = []
        for (step, (ours, theirs)) in zip(trace.losses, run.losses).enumerated() {
            let e = abs(ours - theirs) / abs(theirs)
            if e >= Self.lossTolerance(step: step) {
                report.append("step \(step): \(ours) vs PyTorch \(theirs) (relative \(e))")
            }
        }
        #expect(report.isEmpty, "\(label): loss trajectory leaves PyTorch's: \(report.joined(separator: "; "))")
        for (name, ref) in run.firstGradients {
            FloatOracle.expectClose(
                trace.firstGradients[name] ?? [], ref, tolerance: Self.gradientTolerance, "\(label): step 0 gradient of \(name)")
        }
        for (name, tensor) in run.final {
            guard let slot = store.slot(named: name) else { Issue.record("\(label): no slot \(name)"); continue }
            FloatOracle.expectClose(store.matrix(slot).scalars, tensor.values, tolerance: Self.finalTolerance, "\(label): final \(name)")
        }
    }

    /// nn.RNN(2, 16, relu) + Linear(16, 1) on the last state, MSE, Adam lr 1e-2, clip 0.5, T 6, B 8.
    @Test func addingRunFollowsPyTorch() throws {
        let doc = try TrajectoryDocument.load()
        let run = try doc.run("adding")
        let (t, b, h, i) = (run.steps, run.batch, run.hiddenSize, run.inputSize)
        #expect(ElmanLayer.stepsOnTransposedStates(batch: b), "the adding run should take the transposed Elman step")
        var rng = SeededGenerator(seed: 0)  // weights are overwritten from the JSON
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .rnnReLU, inputSize: i, hiddenSize: h, bias: run.bias, name: "rnn", in: store, rng: &rng)
        let fc = Linear(inputSize: h, outputSize: 1, name: "fc", in: store, rng: &rng)
        try load(run, into: store)
        let o = run.optimizer
        #expect(o.kind == "Adam")
        var adam = Adam<Float>(learningRate: o.lr, betas: (o.betas[0], o.betas[1]), epsilon: o.eps, weightDecay: o.weight_decay)
        let clip = try #require(run.clip)

        var trace = Trace()
        for step in 0..<run.trainingSteps {
            let batch = run.batches[step % run.batches.count]
            let x = doc.matrix(batch.input, rows: t * b, columns: i), y = doc.matrix(batch.target, rows: b, columns: 1)
            store.zeroGradients()
            let caches = net.forward(x, batch: b, store)
            let last = caches[0].final.hidden
            let prediction = fc.forward(last, store)
            let (loss, dPrediction) = MeanSquaredError.lossAndGradient(prediction: prediction, target: y)
            let dLast = fc.backward(input: last, dOutput: dPrediction, store)
            _ = net.backward(caches, dOutput: Matrix(rows: 0, columns: h), dFinal: [RecurrentState(hidden: dLast)], store)
            clipGradientNorm(store, maxNorm: clip)
            if step == 0 { trace.firstGradients = gradients(store) }
            adam.step(store)
            trace.losses.append(loss)
        }
        compare(trace, store, run, seeds: "torch seed \(run.seeds["torch"] ?? -1), numpy seed \(run.seeds["numpy"] ?? -1)")
    }

    /// encoder Linear(12 -> 16) to h0, nn.RNN(2, 16, relu, no bias), decoder Linear(16 -> 12) on every
    /// step, soft-target cross-entropy over time and batch, AdamW lr 1e-2 wd 0.01, T 5, B 70.
    @Test func navigationRunFollowsPyTorch() throws {
        let doc = try TrajectoryDocument.load()
        let run = try doc.run("navigation")
        let (t, b, h, i) = (run.steps, run.batch, run.hiddenSize, run.inputSize)
        let np = try #require(run.placeCells)
        #expect(!ElmanLayer.stepsOnTransposedStates(batch: b), "the navigation run should take the row-form Elman step")
        var rng = SeededGenerator(seed: 0)  // weights are overwritten from the JSON
        let store = ParameterStore<Float>()
        let encoder = Linear(inputSize: np, outputSize: h, bias: false, name: "encoder", in: store, rng: &rng)
        let net = RecurrentNetwork(kind: .rnnReLU, inputSize: i, hiddenSize: h, bias: run.bias, name: "rnn", in: store, rng: &rng)
        let decoder = Linear(inputSize: h, outputSize: np, bias: false, name: "decoder", in: store, rng: &rng)
        try load(run, into: store)
        let o = run.optimizer
        #expect(o.kind == "AdamW" && run.clip == nil)
        var adamW = Adam<Float>.adamW(learningRate: o.lr, betas: (o.betas[0], o.betas[1]), epsilon: o.eps, weightDecay: o.weight_decay)

        var trace = Trace()
        for step in 0..<run.trainingSteps {
            let batch = run.batches[step % run.batches.count]
            let x = doc.matrix(batch.input, rows: t * b, columns: i)
            let p0 = doc.matrix(try #require(batch.initialTarget), rows: b, columns: np)
            let targets = doc.matrix(batch.target, rows: t * b, columns: np)
            store.zeroGradients()
            let h0 = encoder.forward(p0, store)
            let caches = net.forward(x, batch: b, initial: [RecurrentState(hidden: h0)], store)
            let states = caches[0].output
            let logits = decoder.forward(states, store)
            let (loss, dLogits) = SoftCrossEntropy.lossAndGradient(logits: logits, targets: targets)
            let dStates = decoder.backward(input: states, dOutput: dLogits, store)
            let (_, dInitial) = net.backward(caches, dOutput: dStates, store)
            encoder.backward(input: p0, dOutput: dInitial[0].hidden, store, needInputGradient: false)
            if step == 0 { trace.firstGradients = gradients(store) }
            adamW.step(store)
            trace.losses.append(loss)
        }
        compare(trace, store, run, seeds: "torch seed \(run.seeds["torch"] ?? -1), numpy seed \(run.seeds["numpy"] ?? -1)")
    }
}
