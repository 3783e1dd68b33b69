// The parameters of each hidden unit as a group: every entry on an axis that indexes unit j
// (`HiddenUnitAxis`), its norm, and scaling or removing it. Used by structured sparsity that keeps
// or removes whole units (docs/method.md, "Group envelope regularization").
import Linalg

/// The groups of entries that belong to each of the H hidden units of a model, from the axes that
/// index them (`HiddenUnitAxis`: W_ih and W_hh rows in gate blocks, W_hh columns, biases, the
/// columns of a decoder or head, the rows of an encoder that sets the initial state).
///
/// An entry on a row axis belongs to the unit of its row (`r % H`), an entry on a column axis to
/// the unit of its column (`c % H`); an entry on both (W_hh) belongs to two units, or to one when
/// row and column index the same unit (W_hh(j, j) in every gate block, counted once). Two views:
/// - `whole`: every entry of unit j, its rows and its columns. Groups overlap (W_hh(i, j), i != j,
///   is in the groups of i and of j).
/// - `owned`: the entries on a row of unit j (its incoming weights and biases, of every gate
///   block and layer), plus the entries on a column of unit j in tensors without a hidden-unit row
///   axis (the decoder's or head's column j). The owned parts of the H units are disjoint and
///   together hold every entry on the axes. A unit whose owned part is zero computes 0 at every
///   step (zero input weights and biases, with a zero initial state or a zero encoder row), so its
///   columns in W_hh no longer matter: the unit can be removed without changing the outputs.
public struct HiddenUnitGroups: Sendable {
    /// Which entries of a unit.
    public enum Part: Sendable {
        /// Every entry of the unit: its rows and its columns (overlapping groups).
        case whole
        /// The entries the unit owns: its rows, and its columns of tensors without a hidden-unit
        /// row axis (disjoint groups).
        case owned
    }

    /// One tensor with hidden-unit axes: blocks of H along its rows and/or its columns.
    struct Tensor: Sendable {
        var slot: ParameterSlot
        var rows: Int, columns: Int
        var rowAxis: Bool, columnAxis: Bool
    }

    /// H, the number of hidden units (of groups).
    public let hiddenSize: Int
    let tensors: [Tensor]

    /// The groups of `axes` in `store`. Errors when an axis does not hold blocks of `hiddenSize`
    /// entries, or when one tensor has two axes in the same dimension.
    public init<S: BLASScalar>(axes: [HiddenUnitAxis], hiddenSize: Int, in store: ParameterStore<S>) throws {
        guard hiddenSize >= 1 else { throw HiddenUnitGroupsError("A model needs at least one hidden unit, got \(hiddenSize).") }
        var tensors: [Tensor] = []
        for axis in axes {
            let info = store.info(axis.slot)
            let rows = info.rows, columns = info.columns
            let fits =
                axis.dimension == 0
                ? rows == axis.blocks * hiddenSize : info.shape.count == 2 && columns == axis.blocks * hiddenSize
            guard fits else {
                throw HiddenUnitGroupsError(
                    """
                    \(info.name) \(info.shape) has no axis of \(axis.blocks) x \(hiddenSize) hidden units in dimension \
                    \(axis.dimension).
                    """
                )
            }
            let k = tensors.firstIndex { $0.slot == axis.slot } ?? tensors.count
            if k == tensors.count {
                tensors.append(Tensor(slot: axis.slot, rows: rows, columns: columns, rowAxis: false, columnAxis: false))
            }
            guard !(axis.dimension == 0 ? tensors[k].rowAxis : tensors[k].columnAxis) else {
                throw HiddenUnitGroupsError("\(info.name) has two hidden-unit axes in dimension \(axis.dimension).")
            }
            if axis.dimension == 0 { tensors[k].rowAxis = true } else { tensors[k].columnAxis = true }
        }
        self.hiddenSize = hiddenSize
        self.tensors = tensors
    }

    /// The Euclidean norm of every unit's group, ||w_j|| = sqrt(sum of w^2 over the group), summed
    /// in Double; each entry counts once per group it belongs to.
    @_specialize(where S == Float)  // runs after every optimizer step, called from Experiments
    @_specialize(where S == Double)
    public func norms<S: BLASScalar>(_ part: Part, in store: ParameterStore<S>) -> [Double] {
        let h = hiddenSize
        var sums = [Double](repeating: 0, count: h)
        sums.withUnsafeMutableBufferPointer { sums in
            for t in tensors {
                let v = store.value(t.slot)
                // With both axes, an entry also belongs to the group of its column's unit.
                let crossing = part == .whole && t.columnAxis
                for r in 0..<t.rows {
                    let row = v + r * t.columns
                    if t.rowAxis {
                        let u = r % h
                        var own = 0.0
                        for c in 0..<t.columns {
                            let x = Double(row[c])
                            own += x * x
                        }
                        sums[u] += own
                        guard crossing else { continue }
                        for c0 in stride(from: 0, to: t.columns, by: h) {
                            for j in 0..<h where j != u {
                                let x = Double(row[c0 + j])
                                sums[j] += x * x
                            }
                        }
                    } else {
                        for c0 in stride(from: 0, to: t.columns, by: h) {
                            for j in 0..<h {
                                let x = Double(row[c0 + j])
                                sums[j] += x * x
                            }
                        }
                    }
                }
            }
        }
        return sums.map { $0.squareRoot() }
    }

    /// Multiplies every unit's owned part by its factor: w_j <- factors[j] w_j (the owned parts are
    /// disjoint, so each entry is multiplied once). Entries that are zero stay zero.
    @_specialize(where S == Float)  // runs after every optimizer step, called from Experiments
    @_specialize(where S == Double)
    public func scaleOwned<S: BLASScalar>(by factors: [Double], in store: ParameterStore<S>) {
        precondition(factors.count == hiddenSize, "scaleOwned: \(factors.count) factors for \(hiddenSize) hidden units")
        let h = hiddenSize
        let f = factors.map { S($0) }
        f.withUnsafeBufferPointer { f in
            for t in tensors {
                let v = store.value(t.slot)
                for r in 0..<t.rows {
                    let row = v + r * t.columns
                    if t.rowAxis {
                        let a = f[r % h]
                        if a == 1 { continue }
                        for c in 0..<t.columns { row[c] *= a }
                    } else {
                        for c0 in stride(from: 0, to: t.columns, by: h) {
                            for j in 0..<h { row[c0 + j] *= f[j] }
                        }
                    }
                }
                store.valuesDidChange(t.slot)
            }
        }
    }

    /// Removes the units in `units`: every entry of their whole groups (rows and columns) becomes
    /// zero, in the values and in the masks, and the masks of the tensors touched come into force,
    /// so that training never brings them back.
    public func remove<S: BLASScalar>(_ units: some Sequence<Int>, in store: ParameterStore<S>) {
        let h = hiddenSize
        var removed = [Bool](repeating: false, count: h)
        for j in units {
            precondition(j >= 0 && j < h, "remove: unit \(j) is not in 0..<\(h)")
            removed[j] = true
        }
        guard removed.contains(true) else { return }
        for t in tensors {
            let v = store.value(t.slot), m = store.mask(t.slot)
            for r in 0..<t.rows {
                let rowRemoved = t.rowAxis && removed[r % h]
                for c in 0..<t.columns where rowRemoved || t.columnAxis && removed[c % h] {
                    v[r * t.columns + c] = 0
                    m[r * t.columns + c] = 0
                }
            }
            store.enableMask(t.slot)
        }
    }

    /// The number of units whose owned part is not all zero: the units a compressed model keeps
    /// (a unit with a zero owned part computes 0 and can be removed).
    public func nonZeroUnits<S: BLASScalar>(in store: ParameterStore<S>) -> Int {
        norms(.owned, in: store).filter { $0 > 0 }.count
    }
}

/// Axes that do not describe the hidden units of a model: what is wrong.
public struct HiddenUnitGroupsError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public let description: String
    /// An error with `message`.
    public init(_ message: String) { description = message }
}
