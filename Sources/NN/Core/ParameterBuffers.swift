// A parameter store's tensors as buffers of a compute backend, so that the code that updates
// parameters is written once against `ComputeBackend`: on the CPU the buffers are the store's own
// memory (no copy); on a GPU they are a device copy with the same layout.
import Compute
import Linalg

/// The values, gradients and masks of a `ParameterStore`, laid out as in the store, in the memory
/// of one backend. The store itself stays the layout's authority: its slots, offsets, which masks
/// are in force and the versions of its tensors.
public struct ParameterBuffers<Backend: ComputeBackend> {
    public typealias Scalar = Backend.Scalar
    /// The store whose layout the buffers follow.
    public let store: ParameterStore<Scalar>
    /// The backend whose memory holds the buffers.
    public let backend: Backend
    /// Every parameter, `store.totalCount` elements.
    public let values: ComputeBuffer<Scalar>
    /// Every gradient, same layout.
    public let gradients: ComputeBuffer<Scalar>
    /// Every mask entry (1 kept, 0 pruned), same layout.
    public let masks: ComputeBuffer<Scalar>

    /// Buffers from their parts; each holds at least the store's `totalCount` elements.
    public init(
        _ store: ParameterStore<Scalar>, backend: Backend, values: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>,
        masks: ComputeBuffer<Scalar>
    ) {
        self.store = store
        self.backend = backend
        self.values = values
        self.gradients = gradients
        self.masks = masks
    }

    /// The elements of `buffer`, laid out like the store, that belong to `slot`.
    @inlinable public func part(_ buffer: ComputeBuffer<Scalar>, _ slot: ParameterSlot) throws -> ComputeBuffer<Scalar> {
        let span = store.span(slot)
        return try buffer.slice(from: span.lowerBound, count: span.count)
    }

    /// The values of `slot`.
    @inlinable public func value(_ slot: ParameterSlot) throws -> ComputeBuffer<Scalar> { try part(values, slot) }
    /// The gradients of `slot`.
    @inlinable public func gradient(_ slot: ParameterSlot) throws -> ComputeBuffer<Scalar> { try part(gradients, slot) }

    /// Multiplies every tensor of `buffer` (laid out like the store: gradients, values or an
    /// optimizer's state) whose mask is in force by that mask. Inlinable, so that a caller in
    /// another module (the trainer, every step) runs it specialized.
    @inlinable public func multiplyByMasks(_ buffer: ComputeBuffer<Scalar>) throws {
        for slot in store.slots where store.isMasked[slot.index] {
            try backend.multiplyByMask(part(buffer, slot), mask: part(masks, slot))
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
        state: [ComputeBuffer<Scalar>], defaultDecay: Double, groups: [ParameterGroup],
        _ update: (
            _ values: ComputeBuffer<Scalar>, _ gradients: ComputeBuffer<Scalar>, _ state: [ComputeBuffer<Scalar>], _ weightDecay: Double
        ) throws -> Void
    ) throws {
        try multiplyByMasks(gradients)
        try store.forEachWeightDecayRun(default: defaultDecay, groups: groups) { range, weightDecay in
            func part(_ b: ComputeBuffer<Scalar>) throws -> ComputeBuffer<Scalar> {
                try b.slice(from: range.lowerBound, count: range.count)
            }
            try update(part(values), part(gradients), state.map(part), weightDecay)
        }
        for buffer in state { try multiplyByMasks(buffer) }
        try multiplyByMasks(values)
    }
}

extension ParameterStore {
    /// This store's memory as buffers of `cpu`, without a copy. They stay valid until a tensor is
    /// added to the store (which may move its memory).
    public func buffers(on cpu: CPUBackend<Scalar>) -> ParameterBuffers<CPUBackend<Scalar>> {
        ParameterBuffers(
            self, backend: cpu, values: cpu.buffer(over: values), gradients: cpu.buffer(over: gradients), masks: cpu.buffer(over: masks))
    }
}

/// Runs `body`, operations of the CPU backend on memory whose sizes the caller made consistent:
/// an error there is a bug in the caller, and stops the program with the backend's message.
@usableFromInline @inline(__always)
func onHost(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch { preconditionFailure("\(what): \(error)") }
}
