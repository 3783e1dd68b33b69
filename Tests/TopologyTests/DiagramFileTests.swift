// The JSON diagram file: what `moduli topology --json` writes reads back exactly; damage is named.
import Foundation
import Testing
import Topology

@Suite struct DiagramFileTests {
    @Test func diagramsReadBackExactly() throws {
        let diagrams = [
            PersistenceDiagram(dimension: 0, pairs: [PersistencePair(birth: 0, death: 0.1 + 0.2), PersistencePair(birth: 0, death: nil)]),
            PersistenceDiagram(dimension: 1, pairs: [PersistencePair(birth: 1e-300, death: 3.25)]),
            PersistenceDiagram(dimension: 2, pairs: [])
        ]
        let data = DiagramFile.encode(diagrams)
        #expect(
            String(decoding: data, as: UTF8.self).hasPrefix(
                "{\"diagrams\": [{\"dimension\": 0, \"pairs\": [[0.0, 0.30000000000000004], [0.0, null]]}"))
        #expect(try DiagramFile.decode(data) == diagrams)
        // What other JSON writers produce (ripser's output through Python's json) reads too.
        let python = #"{"diagrams": [{"dimension": 1, "pairs": [[0.5, 1], [2, null]]}]}"#
        #expect(
            try DiagramFile.decode(Data(python.utf8)) == [
                PersistenceDiagram(
                    dimension: 1,
                    pairs: [
                        PersistencePair(birth: 0.5, death: 1), PersistencePair(birth: 2, death: nil)
                    ])
            ])
    }

    @Test func damagedFilesAreNamedErrors() {
        let cases: [(String, String)] = [
            (#"{"diagram": []}"#, "is not"),
            (#"{"diagrams": [{"dimension": -1, "pairs": []}]}"#, "dimension -1"),
            (#"{"diagrams": [{"dimension": 1, "pairs": []}, {"dimension": 1, "pairs": []}]}"#, "appears twice"),
            (#"{"diagrams": [{"dimension": 1, "pairs": [[1]]}]}"#, "pair 0 of dimension 1"),
            (#"{"diagrams": [{"dimension": 1, "pairs": [[null, 1]]}]}"#, "finite birth"),
            (#"{"diagrams": [{"dimension": 2, "pairs": [[0, 1], [2, 1]]}]}"#, "pair 1 of dimension 2 dies at 1.0, before its birth 2.0")
        ]
        for (text, expected) in cases {
            do {
                _ = try DiagramFile.decode(Data(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }
}
