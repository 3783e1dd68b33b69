// The `moduli` command line: parse, validate, call the library.
import ArgumentParser

/// The root command.
public struct ModuliCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "moduli",
        abstract: "Train recurrent networks with moduli regularization (geometric sparsification).")
    public init() {}
}
