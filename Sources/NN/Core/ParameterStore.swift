// One flat store for every parameter of a model: values, gradients and pruning masks share one
// layout, so optimizers, clipping, pruning and checkpoints work on contiguous memory.
import Linalg
import Synchronization

/// The change counter of every store in the process: each version is the next number, so no
/// version is ever seen twice, in one store or across stores (a new store may reuse the address of
/// a freed one, and a copy of a weight keyed by the store's identity must not take it for the old).
private let parameterChanges = Atomic<UInt64>(0)

/// A handle to one named tensor in a `ParameterStore`.
public struct ParameterSlot: Hashable, Sendable, Codable {
    /// Position of the tensor in the store's list.
    public let index: Int
}

/// Where a tensor lives in the flat store and what it is.
public struct ParameterInfo: Sendable, Codable, Equatable {
    /// PyTorch `state_dict` name, e.g. `rnn.weight_hh_l0`.
    public let name: String
    /// Shape, PyTorch order (`[out, in]` for weights).
    public let shape: [Int]
    /// Offset of the first element in the flat buffers.
    public let offset: Int
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Rows when viewed as a matrix (first dimension; 1 for scalars).
    public var rows: Int { shape.first ?? 1 }
    /// Columns when viewed as a matrix (product of the remaining dimensions).
    public var columns: Int { shape.dropFirst().reduce(1, *) }
}

/// The parameters of a model in flat buffers: values, gradients and masks share one layout.
///
/// Layers hold `ParameterSlot`s, never pointers; pointers from `value(_:)` and `gradient(_:)`
/// stay valid until the next `add`. Masks are 1 (kept) or 0 (pruned); every slot starts unmasked.
///
/// Each slot has a value version and a mask version, so that a copy of a weight elsewhere (a
/// sparse product's compressed matrix, a device buffer) can tell when to refresh itself. The
/// store's own writers bump them (`setValue`, `copyValues`, `load`, `enableMask`, `applyMask`),
/// the optimizers bump every slot after a step, and code that writes a tensor through the
/// pointers of `value(_:)` or `mask(_:)` calls `valuesDidChange(_:)` or `maskDidChange(_:)`. A slot
/// gets fresh versions when it is added, so filling it right after `add` needs no call.
/// The store is a reference type so that a training step can hand it to many layers; `copy()`
/// makes an independent snapshot (lottery-ticket rewinding, checkpoints).
public final class ParameterStore<Scalar: BLASScalar>: @unchecked Sendable {
    /// The tensors, in registration order.
    public private(set) var infos: [ParameterInfo] = []
    /// Each slot's elements in the flat buffers (kept beside `infos`, so that the per-step
    /// lookups of the backend's buffers read two integers).
    public private(set) var spans: [Range<Int>] = []
    private var index: [String: ParameterSlot] = [:]
    /// Whether a slot's mask is in force (set by pruning).
    public private(set) var isMasked: [Bool] = []
    /// Per slot: the change number of its values' last change.
    private var valueVersions: [UInt64] = []
    /// Per slot: the change number of its mask's last change.
    private var maskVersions: [UInt64] = []
    private var capacity = 0
    /// Total number of scalars.
    public private(set) var totalCount = 0
    private var valueBase: UnsafeMutablePointer<Scalar>
    private var gradientBase: UnsafeMutablePointer<Scalar>
    private var maskBase: UnsafeMutablePointer<Scalar>

    /// An empty store.
    public init() {
        valueBase = .allocate(capacity: 1)
        gradientBase = .allocate(capacity: 1)
        maskBase = .allocate(capacity: 1)
    }

    deinit {
        valueBase.deallocate(); gradientBase.deallocate(); maskBase.deallocate()
    }

    /// Registers a tensor filled with zeros and returns its slot. Names must be unique.
    @discardableResult
    public func add(_ name: String, shape: [Int]) -> ParameterSlot {
        precondition(index[name] == nil, "Parameter \(name) is registered twice")
        precondition(shape.allSatisfy { $0 > 0 }, "Parameter \(name) has an empty shape \(shape)")
        let info = ParameterInfo(name: name, shape: shape, offset: totalCount)
        let newCount = totalCount + info.count
        if newCount > capacity { grow(to: max(newCount, capacity * 2)) }
        (valueBase + totalCount).initialize(repeating: 0, count: info.count)
        (gradientBase + totalCount).initialize(repeating: 0, count: info.count)
        (maskBase + totalCount).initialize(repeating: 1, count: info.count)
        totalCount = newCount
        let slot = ParameterSlot(index: infos.count)
        infos.append(info)
        spans.append(info.offset..<(info.offset + info.count))
        isMasked.append(false)
        let change = Self.nextChange()
        valueVersions.append(change)
        maskVersions.append(change)
        index[name] = slot
        return slot
    }

    /// Registers a tensor and fills it with `initial()` element by element.
    @discardableResult
    public func add(_ name: String, shape: [Int], initial: () -> Scalar) -> ParameterSlot {
        let slot = add(name, shape: shape)
        let p = value(slot)
        for i in 0..<infos[slot.index].count { p[i] = initial() }
        return slot
    }

    private func grow(to newCapacity: Int) {
        for base in [\ParameterStore.valueBase, \.gradientBase, \.maskBase] {
            let fresh = UnsafeMutablePointer<Scalar>.allocate(capacity: newCapacity)
            fresh.moveInitialize(from: self[keyPath: base], count: totalCount)
            self[keyPath: base].deallocate()
            self[keyPath: base] = fresh
        }
        capacity = newCapacity
    }

    /// The slot registered under `name`, if any.
    public func slot(named name: String) -> ParameterSlot? { index[name] }

    /// Every slot, in registration order.
    public var slots: [ParameterSlot] { infos.indices.map { ParameterSlot(index: $0) } }

    /// The description of a slot.
    public func info(_ slot: ParameterSlot) -> ParameterInfo { infos[slot.index] }

    /// A tensor's elements in the flat buffers: `info(slot).offset ..< offset + count`.
    @inlinable public func span(_ slot: ParameterSlot) -> Range<Int> { spans[slot.index] }

    /// Pointer to a tensor's values.
    @inlinable public func value(_ slot: ParameterSlot) -> UnsafeMutablePointer<Scalar> { values.baseAddress! + infos[slot.index].offset }
    /// Pointer to a tensor's gradient accumulator.
    @inlinable public func gradient(_ slot: ParameterSlot) -> UnsafeMutablePointer<Scalar> {
        gradients.baseAddress! + infos[slot.index].offset
    }
    /// Pointer to a tensor's mask (1 kept, 0 pruned).
    @inlinable public func mask(_ slot: ParameterSlot) -> UnsafeMutablePointer<Scalar> { masks.baseAddress! + infos[slot.index].offset }

    /// All values, flat.
    @usableFromInline package var values: UnsafeMutableBufferPointer<Scalar> {
        UnsafeMutableBufferPointer(start: valueBase, count: totalCount)
    }
    /// All gradients, flat (same layout as `values`).
    @usableFromInline package var gradients: UnsafeMutableBufferPointer<Scalar> {
        UnsafeMutableBufferPointer(start: gradientBase, count: totalCount)
    }
    /// All masks, flat (same layout as `values`).
    @usableFromInline package var masks: UnsafeMutableBufferPointer<Scalar> {
        UnsafeMutableBufferPointer(start: maskBase, count: totalCount)
    }

    // MARK: Versions

    /// The next change number (process-wide).
    private static func nextChange() -> UInt64 { parameterChanges.add(1, ordering: .relaxed).newValue }

    /// The version of a slot's values: it changes whenever they may have changed.
    public func valueVersion(_ slot: ParameterSlot) -> UInt64 { valueVersions[slot.index] }
    /// The version of a slot's mask (and of whether it is in force).
    public func maskVersion(_ slot: ParameterSlot) -> UInt64 { maskVersions[slot.index] }

    /// Records that a slot's values changed (after writing them through `value(_:)`).
    public func valuesDidChange(_ slot: ParameterSlot) {
        valueVersions[slot.index] = Self.nextChange()
    }

    /// Records that every slot's values changed (an optimizer step).
    public func allValuesDidChange() {
        let change = Self.nextChange()
        for i in valueVersions.indices { valueVersions[i] = change }
    }

    /// Records that a slot's mask changed (after writing it through `mask(_:)`), and its values with it.
    public func maskDidChange(_ slot: ParameterSlot) {
        let change = Self.nextChange()
        maskVersions[slot.index] = change
        valueVersions[slot.index] = change
    }

    /// A copy of a tensor as a matrix (`rows x columns` of its shape).
    public func matrix(_ slot: ParameterSlot) -> Matrix<Scalar> {
        let info = infos[slot.index]
        return Matrix(
            rows: info.rows, columns: info.columns,
            scalars: Array(UnsafeBufferPointer(start: value(slot), count: info.count)))
    }

    /// A copy of a tensor's gradient as a matrix.
    public func gradientMatrix(_ slot: ParameterSlot) -> Matrix<Scalar> {
        let info = infos[slot.index]
        return Matrix(
            rows: info.rows, columns: info.columns,
            scalars: Array(UnsafeBufferPointer(start: gradient(slot), count: info.count)))
    }

    /// Overwrites a tensor's values from a matrix with the same number of elements.
    public func setValue(_ slot: ParameterSlot, _ m: Matrix<Scalar>) {
        precondition(
            m.count == infos[slot.index].count,
            "setValue: \(infos[slot.index].name) has \(infos[slot.index].count) elements, got \(m.count)")
        m.withUnsafeBufferPointer { value(slot).update(from: $0.baseAddress!, count: m.count) }
        valuesDidChange(slot)
    }

    /// Sets every gradient to zero (once per training step; backward passes accumulate).
    /// Inlinable: the trainer calls it every step from another module, where the generic body ran
    /// unspecialized (a value-witness call per element, 2% of an adding-problem step).
    @inlinable public func zeroGradients() { gradients.update(repeating: 0) }

    /// Marks a slot's mask as in force and multiplies its values by the mask.
    public func enableMask(_ slot: ParameterSlot) {
        isMasked[slot.index] = true
        maskDidChange(slot)
        applyMask(slot)
    }

    /// Multiplies a masked slot's values by its mask (keeps pruned weights exactly zero).
    public func applyMask(_ slot: ParameterSlot) {
        guard isMasked[slot.index] else { return }
        Kernels.multiplyInPlace(value(slot), by: mask(slot), count: infos[slot.index].count)
        valuesDidChange(slot)
    }

    /// Applies every mask in force.
    public func applyMasks() { for s in slots where isMasked[s.index] { applyMask(s) } }

    /// An independent copy: same layout, values, gradients and masks.
    public func copy() -> ParameterStore {
        let other = ParameterStore()
        for info in infos { other.add(info.name, shape: info.shape) }
        other.values.baseAddress!.update(from: valueBase, count: totalCount)
        other.gradients.baseAddress!.update(from: gradientBase, count: totalCount)
        other.masks.baseAddress!.update(from: maskBase, count: totalCount)
        other.isMasked = isMasked
        return other
    }

    /// Copies the values (not gradients or masks) of another store with the same layout.
    public func copyValues(from other: ParameterStore) {
        precondition(other.infos == infos, "copyValues: the stores have different layouts")
        valueBase.update(from: other.valueBase, count: totalCount)
        allValuesDidChange()
    }
}
