// Independent oracles for the compute operations: naive loops in Double, written from the
// formulas (PyTorch's cells, losses and optimizers; docs/method.md section 2's penalty), plus helpers
// that compare whole tensors and name the seed in failures.
import Foundation
import Testing
import Linalg
import Compute

/// Naive Double implementations of the operations.
enum Reference {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// C = alpha op(A) op(B) + beta C, a triple loop.
    static func gemm(
        _ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Double, a: [Double], lda: Int,
        b: [Double], ldb: Int, beta: Double, c: inout [Double], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta == .noTranspose ? a[i * lda + p] : a[p * lda + i]
                    let bv = tb == .noTranspose ? b[p * ldb + j] : b[j * ldb + p]
                    s += av * bv
                }
                c[i * ldc + j] = alpha * s + beta * c[i * ldc + j]
            }
        }
    }

    /// One LSTM step from pre-activations a (B x 4H, gates i f g o) and c_prev: gates, c, h.
    static func lstm(a: [Double], cPrev: [Double], batch: Int, h: Int) -> (gates: [Double], c: [Double], h: [Double]) {
        var gates = a, c = [Double](repeating: 0, count: batch * h), out = c
        for n in 0..<batch {
            for j in 0..<h {
                let base = n * 4 * h
                let i = sigmoid(a[base + j]), f = sigmoid(a[base + h + j])
                let g = tanh(a[base + 2 * h + j]), o = sigmoid(a[base + 3 * h + j])
                gates[base + j] = i; gates[base + h + j] = f; gates[base + 2 * h + j] = g; gates[base + 3 * h + j] = o
                c[n * h + j] = f * cPrev[n * h + j] + i * g
                out[n * h + j] = o * tanh(c[n * h + j])
            }
        }
        return (gates, c, out)
    }

    /// One GRU step from the input side a (B x 3H, r z n) and the recurrent projection q: gates, h.
    static func gru(a: [Double], q: [Double], hPrev: [Double], batch: Int, h: Int) -> (gates: [Double], h: [Double]) {
        var gates = a, out = [Double](repeating: 0, count: batch * h)
        for n in 0..<batch {
            for j in 0..<h {
                let base = n * 3 * h
                let r = sigmoid(a[base + j] + q[base + j])
                let z = sigmoid(a[base + h + j] + q[base + h + j])
                let nn = tanh(a[base + 2 * h + j] + r * q[base + 2 * h + j])
                gates[base + j] = r; gates[base + h + j] = z; gates[base + 2 * h + j] = nn
                out[n * h + j] = (1 - z) * nn + z * hPrev[n * h + j]
            }
        }
        return (gates, out)
    }

    /// logsumexp(x) - x[t] for one row.
    static func crossEntropy(_ x: ArraySlice<Double>, target t: Int) -> Double {
        let m = x.max() ?? 0
        return log(x.reduce(0) { $0 + exp($1 - m) }) + m - x[x.startIndex + t]
    }

    /// -sum_c p[c] log softmax(x)[c] for one row.
    static func softCrossEntropy(_ x: ArraySlice<Double>, _ p: ArraySlice<Double>) -> Double {
        let m = x.max() ?? 0
        let lse = log(x.reduce(0) { $0 + exp($1 - m) }) + m
        return zip(x, p).reduce(0) { $0 - $1.1 * ($1.0 - lse) }
    }

    /// lambda / (G H H) * sum R[i][j] |W[g H + i][j]|^p.
    static func penalty(w: [Double], r: [Double], gates: Int, h: Int, lambda: Double, power: Int) -> Double {
        var s = 0.0
        for g in 0..<gates {
            for i in 0..<(h * h) {
                let a = abs(w[g * h * h + i])
                s += r[i] * (power == 1 ? a : a * a)
            }
        }
        return lambda * s / Double(gates * h * h)
    }
}

extension SeededGenerator {
    /// `count` uniform values in [low, high).
    mutating func floats(_ count: Int, _ low: Double = -1, _ high: Double = 1) -> [Float] {
        (0..<count).map { _ in Float(uniform(low, high)) }
    }

    /// `count` uniform values in ±[gap, high): kept away from 0 (kinks of ReLU and |w|).
    mutating func awayFromZero(_ count: Int, gap: Double = 0.05, high: Double = 1) -> [Float] {
        (0..<count).map { _ in
            let v = uniform(gap, high)
            return Float(uniform() < 0.5 ? -v : v)
        }
    }
}

extension Array where Element == Float {
    /// The values in Double.
    var doubles: [Double] { map(Double.init) }
}

/// The largest error `|a - e| / max(1, |e|)` over two tensors (absolute below 1, relative above),
/// with the index where it occurs; infinite when a NaN appears on one side only or lengths differ.
func worstError(_ actual: [Float], _ expected: [Double]) -> (error: Double, index: Int) {
    guard actual.count == expected.count else { return (.infinity, -1) }
    var worst = (error: 0.0, index: -1)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        if a.isNaN && e.isNaN { continue }
        let err = abs(Double(a) - e) / max(1, abs(e))
        if !(err <= worst.error) { worst = (err.isNaN ? .infinity : err, i) }
    }
    return worst
}

/// Expects two whole tensors to agree to `tolerance` (see `worstError`), naming the case.
func expectClose(
    _ actual: [Float], _ expected: [Double], tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let (err, at) = worstError(actual, expected)
    #expect(
        err <= tolerance,
        """
        \(what): worst error \(err) at index \(at) \
        (\(at >= 0 && at < actual.count ? "\(actual[at]) vs \(expected[at])" : "length \(actual.count) vs \(expected.count)")), \
        tolerance \(tolerance)
        """,
        sourceLocation: sourceLocation)
}
