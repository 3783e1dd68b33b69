// A parameter store's tensors as buffers of a compute backend, so that the code that updates
// parameters is written once against `ComputeBackend`: on the CPU the buffers are the store's own
// memory (no copy); on a GPU they are a device copy with the same layout.
import Compute
import Linalg

/// The values, gradients and masks of a `ParameterStore`, laid out as in the store, in the memory
/// of one backend. The store itself stays the layout's authority: its slots, offsets and which
/// masks are in force.
public struct ParameterBuffers<Backend: ComputeBackend> {
    public typealias Scalar = Backend.Scalar
    /// The backend whose memory holds the buffers.
    public let backend: Backend
    /// Every parameter, `store.totalCount` elements.
    public let values: ComputeBuffer<Scalar>
    /// Every gradient, same layout.
    public let gradients: ComputeBuffer<Scalar>
    /// Every mask entry (1 kept, 0 pruned), same layout.
    public let masks: ComputeBuffer<Scalar>

    /// Buffers from their parts; each holds at least the store's `totalCount` elements.
    public init(backend: Backend, values: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, masks: ComputeBuffer<Scalar>) {
        self.backend = backend
        self.values = values
        self.gradients = gradients
        self.masks = masks
    }

    /// The elements of `buffer`, laid out like the store, that belong to `slot`.
    @inlinable public func part(_ buffer: ComputeBuffer<Scalar>, _ slot: ParameterSlot, of store: ParameterStore<Scalar>) throws
        -> ComputeBuffer<Scalar>
    {
        let info = store.info(slot)
        return try buffer.slice(from: info.offset, count: info.count)
    }

    /// Multiplies every tensor of `buffer` (laid out like the store: gradients, values or an
    /// optimizer's state) whose mask is in force by that mask. Inlinable, so that a caller in
    /// another module (the trainer, every step) runs it specialized.
    @inlinable public func multiplyByMasks(_ buffer: ComputeBuffer<Scalar>, of store: ParameterStore<Scalar>) throws {
        for slot in store.slots where store.isMasked[slot.index] {
            try backend.multiplyByMask(part(buffer, slot, of: store), mask: part(masks, slot, of: store))
        }
    }
}

extension ParameterBuffers {
    /// An optimizer step's bookkeeping, the same for every optimizer and backend: the gradients of
    /// pruned entries are zeroed; `update` runs once per run of tensors with one weight decay
    /// (`groups`, the rest `defaultDecay`) on that run's part of the values, the gradients and each
    /// buffer of `state` (the optimizer's moments, laid out like the store); then `state` and the
    /// values of pruned entries are zeroed again.
    func optimizerStep(
        _ store: ParameterStore<Scalar>, state: [ComputeBuffer<Scalar>], defaultDecay: Double, groups: [ParameterGroup],
        _ update: (
            _ values: ComputeBuffer<Scalar>, _ gradients: ComputeBuffer<Scalar>, _ state: [ComputeBuffer<Scalar>], _ weightDecay: Double
        ) throws -> Void
    ) throws {
        try multiplyByMasks(gradients, of: store)
        try store.forEachWeightDecayRun(default: defaultDecay, groups: groups) { range, weightDecay in
            func part(_ b: ComputeBuffer<Scalar>) throws -> ComputeBuffer<Scalar> {
                try b.slice(from: range.lowerBound, count: range.count)
            }
            try update(part(values), part(gradients), state.map(part), weightDecay)
        }
        for buffer in state { try multiplyByMasks(buffer, of: store) }
        try multiplyByMasks(values, of: store)
    }
}

extension ParameterStore {
    /// This store's memory as buffers of `cpu`, without a copy. They stay valid until a tensor is
    /// added to the store (which may move its memory).
    public func buffers(on cpu: CPUBackend<Scalar>) throws -> ParameterBuffers<CPUBackend<Scalar>> {
        ParameterBuffers(
            backend: cpu, values: try cpu.buffer(wrapping: values), gradients: try cpu.buffer(wrapping: gradients),
            masks: try cpu.buffer(wrapping: masks))
    }
}

/// Runs `body`, operations of the CPU backend on memory whose sizes the caller made consistent:
/// an error there is a bug in the caller, and stops the program with the backend's message.
@inline(__always)
func onHost(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch { preconditionFailure("\(what): \(error)") }
}
