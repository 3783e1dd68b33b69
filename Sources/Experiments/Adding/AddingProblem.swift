// Data of the adding problem (Hochreiter & Schmidhuber 1997; docs/method.md section 6): sequences of
// (value, marker) pairs with exactly two markers; the target is the sum of the two marked values.
import Linalg

/// A batch of adding-problem sequences, time-major.
public struct AddingBatch: Sendable {
    /// `(T * B) x 2`: row `t * B + b` is (value, marker) of sample b at step t.
    public var inputs: Matrix<Float>
    /// `B x 1`: the sum of the two marked values.
    public var targets: Matrix<Float>
}

/// Generates adding-problem batches.
public enum AddingProblem {
    /// Predicting the constant 1 (the mean target) gives this MSE: Var(U1 + U2) = 2/12 = 1/6.
    public static let trivialMSE = 1.0 / 6.0

    /// `batch` sequences of length `length`: values ~ U(0, 1); two distinct positions, drawn
    /// uniformly, carry marker 1, all others 0. Draw order per sample: T values, then the two
    /// positions.
    public static func batch(length: Int, batch: Int, rng: inout SeededGenerator) -> AddingBatch {
        precondition(length >= 2, "The adding problem needs sequences of length 2 or more")
        var inputs = Matrix<Float>(rows: length * batch, columns: 2)
        var targets = Matrix<Float>(rows: batch, columns: 1)
        for b in 0..<batch {
            for t in 0..<length { inputs[t * batch + b, 0] = Float(rng.uniform()) }
            let first = rng.integer(below: length)
            var second = rng.integer(below: length - 1)
            if second >= first { second += 1 }
            inputs[first * batch + b, 1] = 1
            inputs[second * batch + b, 1] = 1
            targets[b, 0] = inputs[first * batch + b, 0] + inputs[second * batch + b, 0]
        }
        return AddingBatch(inputs: inputs, targets: targets)
    }
}
