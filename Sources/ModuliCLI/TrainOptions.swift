// Options every `moduli train <task>` command shares: the run directory, the trainer's settings and
// the paper's method (regularizer, pruning, lottery ticket). Every value is optional, so that a
// command knows which ones were given: new runs fill in the task's defaults, and `--resume`
// refuses any (a resumed run keeps its own configuration).
import ArgumentParser
import Experiments
import Foundation
import NN
import Sparsity

/// Where the run goes and how to continue it.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Run directory to write (config.json, metrics.jsonl, summary.json, model.safetensors); default runs/<task>-<time>.")
    var out: String?

    @Flag(name: .long, help: "Replace the run in --out: everything in it is deleted first.")
    var overwrite = false

    @Flag(name: .long, help: "Continue the run in --out from its last checkpoint with its own configuration (config.json); no other option may be given.")
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
    @Option(help: "Run the task and settings of a resolved configuration file (a run's config.json) as they are; only --out, --overwrite and --quiet may be given with it.")
    var config: String?
}

/// The trainer's settings on the command line; nil = the task's default.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Run seed (weights, data stream, positions). Default 0.") var seed: UInt64?
    @Option(help: "Epochs of the main phase (pruning runs over them).") var epochs: Int?
    @Option(name: .customLong("batches-per-epoch"), help: "Optimizer steps per epoch.") var batchesPerEpoch: Int?
    @Option(name: .customLong("fixed-epochs"), help: "Epochs at fixed sparsity after the main epochs.") var fixedEpochs: Int?
    @Option(help: "Optimizer: sgd, adam, adamw.") var optimizer: OptimizerConfig.Kind?
    @Option(help: "Learning rate.") var lr: Double?
    @Option(name: .customLong("weight-decay"), help: "Weight decay (L2 for sgd and adam, decoupled for adamw); learned positions get none.")
    var weightDecay: Double?
    @Option(help: "SGD momentum.") var momentum: Double?
    @Flag(help: "SGD Nesterov momentum.") var nesterov = false
    @Option(name: .customLong("lr-schedule"), help: "Learning-rate schedule: constant, warmup, plateau (divide by --lr-factor when the evaluation does not improve).")
    var lrSchedule: LearningRateSchedule.Kind?
    @Option(name: .customLong("warmup-steps"), help: "Steps of linear warm-up (--lr-schedule warmup).") var warmupSteps: Int?
    @Option(name: .customLong("lr-factor"), help: "Division of the learning rate on a plateau (default 4).") var lrFactor: Double?
    @Option(help: "Global gradient-norm clip (0 = off).") var clip: Double?
    @Option(name: .customLong("evaluate-every"), help: "Evaluate every N epochs (and after the last).") var evaluateEvery: Int?
    @Option(name: .customLong("log-every"), help: "Write a training-loss line every N steps.") var logEvery: Int?
    @Option(help: "OpenBLAS threads.") var threads: Int?
    @Option(name: .customLong("recurrent-kernels"), help: "Products with W_hh and the pruned linear layers: auto (default: sparse kernels once pruning leaves a weight sparse enough) or dense.")
    var recurrentKernels: RecurrentKernels?

    /// The flags given on the command line.
    var given: [String] {
        [("--seed", seed != nil), ("--epochs", epochs != nil), ("--batches-per-epoch", batchesPerEpoch != nil),
         ("--fixed-epochs", fixedEpochs != nil), ("--optimizer", optimizer != nil), ("--lr", lr != nil),
         ("--weight-decay", weightDecay != nil), ("--momentum", momentum != nil), ("--nesterov", nesterov),
         ("--lr-schedule", lrSchedule != nil), ("--warmup-steps", warmupSteps != nil), ("--lr-factor", lrFactor != nil),
         ("--clip", clip != nil), ("--evaluate-every", evaluateEvery != nil), ("--log-every", logEvery != nil),
         ("--threads", threads != nil), ("--recurrent-kernels", recurrentKernels != nil)].filter(\.1).map(\.0)
    }

    /// Sets the given values on `t`.
    func apply(to t: inout TrainingConfig) {
        if let seed { t.seed = seed }
        if let epochs { t.epochs = epochs }
        if let batchesPerEpoch { t.stepsPerEpoch = batchesPerEpoch }
        if let fixedEpochs { t.fixedEpochs = fixedEpochs }
        if let optimizer { t.optimizer.kind = optimizer }
        if let lr { t.optimizer.learningRate = lr }
        if let weightDecay { t.optimizer.weightDecay = weightDecay }
        if let momentum { t.optimizer.momentum = momentum }
        if nesterov { t.optimizer.nesterov = true }
        if let lrSchedule { t.learningRateSchedule.kind = lrSchedule }
        if let warmupSteps { t.learningRateSchedule.warmupSteps = warmupSteps }
        if let lrFactor { t.learningRateSchedule.factor = lrFactor }
        if let clip { t.clip = clip }
        if let evaluateEvery { t.evaluateEvery = evaluateEvery }
        if let logEvery { t.logEvery = logEvery }
        if let threads { t.threads = threads }
        if let recurrentKernels { t.recurrentKernels = recurrentKernels }
    }
}

/// The paper's method on the command line: the moduli regularizer, pruning and lottery tickets.
/// Flag map to the authors' scripts: --moduli = `moduli`, --inhibitor = `inhibitor`, --invert =
/// `invert`, --permute = `permute`, --change-embed = `changeembed`, --learn-embedding =
/// `learn_embedding`, --lambda = the regularization weight, --target-sparsity = the final pruning
/// fraction (docs/cli.md).
struct MethodOptions: ParsableArguments {
    @Option(help: "Moduli space for the regularizer: none (default), standard (plain L1/L2), or circle, torus, torus6, klein, sphere, s3, r3, r9, mixedcurv.")
    var moduli: String?
    @Option(help: "Inhibitor f(d): square, gauss, dog, inverted-dog (default), ripple, constant.")
    var inhibitor: String?
    @Flag(help: "Invert R: R = max(R) - R (implied by inverted-dog).") var invert = false
    @Flag(help: "Control: shuffle the entries of R (same values, no geometry).") var permute = false
    @Flag(name: .customLong("change-embed"), help: "Separate positions for rows and columns (non-symmetric R).") var changeEmbed = false
    @Flag(name: .customLong("strength-matched"), help: "Control: constant R equal to the mean of the geometric R.") var strengthMatched = false
    @Flag(name: .customLong("learn-embedding"), help: "Learn the neuron positions with the model's optimizer (no weight decay on them).") var learnEmbedding = false
    @Option(help: "Penalty weight lambda (default: the task's).") var lambda: Double?
    @Option(help: "Penalty power p: 1 (L1-type, default) or 2 (L2-type).") var power: Int?
    @Option(name: .customLong("target-sparsity"), help: "Final pooled sparsity of the pruned tensors (0 = no pruning; default: the task's, navigation 0.9, adding 0).")
    var targetSparsity: Double?
    @Option(help: "Pruning schedule: linear (paper, default) or cubic (Zhu & Gupta).") var schedule: ScheduleShape?
    @Option(name: .customLong("prune-every"), help: "Prune every N steps instead of at the start of every epoch.") var pruneEvery: Int?
    @Option(name: .customLong("tensor-targets"), help: "Per-tensor final targets, comma-separated, in the order of the task's pruned tensors.")
    var tensorTargets: String?
    @Option(help: "Lottery ticket after sparse training: none (default), random (paper), rewind (Frankle-Carbin).") var lottery: LotteryMode?

    /// The flags given on the command line.
    var given: [String] {
        [("--moduli", moduli != nil), ("--inhibitor", inhibitor != nil), ("--invert", invert), ("--permute", permute),
         ("--change-embed", changeEmbed), ("--strength-matched", strengthMatched), ("--learn-embedding", learnEmbedding),
         ("--lambda", lambda != nil), ("--power", power != nil), ("--target-sparsity", targetSparsity != nil),
         ("--schedule", schedule != nil), ("--prune-every", pruneEvery != nil), ("--tensor-targets", tensorTargets != nil),
         ("--lottery", lottery != nil)].filter(\.1).map(\.0)
    }

    /// Sets the regularizer, pruning and lottery of `t`; `lambdaDefault` is the task's lambda.
    func apply(to t: inout TrainingConfig, lambdaDefault: Double) throws {
        let name = inhibitor ?? "inverted-dog"
        guard let f = Inhibitor(name: name) else {
            throw ValidationError("Unknown --inhibitor \(name): choose square, gauss, dog, inverted-dog, ripple or constant.")
        }
        let r = RegularizerConfig(space: (moduli ?? "none").lowercased(), inhibitor: f, invert: invert, permute: permute,
                                  changeEmbed: changeEmbed, strengthMatched: strengthMatched, lambda: lambda ?? lambdaDefault,
                                  power: power ?? 1, learnEmbedding: learnEmbedding)
        if r.kind == .none {
            let needing = given.filter { ["--inhibitor", "--invert", "--permute", "--change-embed", "--strength-matched",
                                          "--learn-embedding", "--lambda", "--power"].contains($0) }
            if !needing.isEmpty { throw ValidationError("\(needing.joined(separator: ", ")) need(s) a regularizer: set --moduli.") }
        }
        t.regularizer = r
        if let targetSparsity { t.pruning.targetSparsity = targetSparsity }
        if let schedule { t.pruning.schedule = schedule }
        if let pruneEvery { t.pruning.everySteps = pruneEvery }
        if let tensorTargets {
            let values = tensorTargets.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--tensor-targets must be comma-separated numbers, got \(tensorTargets).")
            }
            t.pruning.tensorTargets = values.compactMap { $0 }
        }
        if let lottery { t.lottery = lottery }
    }
}

/// The cell named by `--cell` (PyTorch's names, any case); the error lists the choices.
func cellKind(_ name: String) throws -> CellKind {
    guard let kind = CellKind(rawValue: name.lowercased()) else {
        throw ValidationError("Unknown --cell \(name): choose one of \(CellKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    }
    return kind
}

extension LotteryMode: ExpressibleByArgument {}
extension RecurrentKernels: ExpressibleByArgument {}
extension ScheduleShape: ExpressibleByArgument {}
extension OptimizerConfig.Kind: ExpressibleByArgument {}
extension LearningRateSchedule.Kind: ExpressibleByArgument {}

/// A `moduli train <task>` command: it builds its task's configuration from the options given;
/// validation and running are the same for every task.
protocol TaskCommand: ParsableCommand {
    associatedtype Task: TrainingTask
    /// The run directory options.
    var output: RunOptions { get }
    /// `--config FILE`, when given.
    var configFile: ConfigFileOption { get }
    /// The options given on the command line (refused with `--resume`).
    var given: [String] { get }
    /// The configuration of a new run.
    func config() throws -> RunConfig<Task.Options>
}

extension TaskCommand {
    func validate() throws {
        guard !output.resume, configFile.config == nil else { return }
        let config = try config()
        try checkPrerequisites(given: given, training: config.training)
        do { try Trainer<Task>.validate(config) } catch let e as ExperimentError { throw ValidationError(e.description) }
    }

    func run() throws {
        if let path = configFile.config {
            try trainFromConfigFile(path, output: output, command: Task.name, given: given)
            return
        }
        try train(Task.self, config: output.resume ? nil : config(), output: output, given: given)
    }
}

/// Refuses an option given on the command line that has no effect on this configuration: each
/// needs another setting (its prerequisite), which the message names.
func checkPrerequisites(given: [String], training t: TrainingConfig) throws {
    let schedule = t.learningRateSchedule.kind
    if given.contains("--warmup-steps"), schedule != .warmup {
        throw ValidationError("--warmup-steps applies only with --lr-schedule warmup (this run's schedule is \(schedule.rawValue)): add --lr-schedule warmup, or drop --warmup-steps.")
    }
    if given.contains("--lr-factor"), schedule != .plateau {
        throw ValidationError("--lr-factor applies only with --lr-schedule plateau (this run's schedule is \(schedule.rawValue)): add --lr-schedule plateau, or drop --lr-factor.")
    }
    if t.pruning.targetSparsity == 0 {
        for option in ["--schedule", "--prune"] where given.contains(option) {
            throw ValidationError("\(option) shapes pruning, and this run prunes nothing (--target-sparsity is 0): add --target-sparsity, e.g. --target-sparsity 0.9, or drop \(option).")
        }
    }
}

/// Runs the configuration file at `path` as it is: `moduli train --config FILE`, or `moduli train
/// <command> --config FILE`, where the file's task must be `command`. Options that change the
/// configuration (`given`) are refused: the file is the whole configuration.
func trainFromConfigFile(_ path: String, output: RunOptions, command: String?, given: [String]) throws {
    let out = output.out ?? "DIR"
    if output.resume {
        let task = (try? TaskRegistry.task(ofRunAt: out).name) ?? command ?? "<task>"
        throw ValidationError("--config starts a new run from a file; --resume continues the run in --out with its own config.json. To continue it: moduli train \(task) --resume --out \(out)")
    }
    if !given.isEmpty {
        throw ValidationError("--config runs the configuration in \(path) as it is: \(given.joined(separator: ", ")) cannot be given with it (only --out, --overwrite and --quiet can). Change the values in the file and run moduli train --config \(path) --out \(out), or build the run from options alone: moduli train \(command ?? "<task>") \(given.joined(separator: " ")) ... (without --config).")
    }
    let url = URL(fileURLWithPath: path)
    let data = try TaskRegistry.readConfigFile(url)
    let task = try TaskRegistry.task(inConfig: data, path: url.path)
    if let command, task.name != command {
        throw ValidationError("\(url.path) is a configuration of the task \(task.name), but the command is moduli train \(command): the task comes from the file. Run it with moduli train --config \(path) --out \(out) (or moduli train \(task.name) --config \(path) --out \(out)).")
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
        throw ValidationError("The run in \(dir.path) is a run of the task \(recorded.name), not \(task): continue it with moduli train \(recorded.name) --resume --out \(out)")
    }
    if RunDirectory.holdsRun(dir), let restart = RunDirectory.restartCommand(dir) {
        throw ExperimentError("Nothing to resume yet: the run in \(dir.path) stopped before its first checkpoint. Start it anew with its own configuration: \(restart)")
    }
}

/// Runs `config` of `Task` in the directory of `output` (new or resumed) and prints the summary line.
func train<Task: TrainingTask>(_ task: Task.Type, config: RunConfig<Task.Options>?, output: RunOptions, given: [String]) throws {
    if output.resume, !given.isEmpty {
        throw ValidationError("--resume continues the run with its own configuration (\(output.out ?? "")/config.json); \(given.joined(separator: ", ")) cannot be given with it. To change them, start a new run (another --out, or --overwrite).")
    }
    if output.resume, let out = output.out { try checkResumable(out, task: Task.name) }
    StopRequest.installHandlers()
    let directory = try output.directory(task: Task.name)
    let summary = try runTraining(in: directory) { () throws -> RunSummary? in
        let resolved: RunConfig<Task.Options>
        if output.resume {
            resolved = try directory.readJSON(RunConfig<Task.Options>.self, from: "config.json")
        } else {
            guard let config else { throw ValidationError("No configuration to run.") }
            resolved = config
        }
        let trainer = try Trainer<Task>(config: resolved)
        return try trainer.train(in: directory, resume: output.resume, showProgress: !output.quiet)
    }
    guard let summary else { return }
    printSummary(summary, directory: directory)
}

/// The one line a finished run prints on stdout.
func printSummary(_ summary: RunSummary, directory: RunDirectory) {
    let metrics = summary.metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.5g", $0.key, $0.value) }
    let baselines = summary.baselines.sorted { $0.key < $1.key }.map { String(format: "%@ %.5g", $0.key, $0.value) }
    print("\(summary.task): \(metrics.joined(separator: ", "))\(baselines.isEmpty ? "" : " (\(baselines.joined(separator: ", ")))")"
          + String(format: " after %d steps in %.1f s; results in %@", summary.steps, summary.wallSeconds, directory.url.path))
}
