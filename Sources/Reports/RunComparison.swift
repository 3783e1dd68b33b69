// Finished runs side by side: each run directory's summary.json and config.json read back through
// the task-neutral records, as a plain-text table (`moduli compare`).
import Experiments
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One finished run, as a column of a comparison.
public struct RunColumn: Sendable {
    /// The run directory.
    public let path: String
    /// Its summary.
    public let summary: RunSummary
    /// The regularizer named in its config.json (`none`, `torus, inverted-dog, lambda 0.1`, ...).
    public let regularizer: String
    /// H, the hidden size of its config.json (nil when the file or the option is missing).
    public let hiddenSize: Int?

    /// "K of H": the hidden units the run kept (summary.json's `keptUnits`) of its hidden size;
    /// nil when the summary does not say.
    public var keptUnits: String? { RunComparison.keptUnits(summary.keptUnits, of: hiddenSize) }
}

/// Reads finished runs and lays them out side by side.
public enum RunComparison {
    /// Reads summary.json and config.json of every run; the error names the directory that is not a finished run.
    public static func load(_ paths: [String]) throws -> [RunColumn] {
        try requireDistinct(paths, command: "compare")
        return try paths.map { path in
            let url = URL(fileURLWithPath: path, isDirectory: true)
            let summaryURL = url.appendingPathComponent("summary.json")
            let data = try RunDirectory.readFile(
                atPath: summaryURL.path, maximumBytes: recordBytes,
                hint: "\(path) is not a finished run directory (a run writes summary.json when it ends).")
            let summary = try JSONFile.decodeRecord(
                RunSummary.self, from: data, path: summaryURL.path,
                advice: "Restore the run's summary.json, or leave \(path) out of the comparison.")
            let config = url.appendingPathComponent("config.json")
            return RunColumn(path: path, summary: summary, regularizer: regularizerName(config), hiddenSize: hiddenSize(config))
        }
    }

    /// Refuses a run directory named twice (the same directory by another spelling or through a
    /// link counts too): in a report it would count as two seeds. `command` names the command in
    /// the message.
    public static func requireDistinct(_ paths: [String], command: String) throws {
        var first: [String: String] = [:]
        for path in paths {
            let real = realPath(path)
            if let earlier = first[real] {
                let same = earlier == path ? "\(path) is named twice" : "\(earlier) and \(path) are the same run directory (\(real))"
                throw ExperimentError(
                    """
                    \(same): each run counts once. Name every run directory once: moduli \(command) \
                    \(uniqueArguments(paths).joined(separator: " "))\(command == "report" ? " --out REPORT_DIR" : "")
                    """
                )
            }
            first[real] = path
        }
    }

    /// `path` with links resolved and `.`/`..` removed (as given when it cannot be resolved).
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The paths without the repeats, in order.
    static func uniqueArguments(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert(realPath($0)).inserted }
    }

    /// The largest summary.json or config.json read (they have a few kilobytes).
    static let recordBytes = 16 << 20

    /// A decoder for run records (non-finite numbers are written as strings).
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// The regularizer of a config.json in words; "?" when it cannot be read.
    static func regularizerName(_ url: URL) -> String {
        guard let data = try? RunDirectory.readFile(atPath: url.path, maximumBytes: recordBytes, hint: ""),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let r = (object["training"] as? [String: Any])?["regularizer"] as? [String: Any],
            let space = r["space"] as? String
        else { return "?" }
        var words = [space]
        if space != "none" && space != "standard", let f = r["inhibitor"] as? String { words.append(f) }
        for flag in ["permute", "strengthMatched", "learnEmbedding", "changeEmbed"] where r[flag] as? Bool == true { words.append(flag) }
        if space != "none", let lambda = r["lambda"] as? Double { words.append("lambda \(lambda)") }
        return words.joined(separator: ", ")
    }

    /// The task option `hiddenSize` of a config.json; nil when it cannot be read.
    static func hiddenSize(_ url: URL) -> Int? {
        guard let data = try? RunDirectory.readFile(atPath: url.path, maximumBytes: recordBytes, hint: "") else { return nil }
        return hiddenSize(configData: data)
    }

    /// The task option `hiddenSize` of config.json's bytes; nil when it cannot be read.
    static func hiddenSize(configData data: Data) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (object["options"] as? [String: Any])?["hiddenSize"] as? Int
    }

    /// "K of H" (or "K" without H); nil without K.
    static func keptUnits(_ kept: Int?, of hiddenSize: Int?) -> String? {
        guard let kept else { return nil }
        return hiddenSize.map { "\(kept) of \($0)" } ?? "\(kept)"
    }

    /// A text table: one column per run, one row per metric (final, then main phase when there is a
    /// lottery phase), baselines, sparsity, the hidden units kept (where a summary says), steps and time.
    public static func table(_ runs: [RunColumn]) -> String {
        var rows: [(String, [String])] = []
        func row(_ label: String, _ value: (RunColumn) -> String) { rows.append((label, runs.map(value))) }
        func number(_ x: Double?) -> String { x.map { String(format: "%.4g", $0) } ?? "-" }
        row("run") { $0.path }
        row("task") { $0.summary.task }
        row("regularizer") { $0.regularizer }
        let metrics = Set(runs.flatMap { $0.summary.metrics.keys }).sorted()
        for m in metrics { row(m) { number($0.summary[m]) } }
        if runs.contains(where: { $0.summary.lottery != nil }) {
            for m in metrics { row("\(m) (main phase)") { number($0.summary.main[m]) } }
        }
        for b in Set(runs.flatMap { $0.summary.baselines.keys }).sorted() {
            row("\(b) (baseline)") { number($0.summary.baselines[b]) }
        }
        row("pruned sparsity") { String(format: "%.1f%%", 100 * $0.summary.main.sparsity.pooled.sparsity) }
        row("W_hh sparsity") { String(format: "%.1f%%", 100 * $0.summary.main.sparsity.recurrent.sparsity) }
        if runs.contains(where: { $0.summary.keptUnits != nil }) { row("kept units") { $0.keptUnits ?? "-" } }
        row("steps") { "\($0.summary.steps)" }
        row("seconds") { String(format: "%.1f", $0.summary.wallSeconds) }
        let labelWidth = rows.map(\.0.count).max() ?? 0
        let widths = runs.indices.map { k in rows.map { $0.1[k].count }.max() ?? 0 }
        return rows.map { label, values in
            ([label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)]
                + values.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) })
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
