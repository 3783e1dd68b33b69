// Shared numerics of the moduli spaces: the robust angle between two vectors and its gradient,
// and differences modulo a period. Reference: docs/method.md sections 2.1 and 7 (bug 2).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Numerical building blocks shared by the spaces (internal).
enum GeometryMath {
    /// The angle between two nonzero vectors of `n` coordinates, in [0, pi]:
    /// `theta = atan2(|u ^ v|, u . v)` with `|u ^ v|^2 = sum_{i<j} (u_i v_j - u_j v_i)^2`.
    ///
    /// Scale-invariant in u and v. Every wedge component is exactly 0 when v == u or v == -u (the
    /// two products are the same rounded number), so d(x, x) = 0 and antipodes give exactly pi.
    /// Accurate to about one ulp of pi everywhere, unlike `acos(u . v)`.
    @inline(__always)
    static func angle(_ u: UnsafePointer<Double>, _ v: UnsafePointer<Double>, count n: Int) -> Double {
        // Unrolled forms for the paper's spaces (circle, S^2, S^3); the same sums in the same order
        // as the general loop below.
        switch n {
        case 2:
            let w = u[0] * v[1] - u[1] * v[0]
            return atan2((w * w).squareRoot(), u[0] * v[0] + u[1] * v[1])
        case 3:
            let w01 = u[0] * v[1] - u[1] * v[0], w02 = u[0] * v[2] - u[2] * v[0], w12 = u[1] * v[2] - u[2] * v[1]
            let wedge2 = w01 * w01 + w02 * w02 + w12 * w12
            return atan2(wedge2.squareRoot(), u[0] * v[0] + u[1] * v[1] + u[2] * v[2])
        case 4:
            let w01 = u[0] * v[1] - u[1] * v[0], w02 = u[0] * v[2] - u[2] * v[0], w03 = u[0] * v[3] - u[3] * v[0]
            let w12 = u[1] * v[2] - u[2] * v[1], w13 = u[1] * v[3] - u[3] * v[1], w23 = u[2] * v[3] - u[3] * v[2]
            let wedge2 = w01 * w01 + w02 * w02 + w03 * w03 + w12 * w12 + w13 * w13 + w23 * w23
            return atan2(wedge2.squareRoot(), u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3])
        default:
            var dot = 0.0, wedge2 = 0.0
            for i in 0..<n {
                dot += u[i] * v[i]
                var j = i + 1
                while j < n {
                    let w = u[i] * v[j] - u[j] * v[i]
                    wedge2 += w * w
                    j += 1
                }
            }
            return atan2(wedge2.squareRoot(), dot)
        }
    }

    /// Writes `scale * d theta(u, v) / d u` into `g` (n values), for theta as in `angle`.
    ///
    /// Formula: `d theta / d u = -z / (|z| |u|)` with `z = |u|^2 v - (u . v) u` (the component of v
    /// orthogonal to u, times |u|^2), computed from the wedge components as
    /// `z_i = sum_j u_j (u_j v_i - u_i v_j)`. The gradient is tangent to the sphere through u.
    /// Where z = 0 (v = u, v = -u, or u = 0) the subgradient 0 is returned: never NaN.
    @inline(__always)
    static func angleGradient(
        _ u: UnsafePointer<Double>, _ v: UnsafePointer<Double>, count n: Int, scale: Double,
        into g: UnsafeMutablePointer<Double>
    ) {
        var uu = 0.0, zz = 0.0
        for i in 0..<n {
            uu += u[i] * u[i]
            var z = 0.0
            for j in 0..<n where j != i { z += u[j] * (u[j] * v[i] - u[i] * v[j]) }
            g[i] = z
            zz += z * z
        }
        let denominator = (zz * uu).squareRoot()
        guard denominator > 0, denominator.isFinite else {
            for i in 0..<n { g[i] = 0 }
            return
        }
        let factor = -scale / denominator
        for i in 0..<n { g[i] *= factor }
    }

    /// The representative of `a - b` modulo `period` nearest to 0, in [-period/2, period/2].
    ///
    /// `t = fmod(a - b, period)` (exact), then one shift by `period` (exact by Sterbenz's lemma),
    /// so `|result| = min(|a - b| mod period, period - that)` exactly. Odd: swapping a and b
    /// negates the result exactly.
    @inline(__always)
    static func signedDifference(_ a: Double, _ b: Double, period: Double) -> Double {
        var t = a - b
        if !(Swift.abs(t) < period) { t = t.truncatingRemainder(dividingBy: period) }
        let half = 0.5 * period
        if t > half { t -= period } else if t < -half { t += period }
        return t
    }

    /// `min(|a - b| mod period, period - that)`: the length of `signedDifference(a, b, period:)`,
    /// bitwise equal to `abs(signedDifference(...))`, without branches for `|a - b| < 2 period`:
    /// for t in [0, 2 period) it is `min(t, |t - period|, 2 period - t)`, where the smallest of
    /// the three is always computed exactly (Sterbenz's lemma) and rounding cannot make a wrong
    /// one smaller.
    @inline(__always)
    static func periodicDistance(_ a: Double, _ b: Double, period: Double) -> Double {
        var t = Swift.abs(a - b)
        if !(t < 2 * period) { t = remainderOutOfLine(t, period) }  // rare: far representatives
        return Swift.min(Swift.min(t, Swift.abs(t - period)), 2 * period - t)
    }

    /// `fmod(t, period)` behind a call, so that the optimizer does not speculate the rare branch
    /// above (it would otherwise turn it into an unconditional `fmod` per pair: 4x slower).
    @inline(never)
    static func remainderOutOfLine(_ t: Double, _ period: Double) -> Double {
        t.truncatingRemainder(dividingBy: period)
    }

    /// `x` wrapped into [0, period).
    @inline(__always)
    static func wrap(_ x: Double, period: Double) -> Double {
        var r = x.truncatingRemainder(dividingBy: period)
        if r < 0 {
            r += period
            if r >= period { r = 0 }  // a tiny negative r rounds up to `period`, which is 0 again
        }
        if r == 0 { r = 0 }  // turn -0 into +0
        return r
    }
}
