// The dense recurrent product: every W_hh product as one OpenBLAS GEMM, the default operator of
// every recurrent layer (RecurrentProduct.swift describes the seam).
import Linalg

/// W_hh products as dense GEMMs on the store's values: the default `RecurrentProduct`.
/// Holds no copy of the weights: every product reads the store's current values.
public struct DenseRecurrentProduct: RecurrentProduct {
    /// The W_hh slot.
    public let weightHH: ParameterSlot
    /// Rows of W_hh: G * H.
    public let outputs: Int
    /// Columns of W_hh: H.
    public let hiddenSize: Int

    /// The product with the W_hh slot `weightHH`, `outputs x hiddenSize` (G * H x H).
    public init(weightHH: ParameterSlot, outputs: Int, hiddenSize: Int) {
        precondition(outputs > 0 && hiddenSize > 0, "A recurrent product needs a non-empty W_hh")
        self.weightHH = weightHH
        self.outputs = outputs
        self.hiddenSize = hiddenSize
    }

    /// The product with `layer`'s W_hh.
    public init(for layer: some RecurrentLayer) {
        self.init(weightHH: layer.weightHH, outputs: layer.gateCount * layer.hiddenSize, hiddenSize: layer.hiddenSize)
    }

    /// Transposed states for a batch of at most 64. With a small batch OpenBLAS's sgemm is about
    /// twice as fast on `H x B` states (`W_hh h^T`) as on rows (`h W_hh^T`) (B 32, H 128: 32 us
    /// instead of 61 us per product on the benchmark machine), which pays for transposing each
    /// step's states in and out; at B 200 the row form is as fast.
    public func prefersTransposedStates(batch: Int) -> Bool { Self.prefersTransposedStates(batch: batch) }

    /// The layout choice of `prefersTransposedStates(batch:)`, without an instance.
    public static func prefersTransposedStates(batch: Int) -> Bool { batch <= 64 }

    /// `pre (B x GH) += h (B x H) W_hh^T`: one GEMM.
    public func forward<S: BLASScalar>(
        _ hidden: UnsafePointer<S>, batch: Int, addingTo pre: UnsafeMutablePointer<S>,
        _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .transpose, m: batch, n: outputs, k: hiddenSize, alpha: 1, a: hidden, lda: hiddenSize,
            b: store.value(weightHH), ldb: hiddenSize, beta: 1, c: pre, ldc: outputs)
    }

    /// `preT (GH x B) += W_hh hT (H x B)`: one GEMM.
    public func forwardTransposed<S: BLASScalar>(
        _ hiddenT: UnsafePointer<S>, batch: Int,
        addingTo preT: UnsafeMutablePointer<S>, _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .noTranspose, m: outputs, n: batch, k: hiddenSize, alpha: 1, a: store.value(weightHH),
            lda: hiddenSize, b: hiddenT, ldb: batch, beta: 1, c: preT, ldc: batch)
    }

    /// `dHidden (B x H) (+)= dPre (B x GH) W_hh`: one GEMM.
    public func backward<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, batch: Int, into dHidden: UnsafeMutablePointer<S>,
        accumulate: Bool, _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .noTranspose, m: batch, n: hiddenSize, k: outputs, alpha: 1, a: dPre, lda: outputs,
            b: store.value(weightHH), ldb: hiddenSize, beta: accumulate ? 1 : 0, c: dHidden, ldc: hiddenSize)
    }

    /// `dHiddenT (H x B) (+)= W_hh^T dPreT (GH x B)`: one GEMM.
    public func backwardTransposed<S: BLASScalar>(
        _ dPreT: UnsafePointer<S>, batch: Int,
        into dHiddenT: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>
    ) {
        S.gemm(
            .transpose, .noTranspose, m: hiddenSize, n: batch, k: outputs, alpha: 1, a: store.value(weightHH),
            lda: hiddenSize, b: dPreT, ldb: batch, beta: accumulate ? 1 : 0, c: dHiddenT, ldc: batch)
    }

    /// `dW_hh (GH x H) += dPre^T (GH x rows) [h_0 ... h_{T-1}] (rows x H)` over every entry,
    /// as one GEMM sliced along the long inner dimension (`gemmSlicedK`).
    public func accumulateWeightGradient<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, hidden: UnsafePointer<S>, rows: Int,
        _ store: ParameterStore<S>
    ) {
        S.gemmSlicedK(
            .transpose, .noTranspose, m: outputs, n: hiddenSize, k: rows, alpha: 1, a: dPre, lda: outputs,
            b: hidden, ldb: hiddenSize, beta: 1, c: store.gradient(weightHH), ldc: hiddenSize)
    }
}
