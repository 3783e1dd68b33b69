// `moduli train language`, `moduli generate` and `moduli bench train` as a user runs them.
import Foundation
import Testing
import _TestSupport

@Suite struct LanguageCLITests {
    /// A corpus directory of a few hundred tokens.
    static func corpus(_ dir: String) throws -> String {
        let path = dir + "/corpus"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "and", "big"]
        var k = 0
        for (name, lines) in [("train.txt", 50), ("valid.txt", 10), ("test.txt", 10)] {
            var text = ""
            for _ in 0..<lines {
                text +=
                    (0..<(3 + k % 5)).map { _ in
                        k += 7; return words[k % words.count]
                    }.joined(separator: " ") + "\n"
            }
            try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
        return path
    }

    static let tiny = ["--embedding-size", "6", "--hidden", "8", "--batch-size", "4", "--evaluation-batch-size", "3", "--bptt", "5"]

    @Test func trainEvaluateGenerateAndBench() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try Self.corpus(dir), run = dir + "/run"
        let train = try CLITests.moduli(
            [
                "train", "language", "--data", data, "--out", run, "--epochs", "2", "--cell", "lstm",
                "--moduli", "torus", "--target-sparsity", "0.5", "--lr", "1", "--quiet"
            ] + Self.tiny)
        #expect(train.status == 0, "\(train.err)")
        #expect(train.out.contains("testPerplexity"), "\(train.out)")
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any]
        let saved = try #require(summary?["testPerplexity"] as? Double)
        for variant in [[], ["--sparse"], ["--reorder"]] {
            let r = try CLITests.moduli(["evaluate", run] + variant)
            #expect(r.status == 0, "\(r.err)")
            let value = try #require(CLITests.evaluatedMetrics(r.out)["testPerplexity"], "\(r.out)")
            #expect(abs(value - saved) <= 1e-4 * saved, "\(variant): \(value) against \(saved)")
        }
        let a = try CLITests.moduli(["generate", run, "--words", "25", "--seed", "3"])
        let b = try CLITests.moduli(["generate", run, "--words", "25", "--seed", "3", "--sparse"])
        #expect(a.status == 0 && b.status == 0, "\(a.err) \(b.err)")
        let sampled = a.out.split(whereSeparator: \.isWhitespace)
        #expect(
            sampled.count >= 10
                && sampled.allSatisfy { ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "and", "big"].contains(String($0)) },
            "\(a.out)")
        #expect(a.out == b.out, "dense and sparse sampling differ: \(a.out) / \(b.out)")
        let bench = try CLITests.moduli(["bench", "train", "--steps", "2", "--warmup", "1", "language", "--data", data] + Self.tiny)
        #expect(bench.status == 0 && bench.out.hasPrefix("BENCH {") && bench.out.contains("\"meanMs\""), "\(bench.out) \(bench.err)")
        // The step of a pruned model (every pruned tensor at 90% first), on sparse kernels and on GEMMs.
        for kernels in ["auto", "dense"] {
            let pruned = try CLITests.moduli(
                [
                    "bench", "train", "--steps", "2", "--warmup", "1", "--pruned", "0.9", "language", "--data", data,
                    "--recurrent-kernels", kernels
                ] + Self.tiny)
            #expect(pruned.status == 0 && pruned.out.contains("\"pruned\":0.9"), "\(pruned.out) \(pruned.err)")
            // The pooled sparsity of the pruned tensors during the timed steps: 90% of each tensor.
            let json = pruned.out.split(separator: "\n").first { $0.hasPrefix("BENCH ") }.map { String($0.dropFirst(6)) } ?? ""
            let record = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            let sparsity = try #require(record?["sparsity"] as? Double, "\(pruned.out)")
            #expect(abs(sparsity - 0.9) < 0.01, "sparsity \(sparsity) after --pruned 0.9")
        }
    }

    @Test func badInputFailsWithAMessageAndNoRun() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try Self.corpus(dir)
        try FileManager.default.removeItem(atPath: data + "/valid.txt")
        for (arguments, mentions) in [
            (["train", "language", "--data", data, "--out", dir + "/r"], "valid.txt"),
            (["train", "language", "--data", dir + "/none", "--out", dir + "/r"], dir + "/none"),
            (["train", "language", "--tied", "--embedding-size", "100", "--out", dir + "/r"], "--tied"),
            (["train", "language", "--dropout", "1", "--out", dir + "/r"], "--dropout"),
            (["generate", dir + "/nothing"], "config.json"),
            (["generate", dir, "--temperature", "0"], "--temperature"),
            (["bench", "train", "chess"], "chess"),
            (["bench", "train", "--pruned", "1", "language", "--data", data], "--pruned")
        ] {
            let r = try CLITests.moduli(arguments)
            #expect(r.status != 0, "\(arguments) exited 0")
            #expect(r.err.contains(mentions), "\(arguments): stderr does not mention \(mentions): \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/r"), "a refused run left a run directory")
    }
}
