// What a task supplies to the shared trainer: its model, its data stream with resumable state, one
// training step's loss and gradients, its evaluation, and the roles of its parameters.
// docs/adding-a-task.md walks through a task definition.
import Compute
import Linalg
import NN

/// The roles of a model's parameters, which the trainer needs and the task alone knows.
public struct ParameterRoles: Sendable {
    /// Tensors pooled by gradual magnitude pruning, in the order of `PruningConfig.tensorTargets`.
    public var pruned: [ParameterSlot]
    /// Recurrent weights `(G * H) x H` that get the moduli penalty (W_hh of every layer).
    public var recurrent: [ParameterSlot]
    /// H, the hidden axis of the recurrent weights: the moduli regularizer's R is H x H.
    public var hiddenSize: Int
    /// Recurrent networks whose recurrent products must hear of every change of the weights.
    public var networks: [RecurrentNetwork]
    /// Fully connected layers (encoders, decoders, heads): those whose weight is pruned run on
    /// sparse kernels once it is sparse enough, and every one hears of changes of the weights.
    public var linears: [Linear]
    /// Every tensor axis that indexes the H hidden units (of every layer), so that renumbering them
    /// along these axes with one order leaves the model's function unchanged; empty when the task
    /// does not say (then the model cannot be reordered by the manifold).
    public var hiddenUnitAxes: [HiddenUnitAxis]
    /// Rows of a training step's products with the recurrent weights (the batch size), at which
    /// `--recurrent-kernels auto` times its kernels (`KernelChoice`).
    public var batch: Int
    /// Rows of a training step's products with the linear layers' weights (e.g. batch x length
    /// for a decoder that reads every step).
    public var linearRows: Int

    /// Roles from their parts.
    public init(
        pruned: [ParameterSlot], recurrent: [ParameterSlot], hiddenSize: Int, networks: [RecurrentNetwork] = [],
        linears: [Linear] = [], hiddenUnitAxes: [HiddenUnitAxis] = [], batch: Int = 1, linearRows: Int? = nil
    ) {
        self.pruned = pruned; self.recurrent = recurrent; self.hiddenSize = hiddenSize; self.networks = networks
        self.linears = linears; self.hiddenUnitAxes = hiddenUnitAxes
        self.batch = max(1, batch); self.linearRows = max(1, linearRows ?? batch)
    }

    /// Switches every network's W_hh products and every pruned linear layer to the sparse
    /// products (`SparseWeightProduct`: CSR at the mask's pattern), which run dense GEMMs until at
    /// most `denseAboveDensity` of the weight is kept.
    func useSparseProducts(
        in store: ParameterStore<Float>, format: SparseWeightProduct.Format = .csr,
        denseAboveDensity: Double = 0.2
    ) {
        for network in networks {
            network.replaceProducts { SparseWeightProduct(for: $0, format: format, denseAboveDensity: denseAboveDensity) }
        }
        let prunedSlots = Set(pruned)
        for linear in linears where prunedSlots.contains(linear.weight) {
            linear.replaceProduct(SparseWeightProduct(for: linear, format: format, denseAboveDensity: denseAboveDensity))
        }
    }
}

/// A task's data stream: where the next training batch comes from. Its state goes into every
/// checkpoint (as JSON), so that a resumed run draws exactly the batches an uninterrupted one would.
/// A carried hidden state or a corpus position belongs here too.
public protocol TaskStream: Codable, Sendable {}

/// One of the paper's tasks, as a definition the trainer runs. The trainer owns everything else:
/// optimizer, schedules, clipping, penalty, pruning, lottery phase, evaluation cadence, metrics,
/// progress, checkpoints and resume.
public protocol TrainingTask: Sendable {
    /// The task's own options (sizes, data), as written to config.json under `options`.
    associatedtype Options: Codable, Sendable, Equatable
    /// The model: layers holding slots of a parameter store.
    associatedtype Model
    /// The data stream.
    associatedtype Stream: TaskStream

    /// The task's name (`moduli train <name>`, `task` in config.json).
    static var name: String { get }
    /// The default trainer settings of the paper's protocol for this task.
    static var defaultTraining: TrainingConfig { get }
    /// The default penalty weight lambda for this task (docs/method.md).
    static var defaultLambda: Double { get }
    /// The task on the command line: its help, its default configuration and its own options
    /// (`ConfigOption`), from which `moduli train <task>`, `moduli bench train <task>` and sweeps
    /// derive.
    static var commandLine: TaskCommandLine<Options> { get }
    /// The extra section `moduli report` draws for a run of this task; nil (the default) for none.
    static var reportProbe: ReportProbe? { get }

    /// The number H of hidden units of a model built from `options`, whose parameters
    /// `roles(of:).hiddenUnitAxes` list unit by unit, for the group envelope regularizer (which
    /// removes whole units); throws an `ExperimentError` saying why when the units cannot be removed
    /// one by one. By default the task does not say, and the regularizer is refused.
    static func removableHiddenUnits(_ options: Options) throws -> Int
    /// Builds the task from its options (validated already), e.g. drawing a fixed test set.
    init(options: Options) throws
    /// Builds the task from its options and the data its command line's `complete` read while
    /// resolving them (nil: none); by default `init(options:)`.
    init(options: Options, prepared: (any Sendable)?) throws
    /// Checks the options against each other and the trainer's settings; errors name the option.
    static func validate(_ options: Options, training: TrainingConfig) throws
    /// A rough count of the bytes a run needs at its peak, to refuse impossible sizes up front.
    static func memoryEstimate(_ options: Options, training: TrainingConfig) -> Double

    /// Registers the model's parameters in `store` (PyTorch names) with draws from `rng`.
    func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> Model
    /// The roles of the model's parameters.
    func roles(of model: Model) -> ParameterRoles
    /// A fresh data stream drawing from `rng`.
    func makeStream(rng: SeededGenerator) -> Stream
    /// Elements of backend memory one `trainStep` takes (its activations and its uploaded batch);
    /// nil when the model has a layer without a pass on the compute backend.
    func stepWorkspaceCount(_ model: Model) -> Int?
    /// One training batch on a compute backend: makes the next batch of `stream` on the host,
    /// uploads it into `workspace` (`ComputeBackend.upload(_:into:)`), and runs forward and backward
    /// through `parameters` (the store's tensors in the backend's memory: the store's own memory on
    /// the CPU), adding the gradients there (zeroed by the trainer). Returns the mean loss (without
    /// the penalty). Everything that reads or writes parameters goes through the backend, so the
    /// same step runs on every device.
    func trainStep<Backend: ComputeBackend>(
        _ model: Model, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float
    /// Elements of backend memory one `evaluate(_:on:workspace:final:)` takes (its largest batch's
    /// uploaded inputs and activations); nil when the model has a layer without a pass on the compute
    /// backend. By default `stepWorkspaceCount`, which a task whose evaluation batches are larger
    /// than its training batch must replace.
    func evaluationWorkspaceCount(_ model: Model) -> Int?
    /// Evaluates the model on a compute backend; metric names are camelCase (`testMSE`,
    /// `decodingErrorCM`). The task makes its inputs on the host, uploads them into `workspace`
    /// (handed over reset, with at least `evaluationWorkspaceCount` elements; the task may reset it
    /// between batches), runs forward passes through `parameters` and
    /// reads back what its metrics need, so that the same evaluation runs on every device. It runs
    /// after an epoch (`final` false) and at the end of a phase and for a finished model (`final`
    /// true): a task whose test set is expensive evaluates it only when `final`, and the validation
    /// metric `scheduleMetric` every time.
    func evaluate<Backend: ComputeBackend>(
        _ model: Model, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float
    /// The metric that the summary leads with.
    static var primaryMetric: String { get }
    /// The metric that the plateau schedule watches and progress shows, present in every
    /// evaluation (by default `primaryMetric`; a validation metric when the test set is evaluated
    /// only at the end).
    static var scheduleMetric: String { get }
    /// The metric that choosing among finished runs reads (a tuned sweep's selected value): a
    /// validation metric, present in every final evaluation, never the test metric `primaryMetric`
    /// (`TaskRegistry` checks; a task without one cannot be tuned). By default `scheduleMetric`.
    static var selectionMetric: String { get }
    /// Checks a data stream read back from a checkpoint before a resumed run uses it (sizes of a
    /// carried state, positions); the error says what is wrong. By default every stream is accepted.
    func validate(stream: Stream) throws
    /// Whether a larger primary metric is better (accuracy) or a smaller one (loss, error).
    static var primaryMetricIncreases: Bool { get }
    /// Reference values to read the metrics against (e.g. `trivialMSE`), written to summary.json.
    var baselines: [String: Double] { get }
    /// A fingerprint of data the task reads from outside the run (a corpus), which a run records
    /// and later commands check (`DataFingerprint`); nil (the default) for data the task draws itself.
    func dataFingerprint() -> DataFingerprint?
    /// The model's hidden states over the task's test or validation inputs: for the shape of what it
    /// learned (`moduli topology RUN --source hidden`, test inputs) and for neuron elimination's
    /// regressions (validation inputs, so that the test metrics stay out of the model's making). One
    /// row per (time step, sequence) in the order the evaluation runs them, the top layer's hidden
    /// units as columns, at most `maximumRows` rows, covering every time step of the sequences they
    /// include. nil (the default) for a task that does not expose them.
    func hiddenStates(_ model: Model, _ store: ParameterStore<Float>, maximumRows: Int, inputs: StateInputs) -> Matrix<Float>?
}

extension TrainingTask {
    public func evaluationWorkspaceCount(_ model: Model) -> Int? { stepWorkspaceCount(model) }

    /// The evaluation (`evaluate(_:on:workspace:final:)`) on the CPU backend over `store`'s own
    /// memory, in a workspace of its own.
    public func evaluate(_ model: Model, _ store: ParameterStore<Float>, final: Bool = true) throws -> [String: Double] {
        try evaluate(model, on: store.buffers(on: CPUBackend<Float>()), final: final)
    }

    /// The evaluation on `parameters`' backend, in a workspace of its own allocated there.
    public func evaluate<Backend: ComputeBackend>(_ model: Model, on parameters: ParameterBuffers<Backend>, final: Bool) throws
        -> [String: Double] where Backend.Scalar == Float
    {
        guard let count = evaluationWorkspaceCount(model) else {
            throw ExperimentError("The model of \(Self.name) has a layer without a pass on the compute backend: it cannot be evaluated.")
        }
        var workspace = try parameters.backend.makeWorkspace(count: max(count, 1))
        return try evaluate(model, on: parameters, workspace: &workspace, final: final)
    }

    public static var scheduleMetric: String { primaryMetric }
    public static var selectionMetric: String { scheduleMetric }
    public static var reportProbe: ReportProbe? { nil }
    public init(options: Options, prepared: (any Sendable)?) throws { try self.init(options: options) }
    public static func removableHiddenUnits(_ options: Options) throws -> Int {
        throw ExperimentError("the task \(name) does not say which of its parameters belong to each hidden unit.")
    }
    /// The key `key` of this task's configuration with the flag that sets it, for errors:
    /// `options.hiddenSize [--hidden]` (`TaskOptions.label(forKey:)`).
    public static func label(_ key: String) -> String { TaskOptions<Self>.label(forKey: key) }
    public func validate(stream: Stream) throws {}
    public static var primaryMetricIncreases: Bool { false }
    public var baselines: [String: Double] { [:] }
    public func dataFingerprint() -> DataFingerprint? { nil }
    public func hiddenStates(_ model: Model, _ store: ParameterStore<Float>, maximumRows: Int, inputs: StateInputs) -> Matrix<Float>? {
        nil
    }
}

/// The inputs `TrainingTask.hiddenStates` runs a model over.
public enum StateInputs: Sendable {
    /// The test inputs, as the task's evaluation runs them.
    case test
    /// The validation inputs (the language model's validation text, navigation's validation
    /// trajectories, the adding problem's validation sequences).
    case validation
}

/// A section `moduli report` can draw for runs of a task, named so that the report finds it
/// through the task registry rather than by the task's name.
public struct ReportProbe: Hashable, Sendable {
    /// The probe's name.
    public let name: String
    /// A probe named `name`.
    public init(name: String) { self.name = name }
    /// Decoded trajectories and firing maps of a path-integration model (`NavigationProbe`).
    public static let decodedPaths = ReportProbe(name: "decoded-paths")
}

/// Row-major rows collected up to a limit: the hidden states of successive evaluation batches.
struct RowCollector {
    let columns: Int, limit: Int
    private(set) var scalars: [Float] = []
    /// Room for more rows.
    var isFull: Bool { scalars.count >= limit * columns }
    init(columns: Int, limit: Int) { self.columns = columns; self.limit = max(limit, 0) }
    /// Appends the rows of `m` (as many as fit).
    mutating func append(_ m: Matrix<Float>) {
        let rows = min(m.rows, limit - scalars.count / columns)
        if rows > 0 { scalars.append(contentsOf: m.scalars[0..<(rows * columns)]) }
    }
    /// The rows collected.
    var matrix: Matrix<Float> { Matrix(rows: scalars.count / columns, columns: columns, scalars: scalars) }
}
