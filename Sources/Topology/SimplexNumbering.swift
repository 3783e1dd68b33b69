// The combinatorial number system (Knuth, TAOCP 7.2.1.3; used by Bauer's Ripser): a k-simplex
// with vertices v_0 < v_1 < ... < v_k is numbered sum_i binomial(v_i, i + 1).

/// The numbering of the simplices on `vertexCount` vertices with at most `largestK` vertices: a
/// simplex {v_0 < ... < v_k} has index `sum_{i=0}^{k} C(v_i, i+1)`, a bijection from the
/// (k+1)-subsets of `0..<n` onto `0..<C(n, k+1)`. Holds the table `C(j, k)` for `j <= n`,
/// `k <= largestK`, built by Pascal's rule with overflow checks.
struct SimplexNumbering {
    /// The number of vertices n.
    let vertexCount: Int
    /// The most vertices of a numbered simplex (maxDimension + 2 for a persistence computation).
    let largestK: Int
    /// `C(j, k)` at `k * (n + 1) + j`.
    let table: [Int]

    /// The table for `n` vertices and simplices of up to `largestK` vertices, or a `TopologyError`
    /// when some `C(j, k)`, `j <= n`, `k <= largestK` (in particular `C(n, largestK)`, the number of
    /// simplices with `largestK` vertices) exceeds `Int.max`.
    init(vertexCount n: Int, largestK: Int) throws {
        vertexCount = n
        self.largestK = largestK
        let width = n + 1
        var t = [Int](repeating: 0, count: width * (largestK + 1))
        for j in 0...n { t[j] = 1 }
        if largestK >= 1 {
            for k in 1...largestK {
                // C(0, k) = 0 for k >= 1; C(j, k) = C(j-1, k-1) + C(j-1, k).
                for j in 1...max(n, 1) where j <= n {
                    let (s, overflow) = t[(k - 1) * width + j - 1].addingReportingOverflow(t[k * width + j - 1])
                    guard !overflow else {
                        throw TopologyError(
                            """
                            \(n) points are too many for dimension \(largestK - 2): the (\(largestK - 1))-simplices number C(\(n), \
                            \(largestK)), more than the simplex numbering's Int.max; use fewer points (landmarks) or a lower \
                            maxDimension
                            """
                        )
                    }
                    t[k * width + j] = s
                }
            }
        }
        table = t
    }

    /// `C(j, k)` for `0 <= j <= n`, `0 <= k <= largestK`.
    func binomial(_ j: Int, _ k: Int) -> Int { table[k * (vertexCount + 1) + j] }

    /// The index of the simplex with vertices `descending` (largest first).
    func index(ofDescending descending: [Int]) -> Int {
        let k = descending.count
        var s = 0
        for (position, v) in descending.enumerated() { s += binomial(v, k - position) }
        return s
    }

    /// The vertices of the `dimension`-simplex numbered `index`, largest first.
    func vertices(of index: Int, dimension: Int) -> [Int] {
        var out = [Int](repeating: 0, count: dimension + 1)
        var rest = index
        var top = vertexCount
        for r in stride(from: dimension, through: 0, by: -1) {
            let v = largestVertex(rest, k: r + 1, below: top)
            out[dimension - r] = v
            rest -= binomial(v, r + 1)
            top = v
        }
        return out
    }

    /// The largest `v < below` with `C(v, k) <= rest` (at least `k - 1`, where `C(k-1, k) = 0`).
    func largestVertex(_ rest: Int, k: Int, below: Int) -> Int {
        var lo = k - 1, hi = below - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if binomial(mid, k) <= rest { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
