// Finite-difference checks (in Double) of distanceGradient on every space, and the subgradient
// at kinks: 0 at a == b, finite at antipodes and cut loci. Reference: docs/method.md 2.3; docs/testing.md oracle 2.
import Testing
import Geometry
import Linalg
import _TestSupport

@Suite struct GradientTests {
    /// Central differences at random pairs; a pair whose one-sided quotients disagree has a kink
    /// within the step and is skipped (counted: almost never happens for random points).
    @Test(arguments: ModuliSpaces.names)
    func gradientMatchesCentralDifferences(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let k = space.coordinateCount
        let seed: UInt64 = 401
        var rng = SeededGenerator(seed: seed)
        let h = 1e-6
        var worst = 0.0, worstPair = -1, skipped = 0
        let pairs = 400
        for p in 0..<pairs {
            var a = space.samplePoint(rng: &rng)
            let b = space.samplePoint(rng: &rng)
            let analytic = space.distanceGradient(a, b)
            var numeric = [Double](repeating: 0, count: k)
            var kink = false
            for i in 0..<k {
                let saved = a[i], d0 = space.distance(a, b)
                a[i] = saved + h; let dp = space.distance(a, b)
                a[i] = saved - h; let dm = space.distance(a, b)
                a[i] = saved
                if abs((dp - d0) - (d0 - dm)) / h > 1e-3 { kink = true }
                numeric[i] = (dp - dm) / (2 * h)
            }
            if kink { skipped += 1; continue }
            let e = GradientCheck.maxRelativeError(analytic, numeric)
            if e > worst { worst = e; worstPair = p }
        }
        #expect(worst <= 1e-6, "\(name) seed \(seed) pair \(worstPair): gradient differs from finite differences by \(worst)")
        #expect(skipped <= pairs / 100, "\(name) seed \(seed): \(skipped) of \(pairs) pairs sat on a kink")
    }

    /// Close pairs (distance well below 1) and pairs across the seams of the periodic spaces.
    @Test(arguments: ModuliSpaces.names)
    func gradientMatchesCentralDifferencesForClosePairs(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 402
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0, worstPair = -1
        for p in 0..<200 {
            var a = space.samplePoint(rng: &rng)
            let b = space.projected(a.map { $0 + rng.uniform(-0.05, 0.05) })
            if space.distance(a, b) < 1e-3 { continue }
            let analytic = space.distanceGradient(a, b)
            let numeric = a.withUnsafeMutableBufferPointer { pa in
                GradientCheck.numericalGradient(pa.baseAddress!, count: pa.count, step: 1e-7) {
                    b.withUnsafeBufferPointer { pb in space.distance(UnsafePointer(pa.baseAddress!), pb.baseAddress!) }
                }
            }
            let e = GradientCheck.maxRelativeError(analytic, numeric)
            if e > worst { worst = e; worstPair = p }
        }
        #expect(worst <= 1e-5, "\(name) seed \(seed) pair \(worstPair): close-pair gradient off by \(worst)")
    }

    @Test(arguments: ["circle", "sphere", "s3"])
    func sphereGradientIsTangentWithNormScaleOverRadius(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let scale = (space as? Sphere)?.scale ?? (space as? Circle)!.scale
        let seed: UInt64 = 403
        var rng = SeededGenerator(seed: seed)
        var worstDot = 0.0, worstNorm = 0.0
        for _ in 0..<1000 {
            let a = space.samplePoint(rng: &rng), b = space.samplePoint(rng: &rng)
            let g = space.distanceGradient(a, b)
            worstDot = max(worstDot, abs(zip(g, a).reduce(0) { $0 + $1.0 * $1.1 }))
            worstNorm = max(worstNorm, abs(norm(g) - scale))
        }
        #expect(worstDot <= 1e-12, "\(name) seed \(seed): gradient not tangent, |g . a| = \(worstDot)")
        #expect(worstNorm <= 1e-12, "\(name) seed \(seed): |gradient| differs from the scale by \(worstNorm)")
    }

    @Test(arguments: ModuliSpaces.names)
    func gradientIsZeroAtCoincidentPoints(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 404
        for (i, x) in samplePoints(space, count: 500, seed: seed).enumerated() {
            let g = space.distanceGradient(x, x)
            #expect(g.allSatisfy { $0 == 0 }, "\(name) seed \(seed) point \(i): gradient at a == b is \(g)")
        }
    }

    @Test func gradientIsFiniteAtAntipodesCutLociAndDegenerateInputs() throws {
        func finite(_ g: [Double]) -> Bool { g.allSatisfy { $0.isFinite } }
        let seed: UInt64 = 405
        for name in ["circle", "sphere", "s3"] {
            let space = try ModuliSpaces.named(name)
            for (i, x) in samplePoints(space, count: 300, seed: seed).enumerated() {
                let g = space.distanceGradient(x, x.map { -$0 })
                #expect(finite(g), "\(name) seed \(seed) point \(i): antipodal gradient \(g)")
            }
            // The zero vector (not on the sphere, but never NaN).
            let zero = [Double](repeating: 0, count: space.coordinateCount)
            let one = [1.0] + [Double](repeating: 0, count: space.coordinateCount - 1)
            #expect(finite(space.distanceGradient(zero, one)) && space.distance(zero, one).isFinite, "\(name): zero vector")
        }
        // Torus cut locus: every coordinate exactly half a side apart; gradient is a unit subgradient.
        let torus = try ModuliSpaces.named("torus")
        let gt = torus.distanceGradient([0, 0], [5, 5])
        #expect(finite(gt) && abs(norm(gt) - 1) <= 1e-15, "torus cut locus gradient \(gt)")
        // Klein: a tie between the even and odd branches ((0, 0) and (5, 5)), and a y-seam tie.
        let klein = try ModuliSpaces.named("klein")
        for (a, b) in [([0.0, 0.0], [5.0, 5.0]), ([1.0, 0.0], [1.0, 5.0]), ([0.0, 2.0], [10.0, 8.0])] {
            let g = klein.distanceGradient(a, b)
            #expect(finite(g) && (abs(norm(g) - 1) <= 1e-15 || norm(g) == 0), "klein \(a) \(b): gradient \(g)")
        }
        // Product at a == b on one factor only, and at a == b on all.
        let mixed = try ModuliSpaces.named("mixedcurv")
        let gm = mixed.distanceGradient([0, 0, 1, 1, 1], [0, 0, 1, 4, 5])
        #expect(gm == [0, 0, 0, -0.6, -0.8], "mixedcurv gradient \(gm)")
        #expect(mixed.distanceGradient([0, 0, 1, 1, 1], [0, 0, 1, 1, 1]) == [0, 0, 0, 0, 0])
    }

    @Test func batchedGradientsEqualTheWeightedSumOfSingleGradients() throws {
        let seed: UInt64 = 406
        for name in ModuliSpaces.names {
            let space = try ModuliSpaces.named(name)
            let k = space.coordinateCount
            var rng = SeededGenerator(seed: seed)
            let a = space.samplePoint(rng: &rng)
            let points = (0..<7).map { _ in space.samplePoint(rng: &rng) }
            let weights = (0..<7).map { j in j == 3 ? 0 : rng.normal() }
            var expected = [Double](repeating: 0.5, count: k)
            for (p, w) in zip(points, weights) {
                for (c, g) in space.distanceGradient(a, p).enumerated() { expected[c] += w * g }
            }
            var got = [Double](repeating: 0.5, count: k)  // accumulates on top of what is there
            let flat = points.flatMap { $0 }
            a.withUnsafeBufferPointer { pa in
                flat.withUnsafeBufferPointer { pp in
                    weights.withUnsafeBufferPointer { pw in
                        got.withUnsafeMutableBufferPointer { pg in
                            space.accumulateDistanceGradients(
                                from: pa.baseAddress!, to: pp.baseAddress!, stride: k, count: 7,
                                weights: pw.baseAddress!, into: pg.baseAddress!)
                        }
                    }
                }
            }
            #expect(GradientCheck.maxRelativeError(got, expected) <= 1e-14, "\(name) seed \(seed): \(got) vs \(expected)")
        }
    }
}
