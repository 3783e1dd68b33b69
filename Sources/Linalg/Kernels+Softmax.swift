// Row kernels for losses on logits: argmax and fused, max-shifted log-softmax cross-entropy with
// its gradient, vectorized 8 lanes at a time (SIMD8, the `exponential` of BLASScalar).
// References: torch.nn.CrossEntropyLoss (index and probability targets), torch.argmax.
import RealModule

extension Kernels {
    /// Eight consecutive values from `p` (no alignment needed).
    @inlinable @inline(__always)
    static func load8<S: BLASScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    /// Writes eight consecutive values to `p` (no alignment needed).
    @inlinable @inline(__always)
    static func store8<S: BLASScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
    }

    /// Index of the first largest of `count >= 1` values (torch.argmax's tie rule for non-NaN input).
    @inlinable package static func argmax<S: BLASScalar>(_ x: UnsafePointer<S>, count: Int) -> Int {
        var m = x[0], at = 0
        var j = 1
        while j < count {
            if x[j] > m { m = x[j]; at = j }
            j += 1
        }
        return at
    }

    /// The largest of `count >= 1` values (Float: 8 lanes at a time, `BLASScalar.largest`).
    @inlinable package static func maximum<S: BLASScalar>(_ x: UnsafePointer<S>, count c: Int) -> S {
        S.largest(x, count: c)
    }

    /// Cross-entropy of one row of `count` logits against class `target`:
    /// `logsumexp(x) - x[target] = log(sum_c exp(x[c] - m)) - (x[target] - m)`, `m = max_c x[c]`,
    /// and the argmax. When `gradient` is given, writes `scale * (softmax(x) - onehot(target))` there
    /// (three passes: max, exponentials and their sum, scaling; sums over 8 lanes, then across them).
    @inlinable package static func crossEntropyRow<S: BLASScalar>(
        _ x: UnsafePointer<S>, count c: Int, target t: Int, gradient d: UnsafeMutablePointer<S>?, scale: S
    ) -> (loss: Double, argmax: Int) {
        let m = maximum(x, count: c)
        var am = 0
        while am < c && x[am] != m { am += 1 }
        if am == c { am = argmax(x, count: c) }  // only with NaN logits
        let mv = SIMD8<S>(repeating: m)
        var zv = SIMD8<S>()
        var j = 0
        var sum: S = 0  // Every term is in (0, 1], the largest exactly 1, so sum is in [1, count].
        if let d {
            while j + 8 <= c {
                let e = S.exponential(load8(x + j) - mv)
                store8(e, d + j)
                zv += e
                j += 8
            }
            sum = zv.sum()
            while j < c { let e = S.exp(x[j] - m); d[j] = e; sum += e; j += 1 }
            let k = scale / sum
            j = 0
            while j + 8 <= c { store8(load8(d + j) * k, d + j); j += 8 }
            while j < c { d[j] *= k; j += 1 }
            d[t] -= scale
        } else {
            while j + 8 <= c { zv += S.exponential(load8(x + j) - mv); j += 8 }
            sum = zv.sum()
            while j < c { sum += S.exp(x[j] - m); j += 1 }
        }
        return (Double.log(Double(sum)) - Double(x[t] - m), am)
    }

    /// Cross-entropy of one row of `count` logits x against soft targets p:
    /// `-sum_c p[c] log softmax(x)[c] = P log Z - sum_c p[c] s[c]`, with `s = x - max(x)`,
    /// `Z = sum_c exp(s[c])`, `P = sum_c p[c]`. When `gradient` is given, writes
    /// `scale * (P softmax(x) - p)` there (three passes: max and P, exponentials with Z and
    /// `sum p s`, scaling; sums over 8 lanes, then across them).
    @inlinable package static func softCrossEntropyRow<S: BLASScalar>(
        _ x: UnsafePointer<S>, _ p: UnsafePointer<S>, count c: Int, gradient d: UnsafeMutablePointer<S>?, scale: S
    ) -> Double {
        let m = maximum(x, count: c)
        let mv = SIMD8<S>(repeating: m)
        var pv = SIMD8<S>(), zv = SIMD8<S>(), psv = SIMD8<S>()
        var j = 0
        if let d {
            while j + 8 <= c {
                let s = load8(x + j) - mv, pj = load8(p + j)
                let e = S.exponential(s)
                store8(e, d + j)
                zv += e
                psv += pj * s
                pv += pj
                j += 8
            }
        } else {
            while j + 8 <= c {
                let s = load8(x + j) - mv, pj = load8(p + j)
                zv += S.exponential(s)
                psv += pj * s
                pv += pj
                j += 8
            }
        }
        var z = zv.sum(), ps = psv.sum(), mass = pv.sum()
        let vectorEnd = j
        while j < c {
            let s = x[j] - m
            let e = S.exp(s)
            d?[j] = e
            z += e
            ps += p[j] * s
            mass += p[j]
            j += 1
        }
        if let d {
            let k = scale * mass / z
            let kv = SIMD8<S>(repeating: k), sv = SIMD8<S>(repeating: scale)
            j = 0
            while j + 8 <= vectorEnd { store8(load8(d + j) * kv - sv * load8(p + j), d + j); j += 8 }
            while j < c { d[j] = d[j] * k - scale * p[j]; j += 1 }
        }
        return Double(mass) * Double.log(Double(z)) - Double(ps)
    }
}
