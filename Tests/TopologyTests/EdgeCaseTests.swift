// Small cases with known answers: one and two points, duplicate points, ties, thresholds, and the
// three ways to give a metric agreeing.
import Testing
import Topology

@Suite struct EdgeCaseTests {
    @Test func onePointHasOneEssentialComponentAndNothingElse() throws {
        let d = try VietorisRips.diagrams(DistanceMatrix(points: [[3, 4]]), options: RipsOptions(maxDimension: 3))
        #expect(d.map(\.dimension) == [0, 1, 2, 3])
        #expect(d[0].pairs == [PersistencePair(birth: 0, death: nil)])
        #expect(d.dropFirst().allSatisfy { $0.pairs.isEmpty })
    }

    @Test func twoPointsMergeAtTheirDistance() throws {
        let d = try VietorisRips.diagrams(DistanceMatrix(points: [[0, 0], [3, 4]]), options: RipsOptions(maxDimension: 2))
        #expect(canonical(d[0]) == [PersistencePair(birth: 0, death: 5), PersistencePair(birth: 0, death: nil)])
        #expect(d[1].pairs.isEmpty && d[2].pairs.isEmpty)
        let same = try VietorisRips.diagrams(DistanceMatrix(points: [[1, 1], [1, 1]]), options: RipsOptions())
        #expect(same[0].pairs == [PersistencePair(birth: 0, death: nil)])  // the [0, 0) bar is omitted
    }

    @Test func duplicatePointsChangeOnlyZeroLengthBars() throws {
        let circle = Clouds.circle(24, noise: 0.05, seed: 9)
        let once = try VietorisRips.diagrams(DistanceMatrix(points: circle), options: RipsOptions(maxDimension: 2, prime: 3))
        let twice = try VietorisRips.diagrams(
            DistanceMatrix(points: circle + circle.reversed()),
            options: RipsOptions(maxDimension: 2, prime: 3))
        for (a, b) in zip(once, twice) { #expect(canonical(a) == canonical(b), "H\(a.dimension)") }
    }

    /// A unit square: ties everywhere; one loop born at 1, filled at the diagonal sqrt 2.
    @Test func aSquareHasOneLoop() throws {
        let square: [[Double]] = [[0, 0], [1, 0], [1, 1], [0, 1]]
        for p in [2, 3, 5] {
            let d = try VietorisRips.diagrams(DistanceMatrix(points: square), options: RipsOptions(maxDimension: 2, prime: p))
            #expect(
                canonical(d[0]) == [
                    PersistencePair(birth: 0, death: 1), PersistencePair(birth: 0, death: 1),
                    PersistencePair(birth: 0, death: 1), PersistencePair(birth: 0, death: nil)
                ])
            #expect(d[1].pairs == [PersistencePair(birth: 1, death: 2.0.squareRoot())])
            #expect(d[2].pairs.isEmpty)
        }
    }

    @Test func aThresholdLeavesLiveClassesWithoutDeath() throws {
        let dm = try DistanceMatrix(points: Clouds.circle(30, noise: 0.02, seed: 5))
        let full = try VietorisRips.diagrams(dm, options: RipsOptions(maxDimension: 2))
        let loop = full[1].byPersistence[0]
        let t = (loop.birth + (loop.death ?? 0)) / 2  // the circle's loop is alive here
        let cut = try VietorisRips.diagrams(dm, options: RipsOptions(maxDimension: 2, threshold: t))
        #expect(cut[1].pairs.contains(PersistencePair(birth: loop.birth, death: nil)))
        #expect(cut[0].pairs.filter { $0.death == nil }.count == 1)
        for d in cut { #expect(d.pairs.allSatisfy { $0.birth <= t && ($0.death ?? 0) <= t }) }
        // Bars that end below the threshold are unchanged.
        for (a, b) in zip(full, cut) {
            #expect(canonical(a).filter { ($0.death ?? .infinity) <= t } == canonical(b).filter { $0.death != nil })
        }
        // Threshold 0: every point its own component; a threshold past the diameter changes nothing.
        let zero = try VietorisRips.diagrams(dm, options: RipsOptions(maxDimension: 1, threshold: 0))
        #expect(zero[0].pairs.count == 30 && zero[0].pairs.allSatisfy { $0 == PersistencePair(birth: 0, death: nil) })
        #expect(zero[1].pairs.isEmpty)
        let far = try VietorisRips.diagrams(dm, options: RipsOptions(maxDimension: 2, threshold: 100))
        for (a, b) in zip(full, far) { #expect(canonical(a) == canonical(b)) }
    }

    @Test func theThreeWaysToGiveAMetricAgree() throws {
        let pts = Clouds.uniformCube(9, dimension: 3, seed: 11)
        let a = try DistanceMatrix(points: pts)
        var entries = [Double]()
        for i in 0..<9 { for j in 0..<9 { entries.append(a[i, j]) } }
        let b = try DistanceMatrix(count: 9, entries: entries)
        let c = try DistanceMatrix(count: 9) { i, j in a[i, j] }
        #expect(a.count == 9 && b.count == 9 && c.count == 9)
        for i in 0..<9 { for j in 0..<9 { #expect(a[i, j] == b[i, j] && b[i, j] == c[i, j] && a[i, j] == a[j, i]) } }
        #expect(a[2, 2] == 0)
        let o = RipsOptions(maxDimension: 2, prime: 3)
        let da = try VietorisRips.diagrams(a, options: o), db = try VietorisRips.diagrams(b, options: o)
        for (x, y) in zip(da, db) { #expect(canonical(x) == canonical(y)) }
    }
}
