// Oracle 1: every bar of the fast cohomology algorithm equals a brute-force boundary-matrix
// reduction on small random clouds (all dimensions up to 3, primes 2, 3 and 5, with thresholds).
import Testing
import Topology

@Suite struct BruteForceOracleTests {
    /// Checks that both computations give the same diagrams, bar for bar, as multisets.
    func expectSameDiagrams(
        _ d: DistanceMatrix, maxDimension: Int, prime: Int, threshold: Double? = nil,
        _ label: String
    ) throws {
        let fast = try VietorisRips.diagrams(
            d,
            options: RipsOptions(
                maxDimension: maxDimension, prime: prime,
                threshold: threshold))
        let slow = BruteForcePersistence.diagrams(
            d, maxDimension: maxDimension, prime: prime,
            threshold: threshold ?? .infinity)
        #expect(fast.map(\.dimension) == Array(0...maxDimension), "\(label)")
        for (f, s) in zip(fast, slow) {
            #expect(canonical(f) == canonical(s), "\(label) H\(f.dimension)")
        }
    }

    @Test(arguments: [2, 3, 5])
    func randomCloudsUpToDimensionTwo(prime: Int) throws {
        for seed in UInt64(1)...6 {
            let n = 6 + Int(seed) % 5  // 6...10 points
            let d = try DistanceMatrix(points: Clouds.uniformCube(n, dimension: 3, seed: seed * 31 + UInt64(prime)))
            try expectSameDiagrams(d, maxDimension: 2, prime: prime, "n \(n) seed \(seed) p \(prime)")
        }
    }

    @Test(arguments: [2, 3])
    func randomCloudsInDimensionThree(prime: Int) throws {
        for seed in UInt64(1)...3 {
            let d = try DistanceMatrix(points: Clouds.uniformCube(8 + Int(seed), dimension: 4, seed: seed + 100))
            try expectSameDiagrams(d, maxDimension: 3, prime: prime, "seed \(seed) p \(prime)")
        }
    }

    @Test func twelvePointsOnACircleWithNoise() throws {
        for p in [2, 3, 5] {
            let d = try DistanceMatrix(points: Clouds.circle(12, noise: 0.1, seed: 7))
            try expectSameDiagrams(d, maxDimension: 2, prime: p, "circle p \(p)")
        }
    }

    @Test func thresholdsCutTheFiltration() throws {
        for seed in UInt64(1)...4 {
            let d = try DistanceMatrix(points: Clouds.uniformCube(10, dimension: 2, seed: seed + 200))
            for t in [0.0, 0.2, 0.35, 0.5] {
                try expectSameDiagrams(d, maxDimension: 2, prime: 3, threshold: t, "seed \(seed) threshold \(t)")
            }
        }
    }

    /// Integer distances: many ties, and zero distances (duplicate points).
    @Test func tiesAndDuplicates() throws {
        for seed in UInt64(1)...6 {
            var g = SplitMix(seed: seed + 300)
            let n = 7 + Int(seed) % 4
            var m = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<i {
                    let v = Double(Int.random(in: 0...3, using: &g))
                    m[i * n + j] = v; m[j * n + i] = v
                }
            }
            let d = try DistanceMatrix(count: n, entries: m)
            for p in [2, 3] { try expectSameDiagrams(d, maxDimension: 2, prime: p, "ties seed \(seed) p \(p)") }
        }
    }
}
