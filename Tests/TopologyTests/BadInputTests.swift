// Bad input is a TopologyError naming the problem, never a trap: empty clouds, ragged rows,
// non-finite coordinates, bad matrices, bad options, too many points for the numbering.
import Testing
import Topology

@Suite struct BadInputTests {
    /// Expects `body` to throw a TopologyError whose message contains every one of `words`.
    func expectError(_ words: [String], _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("no error; expected one naming \(words)")
        } catch let e as TopologyError {
            for w in words { #expect(e.description.contains(w), "\(e.description) lacks \(w)") }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func pointClouds() {
        expectError(["empty", "at least one point"]) { _ = try DistanceMatrix(points: []) }
        expectError(["no coordinates"]) { _ = try DistanceMatrix(points: [[]]) }
        expectError(["ragged", "point 1", "3 coordinates", "2"]) { _ = try DistanceMatrix(points: [[0, 0], [1, 2, 3]]) }
        expectError(["point 1", "non-finite", "nan"]) { _ = try DistanceMatrix(points: [[0, 0], [.nan, 2]]) }
        expectError(["point 0", "non-finite", "inf"]) { _ = try DistanceMatrix(points: [[0, .infinity], [1, 2]]) }
        expectError(["overflows", "scale"]) { _ = try DistanceMatrix(points: [[0], [1e300], [-1e300]]) }
    }

    @Test func distanceMatrices() {
        expectError(["empty"]) { _ = try DistanceMatrix(count: 0, entries: []) }
        expectError(["negative"]) { _ = try DistanceMatrix(count: -2, entries: []) }
        expectError(["not square", "5 entries", "3 points"]) { _ = try DistanceMatrix(count: 3, entries: [0, 1, 1, 0, 2]) }
        expectError(["not symmetric", "(1, 0)", "(0, 1)"]) { _ = try DistanceMatrix(count: 2, entries: [0, 1, 2, 0]) }
        expectError(["negative", "(1, 0)"]) { _ = try DistanceMatrix(count: 2, entries: [0, -1, -1, 0]) }
        expectError(["not finite"]) { _ = try DistanceMatrix(count: 2, entries: [0, .nan, .nan, 0]) }
        expectError(["not finite"]) { _ = try DistanceMatrix(count: 2, entries: [0, .infinity, .infinity, 0]) }
        expectError(["diagonal", "(1, 1)", "zero"]) { _ = try DistanceMatrix(count: 2, entries: [0, 1, 1, 0.5]) }
        expectError(["not symmetric"]) { _ = try DistanceMatrix(count: 3) { i, j in Double(i) } }
        // Within 1e-9 relative is symmetric enough.
        #expect((try? DistanceMatrix(count: 2, entries: [0, 1, 1 + 1e-12, 0])) != nil)
    }

    @Test func options() throws {
        let d = try DistanceMatrix(points: [[0], [1], [3]])
        expectError(["maxDimension 4", "0...3"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(maxDimension: 4)) }
        expectError(["maxDimension -1"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(maxDimension: -1)) }
        expectError(["4 is not prime", "Z/4"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(prime: 4)) }
        expectError(["1 is out of range", "prime"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(prime: 1)) }
        expectError(["65537", "out of range"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(prime: 65537)) }
        expectError(["threshold -1", ">= 0"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(threshold: -1)) }
        expectError(["threshold nan"]) { _ = try VietorisRips.diagrams(d, options: RipsOptions(threshold: .nan)) }
        // The largest prime works.
        let big = try VietorisRips.diagrams(d, options: RipsOptions(prime: 65521))
        #expect(big[0].pairs.count == 3)
    }
}

@Suite struct NumberingLimitTests {
    /// 1,800 points to dimension 3 with Z/65521: C(1800, 5) is over 2^47, where entries keep 16
    /// bits for the coefficient. An error, before anything large is allocated.
    @Test func tooManyPointsForTheNumberingIsAnError() throws {
        let d = try DistanceMatrix(points: (0..<1800).map { [Double($0)] })
        do {
            _ = try VietorisRips.diagrams(d, options: RipsOptions(maxDimension: 3, prime: 65521))
            Issue.record("no error")
        } catch let e as TopologyError {
            for w in ["1800 points", "too many", "dimension 3", "Z/65521", "fewer points"] {
                #expect(e.description.contains(w), "\(e.description) lacks \(w)")
            }
        }
    }
}
