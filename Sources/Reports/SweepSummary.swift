// The table of a sweep in the paper's layout: one row per configuration (in the spec's order),
// mean (sample std) over seeds of the task's primary metric, its other final metrics and the W_hh
// sparsity, as Markdown and CSV. Runs are grouped with RunGroup, as `moduli report` groups them. A tuned
// sweep tabulates its confirmation runs, each configuration at its selected value (selection.json),
// and the grid of mean validation metrics it was selected from; with control configurations, every
// row gives its difference of the primary metric's mean to each control's with a 95% interval
// (paired by seed when the seeds pair, Welch's otherwise: `MeanDifference`).
import Experiments
import Foundation

/// A sweep's summary table.
public struct SweepSummary: Sendable {
    /// summary.md: a title, the table, and the runs that failed or have not run.
    public let markdown: String
    /// summary.csv: the same rows, mean and std in columns of their own (exact numbers).
    public let csv: String
    /// Runs of the spec without a summary.json.
    public let missing: [String]
    /// Runs sweep.json records as failed.
    public let failed: [String]

    /// The file names inside the sweep directory.
    public static let markdownName = "summary.md", csvName = "summary.csv"

    /// Reads the finished runs of `directory` (summary.json of each `<configuration>-s<seed>`)
    /// and lays out the table; `record` (sweep.json) says which runs failed.
    public init(directory: SweepDirectory, record: SweepRecord) throws {
        let spec = directory.spec
        let primary = try TaskRegistry.task(named: spec.task).primaryMetric
        let selection = spec.tune == nil ? nil : try directory.recordedSelection()
        let position = Dictionary(spec.configurations.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var runs: [ReportRun] = [], missing: [String] = [], unreadable: [String] = []
        var seedOf: [String: UInt64] = [:]
        for run in spec.runs where run.value != nil && directory.condition(of: run) != .finished { missing.append(run.name) }
        for run in spec.runs.filter({ $0.value == nil }).sorted(by: {
            (position[$0.configuration] ?? 0, $0.index) < (position[$1.configuration] ?? 0, $1.index)
        }) {
            guard directory.condition(of: run) == .finished else { missing.append(run.name); continue }
            do {
                let r = try ReportRun(path: directory.directory(of: run).path)
                runs.append(r); seedOf[r.path] = run.seed
            } catch {
                missing.append(run.name); unreadable.append("\(run.name) (\(error))")
            }
        }
        let failed = record.runs.filter { $0.state == .failed && missing.contains($0.name) }
        let groups = Dictionary(RunGroup.group(runs).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let others = Set(runs.flatMap { $0.summary.metrics.keys }).subtracting([primary]).sorted()
        let metrics = [primary] + others
        let sparsity: @Sendable (ReportRun) -> Double? = { $0.summary.main.sparsity.recurrent.sparsity }

        let tuned = Set(spec.tunedConfigurations)
        let tableNames = Set(spec.runs.filter { $0.value == nil }.map(\.name))
        // Each configuration's primary metric by seed, for the difference to the control.
        func primaryBySeed(_ name: String) -> [(seed: UInt64, value: Double)] {
            (groups[name]?.runs ?? []).compactMap { run in
                guard let seed = seedOf[run.path], let v = run.summary[primary], v.isFinite else { return nil }
                return (seed, v)
            }
        }
        let controlSeries = spec.controls.map(primaryBySeed)

        var mdRows: [[String]] = [], csvRows: [[String]] = []
        for c in spec.configurations {
            let group = groups[c.name]
            let done = group?.runs.count ?? 0
            let failures = failed.filter { $0.configuration == c.name && tableNames.contains($0.name) }.count
            let runsCell = "\(done)/\(spec.seeds.count)" + (failures > 0 ? " (\(failures) failed)" : "")
            let flags = c.flags.isEmpty ? "-" : "`" + c.flags.joined(separator: " ") + "`"
            var md = [c.name, flags]
            var row = [c.name, c.flags.joined(separator: " ")]
            if spec.tune != nil {
                let value = tuned.contains(c.name) ? selection?.selected[c.name] ?? "(not yet)" : "(not tuned)"
                md.append(value); row.append(value)
            }
            md.append(runsCell)
            row += [String(done), String(spec.seeds.count), String(failures)]
            for m in metrics + ["W_hh sparsity"] {
                let s: RunGroup.Statistic
                if let group {
                    s = m == "W_hh sparsity" ? group.statistic(sparsity) : group.statistic { run in run.summary[m] }
                } else {
                    s = RunGroup.Statistic(values: [])
                }
                md.append(RunGroup.format(s, percent: m == "W_hh sparsity"))
                row.append(s.values.isEmpty ? "" : Builder.exact(s.mean))
                row.append(Builder.exact(s.standardDeviation))
            }
            for (control, controlValues) in zip(spec.controls, controlSeries) {
                if c.name == control {
                    md.append("(control)"); row += ["", "", "", ""]
                } else if let d = MeanDifference.between(primaryBySeed(c.name), controlValues) {
                    md.append(
                        String(format: "%+.4g [%+.4g, %+.4g] ", d.difference, d.lower, d.upper) + (d.method == .paired ? "paired" : "Welch")
                    )
                    row += [Builder.exact(d.difference), Builder.exact(d.lower), Builder.exact(d.upper), d.method.rawValue]
                } else {
                    md.append("-"); row += ["", "", "", ""]
                }
            }
            mdRows.append(md); csvRows.append(row)
        }
        let headerMetrics = metrics + ["W_hh sparsity"]
        let selectedHeader = spec.tune.map { ["selected \($0.flag)"] } ?? []
        let differenceHeader = spec.controls.map { "\(primary) - \($0) [95% CI]" }
        // One control: its columns as they always were; several: each column names its control.
        let differenceColumns = spec.controls.flatMap { control in
            ["\(primary) difference", "lower 95%", "upper 95%", "interval"].map { spec.controls.count == 1 ? $0 : "\($0) vs \(control)" }
        }
        var text =
            """
            # Sweep: \(spec.task), \(spec.configurations.count) configuration\(spec.configurations.count == 1 ? "" : "s") x \
            \(spec.seeds.count) seed\(spec.seeds.count == 1 ? "" : "s")\n\n
            """
        text +=
            "Every run: `moduli train \(spec.task)\(spec.base.isEmpty ? "" : " " + spec.base.joined(separator: " ")) FLAGS"
            + "\(spec.tune.map { " \($0.flag) SELECTED" } ?? "") --seed S`"
            + " (\(spec.tune == nil ? "" : "confirmation ")seeds \(spec.seeds.map(String.init).joined(separator: ", ")))."
            + " Mean (sample standard deviation) over the seeds;"
            + " \(primary) is the task's primary metric; W_hh sparsity pooled over every recurrent weight_hh."
        if !spec.controls.isEmpty {
            let names = spec.controls.joined(separator: ", ")
            text +=
                (spec.controls.count == 1 ? " The last column" : " The last \(spec.controls.count) columns")
                + ": the difference of \(primary)'s mean to \(names)'s, with its 95% interval (paired t by seed"
                + " when both have the same seeds, else Welch's t)."
        }
        text += "\n\n"
        text += HTMLText.markdownTable(
            header: ["configuration", "flags"] + selectedHeader + ["runs"]
                + headerMetrics.enumerated().map { $0.offset == 0 ? "**\($0.element)**" : $0.element } + differenceHeader,
            rows: mdRows)
        if let tune = spec.tune {
            text += "\n## Tuning: \(tune.flag) on seeds \(tune.seeds.map(String.init).joined(separator: ", "))\n\n"
            if let selection {
                text +=
                    "Mean \(selection.metric) (the task's validation metric) over the tuning seeds; the selected value in bold"
                    + " (\(selection.increases ? "largest" : "smallest") mean, recorded in \(SweepSelection.fileName)).\n\n"
                let rows = selection.choices.map { choice in
                    [choice.configuration]
                        + choice.candidates.map { candidate in
                            let cell = candidate.mean.map { String(format: "%.4g", $0) } ?? "-"
                            return candidate.value == choice.value ? "**\(cell)**" : cell
                        }
                }
                text += HTMLText.markdownTable(header: ["configuration"] + tune.values, rows: rows)
            } else {
                let metric = try TaskRegistry.task(named: spec.task).validationMetric()
                text +=
                    "Not selected yet: the tuning runs have not all finished. Mean \(metric) (the task's validation metric) of"
                    + " those finished so far, with the count of seeds when not all have (- for none):\n\n"
                let rows = spec.tunedConfigurations.map { name in
                    [name]
                        + tune.values.map { value in
                            let runs = spec.runs.filter { $0.configuration == name && $0.value == value }
                            let values = runs.filter { directory.condition(of: $0) == .finished }.compactMap { run in
                                (try? ReportRun(path: directory.directory(of: run).path))?.summary[metric]
                            }
                            guard let mean = Statistics.mean(values) else { return "-" }
                            return String(format: "%.4g", mean) + (values.count < runs.count ? " (\(values.count)/\(runs.count))" : "")
                        }
                }
                text += HTMLText.markdownTable(header: ["configuration"] + tune.values, rows: rows)
            }
        }
        if !failed.isEmpty {
            text += "\nFailed: " + failed.map { "\($0.name) (\($0.exit ?? "failed"); \($0.log))" }.joined(separator: ", ") + ".\n"
        }
        let notRun = missing.filter { name in !failed.contains { $0.name == name } }
        if !notRun.isEmpty { text += "\nWithout a summary.json: " + notRun.joined(separator: ", ") + ".\n" }
        if !unreadable.isEmpty { text += "\nUnreadable: " + unreadable.joined(separator: "; ") + ".\n" }
        markdown = text
        csv = HTMLText.csv(
            header: ["configuration", "flags"] + selectedHeader + ["runs", "seeds", "failed"] + headerMetrics.flatMap { [$0, $0 + " std"] }
                + differenceColumns, rows: csvRows)
        self.missing = missing
        self.failed = failed.map(\.name)
    }

    /// Writes summary.md and summary.csv into the sweep directory (each atomically).
    public func write(to directory: SweepDirectory) throws {
        try RunDirectory.writeAtomically(Data(markdown.utf8), to: directory.file(Self.markdownName))
        try RunDirectory.writeAtomically(Data(csv.utf8), to: directory.file(Self.csvName))
    }
}
