// Seeded point clouds for the persistence tests (SplitMix64, Steele, Lea and Flood 2014) and a
// multiset comparison of diagrams.
import Foundation
import Topology

/// A small seeded generator: SplitMix64.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { Double.random(in: a..<b, using: &self) }
    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u = max(uniform(0, 1), 1e-300), v = uniform(0, 1)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// Point clouds sampled from known spaces, with Gaussian noise of standard deviation `noise`.
enum Clouds {
    static func uniformCube(_ n: Int, dimension: Int, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { _ in (0..<dimension).map { _ in g.uniform(0, 1) } }
    }
    static func circle(_ n: Int, noise: Double, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { i in
            let a = 2 * Double.pi * Double(i) / Double(n)
            return [cos(a) + noise * g.normal(), sin(a) + noise * g.normal()]
        }
    }
    /// The flat torus (cos a, sin a, cos b, sin b) in R^4, angles uniform.
    static func flatTorus(_ n: Int, noise: Double, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { _ in
            let a = g.uniform(0, 2 * .pi), b = g.uniform(0, 2 * .pi)
            return [cos(a), sin(a), cos(b), sin(b)].map { $0 + noise * g.normal() }
        }
    }
    /// The flat torus sampled on a `side` x `side` grid of angles, each jittered by up to
    /// `jitter` of a cell, plus Gaussian noise.
    static func flatTorusGrid(side: Int, jitter: Double, noise: Double, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        let cell = 2 * Double.pi / Double(side)
        return (0..<(side * side)).map { t in
            let a = (Double(t / side) + jitter * g.uniform(-0.5, 0.5)) * cell
            let b = (Double(t % side) + jitter * g.uniform(-0.5, 0.5)) * cell
            return [cos(a), sin(a), cos(b), sin(b)].map { $0 + noise * g.normal() }
        }
    }
    /// The Klein bottle (as `kleinBottle`) on a jittered grid of `uSteps` x `vSteps` values of (u, v),
    /// odd rows of v shifted half a step in u (a triangular lattice; `vSteps` even keeps it
    /// symmetric under the gluing (u + 2 pi, v) ~ (u, -v)).
    static func kleinBottleGrid(
        uSteps: Int, vSteps: Int, jitter: Double, noise: Double, seed: UInt64,
        R: Double = 2, r: Double = 1
    ) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<(uSteps * vSteps)).map { t in
            let row = t % vSteps  // odd rows shifted half a step in u: triangles, not squares
            let u = (Double(t / vSteps) + 0.5 * Double(row % 2) + jitter * g.uniform(-0.5, 0.5)) * 2 * Double.pi / Double(uSteps)
            let v = (Double(t % vSteps) + jitter * g.uniform(-0.5, 0.5)) * 2 * Double.pi / Double(vSteps)
            return [(R + r * cos(v)) * cos(u), (R + r * cos(v)) * sin(u), r * sin(v) * cos(u / 2), r * sin(v) * sin(u / 2)]
                .map { $0 + noise * g.normal() }
        }
    }
    /// About `n` points of the unit sphere on a Fibonacci lattice (nearly uniform), plus noise.
    static func fibonacciSphere(_ n: Int, noise: Double, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        let golden = Double.pi * (3 - 5.0.squareRoot())
        return (0..<n).map { i in
            let z = 1 - 2 * (Double(i) + 0.5) / Double(n)
            let rho = (1 - z * z).squareRoot(), a = golden * Double(i)
            return [rho * cos(a), rho * sin(a), z].map { $0 + noise * g.normal() }
        }
    }
    /// The unit sphere S^2, uniform (normalized Gaussians).
    static func sphere(_ n: Int, noise: Double, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { _ in
            let x = [g.normal(), g.normal(), g.normal()]
            let r = (x.map { $0 * $0 }.reduce(0, +)).squareRoot()
            return x.map { $0 / r + noise * g.normal() }
        }
    }
    /// The Klein bottle in R^4: ((R + r cos v) cos u, (R + r cos v) sin u, r sin v cos(u/2),
    /// r sin v sin(u/2)), u, v in [0, 2 pi).
    static func kleinBottle(_ n: Int, noise: Double, seed: UInt64, R: Double = 2, r: Double = 1) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { _ in
            let u = g.uniform(0, 2 * .pi), v = g.uniform(0, 2 * .pi)
            return [(R + r * cos(v)) * cos(u), (R + r * cos(v)) * sin(u), r * sin(v) * cos(u / 2), r * sin(v) * sin(u / 2)]
                .map { $0 + noise * g.normal() }
        }
    }
}

/// A diagram's pairs as a sorted list (a canonical form of the multiset).
func canonical(_ d: PersistenceDiagram) -> [PersistencePair] {
    d.pairs.sorted { ($0.birth, $0.death ?? .infinity) < ($1.birth, $1.death ?? .infinity) }
}

/// The persistences of a diagram's pairs, longest first.
func persistences(_ d: PersistenceDiagram) -> [Double] { d.byPersistence.map(\.persistence) }

/// How many bars are "long": the count before the first ratio of consecutive persistences
/// (sorted descending) above `gap`, if that gap comes after at most `limit` bars; 0 otherwise.
/// A long bar is one whose persistence is over `gap` times that of every bar counted as short.
func longBarCount(_ d: PersistenceDiagram, gap: Double = 3, limit: Int = 4) -> Int {
    let p = persistences(d)
    for i in 0..<min(limit, p.count) {
        let next = i + 1 < p.count ? p[i + 1] : 0
        if p[i] > gap * next { return i + 1 }
    }
    return 0
}
