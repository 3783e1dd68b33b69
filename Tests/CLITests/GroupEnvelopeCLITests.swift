// `moduli train` with the group envelope regularizer as a user runs it: a tiny run ends with the
// kept units in summary.json; a bad K, or the envelope on a tied language model, is refused with a
// message naming the flag, a non-zero exit and no run directory.
import Foundation
import Testing
import _TestSupport

@Suite struct GroupEnvelopeCLITests {
    @Test func aTinyRunRecordsItsKeptUnits() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLITests.moduli(
            ["train", "adding", "--out", dir + "/run", "--group-envelope-units", "2", "--group-envelope-lambda", "5"]
                + ConfigErrorTests.tiny)
        #expect(r.status == 0, "\(r.err)")
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/summary.json"))) as? [String: Any]
        #expect(summary?["keptUnits"] as? Int == 2)
    }

    @Test func badUnitsAreRefusedAndNothingIsWritten() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try LanguageCLITests.corpus(dir)
        for (arguments, mentions) in [
            (["train", "adding", "--group-envelope-units", "0"] + ConfigErrorTests.tiny, ["--group-envelope-units", "at least 1"]),
            (["train", "adding", "--group-envelope-units", "9"] + ConfigErrorTests.tiny, ["--group-envelope-units", "8 hidden units"]),
            (["train", "adding", "--group-envelope-units", "two"] + ConfigErrorTests.tiny, ["--group-envelope-units", "'two'"]),
            (["train", "adding", "--group-envelope-lambda", "1"] + ConfigErrorTests.tiny, ["--group-envelope-units"]),
            (
                [
                    "train", "language", "--data", data, "--tied", "--embedding-size", "8", "--hidden", "8", "--batch-size", "4",
                    "--evaluation-batch-size", "3", "--bptt", "5", "--group-envelope-units", "2", "--quiet"
                ],
                ["--group-envelope-units", "--tied"]
            )
        ] {
            let r = try CLITests.moduli(arguments + ["--out", dir + "/r"])
            #expect(r.status != 0, "\(arguments) exited 0")
            for text in mentions { #expect(r.err.contains(text), "\(arguments): stderr does not mention \(text): \(r.err)") }
            #expect(!FileManager.default.fileExists(atPath: dir + "/r"), "\(arguments): a refused run left a run directory")
        }
    }
}
