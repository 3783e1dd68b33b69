// The moduli process under the limits a shell or a batch system sets: a file-size limit
// (`ulimit -f`, without the shell ignoring SIGXFSZ for it) and an address-space limit
// (`ulimit -v`). Each ends in a message and an exit status, never in a signal or a trap, and
// leaves no half file.
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct ResourceLimitTests {
    /// Runs moduli under `limits` (shell `ulimit` commands) with one BLAS thread, so that the
    /// process's own address space does not depend on the machine's core count.
    static func underLimits(_ limits: String, _ arguments: [String]) throws -> ProcessRobustnessTests.Outcome {
        try ProcessRobustnessTests.shell("\(limits); exec \"$0\" \"$@\"", arguments, environment: ["OPENBLAS_NUM_THREADS": "1"])
    }

    @Test func aWritePastTheFileSizeLimitIsAMessage() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // R of 512 neurons is 1 MiB as float32; the limit is 64 blocks (32 or 64 KiB).
        let matrix = dir + "/R.npy"
        let r = try Self.underLimits("ulimit -f 64", ["geometry", "--neurons", "512", "--matrix", matrix])
        #expect(!r.signaled, "killed by signal \(r.status)")
        #expect((1...127).contains(r.status), "status \(r.status)")
        #expect(r.err.contains(matrix) && r.err.contains("ulimit -f"), "\(r.err)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.isEmpty, "left behind: \(names)")

        // A training run: its checkpoint passes the limit; metrics.jsonl keeps whole lines.
        let run = dir + "/run"
        let t = try Self.underLimits(
            "ulimit -f 16",
            [
                "train", "adding", "--epochs", "2", "--batches-per-epoch", "5", "--hidden", "64", "--length", "5",
                "--test-size", "10", "--log-every", "1", "--out", run
            ])
        #expect(!t.signaled, "killed by signal \(t.status)")
        #expect((1...127).contains(t.status), "status \(t.status)")
        #expect(t.err.contains(run) && t.err.contains("ulimit -f"), "\(t.err)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []
        #expect(!left.contains { $0.contains(".tmp-") }, "\(left)")
    }

    /// 1.5 GB of address space: enough for the debug binary with one BLAS thread (about 0.3 GB).
    static let addressSpace = "ulimit -v 1500000"

    @Test func theGeometryCommandChecksTheAddressSpaceLimit() throws {
        let small = try Self.underLimits(Self.addressSpace, ["geometry", "--neurons", "64"])
        #expect(small.status == 0 && !small.signaled, "the limit is too tight for the binary itself: \(small.err)")
        let large = try Self.underLimits(Self.addressSpace, ["geometry", "--neurons", "16384"])
        #expect(!large.signaled, "killed by signal \(large.status)")
        #expect((1...127).contains(large.status), "status \(large.status)")
        #expect(large.err.contains("GiB") && large.err.contains("ulimit -v") && large.err.contains("--neurons"), "\(large.err)")
    }

    @Test func trainingChecksTheAddressSpaceLimitBeforeMakingTheRunDirectory() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/run"
        let r = try Self.underLimits(Self.addressSpace, ["train", "adding", "--hidden", "8192", "--out", out])
        #expect(!r.signaled, "killed by signal \(r.status)")
        #expect((1...127).contains(r.status), "status \(r.status)")
        #expect(r.err.contains("GiB") && r.err.contains("ulimit -v"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func aCorpusWithManyWordsIsCheckedAgainstTheAddressSpaceLimit() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corpus = dir + "/corpus"
        try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
        // 200,000 distinct words: the model's embedding, decoder and logits over them need about 2 GiB.
        var text = ""
        for i in 0..<200_000 { text += "w\(i)" + (i % 20 == 19 ? "\n" : " ") }
        try text.write(toFile: corpus + "/train.txt", atomically: true, encoding: .utf8)
        for name in ["valid", "test"] {
            try (0..<100).map { "w\($0)" }.joined(separator: " ").appending("\n").write(
                toFile: "\(corpus)/\(name).txt", atomically: true, encoding: .utf8)
        }
        let out = dir + "/run"
        let r = try Self.underLimits(
            Self.addressSpace,
            [
                "train", "language", "--data", corpus, "--embedding-size", "64", "--hidden", "64",
                "--out", out, "--quiet"
            ])
        #expect(!r.signaled, "killed by signal \(r.status)")
        #expect((1...127).contains(r.status), "status \(r.status)")
        #expect(r.err.contains("vocabulary of 200001 words") && r.err.contains("ulimit -v"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
