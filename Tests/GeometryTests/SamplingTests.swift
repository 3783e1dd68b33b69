// Sampling: points lie on their space, moments match the uniform (or normal) law, and a seed
// fixes the draw. Reference: docs/method.md 2.1 (points drawn uniformly).
import Testing
import Geometry
import Linalg

@Suite struct SamplingTests {
    static let count = 4000

    func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    @Test(arguments: ["torus", "torus6", "klein"])
    func periodicSpacesAreUniformOnTheSquare(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 501
        let xs = samplePoints(space, count: Self.count, seed: seed)
        for c in 0..<space.coordinateCount {
            let column = xs.map { $0[c] }
            #expect(column.allSatisfy { $0 >= 0 && $0 < 10 }, "\(name) seed \(seed) coordinate \(c) out of [0, 10)")
            // Uniform on [0, 10): mean 5 (std of the mean 0.046), variance 100/12, both ends reached.
            #expect(abs(mean(column) - 5) < 0.25, "\(name) seed \(seed) coordinate \(c): mean \(mean(column))")
            let variance = mean(column.map { ($0 - 5) * ($0 - 5) })
            #expect(abs(variance - 100.0 / 12) < 0.5, "\(name) seed \(seed) coordinate \(c): variance \(variance)")
            #expect(column.min()! < 0.05 && column.max()! > 9.95, "\(name) seed \(seed) coordinate \(c): range")
        }
    }

    @Test(arguments: ["circle", "sphere", "s3"])
    func spherePointsAreUnitAndIsotropic(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let n = space.coordinateCount
        let seed: UInt64 = 502
        let xs = samplePoints(space, count: Self.count, seed: seed)
        #expect(xs.allSatisfy { abs(norm($0) - 1) <= 4e-16 }, "\(name) seed \(seed): a point is not unit length")
        for c in 0..<n {
            let column = xs.map { $0[c] }
            // Isotropic: E[x_c] = 0, E[x_c^2] = 1 / n.
            #expect(abs(mean(column)) < 0.05, "\(name) seed \(seed) coordinate \(c): mean \(mean(column))")
            #expect(abs(mean(column.map { $0 * $0 }) - 1 / Double(n)) < 0.03, "\(name) seed \(seed) coordinate \(c): second moment")
        }
        if n == 3 {
            // Archimedes: on S^2 the height z is uniform on [-1, 1], so P(z > 0.5) = 1/4.
            let fraction = Double(xs.filter { $0[2] > 0.5 }.count) / Double(xs.count)
            #expect(abs(fraction - 0.25) < 0.035, "sphere seed \(seed): P(z > 0.5) = \(fraction)")
        }
        // Mean distance to a fixed point: pi/2 x scale on every sphere (by symmetry).
        let scale = (space as? Sphere)?.scale ?? (space as? Circle)!.scale
        let meanDistance = mean(xs.map { space.distance($0, [1] + [Double](repeating: 0, count: n - 1)) })
        #expect(abs(meanDistance - scale * .pi / 2) < 0.05 * scale, "\(name) seed \(seed): mean distance \(meanDistance)")
    }

    @Test(arguments: [("r3", 1.0), ("r9", 10.0)])
    func euclideanPointsAreNormal(name: String, std: Double) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 503
        let xs = samplePoints(space, count: Self.count, seed: seed)
        for c in 0..<space.coordinateCount {
            let column = xs.map { $0[c] }
            #expect(abs(mean(column)) < 0.08 * std, "\(name) seed \(seed) coordinate \(c): mean \(mean(column))")
            let sd = mean(column.map { $0 * $0 }).squareRoot()
            #expect(abs(sd - std) < 0.05 * std, "\(name) seed \(seed) coordinate \(c): std \(sd)")
        }
    }

    @Test func productSamplesEachFactor() throws {
        let space = try ModuliSpaces.named("mixedcurv")
        let seed: UInt64 = 504
        let xs = samplePoints(space, count: Self.count, seed: seed)
        #expect(
            xs.allSatisfy { abs(norm(Array($0[0..<3])) - 1) <= 4e-16 && $0[3] >= 0 && $0[3] < 10 && $0[4] >= 0 && $0[4] < 10 },
            "mixedcurv seed \(seed): a point is off S^2 x T^2")
        #expect(abs(mean(xs.map { $0[4] }) - 5) < 0.25, "mixedcurv seed \(seed): torus coordinate mean")
    }

    @Test(arguments: ModuliSpaces.names)
    func aSeedFixesTheDrawAndSampledPointsAreProjected(name: String) throws {
        let space = try ModuliSpaces.named(name)
        var r1 = SeededGenerator(seed: 505), r2 = SeededGenerator(seed: 505), r3 = SeededGenerator(seed: 506)
        let e1 = NeuronEmbedding.sample(space: space, count: 64, rng: &r1)
        let e2 = NeuronEmbedding.sample(space: space, count: 64, rng: &r2)
        let e3 = NeuronEmbedding.sample(space: space, count: 64, rng: &r3)
        #expect(e1.positions == e2.positions, "\(name) seed 505: two draws differ")
        #expect(e1.positions != e3.positions, "\(name) seeds 505 and 506 give the same draw")
        #expect(e1.positions.rows == 64 && e1.positions.columns == space.coordinateCount)
        // Sampled points are already on the space: projecting moves them by at most rounding.
        var projected = e1
        projected.project()
        #expect(projected.positions.maxAbsDifference(e1.positions) <= 4.5e-16, "\(name) seed 505: projection moved sampled points")
    }
}
