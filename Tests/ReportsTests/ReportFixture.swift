// Tiny navigation runs trained once per test process through the library API, and helpers that
// read a report back: its XML, the numbers in its charts' data attributes, its CSV files.
import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing
import Experiments
import Geometry
@testable import Reports

/// Tiny finished runs in a temporary directory: torus-s0, torus-s1 (a group) and none-s0.
struct ReportFixture: Sendable {
    let root: String
    var torus0: String { root + "/torus-s0" }
    var torus1: String { root + "/torus-s1" }
    var none0: String { root + "/none-s0" }
    var all: [String] { [torus0, torus1, none0] }

    /// The temporary directory of this test process, deleted when the process exits.
    static let rootPath = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-report-tests-\(UUID().uuidString)").path

    /// Trained once, shared by every test (about a second in a debug build).
    static let shared: Result<ReportFixture, ExperimentError> = {
        let root = rootPath
        atexit { try? FileManager.default.removeItem(atPath: ReportFixture.rootPath) }
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            for (name, seed, space) in [("torus-s0", UInt64(0), "torus"), ("torus-s1", 1, "torus"), ("none-s0", 0, "none")] {
                var c = NavigationConfig()
                c.placeCells = 24; c.hiddenSize = 16; c.width = 0.3; c.batchSize = 6; c.length = 5
                c.evaluationBatches = 2; c.evaluationBatchSize = 8
                c.epochs = 3; c.stepsPerEpoch = 10; c.logEvery = 5
                c.optimizer.learningRate = 3e-3
                c.seed = seed
                if space != "none" { c.regularizer = .geometric(space: space, lambda: 0.1) }
                let run = try RunDirectory(path: root + "/" + name, overwrite: false, resume: false)
                _ = try Trainer<NavigationTask>(config: c).train(in: run)
                run.unlock()
            }
            return .success(ReportFixture(root: root))
        } catch {
            return .failure(ExperimentError("training the fixture runs failed: \(error)"))
        }
    }()

    static func get() throws -> ReportFixture { try shared.get() }

    /// A fresh path for a report under the fixture's root.
    func outputPath() -> String { root + "/report-\(UUID().uuidString)" }
}

/// One chart's data layer as the HTML carries it.
struct PlottedSeries {
    var chart: String
    var series: String
    var xs: [Double]
    var ys: [Double]
}

/// Parses a report page as XML, collecting every element with `data-series` under its chart's title.
final class ReportPage: NSObject, XMLParserDelegate {
    var series: [PlottedSeries] = []
    var svgDepth = 0, maxSvgDepth = 0
    var charts: [String] = []
    var imageHrefs: [String] = []
    private var titles: [String] = []

    /// Nil when the page is not well-formed XML.
    static func parse(_ data: Data) -> ReportPage? {
        let page = ReportPage()
        let parser = XMLParser(data: data)
        parser.delegate = page
        return parser.parse() ? page : nil
    }

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if name == "svg" {
            svgDepth += 1; maxSvgDepth = max(maxSvgDepth, svgDepth)
            titles.append(attributes["data-title"] ?? "")
            charts.append(attributes["data-title"] ?? "")
        }
        if name == "image", let href = attributes["href"] { imageHrefs.append(href) }
        if let s = attributes["data-series"] {
            func numbers(_ key: String) -> [Double] { (attributes[key] ?? "").split(separator: " ").compactMap { Double($0) } }
            series.append(PlottedSeries(chart: titles.last ?? "", series: s, xs: numbers("data-x"), ys: numbers("data-y")))
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "svg" { svgDepth -= 1; titles.removeLast() }
    }
}

/// A CSV file read back (the report's fields hold no quotes or line breaks except quoted commas).
func readCSV(_ text: String) -> (header: [String], rows: [[String: String]]) {
    func fields(_ line: Substring) -> [String] {
        var out: [String] = [], field = "", quoted = false
        var it = line.makeIterator()
        while let c = it.next() {
            if quoted {
                if c == "\"" { quoted = false } else { field.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                out.append(field); field = ""
            } else {
                field.append(c)
            }
        }
        out.append(field)
        return out
    }
    let lines = text.split(separator: "\n")
    guard let first = lines.first else { return ([], []) }
    let header = fields(first)
    return (
        header,
        lines.dropFirst().map { line in
            Dictionary(zip(header, fields(line)).map { ($0, $1) }, uniquingKeysWith: { a, _ in a })
        }
    )
}
