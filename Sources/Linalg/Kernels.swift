// The small set of array operations that layers are written in (besides BLAS): row-vector
// broadcasts, column sums, and the elementwise steps of activations. A GPU backend implements
// the same set.
import RealModule

/// Elementwise and reduction kernels on raw buffers (row-major, `rows x columns`).
public enum Kernels {
    /// y[r, :] += v for every row r.
    @inlinable public static func addRowVector<S: BLASScalar>(_ y: UnsafeMutablePointer<S>, rows: Int, columns: Int, _ v: UnsafePointer<S>) {
        for r in 0..<rows {
            let row = y + r * columns
            for c in 0..<columns { row[c] += v[c] }
        }
    }

    /// out[c] += sum over rows of x[r, c].
    @inlinable public static func addColumnSums<S: BLASScalar>(_ x: UnsafePointer<S>, rows: Int, columns: Int, into out: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            let row = x + r * columns
            for c in 0..<columns { out[c] += row[c] }
        }
    }

    /// y[r, :] += u + v for every row r (added left to right: `(y + u) + v`).
    @inlinable public static func addRowVectors<S: BLASScalar>(_ y: UnsafeMutablePointer<S>, rows: Int, columns: Int,
                                                               _ u: UnsafePointer<S>, _ v: UnsafePointer<S>) {
        for r in 0..<rows {
            let row = y + r * columns
            for c in 0..<columns { row[c] = row[c] + u[c] + v[c] }
        }
    }

    /// x = max(x, 0) in place (a NaN stays NaN, -0 stays -0). Branch-free, so that it vectorizes.
    @inlinable public static func reluInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        for i in 0..<count { let v = x[i]; x[i] = v < 0 ? 0 : v }
    }

    /// The ReLU backward step: `d[i] = h[i] > 0 ? g[i] + o[i] : 0`, or `g[i]` alone when `o` is nil
    /// (h is the activation output, g the carried gradient, o an extra gradient on h).
    @inlinable public static func reluBackward<S: BLASScalar>(output h: UnsafePointer<S>, gradient g: UnsafePointer<S>,
                                                              extra o: UnsafePointer<S>?, into d: UnsafeMutablePointer<S>,
                                                              count: Int) {
        if let o {
            for i in 0..<count { d[i] = h[i] > 0 ? g[i] + o[i] : 0 }
        } else {
            for i in 0..<count { d[i] = h[i] > 0 ? g[i] : 0 }
        }
    }

    /// The tanh backward step: `d[i] = (g[i] + o[i]) (1 - h[i]^2)`, or `g[i] (1 - h[i]^2)` when `o` is
    /// nil (h = tanh output).
    @inlinable public static func tanhBackward<S: BLASScalar>(output h: UnsafePointer<S>, gradient g: UnsafePointer<S>,
                                                              extra o: UnsafePointer<S>?, into d: UnsafeMutablePointer<S>,
                                                              count: Int) {
        if let o {
            for i in 0..<count { d[i] = (g[i] + o[i]) * (1 - h[i] * h[i]) }
        } else {
            for i in 0..<count { d[i] = g[i] * (1 - h[i] * h[i]) }
        }
    }

    /// x = tanh(x) in place.
    @inlinable public static func tanhInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        for i in 0..<count { x[i] = S.tanh(x[i]) }
    }

    /// x = 1 / (1 + exp(-x)) in place.
    @inlinable public static func sigmoidInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        for i in 0..<count { x[i] = sigmoid(x[i]) }
    }

    /// The logistic function, computed without overflow for large |x|.
    @inlinable public static func sigmoid<S: BLASScalar>(_ x: S) -> S {
        if x >= 0 { return 1 / (1 + S.exp(-x)) }
        let e = S.exp(x)
        return e / (1 + e)
    }

    /// Sum of squares of `count` elements (accumulated in Double).
    @inlinable public static func sumOfSquares<S: BLASScalar>(_ x: UnsafePointer<S>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { let v = Double(x[i]); s += v * v }
        return s
    }
}
