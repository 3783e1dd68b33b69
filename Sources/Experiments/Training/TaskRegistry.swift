// The tasks the command line and config files can name, found by name: `moduli train --config
// FILE.json` reads the task from the file and runs it on the shared trainer.
import Foundation
import NN

/// A task that can run from a resolved config file, without the caller knowing its types.
public struct RegisteredTask: Sendable {
    /// The task's name (`task` in config.json).
    public let name: String
    /// The metric the task's summary leads with (`TrainingTask.primaryMetric`).
    public let primaryMetric: String
    private let runConfig: @Sendable (Data, String, RunDirectory, Bool, Bool) throws -> RunSummary?
    private let evaluateRun: @Sendable (String, EvaluationOptions) throws -> [String: Double]
    private let exportRun: @Sendable (String, Bool, Bool) throws -> Data

    /// Registers `task`.
    public init<Task: TrainingTask>(_ task: Task.Type) {
        name = Task.name
        primaryMetric = Task.primaryMetric
        runConfig = { data, path, run, resume, showProgress in
            var config = try TaskRegistry.decodeStrictly(RunConfig<Task.Options>.self, from: data, path: path)
            if !resume { config.version = ModuliVersion.string }  // a new run records the version that runs it
            return try Trainer<Task>(config: config).train(in: run, resume: resume, showProgress: showProgress)
        }
        evaluateRun = { path, options in
            var trained = try TrainedModel<Task>(runAt: path, modelFile: options.modelFile)
            if options.reorder {
                guard let order = try trained.manifoldOrder() else {
                    throw ExperimentError("\(path) was trained without a geometric regularizer: its neurons have no positions to order by.")
                }
                try trained.permuteHiddenUnits(order)
            }
            if let format = options.sparse { trained.useSparseProducts(format: format) }
            return trained.evaluate()
        }
        exportRun = { path, sparse, reorder in
            var trained = try TrainedModel<Task>(runAt: path)
            if reorder {
                guard let order = try trained.manifoldOrder() else {
                    throw ExperimentError("\(path) was trained without a geometric regularizer: its neurons have no positions to order by.")
                }
                try trained.permuteHiddenUnits(order)
            }
            return try trained.export(sparse: sparse)
        }
    }

    /// The model of the finished run at `path` as a file: pruned tensors in CSR form with `sparse`
    /// (`SparseModelFile`), hidden units in manifold order with `reorder`.
    public func export(runAt path: String, sparse: Bool, reorder: Bool) throws -> Data {
        try exportRun(path, sparse, reorder)
    }

    /// Evaluates the finished run at `path` (its config.json and model.safetensors) on the task's
    /// test data, as `options` say.
    public func evaluate(runAt path: String, _ options: EvaluationOptions = EvaluationOptions()) throws -> [String: Double] {
        try evaluateRun(path, options)
    }

    /// Validates the config file's bytes (`path` names it in errors) and runs it in `run`.
    public func run(configData: Data, path: String, in run: RunDirectory, resume: Bool = false,
                    showProgress: Bool = false) throws -> RunSummary? {
        try runConfig(configData, path, run, resume, showProgress)
    }
}

/// How `moduli evaluate` runs a finished model.
public struct EvaluationOptions: Sendable {
    /// Run the recurrent products on the kept weights only, in this format (nil: dense GEMMs).
    public var sparse: SparseWeightProduct.Format?
    /// Renumber the hidden units along the moduli space first (the model computes the same function).
    public var reorder: Bool
    /// Another model file for the run (one `moduli export` wrote) instead of its model.safetensors.
    public var modelFile: String?

    /// Options from their parts.
    public init(sparse: SparseWeightProduct.Format? = nil, reorder: Bool = false, modelFile: String? = nil) {
        self.sparse = sparse; self.reorder = reorder; self.modelFile = modelFile
    }
}

/// Every task of the package, by name.
public enum TaskRegistry {
    /// The tasks, in the order the help lists them.
    public static let tasks: [RegisteredTask] = [RegisteredTask(AddingTask.self), RegisteredTask(NavigationTask.self),
                                                  RegisteredTask(LanguageTask.self)]

    /// The task named `name`; the error lists the known ones.
    public static func task(named name: String) throws -> RegisteredTask {
        guard let t = tasks.first(where: { $0.name == name }) else {
            throw ExperimentError("Unknown task '\(name)': choose one of \(tasks.map(\.name).joined(separator: ", ")).")
        }
        return t
    }

    /// The largest config file read (a resolved configuration is a few kilobytes).
    public static let maximumConfigBytes = 16 << 20

    /// The bytes of a config file: a regular file of at most `maximumConfigBytes`; the error names the path.
    public static func readConfigFile(_ url: URL) throws -> Data {
        try RunDirectory.readFile(atPath: url.path, maximumBytes: maximumConfigBytes,
                                  hint: "Name a run's config.json (or an edited copy) with --config.")
    }

    /// The task of the run directory at `path`, read from its config.json.
    public static func task(ofRunAt path: String) throws -> RegisteredTask {
        let configPath = URL(fileURLWithPath: path).appendingPathComponent("config.json").path
        let data = try RunDirectory.readFile(atPath: configPath, maximumBytes: maximumConfigBytes,
                                             hint: "Name a run directory written by moduli train.")
        return try task(inConfig: data, path: configPath)
    }

    /// The task a config file names in its `task` field.
    public static func task(inConfig data: Data, path: String) throws -> RegisteredTask {
        struct Header: Decodable { var task: String }
        guard let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw ExperimentError("\(path) is not a moduli run configuration: it needs a JSON object with a \"task\" field (config.json of a run directory is one).")
        }
        return try task(named: header.task)
    }

    /// Decodes `type` from `data` and refuses keys the type does not know (a misspelt option would
    /// otherwise be ignored); the error names the file and the key.
    static func decodeStrictly<T: Codable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        let value: T
        do { value = try recordDecoder().decode(T.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            let at = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw ExperimentError("\(path) lacks \"\(at)\": a config file must be complete (start from a run's config.json).")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ExperimentError("\(path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type: \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw ExperimentError("\(path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)")
        } catch {
            throw ExperimentError("\(path) is not a valid run configuration: \(error)")
        }
        let given = try JSONSerialization.jsonObject(with: data)
        let known = try JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(value))
        if let extra = unknownKey(given, known, path: "") {
            throw ExperimentError("\(path) has an unknown key \"\(extra)\": remove it or check its spelling.")
        }
        return value
    }

    /// The first key path present in `given` but not in `known` (objects compared recursively).
    static func unknownKey(_ given: Any, _ known: Any, path: String) -> String? {
        guard let g = given as? [String: Any] else { return nil }
        let k = known as? [String: Any] ?? [:]
        for key in g.keys.sorted() {
            let here = path.isEmpty ? key : path + "." + key
            guard let sub = k[key] else {
                if g[key] is NSNull { continue }  // an explicit null for an absent optional
                return here
            }
            if let found = unknownKey(g[key]!, sub, path: here) { return found }
        }
        return nil
    }
}
