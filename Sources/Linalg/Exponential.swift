// The vectorized exponential behind the softmax row kernels: e^x for 8 Float lanes with SSE2
// arithmetic only (the package is built for baseline x86-64), and the per-lane libm fallback for Double.
// Method: Cody-Waite range reduction x = n ln 2 + r, |r| <= ln(2)/2, and the degree-7 Taylor
// polynomial of e^r (truncation error below 6e-9 relative, under a tenth of a Float ulp).
import RealModule

extension Float {
    /// e^x in 8 lanes: `2^n * P(r)` with `n = round(x / ln 2)`, `r = x - n ln 2` (ln 2 split in a
    /// 9-bit high part and a low part, so `n * ln2High` is exact) and `P` the degree-7 Taylor
    /// polynomial of e^r, evaluated by Horner's rule. Within 2 ulp of the true value for
    /// -86.6 <= x <= 88.7; returns 0 below -86.6 (where e^x < 2^-125: flushed, as a softmax may),
    /// +infinity above 88.72. NaN lanes give unspecified values.
    @inlinable @inline(__always)
    public static func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lowest: Float = -86.6, highest: Float = 88.8
        // Clamped with masks (pointwiseMin/Max and clamped(...) are not inlined by the compiler).
        var v = x.replacing(with: lowest, where: x .< lowest)
        v.replace(with: highest, where: v .> highest)
        // Adding 1.5 * 2^23 rounds to an integer (ties to even) and leaves n in the low mantissa bits.
        let shifter: Float = 12_582_912
        let t = v * 1.442_695_04 + shifter
        let n = t - shifter
        let ln2High: Float = 0.693_359_375, ln2Low: Float = -2.121_944_4e-4
        let r = (v - n * ln2High) - n * ln2Low
        var p = SIMD8<Float>(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^(n - 1) from its bits, times 2 (so that n = 128 overflows to infinity instead of wrapping).
        let bits = (unsafeBitCast(t, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 126) &<< 23
        let e = p * unsafeBitCast(bits, to: SIMD8<Float>.self) * 2
        return e.replacing(with: 0, where: x .< lowest)
    }
}

extension Double {
    /// e^x in 8 lanes through libm (Double serves gradient checks, where accuracy comes first).
    @inlinable
    public static func exponential(_ x: SIMD8<Double>) -> SIMD8<Double> {
        var e = SIMD8<Double>()
        for i in 0..<8 { e[i] = Double.exp(x[i]) }
        return e
    }
}
