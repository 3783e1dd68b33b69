// The combinatorial number system: decoding inverts encoding, and too many points for the index
// type is a TopologyError (checked on the numbering itself: a matrix that large is gigabytes).
import Testing
@testable import Topology

@Suite struct SimplexNumberingTests {
    @Test func decodingInvertsEncodingAndIndicesAreDense() throws {
        let numbering = try SimplexNumbering(vertexCount: 9, largestK: 4)
        for k in 1...4 {
            var seen = Set<Int>()
            // every k-subset of 0..<9, largest vertex first
            func subsets(_ prefix: [Int], _ below: Int) {
                if prefix.count == k {
                    let index = numbering.index(ofDescending: prefix)
                    #expect(numbering.vertices(of: index, dimension: k - 1) == prefix)
                    seen.insert(index)
                    return
                }
                for v in stride(from: below - 1, through: 0, by: -1) { subsets(prefix + [v], v) }
            }
            subsets([], 9)
            #expect(seen == Set(0..<numbering.binomial(9, k)))
        }
    }

    @Test func tooManyPointsForTheNumberingIsAnError() throws {
        // C(n, 5) > Int.max from n = 16,176 (dimension 3); C(n, 4) from n = 121,978 (dimension 2).
        #expect(throws: TopologyError.self) { try SimplexNumbering(vertexCount: 20_000, largestK: 5) }
        #expect((try? SimplexNumbering(vertexCount: 20_000, largestK: 4)) != nil)
        do {
            _ = try SimplexNumbering(vertexCount: 200_000, largestK: 4)
            Issue.record("no error")
        } catch let e as TopologyError {
            #expect(e.description.contains("200000 points"))
            #expect(e.description.contains("dimension 2"))
            #expect(e.description.contains("fewer points"))
        }
    }
}
