// The adding problem (docs/method.md section 6) as a task of the shared trainer: fresh batches every step,
// MSE on the final state's read-out, a fixed held-out test set and a fixed validation set of its own
// (what the plateau schedule and a tuned sweep read). Defaults are the paper's protocol.
import Compute
import Linalg
import NN

/// The adding problem's own options, as written to config.json under `options`.
public struct AddingOptions: Codable, Sendable, Equatable {
    /// Sequence length T.
    public var length = 50
    /// Hidden units H.
    public var hiddenSize = 128
    /// Recurrent layers.
    public var layers = 1
    /// Cell: rnn_relu (paper), rnn_tanh, lstm or gru.
    public var cell: CellKind = .rnnReLU
    /// Biases in the recurrent layers.
    public var bias = true
    /// Batch size B.
    public var batchSize = 32
    /// Held-out test sequences (and as many validation sequences).
    public var testSize = 2000
    /// Seed of the fixed held-out test set (the same for every run seed, so runs compare).
    public var testSeed: UInt64 = 20_240_610
    /// The paper's options.
    public init() {}
}

/// The configuration of an adding-problem run.
public typealias AddingConfig = RunConfig<AddingOptions>

extension RunConfig where Options == AddingOptions {
    /// The paper's protocol for the adding problem.
    public init() { self.init(task: AddingTask.name, training: AddingTask.defaultTraining, options: AddingOptions()) }
}

/// The adding problem for the trainer.
public struct AddingTask: TrainingTask {
    public struct Stream: TaskStream { var rng: SeededGenerator }
    public static let name = "adding"
    public static let primaryMetric = "testMSE"
    public static let scheduleMetric = "validMSE"
    public static let defaultLambda = 1e-3
    /// Adam lr 1e-4, clip 0.5, 100 epochs of 313 batches, then 10 epochs at fixed sparsity.
    public static var defaultTraining: TrainingConfig {
        var t = TrainingConfig(epochs: 100, stepsPerEpoch: 313, optimizer: OptimizerConfig(kind: .adam, learningRate: 1e-4))
        t.fixedEpochs = 10; t.clip = 0.5
        return t
    }
    public let options: AddingOptions
    /// The fixed held-out test set.
    public let testSet: AddingBatch
    /// The fixed validation set (`testSize` sequences from `validationGenerator`): what choosing
    /// reads, never the test set.
    public let validationSet: AddingBatch
    public var baselines: [String: Double] { ["trivialMSE": AddingProblem.trivialMSE] }

    public static var commandLine: TaskCommandLine<AddingOptions> {
        typealias O = ConfigOption<AddingConfig>
        return TaskCommandLine(
            abstract: "The adding problem: Elman ReLU network, Adam, fresh batches, fixed test set.",
            discussion:
                """
                Defaults are the paper's protocol: T=50, H=128, batch 32, Adam lr 1e-4, clip 0.5, 100 epochs of 313 batches then 10 \
                epochs at fixed sparsity, lambda 1e-3.
                """,
            defaults: AddingConfig(),
            options: [
                O.value("length", \.options.length, key: "options.length", "T", help: "Sequence length T (default 50)."),
                O.value("hidden", \.options.hiddenSize, key: "options.hiddenSize", "N", help: "Hidden units H (default 128)."),
                O.value("layers", \.options.layers, key: "options.layers", "N", help: "Recurrent layers (default 1)."),
                O.value("cell", \.options.cell, key: "options.cell", "CELL", help: "Cell: rnn_relu (default), rnn_tanh, lstm, gru."),
                O.inversion("bias", \.options.bias, key: "options.bias", help: "Biases in the recurrent layers (default on)."),
                O.value("batch-size", \.options.batchSize, key: "options.batchSize", "N", help: "Batch size B (default 32)."),
                O.value(
                    "test-size", \.options.testSize, key: "options.testSize", "N",
                    help: "Held-out test sequences, and as many validation sequences (default 2000)."),
                O.value(
                    "test-seed", \.options.testSeed, key: "options.testSeed", "N",
                    help: "Seed of the fixed held-out test set (the validation set's is derived from it).")
            ])
    }

    public init(options: AddingOptions) {
        self.options = options
        var rng = SeededGenerator(seed: options.testSeed)
        testSet = AddingProblem.batch(length: options.length, batch: options.testSize, rng: &rng)
        var validationRNG = Self.validationGenerator(testSeed: options.testSeed)
        validationSet = AddingProblem.batch(length: options.length, batch: options.testSize, rng: &validationRNG)
    }

    /// The generator of the validation set: a stream of its own derived from the test seed
    /// (`SeededGenerator.derived`), whose seed differs from the test draw's (`testSeed` itself), so
    /// that the two sets are independent draws.
    public static func validationGenerator(testSeed: UInt64) -> SeededGenerator {
        SeededGenerator(seed: testSeed).derived(1)
    }

    public static func validate(_ o: AddingOptions, training: TrainingConfig) throws {
        try require(
            o.length >= 2 && o.length <= 1_000_000,
            "\(label("options.length")) must be between 2 (two markers) and 1000000, got \(o.length).")
        try require(
            o.hiddenSize >= 1 && o.hiddenSize <= 65_536, "\(label("options.hiddenSize")) must be between 1 and 65536, got \(o.hiddenSize).")
        try require(o.layers >= 1 && o.layers <= 16, "\(label("options.layers")) must be between 1 and 16, got \(o.layers).")
        try require(
            o.batchSize >= 1 && o.batchSize <= 1_000_000, "\(label("options.batchSize")) must be between 1 and 1000000, got \(o.batchSize)."
        )
        try require(
            o.testSize >= 1 && o.testSize <= 10_000_000, "\(label("options.testSize")) must be between 1 and 10000000, got \(o.testSize).")
    }

    public static func removableHiddenUnits(_ o: AddingOptions) throws -> Int { o.hiddenSize }

    public static func memoryEstimate(_ o: AddingOptions, training: TrainingConfig) -> Double {
        let (t, b, h, l) = (Double(o.length), Double(o.batchSize), Double(o.hiddenSize), Double(o.layers))
        let gates = Double(o.cell == .lstm ? 4 : o.cell == .gru ? 3 : 1)
        let activations = 4 * t * max(b, min(Double(o.testSize), 500)) * h * l * (gates + 3)  // caches and gradients
        let parameters = 4 * 6 * gates * h * (h + 2) * l  // values, gradients, masks, moments, checkpoint copies
        return activations + parameters + 16 * t * Double(o.testSize) + 12 * h * h  // test and validation sets, R
    }

    public func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> AddingModel {
        AddingModel(kind: options.cell, hiddenSize: options.hiddenSize, layers: options.layers, bias: options.bias, store: store, rng: &rng)
    }

    public func roles(of model: AddingModel) -> ParameterRoles {
        ParameterRoles(
            pruned: model.prunableWeights, recurrent: model.rnn.recurrentWeights,
            hiddenSize: options.hiddenSize, networks: [model.rnn], linears: [model.head],
            hiddenUnitAxes: model.rnn.hiddenUnitAxes + [HiddenUnitAxis(slot: model.head.weight, dimension: 1)],
            batch: options.batchSize)
    }

    public func makeStream(rng: SeededGenerator) -> Stream { Stream(rng: rng) }

    public func stepWorkspaceCount(_ model: AddingModel) -> Int? {
        model.stepWorkspaceCount(steps: options.length, batch: options.batchSize)
    }

    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func trainStep<Backend: ComputeBackend>(
        _ model: AddingModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        let batch = AddingProblem.batch(length: options.length, batch: options.batchSize, rng: &stream.rng)
        StepProfile.lap(.data)
        return try model.lossAndGradients(batch, on: parameters, workspace: &workspace)
    }

    /// `testMSE` on the test set and `validMSE` on the validation set, both every time (the
    /// report draws the test curve; the plateau schedule and selection read `validMSE`).
    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func evaluate<Backend: ComputeBackend>(
        _ model: AddingModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        [
            "testMSE": try model.meanSquaredError(testSet, length: options.length, on: parameters, workspace: &workspace),
            "validMSE": try model.meanSquaredError(validationSet, length: options.length, on: parameters, workspace: &workspace)
        ]
    }

    /// The largest chunk of the test and validation sets.
    public func evaluationWorkspaceCount(_ model: AddingModel) -> Int? {
        let largest = max(testSet.targets.rows, validationSet.targets.rows)
        return model.stepWorkspaceCount(steps: options.length, batch: min(AddingModel.evaluationChunk, max(largest, 1)))
    }

    /// The top layer's hidden states over the test sequences, in chunks of 500 sequences; row
    /// `t * size + b` of a chunk is sequence b after step t.
    /// Every step of the first max(1, `maximumRows` / T) sequences (one chunk: row t B + b is
    /// sequence b after step t), so that the rows cover every step the recurrence reads, not only the
    /// first steps of many sequences.
    public func hiddenStates(_ model: AddingModel, _ store: ParameterStore<Float>, maximumRows: Int, inputs: StateInputs) -> Matrix<Float>?
    {
        let set = inputs == .test ? testSet : validationSet
        let sequences = min(set.targets.rows, max(1, maximumRows / options.length))
        var rows = RowCollector(columns: options.hiddenSize, limit: maximumRows)
        model.forEachChunk(set, length: options.length, store, chunk: sequences) { caches, _ in
            rows.append(caches.last!.output)
            return false
        }
        return rows.matrix
    }
}
