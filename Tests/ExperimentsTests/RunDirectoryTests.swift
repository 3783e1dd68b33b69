// Run directories: what --overwrite removes and what it refuses to touch, the lock that keeps two
// processes apart, stale temporary files, errors that name their path, and metrics.jsonl's
// append, resume cut and failure on a full disk.
import Foundation
import _TestSupport
import Testing
@testable import Experiments

@Suite struct RunDirectoryTests {
    static func contents(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    /// A directory holding a finished run's records, with the lock released.
    static func makeRun(_ path: String) throws {
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        try run.writeJSON(["version": ModuliVersion.string, "task": "adding"], to: "config.json")
        for name in [
            "metrics.jsonl", "R.npy", "positions.npy", "initial_R.npy", "initial_positions.npy", "regularizer.json", "model.safetensors"
        ] {
            try run.writeAtomically(Data("x".utf8), to: name)
        }
        try FileManager.default.createDirectory(atPath: path + "/report", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: path + "/report/index.html"))
    }

    @Test func overwriteStartsFromAnEmptyDirectory() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.makeRun(path)
        let refused = Self.message { _ = try RunDirectory(path: path, overwrite: false, resume: false) }
        #expect(refused?.contains("--overwrite") == true, "\(refused ?? "no error")")
        let run = try RunDirectory(path: path, overwrite: true, resume: false)
        let left = try Self.contents(path)
        #expect(left == [], "left behind: \(left)")
        run.unlock()
        // Resume keeps everything.
        try Self.makeRun(path + "-2")
        defer { try? FileManager.default.removeItem(atPath: path + "-2") }
        let before = try Self.contents(path + "-2")
        _ = try RunDirectory(path: path + "-2", overwrite: false, resume: true)
        #expect(try Self.contents(path + "-2") == before)
    }

    @Test func filesThatAreNotARunAreNeverDeletedNorWrittenAmong() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: path + "/model.safetensors"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: path + "/notes.txt"))
        for (overwrite, resume) in [(false, false), (true, false), (false, true)] {
            let m = Self.message { _ = try RunDirectory(path: path, overwrite: overwrite, resume: resume) }
            #expect(
                m?.contains(path) == true && m?.contains("notes.txt") == true && m?.contains("no moduli run") == true,
                "overwrite \(overwrite) resume \(resume): \(m ?? "accepted")")
        }
        #expect(try Self.contents(path) == ["model.safetensors", "notes.txt"])
        // A config.json of another program does not make a run either, not even beside a model
        // (a downloaded model directory holds exactly config.json and model.safetensors).
        for config in [
            "{\"name\": \"my-app\", \"version\": \"1.0\"}", "{\"transformers_version\": \"4.40\", \"model_type\": \"gpt2\"}", "[1]", "{"
        ] {
            try Data(config.utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
            #expect(throws: ExperimentError.self, "\(config)") { try RunDirectory(path: path, overwrite: true, resume: false) }
            #expect(try Self.contents(path) == ["config.json", "model.safetensors", "notes.txt"])
        }
    }

    @Test func anEmptyPathIsRefused() {
        let m = Self.message { _ = try RunDirectory(path: "", overwrite: false, resume: false) }
        #expect(m?.contains("empty") == true && m?.contains("--out") == true, "\(m ?? "accepted")")
        #expect(throws: ExperimentError.self) { try RunDirectory(path: "", overwrite: true, resume: false) }
    }

    @Test func resumeNeedsARunToContinue() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let m = Self.message { _ = try RunDirectory(path: path, overwrite: false, resume: true) }
        #expect(m?.contains("Nothing to resume") == true && m?.contains(path) == true, "\(m ?? "accepted")")
        #expect(!FileManager.default.fileExists(atPath: path), "resume created the directory")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect(throws: ExperimentError.self) { try RunDirectory(path: path, overwrite: false, resume: true) }
    }

    @Test func aSecondOpenOfALockedDirectoryIsRefused() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let first = try RunDirectory(path: path, overwrite: false, resume: false)
            try first.writeJSON(["version": ModuliVersion.string, "task": "adding"], to: "config.json")
            for (overwrite, resume) in [(false, true), (true, false), (false, false)] {
                let m = Self.message { _ = try RunDirectory(path: path, overwrite: overwrite, resume: resume) }
                #expect(m?.contains("Another moduli process") == true && m?.contains(path) == true, "\(m ?? "accepted")")
            }
            // A copy of the value shares the lock; the directory stays as it was.
            let copy = first
            #expect(copy.isLocked && FileManager.default.fileExists(atPath: path + "/config.json"))
            // Both values gone at the end of this scope: the lock goes with them.
        }
        let again = try RunDirectory(path: path, overwrite: false, resume: true)
        #expect(again.isLocked)
        again.unlock()
        #expect(!again.isLocked)
        _ = try RunDirectory(path: path, overwrite: false, resume: true)
    }

    /// A lock let go within a moment (as a copy of the descriptor in a child process between fork
    /// and exec lets go) is taken, not refused.
    @Test func aLockReleasedWithinAMomentIsTaken() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try RunDirectory(path: path, overwrite: false, resume: false)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { first.unlock() }
        let second = try RunDirectory(path: path, overwrite: false, resume: false)
        #expect(second.isLocked && !first.isLocked)
    }

    @Test func anotherProcessHoldingTheLockIsNamed() throws {
        let flockTool = "/usr/bin/flock"
        guard FileManager.default.isExecutableFile(atPath: flockTool) else {
            try Test.cancel("\(flockTool) is not installed (Debian: util-linux): no other process can hold the lock")
        }
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let holder = Process()
        // The shell opens the directory as fd 9, locks it with flock(1), then becomes `sleep`,
        // which keeps fd 9 (and the lock) until it is terminated.
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 9<\"$0\"; \(flockTool) -n 9 && echo held && exec sleep 30", path]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        // SIGKILL: the test runner may block SIGTERM, and its children inherit that mask.
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }; holder.waitUntilExit() }
        // Wait for the child to hold the lock ("held" arrives only once it does).
        let line = out.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("held"))
        let m = Self.message { _ = try RunDirectory(path: path, overwrite: false, resume: false) }
        #expect(m?.contains("Another moduli process") == true && m?.contains(path) == true, "\(m ?? "accepted")")
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        _ = try RunDirectory(path: path, overwrite: false, resume: false)
    }

    @Test func openingRemovesTheTemporaryFilesOfAnInterruptedWrite() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.makeRun(path)
        for name in [".checkpoint.safetensors.tmp-4194999", ".metrics.jsonl.tmp-1", ".write-test-77", ".hidden", ".notes.tmp-x"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: path + "/" + name))
        }
        _ = try RunDirectory(path: path, overwrite: false, resume: true)
        let left = try Self.contents(path).filter { $0.hasPrefix(".") }
        #expect(left == [".hidden", ".notes.tmp-x"], "\(left)")
        // A directory holding only stale temporary files counts as empty.
        let other = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: other + "/.model.safetensors.tmp-12"))
        _ = try RunDirectory(path: other, overwrite: false, resume: false)
        #expect(try Self.contents(other) == [])
    }

    @Test func writeFailuresNameTheFileAndLeaveNoTemporary() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        try FileManager.default.createDirectory(atPath: path + "/taken", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: path + "/taken/f"))
        let m = Self.message { try run.writeAtomically(Data("y".utf8), to: "taken") }
        #expect(m?.contains(path + "/taken") == true, "\(m ?? "accepted")")
        #expect(try Self.contents(path) == ["taken"])
        let missing = Self.message { try RunDirectory.writeAtomically(Data(), to: URL(fileURLWithPath: path + "/no/such/dir/file")) }
        #expect(missing?.contains(path + "/no/such/dir") == true, "\(missing ?? "accepted")")
    }

    @Test func readErrorsNameThePathAndWhatToDo() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        let missing = Self.message { _ = try run.readJSON([String: Int].self, from: "summary.json") }
        #expect(missing?.contains(path + "/summary.json") == true && missing?.contains("does not exist") == true, "\(missing ?? "read")")
        try run.writeAtomically(Data("{\"a\": ".utf8), to: "summary.json")
        let broken = Self.message { _ = try run.readJSON([String: Int].self, from: "summary.json") }
        #expect(broken?.contains(path + "/summary.json") == true && broken?.contains("--overwrite") == true, "\(broken ?? "read")")
        try run.writeJSON(["a": "text"], to: "summary.json")
        let wrongType = Self.message { _ = try run.readJSON([String: Int].self, from: "summary.json") }
        #expect(wrongType?.contains(path + "/summary.json") == true && wrongType?.contains("a") == true, "\(wrongType ?? "read")")
        // A directory that cannot be created names the part in the way.
        try Data().write(to: URL(fileURLWithPath: path + "/file"))
        let blocked = Self.message { _ = try RunDirectory(path: path + "/file/run/deeper", overwrite: false, resume: false) }
        #expect(blocked?.contains(path + "/file is a file") == true, "\(blocked ?? "accepted")")
    }

    // MARK: metrics.jsonl

    struct Line: Codable, Equatable { var step: Int; var kind: String }

    @Test func metricsCutBackToTheCheckpointsByteCount() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        var log: MetricsLog? = try MetricsLog(run: run)
        #expect(log?.byteCount == 0)
        try log?.append(Line(step: 1, kind: "train"))
        try log?.append(Line(step: 2, kind: "prune"))
        let checkpointBytes = try #require(log?.byteCount)
        #expect(checkpointBytes == (try Data(contentsOf: run.file("metrics.jsonl"))).count)
        let kept = try Data(contentsOf: run.file("metrics.jsonl"))
        // After the checkpoint: more lines, among them a prune line at the same step (the duplicate
        // a step-based cut would keep).
        try log?.append(Line(step: 2, kind: "prune"))
        try log?.append(Line(step: 3, kind: "train"))
        log = nil
        let resumed = try MetricsLog(run: run, keepBytes: checkpointBytes)
        #expect(resumed.byteCount == checkpointBytes)
        #expect(try Data(contentsOf: run.file("metrics.jsonl")) == kept)
        try resumed.append(Line(step: 3, kind: "train"))
        let lines = try String(contentsOf: run.file("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(lines == [Line(step: 1, kind: "train"), Line(step: 2, kind: "prune"), Line(step: 3, kind: "train")])
        #expect(resumed.byteCount == (try Data(contentsOf: run.file("metrics.jsonl"))).count)
    }

    @Test func metricsRefuseACutThatDoesNotFit() throws {
        let path = TestFiles.temporaryDirectory("moduli-rundir")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        let log = try MetricsLog(run: run)
        try log.append(Line(step: 1, kind: "train"))
        let size = log.byteCount
        for bad in [size + 10, size - 3, -1] {
            let m = Self.message { _ = try MetricsLog(run: run, keepBytes: bad) }
            #expect(m?.contains(run.file("metrics.jsonl").path) == true, "\(bad): \(m ?? "accepted")")
        }
        #expect(try Data(contentsOf: run.file("metrics.jsonl")).count == size, "a refused cut changed the log")
        // keepUpToStep still works.
        try log.append(Line(step: 5, kind: "train"))
        _ = try MetricsLog(run: run, keepUpToStep: 1)
        #expect(try Data(contentsOf: run.file("metrics.jsonl")).count == size)
    }

    @Test func aFullDiskIsAnErrorNamingTheFile() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { try Test.cancel("this system has no /dev/full to fill") }
        let log = try MetricsLog(appendingTo: URL(fileURLWithPath: "/dev/full"))
        let m = Self.message { try log.append(Line(step: 1, kind: "train")) }
        #expect(m?.contains("/dev/full") == true && m?.contains("No space left on device") == true, "\(m ?? "accepted")")
        #expect(log.byteCount == 0)
    }

    @Test func anAtomicWriteNeverReplacesADeviceOrDirectory() throws {
        // Renaming over /dev/null (as root) would replace the device with a file.
        let m = Self.message { try RunDirectory.writeAtomically(Data("x".utf8), to: URL(fileURLWithPath: "/dev/null")) }
        #expect(m?.contains("/dev/null") == true && m?.contains("not a regular file") == true, "\(m ?? "accepted")")
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        #expect(!FileManager.default.fileExists(atPath: "/dev/.null.tmp-\(getpid())"))
    }

    // MARK: progress

    @Test func progressRateCountsOnlyThisProcesssSteps() {
        let resumed = ProgressReporter(label: "t", total: 1000, firstStep: 900, quiet: true)
        let rate = resumed.rate(step: 950, now: Date().addingTimeInterval(10))
        #expect(rate.map { abs($0 - 5) < 0.05 } == true, "rate \(String(describing: rate)) steps/s, expected 5")
        // Without firstStep the rate starts at the first update.
        let late = ProgressReporter(label: "t", total: 1000, quiet: true)
        late.update(step: 500, loss: 1)
        #expect(late.rate(step: 500, now: Date().addingTimeInterval(5)) == nil)
        let r2 = late.rate(step: 510, now: Date().addingTimeInterval(5))
        #expect(r2.map { abs($0 - 2) < 0.05 } == true, "rate \(String(describing: r2))")
        let text = late.text(step: 500, loss: 1, extra: "", now: Date())
        #expect(text.contains("ETA ?"), "\(text)")
        #expect(ProgressReporter.format(seconds: .infinity) == "?" && ProgressReporter.format(seconds: .nan) == "?")
        #expect(ProgressReporter.format(seconds: 3725) == "1h02m")
    }

    @Test func theBarFitsTheTerminal() {
        let long = String(repeating: "x", count: 200)
        #expect(ProgressReporter.fit(long, columns: 80).count == 79)
        #expect(ProgressReporter.fit(long, columns: 40).count == 39)
        #expect(ProgressReporter.fit("short", columns: 80) == "short")
        #expect(ProgressReporter.terminalColumns() > 0)
    }
}
