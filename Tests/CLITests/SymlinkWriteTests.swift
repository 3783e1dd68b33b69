// Symbolic links planted in a run directory, a sweep's logs and at an export's output, as a user
// (or another user sharing the directory) could: moduli never writes through them. A file it
// appends to or cuts (metrics.jsonl, a run log) is refused with a message naming the link; a file
// it writes whole (config.json, summary.json, model.safetensors, an export) is replaced by a new
// file, the rename replacing the link itself.
import Foundation
import Testing
import _TestSupport

@Suite struct SymlinkWriteCLITests {

    /// A finished tiny run in `dir`/run and a file `dir`/victim; returns their paths.
    static func finishedRun(_ dir: String) throws -> (run: String, victim: String) {
        let run = dir + "/run"
        let r = try CLITests.moduli(ProcessRobustnessTests.tiny + ["--out", run, "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        let victim = dir + "/victim"
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        return (run, victim)
    }

    /// A sweep of one run, alpha-s0, written by --emit (sweep.json and logs/, nothing run) in
    /// `dir`/sweep; returns the spec's path and the sweep directory.
    static func emittedSweep(_ dir: String) throws -> (spec: String, sweep: String) {
        let spec = try SweepTests.writeSpec(dir, seeds: [0], configurations: [("alpha", [])])
        let sweep = dir + "/sweep"
        let emitted = try CLITests.moduli(["sweep", spec, "--out", sweep, "--emit", "slurm"])
        #expect(emitted.status == 0, "\(emitted.err)")
        return (spec, sweep)
    }

    static func replaceWithLink(_ path: String, to target: String) throws {
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    @Test func resumeRefusesAMetricsLogThatIsALink() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, victim) = try Self.finishedRun(dir)
        // The log's text and a line more in the link's target: a resume would cut and append there.
        let log = try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.jsonl")) + Data("{\"step\": 999}\n".utf8)
        try log.write(to: URL(fileURLWithPath: victim))
        try Self.replaceWithLink(run + "/metrics.jsonl", to: victim)
        let r = try CLITests.moduli(["train", "adding", "--out", run, "--resume", "--quiet"])
        #expect(r.status != 0 && r.err.contains("metrics.jsonl") && r.err.contains("symbolic link"), "status \(r.status): \(r.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == log, "the link's target was written")
    }

    @Test func filesWrittenWholeReplaceALinkInsteadOfWritingThroughIt() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (run, victim) = try Self.finishedRun(dir)
        // A finished run resumed writes model.safetensors and summary.json again.
        for name in ["model.safetensors", "summary.json"] { try Self.replaceWithLink(run + "/" + name, to: victim) }
        let r = try CLITests.moduli(["train", "adding", "--out", run, "--resume", "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        #expect(TestFiles.text(victim) == "victim\n", "the link's target was written")
        for name in ["model.safetensors", "summary.json"] {
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: run + "/" + name)) == nil, "\(name) is still a link")
        }
        // An export over a link (with --overwrite, as over any existing file).
        let out = dir + "/export.safetensors"
        try FileManager.default.createSymbolicLink(atPath: out, withDestinationPath: victim)
        let e = try CLITests.moduli(["export", run, "--out", out, "--dense", "--overwrite"])
        #expect(e.status == 0, "\(e.err)")
        #expect(TestFiles.text(victim) == "victim\n", "export wrote into the link's target")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: out)) == nil)
    }

    @Test func aSweepRefusesARunLogThatIsALink() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (spec, sweep) = try Self.emittedSweep(dir)
        let victim = dir + "/victim"
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: sweep + "/logs/alpha-s0.log", withDestinationPath: victim)
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(r.status != 0 && r.err.contains("alpha-s0.log") && r.err.contains("symbolic link"), "status \(r.status): \(r.err)")
        #expect(TestFiles.text(victim) == "victim\n", "the sweep appended to the link's target")
    }

    @Test func aSweepRefusesALogDirectoryThatIsALink() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (spec, sweep) = try Self.emittedSweep(dir)
        // logs/ replaced by a link to another directory: the run logs would land there.
        let elsewhere = dir + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try Self.replaceWithLink(sweep + "/logs", to: elsewhere)
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(r.status != 0 && r.err.contains("/logs") && r.err.contains("symbolic link"), "status \(r.status): \(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty, "the sweep wrote into the linked directory")
    }
}
