// Cross-entropy over class indices with a fused, numerically stable log-softmax, and top-1 accuracy.
// Reference: torch.nn.CrossEntropyLoss (class-index targets, reduction 'mean'), torch.argmax.
import Compute
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
/// dLogits), and the scaling to the gradient. The loss is accumulated in Double. The formula runs
/// on the compute backend (`ComputeBackend.crossEntropy`); the `Matrix` entry points run it on the
/// CPU backend.
public enum CrossEntropy {
    /// The mean loss over `rows` rows of `logits` (`rows x classes`) against the class indices in
    /// `targets` (stored as scalars) and the number of rows whose argmax is the target, on a
    /// backend; with `dLogits`, writes dLoss/dLogits there. The loss's one implementation
    /// (`ComputeBackend.crossEntropy`: rows in parallel, each loss in Double, added in row order).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public static func lossAndGradient<Backend: ComputeBackend>(
        logits: ComputeBuffer<Backend.Scalar>, targets: ComputeBuffer<Backend.Scalar>, rows: Int, classes: Int,
        into dLogits: ComputeBuffer<Backend.Scalar>?, on backend: Backend
    ) throws -> (loss: Double, correct: Int) {
        let scale = dLogits == nil ? 1 : 1 / Backend.Scalar(rows)
        let (total, correct) = try backend.crossEntropy(
            logits: logits, targets: targets, rows: rows, classes: classes, scale: scale, gradient: dLogits)
        return (total / Double(rows), correct)
    }

    /// The mean loss and dLoss/dLogits (`N x C`).
    @inlinable
    public static func lossAndGradient<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> (loss: Double, dLogits: Matrix<S>) {
        var d = Matrix<S>(rows: logits.rows, columns: logits.columns) { _ in }  // every element is written below
        let r = lossAndGradient(logits: logits, targets: targets, into: &d)
        return (r.loss, d)
    }

    /// The mean loss and the number of rows whose argmax is the target; overwrites `dLogits`
    /// (preallocated, `N x C`) with dLoss/dLogits, on the CPU backend.
    @discardableResult
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public static func lossAndGradient<S: BLASScalar>(
        logits: Matrix<S>, targets: [Int],
        into dLogits: inout Matrix<S>
    ) -> (loss: Double, correct: Int) {
        validate(logits: logits, targets: targets)
        precondition(
            dLogits.rows == logits.rows && dLogits.columns == logits.columns,
            "CrossEntropy: dLogits is \(dLogits.rows) x \(dLogits.columns), logits are \(logits.rows) x \(logits.columns)")
        return onCPU(logits, targets, into: &dLogits)
    }

    /// The mean loss and the number of correct argmax predictions, without a gradient (evaluation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func evaluate<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> (loss: Double, correct: Int) {
        validate(logits: logits, targets: targets)
        var none = Matrix<S>(rows: 0, columns: 0)
        return onCPU(logits, targets, into: &none)
    }

    /// The number of rows whose first largest logit is at the target (top-1 accuracy times N).
    public static func correctPredictions<S: BLASScalar>(logits: Matrix<S>, targets: [Int]) -> Int {
        evaluate(logits: logits, targets: targets).correct
    }

    /// `lossAndGradient(logits:targets:rows:classes:into:on:)` on the CPU backend over the
    /// matrices' storage; no gradient when `dLogits` is empty.
    static func onCPU<S: BLASScalar>(_ logits: Matrix<S>, _ targets: [Int], into dLogits: inout Matrix<S>) -> (loss: Double, correct: Int) {
        let cpu = CPUBackend(S.self), stored = targets.map { S($0) }
        var result = (loss: 0.0, correct: 0)
        logits.withUnsafeBufferPointer { px in
            stored.withUnsafeBufferPointer { pt in
                dLogits.withUnsafeMutableBufferPointer { pd in
                    onHost("cross-entropy") {
                        result = try lossAndGradient(
                            logits: cpu.buffer(over: px), targets: cpu.buffer(over: pt), rows: logits.rows, classes: logits.columns,
                            into: pd.isEmpty ? nil : cpu.buffer(over: pd), on: cpu)
                    }
                }
            }
        }
        return result
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
