// Invariance of every distance under the space's identifications and isometries: torus period
// shifts and common translations, the Klein bottle's generators, rotations of spheres.
// Reference: docs/method.md 2.1; docs/testing.md oracle 4 (invariance under identifications).
import Testing
import Geometry
import Linalg

@Suite struct IdentificationTests {
    @Test(arguments: [2, 6])
    func torusIsInvariantUnderPeriodShiftsAndCommonTranslations(dimension: Int) {
        let space = FlatTorus(dimension: dimension, side: 10)
        let seed: UInt64 = 201
        var rng = SeededGenerator(seed: seed)
        var worstShift = 0.0, worstTranslate = 0.0
        for _ in 0..<2000 {
            let a = space.samplePoint(rng: &rng), b = space.samplePoint(rng: &rng)
            let d = space.distance(a, b)
            // Any coordinate of either point moved by a multiple of the side: the same point.
            var a2 = a, b2 = b
            a2[rng.integer(below: dimension)] += 10 * Double(rng.integer(below: 9) - 4)
            b2[rng.integer(below: dimension)] += 10 * Double(rng.integer(below: 9) - 4)
            worstShift = max(worstShift, abs(space.distance(a2, b2) - d))
            // The same arbitrary translation of both points: an isometry of the torus.
            let t = (0..<dimension).map { _ in rng.uniform(-25, 25) }
            let at = zip(a, t).map { $0 + $1 }, bt = zip(b, t).map { $0 + $1 }
            worstTranslate = max(worstTranslate, abs(space.distance(at, bt) - d))
        }
        #expect(worstShift <= 1e-12, "torus\(dimension) seed \(seed): period shift changed a distance by \(worstShift)")
        #expect(worstTranslate <= 1e-12, "torus\(dimension) seed \(seed): common translation changed a distance by \(worstTranslate)")
    }

    @Test func torusProjectionWrapsIntoTheFundamentalDomainWithoutMovingPoints() {
        let space = FlatTorus(dimension: 6, side: 10)
        let seed: UInt64 = 202
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0
        for i in 0..<2000 {
            let p = (0..<6).map { _ in rng.uniform(-100, 100) }
            let q = space.projected(p)
            #expect(q.allSatisfy { $0 >= 0 && $0 < 10 }, "seed \(seed) point \(i): \(p) projected to \(q)")
            worst = max(worst, space.distance(p, q))
        }
        #expect(worst <= 1e-12, "seed \(seed): projection moved a point by \(worst)")
        // Tiny negative coordinates must not round up to the side itself.
        #expect(space.projected([-1e-300, -0.0, 10, 20, -10, 1e-17 - 10]).allSatisfy { $0 >= 0 && $0 < 10 })
    }

    @Test func kleinIsInvariantUnderItsGeneratorsAndTheirCompositions() {
        let space = KleinBottle(side: 10)
        let generators = kleinGenerators(side: 10)
        let seed: UInt64 = 203
        var rng = SeededGenerator(seed: seed)
        var worstImage = 0.0, worstIsometry = 0.0
        for _ in 0..<2000 {
            let a = space.samplePoint(rng: &rng), b = space.samplePoint(rng: &rng)
            let d = space.distance(a, b)
            // b replaced by gamma(b) for a random word gamma of length <= 4: the same point.
            var gb = b, ga = a
            for _ in 0..<rng.integer(below: 5) { gb = generators[rng.integer(below: 4)](gb) }
            worstImage = max(worstImage, abs(space.distance(a, gb) - d))
            // The same gamma applied to both points: the generators are isometries of R^2, and
            // gamma G gamma^-1 = G, so the quotient distance is unchanged.
            var gab = b
            for _ in 0..<rng.integer(below: 5) {
                let g = generators[rng.integer(below: 4)]
                ga = g(ga); gab = g(gab)
            }
            worstIsometry = max(worstIsometry, abs(space.distance(ga, gab) - d))
        }
        #expect(worstImage <= 1e-12, "klein seed \(seed): moving b by a group element changed a distance by \(worstImage)")
        #expect(worstIsometry <= 1e-12, "klein seed \(seed): a common group element changed a distance by \(worstIsometry)")
        // The glide and tau specifically, on one hand-picked pair.
        let a = [1.0, 2.0], b = [3.0, 7.5]
        #expect(abs(space.distance(a, [13.0, 2.5]) - space.distance(a, b)) <= 1e-14)  // glide (x+10, 10-y)
        #expect(abs(space.distance(a, [3.0, 17.5]) - space.distance(a, b)) <= 1e-14)  // tau (x, y+10)
    }

    @Test func kleinDistanceMatchesBruteForceOverGroupImages() {
        let space = KleinBottle(side: 10)
        let seed: UInt64 = 204
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0, worstPair = -1
        for i in 0..<500 {
            let a = space.samplePoint(rng: &rng), b = space.samplePoint(rng: &rng)
            // Minimum Euclidean distance over all images of b under words of length <= 4.
            var best = Double.infinity
            for image in kleinImages(b, side: 10, wordLength: 4) {
                best = min(best, ((a[0] - image[0]) * (a[0] - image[0]) + (a[1] - image[1]) * (a[1] - image[1])).squareRoot())
            }
            let e = abs(space.distance(a, b) - best)
            if e > worst { worst = e; worstPair = i }
        }
        #expect(worst <= 1e-12, "klein seed \(seed) pair \(worstPair): closed form differs from brute force by \(worst)")
    }

    @Test func kleinProjectionUsesTheIdentifications() {
        let space = KleinBottle(side: 10)
        let seed: UInt64 = 205
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0
        for i in 0..<2000 {
            let p = [rng.uniform(-60, 60), rng.uniform(-60, 60)]
            let q = space.projected(p)
            #expect(q[0] >= 0 && q[0] < 10 && q[1] >= 0 && q[1] < 10, "seed \(seed) point \(i): \(p) projected to \(q)")
            worst = max(worst, space.distance(p, q))
        }
        #expect(worst <= 1e-12, "klein seed \(seed): projection moved a point by \(worst)")
        // By hand: (12, 3) = glide(2, 7); (4, 13) = tau(4, 3); (-3, 2) = glide^-1(7, 8).
        #expect(space.projected([12, 3]) == [2, 7])
        #expect(space.projected([4, 13]) == [4, 3])
        #expect(space.projected([-3, 2]) == [7, 8])
    }

    @Test(arguments: ["circle", "sphere", "s3"])
    func spheresAreInvariantUnderOrthogonalMaps(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let n = space.coordinateCount
        let seed: UInt64 = 206
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0, worstScaled = 0.0
        for _ in 0..<100 {
            let q = randomOrthogonal(n, rng: &rng)  // includes reflections
            for _ in 0..<10 {
                let a = space.samplePoint(rng: &rng), b = space.samplePoint(rng: &rng)
                let d = space.distance(a, b)
                worst = max(worst, abs(space.distance(apply(q, a), apply(q, b)) - d))
                // The angle ignores the length of the ambient vectors.
                worstScaled = max(worstScaled, abs(space.distance(a.map { 3 * $0 }, b.map { 0.25 * $0 }) - d))
            }
        }
        #expect(worst <= 1e-12, "\(name) seed \(seed): a rotation changed a distance by \(worst)")
        #expect(worstScaled <= 1e-12, "\(name) seed \(seed): rescaling changed a distance by \(worstScaled)")
    }

    @Test func euclideanAndProductAreInvariantUnderTheirIsometries() throws {
        let seed: UInt64 = 207
        var rng = SeededGenerator(seed: seed)
        let r3 = try ModuliSpaces.named("r3")
        let mixed = try ModuliSpaces.named("mixedcurv")
        var worstR3 = 0.0, worstMixed = 0.0
        for _ in 0..<500 {
            let q = randomOrthogonal(3, rng: &rng)
            let t = (0..<3).map { _ in rng.normal(std: 5) }
            let a = r3.samplePoint(rng: &rng), b = r3.samplePoint(rng: &rng)
            let move = { (p: [Double]) in zip(apply(q, p), t).map { $0 + $1 } }
            worstR3 = max(worstR3, abs(r3.distance(move(a), move(b)) - r3.distance(a, b)))
            // mixedcurv = S^2 x T^2: rotate the sphere part, translate the torus part.
            let c = mixed.samplePoint(rng: &rng), e = mixed.samplePoint(rng: &rng)
            let shift = [rng.uniform(-20, 20), rng.uniform(-20, 20)]
            let moveMixed = { (p: [Double]) in apply(q, Array(p[0..<3])) + [p[3] + shift[0], p[4] + shift[1]] }
            worstMixed = max(worstMixed, abs(mixed.distance(moveMixed(c), moveMixed(e)) - mixed.distance(c, e)))
        }
        #expect(worstR3 <= 1e-12, "r3 seed \(seed): a rigid motion changed a distance by \(worstR3)")
        #expect(worstMixed <= 1e-12, "mixedcurv seed \(seed): a factor isometry changed a distance by \(worstMixed)")
    }
}
