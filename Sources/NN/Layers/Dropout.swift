// Inverted dropout, forward and backward. Reference: torch.nn.Dropout in training mode.
import Compute
import Linalg

/// Inverted dropout with probability p: in training every element is kept with probability
/// `1 - p` and scaled by `1 / (1 - p)`, so that evaluation (no dropout) needs no rescaling.
///
/// Forward: `y = x * m`, `m[i] = 0` with probability p, else `1 / (1 - p)`. Backward: `dx = dy * m`
/// with the same mask, which the caller keeps between the two.
public struct Dropout: Sendable, Equatable {
    /// The probability p of zeroing an element, in [0, 1).
    public let probability: Double

    /// Dropout with probability `probability` in [0, 1).
    public init(probability: Double) {
        precondition(probability >= 0 && probability < 1, "Dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
    }

    /// Whether the layer does anything (p > 0).
    public var isActive: Bool { probability > 0 }

    /// A mask of `rows x columns` elements drawn from `rng`: 0 with probability p, else 1 / (1 - p).
    @inlinable
    public func mask<S: BLASScalar>(rows: Int, columns: Int, rng: inout SeededGenerator) -> Matrix<S> {
        let keep = S(1 / (1 - probability))
        return Matrix<S>(rows: rows, columns: columns) { p in
            for i in 0..<(rows * columns) { p[i] = rng.uniform() < probability ? 0 : keep }
        }
    }

    /// `x *= mask` elementwise on a backend: the forward pass, and with the same mask the backward
    /// pass on the gradient. The layer's one pass.
    public static func apply<Backend: ComputeBackend>(
        _ mask: ComputeBuffer<Backend.Scalar>, to x: ComputeBuffer<Backend.Scalar>, on backend: Backend
    ) throws {
        try backend.multiplyByMask(x, mask: mask)
    }

    /// Multiplies `x` by `mask` elementwise in place on the CPU backend (the forward pass, and with
    /// the same mask the backward pass on the gradient).
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public static func apply<S: BLASScalar>(_ mask: Matrix<S>, to x: inout Matrix<S>) {
        precondition(
            mask.rows == x.rows && mask.columns == x.columns,
            "Dropout: mask is \(mask.rows) x \(mask.columns), values are \(x.rows) x \(x.columns)")
        let cpu = CPUBackend(S.self)
        mask.withUnsafeBufferPointer { pm in
            x.withUnsafeMutableBufferPointer { px in
                onHost("Dropout") { try apply(cpu.buffer(over: pm), to: cpu.buffer(over: px), on: cpu) }
            }
        }
    }
}
