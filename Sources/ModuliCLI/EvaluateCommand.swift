// `moduli evaluate`: a finished run's model on its task's test data, dense or sparse.
import ArgumentParser
import Experiments
import Foundation
import Linalg
import NN
import Reports

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a finished run's model on its task's test data, dense or with sparse kernels.",
        discussion: """
            Rebuilds the task from the run's config.json, loads model.safetensors (pruned weights are \
            its zeros) and prints every metric next to the value in summary.json. With --sparse the \
            recurrent weights run through the compressed sparse kernels; the metrics agree with the \
            dense path to float rounding.
            Example: moduli evaluate runs/demo-navigation/torus --sparse
            """)

    @Argument(help: "A finished run directory (config.json and model.safetensors).") var runDirectory: String
    @Flag(help: "Run the recurrent products on the kept weights only (sparse kernels).") var sparse = false
    @Option(help: "Sparse format with --sparse: csr (default) or block (blocks of the block-sparse kernels).") var format:
        SparseFormatName = .csr
    @Option(help: "Evaluate this model file of the run (written by moduli export, dense or sparse) instead of its model.safetensors.")
    var model: String?
    @Flag(help: "Renumber the hidden units along the moduli space first (the same function; the layout in which kept weights form blocks).")
    var reorder = false
    @Option(help: "Threads of moduli's worker pool, dense products included (default: every core this process may use).")
    var threads: Int = ThreadSetup.defaultThreads
    @Option(help: "Where the model runs: cpu (default) or cuda (an NVIDIA GPU; dense products).") var device: ComputeDevice = .cpu

    func validate() throws {
        if threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads).") }
        if format != .csr && !sparse { throw ValidationError("--format applies to --sparse.") }
    }

    func run() throws {
        ThreadSetup.apply(threads: threads)
        let task = try TaskRegistry.task(ofRunAt: runDirectory)
        let start = Date()
        let metrics = try task.evaluate(
            runAt: runDirectory,
            EvaluationOptions(sparse: sparse ? format.format : nil, reorder: reorder, modelFile: model, device: device))
        let seconds = Date().timeIntervalSince(start)
        let recorded = try? RunComparison.load([runDirectory]).first?.summary.metrics
        let products = (sparse ? "sparse (\(format.format)) products" : "dense products") + (device == .cpu ? "" : " on \(device.rawValue)")
        print(
            """
            \(task.name) model of \(runDirectory), \(products)\(reorder ? ", neurons in manifold order" : ""), \
            \(String(format: "%.1f", seconds)) s:
            """
        )
        let width = max(6, metrics.keys.map(\.count).max() ?? 0)
        for name in metrics.keys.sorted() {
            let value = metrics[name] ?? .nan
            var line = name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%.6g", value)
            if let saved = recorded?[name] {
                line += "  (summary.json \(String(format: "%.6g", saved)), difference \(String(format: "%.2g", value - saved)))"
            }
            print(line)
        }
    }
}

/// The sparse formats on the command line.
enum SparseFormatName: String, ExpressibleByArgument, CaseIterable {
    case csr, block

    /// The product's format (blocks of `BlockSparseMatrix.defaultBlockShape`).
    var format: SparseWeightProduct.Format { self == .csr ? .csr : .defaultBlock }
}

extension ComputeDevice: ExpressibleByArgument {}
