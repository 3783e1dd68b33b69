// The seam through which every product with a recurrent weight W_hh goes (forward, transposed
// backward, weight gradient); dense and sparse implementations conform (none for a GPU yet). See docs/decisions.md.
import Linalg

/// The products of one recurrent layer with its recurrent weight `W_hh` (`(G * H) x H`,
/// row-major, the store's `weightHH` slot). Layers never multiply by W_hh themselves: every
/// product of a forward and backward pass goes through one of these methods, so an
/// implementation (dense BLAS, CSR or block-sparse, GPU) replaces all W_hh traffic of a layer.
///
/// Shapes: `B` batch, `H` hidden units, `G * H` = `outputs`. "Rows" is the layout of
/// `RecurrentCache` (`B x H` states, `B x (G * H)` pre-activations); "transposed" is the
/// `H x B` / `(G * H) x B` layout a layer may run its steps on when
/// `prefersTransposedStates(batch:)` says so. Every matrix is dense and contiguous.
///
/// Implementations are generic over the scalar; one whose methods loop over elements should mark
/// them `@_specialize(where S == Float)` and `@_specialize(where S == Double)`: a call through
/// the protocol then reaches the specialized body (docs/decisions.md, item 11).
public protocol RecurrentProduct: Sendable {
    /// The W_hh slot this operator multiplies by.
    var weightHH: ParameterSlot { get }
    /// Rows of W_hh: G * H.
    var outputs: Int { get }
    /// Columns of W_hh: H.
    var hiddenSize: Int { get }

    /// Whether a layer that can run its steps in either layout should use the transposed one for
    /// `batch` samples (the faster layout of this implementation).
    func prefersTransposedStates(batch: Int) -> Bool

    /// Forward product on rows: `pre += h W_hh^T`, with `hidden` h `B x H` and `pre` `B x (G * H)`.
    func forward<S: BLASScalar>(
        _ hidden: UnsafePointer<S>, batch: Int, addingTo pre: UnsafeMutablePointer<S>,
        _ store: ParameterStore<S>)

    /// Forward product on transposed states: `preT += W_hh hT`, with `hiddenT` `H x B` and
    /// `preT` `(G * H) x B`.
    func forwardTransposed<S: BLASScalar>(
        _ hiddenT: UnsafePointer<S>, batch: Int,
        addingTo preT: UnsafeMutablePointer<S>, _ store: ParameterStore<S>)

    /// Backward product on rows: `dHidden = dPre W_hh` (or `dHidden += dPre W_hh` when
    /// `accumulate`), with `dPre` `B x (G * H)` and `dHidden` `B x H`: dLoss/dh_{t-1} from
    /// dLoss/d(pre-activation at step t).
    func backward<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, batch: Int, into dHidden: UnsafeMutablePointer<S>,
        accumulate: Bool, _ store: ParameterStore<S>)

    /// Backward product on transposed states: `dHiddenT = W_hh^T dPreT` (or `+=` when
    /// `accumulate`), with `dPreT` `(G * H) x B` and `dHiddenT` `H x B`.
    func backwardTransposed<S: BLASScalar>(
        _ dPreT: UnsafePointer<S>, batch: Int,
        into dHiddenT: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>)

    /// The weight gradient of a whole sequence: `dW_hh += dPre^T [h_0 ... h_{T-1}]` into
    /// `store.gradient(weightHH)`, with `dPre` `rows x (G * H)` and `hidden` `rows x H`
    /// (`rows` = T * B, time-major). Only entries kept by the slot's mask need to be right: entries
    /// a mask in force removes are unspecified (the dense product writes the full product there,
    /// a sparse one may leave them as they were); the optimizer masks them.
    func accumulateWeightGradient<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, hidden: UnsafePointer<S>, rows: Int,
        _ store: ParameterStore<S>)
}
