// Damaged or changed files as a user meets them: a flipped bit or an edited header in a model or
// checkpoint, an overflowing positions.npy, a huge checkpoint, a corpus changed under a run. Every
// one ends in a message and an exit code of 1, never in a crash or in wrong results.
import Foundation
import Testing
import _TestSupport

@Suite struct FileIntegrityCLITests {
    /// A finished tiny language run of two epochs (torus regularizer, so it has positions.npy) and its corpus.
    static func languageRun(_ dir: String) throws -> (run: String, data: String) {
        let data = try LanguageCLITests.corpus(dir), run = dir + "/run"
        let train = try CLITests.moduli(
            [
                "train", "language", "--data", data, "--out", run, "--epochs", "2", "--moduli", "torus",
                "--target-sparsity", "0.5", "--lr", "1", "--quiet"
            ] + LanguageCLITests.tiny)
        #expect(train.status == 0, "\(train.err)")
        return (run, data)
    }

    /// The header of a safetensors file as JSON, and where its data starts.
    static func header(_ data: Data) throws -> (object: [String: Any], dataStart: Int) {
        let bytes = [UInt8](data)
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        return (object, 8 + n)
    }

    /// Writes a valid whole-file checksum into `data`, as the safetensors writer documents it (a
    /// file edited and signed again, so that only the checks of the content can catch the edit).
    static func resign(_ data: inout Data) throws {
        let (object, dataStart) = try header(data)
        let stored = try #require((object["__metadata__"] as? [String: String])?["checksum"])
        let marker = Array("\"checksum\":\"\(stored)\"".utf8), bytes = [UInt8](data)
        let at = try #require((8...(dataStart - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
        let digits = at + marker.count - 17
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for (k, b) in bytes.enumerated() { h = (h ^ UInt64(k >= digits && k < digits + 16 ? 0x30 : b)) &* 0x100_0000_01b3 }
        let hex = String(h, radix: 16)
        let text = Array((String(repeating: "0", count: 16 - hex.count) + hex).utf8)
        for k in 0..<16 { data[digits + k] = text[k] }
    }

    /// The offsets of every occurrence of `text` in `data`.
    static func occurrences(of text: String, in data: Data) -> [Int] {
        let needle = Array(text.utf8), bytes = [UInt8](data)
        guard bytes.count >= needle.count else { return [] }
        return (0...(bytes.count - needle.count)).filter { at in
            bytes[at] == needle[0] && Array(bytes[at..<(at + needle.count)]) == needle
        }
    }

    /// The byte offset of element 0 of `tensor` in a safetensors file.
    static func offset(of tensor: String, in data: Data) throws -> Int {
        let (object, dataStart) = try header(data)
        let entry = try #require(object[tensor] as? [String: Any], "no tensor \(tensor)")
        let offsets = try #require(entry["data_offsets"] as? [Int])
        return dataStart + offsets[0]
    }

    static func refused(
        _ r: (status: Int32, out: String, err: String), mentioning words: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == 1, "exit \(r.status): \(r.err)", sourceLocation: sourceLocation)
        for w in words { #expect(r.err.contains(w), "stderr does not mention \(w): \(r.err)", sourceLocation: sourceLocation) }
    }

    @Test func damagedModelsAreRefusedByEvaluateGenerateAndExport() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, _) = try Self.languageRun(dir)
        let model = URL(fileURLWithPath: run + "/model.safetensors")
        let original = try Data(contentsOf: model)
        let commands = [["evaluate", run], ["generate", run, "--words", "5"], ["export", run, "--out", dir + "/export.safetensors"]]
        // A flipped bit in a weight.
        var flipped = original
        flipped[try Self.offset(of: "rnn.weight_hh_l0", in: original) + 2] ^= 0x04
        try flipped.write(to: model)
        for c in commands { Self.refused(try CLITests.moduli(c), mentioning: [model.path, "checksum"]) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/export.safetensors"), "export wrote a damaged model")
        // A dtype changed from F32 to I32 in the header (same length, offsets still valid).
        var retyped = original
        let dtype = try #require(Self.occurrences(of: "\"dtype\":\"F32\"", in: original).first)
        retyped[dtype + 9] = UInt8(ascii: "I")
        try retyped.write(to: model)
        for c in commands { Self.refused(try CLITests.moduli(c), mentioning: [model.path, "checksum"]) }
        // A NaN weight under a valid checksum: damage, said so, without learning-rate advice.
        var poisoned = original
        let at = try Self.offset(of: "decoder.weight", in: original) + 4 * 3
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { for k in 0..<4 { poisoned[at + k] = $0[k] } }
        try Self.resign(&poisoned)
        try poisoned.write(to: model)
        let r = try CLITests.moduli(["evaluate", run])
        Self.refused(r, mentioning: [model.path, "damaged", "decoder.weight holds nan at element 3"])
        #expect(!r.err.contains("--lr"))
        try original.write(to: model)
        #expect(try CLITests.moduli(["evaluate", run]).status == 0)
    }

    @Test func editedCheckpointsAreRefusedOnResume() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, _) = try Self.languageRun(dir)
        let checkpoint = URL(fileURLWithPath: run + "/checkpoint.safetensors")
        let original = try Data(contentsOf: checkpoint)
        let resume = ["train", "language", "--resume", "--out", run, "--quiet"]
        // One byte of the saved learning rate (the trainer state in the header): its first digit.
        let key = "learningRate\\\" : "
        let digit = try #require(Self.occurrences(of: key, in: original).first) + key.utf8.count
        var edited = original
        #expect((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(edited[digit]))
        edited[digit] = edited[digit] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        try edited.write(to: checkpoint)
        Self.refused(try CLITests.moduli(resume), mentioning: [checkpoint.path, "checksum"])
        // A NaN weight under a valid checksum.
        var poisoned = original
        let at = try Self.offset(of: "rnn.weight_hh_l0", in: original) + 4 * 5
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { for k in 0..<4 { poisoned[at + k] = $0[k] } }
        try Self.resign(&poisoned)
        try poisoned.write(to: checkpoint)
        let r = try CLITests.moduli(resume)
        Self.refused(r, mentioning: [checkpoint.path, "damaged", "rnn.weight_hh_l0 holds nan at element 5"])
        #expect(!r.err.contains("--lr"))
        // A checkpoint of 4 GiB (sparse: no disk) is refused before it is read.
        try Data().write(to: checkpoint)
        #expect(truncate(checkpoint.path, 4 << 30) == 0)
        Self.refused(try CLITests.moduli(resume), mentioning: [checkpoint.path, "it has \(4 << 30) bytes, more than the"])
        try original.write(to: checkpoint)
        #expect(try CLITests.moduli(resume).status == 0)
    }

    @Test func anOverflowingPositionsFileIsAnError() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, _) = try Self.languageRun(dir)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var npy = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
        npy.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 64))
        try npy.write(to: URL(fileURLWithPath: run + "/positions.npy"))
        for c in [["evaluate", run, "--reorder"], ["export", run, "--reorder", "--out", dir + "/x.safetensors"]] {
            Self.refused(try CLITests.moduli(c), mentioning: [run + "/positions.npy", "more than"])
        }
        let report = try CLITests.moduli(["report", run, "--out", dir + "/report", "--no-models"])
        #expect(report.status == 0 && !report.err.contains("Fatal error"), "exit \(report.status): \(report.err)")
    }

    @Test func aCorpusChangedUnderARunIsRefused() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, data) = try Self.languageRun(dir)
        // Reverse the lines of train.txt: the same words and tokens, first seen in another order.
        let train = data + "/train.txt"
        let lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n")
        try (lines.reversed().joined(separator: "\n") + "\n").write(toFile: train, atomically: true, encoding: .utf8)
        for c in [["evaluate", run], ["generate", run, "--words", "5"]] {
            Self.refused(
                try CLITests.moduli(c),
                mentioning: [
                    "The corpus at \(data) is not the one the run \(run) was trained on",
                    "the vocabulary has the same", "moduli train --config"
                ])
        }
        Self.refused(
            try CLITests.moduli(["train", "language", "--resume", "--out", run, "--quiet"]),
            mentioning: ["The corpus at \(data)", "--overwrite instead of --resume"])
    }
}
