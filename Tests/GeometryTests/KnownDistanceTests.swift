// Distances known in closed form: torus diameters, antipodes at pi x scale, the circle's quarter
// turn, Klein bottle pairs worked out by hand, and the registry's scales. Reference: docs/method.md 2.1.
import Testing
import Geometry
import Linalg

@Suite struct KnownDistanceTests {
    @Test func torusDiameterAndWrapAround() throws {
        let torus = try ModuliSpaces.named("torus"), torus6 = try ModuliSpaces.named("torus6")
        #expect(torus.distance([0, 0], [5, 5]) == 50.0.squareRoot())  // the diameter 5 sqrt 2
        #expect(torus6.distance([0, 0, 0, 0, 0, 0], [5, 5, 5, 5, 5, 5]) == 150.0.squareRoot())
        #expect(torus.distance([0.5, 0], [9.5, 0]) == 1)  // across the seam
        #expect(torus.distance([0.5, 9], [9.5, 1]) == 5.0.squareRoot())  // across both seams
        #expect(torus.distance([1, 2], [11, -8]) == 0)  // the same point
        #expect(torus.distance([1, 1], [4, 5]) == 5)  // no wrap: 3-4-5
        // No pair is farther apart than the diameter.
        let seed: UInt64 = 301
        let xs = samplePoints(torus6, count: 2000, seed: seed)
        #expect(
            zip(xs, xs.dropFirst()).allSatisfy { torus6.distance($0, $1) <= 150.0.squareRoot() },
            "torus6 seed \(seed): a distance exceeds the diameter")
    }

    @Test func circleQuarterTurnAndAntipodes() throws {
        let circle = try ModuliSpaces.named("circle")
        #expect(abs(circle.distance([1, 0], [0, 1]) - 5 * .pi / 2) <= 1e-14)
        #expect(circle.distance([1, 0], [-1, 0]) == 5 * .pi)
        #expect(abs(circle.distance([1, 0], [0.5, 0.75.squareRoot()]) - 5 * .pi / 3) <= 1e-14)
        #expect(circle.distance([0, 1], [0, -1]) == 5 * .pi)  // half the circumference 10 pi
    }

    @Test(arguments: [("circle", 5.0), ("sphere", 5.0), ("s3", 10.0)])
    func antipodesAreExactlyPiTimesScale(name: String, scale: Double) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 302
        var failures = 0
        for (i, x) in samplePoints(space, count: 2000, seed: seed).enumerated() {
            let d = space.distance(x, x.map { -$0 })
            if d != scale * .pi {
                failures += 1
                if failures < 3 { Issue.record("\(name) seed \(seed) point \(i): antipodal distance \(d)") }
            }
        }
        #expect(failures == 0, "\(name) seed \(seed): \(failures) antipodal pairs not at pi x \(scale)")
    }

    @Test func sphereRightAnglesAndTinyAngles() throws {
        let sphere = try ModuliSpaces.named("sphere"), s3 = try ModuliSpaces.named("s3")
        #expect(abs(sphere.distance([1, 0, 0], [0, 0, 1]) - 5 * .pi / 2) <= 1e-14)
        #expect(abs(s3.distance([0, 0, 0, 1], [0, 1, 0, 0]) - 10 * .pi / 2) <= 1e-14)
        // A tiny angle is resolved (acos(u . v) would return exactly 0 here).
        let t = 1e-9
        #expect(abs(sphere.distance([1, 0, 0], [1, t, 0]) - 5 * t) <= 1e-20)
    }

    @Test func kleinPairsComputedByHand() throws {
        let klein = try ModuliSpaces.named("klein")
        // Same point: 0.
        #expect(klein.distance([3, 4], [3, 4]) == 0)
        // Inside the square, no identification helps: the plane distance.
        #expect(klein.distance([1, 1], [4, 5]) == 5)
        // Across y = 0 ~ y = 10 (tau): (1, 1) and (1, 9) are 2 apart.
        #expect(klein.distance([1, 1], [1, 9]) == 2)
        // Across x = 0 ~ x = 10 the glide flips y: (0.5, 2) ~ image of (9.5, 8) at (-0.5, 2): 1 apart.
        #expect(klein.distance([0.5, 2], [9.5, 8]) == 1)
        // ... but (9.5, 2) has its image at (-0.5, 8) ~ (-0.5, -2): sqrt(1 + 16), not the torus's 1.
        #expect(klein.distance([0.5, 2], [9.5, 2]) == 17.0.squareRoot())
        // On the glide's axis y = 5 the flip does nothing: 1 apart.
        #expect(klein.distance([0.5, 5], [9.5, 5]) == 1)
        // Both seams: (0.5, 0.5) and (9.5, 9.5): image of b at (-0.5, 0.5) -> 1.
        #expect(klein.distance([0.5, 0.5], [9.5, 9.5]) == 1)
        // Far along x: (0, 0) and (5, 5): plane 5 sqrt 2; odd images (-5, -5 + 10k) also 5 sqrt 2.
        #expect(klein.distance([0, 0], [5, 5]) == 50.0.squareRoot())
        // (0, 2.5) and (5, 2.5): even images at x offsets +-5 (y 0); result 5.
        #expect(klein.distance([0, 2.5], [5, 2.5]) == 5)
        // (2, 1) and (8, 3): plane sqrt(36 + 4); glide image of b at (-2, 7) ~ (-2, -3): sqrt(16 + 16).
        #expect(klein.distance([2, 1], [8, 3]) == 32.0.squareRoot())
    }

    @Test func euclideanAndProductKnownValues() throws {
        let r3 = try ModuliSpaces.named("r3"), r9 = try ModuliSpaces.named("r9")
        let mixed = try ModuliSpaces.named("mixedcurv")
        #expect(r3.distance([0, 0, 0], [1, 2, 2]) == 3)
        #expect(r9.distance([Double](repeating: 0, count: 9), [Double](repeating: 1, count: 9)) == 3)
        // Antipodes on S^2 (5 pi) and a 3-4-5 step on T^2: sqrt((5 pi)^2 + 5^2).
        let d = mixed.distance([0, 0, 1, 1, 1], [0, 0, -1, 4, 5])
        #expect(abs(d - (25 * .pi * .pi + 25).squareRoot()) <= 1e-13)
    }

    @Test func registryNamesScalesAndErrors() throws {
        #expect(ModuliSpaces.names == ["circle", "torus", "torus6", "klein", "sphere", "s3", "r3", "r9", "mixedcurv"])
        for name in ModuliSpaces.names {
            let space = try ModuliSpaces.named(name)
            #expect(space.name == name, "registry entry \(name) reports name \(space.name)")
        }
        let counts = try ModuliSpaces.names.map { try ModuliSpaces.named($0).coordinateCount }
        #expect(counts == [2, 2, 6, 2, 3, 4, 3, 9, 5])
        #expect(try (ModuliSpaces.named("circle") as? Circle)?.scale == 5)
        #expect(try (ModuliSpaces.named("sphere") as? Sphere)?.scale == 5)
        #expect(try (ModuliSpaces.named("s3") as? Sphere)?.scale == 10)
        #expect(try (ModuliSpaces.named("torus6") as? FlatTorus)?.side == 10)
        #expect(try (ModuliSpaces.named("klein") as? KleinBottle)?.side == 10)
        #expect(try (ModuliSpaces.named("r3") as? EuclideanSpace)?.samplingStd == 1)
        #expect(try (ModuliSpaces.named("r9") as? EuclideanSpace)?.samplingStd == 10)
        #expect(try (ModuliSpaces.named("mixedcurv") as? ProductSpace)?.factors.map(\.name) == ["sphere", "torus"])
        do {
            _ = try ModuliSpaces.named("hyperbolic")
            Issue.record("an unknown name did not throw")
        } catch {
            let message = String(describing: error)
            #expect(message.contains("hyperbolic"))
            for name in ModuliSpaces.names { #expect(message.contains(name), "error message lacks \(name): \(message)") }
        }
    }
}
