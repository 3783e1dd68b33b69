// The optimizer interface and gradient clipping. Optimizers keep their moments in flat buffers with
// the parameter store's layout; masked (pruned) entries get no update and keep zero moments.
import Compute
import Linalg

/// Updates the parameters of a store from its gradients.
public protocol Optimizer<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// The current learning rate (schedules change it between steps).
    var learningRate: Double { get set }
    /// One update from the store's gradients. Masked entries keep their value (0) and zero moments.
    mutating func step(_ store: ParameterStore<Scalar>)
    /// The names of the buffers `step(_:state:)` keeps its state in (as in `state.buffers`), in the
    /// order it takes them; empty for an optimizer without per-parameter state.
    var stateBufferNames: [String] { get }
    /// One update of `parameters`, a store's tensors in a backend's memory, from their gradients,
    /// the optimizer's state in `state` (one buffer per `stateBufferNames`, laid out like the store,
    /// in the same memory). Advances the step count. The one implementation of the update, on every
    /// backend; `step(_:)` runs it over the store's own memory.
    mutating func step<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>, state: [ComputeBuffer<Scalar>]) throws
    where Backend.Scalar == Scalar
    /// Everything needed to resume: step count and per-parameter buffers (moments), by name.
    var state: OptimizerState { get set }
}

/// An optimizer's resumable state: its step count and flat buffers laid out like the store.
public struct OptimizerState: Sendable, Equatable {
    /// Steps taken.
    public var stepCount: Int
    /// Named flat buffers (e.g. Adam's `exp_avg` and `exp_avg_sq`), each `store.totalCount` long or empty.
    public var buffers: [String: [Double]]

    /// A state from its parts.
    public init(stepCount: Int, buffers: [String: [Double]]) {
        self.stepCount = stepCount
        self.buffers = buffers
    }
}

/// Tensors that take a weight decay of their own (a PyTorch parameter group), e.g. 0 for learned
/// neuron positions.
public struct ParameterGroup: Sendable, Equatable {
    /// The tensors of the group.
    public var slots: [ParameterSlot]
    /// Their weight decay.
    public var weightDecay: Double

    /// A group from its parts.
    public init(slots: [ParameterSlot], weightDecay: Double) {
        self.slots = slots
        self.weightDecay = weightDecay
    }
}

/// PyTorch's `clip_grad_norm_` on a backend: scales `gradients` by `maxNorm / (norm + 1e-6)` when
/// their global L2 norm (summed in Double) exceeds `maxNorm`. Returns the norm before clipping.
@inlinable public func clipGradientNorm<Backend: ComputeBackend>(
    _ gradients: ComputeBuffer<Backend.Scalar>, on backend: Backend, maxNorm: Double
) throws -> Double {
    let norm = try backend.sumOfSquares(gradients).squareRoot()
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 { try backend.scale(gradients, by: Backend.Scalar(coefficient)) }
    return norm
}

/// `clipGradientNorm(_:on:maxNorm:)` over a store's gradients on the CPU backend.
@discardableResult
@_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
@_specialize(where S == Double)
public func clipGradientNorm<S: BLASScalar>(_ store: ParameterStore<S>, maxNorm: Double) -> Double {
    let cpu = CPUBackend(S.self)
    do { return try clipGradientNorm(store.buffers(on: cpu).gradients, on: cpu, maxNorm: maxNorm) } catch {
        preconditionFailure("clipping the gradients: \(error)")
    }
}

/// The global L2 norm of a store's gradients (summed in Double), on the CPU backend.
@_specialize(where S == Float)
@_specialize(where S == Double)
public func gradientNorm<S: BLASScalar>(_ store: ParameterStore<S>) -> Double {
    let cpu = CPUBackend(S.self)
    do { return try cpu.sumOfSquares(store.buffers(on: cpu).gradients).squareRoot() } catch {
        preconditionFailure("the gradient norm: \(error)")
    }
}

extension ParameterStore {
    /// Calls `body` for each run of the flat store with one weight decay: `default` everywhere
    /// except the slots of `groups` (a later group wins); one call over everything when there are
    /// no groups. Allocates nothing (it runs every optimizer step).
    func forEachWeightDecayRun(default value: Double, groups: [ParameterGroup], _ body: (Range<Int>, Double) throws -> Void) rethrows {
        guard !groups.isEmpty else { try body(0..<totalCount, value); return }
        func decay(_ k: Int) -> Double {
            var d = value
            for group in groups where group.slots.contains(where: { $0.index == k }) { d = group.weightDecay }
            return d
        }
        var start = 0, current = decay(0)
        for k in 1..<max(1, infos.count) {
            let d = decay(k)
            if d != current {
                try body(start..<infos[k].offset, current)
                start = infos[k].offset; current = d
            }
        }
        try body(start..<totalCount, current)
    }

    /// Zeroes the gradients of pruned entries (so that no optimizer state builds up there, and a
    /// gradient norm counts only the weights that exist, as with PyTorch's pruning masks).
    /// Inlinable: the trainer calls it every step from another module, where a generic body would
    /// run unspecialized (a tenth of a pruned language-model step).
    @inlinable public func maskGradients() {
        let buffers = self.buffers(on: CPUBackend(Scalar.self))
        do { try buffers.multiplyByMasks(buffers.gradients) } catch { preconditionFailure("masking the gradients: \(error)") }
    }
}

/// Flat optimizer state with a store's layout, created on first use.
struct OptimizerBuffer<Scalar: BLASScalar>: Sendable {
    var scalars: [Scalar] = []

    mutating func prepare(count: Int) {
        if scalars.count != count { scalars = [Scalar](repeating: 0, count: count) }
    }
}
