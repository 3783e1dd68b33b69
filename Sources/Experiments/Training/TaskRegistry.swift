// The tasks the command line and config files can name, found by name: `moduli train --config
// FILE.json` reads the task from the file and runs it on the shared trainer.
import Foundation
import Formats
import Geometry
import Linalg
import NN

/// A task that can run from a resolved config file, without the caller knowing its types.
public struct RegisteredTask: Sendable {
    /// The task's name (`task` in config.json).
    public let name: String
    /// The metric the task's summary leads with (`TrainingTask.primaryMetric`).
    public let primaryMetric: String
    /// The validation metric that choosing among runs reads (`TrainingTask.selectionMetric`); nil
    /// when the task names its test metric `primaryMetric` there (it has no validation data), so
    /// that nothing ever selects on test data.
    public let selectionMetric: String?
    /// Whether a larger metric is better (`TrainingTask.primaryMetricIncreases`).
    public let primaryMetricIncreases: Bool
    /// The task's type: a generic caller opens it (`func f<T: TrainingTask>(_: T.Type)`).
    public let type: any TrainingTask.Type
    /// The extra report section the task offers (`TrainingTask.reportProbe`).
    public let reportProbe: ReportProbe?
    /// Every option of `moduli train <task>`, as flags (`--hidden`, `--bias/--no-bias`).
    public let optionFlags: [String]
    private let resolveArguments: @Sendable ([String], [UInt64]) throws -> [Data]
    private let givenKeys: @Sendable ([String]) throws -> [String]
    private let runConfig: @Sendable (Data, String, RunDirectory, Bool, Bool) throws -> RunSummary?
    private let evaluateRun: @Sendable (String, EvaluationOptions) throws -> [String: Double]
    private let exportRun: @Sendable (String, Bool, Bool) throws -> Data
    private let hiddenStatesRun: @Sendable (String, Int) throws -> Matrix<Float>
    private let embeddingRun: @Sendable (String) throws -> NeuronEmbedding?

    /// Registers `task`.
    public init<Task: TrainingTask>(_ task: Task.Type) {
        name = Task.name
        primaryMetric = Task.primaryMetric
        selectionMetric = Task.selectionMetric == Task.primaryMetric ? nil : Task.selectionMetric
        primaryMetricIncreases = Task.primaryMetricIncreases
        type = Task.self
        reportProbe = Task.reportProbe
        optionFlags = TaskOptions<Task>.declarations.map(\.flag)
        givenKeys = { arguments in try OptionParser.parse(arguments, table: TaskOptions<Task>.declarations).map(\.option.key) }
        resolveArguments = { arguments, seeds in
            var config = try TaskOptions<Task>.resolve(arguments).config
            try Trainer<Task>.validate(config)
            return try seeds.map { seed in
                config.training.seed = seed
                return try RunDirectory.encodeJSON(config)
            }
        }
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
            if let format = options.sparse {
                guard (options.device ?? .cpu) == .cpu else {
                    throw ExperimentError("--sparse runs the sparse kernels of the CPU: drop --sparse, or evaluate with --device cpu.")
                }
                trained.useSparseProducts(format: format)
            }
            return try trained.evaluate(on: options.device)
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
        hiddenStatesRun = { path, maximumRows in try TrainedModel<Task>(runAt: path).hiddenStates(maximumRows: maximumRows) }
        embeddingRun = { path in try TrainedModel<Task>(runAt: path).embedding() }
    }

    /// The hidden states of the finished run at `path` over its task's evaluation inputs
    /// (`TrainingTask.hiddenStates`), at most `maximumRows`; rows are states, columns hidden units.
    public func hiddenStates(runAt path: String, maximumRows: Int) throws -> Matrix<Float> {
        try hiddenStatesRun(path, maximumRows)
    }

    /// The neuron positions of the finished run at `path` on its moduli space (positions.npy, the
    /// final ones of a learned embedding), or nil for a run without a geometric regularizer.
    public func embedding(runAt path: String) throws -> NeuronEmbedding? {
        try embeddingRun(path)
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
    /// The configuration keys that `arguments` (options of `moduli train <task>`) give, in order;
    /// the errors of a malformed list (`OptionError`) name the option.
    public func keys(givenBy arguments: [String]) throws -> [String] { try givenKeys(arguments) }

    /// The resolved and validated configuration of `arguments` (options of `moduli train <task>`)
    /// at each of `seeds` (its `training.seed`), as the bytes of its config.json: `moduli train
    /// --config FILE` runs it as `moduli train <task> ARGUMENTS --seed S` would. Errors
    /// (`OptionError`, `ExperimentError`) name the configuration key and the flag.
    public func resolvedConfigFiles(arguments: [String], seeds: [UInt64]) throws -> [Data] {
        try resolveArguments(arguments, seeds)
    }

    /// Validates the config file's bytes (`path` names it in errors) and runs it in `run`.
    public func run(
        configData: Data, path: String, in run: RunDirectory, resume: Bool = false,
        showProgress: Bool = false
    ) throws -> RunSummary? {
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
    /// Where the evaluation runs (nil: the CPU).
    public var device: ComputeDevice?

    /// Options from their parts.
    public init(sparse: SparseWeightProduct.Format? = nil, reorder: Bool = false, modelFile: String? = nil, device: ComputeDevice? = nil) {
        self.sparse = sparse; self.reorder = reorder; self.modelFile = modelFile; self.device = device
    }
}

/// The list of registered tasks, behind a lock.
private final class RegisteredTasks: @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [RegisteredTask]
    init(_ tasks: [RegisteredTask]) { self.tasks = tasks }
    func withLock<T>(_ body: (inout [RegisteredTask]) -> T) -> T { lock.withLock { body(&tasks) } }
}

extension RegisteredTask {
    /// Registers the task of the existential `task`.
    init(opening task: any TrainingTask.Type) {
        func open<T: TrainingTask>(_ t: T.Type) -> RegisteredTask { RegisteredTask(t) }
        self = open(task)
    }
}

/// Every task of the package, by name.
public enum TaskRegistry {
    /// The package's tasks, in the order the help lists them: adding a task is one line here.
    static let packageTasks: [any TrainingTask.Type] = [AddingTask.self, NavigationTask.self, LanguageTask.self]

    /// The tasks registered: the package's, then any `register(_:)` added.
    public static var tasks: [RegisteredTask] { registered.withLock { $0 } }

    private static let registered = RegisteredTasks(packageTasks.map { RegisteredTask(opening: $0) })

    /// Registers `task` (a task defined outside the package's list, e.g. in a test) so that the
    /// command line, sweeps and config files find it by name. Registering a name again replaces it.
    public static func register<Task: TrainingTask>(_ task: Task.Type) {
        registered.withLock { tasks in
            tasks.removeAll { $0.name == Task.name }
            tasks.append(RegisteredTask(task))
        }
    }

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
        try RunDirectory.readFile(
            atPath: url.path, maximumBytes: maximumConfigBytes,
            hint: "Name a run's config.json (or an edited copy) with --config.")
    }

    /// The task of the run directory at `path`, read from its config.json.
    public static func task(ofRunAt path: String) throws -> RegisteredTask {
        let configPath = URL(fileURLWithPath: path).appendingPathComponent("config.json").path
        let data = try RunDirectory.readFile(
            atPath: configPath, maximumBytes: maximumConfigBytes,
            hint: "Name a run directory written by moduli train.")
        return try task(inConfig: data, path: configPath)
    }

    /// What to do about a config file that cannot be read.
    static let configAdvice = "Fix the file (a run's config.json is a complete example), or start from a run's config.json again."

    /// The task a config file names in its `task` field; the error names the file, the line and
    /// column, and what is wrong.
    public static func task(inConfig data: Data, path: String) throws -> RegisteredTask {
        let json = try JSONFile.parse(data, path: path, advice: configAdvice)
        guard case .object(let members) = json else {
            throw ExperimentError(
                """
                \(path) is not a moduli run configuration: it is \(json.typeName), not a JSON object with a \"task\" field \
                (config.json of a run directory is one).
                """
            )
        }
        guard let value = members.first(where: { $0.key == "task" })?.value else {
            throw ExperimentError(
                "\(path) is not a moduli run configuration: it has no \"task\" field (config.json of a run directory is one).")
        }
        guard case .string(let name) = value else {
            throw ExperimentError(
                JSONFile.message(
                    for: DecodingError.typeMismatch(String.self, .init(codingPath: [RecordKey("task")], debugDescription: "")),
                    data: data, path: path, advice: "Set it to one of \(tasks.map { "\"\($0.name)\"" }.joined(separator: ", ")).",
                    type: [String: String].self))
        }
        do { return try task(named: name) } catch let e as ExperimentError { throw ExperimentError("\(path): \"task\": \(e.description)") }
    }

    /// Decodes `type` from `data` and refuses keys the type does not know (a misspelt option would
    /// otherwise be ignored), keys given twice and numbers beyond a Double's range; the error names
    /// the file, the line and column, the key and what is wrong (`JSONFile`).
    static func decodeStrictly<T: Codable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        let located = try JSONFile.parseLocating(data, path: path, advice: configAdvice)
        let given = located.value, offsets = located.offsets
        let value: T
        do { value = try JSONFile.decoder().decode(T.self, from: data) } catch {
            let advice: String
            if case DecodingError.keyNotFound = error {
                advice = "A config file must be complete: start from a run's config.json."
            } else {
                advice = configAdvice
            }
            throw ExperimentError(JSONFile.message(for: error, located: located, bytes: data, path: path, advice: advice, type: T.self))
        }
        let known = try OrderedJSON.parse(RunDirectory.encodeJSON(value))
        if let extra = unknownKey(given, known, path: []) {
            let keyPath = OrderedJSON.keyPath(extra)
            let (line, column) = OrderedJSON.lineAndColumn(of: offsets[keyPath] ?? 0, in: Array(data))
            throw ExperimentError(
                JSONFile.place(path, line: line, column: column, keyPath: keyPath)
                    + ": unknown key \"\(extra.last ?? "")\": remove it or check its spelling.")
        }
        return value
    }

    /// The first key path present in `given` but not in `known` (objects compared recursively).
    static func unknownKey(_ given: OrderedJSON, _ known: OrderedJSON, path: [String]) -> [String]? {
        guard case .object(let g) = given else { return nil }
        let k: [(key: String, value: OrderedJSON)]
        if case .object(let members) = known { k = members } else { k = [] }
        for (key, value) in g {
            guard let sub = k.first(where: { $0.key == key })?.value else {
                if value == .null { continue }  // an explicit null for an absent optional
                return path + [key]
            }
            if let found = unknownKey(value, sub, path: path + [key]) { return found }
        }
        return nil
    }
}
