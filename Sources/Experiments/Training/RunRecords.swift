// The records of a run directory, the same for every task: config.json (`RunConfig`), the lines of
// metrics.jsonl (`TrainRecord`, `EvalRecord`, `PruneRecord`, read back as `MetricsLine`) and
// summary.json (`RunSummary`). Reports and sweeps read any run through these types.
import Foundation
import Sparsity

/// The fully resolved configuration of a run, as written to config.json: the task's name and
/// options and the trainer's settings. Fields of either part read as fields of the whole
/// (`config.epochs`, `config.hiddenSize`).
@dynamicMemberLookup
public struct RunConfig<Options: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    /// The task's name (`adding`, `navigation`, ...).
    public var task: String
    /// Package version that wrote the config.
    public var version: String
    /// The trainer's settings.
    public var training: TrainingConfig
    /// The task's own options.
    public var options: Options

    /// A configuration from its parts, stamped with this package's version.
    public init(task: String, training: TrainingConfig, options: Options) {
        self.task = task; self.version = ModuliVersion.string; self.training = training; self.options = options
    }

    /// A trainer setting.
    public subscript<T>(dynamicMember path: WritableKeyPath<TrainingConfig, T>) -> T {
        get { training[keyPath: path] }
        set { training[keyPath: path] = newValue }
    }

    /// A derived trainer value (`config.phaseSteps`).
    public subscript<T>(dynamicMember path: KeyPath<TrainingConfig, T>) -> T { training[keyPath: path] }

    /// A task option.
    public subscript<T>(dynamicMember path: WritableKeyPath<Options, T>) -> T {
        get { options[keyPath: path] }
        set { options[keyPath: path] = newValue }
    }
}

/// A JSON decoder that reads the non-finite numbers run records write as strings.
func recordDecoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return decoder
}

/// A string key for records whose keys are metric names.
struct RecordKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Encodes `metrics` as keys of `container`, beside the record's own keys.
func encodeMetrics(_ metrics: [String: Double], into container: inout KeyedEncodingContainer<RecordKey>) throws {
    for (name, value) in metrics { try container.encode(value, forKey: RecordKey(name)) }
}

/// The keys of `container` that are not in `known`: a record's task metrics. Each must be a number
/// (or "inf", "-inf", "nan"); any other value is a decoding error at its key, never dropped.
func decodeMetrics(from container: KeyedDecodingContainer<RecordKey>, known: Set<String>) throws -> [String: Double] {
    var metrics: [String: Double] = [:]
    for key in container.allKeys where !known.contains(key.stringValue) {
        metrics[key.stringValue] = try container.decode(Double.self, forKey: key)
    }
    return metrics
}

/// A training-loss line of metrics.jsonl: means over the steps since the previous line.
public struct TrainRecord: Codable, Sendable, Equatable {
    /// Always "train".
    public var kind = "train"
    /// Steps over all phases after this line's window.
    public var step: Int
    /// 0 = main training, 1 = lottery-ticket retraining.
    public var phase: Int
    /// Mean task loss (without the penalty).
    public var loss: Double
    /// Mean penalty.
    public var penalty: Double
    /// Global gradient norm at the window's last step, before clipping.
    public var gradientNorm: Double
    /// The learning rate, when a schedule changes it (absent for a constant rate).
    public var learningRate: Double?
}

/// An evaluation line of metrics.jsonl: the task's metrics (`testMSE`, ...) as keys of their own.
public struct EvalRecord: Codable, Sendable, Equatable {
    /// Always "eval".
    public var kind = "eval"
    /// Steps over all phases.
    public var step: Int
    /// 0 = main training, 1 = lottery-ticket retraining.
    public var phase: Int
    /// Epochs done in the phase.
    public var epoch: Int
    /// Mean training loss over the phase's last epoch.
    public var trainLoss: Double
    /// Pooled sparsity of the pruned tensors.
    public var sparsity: Double
    /// The task's metrics.
    public var metrics: [String: Double]
    /// Seconds the run has trained so far, over all its sessions, this evaluation included (absent
    /// in runs of moduli 0.2 and earlier).
    public var wallSeconds: Double?
    /// Hidden units whose own parameters are not all zero (`HiddenUnitGroups.nonZeroUnits`); absent
    /// for a model whose units cannot be removed one by one, and in runs of versions without it.
    public var keptUnits: Int?

    /// A record from its parts.
    public init(
        step: Int, phase: Int, epoch: Int, trainLoss: Double, sparsity: Double, metrics: [String: Double],
        wallSeconds: Double? = nil, keptUnits: Int? = nil
    ) {
        self.step = step; self.phase = phase; self.epoch = epoch; self.trainLoss = trainLoss
        self.sparsity = sparsity; self.metrics = metrics; self.wallSeconds = wallSeconds; self.keptUnits = keptUnits
    }

    private static let known: Set<String> = ["kind", "step", "phase", "epoch", "trainLoss", "sparsity", "wallSeconds", "keptUnits"]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RecordKey.self)
        try c.encode(kind, forKey: RecordKey("kind")); try c.encode(step, forKey: RecordKey("step"))
        try c.encode(phase, forKey: RecordKey("phase")); try c.encode(epoch, forKey: RecordKey("epoch"))
        try c.encode(trainLoss, forKey: RecordKey("trainLoss")); try c.encode(sparsity, forKey: RecordKey("sparsity"))
        try c.encodeIfPresent(wallSeconds, forKey: RecordKey("wallSeconds"))
        try c.encodeIfPresent(keptUnits, forKey: RecordKey("keptUnits"))
        try encodeMetrics(metrics, into: &c)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: RecordKey.self)
        step = try c.decode(Int.self, forKey: RecordKey("step")); phase = try c.decode(Int.self, forKey: RecordKey("phase"))
        epoch = try c.decode(Int.self, forKey: RecordKey("epoch")); trainLoss = try c.decode(Double.self, forKey: RecordKey("trainLoss"))
        sparsity = try c.decode(Double.self, forKey: RecordKey("sparsity"))
        wallSeconds = try c.decodeIfPresent(Double.self, forKey: RecordKey("wallSeconds"))
        keptUnits = try c.decodeIfPresent(Int.self, forKey: RecordKey("keptUnits"))
        metrics = try decodeMetrics(from: c, known: Self.known)
    }
}

/// A pruning event of metrics.jsonl, with the sparsity of every pruned tensor after it.
public struct PruneRecord: Codable, Sendable, Equatable {
    /// Always "prune".
    public var kind = "prune"
    /// Steps over all phases when the event happened (before that step's update).
    public var step: Int
    /// Always 0: only the main phase prunes.
    public var phase: Int
    /// The event.
    public var event: PruningEvent
    /// Sparsity of every pruned tensor after the event.
    public var sparsity: SparsityReport
}

/// A neuron elimination event of metrics.jsonl (`TrainingConfig.elimination`): the units removed
/// after the step and the hidden units kept.
public struct EliminationRecord: Codable, Sendable, Equatable {
    /// Always "eliminate".
    public var kind = "eliminate"
    /// Steps over all phases when the event happened (after that step's update).
    public var step: Int
    /// Always 0: only the main phase eliminates.
    public var phase: Int
    /// The event's tolerance on the relative residual.
    public var tolerance: Double
    /// Rows of hidden states the regressions used (before the initial states an encoder sets).
    public var rows: Int
    /// Units removed as dead (nothing read them or nothing drove them), in increasing order.
    public var deadUnits: [Int]
    /// Units folded into the others, in the order they were removed.
    public var eliminatedUnits: [Int]
    /// The relative residual of each unit of `eliminatedUnits` when it was removed.
    public var residuals: [Double]
    /// Hidden units whose own parameters are not all zero after the event.
    public var keptUnits: Int
    /// The relative change of the kept units' states over the event's folds (absent in records written
    /// before it was recorded).
    public var drift: Double?
    /// Why the event stopped before its tolerance did, with the unit whose fold was undone (`drift`:
    /// that fold moved the states too far; `nonFiniteStates`); absent when it did not.
    public var stop: EliminationOutcome.Stop?
    /// The unit whose fold was undone when `stop` is set.
    public var undoneUnit: Int?

    /// A record from its parts.
    public init(
        step: Int, phase: Int, tolerance: Double, rows: Int, deadUnits: [Int], eliminatedUnits: [Int], residuals: [Double],
        keptUnits: Int, drift: Double? = nil, stop: EliminationOutcome.Stop? = nil, undoneUnit: Int? = nil
    ) {
        self.step = step; self.phase = phase; self.tolerance = tolerance; self.rows = rows; self.deadUnits = deadUnits
        self.eliminatedUnits = eliminatedUnits; self.residuals = residuals; self.keptUnits = keptUnits
        self.drift = drift; self.stop = stop; self.undoneUnit = undoneUnit
    }

    /// The number of units the event removed.
    public var removedUnits: Int { deadUnits.count + eliminatedUnits.count }
}

/// A line of metrics.jsonl decoded as its kind says, for locating a decoding error.
private struct RecordProbe: Decodable {
    init(from decoder: any Decoder) throws {
        switch try RecordKind(from: decoder).kind {
        case "train": _ = try TrainRecord(from: decoder)
        case "eval": _ = try EvalRecord(from: decoder)
        case "prune": _ = try PruneRecord(from: decoder)
        case "eliminate": _ = try EliminationRecord(from: decoder)
        default: break
        }
    }
}

/// The `kind` field every line of metrics.jsonl has.
private struct RecordKind: Decodable { var kind: String }

/// Any line of metrics.jsonl, read back without knowing its task.
public enum MetricsLine: Sendable, Equatable {
    case train(TrainRecord)
    case eval(EvalRecord)
    case prune(PruneRecord)
    case eliminate(EliminationRecord)

    /// Parses one line; nil for a line of an unknown kind.
    public static func parse(_ line: some StringProtocol) throws -> MetricsLine? {
        let data = Data(line.utf8)
        let decoder = recordDecoder()
        switch try decoder.decode(RecordKind.self, from: data).kind {
        case "train": return .train(try decoder.decode(TrainRecord.self, from: data))
        case "eval": return .eval(try decoder.decode(EvalRecord.self, from: data))
        case "prune": return .prune(try decoder.decode(PruneRecord.self, from: data))
        case "eliminate": return .eliminate(try decoder.decode(EliminationRecord.self, from: data))
        default: return nil
        }
    }

    /// Every line of a metrics.jsonl file's text, in order.
    public static func parseAll(_ text: String) throws -> [MetricsLine] {
        try text.split(separator: "\n").compactMap { try parse($0) }
    }

    /// Every line of the metrics.jsonl file at `path` (its bytes `data`), in order; a line that is
    /// no record is an error naming the file, the line, the column and the key (`JSONFile`).
    public static func parseAll(_ data: Data, path: String, advice: String) throws -> [MetricsLine] {
        var lines: [MetricsLine] = []
        for (k, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let bytes = Data(line)
            do {
                if let parsed = try parse(String(decoding: bytes, as: UTF8.self)) { lines.append(parsed) }
            } catch {
                throw ExperimentError(
                    JSONFile.message(
                        for: error, data: bytes, path: path, advice: advice, firstLine: k + 1,
                        type: RecordProbe.self))
            }
        }
        return lines
    }
}

/// The result of one training phase: the task's metrics (as keys of their own), the mean training
/// loss over its last epoch and the sparsity of the pruned tensors.
public struct PhaseSummary: Codable, Sendable, Equatable {
    /// The task's metrics at the end of the phase.
    public var metrics: [String: Double]
    /// Mean training loss over the phase's last epoch.
    public var trainLoss: Double
    /// Sparsity of the pruned tensors at the end of the phase.
    public var sparsity: SparsityReport

    /// A phase result from its parts.
    public init(metrics: [String: Double], trainLoss: Double, sparsity: SparsityReport) {
        self.metrics = metrics; self.trainLoss = trainLoss; self.sparsity = sparsity
    }

    /// A metric by name (e.g. `summary.main["testMSE"]`).
    public subscript(metric: String) -> Double? { metrics[metric] }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RecordKey.self)
        try c.encode(trainLoss, forKey: RecordKey("trainLoss")); try c.encode(sparsity, forKey: RecordKey("sparsity"))
        try encodeMetrics(metrics, into: &c)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: RecordKey.self)
        trainLoss = try c.decode(Double.self, forKey: RecordKey("trainLoss"))
        sparsity = try c.decode(SparsityReport.self, forKey: RecordKey("sparsity"))
        metrics = try decodeMetrics(from: c, known: ["trainLoss", "sparsity"])
    }
}

/// summary.json: how a run ended, for any task. The final metrics (those of the lottery phase when
/// there is one) are keys of their own, beside the phases, the baselines and the run's cost.
public struct RunSummary: Codable, Sendable, Equatable {
    /// The task's name.
    public var task: String
    /// The final metrics (of the last phase).
    public var metrics: [String: Double]
    /// Reference values for the metrics (e.g. `trivialMSE`).
    public var baselines: [String: Double]
    /// Mean training loss over the last epoch.
    public var trainLoss: Double
    /// The main (sparse) training phase.
    public var main: PhaseSummary
    /// The lottery-ticket phase, when configured.
    public var lottery: PhaseSummary?
    /// Statistics of the regularizer's coefficient matrix R at the start (nil without one).
    public var regularizer: RegularizerStatistics?
    /// Optimizer steps taken over all phases.
    public var steps: Int
    /// Seconds of training (summed over resumed sessions).
    public var wallSeconds: Double
    /// Steps per second of training.
    public var stepsPerSecond: Double
    /// The run seed.
    public var seed: UInt64
    /// The OpenBLAS kernels of the (last) session that trained the run, e.g. "SkylakeX"
    /// (`BLASKernels.coreName`): runs with different kernels agree only to float rounding.
    public var blasKernels: String?
    /// Hidden units whose own parameters are not all zero at the end (`HiddenUnitGroups.nonZeroUnits`:
    /// the hidden size of the dense model that computes the same function); absent for a model
    /// whose units cannot be removed one by one, and in runs of versions without it.
    public var keptUnits: Int?

    /// A final metric by name (e.g. `summary["testMSE"]`).
    public subscript(metric: String) -> Double? { metrics[metric] }

    /// A summary from its parts.
    public init(
        task: String, metrics: [String: Double], baselines: [String: Double], trainLoss: Double,
        main: PhaseSummary, lottery: PhaseSummary?, regularizer: RegularizerStatistics?, steps: Int,
        wallSeconds: Double, stepsPerSecond: Double, seed: UInt64, blasKernels: String? = nil, keptUnits: Int? = nil
    ) {
        self.task = task; self.metrics = metrics; self.baselines = baselines; self.trainLoss = trainLoss
        self.main = main; self.lottery = lottery; self.regularizer = regularizer; self.steps = steps
        self.wallSeconds = wallSeconds; self.stepsPerSecond = stepsPerSecond; self.seed = seed
        self.blasKernels = blasKernels; self.keptUnits = keptUnits
    }

    private static let known: Set<String> = [
        "task", "baselines", "trainLoss", "main", "lottery", "regularizer", "steps",
        "wallSeconds", "stepsPerSecond", "seed", "blasKernels", "keptUnits"
    ]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RecordKey.self)
        try c.encode(task, forKey: RecordKey("task")); try c.encode(baselines, forKey: RecordKey("baselines"))
        try c.encode(trainLoss, forKey: RecordKey("trainLoss")); try c.encode(main, forKey: RecordKey("main"))
        try c.encodeIfPresent(lottery, forKey: RecordKey("lottery"))
        try c.encodeIfPresent(regularizer, forKey: RecordKey("regularizer"))
        try c.encode(steps, forKey: RecordKey("steps")); try c.encode(wallSeconds, forKey: RecordKey("wallSeconds"))
        try c.encode(stepsPerSecond, forKey: RecordKey("stepsPerSecond")); try c.encode(seed, forKey: RecordKey("seed"))
        try c.encodeIfPresent(blasKernels, forKey: RecordKey("blasKernels"))
        try c.encodeIfPresent(keptUnits, forKey: RecordKey("keptUnits"))
        try encodeMetrics(metrics, into: &c)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: RecordKey.self)
        task = try c.decode(String.self, forKey: RecordKey("task"))
        baselines = try c.decodeIfPresent([String: Double].self, forKey: RecordKey("baselines")) ?? [:]
        trainLoss = try c.decode(Double.self, forKey: RecordKey("trainLoss"))
        main = try c.decode(PhaseSummary.self, forKey: RecordKey("main"))
        lottery = try c.decodeIfPresent(PhaseSummary.self, forKey: RecordKey("lottery"))
        regularizer = try c.decodeIfPresent(RegularizerStatistics.self, forKey: RecordKey("regularizer"))
        steps = try c.decode(Int.self, forKey: RecordKey("steps"))
        wallSeconds = try c.decode(Double.self, forKey: RecordKey("wallSeconds"))
        stepsPerSecond = try c.decode(Double.self, forKey: RecordKey("stepsPerSecond"))
        seed = try c.decode(UInt64.self, forKey: RecordKey("seed"))
        blasKernels = try c.decodeIfPresent(String.self, forKey: RecordKey("blasKernels"))
        keptUnits = try c.decodeIfPresent(Int.self, forKey: RecordKey("keptUnits"))
        metrics = try decodeMetrics(from: c, known: Self.known)
    }
}
