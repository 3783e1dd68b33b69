// Row kernels for losses on logits: argmax and fused, max-shifted log-softmax cross-entropy with
// its gradient. References: torch.nn.CrossEntropyLoss (index and probability targets), torch.argmax.
import RealModule

extension Kernels {
    /// Index of the first largest of `count >= 1` values (torch.argmax's tie rule).
    @inlinable public static func argmax<S: BLASScalar>(_ x: UnsafePointer<S>, count: Int) -> Int {
        var m = x[0], at = 0
        var j = 1
        while j < count {
            if x[j] > m { m = x[j]; at = j }
            j += 1
        }
        return at
    }

    /// Cross-entropy of one row of `count` logits against class `target`:
    /// `logsumexp(x) - x[target] = log(sum_c exp(x[c] - m)) - (x[target] - m)`, `m = max_c x[c]`,
    /// and the argmax. When `gradient` is given, writes `scale * (softmax(x) - onehot(target))` there
    /// (three passes: max, exponentials and their sum, scaling).
    @inlinable public static func crossEntropyRow<S: BLASScalar>(
        _ x: UnsafePointer<S>, count c: Int, target t: Int, gradient d: UnsafeMutablePointer<S>?, scale: S
    ) -> (loss: Double, argmax: Int) {
        let am = argmax(x, count: c)
        let m = x[am]
        var sum: S = 0  // Every term is in (0, 1], the largest exactly 1, so sum is in [1, count].
        if let d {
            for j in 0..<c { let e = S.exp(x[j] - m); d[j] = e; sum += e }
            let k = scale / sum
            for j in 0..<c { d[j] *= k }
            d[t] -= scale
        } else {
            for j in 0..<c { sum += S.exp(x[j] - m) }
        }
        return (Double.log(Double(sum)) - Double(x[t] - m), am)
    }

    /// Cross-entropy of one row of `count` logits x against soft targets p:
    /// `-sum_c p[c] log softmax(x)[c] = P log Z - sum_c p[c] s[c]`, with `s = x - max(x)`,
    /// `Z = sum_c exp(s[c])`, `P = sum_c p[c]`. When `gradient` is given, writes
    /// `scale * (P softmax(x) - p)` there (three passes: max and P, exponentials with Z and
    /// `sum p s`, scaling).
    @inlinable public static func softCrossEntropyRow<S: BLASScalar>(
        _ x: UnsafePointer<S>, _ p: UnsafePointer<S>, count c: Int, gradient d: UnsafeMutablePointer<S>?, scale: S
    ) -> Double {
        var m = x[0], mass: S = 0
        for j in 0..<c {
            if x[j] > m { m = x[j] }
            mass += p[j]
        }
        var z: S = 0, ps: S = 0
        if let d {
            for j in 0..<c {
                let s = x[j] - m
                let e = S.exp(s)
                d[j] = e
                z += e
                ps += p[j] * s
            }
            let k = scale * mass / z
            for j in 0..<c { d[j] = d[j] * k - scale * p[j] }
        } else {
            for j in 0..<c {
                let s = x[j] - m
                z += S.exp(s)
                ps += p[j] * s
            }
        }
        return Double(mass) * Double.log(Double(z)) - Double(ps)
    }
}
