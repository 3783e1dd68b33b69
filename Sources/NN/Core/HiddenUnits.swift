// Renumbering the hidden units of a model: every tensor axis that indexes them is permuted
// together, so the network computes the same function with its neurons in another order (used to
// put neurons that are near each other on the moduli space next to each other in W_hh).
import Linalg

/// One axis of a parameter tensor that indexes hidden units: `dimension` 0 (rows) or 1 (columns of a
/// 2-D tensor), made of `blocks` consecutive blocks of H entries (the gate blocks of an LSTM or GRU:
/// each block is permuted alike).
public struct HiddenUnitAxis: Sendable, Equatable {
    /// The tensor.
    public var slot: ParameterSlot
    /// 0: the rows (the first dimension, also of a 1-D bias); 1: the columns of a 2-D tensor.
    public var dimension: Int
    /// Blocks of H entries along the axis.
    public var blocks: Int

    /// An axis from its parts.
    public init(slot: ParameterSlot, dimension: Int, blocks: Int = 1) {
        precondition(dimension == 0 || dimension == 1, "A hidden-unit axis is dimension 0 or 1")
        precondition(blocks >= 1, "A hidden-unit axis has at least one block")
        self.slot = slot; self.dimension = dimension; self.blocks = blocks
    }
}

extension ParameterStore {
    /// Renumbers the hidden units along every axis in `axes`: new unit k is old unit `order[k]`.
    /// Values and masks move; gradients are not kept (call between training steps, or before
    /// inference). Every axis must hold `blocks x order.count` entries; `order` must be a
    /// permutation of 0 ..< H.
    public func permuteHiddenUnits(_ order: [Int], along axes: [HiddenUnitAxis]) {
        let h = order.count
        precondition(Set(order) == Set(0..<h), "permuteHiddenUnits: the order is not a permutation of 0..<\(h)")
        for axis in axes {
            let info = info(axis.slot)
            let rows = info.rows, columns = info.columns
            precondition(
                axis.dimension == 0 ? rows == axis.blocks * h : info.shape.count == 2 && columns == axis.blocks * h,
                """
                permuteHiddenUnits: \(info.name) \(info.shape) has no axis of \(axis.blocks) x \(h) hidden units in dimension \
                \(axis.dimension)
                """
            )
            for buffer in [value(axis.slot), mask(axis.slot)] {
                let old = Array(UnsafeBufferPointer(start: buffer, count: info.count))
                if axis.dimension == 0 {
                    for r in 0..<rows {
                        let from = (r / h) * h + order[r % h]
                        for c in 0..<columns { buffer[r * columns + c] = old[from * columns + c] }
                    }
                } else {
                    for r in 0..<rows {
                        for c in 0..<columns { buffer[r * columns + c] = old[r * columns + (c / h) * h + order[c % h]] }
                    }
                }
            }
            maskDidChange(axis.slot)
        }
    }
}

extension RecurrentNetwork {
    /// The axes of every layer's parameters that index hidden units: W_ih and W_hh rows and the
    /// biases (in gate blocks), W_hh columns, and the columns of the next layer's W_ih. Renumbering
    /// them with one order renumbers the units of every layer alike.
    public var hiddenUnitAxes: [HiddenUnitAxis] {
        var axes: [HiddenUnitAxis] = []
        for (k, layer) in layers.enumerated() {
            let g = layer.gateCount
            axes.append(HiddenUnitAxis(slot: layer.weightIH, dimension: 0, blocks: g))
            axes.append(HiddenUnitAxis(slot: layer.weightHH, dimension: 0, blocks: g))
            axes.append(HiddenUnitAxis(slot: layer.weightHH, dimension: 1))
            for bias in [layer.biasIH, layer.biasHH].compactMap({ $0 }) {
                axes.append(HiddenUnitAxis(slot: bias, dimension: 0, blocks: g))
            }
            if k > 0 { axes.append(HiddenUnitAxis(slot: layer.weightIH, dimension: 1)) }
        }
        return axes
    }
}
