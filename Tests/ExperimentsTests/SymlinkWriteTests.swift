// Writes never go through a symbolic link: an atomic write replaces a link at its destination (the
// rename replaces the link, never its target), its temporary file has a name no one can plant a
// link at beforehand, and a file that is appended to or cut (metrics.jsonl, a sweep's run log) is
// refused when it is a link. Also: the stale temporaries of the new names are cleaned up, and a
// run directory made for a refused run is removed again.
import Foundation
import Testing
import _TestSupport
@testable import Experiments
#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SymlinkWriteTests {
    /// A directory with a file `victim` holding "victim\n"; returns both paths.
    static func directoryWithVictim() throws -> (dir: String, victim: String) {
        let dir = TestFiles.temporaryDirectory("moduli-tests")
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        let victim = dir + "/victim"
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        return (dir, victim)
    }

    @Test func anAtomicWriteReplacesALinkAndNeverWritesItsTarget() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["config.json", "summary.json", "model.safetensors", "checkpoint.safetensors"] {
            let path = dir + "/run/" + name
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
            try RunDirectory.writeAtomically(Data("new\n".utf8), to: URL(fileURLWithPath: path))
            #expect(TestFiles.text(victim) == "victim\n", "\(name): the link's target was written")
            #expect(!FileIO.isSymbolicLink(path) && TestFiles.text(path) == "new\n", "\(name)")
        }
    }

    @Test func aLinkPlantedAtTheOldTemporaryNameIsNotFollowed() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let destination = URL(fileURLWithPath: dir + "/run/model.safetensors")
        // The name the writer used to take, `.NAME.tmp-PID`, is predictable: a link there.
        let predictable = dir + "/run/.model.safetensors.tmp-\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: predictable, withDestinationPath: victim)
        try RunDirectory.writeAtomically(Data("model\n".utf8), to: destination)
        #expect(TestFiles.text(victim) == "victim\n", "the write followed the planted link")
        #expect(TestFiles.text(destination.path) == "model\n" && !FileIO.isSymbolicLink(destination.path))
        #expect(FileIO.isSymbolicLink(predictable), "the planted link is left alone")
        // The temporary names now carry 16 random hexadecimal digits: two never repeat.
        let a = try FileIO.createTemporary(for: destination), b = try FileIO.createTemporary(for: destination)
        defer { close(a.descriptor); close(b.descriptor); unlink(a.path); unlink(b.path) }
        #expect(a.path != b.path)
        let name = URL(fileURLWithPath: a.path).lastPathComponent
        #expect(
            name.hasPrefix(".model.safetensors.tmp-\(getpid())-") && name.count == ".model.safetensors.tmp-\(getpid())-".count + 16,
            "\(name)")
        #expect(RunDirectory.isTemporary(name) && RunDirectory.isTemporary(".write-test-12-0123456789abcdef"))
        #expect(!RunDirectory.isTemporary(".notes.tmp-12-xyz") && !RunDirectory.isTemporary(".notes.tmp-12-0123456789abcdeg"))
    }

    @Test func staleTemporariesOfTheNewNamesAreRemovedOnOpen() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        try Data("x".utf8).write(to: URL(fileURLWithPath: run + "/.checkpoint.safetensors.tmp-41-00ff00ff00ff00ff"))
        try FileManager.default.createSymbolicLink(atPath: run + "/.model.safetensors.tmp-42-0123456789abcdef", withDestinationPath: victim)
        _ = try RunDirectory(path: run, overwrite: false, resume: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run).isEmpty)
        #expect(TestFiles.text(victim) == "victim\n", "removing a stale link removes the link, not its target")
    }

    @Test func theMetricsLogRefusesALink() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/run/metrics.jsonl"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        #expect { try MetricsLog(appendingTo: URL(fileURLWithPath: path)) } throws: {
            "\($0)".contains("symbolic link") && "\($0)".contains(path)
        }
        let run = try RunDirectory(path: dir + "/other", overwrite: false, resume: false)
        try FileManager.default.createSymbolicLink(atPath: run.file("metrics.jsonl").path, withDestinationPath: victim)
        #expect { try MetricsLog(run: run, keepBytes: 3) } throws: { "\($0)".contains("symbolic link") }
        #expect { try MetricsLog(run: run, keepUpToStep: 3) } throws: { "\($0)".contains("symbolic link") }
        #expect(TestFiles.text(victim) == "victim\n")
    }

    @Test func resumingARunWhoseMetricsLogIsALinkIsRefused() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = AddingExperimentTests.smallConfig()
        config.epochs = 2; config.stepsPerEpoch = 20
        let path = dir + "/run"
        try FileManager.default.removeItem(atPath: path)
        #expect(try AddingExperimentTests.train(config, path, stopAfterEpochs: 1) == nil)
        // The log moved aside, a link to it in its place, with a line more than the checkpoint covers.
        let original = try Data(contentsOf: URL(fileURLWithPath: path + "/metrics.jsonl")) + Data("{\"step\":999}\n".utf8)
        try original.write(to: URL(fileURLWithPath: victim))
        try FileManager.default.removeItem(atPath: path + "/metrics.jsonl")
        try FileManager.default.createSymbolicLink(atPath: path + "/metrics.jsonl", withDestinationPath: victim)
        #expect { try AddingExperimentTests.train(config, path, resume: true) } throws: {
            "\($0)".contains("metrics.jsonl") && "\($0)".contains("symbolic link")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == original, "the link's target was cut or appended to")
    }

    @Test func aSweepRefusesARunLogThatIsALink() throws {
        let (dir, victim) = try Self.directoryWithVictim()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/run.log"
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: victim)
        #expect { try SweepRunner.spawn("/bin/true", [], log: log, header: "== header\n") } throws: {
            "\($0)".contains("symbolic link") && "\($0)".contains(log)
        }
        #expect(TestFiles.text(victim) == "victim\n")
    }

    @Test func aRunDirectoryMadeForARefusedRunIsRemovedAgain() throws {
        let dir = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try RunDirectory(path: dir + "/a/b", overwrite: false, resume: false)
        made.removeIfUnused()
        #expect(!FileManager.default.fileExists(atPath: dir), "the directories it made are removed, parents included")
        // A directory that existed before, or that holds a file, stays.
        try FileManager.default.createDirectory(atPath: dir + "/kept", withIntermediateDirectories: true)
        try RunDirectory(path: dir + "/kept", overwrite: false, resume: false).removeIfUnused()
        #expect(FileManager.default.fileExists(atPath: dir + "/kept"))
        let used = try RunDirectory(path: dir + "/used", overwrite: false, resume: false)
        try used.writeAtomically(Data("{}".utf8), to: "config.json")
        used.removeIfUnused()
        #expect(FileManager.default.fileExists(atPath: dir + "/used/config.json"))
    }

    @Test func runsOpenedAtTheSameUniquePathGetADirectoryEach() throws {
        let dir = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = dir + "/runs/adding-20260101T000000Z"
        let runs = try (0..<3).map { _ in try RunDirectory(uniquePath: base) }
        #expect(runs.map(\.url.path) == [base, base + "-2", base + "-3"])
        #expect(runs.allSatisfy { $0.isLocked })
    }
}
