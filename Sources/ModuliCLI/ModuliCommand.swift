// The `moduli` command line: parse, validate, call the library. Commands never compute.
import ArgumentParser
import Experiments
import Foundation

/// The root command.
public struct ModuliCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "moduli",
        abstract: "Train recurrent networks with moduli regularization (geometric sparsification).",
        version: ModuliVersion.string,
        subcommands: [TrainCommand.self, EvaluateCommand.self, GenerateCommand.self, ExportCommand.self, CompareCommand.self, ReportCommand.self, SweepCommand.self, GeometryCommand.self, BenchCommand.self])
    public init() {}
}

/// `moduli train <task>`, or `moduli train --config FILE.json` for any task.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on one of the paper's tasks and write a run directory.",
        discussion: "moduli train --config FILE.json runs the task named in a resolved configuration (a run's config.json, edited).",
        subcommands: [TrainNavigationCommand.self, TrainLanguageCommand.self, TrainAddingCommand.self])

    @Option(help: "Run the task and settings of a resolved configuration file (a run's config.json).") var config: String?
    @OptionGroup var output: RunOptions

    func run() throws {
        guard let config else { throw CleanExit.helpRequest(self) }
        if output.resume { throw ValidationError("--config starts a new run; to continue one, give only --out and --resume to its task command.") }
        let url = URL(fileURLWithPath: config)
        let data = try TaskRegistry.readConfigFile(url)
        let task = try TaskRegistry.task(inConfig: data, path: url.path)
        StopRequest.installHandlers()
        let directory = try output.directory(task: task.name)
        let summary = try runTraining(in: directory) {
            try task.run(configData: data, path: url.path, in: directory, showProgress: !output.quiet)
        }
        guard let summary else { return }
        printSummary(summary, directory: directory)
    }
}
