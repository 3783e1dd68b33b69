// A parameter store's tensors in a compute backend's own memory (a GPU's), kept in step with the
// host store through the slots' versions (docs/decisions.md 38): what the trainer's step will run
// on with `--device cuda`.
import Compute
import Linalg

/// The values, gradients and masks of a `ParameterStore` in memory a backend allocated, laid out
/// as in the store. The host store stays the authority on layout and masks; the device copy holds
/// the values while steps run there.
///
/// - `uploadChanges()` copies every slot whose host value or mask version moved since the device
///   last held it (a load, a pruning event, a fold of hidden units): nothing else has to say
///   that the host changed.
/// - `downloadValues()` brings the device's values back (for evaluation, checkpoints and pruning
///   on the host); the host's versions move, so host-side copies (sparse products) refresh, and
///   the device is recorded as holding them.
/// - `valuesChangedOnDevice()` after the device changed the values (an optimizer step).
///
/// On the CPU a device store can share the host store's memory (`init(sharing:on:)`): then there is
/// nothing to copy, and `valuesChangedOnDevice()` moves the host's versions at once. The trainer's
/// step is the same code either way.
public final class DeviceStore<Backend: ComputeBackend> {
    public typealias Scalar = Backend.Scalar
    /// The host store.
    public let store: ParameterStore<Scalar>
    /// The tensors in the backend's memory.
    public let parameters: ParameterBuffers<Backend>
    /// Per slot, the host value and mask versions the device copy holds.
    private var valueVersions: [UInt64]
    private var maskVersions: [UInt64]
    /// Whether the buffers are the host store's own memory.
    public let isShared: Bool

    /// Allocates the device copy and uploads every tensor and mask; the gradients start at zero.
    public convenience init(_ store: ParameterStore<Scalar>, on backend: Backend) throws {
        let n = store.totalCount
        self.init(
            ParameterBuffers(
                store, backend: backend, values: try backend.allocate(count: n), gradients: try backend.allocate(count: n),
                masks: try backend.allocate(count: n)),
            shared: false)
        try backend.fill(parameters.gradients, with: 0)
        try uploadChanges()
    }

    /// The host store's own memory as the device's (no copy, nothing to upload or download).
    public convenience init<S: BLASScalar>(sharing store: ParameterStore<S>, on cpu: CPUBackend<S>) where Backend == CPUBackend<S> {
        self.init(store.buffers(on: cpu), shared: true)
        recordHostVersions()
    }

    private init(_ parameters: ParameterBuffers<Backend>, shared: Bool) {
        store = parameters.store
        self.parameters = parameters
        isShared = shared
        valueVersions = Array(repeating: .max, count: store.slots.count)
        maskVersions = valueVersions
    }

    private func recordHostVersions() {
        for slot in store.slots {
            valueVersions[slot.index] = store.valueVersion(slot)
            maskVersions[slot.index] = store.maskVersion(slot)
        }
    }

    /// Uploads the values, and the masks, of every slot whose host version differs from the one
    /// the device holds. Returns how many tensors (values and masks counted apart) it copied.
    @discardableResult
    public func uploadChanges() throws -> Int {
        guard store.slots.count == valueVersions.count else {
            throw ComputeError.invalidArgument(
                "device store: the host store has \(store.slots.count) tensors, the device copy was made for \(valueVersions.count)")
        }
        if isShared { recordHostVersions(); return 0 }
        var copied = 0
        for slot in store.slots {
            let span = store.span(slot), i = slot.index
            if store.valueVersion(slot) != valueVersions[i] {
                try parameters.backend.upload(UnsafeBufferPointer(rebasing: store.values[span]), to: parameters.value(slot))
                valueVersions[i] = store.valueVersion(slot)
                copied += 1
            }
            if store.maskVersion(slot) != maskVersions[i] {
                try parameters.backend.upload(UnsafeBufferPointer(rebasing: store.masks[span]), to: parameters.part(parameters.masks, slot))
                maskVersions[i] = store.maskVersion(slot)
                copied += 1
            }
        }
        return copied
    }

    /// Copies every value from the device into the host store, which then reports them changed
    /// (`ParameterStore.allValuesDidChange`); the device holds the new versions.
    public func downloadValues() throws {
        guard !isShared else { return }
        try parameters.backend.download(parameters.values, into: store.values)
        store.allValuesDidChange()
        for slot in store.slots { valueVersions[slot.index] = store.valueVersion(slot) }
    }

    /// Copies the values of `slots` from the device into the host store (for host code that reads
    /// a few tensors every step: learned positions, the group envelope), which then reports them
    /// changed; the device holds the new versions.
    public func downloadValues(of slots: [ParameterSlot]) throws {
        guard !isShared else { return }
        for slot in slots {
            let span = store.span(slot)
            try parameters.backend.download(
                parameters.value(slot), into: UnsafeMutableBufferPointer(rebasing: store.values[span]))
            store.valuesDidChange(slot)
            valueVersions[slot.index] = store.valueVersion(slot)
        }
    }

    /// Copies the host store's gradients of `slots` to the device, replacing the device's (for
    /// gradients host code formed alone: the learned positions').
    public func uploadGradients(of slots: [ParameterSlot]) throws {
        guard !isShared else { return }
        for slot in slots {
            let span = store.span(slot)
            try parameters.backend.upload(
                UnsafeBufferPointer(rebasing: store.gradients[span]), to: parameters.part(parameters.gradients, slot))
        }
    }

    /// Frees the device copy's memory (nothing when it is the host store's own); the device store
    /// must not be used afterwards.
    public func release() throws {
        guard !isShared else { return }
        for buffer in [parameters.values, parameters.gradients, parameters.masks] { try parameters.backend.release(buffer) }
    }

    /// Records that the device changed every value (an optimizer step). With shared memory the
    /// host's values changed too, and their versions move now; otherwise the host copy is stale
    /// until `downloadValues()`.
    public func valuesChangedOnDevice() {
        guard isShared else { return }
        store.allValuesDidChange()
        for slot in store.slots { valueVersions[slot.index] = store.valueVersion(slot) }
    }
}
