// The seam through which every product with a weight matrix goes: a Linear layer's W and a
// recurrent layer's W_hh (forward, backward, weight gradient). Dense (OpenBLAS) and sparse (CSR,
// block) implementations conform; a device implementation attaches here. See docs/decisions.md.
import Linalg

/// The products of a layer with its weight W (`outputs x inputs`, row-major in the store's
/// `weight` slot). Layers never multiply by a weight themselves: every product of a forward and
/// backward pass goes through one of these methods, so an implementation (dense BLAS, CSR or
/// block-sparse, a device) replaces all of a layer's traffic with that weight.
///
/// Shapes: `B` rows of a batch. Every matrix is dense, contiguous and row-major.
///
/// Implementations are generic over the scalar; one whose methods loop over elements should mark
/// them `@_specialize(where S == Float)` and `@_specialize(where S == Double)`: a call through
/// the protocol then reaches the specialized body (docs/decisions.md, item 11).
public protocol WeightProduct: Sendable {
    /// The weight slot this product multiplies by.
    var weight: ParameterSlot { get }
    /// Rows of W (O for a Linear layer, G * H for W_hh).
    var outputs: Int { get }
    /// Columns of W (I for a Linear layer, H for W_hh).
    var inputs: Int { get }

    /// `y (B x outputs) = x (B x inputs) W^T`, or `y += x W^T` when `accumulate`.
    func forward<S: BLASScalar>(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>)

    /// `dx (B x inputs) = dy (B x outputs) W`, or `dx += dy W` when `accumulate`.
    func backward<S: BLASScalar>(
        _ dy: UnsafePointer<S>, batch: Int, into dx: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>)

    /// The weight gradient `dW += dy^T x` into `store.gradient(weight)`, with `dy` `rows x outputs`
    /// and `x` `rows x inputs` (for W_hh: the steps' pre-activation gradients and h_0 ... h_{T-1},
    /// time-major). Only entries kept by the slot's mask need to be right: entries a mask in force
    /// removes are unspecified (the dense product writes the full product there, a sparse one may
    /// leave them as they were); the optimizer masks them.
    func accumulateWeightGradient<S: BLASScalar>(
        _ dy: UnsafePointer<S>, input x: UnsafePointer<S>, rows: Int, _ store: ParameterStore<S>)
}

extension WeightProduct {
    /// Whether this product multiplies by `weight`, `outputs x inputs`.
    public func multiplies(_ weight: ParameterSlot, outputs: Int, inputs: Int) -> Bool {
        self.weight == weight && self.outputs == outputs && self.inputs == inputs
    }
}

/// The products of one recurrent layer with its recurrent weight `W_hh` (`(G * H) x H`, the
/// store's `weightHH` slot): the `WeightProduct`s on rows, and the same products on transposed
/// states.
///
/// "Rows" is the layout of `RecurrentCache` (`B x H` states, `B x (G * H)` pre-activations);
/// "transposed" is the `H x B` / `(G * H) x B` layout a layer may run its steps on when
/// `prefersTransposedStates(batch:)` says so.
public protocol RecurrentProduct: WeightProduct {
    /// Whether a layer that can run its steps in either layout should use the transposed one for
    /// `batch` samples (the faster layout of this implementation).
    func prefersTransposedStates(batch: Int) -> Bool

    /// Forward product on transposed states: `preT += W_hh hT`, with `hiddenT` `H x B` and
    /// `preT` `(G * H) x B`.
    func forwardTransposed<S: BLASScalar>(
        _ hiddenT: UnsafePointer<S>, batch: Int,
        addingTo preT: UnsafeMutablePointer<S>, _ store: ParameterStore<S>)

    /// Backward product on transposed states: `dHiddenT = W_hh^T dPreT` (or `+=` when
    /// `accumulate`), with `dPreT` `(G * H) x B` and `dHiddenT` `H x B`.
    func backwardTransposed<S: BLASScalar>(
        _ dPreT: UnsafePointer<S>, batch: Int,
        into dHiddenT: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>)
}

extension RecurrentProduct {
    /// The W_hh slot.
    public var weightHH: ParameterSlot { weight }
    /// Columns of W_hh: H.
    public var hiddenSize: Int { inputs }

    /// Forward product on rows: `pre += h W_hh^T`, with `hidden` h `B x H` and `pre` `B x (G * H)`.
    @inline(__always)
    public func forward<S: BLASScalar>(
        _ hidden: UnsafePointer<S>, batch: Int, addingTo pre: UnsafeMutablePointer<S>,
        _ store: ParameterStore<S>
    ) {
        forward(hidden, batch: batch, into: pre, accumulate: true, store)
    }

    /// The weight gradient of a whole sequence: `dW_hh += dPre^T [h_0 ... h_{T-1}]`
    /// (`WeightProduct.accumulateWeightGradient`).
    @inline(__always)
    public func accumulateWeightGradient<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, hidden: UnsafePointer<S>, rows: Int, _ store: ParameterStore<S>
    ) {
        accumulateWeightGradient(dPre, input: hidden, rows: rows, store)
    }
}
