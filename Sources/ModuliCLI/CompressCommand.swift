// `moduli compress`: a finished run's model made smaller and dense by neuron elimination, written as
// a new run directory of hidden size K (docs/method.md "Neuron elimination").
import ArgumentParser
import Experiments
import Foundation

struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Remove linearly dependent and dead hidden units of a finished run; write the smaller dense model as a new run.",
        discussion: """
            Regresses each hidden unit's activations (over the task's validation inputs) on the other \
            units'; the unit with the smallest relative residual at or below --tolerance is removed and \
            its outgoing weights folded into the others', until none is within the tolerance. Dead \
            units (nothing reads them, or nothing drives them) are dropped too. DIR gets config.json \
            (hidden size K, no regularizer), model.safetensors (dense, hidden size K), summary.json \
            (the compact model's metrics, which moduli evaluate DIR reproduces) and compression.json \
            (the source run, the tolerance, the kept units). One-layer models whose task names its \
            hidden-unit axes (not a tied language model).
            Example: moduli compress runs/adding --tolerance 0.01 --out runs/adding-compact
            """)

    @Argument(help: "A finished run directory (config.json, model.safetensors and summary.json).") var runDirectory: String
    @Option(help: "The largest relative residual ||a_j - fit|| / ||a_j|| of a removed unit, in [0, 1).") var tolerance: Double
    @Option(help: "The new run directory to write.") var out: String
    @Option(help: "Rows of hidden states over the task's validation inputs the regressions use.") var rows: Int =
        ModelCompression.defaultRows
    @Flag(help: "Replace --out if it holds a run (or is empty).") var overwrite = false
    @Option(help: "Threads of moduli's worker pool, dense products included (default: every core this process may use).")
    var threads: Int = ThreadSetup.defaultThreads

    func validate() throws {
        if threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads).") }
    }

    func run() throws {
        ThreadSetup.apply(threads: threads)
        let record = try ModelCompression.compress(runAt: runDirectory, tolerance: tolerance, out: out, overwrite: overwrite, rows: rows)
        print(
            """
            Wrote \(out): hidden size \(record.sourceHiddenSize) -> \(record.hiddenSize) (\(record.eliminated.count) units folded into \
            others at tolerance \(record.tolerance), \(record.deadUnits.count) dead units dropped; \(record.rows) rows of hidden states).
            """
        )
        let width = max(6, record.metrics.keys.map(\.count).max() ?? 0)
        for name in record.metrics.keys.sorted() {
            var line =
                name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%.6g", record.metrics[name] ?? .nan)
            if let source = record.sourceMetrics[name] { line += "  (source \(String(format: "%.6g", source)))" }
            print(line)
        }
    }
}
