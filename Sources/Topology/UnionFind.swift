// Disjoint sets with path halving and union by rank (Tarjan 1975), for 0-dimensional persistence:
// Kruskal's algorithm over the edges in filtration order.

/// Disjoint sets over `0..<count`.
struct UnionFind {
    private var parent: [Int]
    private var rank: [UInt8]

    /// `count` singletons.
    init(count: Int) {
        parent = Array(0..<count)
        rank = [UInt8](repeating: 0, count: count)
    }

    /// The representative of `x`'s set (halving the path on the way).
    mutating func find(_ x: Int) -> Int {
        var x = x
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }

    /// Merges the sets of `a` and `b`; false when they were already one set.
    mutating func union(_ a: Int, _ b: Int) -> Bool {
        var ra = find(a), rb = find(b)
        if ra == rb { return false }
        if rank[ra] < rank[rb] { swap(&ra, &rb) }
        parent[rb] = ra
        if rank[ra] == rank[rb] { rank[ra] += 1 }
        return true
    }
}
