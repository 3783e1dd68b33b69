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
}
