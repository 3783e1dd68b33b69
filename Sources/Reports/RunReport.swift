// `moduli report`: finished runs as one self-contained HTML page (inline SVG charts, no scripts, no
// external resources), with the same numbers as Markdown and CSV. Reads run directories only;
// the navigation figures run the saved model forward on simulated trajectories.
import Experiments
import Foundation
import Sparsity

/// Settings of a report.
public struct ReportOptions: Sendable {
    /// The page's title.
    public var title = "moduli report"
    /// Decoded trajectories drawn per navigation run.
    public var pathCount = 4
    /// Firing maps drawn per navigation run.
    public var unitCount = 16
    /// Run navigation models forward for the trajectory and firing-map figures.
    public var probeModels = true
    /// Bins of the distance profile.
    public var distanceBins = 20
    /// Largest side, in cells, of a drawn sparsity pattern (larger W_hh are pooled).
    public var patternCells = 256
    /// The defaults.
    public init() {}
}

/// A report over finished runs: its files by name (report.html, report.md, *.csv, report.json).
public struct RunReport: Sendable {
    /// The runs reported, in the order given.
    public let runs: [ReportRun]
    /// The report's files, by name.
    public private(set) var files: [String: Data] = [:]

    /// The names of the files a report directory holds (and nothing else).
    public static let fileNames: Set<String> = [
        "report.html", "report.md", "report.json", "runs.csv", "groups.csv", "curves.csv",
        "sparsity.csv", "distance.csv", "paths.csv", "firing_maps.csv", "topology.csv"
    ]

    /// Reads the runs and builds every file. The error names the first directory that is not a finished run.
    public init(paths: [String], options: ReportOptions = ReportOptions()) throws {
        guard !paths.isEmpty else { throw ExperimentError("Name at least one run directory.") }
        try RunComparison.requireDistinct(paths, command: "report")
        runs = try paths.map { try ReportRun(path: $0) }
        var builder = Builder(runs: runs, options: options)
        files = try builder.build()
    }

    /// Writes the files into `directory` atomically (see `ReportDirectory.write`).
    public func write(to directory: String) throws {
        try ReportDirectory.write(files, to: directory)
    }
}

/// Builds the three formats side by side, section by section.
struct Builder {
    let runs: [ReportRun]
    let options: ReportOptions
    var html = ""
    var markdown = ""
    var csv: [String: (header: [String], rows: [[String]])] = [:]
    var contents: [(id: String, title: String)] = []

    /// Per run: its configuration's index and its index within the configuration.
    let style: [(group: Int, member: Int)]
    /// The runs grouped by configuration.
    let groups: [RunGroup]

    init(runs: [ReportRun], options: ReportOptions) {
        self.runs = runs; self.options = options
        groups = RunGroup.group(runs)
        var style = [(group: Int, member: Int)](repeating: (0, 0), count: runs.count)
        var position: [String: (Int, Int)] = [:]
        for (g, group) in groups.enumerated() {
            for (m, run) in group.runs.enumerated() { position[run.path + "\u{0}" + run.name] = (g, m) }
        }
        for (k, run) in runs.enumerated() { style[k] = position[run.path + "\u{0}" + run.name] ?? (k, 0) }
        self.style = style
    }

    /// The colour of run k in every chart: one per configuration (seed group).
    func color(_ k: Int) -> String { ColorMap.category(style[k].group) }

    /// The dash style of run k: runs of one configuration differ by dash (solid, dashed, dotted, dash-dot).
    func dash(_ k: Int) -> Int { style[k].member % 4 }

    /// A number with up to `digits` significant digits.
    static func number(_ x: Double?, _ digits: Int = 4) -> String {
        guard let x else { return "-" }
        return x.isFinite ? String(format: "%.\(digits)g", x) : "\(x)"
    }

    /// A fraction as a percentage with one decimal, or two within 0.05% of 0% or 100% (99.97%, not 100.0%).
    static func percent(_ x: Double) -> String {
        let nearEnd = (x > 0.9995 && x < 1) || (x > 0 && x < 0.0005)
        return String(format: nearEnd ? "%.2f%%" : "%.1f%%", 100 * x)
    }

    /// A number for CSV: exact (round-trips to the same Double).
    static func exact(_ x: Double?) -> String { x.map { $0.isFinite ? "\($0)" : "nan" } ?? "" }

    /// The unit of a metric, guessed from its name, for axis labels.
    static func unit(of metric: String) -> String {
        if metric.hasSuffix("CM") || metric.range(of: "CM[0-9]+$", options: .regularExpression) != nil { return "cm" }
        if metric.lowercased().contains("loss") { return "nats" }
        if metric.contains("MSE") { return "squared error" }
        if metric.lowercased().contains("perplexity") { return "perplexity" }
        return "value"
    }

    mutating func section(_ id: String, _ title: String) {
        contents.append((id, title))
        html += "<section id=\"\(id)\">\n<h2>\(HTMLText.escape(title))</h2>\n"
        markdown += "\n## \(title)\n\n"
    }

    mutating func endSection() { html += "</section>\n" }

    mutating func figure(_ svg: String, caption: String) {
        html += "<figure>\n\(svg)\n<figcaption>\(HTMLText.escape(caption))</figcaption>\n</figure>\n"
    }

    /// A paragraph in place of a figure that could not be drawn.
    mutating func missing(_ what: String, _ why: String) {
        html += "<p class=\"missing\">\(HTMLText.escape(what)): not available — \(HTMLText.escape(why)).</p>\n"
        markdown += "*\(what): not available — \(why).*\n\n"
    }

    mutating func table(_ name: String?, header: [String], rows: [[String]], csvRows: [[String]]? = nil) {
        html += HTMLText.htmlTable(header: header, rows: rows)
        markdown += HTMLText.markdownTable(header: header, rows: rows) + "\n"
        if let name { csv[name] = (header, csvRows ?? rows) }
    }

    mutating func build() throws -> [String: Data] {
        if groups.contains(where: { $0.runs.count > 1 }) {
            groupSection()
            summarySection()
        } else {
            summarySection()
            groupSection()
        }
        curveSection()
        sparsitySection()
        csv["topology.csv"] = (Self.topologyHeader, [])  // rows from the runs that hold diagrams
        for (k, run) in runs.enumerated() { runSection(run, index: k) }

        let anchors = contents.map { "<li><a href=\"#\($0.id)\">\(HTMLText.escape($0.title))</a></li>" }.joined(separator: "\n")
        let title = HTMLText.escape(options.title)
        let intro =
            "Runs: " + runs.map { HTMLText.escape($0.path) }.joined(separator: ", ")
                + """
                . Written by moduli \(HTMLText.escape(ModuliVersion.string)) from each run's config.json, summary.json, metrics.jsonl, \
                model.safetensors and positions.npy; the numbers are also in report.md and the CSV files beside this page.
                """
        let page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(title)</title>
            <style>
            body { font-family: sans-serif; margin: 24px auto; max-width: 1320px; padding: 0 16px; color: #222; }
            h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 34px; border-bottom: 1px solid #ccc; } h3 { font-size: 16px; }
            table.numbers { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px 0; }
            table.numbers th, table.numbers td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            table.numbers th { background: #f2f2f2; }
            table.numbers td:first-child, table.numbers th:first-child { text-align: left; }
            figure { display: inline-block; margin: 6px 10px 12px 0; vertical-align: top; }
            figcaption { font-size: 12px; color: #555; max-width: 620px; }
            p.missing { color: #8a3a00; background: #fff4e8; padding: 6px 10px; display: inline-block; }
            nav ul { columns: 3; font-size: 13px; }
            </style>
            </head>
            <body>
            <h1>\(title)</h1>
            <p>\(intro)</p>
            <nav><ul>
            \(anchors)
            </ul></nav>

            """ + html + "</body>\n</html>\n"

        var out: [String: Data] = [:]
        out["report.html"] = Data(page.utf8)
        let md =
            "# \(options.title)\n\nRuns: " + runs.map(\.path).joined(separator: ", ")
            + ". Written by moduli \(ModuliVersion.string); the figures are in report.html.\n" + markdown
        out["report.md"] = Data(md.utf8)
        for (name, t) in csv { out[name] = Data(HTMLText.csv(header: t.header, rows: t.rows).utf8) }
        let manifest: [String: Any] = [
            "kind": "moduli-report", "version": ModuliVersion.string, "runs": runs.map(\.path),
            "files": (Array(out.keys) + ["report.json"]).sorted()
        ]
        out["report.json"] = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
        return out
    }

    // MARK: Tables

    mutating func summarySection() {
        section("summary", "Final metrics")
        let metrics = Set(runs.flatMap { $0.summary.metrics.keys }).sorted()
        let baselines = Set(runs.flatMap { $0.summary.baselines.keys }).sorted()
        let header =
            ["run", "task", "regularizer", "seed"] + metrics + baselines.map { "\($0) (baseline)" }
            + ["trainLoss", "pooled sparsity", "W_hh sparsity", "kept units", "steps", "seconds"]
        func row(_ r: ReportRun, _ n: (Double?) -> String, _ p: (Double) -> String) -> [String] {
            let s = r.summary
            return [r.name, s.task, r.regularizerName, "\(s.seed)"] + metrics.map { n(s[$0]) } + baselines.map { n(s.baselines[$0]) }
                + [
                    n(s.trainLoss), p(s.main.sparsity.pooled.sparsity), p(s.main.sparsity.recurrent.sparsity), r.keptUnits ?? "",
                    "\(s.steps)", n(s.wallSeconds)
                ]
        }
        html +=
            """
            <p>The final metrics of summary.json (those of the lottery phase when a run has one), with the baselines, the sparsity \
            of the pruned tensors and the hidden units kept (K of H: units whose own parameters are not all zero, where summary.json \
            records them).</p>\n
            """
        table(
            "runs.csv", header: header, rows: runs.map { row($0, { Builder.number($0) }, Builder.percent) },
            csvRows: runs.map { row($0, Builder.exact, { Builder.exact($0) }) })
        endSection()
    }

    mutating func groupSection() {
        section("groups", "Configurations over seeds")
        let quantities = RunGroup.quantities(runs)
        html +=
            """
            <p>Runs whose directory names differ only by a <code>-sN</code> seed suffix form one configuration: mean (sample standard \
            deviation) over its runs.</p>\n
            """
        markdown +=
            """
            Runs whose directory names differ only by a `-sN` seed suffix form one configuration: mean (sample standard deviation) \
            over its runs.\n\n
            """
        let header = ["configuration", "runs", "seeds"] + quantities.map(\.name)
        let rows = groups.map { g in
            [g.name, "\(g.runs.count)", g.runs.map { "\($0.summary.seed)" }.joined(separator: ",")]
                + quantities.map { q in
                    RunGroup.format(g.statistic(q.value), percent: RunGroup.isFraction(q.name), count: RunGroup.isCount(q.name))
                }
        }
        let csvHeader = ["configuration", "runs", "seeds"] + quantities.flatMap { ["\($0.name) mean", "\($0.name) std"] }
        let csvRows = groups.map { g in
            [g.name, g.runs.map(\.name).joined(separator: " "), g.runs.map { "\($0.summary.seed)" }.joined(separator: " ")]
                + quantities.flatMap { q -> [String] in
                    let s = g.statistic(q.value)
                    return s.values.isEmpty ? ["", ""] : [Builder.exact(s.mean), Builder.exact(s.standardDeviation)]
                }
        }
        html += HTMLText.htmlTable(header: header, rows: rows)
        markdown += HTMLText.markdownTable(header: header, rows: rows) + "\n"
        csv["groups.csv"] = (csvHeader, csvRows)
        if groups.contains(where: { $0.runs.count > 1 }) {
            for m in Set(runs.flatMap { $0.summary.metrics.keys }).sorted() { groupChart(m) }
        }
        if let primary = primaryMetric {
            frontierChart(primary, against: .recurrentSparsity)
            if runs.contains(where: \.removedUnits) { frontierChart(primary, against: .keptParameters) }
        }
        endSection()
    }

    /// Bars of a final metric's mean per configuration, the sample standard deviation as a bar
    /// from mean - std to mean + std, and every run's value as a dot.
    mutating func groupChart(_ metric: String) {
        var chart = SVGChart(
            title: "Final \(metric) per configuration", xLabel: "configuration", yLabel: "\(metric) (\(Builder.unit(of: metric)))")
        chart.xCategories = groups.map(\.name)
        chart.xRange = -0.6...(Double(groups.count) - 0.4)
        var means: [(lower: Double, upper: Double, value: Double)] = [], spread: [(x: Double, y: Double)] = []
        var dots: [(x: Double, y: Double)] = [], dotColors: [String] = []
        for (g, group) in groups.enumerated() {
            let s = group.statistic { $0.summary[metric] }
            guard !s.values.isEmpty else { continue }
            let x = Double(g)
            means.append((x - 0.32, x + 0.32, s.mean))
            if let sd = s.standardDeviation { spread += [(x, s.mean - sd), (x, s.mean + sd), (.nan, .nan)] }
            for (m, v) in s.values.enumerated() {
                dots.append((x - 0.2 + 0.4 * Double(m + 1) / Double(s.values.count + 1), v))
                dotColors.append(ColorMap.category(g))
            }
        }
        // Bars from zero, unless every value lies within 10% of the largest (losses near 6.2, say):
        // then a mean mark per configuration on an axis zoomed to the values.
        let values = dots.map(\.y)
        let zoomed = (values.min() ?? 0) > 0 && ((values.max() ?? 0) - (values.min() ?? 0)) < 0.1 * (values.max() ?? 0)
        if zoomed {
            let marks = means.flatMap { [(x: $0.lower, y: $0.value), (x: $0.upper, y: $0.value), (x: Double.nan, y: Double.nan)] }
            chart.layers = [.line(name: "mean over seeds", color: "#7d97bd", points: marks, dash: 0, width: 3)]
        } else {
            chart.layers = [.bars(name: "mean over seeds", color: "#c9d6e8", bins: means)]
        }
        chart.layers += [
            .line(name: "mean +- sample std", color: "#222222", points: spread, dash: 0, width: 2),
            .points(name: "one run", color: "#555555", points: dots, colors: dotColors, radius: 3.2)
        ]
        let top = chart.ranges().y.upperBound
        if top > 0 && !zoomed { chart.yRange = 0...(top * 1.04) }
        let baselines = Set(runs.flatMap { $0.summary.baselines.keys }).sorted().filter { b in
            guard
                let u = metric.range(of: "[A-Z]+[0-9]*$", options: .regularExpression).map({
                    String(metric[$0]).trimmingCharacters(in: .decimalDigits)
                }), !u.isEmpty
            else { return false }
            return b.hasSuffix(u)
        }
        for b in baselines {
            if let v = runs.compactMap({ $0.summary.baselines[b] }).first {
                chart.layers.append(.horizontal(name: "\(b) (baseline)", color: "#444444", y: v, dash: 1))
                if !zoomed { chart.yRange = 0...max(chart.yRange?.upperBound ?? 0, v * 1.06) }
            }
        }
        figure(
            chart.render(),
            caption: "Final \(metric) of summary.json: " + (zoomed ? "mark" : "bar")
                + " = mean over the configuration's runs, black = mean +- sample standard deviation, dots = single runs"
                + (zoomed ? "; the axis does not start at 0." : "."))
    }

    // MARK: Curves

    /// Steps of every pruning event of any run.
    var pruneSteps: [Double] { Array(Set(runs.flatMap { $0.pruneRecords.map { Double($0.step) } })).sorted() }

    mutating func curveSection() {
        section("curves", "Training curves")
        var rows: [[String]] = []
        var loss = SVGChart(title: "Training loss", xLabel: "step", yLabel: "mean training loss (nats, without the penalty)")
        var penalty = SVGChart(title: "Penalty", xLabel: "step", yLabel: "mean penalty lambda * mean(R * |W|^p)")
        for (k, run) in runs.enumerated() {
            let t = run.trainRecords
            loss.layers.append(
                .line(name: run.name, color: color(k), points: t.map { (Double($0.step), $0.loss) }, dash: dash(k), width: 1.5))
            penalty.layers.append(
                .line(name: run.name, color: color(k), points: t.map { (Double($0.step), $0.penalty) }, dash: dash(k), width: 1.5))
            for r in t {
                rows.append([run.name, "train", "\(r.step)", "\(r.phase)", "loss", Builder.exact(r.loss)])
                rows.append([run.name, "train", "\(r.step)", "\(r.phase)", "penalty", Builder.exact(r.penalty)])
            }
            for e in run.evalRecords {
                rows.append([run.name, "eval", "\(e.step)", "\(e.phase)", "trainLoss", Builder.exact(e.trainLoss)])
                rows.append([run.name, "eval", "\(e.step)", "\(e.phase)", "sparsity", Builder.exact(e.sparsity)])
                for m in e.metrics.keys.sorted() {
                    rows.append([run.name, "eval", "\(e.step)", "\(e.phase)", m, Builder.exact(e.metrics[m])])
                }
            }
        }
        let marks = SVGChart.Layer.verticals(name: "pruning event", color: "#888888", xs: pruneSteps)
        loss.layers.append(marks); penalty.layers.append(marks)
        figure(loss.render(), caption: "Mean task loss over each logging window (metrics.jsonl train lines); grey lines: pruning events.")
        if runs.contains(where: { $0.trainRecords.contains { $0.penalty != 0 } }) {
            figure(penalty.render(), caption: "Mean penalty over each logging window; 0 for runs without a regularizer.")
        }
        let metrics = Set(runs.flatMap { $0.evalRecords.flatMap(\.metrics.keys) }).sorted()
        for m in metrics {
            var chart = SVGChart(title: "\(m) on evaluation", xLabel: "step", yLabel: "\(m) (\(Builder.unit(of: m)))")
            for (k, run) in runs.enumerated() {
                let points = run.evalRecords.compactMap { e in e.metrics[m].map { (x: Double(e.step), y: $0) } }
                chart.layers.append(.line(name: run.name, color: color(k), points: points, dash: dash(k), width: 1.5))
                chart.layers.append(.points(name: "", color: color(k), points: points, colors: nil, radius: 2))
            }
            let unitSuffix = m.range(of: "[A-Z]+[0-9]*$", options: .regularExpression).map {
                String(m[$0]).trimmingCharacters(in: .decimalDigits)
            }
            let baselines = Set(runs.flatMap { $0.summary.baselines.keys }).sorted().filter { b in
                guard let u = unitSuffix, !u.isEmpty else { return false }
                return b.hasSuffix(u)
            }
            for b in baselines {
                if let v = runs.compactMap({ $0.summary.baselines[b] }).first {
                    chart.layers.append(.horizontal(name: "\(b) (baseline)", color: "#444444", y: v, dash: 1))
                }
            }
            chart.layers.append(marks)
            figure(
                chart.render(),
                caption: "\(m) at every evaluation (metrics.jsonl eval lines)"
                    + (baselines.isEmpty ? "" : "; dashed: the baseline of summary.json") + "; grey lines: pruning events.")
        }
        csv["curves.csv"] = (["run", "kind", "step", "phase", "series", "value"], rows)
        markdown += "Every training and evaluation line is in curves.csv. The evaluations:\n\n"
        let evalHeader = ["run", "step", "epoch", "phase", "trainLoss", "sparsity"] + metrics
        let evalRows = runs.flatMap { run in
            run.evalRecords.map { e in
                [run.name, "\(e.step)", "\(e.epoch)", "\(e.phase)", Builder.number(e.trainLoss), Builder.percent(e.sparsity)]
                    + metrics.map { Builder.number(e.metrics[$0]) }
            }
        }
        markdown += HTMLText.markdownTable(header: evalHeader, rows: evalRows) + "\n"
        endSection()
    }

    mutating func sparsitySection() {
        section("sparsity", "Sparsity per tensor")
        var rows: [[String]] = []
        var tensorNames: [String] = ["pooled"]
        for run in runs {
            for t in run.summary.main.sparsity.tensors where !tensorNames.contains(t.name) { tensorNames.append(t.name) }
        }
        /// (step, sparsity) of a tensor in a run: dense at step 0, each pruning event, the summary's end.
        func series(_ run: ReportRun, _ tensor: String) -> [(x: Double, y: Double)] {
            func value(_ report: SparsityReportView) -> Double? { report.value(tensor) }
            var points: [(x: Double, y: Double)] = []
            let events = run.pruneRecords
            if !events.isEmpty { points.append((0, 0)) }
            for e in events { if let v = value(SparsityReportView(e.sparsity)) { points.append((Double(e.step), 100 * v)) } }
            if let v = value(SparsityReportView(run.summary.main.sparsity)) {
                let end = Double(run.summary.lottery == nil ? run.summary.steps : (events.last?.step ?? run.summary.steps))
                if points.last.map({ $0.x < end }) ?? true { points.append((end, 100 * v)) }
            }
            return points
        }
        for tensor in tensorNames {
            var chart = SVGChart(
                title: tensor == "pooled" ? "Pooled sparsity of the pruned tensors" : "Sparsity of \(tensor)",
                xLabel: "step", yLabel: "sparsity (% of entries pruned)")
            chart.yRange = 0...100
            for (k, run) in runs.enumerated() {
                let p = series(run, tensor)
                chart.layers.append(.line(name: run.name, color: color(k), points: p, dash: dash(k), width: 1.5))
                chart.layers.append(.points(name: "", color: color(k), points: p, colors: nil, radius: 1.8))
                for q in p { rows.append([run.name, "\(Int(q.x))", tensor, Builder.exact(q.y / 100)]) }
            }
            figure(
                chart.render(),
                caption:
                    """
                    After every pruning event (metrics.jsonl prune lines), from dense at step 0 to the end of the main phase \
                    (summary.json).
                    """
            )
        }
        csv["sparsity.csv"] = (["run", "step", "tensor", "sparsity"], rows)
        let header = ["run"] + tensorNames + ["W_hh kept entries"]
        markdown += "At the end of the main phase (summary.json); every event is in sparsity.csv.\n\n"
        markdown +=
            HTMLText.markdownTable(
                header: header,
                rows: runs.map { run in
                    let view = SparsityReportView(run.summary.main.sparsity)
                    let r = run.summary.main.sparsity.recurrent
                    return [run.name] + tensorNames.map { view.value($0).map(Builder.percent) ?? "-" } + [
                        "\(r.count - r.zeros) of \(r.count)"
                    ]
                }) + "\n"
        endSection()
    }
}

/// A sparsity report looked up by tensor name (`pooled` for the pooled entry).
struct SparsityReportView {
    let byName: [String: Double]
    init(_ report: Sparsity.SparsityReport) {
        var d = Dictionary(report.tensors.map { ($0.name, $0.sparsity) }, uniquingKeysWith: { a, _ in a })
        d["pooled"] = report.pooled.sparsity
        byName = d
    }
    func value(_ name: String) -> Double? { byName[name] }
}
