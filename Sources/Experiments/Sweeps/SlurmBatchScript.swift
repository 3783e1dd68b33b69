// The Slurm batch script of a sweep: a job array with one task per run, each task running
// `moduli sweep SPEC --out DIR --only-index $SLURM_ARRAY_TASK_ID` on a node that sees the sweep
// directory on a shared file system (sbatch(1); docs/slurm.md).
import Foundation

/// sbatch options of a sweep's job array.
public struct SlurmOptions: Sendable, Equatable {
    /// `--partition`.
    public var partition: String?
    /// `--time` (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS).
    public var time: String?
    /// `--cpus-per-task`.
    public var cpusPerTask: Int?
    /// `--mem` (megabytes, or with a K, M, G or T suffix).
    public var memory: String?
    /// Array tasks at a time (`--array=0-K%N`); nil for no limit.
    public var maximumParallel: Int?

    /// Options from their parts; check them with `validate()`.
    public init(partition: String? = nil, time: String? = nil, cpusPerTask: Int? = nil, memory: String? = nil, maximumParallel: Int? = nil)
    {
        self.partition = partition; self.time = time; self.cpusPerTask = cpusPerTask; self.memory = memory
        self.maximumParallel = maximumParallel
    }

    /// Refuses values sbatch would not take; the error names the option.
    public func validate() throws {
        if let partition, partition.range(of: #"^[A-Za-z0-9_.,-]+$"#, options: .regularExpression) == nil {
            throw ExperimentError(
                "--partition \(partition) is not a Slurm partition name (letters, digits, '_', '.', '-'; several separated by commas).")
        }
        if let time,
            time.range(
                of: #"^([0-9]+|[0-9]+:[0-9]{2}|[0-9]+:[0-9]{2}:[0-9]{2}|[0-9]+-[0-9]+(:[0-9]{2}(:[0-9]{2})?)?)$"#,
                options: .regularExpression) == nil
        {
            throw ExperimentError("--time \(time) is not a Slurm time limit: give minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.")
        }
        if let cpusPerTask, !(1...4096).contains(cpusPerTask) {
            throw ExperimentError("--cpus-per-task must be between 1 and 4096, got \(cpusPerTask).")
        }
        if let memory, memory.range(of: #"^[0-9]+[KMGTkmgt]?$"#, options: .regularExpression) == nil {
            throw ExperimentError("--mem \(memory) is not a Slurm memory size: give megabytes or a number with K, M, G or T (16G).")
        }
        if let maximumParallel, maximumParallel < 1 { throw ExperimentError("--jobs must be at least 1, got \(maximumParallel).") }
    }
}

/// Writes a sweep's job-array batch script.
public enum SlurmBatchScript {
    /// The file name inside the sweep directory.
    public static let fileName = "sweep.sbatch"

    /// The script for `directory`'s sweep: array tasks 0 to runs - 1, each running `executable`
    /// with `sweepArguments` (the spec and the options that shape it) plus `--out DIR --only-index
    /// $SLURM_ARRAY_TASK_ID`. Slurm's own output goes to DIR/logs/slurm-<job>_<task>.out.
    public static func text(directory: SweepDirectory, executable: String, sweepArguments: [String], options: SlurmOptions) throws -> String
    {
        try options.validate()
        let dir = directory.url.path
        // #SBATCH lines are not shell words: a path with white space or % cannot be written there.
        if dir.contains(where: { $0.isWhitespace || $0 == "%" }) {
            throw ExperimentError(
                "The sweep directory \(dir) holds white space or '%', which #SBATCH lines cannot carry: choose an --out without them.")
        }
        let count = directory.spec.runs.count
        let name = "moduli-" + directory.url.lastPathComponent.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        var lines = [
            "#!/bin/bash",
            "# A Slurm job array: one task per run of the sweep in \(dir) (\(count) runs).",
            """
            # Submit with sbatch; then collect the table with: \(shellQuote(executable)) sweep \
            \(sweepArguments.map(shellQuote).joined(separator: " ")) --out \(shellQuote(dir)) --collect
            """,
            "#SBATCH --job-name=\(name)",
            "#SBATCH --array=0-\(count - 1)\(options.maximumParallel.map { "%\($0)" } ?? "")",
            "#SBATCH --output=\(dir)/logs/slurm-%A_%a.out",
            "#SBATCH --ntasks=1"
        ]
        if let p = options.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = options.time { lines.append("#SBATCH --time=\(t)") }
        if let c = options.cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(c)") }
        if let m = options.memory { lines.append("#SBATCH --mem=\(m)") }
        lines += [
            "set -eu",
            """
            exec \(shellQuote(executable)) sweep \(sweepArguments.map(shellQuote).joined(separator: " ")) --out \(shellQuote(dir)) \
            --only-index \"$SLURM_ARRAY_TASK_ID\"
            """
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `word` as one POSIX shell word (single-quoted unless it needs no quotes).
    public static func shellQuote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0)) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
