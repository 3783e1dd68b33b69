// One run directory as a report reads it: config.json, summary.json and metrics.jsonl through the
// task-neutral run records (with the hidden units kept), and the optional geometry files
// (positions.npy, column_positions.npy).
import Experiments
import Foundation
import Formats
import Linalg
import Sparsity

/// A finished run's records, read for a report.
public struct ReportRun: Sendable {
    /// The directory as given on the command line.
    public let path: String
    /// The directory's last path component (`torus-s0`), the run's name in charts.
    public let name: String
    /// summary.json.
    public let summary: RunSummary
    /// Every line of metrics.jsonl, in order (empty when the file is missing).
    public let lines: [MetricsLine]
    /// The task named in config.json.
    public let task: String
    /// The regularizer of config.json (`none` when it has none).
    public let regularizer: RegularizerConfig
    /// The regularizer in words (`torus, inverted-dog, lambda 0.1`).
    public let regularizerName: String
    /// config.json's bytes (task-specific options are decoded from them when needed).
    public let configData: Data

    /// Reads the run at `path`. The error names the directory and the file that makes it no run.
    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path, isDirectory: true)
        name = url.standardizedFileURL.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ExperimentError("\(path) is not a run directory: there is no directory at that path.")
        }
        for file in ["config.json", "summary.json"] where !FileManager.default.fileExists(atPath: url.appendingPathComponent(file).path) {
            throw ExperimentError(
                """
                \(path) is not a finished run directory: it has no \(file) (a run writes config.json when it starts and summary.json \
                when it ends).
                """
            )
        }
        configData = try RunDirectory.readFile(
            atPath: url.appendingPathComponent("config.json").path, maximumBytes: ReportRun.recordBytes,
            hint: "\(path) holds no readable config.json.")
        let advice = "Restore the run's files, or leave \(path) out of the report."
        let header = try JSONFile.decodeRecord(
            ConfigHeader.self, from: configData, path: url.appendingPathComponent("config.json").path,
            advice: advice)
        task = header.task
        regularizer = header.training.regularizer ?? .none
        regularizerName = RunComparison.regularizerName(url.appendingPathComponent("config.json"))
        let summaryData = try RunDirectory.readFile(
            atPath: url.appendingPathComponent("summary.json").path, maximumBytes: ReportRun.recordBytes,
            hint: "\(path) holds no readable summary.json.")
        summary = try JSONFile.decodeRecord(
            RunSummary.self, from: summaryData, path: url.appendingPathComponent("summary.json").path,
            advice: advice)
        let metricsPath = url.appendingPathComponent("metrics.jsonl").path
        if FileManager.default.fileExists(atPath: metricsPath) {
            let data = try RunDirectory.readFile(
                atPath: metricsPath, maximumBytes: ReportRun.metricsBytes, hint: "\(path) holds no readable metrics.jsonl.")
            lines = try MetricsLine.parseAll(data, path: metricsPath, advice: advice)
        } else {
            lines = []
        }
    }

    /// The largest config.json or summary.json read.
    static let recordBytes = 16 << 20
    /// The largest metrics.jsonl read.
    static let metricsBytes = 1 << 30
    /// The largest .npy or safetensors file read (a Ng 4096 navigation model is about 50 MB).
    static let tensorBytes = 4 << 30

    /// The part of config.json every task shares that a report needs.
    struct ConfigHeader: Decodable {
        struct Training: Decodable { var regularizer: RegularizerConfig? }
        var task: String
        var training: Training
    }

    /// A decoder for run records (non-finite numbers are written as strings).
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// A file of the run directory.
    public func file(_ name: String) -> URL { URL(fileURLWithPath: path, isDirectory: true).appendingPathComponent(name) }

    /// A `.npy` matrix of the run (`positions.npy`), or nil when the file is absent; an error when it is damaged.
    public func matrix(_ name: String) throws -> Matrix<Float>? {
        let url = file(name)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try RunDirectory.readFile(atPath: url.path, maximumBytes: ReportRun.tensorBytes, hint: "")
        do { return try NPYFile.decode(data) } catch { throw ExperimentError("\(url.path): \(error)") }
    }

    /// The training-loss lines.
    public var trainRecords: [TrainRecord] { lines.compactMap { if case .train(let r) = $0 { r } else { nil } } }
    /// The evaluation lines.
    public var evalRecords: [EvalRecord] { lines.compactMap { if case .eval(let r) = $0 { r } else { nil } } }
    /// The pruning events.
    public var pruneRecords: [PruneRecord] { lines.compactMap { if case .prune(let r) = $0 { r } else { nil } } }
    /// The neuron elimination events.
    public var eliminationRecords: [EliminationRecord] { lines.compactMap { if case .eliminate(let r) = $0 { r } else { nil } } }
    /// H, the task option `hiddenSize` of config.json (nil for a task without it).
    public var hiddenSize: Int? { RunComparison.hiddenSize(configData: configData) }
    /// "K of H": the hidden units the run kept (summary.json's `keptUnits`) of its hidden size; nil
    /// when the summary does not say (runs of versions without it).
    public var keptUnits: String? { RunComparison.keptUnits(summary.keptUnits, of: hiddenSize) }
    /// Whether the run ended with fewer hidden units than its hidden size (a structured method, or
    /// pruning that emptied whole units).
    public var removedUnits: Bool {
        guard let kept = summary.keptUnits, let h = hiddenSize else { return false }
        return kept < h
    }
}
