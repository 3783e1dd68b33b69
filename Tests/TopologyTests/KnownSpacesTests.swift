// Oracle 2: point clouds sampled from known spaces give the long bars of their homology: circle
// (one H1), flat torus (two H1, one H2), sphere (one H2, no H1), Klein bottle (over Z/2 two H1 and
// one H2; over Z/3 one H1 and no H2).
import Testing
import Topology

@Suite struct KnownSpacesTests {
    func diagrams(_ points: [[Double]], _ maxDimension: Int, prime: Int = 2) throws -> [PersistenceDiagram] {
        try VietorisRips.diagrams(DistanceMatrix(points: points), options: RipsOptions(maxDimension: maxDimension, prime: prime))
    }

    // Rule for "long" (circle, torus, sphere): `longBarCount`, the bars before the first gap where
    // a persistence exceeds 3 times the next one.

    @Test func aNoisyCircleHasOneLongLoop() throws {
        let d = try diagrams(Clouds.circle(60, noise: 0.05, seed: 1), 1)
        #expect(longBarCount(d[1]) == 1)
        #expect(d[0].pairs.filter { $0.death == nil }.count == 1)
        #expect(d[0].pairs.count == 60)  // distinct points: every H0 bar has positive length
    }

    @Test func aFlatTorusHasTwoLongLoopsAndOneLongVoid() throws {
        let d = try diagrams(Clouds.flatTorusGrid(side: 9, jitter: 0.2, noise: 0.02, seed: 3), 2)
        #expect(longBarCount(d[1]) == 2, "H1 \(persistences(d[1]).prefix(4))")
        #expect(longBarCount(d[2]) == 1, "H2 \(persistences(d[2]).prefix(3))")
    }

    @Test func aSphereHasOneLongVoidAndNoLongLoop() throws {
        let d = try diagrams(Clouds.fibonacciSphere(50, noise: 0.02, seed: 2), 2)
        #expect(longBarCount(d[2]) == 1, "H2 \(persistences(d[2]).prefix(3))")
        let void = persistences(d[2])[0]
        #expect(persistences(d[1]).allSatisfy { 3 * $0 < void }, "H1 \(persistences(d[1]).prefix(3))")
    }

    /// The regular octahedron is a triangulated sphere: one H2 bar [1, sqrt 2), nothing in H1.
    @Test func theOctahedronIsASphere() throws {
        let pts: [[Double]] = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
        for p in [2, 3] {
            let d = try diagrams(pts, 2, prime: p)
            #expect(d[1].pairs.isEmpty)
            #expect(d[2].pairs.count == 1)
            #expect(
                d[2].pairs.first.map { abs($0.birth - 2.0.squareRoot()) < 1e-12 && $0.death.map { abs($0 - 2) < 1e-12 } == true } == true)
        }
    }

    /// Klein bottle in R^4 on a 16 x 8 triangular lattice (128 points). Rule for "long": persistence
    /// over 0.6; the lattice's own bars stay below 0.45 (the longest, 0.44, is the inner u-circle of
    /// radius R - r = 0.5), the Klein bottle's bars are above 0.7.
    @Test(arguments: [2, 3])
    func aKleinBottleDependsOnTheCoefficients(prime: Int) throws {
        let d = try diagrams(
            Clouds.kleinBottleGrid(uSteps: 16, vSteps: 8, jitter: 0, noise: 0, seed: 4, R: 1.5), 2,
            prime: prime)
        let long1 = persistences(d[1]).filter { $0 > 0.6 }, long2 = persistences(d[2]).filter { $0 > 0.6 }
        #expect(persistences(d[1]).filter { $0 > 0.45 && $0 <= 0.6 }.isEmpty)
        #expect(persistences(d[2]).filter { $0 > 0.45 && $0 <= 0.6 }.isEmpty)
        if prime == 2 {
            #expect(long1.count == 2, "H1 \(persistences(d[1]).prefix(4))")
            #expect(long2.count == 1, "H2 \(persistences(d[2]).prefix(3))")
        } else {
            #expect(long1.count == 1, "H1 \(persistences(d[1]).prefix(4))")
            #expect(long2.isEmpty, "H2 \(persistences(d[2]).prefix(3))")
        }
    }
}
