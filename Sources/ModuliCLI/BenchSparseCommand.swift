// `moduli bench sparse`: the sparse W_hh kernels against dense OpenBLAS (and PyTorch), as a table.
import ArgumentParser
import Experiments
import Foundation
import Linalg

/// `moduli bench <what>`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time library kernels against their peers.",
        subcommands: [BenchSparseCommand.self, BenchTrainCommand.self])
}

struct BenchSparseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse",
        abstract: "Time the sparse W_hh products (CSR, block-sparse) against dense OpenBLAS sgemv/sgemm.",
        discussion: """
            Prints one row per hidden size x sparsity x batch (hidden 256/1024/4096, sparsity 0/50/90/95/98%, \
            batch 1 and 200 by default, random masks), milliseconds per product (median of --repeats after a warm-up) \
            and the speedup over dense. Set OPENBLAS_CORETYPE=SkylakeX on CPUs OpenBLAS does not recognise. \
            Example: moduli bench sparse --hidden 4096 --sparsity 90 --batch 1
            """)

    @Option(help: "Only this hidden size H (W_hh is H x H).") var hidden: Int?
    @Option(help: "Only this sparsity, in percent of W_hh's entries pruned.") var sparsity: Double?
    @Option(help: "Only this batch size.") var batch: Int?
    @Option(help: "Product to time: forward, backward or gradient (the SDDMM of --steps steps).") var kernel = "forward"
    @Option(
        help:
            "Layout of batched states: rows (B x H), columns (H x B), or auto (columns for a batch of at most 64, as the products choose).")
    var layout = "auto"
    @Option(help: "Steps of the sequence whose weight gradient --kernel gradient times.") var steps = 50
    @Option(help: "Block shape of the block-sparse format, RxC with C 4 or 8.") var block = "1x8"
    @Option(
        help: """
            Thread counts, comma-separated (e.g. 1,2): each row is timed at each count, with the sparse kernels and the dense \
            products (blocks of single-threaded OpenBLAS calls) on the worker pool, and PyTorch at the same count.
            """)
    var threads = "1"
    @Option(help: "Timed samples per product (each about 20 ms), after one warm-up call.") var repeats = 7
    @Option(help: "Seed of the random masks and inputs.") var seed: UInt64 = 0
    @Option(
        help:
            """
            Masks: random (uniform) or geometric (each neuron keeps its nearest neurons on a torus; the block format gets them in \
            manifold order).
            """
    )
    var mask = "random"
    @Option(
        name: .customLong("mask-from"),
        help: "A trained run directory: time its W_hh (zeros pruned); the block format gets the neurons in manifold order (positions.npy).")
    var maskFrom: String?
    @Option(help: "A Python with torch and numpy: adds PyTorch's sparse CSR product (torch.sparse_csr_tensor @ dense).")
    var pytorch: String?
    @Option(name: .customLong("pytorch-script"), help: "The PyTorch timing script.") var pytorchScript = "Tools/bench_sparse_torch.py"

    func validate() throws {
        if let hidden, !(1...16_384).contains(hidden) { throw ValidationError("--hidden must be between 1 and 16384, got \(hidden).") }
        if let sparsity, !(0...100).contains(sparsity) {
            throw ValidationError("--sparsity is a percentage between 0 and 100, got \(sparsity).")
        }
        if let batch, !(1...4096).contains(batch) { throw ValidationError("--batch must be between 1 and 4096, got \(batch).") }
        if SparseKernelBenchmark.Kernel(rawValue: kernel) == nil {
            throw ValidationError("--kernel must be forward, backward or gradient, got \(kernel).")
        }
        if layout != "auto" && SparseKernelBenchmark.Layout(rawValue: layout) == nil {
            throw ValidationError("--layout must be rows, columns or auto, got \(layout).")
        }
        if blockShape == nil { throw ValidationError("--block must be RxC with R between 1 and 16 and C 4 or 8, got \(block).") }
        if !(1...1000).contains(steps) { throw ValidationError("--steps must be between 1 and 1000, got \(steps).") }
        if threadCounts == nil {
            throw ValidationError("--threads must be a comma-separated list of counts between 1 and 256 (e.g. 1,2), got \(threads).")
        }
        if !(1...1000).contains(repeats) { throw ValidationError("--repeats must be between 1 and 1000, got \(repeats).") }
        if mask != "random" && mask != "geometric" { throw ValidationError("--mask must be random or geometric, got \(mask).") }
        if maskFrom != nil && (hidden != nil || sparsity != nil) {
            throw ValidationError("--hidden and --sparsity choose random masks; with --mask-from the run's W_hh sets both.")
        }
    }

    /// The thread counts of --threads, or nil when it is not a list of counts in 1...256.
    var threadCounts: [Int]? {
        let counts = threads.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0.map { (1...256).contains($0) } ?? false }) else { return nil }
        return counts.compactMap { $0 }
    }

    var blockShape: (rows: Int, columns: Int)? {
        let parts = block.lowercased().split(separator: "x")
        guard parts.count == 2, let r = Int(parts[0]), let c = Int(parts[1]), (1...16).contains(r), c == 4 || c == 8 else { return nil }
        return (r, c)
    }

    func run() throws {
        // Unbuffered, so that rows appear as they are measured.
        func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
        let counts = threadCounts ?? [1]
        let kind = SparseKernelBenchmark.Kernel(rawValue: kernel) ?? .forward
        guard let shape = blockShape else { throw ValidationError("--block must be RxC with C 4 or 8, got \(block).") }
        let batches = batch.map { [$0] } ?? [1, 200]
        var workloads: [() throws -> SparseKernelBenchmark.Workload] = []
        if let maskFrom {
            let w = try SparseKernelBenchmark.trainedWorkload(runDirectory: maskFrom)
            workloads = [{ w }]
            say("W_hh from \(w.source)")
        } else {
            for h in hidden.map({ [$0] }) ?? [256, 1024, 4096] {
                for s in sparsity.map({ [$0] }) ?? [0, 50, 90, 95, 98] {
                    workloads.append { [mask, seed] in
                        mask == "geometric"
                            ? SparseKernelBenchmark.geometricWorkload(hidden: h, sparsity: s / 100, seed: seed)
                            : SparseKernelBenchmark.randomWorkload(hidden: h, sparsity: s / 100, seed: seed)
                    }
                }
            }
        }
        let core = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"
        say(
            """
            moduli bench sparse: \(maskFrom == nil ? mask + " masks" : "trained mask"), \(kind.rawValue), threads \(threads), block \
            \(shape.rows)x\(shape.columns), OPENBLAS_CORETYPE=\(core), median of \(repeats)
            """
        )
        for t in counts where t > 1 {
            Parallel.setThreadCount(t)
            say("worker pool: \(t) threads, round trip of an empty call \(Parallel.measureDispatchNanoseconds()) ns (median)")
        }
        say(
            "| H | sparsity | B | T | layout | dense ms | CSR ms | CSR x | block ms | block x | block fill |"
                + (pytorch != nil ? " PyTorch ms | PyTorch x |" : ""))
        say("|---|---|---|---|---|---|---|---|---|---|---|" + (pytorch != nil ? "---|---|" : ""))
        for make in workloads {
            let w = try make()
            for b in batches {
                for t in counts {
                    ThreadSetup.apply(threads: t)
                    let l: SparseKernelBenchmark.Layout =
                        layout == "auto" ? (b <= 64 ? .columns : .rows) : (SparseKernelBenchmark.Layout(rawValue: layout) ?? .rows)
                    var row = SparseKernelBenchmark.measure(
                        w, batch: b, kernel: kind, layout: l, steps: steps, blockShape: shape,
                        repeats: repeats, seed: seed &+ 1)
                    if let pytorch, kind == .forward {
                        row.pytorchMilliseconds = try SparseKernelBenchmark.pytorch(
                            python: pytorch, script: pytorchScript, workload: w,
                            batch: b, threads: t, repeats: repeats)
                    }
                    var line =
                        "| \(row.hidden) | " + String(format: "%.1f%%", 100 * row.sparsity) + " | \(row.batch) | \(t) | \(row.layout) "
                    line += String(
                        format: "| %.4f | %.4f | %.2f | %.4f | %.2f | %.2f |", row.denseMilliseconds, row.csrMilliseconds,
                        row.denseMilliseconds / row.csrMilliseconds, row.blockMilliseconds,
                        row.denseMilliseconds / row.blockMilliseconds, row.blockFill)
                    if pytorch != nil {
                        line +=
                            row.pytorchMilliseconds.map { String(format: " %.4f | %.2f |", $0, row.denseMilliseconds / $0) } ?? " - | - |"
                    }
                    say(line)
                }
            }
        }
    }
}
