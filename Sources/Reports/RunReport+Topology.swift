// The persistent homology of a run, as `moduli topology RUN --source S --json --out
// RUN/topology-S.json` saved it: barcodes, persistence diagrams and the longest bars.
import Experiments
import Foundation
import Topology

extension Builder {
    /// The sources whose diagrams a run directory may hold, as `topology-<source>.json`.
    static let topologySources = ["hidden", "positions"]

    /// Barcodes, persistence diagrams and a table of the longest bars for each saved diagram file
    /// of `run` (nothing when it has none).
    mutating func topology(_ run: ReportRun) {
        for source in Self.topologySources {
            let path = URL(fileURLWithPath: run.path).appendingPathComponent("topology-\(source).json").path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let what = source == "hidden" ? "hidden states" : "neuron positions"
            let diagrams: [PersistenceDiagram]
            do {
                let data = try RunDirectory.readFile(
                    atPath: path, maximumBytes: DiagramFile.maximumBytes, hint: "Write it again with moduli topology.")
                diagrams = try DiagramFile.decode(data)
            } catch {
                missing("Persistent homology of the \(what) (\(run.name))", "\(path): \(error)")
                continue
            }
            barcode(run, diagrams, what: what, file: "topology-\(source).json")
            longestBars(run, diagrams, source: source)
        }
    }

    /// The columns of topology.csv: the five longest bars of each dimension of each saved diagram.
    static let topologyHeader = ["run", "source", "dimension", "rank", "birth", "death", "barsInAll"]

    /// The number of bars per dimension a barcode draws (the longest; the rest are listed as a count).
    static let barcodeBars = 24

    /// One chart: the longest bars of every dimension stacked (H0 at the top), a bar that never
    /// dies drawn to the right edge.
    mutating func barcode(_ run: ReportRun, _ diagrams: [PersistenceDiagram], what: String, file: String) {
        let finite = diagrams.flatMap { $0.pairs.flatMap { [$0.birth] + ($0.death.map { [$0] } ?? []) } }.filter(\.isFinite)
        let right = max(finite.max() ?? 1, 1e-12) * 1.08
        var chart = SVGChart(
            title: "Barcode of the \(what) (\(run.name))", xLabel: "filtration value (distance)",
            yLabel: "bar (longest first, per dimension)")
        var row = 0.0
        var notes: [String] = []
        for d in diagrams.sorted(by: { $0.dimension < $1.dimension }) {
            let bars = d.byPersistence.prefix(Self.barcodeBars)
            let color = ColorMap.category(d.dimension)
            for p in bars {
                chart.layers.append(
                    .line(name: "H\(d.dimension)", color: color, points: [(p.birth, row), (p.death ?? right, row)], dash: 0, width: 2.5))
                row += 1
            }
            if d.pairs.count > bars.count { notes.append("H\(d.dimension): \(bars.count) of \(d.pairs.count) bars drawn") }
            row += 1
        }
        chart.xRange = 0...right
        chart.yRange = -1...max(1, row)
        chart.yDownwards = true
        chart.height = max(240, min(720, 60 + 9 * row))
        chart.notes = notes
        figure(
            chart.render(),
            caption:
                """
                \(file): each line is one homology class, from its birth to its death; a line reaching the right edge never dies (or \
                is alive at the threshold). H0 components, H1 loops, H2 voids.
                """
        )
        var diagram = SVGChart(
            title: "Persistence diagram of the \(what) (\(run.name))", xLabel: "birth", yLabel: "death (top line: never dies)")
        diagram.layers.append(.line(name: "", color: "#999999", points: [(0, 0), (right, right)], dash: 1, width: 1))
        diagram.layers.append(.horizontal(name: "never dies", color: "#999999", y: right, dash: 2))
        for d in diagrams.sorted(by: { $0.dimension < $1.dimension }) where !d.pairs.isEmpty {
            diagram.layers.append(
                .points(
                    name: "H\(d.dimension)", color: ColorMap.category(d.dimension),
                    points: d.pairs.map { ($0.birth, $0.death ?? right) }, colors: nil, radius: 2.5))
        }
        diagram.xRange = 0...right; diagram.yRange = 0...(right * 1.02); diagram.equalAspect = true
        diagram.width = 480; diagram.height = 440
        figure(diagram.render(), caption: "\(file): one point (birth, death) per class; distance from the diagonal is persistence.")
    }

    /// The five longest bars of each dimension, in the page, report.md and topology.csv.
    mutating func longestBars(_ run: ReportRun, _ diagrams: [PersistenceDiagram], source: String) {
        var rows: [[String]] = [], csvRows: [[String]] = []
        for d in diagrams.sorted(by: { $0.dimension < $1.dimension }) {
            for (rank, p) in d.byPersistence.prefix(5).enumerated() {
                let death = p.death.map { String(format: "%.4g", $0) } ?? "never"
                let length = p.death == nil ? "∞" : String(format: "%.4g", p.persistence)
                rows.append(["H\(d.dimension)", "\(rank + 1)", String(format: "%.4g", p.birth), death, length, "\(d.pairs.count)"])
                csvRows.append([
                    run.name, source, "\(d.dimension)", "\(rank + 1)", Builder.exact(p.birth), Builder.exact(p.death), "\(d.pairs.count)"
                ])
            }
        }
        markdown += "Longest bars of the \(source == "hidden" ? "hidden states" : "neuron positions") (topology-\(source).json):\n\n"
        html += HTMLText.htmlTable(header: ["dimension", "rank", "birth", "death", "length", "bars in all"], rows: rows)
        markdown += HTMLText.markdownTable(header: ["dimension", "rank", "birth", "death", "length", "bars in all"], rows: rows) + "\n"
        csv["topology.csv"] = (Self.topologyHeader, (csv["topology.csv"]?.rows ?? []) + csvRows)
    }
}
