// The dense weight product: every product with a weight as one GEMM of the compute backend
// (OpenBLAS on the CPU, cuBLAS on a GPU), the default of every Linear and recurrent layer
// (WeightProduct.swift describes the seam).
import Compute
import Linalg

/// Products with a weight W as dense GEMMs on the backend's values: the default `WeightProduct`
/// of a `Linear` layer and `RecurrentProduct` of a recurrent layer, on every backend. Holds no copy
/// of the weights: every product reads the current values.
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

    /// Transposed states for a batch of at most 64 on the CPU. With a small batch OpenBLAS's sgemm
    /// is about twice as fast on `H x B` states (`W_hh h^T`) as on rows (`h W_hh^T`) (B 32, H 128:
    /// 32 us instead of 61 us per product on the benchmark machine), which pays for transposing
    /// each step's states in and out; at B 200 the row form is as fast. A device runs on rows.
    public func prefersTransposedStates(batch: Int, on backend: some ComputeBackend) -> Bool {
        backend.isHostMemory && Self.prefersTransposedStates(batch: batch)
    }

    /// The CPU's layout choice of `prefersTransposedStates(batch:on:)`, without an instance.
    public static func prefersTransposedStates(batch: Int) -> Bool { batch <= 64 }

    /// `y (B x O) (+)= x (B x I) W^T`: one GEMM.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, batch: Int, into y: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.gemm(
            .noTranspose, .transpose, m: batch, n: outputs, k: inputs, alpha: 1, a: x, lda: inputs,
            b: parameters.value(weight), ldb: inputs, beta: accumulate ? 1 : 0, c: y, ldc: outputs)
    }

    /// `preT (GH x B) += W_hh hT (H x B)`: one GEMM.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func forwardTransposed<Backend: ComputeBackend>(
        _ hiddenT: ComputeBuffer<Backend.Scalar>, batch: Int, addingTo preT: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.gemm(
            .noTranspose, .noTranspose, m: outputs, n: batch, k: inputs, alpha: 1, a: parameters.value(weight),
            lda: inputs, b: hiddenT, ldb: batch, beta: 1, c: preT, ldc: batch)
    }

    /// `dx (B x I) (+)= dy (B x O) W`: one GEMM.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, batch: Int, into dx: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.gemm(
            .noTranspose, .noTranspose, m: batch, n: inputs, k: outputs, alpha: 1, a: dy, lda: outputs,
            b: parameters.value(weight), ldb: inputs, beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
    }

    /// `dHiddenT (H x B) (+)= W_hh^T dPreT (GH x B)`: one GEMM.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func backwardTransposed<Backend: ComputeBackend>(
        _ dPreT: ComputeBuffer<Backend.Scalar>, batch: Int, into dHiddenT: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.gemm(
            .transpose, .noTranspose, m: inputs, n: batch, k: outputs, alpha: 1, a: parameters.value(weight),
            lda: inputs, b: dPreT, ldb: batch, beta: accumulate ? 1 : 0, c: dHiddenT, ldc: batch)
    }

    /// `dW (O x I) += dy^T (O x rows) x (rows x I)` over every entry
    /// (`ComputeBackend.addTransposedProduct`: on the CPU sliced along the long inner dimension).
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func accumulateWeightGradient<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, input x: ComputeBuffer<Backend.Scalar>, rows: Int,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.addTransposedProduct(
            m: outputs, n: inputs, k: rows, a: dy, lda: outputs, b: x, ldb: inputs, c: parameters.gradient(weight), ldc: inputs)
    }
}
