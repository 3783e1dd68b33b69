// Shared helpers for the Geometry tests: seeded point clouds, random isometries, image enumeration.
// Reference: docs/testing.md, "Four independent oracles" (laws, finite differences).
import Geometry
import Linalg

/// Seeded points drawn from a space's own sampler.
func samplePoints(_ space: any ModuliSpace, count: Int, seed: UInt64) -> [[Double]] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { _ in space.samplePoint(rng: &rng) }
}

/// A uniformly random n x n orthogonal matrix (Gram-Schmidt on a normal matrix), rows as arrays.
func randomOrthogonal(_ n: Int, rng: inout SeededGenerator) -> [[Double]] {
    var q = [[Double]]()
    while q.count < n {
        var v = (0..<n).map { _ in rng.normal() }
        for _ in 0..<2 {  // twice for numerical orthogonality
            for u in q {
                let p = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<n { v[i] -= p * u[i] }
            }
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 1e-8 { q.append(v.map { $0 / norm }) }
    }
    return q
}

/// q * v.
func apply(_ q: [[Double]], _ v: [Double]) -> [Double] {
    q.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// Euclidean norm.
func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// Klein bottle generators and their inverses, as maps of R^2 (side L):
/// tau(x, y) = (x, y + L), glide g(x, y) = (x + L, L - y), g^-1(x, y) = (x - L, L - y).
func kleinGenerators(side l: Double) -> [([Double]) -> [Double]] {
    [
        { p in [p[0], p[1] + l] },
        { p in [p[0], p[1] - l] },
        { p in [p[0] + l, l - p[1]] },
        { p in [p[0] - l, l - p[1]] }
    ]
}

/// Every image of `b` under words of length <= `wordLength` in the generators (brute force).
func kleinImages(_ b: [Double], side: Double, wordLength: Int) -> [[Double]] {
    let generators = kleinGenerators(side: side)
    var all = [b], frontier = [b]
    for _ in 0..<wordLength {
        frontier = frontier.flatMap { p in generators.map { $0(p) } }
        all += frontier
    }
    return all
}
