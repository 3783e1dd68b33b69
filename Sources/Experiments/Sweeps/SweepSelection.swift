// The selection of a tuned sweep (selection.json): for every tuned configuration, the value of the
// tuned flag whose tuning runs have the best mean of the task's validation metric
// (`TrainingTask.selectionMetric`, never the test metric). Made once, when every tuning run has
// finished, and recorded, so that a restarted sweep confirms the same values.
import Foundation

/// selection.json: the value selected for each tuned configuration, and the means it was chosen by.
public struct SweepSelection: Codable, Sendable, Equatable {
    /// One value of the tuned flag for one configuration.
    public struct Candidate: Codable, Sendable, Equatable {
        /// The value.
        public var value: String
        /// The tuning seeds, in order.
        public var seeds: [UInt64]
        /// The validation metric of the run at each seed (NaN when a run ended without a finite one).
        public var metrics: [Double]
        /// Their mean; nil when one of them is not finite (such a value is never selected).
        public var mean: Double?
    }

    /// The selection for one configuration.
    public struct Choice: Codable, Sendable, Equatable {
        /// The configuration.
        public var configuration: String
        /// The selected value.
        public var value: String
        /// Every value tried, in the spec's order.
        public var candidates: [Candidate]
    }

    /// The format tag.
    public var format: String
    /// The tuned flag.
    public var flag: String
    /// The validation metric the values were selected by.
    public var metric: String
    /// Whether a larger metric is better.
    public var increases: Bool
    /// One choice per tuned configuration, in the spec's order.
    public var choices: [Choice]

    /// The current format.
    public static let currentFormat = "moduli-selection-1"
    /// The file's name inside the sweep directory.
    public static let fileName = "selection.json"

    /// The selected value of each tuned configuration, by name.
    public var selected: [String: String] { Dictionary(uniqueKeysWithValues: choices.map { ($0.configuration, $0.value) }) }

    /// Selects, for every tuned configuration of `spec`, the value whose tuning runs have the best
    /// mean of `metric` (smaller, or larger with `increases`); ties go to the value listed first.
    /// `metrics(run)` gives a tuning run's final metrics (summary.json's); only `metric` is read
    /// from them. A run without a finite `metric` rules its value out; the error names a
    /// configuration none of whose values has a finite mean.
    public static func select(
        spec: SweepSpec, metric: String, increases: Bool, metrics: (SweepRun) throws -> [String: Double]
    ) throws -> SweepSelection {
        guard let tune = spec.tune else { throw ExperimentError("The sweep tunes no flag: there is nothing to select.") }
        let tuningRuns = spec.runs.filter { $0.value != nil }
        var choices: [Choice] = []
        for name in spec.tunedConfigurations {
            var candidates: [Candidate] = []
            for value in tune.values {
                let runs = tuningRuns.filter { $0.configuration == name && $0.value == value }
                let values = try runs.map { run -> Double in
                    let v = try metrics(run)[metric] ?? .nan
                    return v.isFinite ? v : .nan
                }
                let mean = values.allSatisfy(\.isFinite) ? Statistics.mean(values) : nil
                candidates.append(Candidate(value: value, seeds: runs.map(\.seed), metrics: values, mean: mean))
            }
            var best: Candidate?
            for c in candidates {
                guard let m = c.mean else { continue }
                if let b = best?.mean, increases ? m <= b : m >= b { continue }
                best = c
            }
            guard let best else {
                throw ExperimentError(
                    """
                    No value of \(tune.flag) gave configuration \(name) a finite \(metric) on every tuning seed: nothing can be \
                    selected. Check the runs' logs, and try other values in "tune.values".
                    """
                )
            }
            choices.append(Choice(configuration: name, value: best.value, candidates: candidates))
        }
        return SweepSelection(format: currentFormat, flag: tune.flag, metric: metric, increases: increases, choices: choices)
    }
}

extension SweepDirectory {
    /// The selection recorded in selection.json, or nil when none is.
    public func recordedSelection() throws -> SweepSelection? {
        let url = file(SweepSelection.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try RunDirectory.readFile(
            atPath: url.path, maximumBytes: 16 << 20, hint: "The sweep directory \(self.url.path) is damaged.")
        let selection = try JSONFile.decode(
            SweepSelection.self, from: data, path: url.path,
            advice: "It is not a selection moduli wrote: restore it, or delete it to select again from the tuning runs.")
        guard selection.format == SweepSelection.currentFormat,
            Set(selection.choices.map(\.configuration)) == Set(spec.tunedConfigurations),
            selection.choices.allSatisfy({ spec.tune?.values.contains($0.value) == true })
        else {
            throw ExperimentError(
                """
                \(url.path) is a selection of another format (\(selection.format)) or another spec. Delete it to select again from \
                the tuning runs.
                """
            )
        }
        return selection
    }

    /// Whether every tuning run has a summary.json.
    public var tuningFinished: Bool { spec.runs.allSatisfy { $0.value == nil || condition(of: $0) == .finished } }

    /// The selection: the recorded one when selection.json exists, else one made now from the
    /// tuning runs' summary.json files (the task's validation metric only) and recorded, under the
    /// sweep's lock, so that every process of the sweep confirms the same values. The error names
    /// the tuning runs that have not finished.
    public func selection() throws -> SweepSelection {
        try withLock {
            if let recorded = try recordedSelection() { return recorded }
            let missing = spec.runs.filter { $0.value != nil && condition(of: $0) != .finished }.map(\.name)
            if !missing.isEmpty {
                throw ExperimentError(
                    """
                    The values cannot be selected yet: \(missing.count) tuning run(s) have no summary.json \
                    (\(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", ..." : "")). Run the sweep again to finish them.
                    """
                )
            }
            let registered = try TaskRegistry.task(named: spec.task)
            let metric = try registered.validationMetric()
            let selection = try SweepSelection.select(spec: spec, metric: metric, increases: registered.primaryMetricIncreases) { run in
                let path = directory(of: run).appendingPathComponent("summary.json").path
                let data = try RunDirectory.readFile(atPath: path, maximumBytes: 16 << 20, hint: "The tuning run \(run.name) is damaged.")
                return try JSONFile.decode(
                    RunSummary.self, from: data, path: path,
                    advice: "Delete the run directory \(run.name) to run it again."
                ).metrics
            }
            try RunDirectory.writeAtomically(RunDirectory.encodeJSON(selection), to: file(SweepSelection.fileName))
            return selection
        }
    }
}

extension RegisteredTask {
    /// The validation metric selection reads; the error says that the task has none (its
    /// selection metric would be its test metric).
    public func validationMetric() throws -> String {
        guard let selectionMetric else {
            throw ExperimentError(
                """
                The task \(name) has no validation metric to select on: its selectionMetric is its test metric \(primaryMetric). \
                Give the task validation data and declare selectionMetric (docs/adding-a-task.md), or sweep without "tune".
                """
            )
        }
        return selectionMetric
    }
}
