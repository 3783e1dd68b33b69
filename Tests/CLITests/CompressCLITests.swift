// `moduli compress` as a user runs it: a tiny finished adding run made smaller, the new run
// evaluating to the metrics its summary says, and the refusals that write nothing.
import Experiments
import Foundation
import NN
import Testing
import _TestSupport

@Suite struct CompressCLITests {
    /// Trains a tiny adding run into `dir` (H = 8) with `extra` options.
    static func train(_ dir: String, _ extra: [String] = []) throws {
        let r = try CLITests.moduli(
            [
                "train", "adding", "--out", dir, "--length", "4", "--hidden", "8", "--epochs", "2",
                "--batches-per-epoch", "5", "--fixed-epochs", "0", "--test-size", "20", "--quiet"
            ] + extra)
        try #require(r.status == 0, "\(r.err)")
    }

    static func json(_ path: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(object as? [String: Any], "\(path)")
    }

    @Test func compressedRunEvaluatesToItsSummary() throws {
        let root = TestFiles.temporaryDirectory("moduli-compress")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/source", out = root + "/compact", lossless = root + "/lossless"
        try Self.train(source)
        let sourceMSE = try #require(try Self.json(source + "/summary.json")["testMSE"] as? Double)

        // Tolerance 0: only exact dependences go (units silent on the data: residual 0); the metrics stay.
        let zero = try CLITests.moduli(["compress", source, "--tolerance", "0", "--out", lossless])
        #expect(zero.status == 0, "\(zero.err)")
        let zeroMSE = try #require(try Self.json(lossless + "/summary.json")["testMSE"] as? Double)
        #expect(abs(zeroMSE - sourceMSE) <= 1e-6 * sourceMSE, "\(zeroMSE) against \(sourceMSE)")

        let r = try CLITests.moduli(["compress", source, "--tolerance", "0.9", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("hidden size 8 ->"), "\(r.out)")
        let record = try Self.json(out + "/compression.json")
        let k = try #require(record["hiddenSize"] as? Int)
        let kept = try #require(record["keptUnits"] as? [Int])
        let eliminated = try #require(record["eliminated"] as? [[String: Any]])
        #expect(k == kept.count && k < 8 && k >= 1, "K = \(k), kept \(kept)")
        #expect(eliminated.count + (record["deadUnits"] as? [Int] ?? []).count == 8 - k)
        #expect(record["tolerance"] as? Double == 0.9 && record["source"] as? String == source)
        for unit in eliminated { #expect((unit["relativeResidual"] as? Double ?? 1) <= 0.9) }
        let config = try Self.json(out + "/config.json")
        #expect((config["options"] as? [String: Any])?["hiddenSize"] as? Int == k)

        // The model file holds a network of hidden size K, and moduli evaluate reproduces summary.json.
        let trained = try TrainedModel<AddingTask>(runAt: out)
        let shapes = Dictionary(
            uniqueKeysWithValues: trained.store.slots.map { (trained.store.info($0).name, trained.store.info($0).shape) })
        #expect(shapes["rnn.weight_hh_l0"] == [k, k] && shapes["rnn.weight_ih_l0"] == [k, 2] && shapes["fc.weight"] == [1, k], "\(shapes)")
        let saved = try #require(try Self.json(out + "/summary.json")["testMSE"] as? Double)
        let evaluation = try CLITests.moduli(["evaluate", out])
        #expect(evaluation.status == 0, "\(evaluation.err)")
        let evaluated = try #require(CLITests.evaluatedMetrics(evaluation.out)["testMSE"], "\(evaluation.out)")
        // The printed values have 6 significant digits; the printed difference is taken before rounding.
        #expect(abs(evaluated - saved) <= 5e-6 * max(saved, 1e-12), "\(evaluated) against \(saved)")
        let difference = try #require(CLITests.evaluatedDifferences(evaluation.out)["testMSE"], "\(evaluation.out)")
        #expect(abs(difference) <= 1e-6 * max(saved, 1e-12), "evaluate's difference to summary.json: \(difference)")
        let recorded = try #require((record["metrics"] as? [String: Double])?["testMSE"])
        #expect(abs(recorded - saved) <= 1e-12, "compression.json \(recorded), summary.json \(saved)")

        // An existing --out: refused without --overwrite (left as it was), replaced with it.
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/compression.json"))
        let again = try CLITests.moduli(["compress", source, "--tolerance", "0.5", "--out", out])
        #expect(again.status == 1 && again.err.contains("--overwrite"), "\(again.status): \(again.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/compression.json")) == before)
        let replaced = try CLITests.moduli(["compress", source, "--tolerance", "0.5", "--out", out, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.err)")
        #expect(try Self.json(out + "/compression.json")["tolerance"] as? Double == 0.5)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// A pruned navigation model (h0 set by an encoder, no biases; early in training many ReLU units
    /// are silent after the first step but not in h0): at tolerance 0 the compact run has the
    /// source's metrics, at a loose tolerance it is smaller and evaluates to its summary.
    @Test func navigationRunKeepsItsMetricsAtToleranceZero() throws {
        let root = TestFiles.temporaryDirectory("moduli-compress")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/source"
        let train = try CLITests.moduli([
            "train", "navigation", "--out", source, "--hidden", "32", "--place-cells", "16", "--batch-size", "8",
            "--length", "8", "--epochs", "3", "--batches-per-epoch", "20", "--evaluation-batches", "1",
            "--evaluation-batch-size", "32", "--quiet"
        ])
        try #require(train.status == 0, "\(train.err)")
        let sourceSummary = try Self.json(source + "/summary.json")
        for (tolerance, name) in [("0", "exact"), ("0.3", "loose")] {
            let out = root + "/" + name
            let r = try CLITests.moduli(["compress", source, "--tolerance", tolerance, "--out", out])
            #expect(r.status == 0, "\(r.err)")
            let summary = try Self.json(out + "/summary.json")
            let evaluation = try CLITests.moduli(["evaluate", out])
            let metrics = CLITests.evaluatedMetrics(evaluation.out)
            for metric in ["decodingErrorCM", "testLoss"] {
                let saved = try #require(summary[metric] as? Double)
                let evaluated = try #require(metrics[metric], "\(evaluation.out)")
                #expect(abs(evaluated - saved) <= 1e-5 * abs(saved), "\(name) \(metric): \(evaluated) against \(saved)")
                if name == "exact" {
                    let original = try #require(sourceSummary[metric] as? Double)
                    #expect(abs(saved - original) <= 1e-5 * abs(original), "\(metric): \(saved) against the source's \(original)")
                }
            }
        }
    }

    /// A one-layer LSTM language model (untied) is compressed and evaluates to its summary; a tied
    /// one, whose decoder shares the embedding, is refused and nothing is written.
    @Test func languageModelsUntiedAndTied() throws {
        let root = TestFiles.temporaryDirectory("moduli-compress")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = try LanguageCLITests.corpus(root)
        for tied in [false, true] {
            let source = root + (tied ? "/tied" : "/untied"), out = source + "-compact"
            let sizes = LanguageCLITests.tiny.map { tied && $0 == "6" ? "8" : $0 }  // tying needs E = H
            let train = try CLITests.moduli(
                ["train", "language", "--data", data, "--out", source, "--epochs", "2", "--cell", "lstm", "--layers", "1", "--quiet"]
                    + sizes + (tied ? ["--tied"] : []))
            try #require(train.status == 0, "\(train.err)")
            let r = try CLITests.moduli(["compress", source, "--tolerance", "0.3", "--out", out])
            if tied {
                #expect(r.status == 1 && r.err.contains("tied decoder"), "\(r.status) \(r.err)")
                #expect(!FileManager.default.fileExists(atPath: out))
                continue
            }
            #expect(r.status == 0 && r.err.isEmpty, "\(r.err)")
            #expect(FileManager.default.fileExists(atPath: out + "/data.json"), "the corpus fingerprint is carried over")
            let saved = try #require(try Self.json(out + "/summary.json")["testPerplexity"] as? Double)
            let evaluation = try CLITests.moduli(["evaluate", out])
            let evaluated = try #require(CLITests.evaluatedMetrics(evaluation.out)["testPerplexity"], "\(evaluation.out)")
            #expect(abs(evaluated - saved) <= 1e-5 * saved, "\(evaluated) against \(saved)")
        }
    }

    @Test func refusalsWriteNothing() throws {
        let root = TestFiles.temporaryDirectory("moduli-compress")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/source", out = root + "/compact"
        try Self.train(source)
        for (tolerance, mention) in [("1", "[0, 1)"), ("-0.1", "[0, 1)"), ("nan", "[0, 1)")] {
            let r = try CLITests.moduli(["compress", source, "--tolerance=\(tolerance)", "--out", out])
            #expect(r.status == 1 && r.err.contains(mention), "\(tolerance): \(r.status) \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(tolerance)")
        }
        // A run that has not finished: its directory without summary.json.
        let unfinished = root + "/unfinished"
        try FileManager.default.createDirectory(atPath: unfinished, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: unfinished + "/" + name)
        }
        let r = try CLITests.moduli(["compress", unfinished, "--tolerance", "0.1", "--out", out])
        #expect(r.status == 1 && r.err.contains("not a finished run"), "\(r.status) \(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // Two recurrent layers: the regression sees only the top layer's states.
        let deep = root + "/deep"
        try Self.train(deep, ["--layers", "2"])
        let d = try CLITests.moduli(["compress", deep, "--tolerance", "0.1", "--out", out])
        #expect(d.status == 1 && d.err.contains("2 recurrent layers"), "\(d.status) \(d.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let entries = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(entries == ["deep", "source", "unfinished"], "\(entries)")
    }
}
