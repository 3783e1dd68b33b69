// The element loops of training steps outside the layers, as kernels of BLASScalar: the SGD and Adam
// updates and the moduli penalty `sum r |w|^p` with its gradient. Float runs Adam and the penalty 8
// lanes at a time, Double the plain loops. Written once for the CPU: NN's optimizers, Sparsity's
// regularizer and the Compute module's CPU backend all call these.
// References: torch.optim.SGD, torch.optim.Adam / AdamW (the updates); the penalty is that of ModuliRegularizer.

/// Entries per partial sum of the penalty kernels (keeps the scalar-type sums short; a multiple of 8).
/// The kernels' partial sums start at multiples of it, so that a caller can split a block at
/// these boundaries over threads and add the parts in order with the same result.
public let penaltyChunk = 1024

extension Float {
    /// The Adam update 8 lanes at a time over the first `count - count % 8` entries (the scalar
    /// loop does not vectorize), the rest as in `adamUpdateLoop`: every lane does the same IEEE
    /// operations, so the results equal the scalar loop's.
    public static func adamUpdate(
        parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
        firstMoments m: UnsafeMutablePointer<Float>, secondMoments v: UnsafeMutablePointer<Float>,
        count: Int, l2: Float, b1: Float, b2: Float, c1: Float, c2: Float, stepSize: Float,
        bc2Root: Float, eps: Float, decay: Float
    ) {
        @inline(__always) func load(_ x: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func store(_ x: SIMD8<Float>, _ to: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(to).storeBytes(of: x, as: SIMD8<Float>.self)
        }
        var i = 0
        while i + 8 <= count {
            let pi = load(p + i)
            let gi = load(g + i) + l2 * pi
            let mi = b1 * load(m + i) + c1 * gi
            let vi = b2 * load(v + i) + c2 * gi * gi
            store(mi, m + i); store(vi, v + i)
            store(pi * decay - stepSize * mi / (vi.squareRoot() / bc2Root + eps), p + i)
            i += 8
        }
        adamUpdateLoop(
            p + i, g + i, m + i, v + i, count: count - i, l2: l2, b1: b1, b2: b2, c1: c1, c2: c2,
            stepSize: stepSize, bc2Root: bc2Root, eps: eps, decay: decay)
    }

    /// `sum_k r_k |w_k|^p` eight lanes at a time (eight independent partial sums, so the
    /// reduction vectorizes), the tail as in `weightedPowerSumLoop`.
    public static func weightedPowerSum(
        _ w: UnsafePointer<Float>, weights r: UnsafePointer<Float>, count: Int,
        power: Int
    ) -> Double {
        let vectorEnd = count - count % 8
        var total = 0.0
        var start = 0
        while start < vectorEnd {
            let end = Swift.min(start + penaltyChunk, vectorEnd)
            var acc = SIMD8<Float>(repeating: 0)
            var k = start
            while k < end {
                let x = UnsafeRawPointer(w + k).loadUnaligned(as: SIMD8<Float>.self)
                let c = UnsafeRawPointer(r + k).loadUnaligned(as: SIMD8<Float>.self)
                acc += power == 1 ? c * magnitude(unsafeBitCast(x, to: SIMD8<UInt32>.self)) : c * x * x
                k += 8
            }
            total += Double(acc.sum())
            start = end
        }
        if vectorEnd < count {
            total += weightedPowerSumLoop(w + vectorEnd, r + vectorEnd, count: count - vectorEnd, power: power)
        }
        return total
    }

    /// `weightedPowerSum` with the gradient, eight lanes at a time. For p = 1 the subgradient
    /// r sign(w) is built from bits: r with its sign bit flipped where w < 0, and all bits cleared
    /// where w = +-0 (mask = 0 - (((|w| bits) + 0x7FFFFFFF) >> 31)).
    public static func weightedPowerSumAddingGradient(
        _ w: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
        weights r: UnsafePointer<Float>, count: Int, scale: Float,
        power: Int
    ) -> Double {
        let vectorEnd = count - count % 8
        var total = 0.0
        var start = 0
        while start < vectorEnd {
            let end = Swift.min(start + penaltyChunk, vectorEnd)
            var acc = SIMD8<Float>(repeating: 0)
            var k = start
            if power == 1 {
                while k < end {
                    let x = UnsafeRawPointer(w + k).loadUnaligned(as: SIMD8<Float>.self)
                    let c = UnsafeRawPointer(r + k).loadUnaligned(as: SIMD8<Float>.self)
                    var d = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD8<Float>.self)
                    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
                    let absBits = bits & 0x7FFF_FFFF
                    let nonzero = 0 &- ((absBits &+ 0x7FFF_FFFF) &>> 31)
                    let signed = (unsafeBitCast(c, to: SIMD8<UInt32>.self) ^ (bits & 0x8000_0000)) & nonzero
                    acc += c * unsafeBitCast(absBits, to: SIMD8<Float>.self)
                    d += scale * unsafeBitCast(signed, to: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(g + k).storeBytes(of: d, as: SIMD8<Float>.self)
                    k += 8
                }
            } else {
                let twiceScale = 2 * scale
                while k < end {
                    let x = UnsafeRawPointer(w + k).loadUnaligned(as: SIMD8<Float>.self)
                    let c = UnsafeRawPointer(r + k).loadUnaligned(as: SIMD8<Float>.self)
                    var d = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD8<Float>.self)
                    let cx = c * x
                    acc += cx * x
                    d += twiceScale * cx
                    UnsafeMutableRawPointer(g + k).storeBytes(of: d, as: SIMD8<Float>.self)
                    k += 8
                }
            }
            total += Double(acc.sum())
            start = end
        }
        if vectorEnd < count {
            total += weightedPowerSumAddingGradientLoop(
                w + vectorEnd, g + vectorEnd, r + vectorEnd,
                count: count - vectorEnd, scale: scale, power: power)
        }
        return total
    }

    /// `a_k += scale |w_k|^p`, element by element.
    public static func accumulatePowers(
        _ w: UnsafePointer<Float>, into a: UnsafeMutablePointer<Double>, count: Int,
        scale: Double, power: Int
    ) {
        accumulatePowersLoop(w, into: a, count: count, scale: scale, power: power)
    }

    /// `dest[k] = Float(source[k])` (rounded to nearest).
    public static func convert(_ source: UnsafePointer<Double>, into dest: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { dest[k] = Float(source[k]) }
    }

    /// |x| lane by lane, by clearing the sign bits.
    @inline(__always)
    private static func magnitude(_ bits: SIMD8<UInt32>) -> SIMD8<Float> {
        unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }
}

extension Double {
    /// The Adam update, element by element.
    public static func adamUpdate(
        parameters p: UnsafeMutablePointer<Double>, gradients g: UnsafeMutablePointer<Double>,
        firstMoments m: UnsafeMutablePointer<Double>, secondMoments v: UnsafeMutablePointer<Double>,
        count: Int, l2: Double, b1: Double, b2: Double, c1: Double, c2: Double, stepSize: Double,
        bc2Root: Double, eps: Double, decay: Double
    ) {
        adamUpdateLoop(
            p, g, m, v, count: count, l2: l2, b1: b1, b2: b2, c1: c1, c2: c2,
            stepSize: stepSize, bc2Root: bc2Root, eps: eps, decay: decay)
    }

    /// `sum_k r_k |w_k|^p`, element by element.
    public static func weightedPowerSum(
        _ w: UnsafePointer<Double>, weights r: UnsafePointer<Double>, count: Int,
        power: Int
    ) -> Double {
        weightedPowerSumLoop(w, r, count: count, power: power)
    }

    /// `weightedPowerSum` with the gradient, element by element.
    public static func weightedPowerSumAddingGradient(
        _ w: UnsafePointer<Double>, gradient g: UnsafeMutablePointer<Double>,
        weights r: UnsafePointer<Double>, count: Int, scale: Double,
        power: Int
    ) -> Double {
        weightedPowerSumAddingGradientLoop(w, g, r, count: count, scale: scale, power: power)
    }

    /// `a_k += scale |w_k|^p`, element by element.
    public static func accumulatePowers(
        _ w: UnsafePointer<Double>, into a: UnsafeMutablePointer<Double>, count: Int,
        scale: Double, power: Int
    ) {
        accumulatePowersLoop(w, into: a, count: count, scale: scale, power: power)
    }

    /// `dest[k] = source[k]`.
    public static func convert(_ source: UnsafePointer<Double>, into dest: UnsafeMutablePointer<Double>, count: Int) {
        dest.update(from: source, count: count)
    }
}

/// The Adam update of `BLASScalar.adamUpdate`, element by element.
@inline(__always)
func adamUpdateLoop<T: BLASScalar>(
    _ p: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>, _ m: UnsafeMutablePointer<T>,
    _ v: UnsafeMutablePointer<T>, count: Int, l2: T, b1: T, b2: T, c1: T, c2: T,
    stepSize: T, bc2Root: T, eps: T, decay: T
) {
    for i in 0..<count {
        let gi = g[i] + l2 * p[i]
        let mi = b1 * m[i] + c1 * gi
        let vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi; v[i] = vi
        p[i] = p[i] * decay - stepSize * mi / (vi.squareRoot() / bc2Root + eps)
    }
}

/// `sum_k r_k |w_k|^p`, summed in T over chunks of `penaltyChunk` and across chunks in Double.
@inline(__always)
func weightedPowerSumLoop<T: BinaryFloatingPoint>(
    _ w: UnsafePointer<T>, _ r: UnsafePointer<T>, count: Int,
    power: Int
) -> Double {
    var total = 0.0
    var start = 0
    while start < count {
        let end = Swift.min(start + penaltyChunk, count)
        var s: T = 0
        if power == 1 {
            for k in start..<end { s += r[k] * Swift.abs(w[k]) }
        } else {
            for k in start..<end { s += r[k] * w[k] * w[k] }
        }
        total += Double(s)
        start = end
    }
    return total
}

/// `weightedPowerSumLoop`, adding `scale` times its derivative in w into g.
@inline(__always)
func weightedPowerSumAddingGradientLoop<T: BinaryFloatingPoint>(
    _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>,
    _ r: UnsafePointer<T>, count: Int, scale: T,
    power: Int
) -> Double {
    var total = 0.0
    var start = 0
    let twiceScale = 2 * scale
    while start < count {
        let end = Swift.min(start + penaltyChunk, count)
        var s: T = 0
        if power == 1 {
            for k in start..<end {
                let x = w[k], c = r[k]
                s += c * Swift.abs(x)
                let signed: T = x > 0 ? c : (x < 0 ? -c : 0)
                g[k] += scale * signed
            }
        } else {
            for k in start..<end {
                let x = w[k], c = r[k]
                s += c * x * x
                g[k] += twiceScale * c * x
            }
        }
        total += Double(s)
        start = end
    }
    return total
}

/// `a_k += scale |w_k|^p` in Double.
@inline(__always)
func accumulatePowersLoop<T: BinaryFloatingPoint>(
    _ w: UnsafePointer<T>, into a: UnsafeMutablePointer<Double>, count: Int,
    scale: Double, power: Int
) {
    if power == 1 {
        for k in 0..<count { a[k] += scale * Double(Swift.abs(w[k])) }
    } else {
        for k in 0..<count { let x = Double(w[k]); a[k] += scale * x * x }
    }
}

extension Kernels {
    /// One SGD step over `count` entries (torch.optim.SGD): `g' = g + wd p`; with a momentum
    /// buffer `buf = firstStep ? g' : mu buf + c g'` (c = 1 - dampening) and
    /// `p -= lr (nesterov ? g' + mu buf : buf)`; without one (momentum 0), `p -= lr g'`.
    @inlinable package static func sgdUpdate<S: BLASScalar>(
        parameters p: UnsafeMutablePointer<S>, gradients g: UnsafePointer<S>, momentumBuffer b: UnsafeMutablePointer<S>?,
        count: Int, learningRate lr: S, weightDecay wd: S, momentum mu: S, oneMinusDampening c: S,
        nesterov: Bool, firstStep: Bool
    ) {
        guard let b else {
            for i in 0..<count { p[i] -= lr * (g[i] + wd * p[i]) }
            return
        }
        for i in 0..<count {
            let gi = g[i] + wd * p[i]
            b[i] = firstStep ? gi : mu * b[i] + c * gi
            p[i] -= lr * (nesterov ? gi + mu * b[i] : b[i])
        }
    }
}
