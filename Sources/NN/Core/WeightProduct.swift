// The seam through which every product with a weight matrix goes: a Linear layer's W and a
// recurrent layer's W_hh (forward, backward, weight gradient), on a compute backend's buffers. The
// dense implementation runs on every backend (its GEMMs); the sparse one (CSR, block) on host
// memory. See docs/decisions.md.
import Compute
import Linalg

/// The products of a layer with its weight W (`outputs x inputs`, row-major in the `weight` slot)
/// on one backend's buffers. Layers never multiply by a weight themselves: every product of a
/// forward and backward pass goes through one of these methods, so an implementation (dense GEMMs
/// on any backend, CSR or block-sparse kernels on host memory) replaces all of a layer's traffic
/// with that weight.
///
/// Shapes: `B` rows of a batch. Every matrix is dense, contiguous and row-major. `parameters` holds
/// the store's values and gradients in the backend's memory; the store there (`parameters.store`)
/// gives the slot's layout, mask and versions.
///
/// The methods are generic over the backend. An implementation that cannot run on a backend
/// throws (the CPU's sparse kernels need host memory: `ComputeBackend.isHostMemory`).
public protocol WeightProduct: Sendable {
    /// The weight slot this product multiplies by.
    var weight: ParameterSlot { get }
    /// Rows of W (O for a Linear layer, G * H for W_hh).
    var outputs: Int { get }
    /// Columns of W (I for a Linear layer, H for W_hh).
    var inputs: Int { get }

    /// `y (B x outputs) = x (B x inputs) W^T`, or `y += x W^T` when `accumulate`.
    func forward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, batch: Int, into y: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>) throws

    /// `dx (B x inputs) = dy (B x outputs) W`, or `dx += dy W` when `accumulate`.
    func backward<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, batch: Int, into dx: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>) throws

    /// The weight gradient `dW += dy^T x` into the slot's gradient, with `dy` `rows x outputs`
    /// and `x` `rows x inputs` (for W_hh: the steps' pre-activation gradients and h_0 ... h_{T-1},
    /// time-major). Only entries kept by the slot's mask need to be right: entries a mask in force
    /// removes are unspecified (the dense product writes the full product there, a sparse one may
    /// leave them as they were); the optimizer masks them.
    func accumulateWeightGradient<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, input x: ComputeBuffer<Backend.Scalar>, rows: Int,
        _ parameters: ParameterBuffers<Backend>) throws
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
    /// `batch` samples on `backend` (the faster layout of this implementation there).
    func prefersTransposedStates(batch: Int, on backend: some ComputeBackend) -> Bool

    /// Forward product on transposed states: `preT += W_hh hT`, with `hiddenT` `H x B` and
    /// `preT` `(G * H) x B`.
    func forwardTransposed<Backend: ComputeBackend>(
        _ hiddenT: ComputeBuffer<Backend.Scalar>, batch: Int, addingTo preT: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>) throws

    /// Backward product on transposed states: `dHiddenT = W_hh^T dPreT` (or `+=` when
    /// `accumulate`), with `dPreT` `(G * H) x B` and `dHiddenT` `H x B`.
    func backwardTransposed<Backend: ComputeBackend>(
        _ dPreT: ComputeBuffer<Backend.Scalar>, batch: Int, into dHiddenT: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>) throws
}

extension RecurrentProduct {
    /// The W_hh slot.
    public var weightHH: ParameterSlot { weight }
    /// Columns of W_hh: H.
    public var hiddenSize: Int { inputs }

    /// Forward product on rows: `pre += h W_hh^T`, with `hidden` h `B x H` and `pre` `B x (G * H)`.
    @inline(__always)
    public func forward<Backend: ComputeBackend>(
        _ hidden: ComputeBuffer<Backend.Scalar>, batch: Int, addingTo pre: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try forward(hidden, batch: batch, into: pre, accumulate: true, parameters)
    }
}
