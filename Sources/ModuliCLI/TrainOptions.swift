// What every `moduli train <task>` command shares besides the configuration's options (which the
// library declares, `TaskOptions`): the run directory, `--config FILE`, and running a resolved
// configuration, new or resumed.
import ArgumentParser
import Experiments
import Foundation
import NN
import Sparsity

/// Where the run goes and how to continue it.
struct RunOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Run directory to write (config.json, metrics.jsonl, summary.json, model.safetensors); default runs/<task>-<time>.")
    var out: String?

    @Flag(name: .long, help: "Replace the run in --out: everything in it is deleted first.")
    var overwrite = false

    @Flag(
        name: .long,
        help:
            """
            Continue the run in --out from its last checkpoint with its own configuration (config.json); no other option may be given \
            but --device.
            """
    )
    var resume = false

    @Flag(name: .long, help: "Print nothing but errors and the final summary line.")
    var quiet = false

    func validate() throws {
        if overwrite && resume { throw ValidationError("--overwrite and --resume contradict each other: choose one.") }
        if resume && out == nil { throw ValidationError("--resume needs --out, the run directory to continue.") }
        if let out, out.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--out is empty: name the run directory to write.")
        }
    }

    /// The run directory, defaulting to a new runs/<task>-<timestamp> (with -2, -3, ... when a run
    /// of the same second has it).
    func directory(task: String) throws -> RunDirectory {
        if let out { return try RunDirectory(path: out, overwrite: overwrite, resume: resume) }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        return try RunDirectory(uniquePath: "runs/\(task)-\(stamp)")
    }
}

/// `--config FILE`: a resolved configuration (a run's config.json, edited) to run as it is. Both
/// `moduli train --config FILE` and `moduli train <task> --config FILE` read it (the option group is
/// shared, so the value reaches the task command wherever it is given).
struct ConfigFileOption: ParsableArguments {
    @Option(
        help:
            """
            Run the task and settings of a resolved configuration file (a run's config.json) as they are; only --out, --overwrite and \
            --quiet may be given with it.
            """
    )
    var config: String?
}

/// Runs the configuration file at `path` as it is: `moduli train --config FILE`, or `moduli train
/// <command> --config FILE`, where the file's task must be `command`. Options that change the
/// configuration (`given`) are refused: the file is the whole configuration.
func trainFromConfigFile(_ path: String, output: RunOptions, command: String?, given: [String]) throws {
    let out = output.out ?? "DIR"
    if output.resume {
        let task = (try? TaskRegistry.task(ofRunAt: out).name) ?? command ?? "<task>"
        throw ValidationError(
            """
            --config starts a new run from a file; --resume continues the run in --out with its own config.json. To continue it: \
            moduli train \(task) --resume --out \(out)
            """
        )
    }
    if !given.isEmpty {
        throw ValidationError(
            """
            --config runs the configuration in \(path) as it is: \(given.joined(separator: ", ")) cannot be given with it (only \
            --out, --overwrite and --quiet can). Change the values in the file and run moduli train --config \(path) --out \(out), or \
            build the run from options alone: moduli train \(command ?? "<task>") \(given.joined(separator: " ")) ... (without \
            --config).
            """
        )
    }
    let url = URL(fileURLWithPath: path)
    let data = try TaskRegistry.readConfigFile(url)
    let task = try TaskRegistry.task(inConfig: data, path: url.path)
    if let command, task.name != command {
        throw ValidationError(
            """
            \(url.path) is a configuration of the task \(task.name), but the command is moduli train \(command): the task comes from \
            the file. Run it with moduli train --config \(path) --out \(out) (or moduli train \(task.name) --config \(path) --out \
            \(out)).
            """
        )
    }
    StopRequest.installHandlers()
    let directory = try output.directory(task: task.name)
    let summary = try runTraining(in: directory) {
        try task.run(configData: data, path: url.path, in: directory, showProgress: !output.quiet)
    }
    guard let summary else { return }
    printSummary(summary, directory: directory)
}

/// Refuses to resume the run in `out` when it is not a run of `task` (its config.json names
/// another task) or when it has no checkpoint yet; each message gives the command that works.
func checkResumable(_ out: String, task: String) throws {
    let dir = URL(fileURLWithPath: out, isDirectory: true).standardizedFileURL
    let fm = FileManager.default
    guard fm.fileExists(atPath: dir.appendingPathComponent("config.json").path) else { return }
    let recorded: RegisteredTask
    do { recorded = try TaskRegistry.task(ofRunAt: dir.path) } catch let e as ExperimentError {
        throw ExperimentError("Cannot resume the run in \(dir.path): \(e.description)")
    }
    if recorded.name != task {
        throw ValidationError(
            """
            The run in \(dir.path) is a run of the task \(recorded.name), not \(task): continue it with moduli train \(recorded.name) \
            --resume --out \(out)
            """
        )
    }
    if RunDirectory.holdsRun(dir), let restart = RunDirectory.restartCommand(dir) {
        throw ExperimentError(
            """
            Nothing to resume yet: the run in \(dir.path) stopped before its first checkpoint. Start it anew with its own \
            configuration: \(restart)
            """
        )
    }
}

/// Runs `config` of `Task` (resolved and validated; `prepared`: the data its resolution read) in the
/// directory of `output`, or resumes the run there (`config` nil), and prints the summary line.
func train<Task: TrainingTask>(
    _ task: Task.Type, config: RunConfig<Task.Options>?, prepared: (any Sendable)? = nil, device: ComputeDevice? = nil,
    output: RunOptions, given: [String]
) throws {
    if output.resume, !given.isEmpty {
        throw ValidationError(
            """
            --resume continues the run with its own configuration (\(output.out ?? "")/config.json); \(given.joined(separator: ", ")) \
            cannot be given with it. To change them, start a new run (another --out, or --overwrite).
            """
        )
    }
    if output.resume, let out = output.out { try checkResumable(out, task: Task.name) }
    // A device that is not there is refused before a run directory is made.
    try Trainer<Task>.requireDevice(output.resume ? device : config?.training.device)
    StopRequest.installHandlers()
    let directory = try output.directory(task: Task.name)
    let summary = try runTraining(in: directory) { () throws -> RunSummary? in
        let resolved: RunConfig<Task.Options>
        if output.resume {
            var saved = try directory.readJSON(RunConfig<Task.Options>.self, from: "config.json")
            if let device { saved.training.device = device }
            resolved = saved
        } else {
            guard let config else { throw ValidationError("No configuration to run.") }
            resolved = config
        }
        let trainer = output.resume ? try Trainer<Task>(config: resolved) : try Trainer<Task>(validated: resolved, prepared: prepared)
        return try trainer.train(in: directory, resume: output.resume, showProgress: !output.quiet)
    }
    guard let summary else { return }
    printSummary(summary, directory: directory)
}

/// The one line a finished run prints on stdout.
func printSummary(_ summary: RunSummary, directory: RunDirectory) {
    let metrics = summary.metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.5g", $0.key, $0.value) }
    let baselines = summary.baselines.sorted { $0.key < $1.key }.map { String(format: "%@ %.5g", $0.key, $0.value) }
    print(
        "\(summary.task): \(metrics.joined(separator: ", "))\(baselines.isEmpty ? "" : " (\(baselines.joined(separator: ", ")))")"
            + String(format: " after %d steps in %.1f s; results in %@", summary.steps, summary.wallSeconds, directory.url.path))
}
