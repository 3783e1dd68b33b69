// Metric laws for every named moduli space over thousands of seeded points: identity, symmetry,
// non-negativity, triangle inequality. Reference: docs/method.md 2.1; docs/testing.md oracle 4 (laws).
import Testing
import Geometry
import Linalg

@Suite struct MetricLawTests {
    @Test(arguments: ModuliSpaces.names)
    func identityIsExactlyZero(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 101
        var failures = 0
        for (i, x) in samplePoints(space, count: 3000, seed: seed).enumerated() {
            let d = space.distance(x, x)
            if d != 0 { failures += 1; if failures < 3 { Issue.record("\(name) seed \(seed) point \(i): d(x,x) = \(d)") } }
        }
        #expect(failures == 0, "\(name) seed \(seed): \(failures) points with d(x,x) != 0")
    }

    @Test(arguments: ModuliSpaces.names)
    func symmetryAndNonNegativity(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 102
        let xs = samplePoints(space, count: 3000, seed: seed)
        var asymmetric = 0, negative = 0, nonFinite = 0
        for i in stride(from: 0, to: xs.count - 1, by: 1) {
            let dab = space.distance(xs[i], xs[i + 1]), dba = space.distance(xs[i + 1], xs[i])
            if dab != dba { asymmetric += 1 }  // bitwise symmetric, not just approximately
            if dab < 0 { negative += 1 }
            if !dab.isFinite { nonFinite += 1 }
        }
        #expect(asymmetric == 0, "\(name) seed \(seed): \(asymmetric) pairs with d(a,b) != d(b,a)")
        #expect(negative == 0, "\(name) seed \(seed): \(negative) negative distances")
        #expect(nonFinite == 0, "\(name) seed \(seed): \(nonFinite) non-finite distances")
    }

    @Test(arguments: ModuliSpaces.names)
    func triangleInequality(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 103
        let xs = samplePoints(space, count: 3 * 2000, seed: seed)
        var worst = 0.0, worstIndex = -1
        for t in 0..<2000 {
            let (a, b, c) = (xs[3 * t], xs[3 * t + 1], xs[3 * t + 2])
            // Every ordering of the triple: d(a,c) <= d(a,b) + d(b,c), and so on.
            let ab = space.distance(a, b), bc = space.distance(b, c), ac = space.distance(a, c)
            let violation = max(ac - ab - bc, ab - ac - bc, bc - ab - ac)
            if violation > worst { worst = violation; worstIndex = t }
        }
        #expect(worst <= 1e-12, "\(name) seed \(seed) triple \(worstIndex): triangle inequality violated by \(worst)")
    }

    /// Close triples (where rounding and cut loci matter most) on the periodic spaces, including
    /// representatives outside the fundamental domain.
    @Test(arguments: ["torus", "torus6", "klein", "mixedcurv"])
    func triangleInequalityForNearbyAndUnprojectedPoints(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 104
        var rng = SeededGenerator(seed: seed)
        var worst = 0.0
        for _ in 0..<3000 {
            var a = space.samplePoint(rng: &rng)
            let b = a.map { $0 + rng.uniform(-0.5, 0.5) }
            var c = space.samplePoint(rng: &rng)
            // Shift some torus/Klein coordinates by whole periods: still the same points.
            if name != "mixedcurv" {
                a = a.map { $0 + 10 * Double(rng.integer(below: 5) - 2) * 2 }
                c = c.map { $0 + rng.uniform(-30, 30) }
            }
            let ab = space.distance(a, b), bc = space.distance(b, c), ac = space.distance(a, c)
            worst = max(worst, ac - ab - bc, ab - ac - bc, bc - ab - ac)
        }
        #expect(worst <= 1e-12, "\(name) seed \(seed): triangle inequality violated by \(worst)")
    }

    @Test func nonDefaultParametersObeyTheLaws() {
        let spaces: [any ModuliSpace] = [
            Circle(scale: 1), FlatTorus(dimension: 3, side: 7), KleinBottle(side: 2.5),
            Sphere(dimension: 4, scale: 2), Sphere(dimension: 1, scale: 3), EuclideanSpace(dimension: 1),
            ProductSpace(factors: [Circle(scale: 1), KleinBottle(side: 4), EuclideanSpace(dimension: 2)])
        ]
        let seed: UInt64 = 105
        for space in spaces {
            let xs = samplePoints(space, count: 900, seed: seed)
            var worst = 0.0
            for t in 0..<300 {
                let (a, b, c) = (xs[3 * t], xs[3 * t + 1], xs[3 * t + 2])
                #expect(space.distance(a, a) == 0, "\(space.name) seed \(seed) triple \(t): d(a,a) != 0")
                #expect(space.distance(a, b) == space.distance(b, a), "\(space.name) seed \(seed) triple \(t): asymmetric")
                let ab = space.distance(a, b), bc = space.distance(b, c), ac = space.distance(a, c)
                worst = max(worst, ac - ab - bc)
            }
            #expect(worst <= 1e-12, "\(space.name) seed \(seed): triangle inequality violated by \(worst)")
        }
    }
}
