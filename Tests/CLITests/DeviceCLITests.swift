// `--device`: the CPU by default; `cuda` on a machine without a usable GPU is refused before any
// work, naming what is missing, with nothing written.
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
}
