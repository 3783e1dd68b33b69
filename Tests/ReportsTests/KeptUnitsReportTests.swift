// Kept hidden units in reports: a torus navigation run that eliminated units while it trained shows
// "K of H" in the report and in `moduli compare`, and a chart whose kept points are the positions of
// the units its metrics.jsonl does not list as removed; a run whose summary lacks the field renders.
import Foundation
import Testing
import Experiments
import Formats
import Linalg
@testable import Reports

@Suite struct KeptUnitsReportTests {
    /// A tiny torus navigation run with annealed neuron elimination in `path`.
    static func train(_ path: String) throws {
        var c = NavigationConfig()
        c.placeCells = 24; c.hiddenSize = 16; c.width = 0.3; c.batchSize = 6; c.length = 5
        c.evaluationBatches = 2; c.evaluationBatchSize = 8
        c.epochs = 3; c.stepsPerEpoch = 10; c.logEvery = 5
        c.optimizer.learningRate = 3e-3
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.elimination = EliminationConfig(tolerance: 0.9, startTolerance: 0.5)
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        _ = try Trainer<NavigationTask>(config: c).train(in: run)
        run.unlock()
    }

    @Test func theReportAndTheComparisonShowTheKeptUnits() throws {
        let f = try ReportFixture.get()
        let root = f.root + "/kept-\(UUID().uuidString)"
        let eliminating = root + "/eliminating", plain = root + "/plain"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Self.train(eliminating)
        // A run of a version without the field: the fixture's none-s0 with keptUnits taken out of its summary.
        try FileManager.default.copyItem(atPath: f.none0, toPath: plain)
        var summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plain + "/summary.json"))) as? [String: Any])
        #expect(summary.removeValue(forKey: "keptUnits") != nil)
        try JSONSerialization.data(withJSONObject: summary).write(to: URL(fileURLWithPath: plain + "/summary.json"))

        let kept = try #require(try RunReportTests.summary(eliminating).keptUnits)
        try #require(kept < 16, "the run removed no unit")
        let out = f.outputPath()
        try RunReport(paths: [eliminating, plain], options: ReportOptions()).write(to: out)
        let html = try RunReportTests.text(out + "/report.html")
        #expect(html.contains("kept units \(kept) of 16"), "the run's facts do not name its kept units")
        let page = try #require(ReportPage.parse(Data(html.utf8)), "report.html is not well-formed XML")

        // The kept points are the positions of the units no elimination event removed.
        let lines = try MetricsLine.parseAll(String(contentsOfFile: eliminating + "/metrics.jsonl", encoding: .utf8))
        let removed = Set(
            lines.flatMap { line -> [Int] in
                if case .eliminate(let e) = line { return e.deadUnits + e.eliminatedUnits } else { return [] }
            })
        #expect(removed.count == 16 - kept, "metrics.jsonl removes \(removed.count) units, the summary keeps \(kept)")
        let positions: Matrix<Float> = try NPYFile.decode(Data(contentsOf: URL(fileURLWithPath: eliminating + "/positions.npy")))
        let chart = "Kept hidden units on the manifold (eliminating)"
        #expect(page.charts.contains(chart), "\(page.charts)")
        let keptSeries = try #require(page.series.first { $0.chart == chart && $0.series == "kept unit (\(kept))" })
        let removedSeries = try #require(page.series.first { $0.chart == chart && $0.series == "removed unit (\(16 - kept))" })
        let expected = (0..<16).filter { !removed.contains($0) }.map { (Double(positions[$0, 0]), Double(positions[$0, 1])) }
        try #require(keptSeries.xs.count == expected.count && removedSeries.xs.count == removed.count)
        for (k, point) in expected.enumerated() {
            #expect(abs(keptSeries.xs[k] - point.0) < 1e-3 && abs(keptSeries.ys[k] - point.1) < 1e-3, "kept unit \(k)")
        }
        // The run without the field: no kept units in its facts, no chart, an empty cell in runs.csv.
        #expect(!page.charts.contains("Kept hidden units on the manifold (plain)"))
        let csv = try RunReportTests.text(out + "/runs.csv")
        #expect(csv.contains("kept units"))

        let table = RunComparison.table(try RunComparison.load([eliminating, plain]))
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("kept units") }, "\(table)")
        #expect(row.contains("\(kept) of 16") && row.hasSuffix("-"), "\(row)")

        // A run removed units, so the frontier is also drawn against the kept parameters: the non-zero
        // entries of the pruned tensors, one point per configuration.
        let frontier = "decodingErrorCM against kept parameters"
        #expect(page.charts.contains(frontier), "\(page.charts)")
        for path in [eliminating, plain] {
            let s = try RunReportTests.summary(path)
            let name = URL(fileURLWithPath: path).lastPathComponent
            let point = try #require(page.series.first { $0.chart == frontier && $0.series == name }, "no point of \(name)")
            let keptParameters = Double(s.main.sparsity.pooled.count - s.main.sparsity.pooled.zeros)
            #expect(point.xs == [keptParameters] && point.ys == [s["decodingErrorCM"]!], "\(name): \(point.xs) \(point.ys)")
        }
        #expect(try RunReportTests.text(out + "/groups.csv").contains("kept parameters mean"))
    }

    @Test func aReportOfRunsWithoutTheFieldRenders() throws {
        let f = try ReportFixture.get()
        let plain = f.root + "/plain-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: f.torus0, toPath: plain)
        var summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plain + "/summary.json"))) as? [String: Any])
        summary.removeValue(forKey: "keptUnits")
        try JSONSerialization.data(withJSONObject: summary).write(to: URL(fileURLWithPath: plain + "/summary.json"))
        let out = f.outputPath()
        try RunReport(paths: [plain], options: ReportOptions()).write(to: out)
        let html = try RunReportTests.text(out + "/report.html")
        let page = try #require(ReportPage.parse(Data(html.utf8)))
        #expect(!html.contains("kept units 16"))
        #expect(!page.charts.contains { $0.hasSuffix("against kept parameters") }, "no run removed units: \(page.charts)")
        #expect(!RunComparison.table(try RunComparison.load([plain])).contains("kept units"))
        // The fixture's own runs record their 16 units.
        #expect(RunComparison.table(try RunComparison.load([f.torus0])).contains("16 of 16"))
    }
}
