// The table of a sweep in the paper's layout: one row per configuration (in the spec's order),
// mean (sample std) over seeds of the task's primary metric, its other final metrics and the W_hh
// sparsity, as Markdown and CSV. Runs are grouped with RunGroup, as `moduli report` groups them.
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
        var runs: [ReportRun] = [], missing: [String] = [], unreadable: [String] = []
        for run in spec.runs.sorted(by: {
            ($0.index % spec.configurations.count, $0.index) < ($1.index % spec.configurations.count, $1.index)
        }) {
            guard directory.condition(of: run) == .finished else { missing.append(run.name); continue }
            do { runs.append(try ReportRun(path: directory.directory(of: run).path)) } catch {
                missing.append(run.name); unreadable.append("\(run.name) (\(error))")
            }
        }
        let failed = record.runs.filter { $0.state == .failed && missing.contains($0.name) }
        let groups = Dictionary(RunGroup.group(runs).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let others = Set(runs.flatMap { $0.summary.metrics.keys }).subtracting([primary]).sorted()
        let metrics = [primary] + others
        let sparsity: @Sendable (ReportRun) -> Double? = { $0.summary.main.sparsity.recurrent.sparsity }

        var mdRows: [[String]] = [], csvRows: [[String]] = []
        for c in spec.configurations {
            let group = groups[c.name]
            let done = group?.runs.count ?? 0
            let failures = failed.filter { $0.configuration == c.name }.count
            let runsCell = "\(done)/\(spec.seeds.count)" + (failures > 0 ? " (\(failures) failed)" : "")
            let flags = c.flags.isEmpty ? "-" : "`" + c.flags.joined(separator: " ") + "`"
            var md = [c.name, flags, runsCell]
            var row = [c.name, c.flags.joined(separator: " "), String(done), String(spec.seeds.count), String(failures)]
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
            mdRows.append(md); csvRows.append(row)
        }
        let headerMetrics = metrics + ["W_hh sparsity"]
        var text =
            """
            # Sweep: \(spec.task), \(spec.configurations.count) configuration\(spec.configurations.count == 1 ? "" : "s") x \
            \(spec.seeds.count) seed\(spec.seeds.count == 1 ? "" : "s")\n\n
            """
        text +=
            "Every run: `moduli train \(spec.task)\(spec.base.isEmpty ? "" : " " + spec.base.joined(separator: " ")) FLAGS --seed S`"
            + " (seeds \(spec.seeds.map(String.init).joined(separator: ", "))). Mean (sample standard deviation) over the seeds;"
            + " \(primary) is the task's primary metric; W_hh sparsity pooled over every recurrent weight_hh.\n\n"
        text += HTMLText.markdownTable(
            header: ["configuration", "flags", "runs"]
                + headerMetrics.enumerated().map { $0.offset == 0 ? "**\($0.element)**" : $0.element },
            rows: mdRows)
        if !failed.isEmpty {
            text += "\nFailed: " + failed.map { "\($0.name) (\($0.exit ?? "failed"); \($0.log))" }.joined(separator: ", ") + ".\n"
        }
        let notRun = missing.filter { name in !failed.contains { $0.name == name } }
        if !notRun.isEmpty { text += "\nWithout a summary.json: " + notRun.joined(separator: ", ") + ".\n" }
        if !unreadable.isEmpty { text += "\nUnreadable: " + unreadable.joined(separator: "; ") + ".\n" }
        markdown = text
        csv = HTMLText.csv(
            header: ["configuration", "flags", "runs", "seeds", "failed"] + headerMetrics.flatMap { [$0, $0 + " std"] }, rows: csvRows)
        self.missing = missing
        self.failed = failed.map(\.name)
    }

    /// Writes summary.md and summary.csv into the sweep directory (each atomically).
    public func write(to directory: SweepDirectory) throws {
        try RunDirectory.writeAtomically(Data(markdown.utf8), to: directory.file(Self.markdownName))
        try RunDirectory.writeAtomically(Data(csv.utf8), to: directory.file(Self.csvName))
    }
}
