// A lookup table from token indices to learned vectors, forward and backward. Reference: torch.nn.Embedding.
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

    /// indices: N token indices in `0..<V` -> y: N x E.
    @inlinable
    public func forward<S: BLASScalar>(_ indices: [Int], _ store: ParameterStore<S>) -> Matrix<S> {
        var y = Matrix<S>(rows: indices.count, columns: embeddingSize)
        forward(indices, store, into: &y)
        return y
    }

    /// Writes the rows for `indices` into a preallocated `N x E` matrix (no allocation).
    @inlinable
    public func forward<S: BLASScalar>(_ indices: [Int], _ store: ParameterStore<S>, into y: inout Matrix<S>) {
        let e = embeddingSize
        precondition(
            y.rows == indices.count && y.columns == e,
            "Embedding.forward: output is \(y.rows) x \(y.columns), expected \(indices.count) x \(e)")
        let w = UnsafePointer(store.value(weight))
        y.withUnsafeMutableBufferPointer { py in
            for (n, i) in indices.enumerated() {
                precondition(
                    i >= 0 && i < vocabularySize,
                    "Embedding: index \(i) at position \(n) is outside the vocabulary 0..<\(vocabularySize)")
                (py.baseAddress! + n * e).update(from: w + i * e, count: e)
            }
        }
    }

    /// Adds `dW[indices[n], :] += dY[n, :]` into the store (dY: N x E). Indices have no gradient.
    @inlinable
    public func backward<S: BLASScalar>(indices: [Int], dOutput dY: Matrix<S>, _ store: ParameterStore<S>) {
        let e = embeddingSize
        precondition(
            dY.rows == indices.count && dY.columns == e,
            "Embedding.backward: dOutput is \(dY.rows) x \(dY.columns), expected \(indices.count) x \(e)")
        let dW = store.gradient(weight)
        dY.withUnsafeBufferPointer { pdy in
            for (n, i) in indices.enumerated() {
                precondition(
                    i >= 0 && i < vocabularySize,
                    "Embedding: index \(i) at position \(n) is outside the vocabulary 0..<\(vocabularySize)")
                let src = pdy.baseAddress! + n * e, dst = dW + i * e
                for j in 0..<e { dst[j] += src[j] }
            }
        }
    }
}
