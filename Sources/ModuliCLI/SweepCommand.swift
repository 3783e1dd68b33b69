// `moduli sweep`: a grid of configurations x seeds, run locally as child processes or as a Slurm
// job array, resumable, summarized as mean (std) per configuration (docs/cli.md, docs/slurm.md).
import ArgumentParser
import Experiments
import Foundation
import Reports

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of configurations x seeds (locally or as a Slurm job array) and tabulate mean (std) per configuration.",
        discussion: """
            SPEC is a JSON file {"task": "navigation", "base": ["--preset", "small"], "seeds": [0, 1, 2], \
            "configurations": {"torus": ["--moduli", "torus", "--inhibitor", "inverted-dog"], "none": []}} \
            or a built-in grid: paper-navigation and paper-language (with --preset small|paper), paper-adding. \
            BASE FLAGS --seed S resolve (as `moduli train <task>` reads them) into DIR/configs/<config>-sS.json, \
            and each run DIR/<config>-sS is `moduli train --config DIR/configs/<config>-sS.json --out DIR/<config>-sS --quiet` \
            in a process of its own. Finished runs are never redone, interrupted ones resume from their checkpoint, \
            a failed run is retried once. The table goes to DIR/summary.md and DIR/summary.csv. \
            A spec with "tune": {"flag": "--lambda", "values": ["0.01", "0.1"], "seeds": [0, 1]} and "confirm": {"seeds": [100, 101]} \
            runs every configuration at every value on the tuning seeds, selects per configuration the value with the best mean \
            validation metric (DIR/selection.json), then runs each at its selected value on the confirmation seeds; with \
            "control": "<configuration>" (or a list of them), the table gives every configuration's difference to each with a \
            95% interval.
            """)

    @Argument(help: "A sweep spec file (JSON) or a built-in grid: paper-navigation, paper-adding, paper-language.") var spec: String
    @Option(help: "The sweep directory (default runs/<spec name>).") var out: String?
    @Option(
        help: """
            Runs at a time on this machine (default 1); with --emit slurm, array tasks at a time. A run without --threads in \
            its flags gets max(1, cores / jobs) threads (with --emit slurm: --cpus-per-task, default 1).
            """)
    var jobs: Int?
    @Option(help: "Use the seeds 0..<N instead of the spec's.") var seeds: Int?
    @Option(help: "paper-navigation and paper-language only: the task's preset, small or paper (default paper).") var preset: String?
    @Flag(
        help: """
            Do not run: write and print the summary of the runs finished so far (after a Slurm array). A tuned sweep whose \
            tuning runs have all finished gets its selection (selection.json) first.
            """)
    var collect = false
    @Option(help: "Do not run: write a batch script for a scheduler instead (slurm: DIR/sweep.sbatch, a job array).") var emit: String?
    @Option(help: "With --emit slurm: the partition.") var partition: String?
    @Option(help: "With --emit slurm: the time limit of each array task (HH:MM:SS).") var time: String?
    @Option(name: .customLong("cpus-per-task"), help: "With --emit slurm: CPUs of each array task.") var cpusPerTask: Int?
    @Option(help: "With --emit slurm: memory of each array task (e.g. 4G).") var mem: String?
    @Option(
        name: .customLong("only-index"), help: ArgumentHelp("Run only the run with this index (a Slurm array task).", visibility: .hidden))
    var onlyIndex: Int?

    func validate() throws {
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs must be between 1 and 256, got \(jobs).") }
        if let seeds, !(1...100_000).contains(seeds) { throw ValidationError("--seeds must be between 1 and 100000, got \(seeds).") }
        if let emit, emit != "slurm" { throw ValidationError("--emit \(emit) is not known: the scheduler is slurm.") }
        if collect && emit != nil { throw ValidationError("--collect and --emit contradict each other: choose one.") }
        if onlyIndex != nil && (collect || emit != nil) {
            throw ValidationError("--only-index runs one run; it cannot go with --collect or --emit.")
        }
        if onlyIndex != nil && jobs != nil { throw ValidationError("--only-index runs one run; --jobs does not apply.") }
        if emit == nil {
            let slurmOnly = [
                ("--partition", partition != nil), ("--time", time != nil), ("--cpus-per-task", cpusPerTask != nil), ("--mem", mem != nil)
            ]
            .filter(\.1).map(\.0)
            if !slurmOnly.isEmpty {
                throw ValidationError(
                    "\(slurmOnly.joined(separator: ", ")) appl\(slurmOnly.count == 1 ? "ies" : "y") only with --emit slurm.")
            }
        }
        if let out, out.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--out is empty: name the sweep directory.") }
    }

    func run() throws {
        // A spec that cannot run is a usage error (exit 64), found before any run starts.
        let resolved: SweepSpec
        let configs: [(run: SweepRun, config: Data)]
        let source: String
        do {
            let (r, s) = try resolveSpec()
            configs = try r.resolvedConfigs(path: s, threads: threadsPerRun())
            resolved = r; source = s
            if r.tune != nil, emit != nil || onlyIndex != nil {
                throw ExperimentError(
                    """
                    \(s) tunes \(r.tune?.flag ?? "a flag"): a tuned sweep runs locally (its confirmation runs wait for the \
                    selection); --emit and --only-index apply to plain grids.
                    """
                )
            }
        } catch let e as ExperimentError {
            FileHandle.standardError.write(Data("Error: \(e.description)\n".utf8))
            throw ExitCode(64)
        }
        let slurmOptions = SlurmOptions(partition: partition, time: time, cpusPerTask: cpusPerTask, memory: mem, maximumParallel: jobs)
        if emit != nil {
            // Checked before the sweep directory exists, so that a refused option leaves nothing behind.
            do { try slurmOptions.validate() } catch let e as ExperimentError {
                FileHandle.standardError.write(Data("Error: \(e.description)\n".utf8))
                throw ExitCode(64)
            }
        }
        let directory = try SweepDirectory(path: out ?? defaultDirectory(), spec: resolved, create: !collect)
        let executable = SweepRunner.currentExecutable()
        if !collect { try directory.writeConfigs(configs) }

        if collect {
            // A tuned sweep whose tuning runs have all finished gets its selection now (made once,
            // as the sweep itself would), so that the table shows it before any confirmation run.
            if resolved.tune != nil, directory.tuningFinished { _ = try directory.selection() }
            try summarize(directory, print: true, requireComplete: true)
            return
        }
        if emit != nil {
            var arguments = [FileManager.default.fileExists(atPath: spec) ? URL(fileURLWithPath: spec).standardizedFileURL.path : spec]
            if let seeds { arguments += ["--seeds", String(seeds)] }
            if let preset { arguments += ["--preset", preset] }
            let text = try SlurmBatchScript.text(
                directory: directory, executable: executable, sweepArguments: arguments, options: slurmOptions)
            let script = directory.file(SlurmBatchScript.fileName)
            try RunDirectory.writeAtomically(Data(text.utf8), to: script)
            print("Wrote \(script.path): a job array of \(resolved.runs.count) runs. Submit it with: sbatch \(script.path)")
            print("Then collect the table: \(executable) sweep \(arguments.joined(separator: " ")) --out \(directory.url.path) --collect")
            return
        }
        if onlyIndex == nil, let threads = SweepSpec.largestThreads(configs),
            let warning = ThreadSetup.oversubscription(jobs: jobs ?? 1, threads: threads)
        {
            FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8))
        }
        let runner = SweepRunner(directory: directory, executable: executable, jobs: jobs ?? 1) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        // SIGINT, SIGTERM and SIGHUP stop the sweep: forwarded to the runs, which save checkpoints.
        StopRequest.installHandlers()
        let outcome: SweepRunner.Outcome
        if resolved.tune != nil {
            let threads = threadsPerRun()
            outcome = try runner.runTuned { selected in try resolved.resolvedConfigs(path: source, threads: threads, selected: selected) }
        } else {
            outcome = try runner.run(only: onlyIndex)
        }
        if let signal = outcome.stoppedBy {
            var command = ["moduli", "sweep", spec]
            if let seeds { command += ["--seeds", String(seeds)] }
            if let preset { command += ["--preset", preset] }
            command += ["--out", directory.url.path]
            if let onlyIndex { command += ["--only-index", String(onlyIndex)] }
            FileHandle.standardError.write(
                Data(
                    ("Stopped by \(StopRequest.name(of: signal)): \(outcome.stopped.count) run(s) did not finish "
                        + "(the ones that had started saved a checkpoint), \(outcome.finished.count + outcome.skipped.count) did. "
                        + "Resume the sweep with the same command: \(command.joined(separator: " "))\n").utf8))
            throw ExitCode(StopRequest.exitStatus(for: signal))
        }
        if onlyIndex != nil {
            // An array task writes the table when its run was the last one missing.
            let record = try directory.refresh()
            if record.runs.allSatisfy({ $0.state == .finished }) { try summarize(directory, print: false, requireComplete: false) }
        } else {
            try summarize(directory, print: true, requireComplete: false)
        }
        if !outcome.failed.isEmpty || !outcome.busy.isEmpty {
            var parts: [String] = []
            if !outcome.failed.isEmpty {
                parts.append(
                    """
                    \(outcome.failed.count) run(s) failed twice: \(outcome.failed.joined(separator: ", ")) (logs in \
                    \(directory.file("logs").path))
                    """
                )
            }
            if !outcome.busy.isEmpty {
                parts.append("\(outcome.busy.count) run(s) were being trained by another process: \(outcome.busy.joined(separator: ", "))")
            }
            throw ExperimentError(
                "The sweep is incomplete: " + parts.joined(separator: "; ") + ". Run the same command again to retry them.")
        }
    }

    /// The threads of each run whose flags do not give --threads: with --emit slurm
    /// --cpus-per-task (default 1), in an array task (--only-index) every core of its allocation,
    /// else the cores shared by --jobs runs (max(1, cores / jobs)).
    func threadsPerRun() -> Int {
        if emit != nil { return min(256, max(1, cpusPerTask ?? 1)) }
        return min(256, ThreadSetup.threadsPerJob(jobs: onlyIndex != nil ? 1 : jobs ?? 1))
    }

    /// The spec: a file when SPEC names one, else a built-in grid; `--seeds` applied.
    func resolveSpec() throws -> (SweepSpec, String) {
        var resolved: SweepSpec
        if FileManager.default.fileExists(atPath: spec) {
            if preset != nil {
                throw ExperimentError(
                    "--preset applies to the built-in paper-navigation and paper-language grids; a spec file gives its flags in \"base\".")
            }
            resolved = try SweepSpec.read(path: spec)
        } else if let builtIn = try SweepSpec.builtIn(spec, preset: preset) {
            resolved = builtIn
        } else {
            throw ExperimentError(
                """
                \(spec) is neither a spec file (no file at that path) nor a built-in grid \
                (\(SweepSpec.builtInNames.joined(separator: ", "))).
                """
            )
        }
        if let seeds {
            if resolved.tune != nil {
                throw ExperimentError(
                    "\(spec) tunes a flag and names its seeds in \"tune\" and \"confirm\": --seeds applies to plain grids.")
            }
            resolved = resolved.withSeeds(count: seeds)
        }
        return (resolved, spec)
    }

    /// runs/<spec file name without extension>, or runs/<grid>[-<preset>].
    func defaultDirectory() -> String {
        if FileManager.default.fileExists(atPath: spec) {
            return "runs/" + URL(fileURLWithPath: spec).deletingPathExtension().lastPathComponent
        }
        return "runs/" + spec + (preset.map { "-" + $0 } ?? "")
    }

    /// Writes summary.md and summary.csv and prints the table; with `requireComplete`, an error
    /// afterwards when runs are missing.
    func summarize(_ directory: SweepDirectory, print shouldPrint: Bool, requireComplete: Bool) throws {
        let record = try directory.refresh()
        let summary = try SweepSummary(directory: directory, record: record)
        try summary.write(to: directory)
        if shouldPrint {
            print(summary.markdown, terminator: "")
            print("Wrote \(directory.file(SweepSummary.markdownName).path) and \(SweepSummary.csvName).")
        }
        if requireComplete && !summary.missing.isEmpty {
            throw ExperimentError(
                """
                \(summary.missing.count) of \(directory.spec.runs.count) runs have no summary.json yet: \
                \(summary.missing.prefix(10).joined(separator: ", "))\(summary.missing.count > 10 ? ", ..." : ""). Run the sweep \
                again (or wait for the array) to finish them.
                """
            )
        }
    }
}
