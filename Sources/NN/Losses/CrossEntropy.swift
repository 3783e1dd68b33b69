// Cross-entropy over class indices with a fused, numerically stable log-softmax, and top-1 accuracy.
// Reference: torch.nn.CrossEntropyLoss (class-index targets, reduction 'mean'), torch.argmax.
import Linalg

/// Cross-entropy of logits against class indices, averaged over rows (PyTorch `nn.CrossEntropyLoss`).
///
/// Logits x are `N x C` (N rows, C classes), targets t are N indices in `0..<C`. With
/// `m_n = max_c x[n, c]` (subtracted so that no exponential overflows):
/// - `logsumexp(x_n) = m_n + log(sum_c exp(x[n, c] - m_n))`
/// - `loss = (1/N) sum_n [logsumexp(x_n) - x[n, t_n]]`
/// - `dLoss/dx[n, c] = (softmax(x_n)[c] - [c == t_n]) / N`, `softmax(x_n)[c] = exp(x[n, c] - logsumexp(x_n))`
///
/// A row is counted correct when its first largest logit (torch.argmax's choice) is at the target.
/// Each row takes three passes: the max (and argmax), the exponentials and their sum (stored in
/// dLogits), and the scaling to the gradient. The loss is accumulated in Double.
public enum CrossEntropy {
    /// The mean loss and dLoss/dLogits (`N x C`).
    @inlinable
    public static func lossAndGradient<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> (loss: Double, dLogits: Matrix<S>) {
        var d = Matrix<S>(rows: logits.rows, columns: logits.columns) { _ in }  // every element is written below
        let r = lossAndGradient(logits: logits, targets: targets, into: &d)
        return (r.loss, d)
    }

    /// The mean loss and the number of rows whose argmax is the target; overwrites `dLogits`
    /// (preallocated, `N x C`) with dLoss/dLogits. No allocation.
    @inlinable
    @discardableResult
    public static func lossAndGradient<S: BLASScalar>(
        logits: Matrix<S>, targets: [Int],
        into dLogits: inout Matrix<S>
    ) -> (loss: Double, correct: Int) {
        validate(logits: logits, targets: targets)
        precondition(
            dLogits.rows == logits.rows && dLogits.columns == logits.columns,
            "CrossEntropy: dLogits is \(dLogits.rows) x \(dLogits.columns), logits are \(logits.rows) x \(logits.columns)")
        let n = logits.rows, c = logits.columns
        let scale = 1 / S(n)
        var total = 0.0
        var correct = 0
        logits.withUnsafeBufferPointer { px in
            dLogits.withUnsafeMutableBufferPointer { pd in
                targets.withUnsafeBufferPointer { pt in
                    // Rows on the worker pool; their losses added in row order on this thread.
                    withUnsafeTemporaryAllocation(of: (Double, Bool).self, capacity: max(1, n)) { rowResults in
                        let (x, d, l) = (px.baseAddress!, pd.baseAddress!, rowResults.baseAddress!)
                        Parallel.forEachChunk(count: n, minimumChunk: max(1, Parallel.minimumElementwiseChunk / max(1, c))) { rows in
                            for row in rows {
                                let t = pt[row]
                                let r = Kernels.crossEntropyRow(x + row * c, count: c, target: t, gradient: d + row * c, scale: scale)
                                (l + row).initialize(to: (r.loss, r.argmax == t))
                            }
                        }
                        for row in 0..<n {
                            total += l[row].0
                            if l[row].1 { correct += 1 }
                        }
                    }
                }
            }
        }
        return (total / Double(n), correct)
    }

    /// The mean loss and the number of correct argmax predictions, without a gradient (evaluation).
    @inlinable
    public static func evaluate<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> (loss: Double, correct: Int) {
        validate(logits: logits, targets: targets)
        let n = logits.rows, c = logits.columns
        var total = 0.0
        var correct = 0
        logits.withUnsafeBufferPointer { px in
            for row in 0..<n {
                let t = targets[row]
                let r = Kernels.crossEntropyRow(px.baseAddress! + row * c, count: c, target: t, gradient: nil, scale: 1)
                total += r.loss
                if r.argmax == t { correct += 1 }
            }
        }
        return (total / Double(n), correct)
    }

    /// The number of rows whose first largest logit is at the target (top-1 accuracy times N).
    @inlinable
    public static func correctPredictions<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> Int {
        validate(logits: logits, targets: targets)
        let c = logits.columns
        var correct = 0
        logits.withUnsafeBufferPointer { px in
            for row in 0..<logits.rows where Kernels.argmax(px.baseAddress! + row * c, count: c) == targets[row] { correct += 1 }
        }
        return correct
    }

    /// Checks shapes and that every target is a class index (shared by the entry points).
    @inlinable
    static func validate<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) {
        precondition(
            logits.rows > 0 && logits.columns > 0,
            "CrossEntropy: logits must be non-empty, got \(logits.rows) x \(logits.columns)")
        precondition(
            targets.count == logits.rows,
            "CrossEntropy: \(targets.count) targets for \(logits.rows) rows of logits")
        for (row, t) in targets.enumerated() {
            precondition(
                t >= 0 && t < logits.columns,
                "CrossEntropy: target \(t) at row \(row) is not a class index in 0..<\(logits.columns)")
        }
    }
}
