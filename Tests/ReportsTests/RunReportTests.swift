// The report of tiny navigation runs: a well-formed self-contained page whose plotted numbers,
// Markdown and CSV are those of the runs' records; the kept-by-distance profile against a naive
// recomputation; bad input and the output directory's rules.
import Foundation
import Formats
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing
import Experiments
import Geometry
import Linalg
import NN
import Sparsity
@testable import Reports

@Suite struct RunReportTests {
    /// The report of the three fixture runs, written once.
    static let written: Result<(fixture: ReportFixture, out: String), ExperimentError> = {
        do {
            let f = try ReportFixture.get()
            let out = f.outputPath()
            var options = ReportOptions()
            options.title = "tiny runs"
            try RunReport(paths: f.all, options: options).write(to: out)
            return .success((f, out))
        } catch { return .failure(ExperimentError("\(error)")) }
    }()

    static func report() throws -> (fixture: ReportFixture, out: String) { try written.get() }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    static func summary(_ run: String) throws -> RunSummary {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json")))
    }

    @Test func theDirectoryHoldsTheReportFilesOnly() throws {
        let (_, out) = try Self.report()
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        #expect(files == RunReport.fileNames, "\(files.symmetricDifference(RunReport.fileNames))")
        // No temporary or set-aside copy of this report is left beside it (other tests write their
        // reports into the same parent concurrently, so only this report's name counts).
        let parent = URL(fileURLWithPath: out).deletingLastPathComponent().path, name = URL(fileURLWithPath: out).lastPathComponent
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: parent).allSatisfy {
                !$0.hasPrefix(".\(name).tmp-") && !$0.hasPrefix(".\(name).old-")
            })
    }

    @Test func thePageIsWellFormedAndSelfContained() throws {
        let (_, out) = try Self.report()
        let html = try Self.text(out + "/report.html")
        let page = try #require(ReportPage.parse(Data(html.utf8)), "report.html is not well-formed XML")
        #expect(page.svgDepth == 0 && page.charts.count >= 10, "\(page.charts.count) charts")
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        // The only URL is the SVG namespace; images are inline PNG data.
        let urls = html.matches(of: /(https?|ftp|file):\/\/[^"' )<]*/).map { String($0.output.0) }
        #expect(Set(urls) == ["http://www.w3.org/2000/svg"], "\(Set(urls))")
        for forbidden in ["<script", "<link", "src=", "@import", "url("] { #expect(!html.contains(forbidden), "\(forbidden)") }
        #expect(!page.imageHrefs.isEmpty && page.imageHrefs.allSatisfy { $0.hasPrefix("data:image/png;base64,") })
        for href in page.imageHrefs {
            let png = try #require(Data(base64Encoded: String(href.dropFirst("data:image/png;base64,".count))))
            #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        }
        // Every chart has axis labels and a legend.
        #expect(html.components(separatedBy: "class=\"legend\"").count - 1 >= page.charts.filter { !$0.hasPrefix("unit ") }.count - 1)
    }

    @Test func plottedCurvesAreTheMetricsLines() throws {
        let (f, out) = try Self.report()
        let page = try #require(ReportPage.parse(Data(contentsOf: URL(fileURLWithPath: out + "/report.html"))))
        for run in f.all {
            let name = URL(fileURLWithPath: run).lastPathComponent
            let lines = try MetricsLine.parseAll(Self.text(run + "/metrics.jsonl"))
            let train = lines.compactMap { if case .train(let r) = $0 { r } else { nil } }
            let eval = lines.compactMap { if case .eval(let r) = $0 { r } else { nil } }
            let prune = lines.compactMap { if case .prune(let r) = $0 { r } else { nil } }
            let loss = try #require(page.series.first { $0.chart == "Training loss" && $0.series == name })
            #expect(loss.xs == train.map { Double($0.step) } && loss.ys == train.map(\.loss))
            let error = try #require(page.series.first { $0.chart == "decodingErrorCM on evaluation" && $0.series == name })
            #expect(error.xs == eval.map { Double($0.step) } && error.ys == eval.map { $0.metrics["decodingErrorCM"]! })
            let s = try Self.summary(run)
            #expect(error.ys.last == s["decodingErrorCM"], "the last evaluation is the summary's")
            let hh = try #require(page.series.first { $0.chart == "Sparsity of rnn.weight_hh_l0" && $0.series == name })
            let recorded = prune.map { e in 100 * e.sparsity.tensors.first { $0.name == "rnn.weight_hh_l0" }!.sparsity }
            #expect(Array(hh.ys.dropFirst().prefix(recorded.count)) == recorded)
            #expect(hh.ys.last == 100 * s.main.sparsity.recurrent.sparsity)
        }
        let events = try #require(page.series.first { $0.chart == "Training loss" && $0.series == "pruning event" })
        #expect(events.xs == [10, 20], "pruning at the start of epochs 2 and 3")
        let baseline = try #require(
            page.series.first { $0.chart == "decodingErrorCM on evaluation" && $0.series == "centreGuessCM (baseline)" })
        #expect(baseline.ys == [try Self.summary(f.torus0).baselines["centreGuessCM"]!])
    }

    @Test func csvAndMarkdownAgreeWithTheSummaries() throws {
        let (f, out) = try Self.report()
        let runs = readCSV(try Self.text(out + "/runs.csv"))
        let markdown = try Self.text(out + "/report.md")
        #expect(runs.rows.count == 3)
        for (row, path) in zip(runs.rows, f.all) {
            let s = try Self.summary(path)
            for m in ["decodingErrorCM", "decodingErrorCM50", "testLoss"] {
                #expect(Double(row[m] ?? "") == s[m], "\(m) of \(path)")
                #expect(markdown.contains(String(format: "%.4g", s[m]!)))
            }
            #expect(Double(row["W_hh sparsity"] ?? "") == s.main.sparsity.recurrent.sparsity)
            #expect(row["seed"] == "\(s.seed)")
        }
        let groups = readCSV(try Self.text(out + "/groups.csv"))
        #expect(groups.rows.map { $0["configuration"] } == ["torus", "none"])
        let a = try Self.summary(f.torus0)["decodingErrorCM"]!, b = try Self.summary(f.torus1)["decodingErrorCM"]!
        let mean = try #require(Double(groups.rows[0]["decodingErrorCM mean"] ?? ""))
        let std = try #require(Double(groups.rows[0]["decodingErrorCM std"] ?? ""))
        #expect(abs(mean - (a + b) / 2) <= 1e-12 * abs(mean))
        #expect(abs(std - abs(a - b) / 2.squareRoot()) <= 1e-9 * max(std, 1e-300), "sample std of two values is |a - b| / sqrt 2")
        #expect(groups.rows[1]["decodingErrorCM std"] == "", "one run has no std")
        #expect(markdown.contains("| torus | 2 | 0,1 |"))
        let curves = readCSV(try Self.text(out + "/curves.csv"))
        let lines = try MetricsLine.parseAll(Self.text(f.torus0 + "/metrics.jsonl"))
        let trainCount = lines.filter { if case .train = $0 { true } else { false } }.count
        #expect(curves.rows.filter { $0["run"] == "torus-s0" && $0["kind"] == "train" && $0["series"] == "loss" }.count == trainCount)
    }

    @Test func keptFractionByDistanceMatchesANaiveCount() throws {
        let (f, out) = try Self.report()
        let positions = try NPYFile.read(from: URL(fileURLWithPath: f.torus0 + "/positions.npy"))
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: f.torus0 + "/model.safetensors")))
        let w = try #require(tensors.first { $0.name == "rnn.weight_hh_l0" })
        let space = FlatTorus(dimension: 2, side: 10), h = 16
        var d = [Double](), keptAt = [Bool]()
        for i in 0..<h {
            for j in 0..<h where j != i {
                d.append(space.distance(positions.row(i).map(Double.init), positions.row(j).map(Double.init)))
                keptAt.append(w.scalars[i * h + j] != 0)
            }
        }
        let rows = readCSV(try Self.text(out + "/distance.csv")).rows.filter { $0["run"] == "torus-s0" }
        #expect(rows.count == 20)
        #expect(rows.compactMap { Int($0["pairs"] ?? "") }.reduce(0, +) == h * h - h, "every pair of distinct neurons")
        let s = try Self.summary(f.torus0)
        let keptOnDiagonal = (0..<h).filter { w.scalars[$0 * h + $0] != 0 }.count
        #expect(
            rows.compactMap { Int($0["kept"] ?? "") }.reduce(0, +) + keptOnDiagonal == s.main.sparsity.recurrent.count
                - s.main.sparsity.recurrent.zeros)
        let top = d.max()!
        for row in rows {
            let b = Int(row["bin"]!)!
            let inBin = d.indices.filter { min(19, Int(d[$0] / (top / 20))) == b }
            #expect(Int(row["pairs"]!) == inBin.count, "bin \(b)")
            #expect(Int(row["kept"]!) == inBin.filter { keptAt[$0] }.count, "bin \(b)")
            #expect(Double(row["randomMaskFraction"]!) == Double(keptAt.filter { $0 }.count) / Double(h * h - h))
        }
        let none = readCSV(try Self.text(out + "/distance.csv")).rows.filter { $0["run"] == "none-s0" }
        #expect(none.isEmpty, "a run without a regularizer has no positions")
        #expect(try Self.text(out + "/report.html").contains("Kept fraction against manifold distance (none-s0): not available"))
    }

    @Test func navigationFiguresComeFromTheModel() throws {
        let (f, out) = try Self.report()
        let paths = readCSV(try Self.text(out + "/paths.csv")).rows.filter { $0["run"] == "torus-s0" }
        #expect(paths.count == 4 * 5, "4 trajectories of 5 steps")
        // The true path is the run's first evaluation batch.
        let config = try JSONDecoder().decode(
            NavigationConfig.self, from: Data(contentsOf: URL(fileURLWithPath: f.torus0 + "/config.json")))
        let task = try NavigationTask(options: config.options)
        let batch = task.evaluationSets[0][0]
        for row in paths {
            let t = Int(row["trajectory"]!)!, s = Int(row["step"]!)!
            #expect(Double(row["trueX"]!) == Double(batch.positions[(s - 1) * batch.batchSize + t, 0]))
        }
        let maps = readCSV(try Self.text(out + "/firing_maps.csv")).rows.filter { $0["run"] == "torus-s0" }
        #expect(maps.count % 400 == 0 && !maps.isEmpty)
    }

    @Test func anUnloadableModelIsSaidInPlaceOfTheFigures() throws {
        let f = try ReportFixture.get()
        let copy = f.root + "/broken-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: f.torus0, toPath: copy)
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: copy + "/model.safetensors"))
        let out = f.outputPath()
        try RunReport(paths: [copy]).write(to: out)
        let html = try Self.text(out + "/report.html")
        #expect(html.contains("Decoded trajectories and firing maps"))
        #expect(html.contains("not available"))
        #expect(ReportPage.parse(Data(html.utf8)) != nil)
    }

    @Test func aDirectoryThatIsNoRunIsNamedInTheError() throws {
        let f = try ReportFixture.get()
        let empty = f.root + "/empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        let out = f.outputPath()
        #expect { try RunReport(paths: [f.torus0, empty]) } throws: { "\($0)".contains(empty) && "\($0)".contains("config.json") }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: empty + "/config.json"))
        #expect { try RunReport(paths: [empty]) } throws: { "\($0)".contains(empty) && "\($0)".contains("summary.json") }
        #expect { try RunReport(paths: [f.root + "/missing"]) } throws: { "\($0)".contains("missing") }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func theOutputDirectoryIsReplacedOnlyWhenItHoldsAReport() throws {
        let f = try ReportFixture.get()
        let report = try RunReport(
            paths: [f.none0],
            options: {
                var o = ReportOptions(); o.probeModels = false; return o
            }())
        // A run directory, a directory with other files and a file are refused, untouched.
        #expect { try report.write(to: f.none0) } throws: { "\($0)".contains("run directory") }
        let other = f.root + "/other-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: other + "/notes.txt"))
        #expect { try report.write(to: other) } throws: { "\($0)".contains("notes.txt") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["notes.txt"])
        #expect { try report.write(to: other + "/notes.txt") } throws: { "\($0)".contains("not a directory") }
        // An earlier report is replaced; an empty directory is used.
        let out = f.outputPath()
        try report.write(to: out)
        let second = try RunReport(
            paths: [f.torus0],
            options: {
                var o = ReportOptions(); o.probeModels = false; return o
            }())
        try second.write(to: out)
        #expect(try Self.text(out + "/runs.csv").contains("torus-s0") && !(try Self.text(out + "/runs.csv")).contains("none-s0"))
        let empty = f.root + "/empty-out-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        try report.write(to: empty)
        #expect(FileManager.default.fileExists(atPath: empty + "/report.html"))
        #expect { try report.write(to: f.root + "/no/such/parent") } throws: { "\($0)".contains("does not exist") }
    }
}
