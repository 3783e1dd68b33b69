// Persistent homology in a report: the diagrams a run holds (topology-<source>.json) become a
// barcode, a persistence diagram and a table of the longest bars; a damaged file is named in place.
import Foundation
import Testing
import Topology
@testable import Reports

@Suite struct TopologyReportTests {
    /// A copy of a fixture run holding `files` (name -> text) beside its records.
    static func run(with files: [String: String]) throws -> String {
        let f = try ReportFixture.get()
        let dir = f.outputPath()
        try FileManager.default.copyItem(atPath: f.torus0, toPath: dir)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        return dir
    }

    @Test func savedDiagramsBecomeBarcodesAndTheLongestBars() throws {
        let diagrams = [
            PersistenceDiagram(dimension: 0, pairs: [PersistencePair(birth: 0, death: nil), PersistencePair(birth: 0, death: 0.25)]),
            PersistenceDiagram(
                dimension: 1,
                pairs: (0..<30).map { PersistencePair(birth: 0.5, death: 0.5 + 0.01 * Double($0 + 1)) }
                    + [PersistencePair(birth: 0.4, death: 1.9), PersistencePair(birth: 0.45, death: 1.7)]),
            PersistenceDiagram(dimension: 2, pairs: [PersistencePair(birth: 0.9, death: 1.5)])
        ]
        let dir = try Self.run(with: ["topology-hidden.json": String(decoding: DiagramFile.encode(diagrams), as: UTF8.self)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try RunReport(paths: [dir])
        let html = String(decoding: try #require(report.files["report.html"]), as: UTF8.self)
        #expect(html.contains("Barcode of the hidden states") && html.contains("Persistence diagram of the hidden states"))
        // 24 of the 32 H1 bars are drawn, and the page says so.
        #expect(html.contains("H1: 24 of 32 bars drawn"))
        let csv = String(decoding: try #require(report.files["topology.csv"]), as: UTF8.self).split(separator: "\n").map(String.init)
        let name = URL(fileURLWithPath: dir).lastPathComponent
        #expect(csv.first == "run,source,dimension,rank,birth,death,barsInAll")
        // The longest bars first: H0 the essential class, H1 the two long loops, H2 the void.
        #expect(csv.contains("\(name),hidden,0,1,0.0,,2"))
        #expect(csv.contains("\(name),hidden,1,1,0.4,1.9,32") && csv.contains("\(name),hidden,1,2,0.45,1.7,32"))
        #expect(csv.contains("\(name),hidden,2,1,0.9,1.5,1"))
        #expect(csv.count == 1 + 2 + 5 + 1)
        let md = String(decoding: try #require(report.files["report.md"]), as: UTF8.self)
        #expect(md.contains("Longest bars of the hidden states (topology-hidden.json)"))
    }

    @Test func aDamagedDiagramFileIsNamedAndTheRestIsWritten() throws {
        let dir = try Self.run(with: ["topology-positions.json": #"{"diagrams": [{"dimension": 1, "pairs": [[2, 1]]}]}"#])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try RunReport(paths: [dir])
        let html = String(decoding: try #require(report.files["report.html"]), as: UTF8.self)
        #expect(
            html.contains("Persistent homology of the neuron positions") && html.contains("topology-positions.json")
                && html.contains("dies at 1.0, before its birth 2.0"))
        #expect(html.contains("W_hh: kept weights"), "the rest of the run's section is still there")
        // Without diagrams topology.csv is its header alone.
        #expect(
            String(decoding: try #require(report.files["topology.csv"]), as: UTF8.self)
                == "run,source,dimension,rank,birth,death,barsInAll\n")
    }
}
