// Path integration with place cells (docs/method.md section 4) as a task of the shared trainer: fresh
// simulated trajectories every step, soft-target cross-entropy against the place-cell code of every
// position, and the decoding error (cm) on fixed test trajectories and on fixed validation trajectories
// of their own (what the plateau schedule and a tuned sweep read). Defaults are the paper's.
import Compute
import Linalg
import NN

/// The navigation task's own options, as written to config.json under `options`.
public struct NavigationOptions: Codable, Sendable, Equatable {
    /// Place cells Np.
    public var placeCells = PlaceCells.paperCount
    /// Hidden units Ng.
    public var hiddenSize = 4096
    /// Place-cell width s in metres.
    public var width = PlaceCells.paperWidth
    /// Trajectories per batch B.
    public var batchSize = 200
    /// Steps per trajectory T.
    public var length = 50
    /// Seed of the place-cell centres (fixed for the run; recorded).
    public var placeCellSeed: UInt64 = 20_240_609
    /// Seed of the evaluation trajectories (the same for every run seed, so runs compare): the test
    /// trajectories are drawn from it, the validation trajectories from `NavigationTask.validationSeed`.
    public var evaluationSeed: UInt64 = 20_240_610
    /// Evaluation batches per length (the paper: 5 of 200).
    public var evaluationBatches = 5
    /// Trajectories per evaluation batch.
    public var evaluationBatchSize = 200
    /// The paper's options.
    public init() {}
}

/// The configuration of a navigation run.
public typealias NavigationConfig = RunConfig<NavigationOptions>

extension RunConfig where Options == NavigationOptions {
    /// The paper's protocol for navigation.
    public init() { self.init(task: NavigationTask.name, training: NavigationTask.defaultTraining, options: NavigationOptions()) }
}

/// Named starting points for a navigation run.
public enum NavigationPreset: String, Codable, Sendable, CaseIterable, OptionValue {
    /// docs/method.md section 4: Ng 4096, Np 512, s 0.12, batch 200, length 50, AdamW lr 1e-4, lambda 0.1, 30 x 1000 steps, 90%.
    case paper
    /// One CPU core in a few minutes (docs/navigation-small-preset.md): Ng 256, s 0.2, batch 50,
    /// length 20, AdamW lr 3e-3, lambda 0.1, 30 x 150 steps, 90%.
    case small

    /// The preset's configuration.
    public var config: NavigationConfig {
        var c = NavigationConfig()
        switch self {
        case .paper: break
        case .small:
            c.hiddenSize = 256; c.width = 0.2; c.batchSize = 50; c.length = 20
            c.optimizer.learningRate = 3e-3
            c.epochs = 30; c.stepsPerEpoch = 150
        }
        return c
    }
}

/// The navigation task for the trainer.
public struct NavigationTask: TrainingTask {
    public struct Stream: TaskStream { var rng: SeededGenerator }
    public static let name = "navigation"
    public static let primaryMetric = "decodingErrorCM"
    public static let scheduleMetric = "validDecodingErrorCM"
    public static let defaultLambda = 0.1
    /// AdamW lr 1e-4, weight decay 0.01, 30 epochs of 1000 steps, pruning to 90%.
    public static var defaultTraining: TrainingConfig {
        var t = TrainingConfig(
            epochs: 30, stepsPerEpoch: 1000,
            optimizer: OptimizerConfig(kind: .adamw, learningRate: 1e-4, weightDecay: 0.01))
        t.pruning.targetSparsity = 0.9
        t.logEvery = 50
        return t
    }
    /// The lengths evaluated: the training length, and 50 (the paper's) when it differs.
    public var evaluationLengths: [Int] { options.length == 50 ? [50] : [options.length, 50] }
    public let options: NavigationOptions
    /// The place cells.
    public let cells: PlaceCells
    /// The fixed test trajectories, per evaluated length.
    public let evaluationSets: [[TrajectoryBatch]]
    /// The fixed validation trajectories at the training length (`evaluationBatches` batches of
    /// `evaluationBatchSize`), drawn from `validationSeed`: what choosing reads, never the test set.
    public let validationSet: [TrajectoryBatch]
    /// Always guessing the box centre gives about this error (cm) on the evaluation trajectories.
    public let centreGuessCM: Double

    public init(options: NavigationOptions) throws {
        self.options = options
        cells = try PlaceCells(count: options.placeCells, width: options.width, seed: options.placeCellSeed)
        var rng = SeededGenerator(seed: options.evaluationSeed)
        let lengths = options.length == 50 ? [50] : [options.length, 50]
        evaluationSets = lengths.map { length in
            (0..<options.evaluationBatches).map { _ in
                TrajectorySimulator.batch(length: length, batch: options.evaluationBatchSize, rng: &rng)
            }
        }
        var validationRNG = Self.validationGenerator(evaluationSeed: options.evaluationSeed)
        validationSet = (0..<options.evaluationBatches).map { _ in
            TrajectorySimulator.batch(length: options.length, batch: options.evaluationBatchSize, rng: &validationRNG)
        }
        let first = evaluationSets[0]
        centreGuessCM =
            first.map { PlaceCells.decodingError(estimates: Matrix(rows: $0.positions.rows, columns: 2), positions: $0.positions) }
            .reduce(0, +) / Double(first.count)
    }

    public var baselines: [String: Double] { ["centreGuessCM": centreGuessCM] }

    /// The generator of the validation trajectories: a stream of its own derived from the
    /// evaluation seed (`SeededGenerator.derived`), whose seed differs from the test draw's
    /// (`evaluationSeed` itself), so that the two sets are independent draws.
    public static func validationGenerator(evaluationSeed: UInt64) -> SeededGenerator {
        SeededGenerator(seed: evaluationSeed).derived(1)
    }

    public static let reportProbe: ReportProbe? = .decodedPaths

    public static var commandLine: TaskCommandLine<NavigationOptions> {
        typealias O = ConfigOption<NavigationConfig>
        return TaskCommandLine(
            abstract: "Path integration: velocities in, place-cell codes out; ReLU RNN, AdamW, pruning to 90%.",
            discussion: """
                --preset paper (the default) is the paper's protocol: Ng 4096, Np 512, s 0.12 m, batch 200, length 50, \
                AdamW lr 1e-4, weight decay 0.01, lambda 0.1, 30 epochs of 1000 steps, pruning to 90%. \
                --preset small runs on one CPU core in a few minutes: Ng 256, s 0.2 m, batch 50, length 20, lr 3e-3, \
                30 epochs of 150 steps. Any option given overrides the preset.
                """,
            defaults: NavigationPreset.paper.config,
            options: [
                O.preset("preset", NavigationPreset.self, help: "Starting point: paper (default) or small.") { $0.config },
                O.value("place-cells", \.options.placeCells, key: "options.placeCells", "N", help: "Place cells Np (paper 512)."),
                O.value("hidden", \.options.hiddenSize, key: "options.hiddenSize", "N", help: "Hidden units Ng (paper 4096)."),
                O.value("width", \.options.width, key: "options.width", "METRES", help: "Place-cell width s in metres (paper 0.12)."),
                O.value("batch-size", \.options.batchSize, key: "options.batchSize", "N", help: "Trajectories per batch (paper 200)."),
                O.value("length", \.options.length, key: "options.length", "T", help: "Steps per trajectory (paper 50)."),
                O.value(
                    "place-cell-seed", \.options.placeCellSeed, key: "options.placeCellSeed", "N", help: "Seed of the place-cell centres."),
                O.value(
                    "evaluation-seed", \.options.evaluationSeed, key: "options.evaluationSeed", "N",
                    help: "Seed of the test trajectories (the validation trajectories' is derived from it)."),
                O.value(
                    "evaluation-batches", \.options.evaluationBatches, key: "options.evaluationBatches", "N",
                    help: "Evaluation batches per length (paper 5)."),
                O.value(
                    "evaluation-batch-size", \.options.evaluationBatchSize, key: "options.evaluationBatchSize", "N",
                    help: "Trajectories per evaluation batch (paper 200).")
            ])
    }

    public static func validate(_ o: NavigationOptions, training: TrainingConfig) throws {
        try require(
            o.placeCells >= 3 && o.placeCells <= 65_536, "\(label("options.placeCells")) must be between 3 and 65536, got \(o.placeCells).")
        try require(
            o.hiddenSize >= 1 && o.hiddenSize <= 65_536, "\(label("options.hiddenSize")) must be between 1 and 65536, got \(o.hiddenSize).")
        try require(
            o.width > 0 && o.width.isFinite && o.width <= 10,
            "\(label("options.width")) must be a positive number of metres (at most 10), got \(o.width).")
        try require(
            o.batchSize >= 1 && o.batchSize <= 1_000_000, "\(label("options.batchSize")) must be between 1 and 1000000, got \(o.batchSize)."
        )
        try require(o.length >= 1 && o.length <= 100_000, "\(label("options.length")) must be between 1 and 100000, got \(o.length).")
        try require(
            o.evaluationBatches >= 1 && o.evaluationBatches <= 1_000,
            "\(label("options.evaluationBatches")) must be between 1 and 1000, got \(o.evaluationBatches).")
        try require(
            o.evaluationBatchSize >= 1 && o.evaluationBatchSize <= 1_000_000,
            "\(label("options.evaluationBatchSize")) must be between 1 and 1000000, got \(o.evaluationBatchSize).")
    }

    public static func removableHiddenUnits(_ o: NavigationOptions) throws -> Int { o.hiddenSize }

    public static func memoryEstimate(_ o: NavigationOptions, training: TrainingConfig) -> Double {
        let (n, g) = (Double(o.placeCells), Double(o.hiddenSize))
        let rows = Double(max(o.length, 50)) * Double(max(o.batchSize, o.evaluationBatchSize))
        let activations = 4 * rows * (6 * g + 4 * n)  // hidden states and their gradients; logits, targets, dLogits
        let parameters = 4 * 7 * (g * g + 2 * n * g + 2 * g)  // values, gradients, masks, moments, checkpoint copies
        // The test trajectories (the training length and 50) and the validation trajectories.
        let evaluation = 4 * 4 * Double(o.evaluationBatches) * Double(o.evaluationBatchSize) * Double(50 + 2 * o.length)
        return activations + parameters + evaluation + 24 * g * g  // R in Double and Float, distances
    }

    public func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> NavigationModel {
        NavigationModel(placeCells: options.placeCells, hiddenSize: options.hiddenSize, store: store, rng: &rng)
    }

    public func roles(of model: NavigationModel) -> ParameterRoles {
        ParameterRoles(
            pruned: model.prunableWeights, recurrent: model.rnn.recurrentWeights,
            hiddenSize: options.hiddenSize, networks: [model.rnn], linears: [model.encoder, model.decoder],
            hiddenUnitAxes: model.rnn.hiddenUnitAxes + [
                HiddenUnitAxis(slot: model.encoder.weight, dimension: 0),
                HiddenUnitAxis(slot: model.decoder.weight, dimension: 1)
            ], batch: options.batchSize, linearRows: options.batchSize * options.length)
    }

    public func makeStream(rng: SeededGenerator) -> Stream { Stream(rng: rng) }

    public func stepWorkspaceCount(_ model: NavigationModel) -> Int? {
        model.stepWorkspaceCount(steps: options.length, batch: options.batchSize)
    }

    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func trainStep<Backend: ComputeBackend>(
        _ model: NavigationModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        let batch = TrajectorySimulator.batch(length: options.length, batch: options.batchSize, rng: &stream.rng)
        let start = cells.codes(for: batch.start), targets = cells.codes(for: batch.positions)
        StepProfile.lap(.data)
        return try model.lossAndGradients(
            start: start, velocities: batch.velocities, targets: targets, on: parameters, workspace: &workspace)
    }

    /// The largest evaluation batch: `evaluationBatchSize` trajectories of length 50 or of the
    /// training length.
    public func evaluationWorkspaceCount(_ model: NavigationModel) -> Int? {
        model.stepWorkspaceCount(steps: max(options.length, 50), batch: options.evaluationBatchSize)
    }

    /// On the test trajectories: `decodingErrorCM` at the training length (and `decodingErrorCM50`
    /// at length 50 when that differs) and `testLoss`, the cross-entropy at the training length; on
    /// the validation trajectories: `validDecodingErrorCM` and `validLoss`. Means over the batches.
    /// Both sets are evaluated every time (a few forward passes, small beside an epoch), so that
    /// the report draws the test curve; the plateau schedule and selection read the validation metric.
    /// The logits are read back to the host, where the positions are decoded.
    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func evaluate<Backend: ComputeBackend>(
        _ model: NavigationModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        var metrics: [String: Double] = [:]
        for (k, set) in evaluationSets.enumerated() {
            let (error, loss) = try errorAndLoss(model, on: parameters, workspace: &workspace, set, withLoss: k == 0)
            metrics[k == 0 ? "decodingErrorCM" : "decodingErrorCM50"] = error
            if k == 0 { metrics["testLoss"] = loss }
        }
        let (error, loss) = try errorAndLoss(model, on: parameters, workspace: &workspace, validationSet, withLoss: true)
        metrics["validDecodingErrorCM"] = error
        metrics["validLoss"] = loss
        return metrics
    }

    /// The mean decoding error (cm) over `set`'s batches and, with `withLoss`, the mean cross-entropy.
    func errorAndLoss<Backend: ComputeBackend>(
        _ model: NavigationModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, _ set: [TrajectoryBatch],
        withLoss: Bool
    ) throws -> (error: Double, loss: Double) where Backend.Scalar == Float {
        var error = 0.0, loss = 0.0
        for batch in set {
            workspace.reset()
            let logits = try model.logits(
                start: cells.codes(for: batch.start), velocities: batch.velocities, on: parameters, workspace: &workspace)
            error += cells.decodingError(activity: logits, positions: batch.positions)
            if withLoss { loss += SoftCrossEntropy.loss(logits: logits, targets: cells.codes(for: batch.positions)) }
        }
        return (error / Double(set.count), loss / Double(set.count))
    }

    /// The hidden states (after each step, the ReLU RNN's output) over the fixed evaluation
    /// trajectories of the training length, batch after batch; row `t * B + b` of a batch is
    /// trajectory b after step t.
    public func hiddenStates(_ model: NavigationModel, _ store: ParameterStore<Float>, maximumRows: Int, inputs: StateInputs) -> Matrix<
        Float
    >? {
        var rows = RowCollector(columns: options.hiddenSize, limit: maximumRows)
        for batch in inputs == .test ? evaluationSets[0] : validationSet where !rows.isFull {
            rows.append(model.hiddenStates(start: cells.codes(for: batch.start), velocities: batch.velocities, store))
        }
        return rows.matrix
    }
}
