// The dense weight product: every product with a weight as one OpenBLAS GEMM, the default of every
// Linear and recurrent layer (WeightProduct.swift describes the seam).
import Linalg

/// Products with a weight W as dense GEMMs on the store's values: the default `WeightProduct` of a
/// `Linear` layer and `RecurrentProduct` of a recurrent layer. Holds no copy of the weights: every
/// product reads the store's current values.
public struct DenseWeightProduct: RecurrentProduct {
    /// The weight slot.
    public let weight: ParameterSlot
    /// Rows of W.
    public let outputs: Int
    /// Columns of W.
    public let inputs: Int

    /// The product with the weight in slot `weight`, `outputs x inputs`.
    public init(weight: ParameterSlot, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0, "A weight product needs a non-empty weight")
        self.weight = weight
        self.outputs = outputs
        self.inputs = inputs
    }

    /// The product with `layer`'s W_hh (`G * H x H`).
    public init(for layer: some RecurrentLayer) {
        self.init(weight: layer.weightHH, outputs: layer.gateCount * layer.hiddenSize, inputs: layer.hiddenSize)
    }

    /// The product with `layer`'s weight (`O x I`).
    public init(for layer: Linear) {
        self.init(weight: layer.weight, outputs: layer.outputSize, inputs: layer.inputSize)
    }

    /// Transposed states for a batch of at most 64. With a small batch OpenBLAS's sgemm is about
    /// twice as fast on `H x B` states (`W_hh h^T`) as on rows (`h W_hh^T`) (B 32, H 128: 32 us
    /// instead of 61 us per product on the benchmark machine), which pays for transposing each
    /// step's states in and out; at B 200 the row form is as fast.
    public func prefersTransposedStates(batch: Int) -> Bool { Self.prefersTransposedStates(batch: batch) }

    /// The layout choice of `prefersTransposedStates(batch:)`, without an instance.
    public static func prefersTransposedStates(batch: Int) -> Bool { batch <= 64 }

    /// `y (B x O) (+)= x (B x I) W^T`: one GEMM.
    public func forward<S: BLASScalar>(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .transpose, m: batch, n: outputs, k: inputs, alpha: 1, a: x, lda: inputs,
            b: store.value(weight), ldb: inputs, beta: accumulate ? 1 : 0, c: y, ldc: outputs)
    }

    /// `preT (GH x B) += W_hh hT (H x B)`: one GEMM.
    public func forwardTransposed<S: BLASScalar>(
        _ hiddenT: UnsafePointer<S>, batch: Int,
        addingTo preT: UnsafeMutablePointer<S>, _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .noTranspose, m: outputs, n: batch, k: inputs, alpha: 1, a: store.value(weight),
            lda: inputs, b: hiddenT, ldb: batch, beta: 1, c: preT, ldc: batch)
    }

    /// `dx (B x I) (+)= dy (B x O) W`: one GEMM.
    public func backward<S: BLASScalar>(
        _ dy: UnsafePointer<S>, batch: Int, into dx: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>
    ) {
        S.gemm(
            .noTranspose, .noTranspose, m: batch, n: inputs, k: outputs, alpha: 1, a: dy, lda: outputs,
            b: store.value(weight), ldb: inputs, beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
    }

    /// `dHiddenT (H x B) (+)= W_hh^T dPreT (GH x B)`: one GEMM.
    public func backwardTransposed<S: BLASScalar>(
        _ dPreT: UnsafePointer<S>, batch: Int,
        into dHiddenT: UnsafeMutablePointer<S>, accumulate: Bool,
        _ store: ParameterStore<S>
    ) {
        S.gemm(
            .transpose, .noTranspose, m: inputs, n: batch, k: outputs, alpha: 1, a: store.value(weight),
            lda: inputs, b: dPreT, ldb: batch, beta: accumulate ? 1 : 0, c: dHiddenT, ldc: batch)
    }

    /// `dW (O x I) += dy^T (O x rows) x (rows x I)` over every entry, as one GEMM sliced along the
    /// long inner dimension (`gemmSlicedK`).
    public func accumulateWeightGradient<S: BLASScalar>(
        _ dy: UnsafePointer<S>, input x: UnsafePointer<S>, rows: Int, _ store: ParameterStore<S>
    ) {
        S.gemmSlicedK(
            .transpose, .noTranspose, m: outputs, n: inputs, k: rows, alpha: 1, a: dy, lda: outputs,
            b: x, ldb: inputs, beta: 1, c: store.gradient(weight), ldc: inputs)
    }
}
