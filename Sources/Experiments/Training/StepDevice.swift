// Where a training phase's steps run: the parameters, the optimizer's state, the moduli
// penalty's R and the step's workspace in the memory of one compute backend (the host store's own
// memory on the CPU, a GPU's with `--device cuda`), and the copies between it and the host store
// at the points where host code reads or changes parameters (pruning events, evaluation,
// checkpoints).
import Compute
import Linalg
import NN
import Sparsity

/// One training phase's memory on a backend: the store's tensors (`DeviceStore`), the optimizer's
/// state buffers, R and the step's workspace. The host store stays the authority on layout and
/// masks; the host's optimizer holds the step count and settings, its state buffers live here.
final class StepDevice<Backend: ComputeBackend> where Backend.Scalar == Float {
    /// The store's tensors in the backend's memory.
    let store: DeviceStore<Backend>
    /// The optimizer's state buffers, in the order of `stateNames`.
    let optimizerState: [ComputeBuffer<Float>]
    /// The optimizer's names for them (`Optimizer.stateBufferNames`).
    let stateNames: [String]
    /// A step's (or an evaluation's) activations and uploaded inputs.
    var workspace: Workspace<Float>
    /// R (H x H) in the backend's memory, and the regularizer's version it holds.
    private var coefficients: ComputeBuffer<Float>?
    private var coefficientsVersion = -1

    var parameters: ParameterBuffers<Backend> { store.parameters }
    var backend: Backend { store.parameters.backend }

    /// Puts the session's parameters (`store`, made by the caller over the session's host store),
    /// the optimizer's state from `optimizer.state` (zeros where it has none yet) and a workspace
    /// of `workspaceCount` elements on the backend.
    init(store: DeviceStore<Backend>, optimizer: TrainerOptimizer, workspaceCount: Int) throws {
        self.store = store
        let backend = store.parameters.backend, n = store.store.totalCount
        stateNames = optimizer.stateBufferNames
        optimizerState = try stateNames.map { _ in try backend.allocate(count: max(n, 1)) }
        workspace = try backend.makeWorkspace(count: max(workspaceCount, 1))
        try upload(optimizer.state)
    }

    /// Copies the optimizer state's buffers to the backend (zeros for a buffer the state does not
    /// hold yet, as before the first step).
    func upload(_ state: OptimizerState) throws {
        let n = store.store.totalCount
        for (name, buffer) in zip(stateNames, optimizerState) {
            let values = state.buffers[name] ?? []
            if values.count == n {
                try backend.upload(values.map { Float($0) }, to: buffer.slice(from: 0, count: n))
            } else {
                try backend.fill(buffer, with: 0)
            }
        }
    }

    /// `host` (the optimizer's state as the host optimizer holds it: its step count) with the
    /// buffers read back from the backend; as the host optimizer writes it, a buffer is empty
    /// until the first step.
    func download(_ host: OptimizerState) throws -> OptimizerState {
        var state = host
        for (name, buffer) in zip(stateNames, optimizerState) {
            state.buffers[name] =
                host.stepCount > 0 ? try backend.download(buffer.slice(from: 0, count: store.store.totalCount)).map(Double.init) : []
        }
        return state
    }

    /// Frees everything this phase allocated on the backend (the store's copy, the optimizer's
    /// state, R, the workspace); the device must not be used afterwards.
    func release() throws {
        try store.release()
        for buffer in optimizerState + [workspace.storage] + (coefficients.map { [$0] } ?? []) { try backend.release(buffer) }
        coefficients = nil
    }

    /// R in the backend's memory, uploaded when the regularizer's R changed since the last call.
    func coefficients(of regularizer: ModuliRegularizer<Float>) throws -> ComputeBuffer<Float> {
        let r = regularizer.trainingCoefficients
        if coefficients == nil { coefficients = try backend.allocate(count: max(r.count, 1)) }
        guard let buffer = coefficients else { throw ComputeError.invalidArgument("R was not allocated") }
        if coefficientsVersion != regularizer.coefficientsVersion {
            try copy(r, to: buffer.slice(from: 0, count: r.count), on: backend)
            coefficientsVersion = regularizer.coefficientsVersion
        }
        return try buffer.slice(from: 0, count: r.count)
    }
}

// The trainer's own calls into the backend, as functions pre-specialized for the CPU's Float
// backend: the trainer is generic over its task and runs unspecialized where another module calls
// it (the command line), and a backend operation called from there would run generic code over
// the whole store (docs/decisions.md 11). `@_specialize` makes the generic entry dispatch to the
// specialized body at run time. The tasks' `trainStep` carry the same attribute.

/// Zeroes every gradient.
@_specialize(where Backend == CPUBackend<Float>)
func zeroGradients<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>) throws where Backend.Scalar == Float {
    try parameters.backend.fill(parameters.gradients, with: 0)
}

/// Zeroes the gradients of pruned entries (they count neither in the norm nor in the clip), then
/// clips the gradients to `maxNorm` (0: no clip). Returns the norm before clipping.
@_specialize(where Backend == CPUBackend<Float>)
func maskAndClipGradients<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>, maxNorm: Double) throws -> Double
where Backend.Scalar == Float {
    try parameters.multiplyByMasks(parameters.gradients)
    guard maxNorm > 0 else { return try parameters.backend.sumOfSquares(parameters.gradients).squareRoot() }
    return try clipGradientNorm(parameters.gradients, on: parameters.backend, maxNorm: maxNorm)
}

/// Copies host values into `buffer` on `backend`.
@_specialize(where Backend == CPUBackend<Float>)
func copy<Backend: ComputeBackend>(_ values: [Float], to buffer: ComputeBuffer<Float>, on backend: Backend) throws
where Backend.Scalar == Float {
    try backend.upload(values, to: buffer)
}

extension TrainerOptimizer {
    /// The names of the optimizer's state buffers (`Optimizer.stateBufferNames`).
    var stateBufferNames: [String] {
        switch self {
        case .sgd(let o): o.stateBufferNames
        case .adam(let o): o.stateBufferNames
        }
    }

    /// One update of `parameters` with the state buffers `state` (`Optimizer.step(_:state:)`).
    mutating func step<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>, state: [ComputeBuffer<Float>]) throws
    where Backend.Scalar == Float {
        switch self {
        case .sgd(var o): try o.step(parameters, state: state); self = .sgd(o)
        case .adam(var o): try o.step(parameters, state: state); self = .adam(o)
        }
    }
}

extension TrainingLoop where Backend == CPUBackend<Float> {
    /// The loop with its steps on the CPU over the host store's memory (`--device cpu`).
    init(trainer: Trainer<Task>, run: RunDirectory, resume: Bool, showProgress: Bool) throws {
        let cpu = CPUBackend<Float>()
        try self.init(
            trainer: trainer, run: run, resume: resume, showProgress: showProgress, deviceStore: { DeviceStore(sharing: $0, on: cpu) })
    }
}
