// Finite-difference gradient checking in Double, and comparison helpers for whole tensors.
import Foundation
import Linalg

/// Central finite differences of a scalar function of a buffer.
public enum GradientCheck {
    /// Numerical dF/dx_i by central differences `(F(x + h e_i) - F(x - h e_i)) / 2h` for every i
    /// of `x`. `f` reads `x` as it is at the time of the call.
    public static func numericalGradient(
        _ x: UnsafeMutablePointer<Double>, count: Int, step h: Double = 1e-6,
        _ f: () -> Double
    ) -> [Double] {
        var g = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let saved = x[i]
            x[i] = saved + h; let fp = f()
            x[i] = saved - h; let fm = f()
            x[i] = saved
            g[i] = (fp - fm) / (2 * h)
        }
        return g
    }

    /// Numerical dF/dm for a function of a matrix value (perturbs a copy, so `f` may read freely).
    public static func numericalGradient(
        of m: Matrix<Double>, step h: Double = 1e-6,
        _ f: (Matrix<Double>) -> Double
    ) -> [Double] {
        var x = m
        var g = [Double](repeating: 0, count: m.count)
        for i in 0..<m.count {
            let saved = x.scalars[i]
            x.scalars[i] = saved + h; let fp = f(x)
            x.scalars[i] = saved - h; let fm = f(x)
            x.scalars[i] = saved
            g[i] = (fp - fm) / (2 * h)
        }
        return g
    }

    /// The largest relative error `|a - b| / max(1, |a|, |b|)` over two arrays (mixed
    /// absolute/relative, so tiny gradients are compared absolutely).
    public static func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "Arrays differ in length: \(a.count) vs \(b.count)")
        var e = 0.0
        for (x, y) in zip(a, b) { e = max(e, abs(x - y) / max(1, abs(x), abs(y))) }
        return e
    }
}

extension SeededGenerator {
    /// A fixed-seed matrix of weights for the scalar test loss `sum(weights * output)`.
    public mutating func lossWeights(rows: Int, columns: Int) -> Matrix<Double> {
        normalMatrix(rows: rows, columns: columns)
    }
}

/// metrics.jsonl text without the `wallSeconds` fields of its evaluation lines, the one part of a
/// run's records that differs between identical runs.
public func withoutWallTimes(_ jsonl: String) -> String {
    jsonl.replacingOccurrences(of: #","wallSeconds":[-+0-9.eE]+"#, with: "", options: .regularExpression)
        .replacingOccurrences(of: #""wallSeconds":[-+0-9.eE]+,?"#, with: "", options: .regularExpression)
}
