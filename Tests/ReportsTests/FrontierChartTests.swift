// The sparsity frontier chart of `moduli report`: one point per configuration at the means of its
// runs' W_hh sparsity and primary metric, read back from the chart's data attributes and checked
// against the runs' summary.json.
import Foundation
import Testing
import Experiments
@testable import Reports

@Suite struct FrontierChartTests {
    @Test func eachConfigurationIsOnePointAtItsMeans() throws {
        let (f, out) = try RunReportTests.report()
        let page = try #require(ReportPage.parse(Data(contentsOf: URL(fileURLWithPath: out + "/report.html"))))
        let chart = "decodingErrorCM against W_hh sparsity"
        for (name, paths) in [("torus", [f.torus0, f.torus1]), ("none", [f.none0])] {
            let summaries = try paths.map(RunReportTests.summary)
            let error = summaries.map { $0["decodingErrorCM"]! }.reduce(0, +) / Double(paths.count)
            let sparsity = summaries.map { $0.main.sparsity.recurrent.sparsity }.reduce(0, +) / Double(paths.count)
            let point = try #require(page.series.first { $0.chart == chart && $0.series == name }, "no point of \(name)")
            #expect(point.xs.count == 1 && abs(point.xs[0] - 100 * sparsity) <= 1e-9, "\(name): \(point.xs)")
            #expect(point.ys.count == 1 && abs(point.ys[0] - error) <= 1e-9 * max(1, error), "\(name): \(point.ys)")
        }
        // Two runs have a spread: its bar spans mean -+ the sample standard deviation.
        let a = try RunReportTests.summary(f.torus0)["decodingErrorCM"]!, b = try RunReportTests.summary(f.torus1)["decodingErrorCM"]!
        let bar = try #require(page.series.first { $0.chart == chart && $0.series == "torus +- std" })
        let sd = abs(a - b) / 2.0.squareRoot()
        #expect(abs(bar.ys[0] - ((a + b) / 2 - sd)) <= 1e-9 && abs(bar.ys[1] - ((a + b) / 2 + sd)) <= 1e-9, "\(bar.ys)")
        #expect(page.series.first { $0.chart == chart && $0.series == "none +- std" } == nil, "one run has no spread")
    }

    @Test func aConfigurationInSeveralDirectoriesIsOneLine() throws {
        // One sweep per sparsity: the same configuration names in two directories, `b`'s run at 50%
        // W_hh sparsity and another error.
        let f = try ReportFixture.get()
        let root = f.root + "/frontier-\(UUID().uuidString)"
        for (from, to) in [(f.torus0, "a/torus-s0"), (f.torus1, "a/torus-s1"), (f.torus0, "b/torus-s0"), (f.none0, "a/none-s0")] {
            try FileManager.default.createDirectory(
                atPath: root + "/" + (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: from, toPath: root + "/" + to)
        }
        let edited = URL(fileURLWithPath: root + "/b/torus-s0/summary.json")
        var summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: edited)) as? [String: Any])
        var main = try #require(summary["main"] as? [String: Any]), sparsity = try #require(main["sparsity"] as? [String: Any])
        var recurrent = try #require(sparsity["recurrent"] as? [String: Any])
        recurrent["sparsity"] = 0.5; sparsity["recurrent"] = recurrent; main["sparsity"] = sparsity; summary["main"] = main
        summary["decodingErrorCM"] = 77.0
        try JSONSerialization.data(withJSONObject: summary).write(to: edited)

        let out = f.outputPath()
        try RunReport(paths: ["a/torus-s0", "a/torus-s1", "b/torus-s0", "a/none-s0"].map { root + "/" + $0 }, options: ReportOptions())
            .write(to: out)
        let rows = readCSV(try RunReportTests.text(out + "/groups.csv")).rows
        #expect(
            rows.map { $0["configuration"] ?? "" } == ["a/torus", "b/torus", "none"], "the groups are named by directory where names repeat"
        )

        let page = try #require(ReportPage.parse(Data(contentsOf: URL(fileURLWithPath: out + "/report.html"))))
        let chart = "decodingErrorCM against W_hh sparsity"
        let a = try [f.torus0, f.torus1].map(RunReportTests.summary)
        let aPoint = (
            x: 100 * a.map { $0.main.sparsity.recurrent.sparsity }.reduce(0, +) / 2, y: a.map { $0["decodingErrorCM"]! }.reduce(0, +) / 2
        )
        let expected = [aPoint, (x: 50.0, y: 77.0)].sorted { $0.x < $1.x }
        let line = try #require(page.series.first { $0.chart == chart && $0.series == "torus" && $0.xs.count == 2 }, "no line of torus")
        for (k, p) in expected.enumerated() {
            #expect(abs(line.xs[k] - p.x) <= 1e-9 && abs(line.ys[k] - p.y) <= 1e-9 * max(1, p.y), "point \(k): \(line.xs), \(line.ys)")
        }
        #expect(!page.series.contains { $0.chart == chart && $0.series == "none" && $0.xs.count > 1 }, "none is in one directory")

        // Parents with the same last component are told apart by their whole paths.
        for side in ["x", "y"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(side)/runs", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: f.none0, toPath: "\(root)/\(side)/runs/none-s0")
        }
        let groups = RunGroup.group(try ["x", "y"].map { try ReportRun(path: "\(root)/\($0)/runs/none-s0") })
        let standardized = URL(fileURLWithPath: root).standardizedFileURL.path
        #expect(groups.map(\.name) == ["\(standardized)/x/runs/none", "\(standardized)/y/runs/none"], "\(groups.map(\.name))")
    }
}
