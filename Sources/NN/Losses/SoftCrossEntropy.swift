// Cross-entropy against soft target distributions with a fused, numerically stable log-softmax.
// Reference: torch.nn.CrossEntropyLoss with class-probability targets (reduction 'mean').
import Linalg

/// Cross-entropy of logits against soft targets, averaged over rows (PyTorch `nn.CrossEntropyLoss`
/// given probabilities), used for place-cell targets in navigation.
///
/// Logits x and targets p are both `N x C`. With `m_n = max_c x[n, c]`, `s = x - m_n`,
/// `Z_n = sum_c exp(s[n, c])` and `P_n = sum_c p[n, c]` (1 for distributions, but any row sum is allowed):
/// - `loss = (1/N) sum_n -sum_c p[n, c] log softmax(x_n)[c] = (1/N) sum_n [P_n log Z_n - sum_c p[n, c] s[n, c]]`
/// - `dLoss/dx[n, c] = (P_n softmax(x_n)[c] - p[n, c]) / N`
///   (from d/dx_c of `P log Z - sum p s`: the `-m` terms cancel, `d log Z / dx_c = softmax_c`).
///
/// Each row takes three passes: the max and P, the exponentials (stored in dLogits) with Z and
/// `sum p s`, and the scaling to the gradient. Nothing else is allocated; the loss is summed in Double.
public enum SoftCrossEntropy {
    /// The mean loss and dLoss/dLogits (`N x C`).
    @inlinable
    public static func lossAndGradient<S: BLASScalar>(logits: Matrix<S>, targets: Matrix<S>) -> (loss: Double, dLogits: Matrix<S>) {
        var d = Matrix<S>(rows: logits.rows, columns: logits.columns) { _ in }  // every element is written below
        let loss = lossAndGradient(logits: logits, targets: targets, into: &d)
        return (loss, d)
    }

    /// The mean loss; overwrites `dLogits` (preallocated, `N x C`) with dLoss/dLogits. Rows run on
    /// the worker pool; the row losses are added in row order, as on one thread.
    @inlinable
    @discardableResult
    public static func lossAndGradient<S: BLASScalar>(
        logits: Matrix<S>, targets: Matrix<S>,
        into dLogits: inout Matrix<S>
    ) -> Double {
        validate(logits: logits, targets: targets)
        precondition(
            dLogits.rows == logits.rows && dLogits.columns == logits.columns,
            "SoftCrossEntropy: dLogits is \(dLogits.rows) x \(dLogits.columns), logits are \(logits.rows) x \(logits.columns)")
        let n = logits.rows, c = logits.columns
        let scale = 1 / S(n)
        var total = 0.0
        logits.withUnsafeBufferPointer { px in
            targets.withUnsafeBufferPointer { pp in
                dLogits.withUnsafeMutableBufferPointer { pd in
                    // Rows on the worker pool; their losses added in row order on this thread.
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, n)) { losses in
                        let (x, p, d, l) = (px.baseAddress!, pp.baseAddress!, pd.baseAddress!, losses.baseAddress!)
                        Parallel.forEachChunk(count: n, minimumChunk: max(1, Parallel.minimumElementwiseChunk / max(1, c))) { rows in
                            for row in rows {
                                l[row] = Kernels.softCrossEntropyRow(
                                    x + row * c, p + row * c, count: c, gradient: d + row * c, scale: scale)
                            }
                        }
                        for row in 0..<n { total += l[row] }
                    }
                }
            }
        }
        return total / Double(n)
    }

    /// The mean loss without a gradient (evaluation).
    @inlinable
    public static func loss<S: BLASScalar>(logits: Matrix<S>, targets: Matrix<S>) -> Double {
        validate(logits: logits, targets: targets)
        let n = logits.rows, c = logits.columns
        var total = 0.0
        logits.withUnsafeBufferPointer { px in
            targets.withUnsafeBufferPointer { pp in
                for row in 0..<n {
                    total += Kernels.softCrossEntropyRow(
                        px.baseAddress! + row * c, pp.baseAddress! + row * c, count: c, gradient: nil, scale: 1)
                }
            }
        }
        return total / Double(n)
    }

    /// Checks that logits and targets are non-empty and have the same shape.
    @inlinable
    static func validate<S: BLASScalar>(logits: Matrix<S>, targets: Matrix<S>) {
        precondition(
            logits.rows > 0 && logits.columns > 0,
            "SoftCrossEntropy: logits must be non-empty, got \(logits.rows) x \(logits.columns)")
        precondition(
            targets.rows == logits.rows && targets.columns == logits.columns,
            "SoftCrossEntropy: targets are \(targets.rows) x \(targets.columns), logits are \(logits.rows) x \(logits.columns)")
    }
}
