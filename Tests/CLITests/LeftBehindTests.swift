// What a refused or concurrent command leaves on disk: nothing it created when it refuses, and a
// directory of its own for every run started without --out.
import Foundation
import Testing
import _TestSupport

@Suite struct LeftBehindTests {
    /// A small corpus directory of 50 words; returns its path.
    static func writeCorpus(_ dir: String) throws -> String {
        let corpus = dir + "/corpus"
        try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for (name, lines) in [("train", 40), ("valid", 10), ("test", 10)] {
            let text =
                (0..<lines).map { _ in (0..<10).map { _ in "w\(Int.random(in: 0..<50, using: &generator))" }.joined(separator: " ") }
                .joined(separator: "\n") + "\n"
            try text.write(toFile: "\(corpus)/\(name).txt", atomically: true, encoding: .utf8)
        }
        return corpus
    }

    /// A language configuration file whose corpus is refused when it is read (its validation text
    /// is not UTF-8), after the run directory exists; returns its path.
    static func configWithABrokenCorpus(_ dir: String) throws -> String {
        let corpus = try writeCorpus(dir)
        let first = try CLITests.moduli([
            "train", "language", "--data", corpus, "--embedding-size", "8", "--hidden", "8", "--epochs", "2",
            "--batches-per-epoch", "2", "--batch-size", "2", "--evaluation-batch-size", "2", "--bptt", "5",
            "--out", dir + "/good", "--quiet"
        ])
        #expect(first.status == 0, "\(first.err)")
        try Data([0x61, 0x20, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: corpus + "/valid.txt"))
        let config = dir + "/config.json"
        try FileManager.default.copyItem(atPath: dir + "/good/config.json", toPath: config)
        return config
    }

    @Test func aConfigWhoseCorpusIsRefusedLeavesNoRunDirectory() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try Self.configWithABrokenCorpus(dir)
        let out = dir + "/new/run"
        let r = try CLITests.moduli(["train", "--config", config, "--out", out, "--quiet"])
        #expect(r.status != 0 && r.err.contains("UTF-8"), "status \(r.status): \(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out), "the refused run left \(out)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/new"), "the refused run left the parent it created")
    }

    @Test func aRefusedRunKeepsADirectoryThatExistedBefore() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try Self.configWithABrokenCorpus(dir)
        let out = dir + "/empty"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = try CLITests.moduli(["train", "--config", config, "--out", out, "--quiet"])
        #expect(r.status != 0 && r.err.contains("UTF-8"), "status \(r.status): \(r.err)")
        #expect(FileManager.default.fileExists(atPath: out), "a directory the user made is never removed")
    }

    @Test func aRefusedSlurmTimeLeavesNoSweepDirectory() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try SweepTests.writeSpec(dir)
        let sweep = dir + "/sweep"
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep, "--emit", "slurm", "--time", "abc"])
        #expect(r.status != 0 && r.err.contains("--time abc"), "status \(r.status): \(r.err)")
        #expect(!FileManager.default.fileExists(atPath: sweep), "the refused sweep left \(sweep)")
    }

    /// Two runs started together without --out: the same second's default name, two directories.
    @Test func runsWithoutOutStartedTogetherGetADirectoryEach() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let processes = try (0..<3).map { _ -> Process in
            let p = Process()
            p.executableURL = CLITests.executable
            p.arguments = ProcessRobustnessTests.tiny + ["--quiet"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        for p in processes { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "\(processes.map(\.terminationStatus))")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").sorted()
        #expect(runs.count == 3, "\(runs)")
        for run in runs { #expect(FileManager.default.fileExists(atPath: "\(dir)/runs/\(run)/summary.json"), "\(run)") }
    }
}
