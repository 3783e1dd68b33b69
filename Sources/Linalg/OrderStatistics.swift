// The k-th smallest element of an array by selection (no full sort).

/// Order statistics without sorting: the regularizer's statistics, the magnitude pruner's threshold
/// and the CPU backend's k-th smallest magnitude all select with this.
@usableFromInline package enum OrderStatistics {
    /// The k-th smallest value (0-based) of `a`, reordering `a`: quickselect with a three-way
    /// partition (fast with many equal values) around the median of three pseudo-random elements
    /// (a fixed xorshift stream: deterministic, and expected O(n) whatever the input order).
    @inlinable package static func select<T: Comparable>(_ a: inout [T], _ k: Int) -> T {
        precondition(k >= 0 && k < a.count, "select: index \(k) out of 0..<\(a.count)")
        return a.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func random(_ bound: Int) -> Int {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return Int(state % UInt64(bound))
            }
            var lo = 0, hi = p.count - 1
            while lo < hi {
                let span = hi - lo + 1
                let x = base[lo + random(span)], y = base[lo + random(span)], z = base[lo + random(span)]
                let pivot = Swift.max(Swift.min(x, y), Swift.min(Swift.max(x, y), z))
                var lt = lo, i = lo, gt = hi
                while i <= gt {
                    let v = base[i]
                    if v < pivot {
                        base[i] = base[lt]; base[lt] = v; lt += 1; i += 1
                    } else if v > pivot {
                        base[i] = base[gt]; base[gt] = v; gt -= 1
                    } else {
                        i += 1
                    }
                }
                if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return pivot }
            }
            return base[lo]
        }
    }
}
