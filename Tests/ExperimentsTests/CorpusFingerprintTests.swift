// A language run records its corpus's fingerprint (data.json); a resume, an evaluation or an
// export over a corpus that changed since is refused with a message that names it.
import Foundation
import Testing
import _TestSupport
@testable import Experiments

@Suite struct CorpusFingerprintTests {
    /// Swaps two words everywhere in `file` (same token count, other first appearances, so other
    /// ids) and gives it another modification time.
    static func swapWords(in file: String, _ a: String, _ b: String) throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let swapped = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.split(separator: " ", omittingEmptySubsequences: false).map { $0 == a ? b : $0 == b ? a : String($0) }.joined(
                separator: " ")
        }.joined(separator: "\n")
        #expect(swapped != text)
        try swapped.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: file)
    }

    @Test func aChangedCorpusIsRefusedByResumeAndByTheTrainedModel() throws {
        let data = try LanguageTaskTests.tinyCorpus()
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: data) }
        var config = LanguageTaskTests.tinyConfig(data: data)
        config.epochs = 2
        _ = try LanguageTaskTests.train(config, path, stopAfterEpochs: 1)
        let record = try JSONDecoder().decode(DataFingerprint.self, from: Data(contentsOf: URL(fileURLWithPath: path + "/data.json")))
        #expect(record.source == data && record.parts.map(\.name) == ["the vocabulary", "train.txt", "valid.txt", "test.txt"])
        let original = try Data(contentsOf: URL(fileURLWithPath: data + "/train.txt"))
        try Self.swapWords(in: data + "/train.txt", "cat", "dog")
        #expect { try LanguageTaskTests.train(config, path, resume: true) } throws: {
            let message = "\($0)"
            return message.contains(data) && message.contains("the vocabulary has the same")
                && message.contains("--overwrite instead of --resume")
        }
        try original.write(to: URL(fileURLWithPath: data + "/train.txt"))
        _ = try LanguageTaskTests.train(config, path, resume: true)
        #expect(try TrainedModel<LanguageTask>(runAt: path).evaluate()["testPerplexity"] != nil)
        try Self.swapWords(in: data + "/train.txt", "cat", "dog")
        #expect { try TrainedModel<LanguageTask>(runAt: path) } throws: {
            let message = "\($0)"
            return message.contains(data) && message.contains("valid.txt has the same") && message.contains("moduli train --config")
        }
        // A run written before the record existed is read (with a warning on stderr).
        try FileManager.default.removeItem(atPath: path + "/data.json")
        _ = try TrainedModel<LanguageTask>(runAt: path)
    }
}
