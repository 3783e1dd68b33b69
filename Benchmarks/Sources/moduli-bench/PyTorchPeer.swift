// Runs the PyTorch peer (Tools/bench_pytorch.py) for one workload and thread count and reads its
// JSON result line. PyTorch is optional: without a Python that has it, only our figures print.
import Foundation

/// One PyTorch measurement, as printed by `Tools/bench_pytorch.py --json`.
struct PeerResult: Decodable, Sendable {
    /// Median milliseconds per call.
    let median_ms: Double
    /// Fastest call in milliseconds.
    let min_ms: Double
    /// The PyTorch version.
    let torch: String
}

/// The PyTorch peer: a Python interpreter with torch and the path of the peer script.
struct PyTorchPeer {
    /// The Python interpreter, e.g. /opt/torchenv/bin/python.
    let python: String
    /// Tools/bench_pytorch.py of this repository.
    let script: String

    /// Runs one workload; returns nil (and says why on stderr) when the peer fails.
    func run(workload: String, threads: Int, warmup: Int, repetitions: Int, peakSize: Int) -> PeerResult? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            script, "--json", "--workload", workload, "--threads", String(threads),
            "--warmup", String(warmup), "--reps", String(repetitions), "--peak-size", String(peakSize)
        ]
        // The peer must not inherit a thread setting meant for us; it sets its own.
        var environment = ProcessInfo.processInfo.environment
        for key in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] { environment[key] = String(threads) }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch {
            FileHandle.standardError.write(Data("PyTorch peer did not start (\(python)): \(error)\n".utf8))
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
            let result = try? JSONDecoder().decode(PeerResult.self, from: Data(line.utf8))
        else {
            FileHandle.standardError.write(Data("PyTorch peer failed on \(workload) (status \(process.terminationStatus))\n".utf8))
            return nil
        }
        return result
    }
}
