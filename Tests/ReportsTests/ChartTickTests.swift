// Charts over degenerate data: equal values, spans at the limit of a Double's resolution, NaN and
// infinities give drawable ranges, distinct ticks and labels instead of a trap; a report on three
// seeds with one value; a run named twice and a metric that is not a number are refused.
import Foundation
import Testing
import Experiments
@testable import Reports

@Suite struct ChartTickTests {
    @Test(arguments: [
        (0.7, 0.7), (0.6999999999999997, 0.7), (1.0, 1.0 + 1e-15), (1e-320, 1e-320), (0.0, 0.0), (-5.0, -5.0),
        (-Double.infinity, Double.infinity), (-1e308, 1e308), (Double.nan, 1.0), (0.0, Double.infinity)
    ])
    func aDegenerateRangeIsWidenedIntoADrawableOne(lower: Double, upper: Double) {
        for pad in [false, true] {
            let r = SVGChart.drawable(lower, upper, pad: pad)
            #expect(r.lowerBound.isFinite && r.upperBound.isFinite && r.upperBound > r.lowerBound, "\(lower)...\(upper) -> \(r)")
            let ticks = SVGChart.ticks(r)
            #expect(!ticks.isEmpty && Set(ticks).count == ticks.count, "\(r): ticks \(ticks)")
            let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
            #expect(step > 0)
            _ = ticks.map { SVGChart.tickLabel($0, step: step) }
        }
    }

    @Test func ticksOfATinyOrUnusableRangeAreDistinctOrTheBounds() {
        // A span of 1e-15 at 1: round ticks would all print as "1".
        let tiny = SVGChart.ticks(1.0...(1.0 + 1e-15))
        #expect(Set(tiny).count == tiny.count && !tiny.isEmpty, "\(tiny)")
        #expect(SVGChart.ticks(0.7...0.7) == [0.7])
        let infinite = SVGChart.ticks(-Double.infinity...Double.infinity)
        #expect(!infinite.contains { !$0.isFinite })
        #expect(SVGChart.ticks(0...Double.infinity) == [0])
        #expect(SVGChart.ticks(0...1, target: 0) == SVGChart.ticks(0...1, target: 1))
    }

    @Test func tickLabelsOfAnyStepOrValueAreText() {
        #expect(SVGChart.tickLabel(0.7, step: 0) == "0.7")
        #expect(SVGChart.tickLabel(0.7, step: .nan) == "0.7")
        #expect(SVGChart.tickLabel(0.7, step: -1) == "0.7")
        #expect(SVGChart.tickLabel(0.7, step: 5e-324) == "0.700000")
        #expect(SVGChart.tickLabel(.nan, step: 1) == "nan")
        #expect(SVGChart.tickLabel(.infinity, step: 1) == "inf" && SVGChart.tickLabel(-.infinity, step: .infinity) == "-inf")
        #expect(SVGChart.tickLabel(0.05, step: 0.05) == "0.05")
        #expect(SVGChart.clampedInt(.nan, 3...8) == 3 && SVGChart.clampedInt(.infinity, 3...8) == 8 && SVGChart.clampedInt(5.9, 3...8) == 5)
    }

    @Test func chartsOfDegenerateDataRender() {
        let cases: [[(x: Double, y: Double)]] = [
            [(0, 0.6999999999999998), (0, 0.7), (1, 0.6999999999999997)],
            [(0, 1), (1, 1 + 1e-15)],
            [(0, .nan), (1, .infinity), (2, -.infinity)],
            [(0, 1e308), (1, -1e308)],
            [(Double.leastNonzeroMagnitude, Double.leastNonzeroMagnitude)]
        ]
        for points in cases {
            for aspect in [false, true] {
                var chart = SVGChart(title: "t", xLabel: "x", yLabel: "y")
                chart.layers = [.points(name: "p", color: "#000000", points: points, colors: nil, radius: 2)]
                chart.equalAspect = aspect
                #expect(chart.render().hasSuffix("</svg>"))
                chart.xRange = 3...3; chart.yRange = -Double.infinity...Double.infinity
                #expect(chart.render().hasSuffix("</svg>"))
            }
        }
    }

    /// Three copies of a finished run whose summaries hold `value` for `testMSE` and no baselines.
    static func threeSeeds(value: Double) throws -> (root: String, runs: [String]) {
        let fixture = try ReportFixture.get()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-ticks-\(UUID().uuidString)").path
        var runs: [String] = []
        for seed in 0..<3 {
            let run = root + "/same-s\(seed)"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            for name in ["config.json", "summary.json", "metrics.jsonl"] {
                try FileManager.default.copyItem(atPath: fixture.none0 + "/" + name, toPath: run + "/" + name)
            }
            var summary =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as! [String: Any]
            summary["testMSE"] = value
            summary["baselines"] = [String: Double]()
            try JSONSerialization.data(withJSONObject: summary).write(to: URL(fileURLWithPath: run + "/summary.json"))
            runs.append(run)
        }
        return (root, runs)
    }

    @Test func aReportOnThreeSeedsWithOneValueIsWritten() throws {
        // (0.7 + 0.7 + 0.7) / 3 = 0.6999999999999998 and the sample std is about 1.4e-16.
        let (root, runs) = try Self.threeSeeds(value: 0.7)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var options = ReportOptions()
        options.probeModels = false
        let report = try RunReport(paths: runs, options: options)
        let html = String(decoding: try #require(report.files["report.html"]), as: UTF8.self)
        #expect(html.contains("Final testMSE per configuration"))
    }

    @Test func aRunNamedTwiceIsRefusedByReportAndCompare() throws {
        let f = try ReportFixture.get()
        let again = URL(fileURLWithPath: f.torus0).deletingLastPathComponent().path + "/./torus-s0"
        for paths in [[f.torus0, f.torus1, f.torus0], [f.torus0, again]] {
            var options = ReportOptions()
            options.probeModels = false
            let report = #expect(throws: ExperimentError.self) { try RunReport(paths: paths, options: options) }
            #expect(report?.description.contains("each run counts once") == true, "\(report?.description ?? "accepted")")
            #expect(report?.description.contains("moduli report \(f.torus0) \(f.torus1)") == true || paths.count == 2)
            let compare = #expect(throws: ExperimentError.self) { try RunComparison.load(paths) }
            #expect(compare?.description.contains("moduli compare") == true, "\(compare?.description ?? "accepted")")
        }
        let link = f.root + "/link-\(UUID().uuidString)"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: f.none0)
        defer { try? FileManager.default.removeItem(atPath: link) }
        #expect(throws: ExperimentError.self) { try RunComparison.load([f.none0, link]) }
        #expect(try RunComparison.load([f.torus0, f.none0]).count == 2)
    }

    @Test func aMetricThatIsNotANumberIsAnErrorNamingTheRunAndTheKey() throws {
        let (root, runs) = try Self.threeSeeds(value: 0.5)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = runs[1] + "/summary.json"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"testMSE\":0.5", with: "\"testMSE\":\"0.5 (edited)\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var options = ReportOptions()
        options.probeModels = false
        let e = #expect(throws: ExperimentError.self) { try RunReport(paths: runs, options: options) }
        let m = e?.description ?? ""
        #expect(
            m.contains(path) && m.contains("line 1, column") && m.contains("testMSE") && m.contains("expected a number, found a string"),
            "\(m)")
        let c = #expect(throws: ExperimentError.self) { try RunComparison.load([runs[1]]) }
        #expect(c?.description.contains("testMSE") == true, "\(c?.description ?? "accepted")")
    }
}
