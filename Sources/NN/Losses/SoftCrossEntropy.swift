// Cross-entropy against soft target distributions with a fused, numerically stable log-softmax.
// Reference: torch.nn.CrossEntropyLoss with class-probability targets (reduction 'mean').
import Compute
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
    /// The mean loss over `rows` rows of `logits` against soft `targets` (both `rows x classes`)
    /// on a backend; with `dLogits`, writes dLoss/dLogits there. The loss's one implementation
    /// (`ComputeBackend.softCrossEntropy`: rows in parallel, each loss in Double, added in row order).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public static func lossAndGradient<Backend: ComputeBackend>(
        logits: ComputeBuffer<Backend.Scalar>, targets: ComputeBuffer<Backend.Scalar>, rows: Int, classes: Int,
        into dLogits: ComputeBuffer<Backend.Scalar>?, on backend: Backend
    ) throws -> Double {
        let scale = dLogits == nil ? 1 : 1 / Backend.Scalar(rows)
        return try backend.softCrossEntropy(logits: logits, targets: targets, rows: rows, classes: classes, scale: scale, gradient: dLogits)
            / Double(rows)
    }

    /// The mean loss and dLoss/dLogits (`N x C`).
    @inlinable
    public static func lossAndGradient<S: BLASScalar>(logits: Matrix<S>, targets: Matrix<S>) -> (loss: Double, dLogits: Matrix<S>) {
        var d = Matrix<S>(rows: logits.rows, columns: logits.columns) { _ in }  // every element is written below
        let loss = lossAndGradient(logits: logits, targets: targets, into: &d)
        return (loss, d)
    }

    /// The mean loss; overwrites `dLogits` (preallocated, `N x C`) with dLoss/dLogits, on the CPU
    /// backend.
    @discardableResult
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public static func lossAndGradient<S: BLASScalar>(
        logits: Matrix<S>, targets: Matrix<S>,
        into dLogits: inout Matrix<S>
    ) -> Double {
        validate(logits: logits, targets: targets)
        precondition(
            dLogits.rows == logits.rows && dLogits.columns == logits.columns,
            "SoftCrossEntropy: dLogits is \(dLogits.rows) x \(dLogits.columns), logits are \(logits.rows) x \(logits.columns)")
        return onCPU(logits, targets, into: &dLogits)
    }

    /// The mean loss without a gradient (evaluation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func loss<S: BLASScalar>(logits: Matrix<S>, targets: Matrix<S>) -> Double {
        validate(logits: logits, targets: targets)
        var none = Matrix<S>(rows: 0, columns: 0)
        return onCPU(logits, targets, into: &none)
    }

    /// `lossAndGradient(logits:targets:rows:classes:into:on:)` on the CPU backend over the
    /// matrices' storage; no gradient when `dLogits` is empty.
    static func onCPU<S: BLASScalar>(_ logits: Matrix<S>, _ targets: Matrix<S>, into dLogits: inout Matrix<S>) -> Double {
        let cpu = CPUBackend(S.self)
        var loss = 0.0
        logits.withUnsafeBufferPointer { px in
            targets.withUnsafeBufferPointer { pt in
                dLogits.withUnsafeMutableBufferPointer { pd in
                    onHost("soft-target cross-entropy") {
                        loss = try lossAndGradient(
                            logits: cpu.buffer(over: px), targets: cpu.buffer(over: pt), rows: logits.rows, classes: logits.columns,
                            into: pd.isEmpty ? nil : cpu.buffer(over: pd), on: cpu)
                    }
                }
            }
        }
        return loss
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
