// Runs of one configuration over several seeds, grouped by directory name (`torus-s0`, `torus-s1`
// -> `torus`), with mean and sample standard deviation of every final metric.
import Foundation

/// A configuration's runs over seeds.
public struct RunGroup: Sendable {
    /// The configuration: the directory name without its `-sN` suffix (the whole name when it has none).
    public var configuration: String
    /// The name shown: the configuration, or `parent/configuration` when groups of another parent
    /// directory have the same configuration (a sweep per sparsity, say).
    public var name: String
    /// The runs, in the order given.
    public var runs: [ReportRun]

    /// The statistics of one quantity over the group's runs.
    public struct Statistic: Sendable, Equatable {
        /// The values, one per run that has the quantity.
        public var values: [Double]
        /// Their mean.
        public var mean: Double { values.reduce(0, +) / Double(max(1, values.count)) }
        /// Their sample standard deviation (n - 1); nil for fewer than two values.
        public var standardDeviation: Double? {
            guard values.count > 1 else { return nil }
            let m = mean
            return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
        }
    }

    /// The quantities summarized: every final metric of summary.json (sorted), then the baselines,
    /// the pooled and W_hh sparsity, the train loss and the wall time.
    public static func quantities(_ runs: [ReportRun]) -> [(name: String, value: @Sendable (ReportRun) -> Double?)] {
        var q: [(String, @Sendable (ReportRun) -> Double?)] = []
        for m in Set(runs.flatMap { $0.summary.metrics.keys }).sorted() { q.append((m, { $0.summary[m] })) }
        for b in Set(runs.flatMap { $0.summary.baselines.keys }).sorted() { q.append(("\(b) (baseline)", { $0.summary.baselines[b] })) }
        q.append(("trainLoss", { $0.summary.trainLoss }))
        q.append(("pooled sparsity", { $0.summary.main.sparsity.pooled.sparsity }))
        q.append(("kept parameters", keptParameters))
        if runs.contains(where: \.removedUnits) { q.append(("kept units", { $0.summary.keptUnits.map(Double.init) })) }
        q.append(("W_hh sparsity", { $0.summary.main.sparsity.recurrent.sparsity }))
        q.append(("seconds", { $0.summary.wallSeconds }))
        return q
    }

    /// The statistic of `value` over the group.
    public func statistic(_ value: (ReportRun) -> Double?) -> Statistic {
        Statistic(values: runs.compactMap(value).filter(\.isFinite))
    }

    /// `name` without a trailing `-s<digits>` (the seed suffix).
    public static func configurationName(_ directoryName: String) -> String {
        guard let dash = directoryName.range(of: "-s", options: .backwards) else { return directoryName }
        let digits = directoryName[dash.upperBound...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), dash.lowerBound > directoryName.startIndex
        else {
            return directoryName
        }
        return String(directoryName[..<dash.lowerBound])
    }

    /// The runs grouped by configuration name, groups in order of first appearance. Runs whose
    /// parent directories differ stay apart (`a/torus-s0` and `b/torus-s1` are two groups, named
    /// `a/torus` and `b/torus`).
    public static func group(_ runs: [ReportRun]) -> [RunGroup] {
        var groups: [RunGroup] = [], parents: [URL] = [], index: [String: Int] = [:]
        for run in runs {
            let parent = URL(fileURLWithPath: run.path).standardizedFileURL.deletingLastPathComponent()
            let name = configurationName(run.name)
            let key = parent.path + "\u{0}" + name
            if let k = index[key] {
                groups[k].runs.append(run)
            } else {
                index[key] = groups.count
                groups.append(RunGroup(configuration: name, name: name, runs: [run]))
                parents.append(parent)
            }
        }
        // A repeated configuration is named by its parent directory, the last component where that
        // tells the groups apart (`whh90/torus`), the whole path where it does not (`a/runs`, `b/runs`).
        let repeated = Dictionary(groups.map { ($0.configuration, 1) }, uniquingKeysWith: +).filter { $0.value > 1 }.keys
        for configuration in repeated {
            let members = groups.indices.filter { groups[$0].configuration == configuration }
            let short = Set(members.map { parents[$0].lastPathComponent }).count == members.count
            for k in members { groups[k].name = (short ? parents[k].lastPathComponent : parents[k].path) + "/" + configuration }
        }
        return groups
    }

    /// "mean (std)" with four significant digits (for a fraction: the mean as a percentage with one
    /// decimal, the std with two significant digits, below 0.001% as 0%);
    /// "mean" alone for one value; "-" for none.
    public static func format(_ s: Statistic, percent: Bool = false, count: Bool = false) -> String {
        guard !s.values.isEmpty else { return "-" }
        let digits = count ? "%.6g" : "%.4g"
        let mean = percent ? Builder.percent(s.mean) : String(format: digits, s.mean)
        return s.standardDeviation.map {
            mean + " (" + (percent ? (100 * $0 < 0.001 ? "0%" : String(format: "%.2g%%", 100 * $0)) : String(format: digits, $0)) + ")"
        } ?? mean
    }

    /// Whether a quantity of `quantities` is a fraction shown as a percentage.
    public static func isFraction(_ name: String) -> Bool { name.hasSuffix("sparsity") }

    /// Whether a quantity of `quantities` counts parameters or units (shown in whole digits up to 6).
    public static func isCount(_ name: String) -> Bool { name.hasPrefix("kept ") }

    /// The parameters a run kept: the non-zero entries of its pruned tensors (every weight matrix
    /// that pruning or a structured method acts on), whatever removed the others.
    @Sendable public static func keptParameters(_ run: ReportRun) -> Double? {
        let pooled = run.summary.main.sparsity.pooled
        return pooled.count > 0 ? Double(pooled.count - pooled.zeros) : nil
    }
}
