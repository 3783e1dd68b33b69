// `moduli train --eliminate-tolerance` as a user runs it: a tiny adding run that removes units while
// it trains, then `moduli compress --tolerance 0` giving the dense model of the kept size with the
// run's metrics; bad values and models it cannot work on refused with nothing written.
import Foundation
import Testing
import _TestSupport

@Suite struct EliminationCLITests {
    @Test func anEliminatingRunCompressesToItsKeptUnits() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLITests.moduli(
            ["train", "adding", "--out", dir + "/run", "--eliminate-tolerance", "0.5", "--eliminate-start-tolerance", "0.1"]
                + ConfigErrorTests.tiny + ["--fixed-epochs", "0"])
        try #require(r.status == 0, "\(r.err)")
        let summary = try CompressCLITests.json(dir + "/run/summary.json")
        let kept = try #require(summary["keptUnits"] as? Int)
        #expect(kept < 8, "no unit was removed")
        let metrics = try String(contentsOfFile: dir + "/run/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"kind\":\"eliminate\"") || metrics.contains("\"kind\" : \"eliminate\""), "\(metrics)")

        let c = try CLITests.moduli(["compress", dir + "/run", "--tolerance", "0", "--out", dir + "/compact"])
        try #require(c.status == 0, "\(c.err)")
        let record = try CompressCLITests.json(dir + "/compact/compression.json")
        #expect(record["hiddenSize"] as? Int == kept, "the compact model has \(record["hiddenSize"] ?? "?") units, the run kept \(kept)")
        let compact = try CompressCLITests.json(dir + "/compact/summary.json")
        let mse = try #require(summary["testMSE"] as? Double), compactMSE = try #require(compact["testMSE"] as? Double)
        #expect(abs(compactMSE - mse) <= 1e-5 * mse, "compact testMSE \(compactMSE), the run's \(mse)")
    }

    @Test func badValuesAreRefusedAndNothingIsWritten() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try LanguageCLITests.corpus(dir)
        let language = [
            "train", "language", "--data", data, "--embedding-size", "8", "--hidden", "8", "--batch-size", "4",
            "--evaluation-batch-size", "3", "--bptt", "5", "--eliminate-tolerance", "0.1", "--quiet"
        ]
        for (arguments, mentions) in [
            (["train", "adding", "--eliminate-tolerance", "1"] + ConfigErrorTests.tiny, ["--eliminate-tolerance", "[0, 1)"]),
            (["train", "adding", "--eliminate-tolerance", "-0.5"] + ConfigErrorTests.tiny, ["--eliminate-tolerance", "[0, 1)"]),
            (["train", "adding", "--eliminate-tolerance", "much"] + ConfigErrorTests.tiny, ["--eliminate-tolerance", "'much'"]),
            (["train", "adding", "--eliminate-every", "2"] + ConfigErrorTests.tiny, ["--eliminate-tolerance"]),
            (
                ["train", "adding", "--eliminate-tolerance", "0.1", "--eliminate-every", "100"] + ConfigErrorTests.tiny,
                ["--eliminate-every", "longer than the main epochs"]
            ),
            (
                ["train", "adding", "--eliminate-tolerance", "0.1", "--layers", "2"] + ConfigErrorTests.tiny,
                ["--eliminate-tolerance", "--layers"]
            ),
            (language + ["--tied"], ["--eliminate-tolerance", "--tied"]),
            (language + ["--layers", "2"], ["--eliminate-tolerance", "--layers"])
        ] {
            let r = try CLITests.moduli(arguments + ["--out", dir + "/r"])
            #expect(r.status != 0, "\(arguments) exited 0")
            for text in mentions { #expect(r.err.contains(text), "\(arguments): stderr does not mention \(text): \(r.err)") }
            #expect(!FileManager.default.fileExists(atPath: dir + "/r"), "\(arguments): a refused run left a run directory")
        }
    }
}
