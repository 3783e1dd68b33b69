// The `moduli` command line: parse, validate, call the library. Commands never compute.
import ArgumentParser
import Experiments

/// The root command.
public struct ModuliCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "moduli",
        abstract: "Train recurrent networks with moduli regularization (geometric sparsification).",
        version: ModuliVersion.string,
        subcommands: [TrainCommand.self, GeometryCommand.self])
    public init() {}
}

/// `moduli train <task>`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on one of the paper's tasks and write a run directory.",
        subcommands: [TrainAddingCommand.self])
}
