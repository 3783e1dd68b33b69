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
        subcommands: [
            TrainCommand.self, EvaluateCommand.self, GenerateCommand.self, ExportCommand.self, CompareCommand.self, ReportCommand.self,
            SweepCommand.self, GeometryCommand.self, TopologyCommand.self, CompressCommand.self, BenchCommand.self
        ])
    public init() {}
}

/// `moduli train <task>`, or `moduli train --config FILE.json` for any task.
struct TrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "train",
            abstract: "Train a model on one of the paper's tasks and write a run directory.",
            discussion:
                """
                moduli train --config FILE.json runs the task named in a resolved configuration (a run's config.json, edited) as it \
                is; moduli train <task> --config FILE.json does the same for a file of that task. Options that change the \
                configuration cannot be given with --config.
                """,
            subcommands: TaskRegistry.tasks.map(trainCommand))
    }

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup var output: RunOptions

    func run() throws {
        guard let config = configFile.config else { throw CleanExit.helpRequest(self) }
        try trainFromConfigFile(config, output: output, command: nil, given: [])
    }
}
