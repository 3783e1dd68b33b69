// A lookup table from token indices to learned vectors, forward and backward. Reference: torch.nn.Embedding.
import Compute
import Linalg

/// A lookup table: row `i` of the `V x E` weight is the vector of token `i` (PyTorch layout).
///
/// Forward: `y[n, :] = W[indices[n], :]` (N x E). Backward: `dW[indices[n], :] += dY[n, :]` for every n
/// (a scatter-add, so repeated indices accumulate).
public struct Embedding: Sendable {
    /// Vocabulary size V (number of rows).
    public let vocabularySize: Int
    /// Embedding size E (number of columns).
    public let embeddingSize: Int
    /// `V x E`, named `<name>.weight`.
    public let weight: ParameterSlot

    /// Registers `<name>.weight` with PyTorch's default initialisation N(0, 1) unless another is
    /// given (e.g. `.uniform(bound: 0.1)`, the usual choice for word-level language models).
    public init<S: BLASScalar>(
        vocabularySize: Int, embeddingSize: Int, name: String,
        in store: ParameterStore<S>, rng: inout SeededGenerator,
        weightInit: Initialization = .normal(std: 1)
    ) {
        precondition(
            vocabularySize > 0 && embeddingSize > 0,
            "Embedding needs positive sizes, got V = \(vocabularySize), E = \(embeddingSize)")
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        weight = store.add("\(name).weight", shape: [vocabularySize, embeddingSize], weightInit, rng: &rng)
    }

    // MARK: On a backend

    /// `y[n, :] = W[indices[n], :]` on a backend: `indices` holds `count` token indices stored as
    /// scalars, y receives `count x E`. The layer's one forward pass.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ indices: ComputeBuffer<Backend.Scalar>, count: Int, into y: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.gatherRows(
            parameters.value(weight), rows: vocabularySize, columns: embeddingSize, indices: indices, count: count, into: y)
    }

    /// `dW[indices[n], :] += dY[n, :]` on a backend, in the order of n. The layer's one backward
    /// pass.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ indices: ComputeBuffer<Backend.Scalar>, count: Int, dOutput dY: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try parameters.backend.scatterAddRows(
            dY, indices: indices, count: count, into: parameters.gradient(weight), rows: vocabularySize, columns: embeddingSize)
    }

    // MARK: On matrices, on the CPU backend

    /// indices: N token indices in `0..<V` -> y: N x E.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ indices: [Int], _ store: ParameterStore<S>) -> Matrix<S> {
        var y = Matrix<S>(rows: indices.count, columns: embeddingSize) { _ in }  // every row is written
        forward(indices, store, into: &y)
        return y
    }

    /// Writes the rows for `indices` into a preallocated `N x E` matrix (no allocation but the
    /// indices as scalars).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ indices: [Int], _ store: ParameterStore<S>, into y: inout Matrix<S>) {
        precondition(
            y.rows == indices.count && y.columns == embeddingSize,
            "Embedding.forward: output is \(y.rows) x \(y.columns), expected \(indices.count) x \(embeddingSize)")
        let cpu = CPUBackend(S.self), stored = scalarIndices(indices, as: S.self)
        stored.withUnsafeBufferPointer { pi in
            y.withUnsafeMutableBufferPointer { py in
                onHost("Embedding.forward") {
                    try forward(cpu.buffer(over: pi), count: indices.count, into: cpu.buffer(over: py), store.buffers(on: cpu))
                }
            }
        }
    }

    /// Adds `dW[indices[n], :] += dY[n, :]` into the store (dY: N x E). Indices have no gradient.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(indices: [Int], dOutput dY: Matrix<S>, _ store: ParameterStore<S>) {
        precondition(
            dY.rows == indices.count && dY.columns == embeddingSize,
            "Embedding.backward: dOutput is \(dY.rows) x \(dY.columns), expected \(indices.count) x \(embeddingSize)")
        let cpu = CPUBackend(S.self), stored = scalarIndices(indices, as: S.self)
        stored.withUnsafeBufferPointer { pi in
            dY.withUnsafeBufferPointer { pdy in
                onHost("Embedding.backward") {
                    try backward(cpu.buffer(over: pi), count: indices.count, dOutput: cpu.buffer(over: pdy), store.buffers(on: cpu))
                }
            }
        }
    }

    /// The indices as scalars, after checking that each is a row of the table (the backend would
    /// give a NaN row or skip it).
    func scalarIndices<S: BLASScalar>(_ indices: [Int], as: S.Type) -> [S] {
        indices.enumerated().map { n, i in
            precondition(
                i >= 0 && i < vocabularySize, "Embedding: index \(i) at position \(n) is outside the vocabulary 0..<\(vocabularySize)")
            return S(i)
        }
    }
}
