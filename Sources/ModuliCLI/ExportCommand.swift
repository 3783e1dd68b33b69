// `moduli export`: a finished run's model as a file, sparse (CSR tensors PyTorch loads) or dense.
import ArgumentParser
import Experiments
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a finished run's model as a sparse (CSR) or dense safetensors file.",
        discussion: """
            The sparse file stores every pruned tensor NAME as NAME.crow_indices, NAME.col_indices \
            (int32) and NAME.values (float32), the arguments of torch.sparse_csr_tensor; the other \
            tensors stay dense. Tools/load_sparse_model.py loads it into PyTorch. With --reorder the \
            hidden units are renumbered along the moduli space (the same function) and the order is \
            kept in the metadata (neuron_order). moduli evaluate RUN --model FILE evaluates the file.
            Example: moduli export runs/demo-navigation/torus --out torus-sparse.safetensors
            """)

    @Argument(help: "A finished run directory (config.json and model.safetensors).") var runDirectory: String
    @Option(help: "The file to write.") var out: String
    @Flag(help: "Write every tensor dense (float32) instead of the pruned ones in CSR form.") var dense = false
    @Flag(help: "Renumber the hidden units along the moduli space.") var reorder = false
    @Flag(help: "Replace --out if it exists.") var overwrite = false

    func validate() throws {
        if out.isEmpty { throw ValidationError("--out needs a file name.") }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw ValidationError("--out \(out) is a directory; name a file.") }
            if !overwrite { throw ValidationError("--out \(out) exists; give --overwrite to replace it.") }
        }
        let task = try TaskRegistry.task(ofRunAt: runDirectory)
        let data = try task.export(runAt: runDirectory, sparse: !dense, reorder: reorder)
        try RunDirectory.writeAtomically(data, to: URL(fileURLWithPath: out))
        let modelPath = URL(fileURLWithPath: runDirectory).appendingPathComponent("model.safetensors").path
        let denseBytes = (try? FileManager.default.attributesOfItem(atPath: modelPath)[.size] as? Int) ?? nil
        var line = "Wrote \(out): \(data.count) bytes (\(dense ? "dense" : "sparse CSR")\(reorder ? ", neurons in manifold order" : ""))"
        if let denseBytes, denseBytes > 0 {
            line += String(format: "; model.safetensors has %d bytes (%.2fx)", denseBytes, Double(denseBytes) / Double(data.count))
        }
        print(line)
    }
}
