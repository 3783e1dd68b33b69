// `--device` on train, evaluate and generate: the CPU by default; `cuda` on a machine without a
// usable GPU is refused before any work, naming what is missing, with nothing written.
import Compute
import Foundation
import Testing
import _TestSupport

@Suite struct DeviceCLITests {
    static let tiny = ["--epochs", "2", "--batches-per-epoch", "3", "--hidden", "8", "--length", "5", "--test-size", "10", "--quiet"]

    @Test func cudaWithoutAGPUIsRefusedBeforeARunDirectoryIsMade() throws {
        let root = TestFiles.temporaryDirectory("moduli-device")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = root + "/run"
        let r = try CLITests.moduli(["train", "adding", "--device", "cuda", "--out", out] + Self.tiny)
        if (try? CUDABackend()) != nil {
            // A GPU machine: the same command trains there.
            #expect(r.status == 0, "--device cuda on a machine with a GPU: \(r.err)")
            return
        }
        #expect(r.status == 1, "\(r.status) \(r.err)")
        #expect(r.err.contains("--device") && r.err.contains("--device cpu") && r.err.contains("What is missing"), "\(r.err)")
        #expect(!r.err.contains("Fatal error"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out), "a refused run left \(out)")
    }

    @Test func theDeviceGivenIsRecordedAndARunResumesWithAnother() throws {
        let root = TestFiles.temporaryDirectory("moduli-device")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = root + "/run"
        let r = try CLITests.moduli(["train", "adding", "--device", "cpu", "--out", out] + Self.tiny)
        #expect(r.status == 0, "\(r.err)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
        #expect(((config as? [String: Any])?["training"] as? [String: Any])?["device"] as? String == "cpu")
        // --device is the one option --resume takes (a finished run has nothing left to do).
        let resumed = try CLITests.moduli(["train", "adding", "--resume", "--out", out, "--device", "cpu", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.err)")
        let refused = try CLITests.moduli(["train", "adding", "--resume", "--out", out, "--device", "cpu", "--lr", "0.1"])
        #expect(refused.status != 0 && refused.err.contains("--lr"), "\(refused.err)")
    }

    /// `evaluate` and `generate` run on the device named: on the CPU exactly as without the option;
    /// on a GPU the metrics of summary.json to Float rounding; without one, refused with the message
    /// that names what is missing. The sparse kernels run on the CPU only.
    @Test func evaluateAndGenerateTakeTheDevice() throws {
        let dir = TestFiles.temporaryDirectory("moduli-device")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try LanguageCLITests.corpus(dir), run = dir + "/run"
        let train = try CLITests.moduli(
            ["train", "language", "--data", data, "--out", run, "--epochs", "2", "--cell", "gru", "--lr", "1", "--quiet"]
                + LanguageCLITests.tiny)
        #expect(train.status == 0, "\(train.err)")
        let evaluated = try CLITests.moduli(["evaluate", run])
        let onCPU = try CLITests.moduli(["evaluate", run, "--device", "cpu"])
        #expect(evaluated.status == 0 && onCPU.status == 0, "\(evaluated.err) \(onCPU.err)")
        let metrics = CLITests.evaluatedMetrics(evaluated.out)
        #expect(!metrics.isEmpty && CLITests.evaluatedMetrics(onCPU.out) == metrics, "\(evaluated.out) / \(onCPU.out)")
        let sampled = try CLITests.moduli(["generate", run, "--words", "20", "--seed", "4"])
        let sampledOnCPU = try CLITests.moduli(["generate", run, "--words", "20", "--seed", "4", "--device", "cpu"])
        #expect(sampled.status == 0 && !sampled.out.isEmpty && sampledOnCPU.out == sampled.out, "\(sampled.out) / \(sampledOnCPU.out)")

        let gpu = (try? CUDABackend()) != nil
        let onGPU = try CLITests.moduli(["evaluate", run, "--device", "cuda"])
        let sampledOnGPU = try CLITests.moduli(["generate", run, "--words", "20", "--device", "cuda"])
        if gpu {
            #expect(onGPU.status == 0 && sampledOnGPU.status == 0, "\(onGPU.err) \(sampledOnGPU.err)")
            for (name, value) in CLITests.evaluatedMetrics(onGPU.out) {
                let cpu = try #require(metrics[name])
                #expect(abs(value - cpu) <= 1e-4 * max(1, abs(cpu)), "\(name): \(value) on the GPU, \(cpu) on the CPU")
            }
        } else {
            for r in [onGPU, sampledOnGPU] {
                #expect(r.status == 1 && r.err.contains("--device cpu") && r.err.contains("What is missing"), "\(r.status) \(r.err)")
                #expect(!r.err.contains("Fatal error"), "\(r.err)")
            }
        }
        for command in ["evaluate", "generate"] {
            let r = try CLITests.moduli([command, run, "--sparse", "--device", "cuda"])
            #expect(r.status == 1 && r.err.contains("--sparse") && r.err.contains("--device cpu"), "\(command): \(r.err)")
        }
    }
}
