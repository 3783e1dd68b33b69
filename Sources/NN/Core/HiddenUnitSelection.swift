// Keeping a subset of a model's hidden units: every tensor axis that indexes them (`HiddenUnitAxis`)
// keeps the same units, so the tensors are those of the same network with hidden size K; and which
// units are dead (nothing reads them, or nothing drives them). docs/method.md "Neuron elimination".
import Linalg

extension ParameterStore {
    /// A new store with the same tensors in the same order and under the same names, in which every
    /// axis of `axes` keeps only the hidden units `kept` (of `hiddenSize`), in that order, in each of
    /// its blocks: the parameters of the same network with hidden size `kept.count`. Values and masks
    /// are copied (a masked tensor stays masked); gradients start at zero.
    ///
    /// `kept` must be increasing indices in 0 ..< `hiddenSize`, not empty; every axis must hold
    /// `blocks x hiddenSize` entries, and a tensor may have at most one axis per dimension.
    public func selectingHiddenUnits(_ kept: [Int], of hiddenSize: Int, along axes: [HiddenUnitAxis]) -> ParameterStore {
        precondition(!kept.isEmpty, "selectingHiddenUnits: keep at least one hidden unit")
        precondition(
            zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 } && kept.first! >= 0 && kept.last! < hiddenSize,
            "selectingHiddenUnits: kept units must be increasing indices in 0..<\(hiddenSize)")
        var rowAxis: [Int: HiddenUnitAxis] = [:], columnAxis: [Int: HiddenUnitAxis] = [:]
        for axis in axes {
            let info = info(axis.slot)
            precondition(
                axis.dimension == 0
                    ? info.rows == axis.blocks * hiddenSize
                    : info.shape.count == 2 && info.columns == axis.blocks * hiddenSize,
                """
                selectingHiddenUnits: \(info.name) \(info.shape) has no axis of \(axis.blocks) x \(hiddenSize) units in dimension \
                \(axis.dimension)
                """
            )
            if axis.dimension == 0 {
                precondition(
                    rowAxis.updateValue(axis, forKey: axis.slot.index) == nil, "selectingHiddenUnits: \(info.name) has two row axes")
            } else {
                precondition(
                    columnAxis.updateValue(axis, forKey: axis.slot.index) == nil, "selectingHiddenUnits: \(info.name) has two column axes")
            }
        }
        /// Old indices along an axis of `blocks` blocks: new index b * K + k is old b * H + kept[k].
        func selection(_ axis: HiddenUnitAxis?, size: Int) -> [Int] {
            guard let axis else { return Array(0..<size) }
            return (0..<axis.blocks).flatMap { b in kept.map { b * hiddenSize + $0 } }
        }
        let other = ParameterStore()
        for s in slots {
            let info = info(s)
            let rows = selection(rowAxis[s.index], size: info.rows)
            let columns = selection(columnAxis[s.index], size: info.columns)
            var shape = info.shape
            shape[0] = rows.count
            if shape.count == 2 { shape[1] = columns.count }
            let t = other.add(info.name, shape: shape)
            for (source, target) in [(value(s), other.value(t)), (mask(s), other.mask(t))] {
                for (r, oldRow) in rows.enumerated() {
                    for (c, oldColumn) in columns.enumerated() {
                        target[r * columns.count + c] = source[oldRow * info.columns + oldColumn]
                    }
                }
            }
            if isMasked[s.index] { other.enableMask(t) }
        }
        return other
    }

    /// The dead hidden units among 0 ..< `hiddenSize`, in increasing order: a unit is dead when
    ///
    /// - every entry of it along the column axes (`dimension` 1: W_hh columns, the next layer's W_ih
    ///   columns, a decoder's or head's columns) is zero: nothing reads it; or
    /// - every entry of it along the row axes (`dimension` 0: W_ih and W_hh rows of every gate block,
    ///   the biases, an encoder's rows that set h0) is zero: its pre-activations are 0 at every step.
    ///   From a zero initial state such a unit stays at 0: Elman tanh(0) = relu(0) = 0; LSTM i = f =
    ///   o = 1/2, g = tanh(0) = 0, so c_t = c_{t-1}/2 = 0 and h_t = o tanh(c_t) = 0; GRU r = z = 1/2,
    ///   n = tanh(0) = 0, so h_t = h_{t-1}/2 = 0. (A nonzero h0 given from outside, not by an
    ///   encoder among the axes, would break this.)
    ///
    /// Either way the network computes the same function without the unit. For a stack of layers the
    /// axes of all layers are taken together, so a unit index is dead only when it is dead alike in
    /// every layer (conservative). A kind of axis that `axes` lacks decides nothing.
    public func deadHiddenUnits(of hiddenSize: Int, along axes: [HiddenUnitAxis]) -> [Int] {
        func allZero(_ unit: Int, dimension: Int) -> Bool? {
            let chosen = axes.filter { $0.dimension == dimension }
            guard !chosen.isEmpty else { return nil }
            for axis in chosen {
                let info = info(axis.slot), w = value(axis.slot)
                for b in 0..<axis.blocks {
                    let index = b * hiddenSize + unit
                    if dimension == 0 {
                        for c in 0..<info.columns where w[index * info.columns + c] != 0 { return false }
                    } else {
                        for r in 0..<info.rows where w[r * info.columns + index] != 0 { return false }
                    }
                }
            }
            return true
        }
        return (0..<hiddenSize).filter { allZero($0, dimension: 1) == true || allZero($0, dimension: 0) == true }
    }
}
