// `moduli compare`: finished runs side by side.
import ArgumentParser
import Reports

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Print the final metrics, sparsity and cost of finished runs side by side.",
        discussion: "Example: moduli compare runs/demo-navigation/torus runs/demo-navigation/none")

    @Argument(help: "Run directories (each with a summary.json).") var runs: [String]

    func validate() throws {
        if runs.isEmpty { throw ValidationError("Name at least one run directory.") }
    }

    func run() throws {
        print(RunComparison.table(try RunComparison.load(runs)))
    }
}
