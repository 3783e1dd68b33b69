// Signals: `moduli train` stops between two steps on SIGINT, SIGTERM or SIGHUP with a checkpoint
// that resumes exactly; `moduli sweep` forwards them to its runs and waits for them; the runs of a
// SIGKILLed sweep notice (parent-death signal) and stop with a checkpoint. Every wait is bounded.
import Foundation
import Testing
import _TestSupport
#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct SignalTests {
    /// An adding run of 400 steps (about a second in a debug build).
    static let run = [
        "train", "adding", "--hidden", "16", "--length", "10", "--epochs", "4", "--batches-per-epoch", "100",
        "--fixed-epochs", "0", "--test-size", "50", "--quiet"
    ]

    /// Starts `moduli arguments` with stdout and stderr into files under `logs`.
    static func start(_ arguments: [String], logs: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: logs + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: logs + ".err", contents: nil)
        let p = Process()
        p.executableURL = CLITests.executable
        p.arguments = arguments
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logs + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logs + ".err"))
        try p.run()
        return p
    }

    /// Polls `condition` every 10 ms for at most `seconds`; whether it came true.
    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Waits at most `seconds` for `p` to end; false (and the process killed) when it did not.
    static func waitForExit(_ p: Process, _ seconds: Double) -> Bool {
        if waitFor(seconds, { !p.isRunning }) { p.waitUntilExit(); return true }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return false
    }

    /// The processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text) ? pid : nil
        }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test(arguments: [(SIGTERM, Int32(143), "SIGTERM"), (SIGINT, 130, "SIGINT"), (SIGHUP, 129, "SIGHUP")])
    func aSignalStopsTrainingWithACheckpointThatResumesExactly(signal: Int32, status: Int32, name: String) throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let stopped = dir + "/stopped"
        let p = try Self.start(Self.run + ["--out", stopped], logs: dir + "/log")
        // After the first epoch's checkpoint, with three epochs to go.
        #expect(Self.waitFor(20) { Self.exists(stopped + "/checkpoint.safetensors") || !p.isRunning })
        kill(p.processIdentifier, signal)
        #expect(Self.waitForExit(p, 20), "the run did not stop within 20 s of \(name)")
        let err = try String(contentsOfFile: dir + "/log.err", encoding: .utf8)
        #expect(p.terminationReason == .exit && p.terminationStatus == status, "\(p.terminationReason) \(p.terminationStatus): \(err)")
        #expect(err.contains("Stopped by \(name)") && err.contains("moduli train adding --out \(stopped) --resume"), "\(err)")
        #expect(Self.exists(stopped + "/checkpoint.safetensors") && !Self.exists(stopped + "/summary.json"))

        // The resumed run equals an uninterrupted one (checked once: the signal makes no difference to it).
        guard signal == SIGTERM else { return }
        let straight = try CLITests.moduli(Self.run + ["--out", dir + "/straight"])
        #expect(straight.status == 0, "\(straight.err)")
        let resumed = try CLITests.moduli(["train", "adding", "--out", stopped, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.err)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/straight/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: stopped + "/model.safetensors"))
        #expect(a == b, "the resumed run's model differs from the uninterrupted run's")
    }

    /// A sweep of two long runs (one per configuration) in `dir`/sweep; returns the spec's path.
    static func longSweep(_ dir: String, epochs: Int) throws -> String {
        let base = [
            "--length", "10", "--hidden", "16", "--epochs", String(epochs), "--batches-per-epoch", "150",
            "--fixed-epochs", "0", "--test-size", "50"
        ]
        return try SweepTests.writeSpec(dir, base: base, seeds: [0], configurations: [("one", []), ("two", ["--lr", "0.001"])])
    }

    @Test func aTerminatedSweepStopsItsRunsWaitsForThemAndResumes() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.longSweep(dir, epochs: 4)
        let sweep = dir + "/sweep"
        let p = try Self.start(["sweep", spec, "--out", sweep, "--jobs", "2"], logs: dir + "/sweep-log")
        let runs = [sweep + "/one-s0", sweep + "/two-s0"]
        #expect(Self.waitFor(30) { runs.allSatisfy { Self.exists($0 + "/checkpoint.safetensors") } || !p.isRunning })
        kill(p.processIdentifier, SIGTERM)
        #expect(Self.waitForExit(p, 30), "the sweep did not end within 30 s of SIGTERM")
        let err = try String(contentsOfFile: dir + "/sweep-log.err", encoding: .utf8)
        #expect(p.terminationReason == .exit && p.terminationStatus == 143, "\(p.terminationReason) \(p.terminationStatus): \(err)")
        #expect(err.contains("Stopped by SIGTERM") && err.contains("moduli sweep \(spec)") && err.contains("--out \(sweep)"), "\(err)")
        // The sweep waited for its runs: none is left, each saved a checkpoint.
        #expect(Self.processes(mentioning: sweep).isEmpty, "runs left after the sweep ended")
        for run in runs {
            #expect(Self.exists(run + "/checkpoint.safetensors") && !Self.exists(run + "/summary.json"), "\(run)")
        }
        let states = try SweepTests.states(sweep)
        #expect(states.values.allSatisfy { $0 == "pending" }, "\(states)")
        // The same command finishes the sweep from the checkpoints.
        let again = try CLITests.moduli(["sweep", spec, "--out", sweep, "--jobs", "2"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.err.contains("one-s0 resumed") && again.err.contains("two-s0 resumed"), "\(again.err)")
        for run in runs { #expect(Self.exists(run + "/summary.json"), "\(run)") }
    }

    @Test func theRunsOfAKilledSweepStopWithACheckpoint() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.longSweep(dir, epochs: 200)  // minutes of training, were the runs to go on
        let sweep = dir + "/sweep"
        let p = try Self.start(["sweep", spec, "--out", sweep, "--jobs", "2"], logs: dir + "/sweep-log")
        let runs = [sweep + "/one-s0", sweep + "/two-s0"]
        #expect(Self.waitFor(30) { runs.allSatisfy { Self.exists($0 + "/metrics.jsonl") } || !p.isRunning })
        kill(p.processIdentifier, SIGKILL)
        let gone = Self.waitFor(20) { Self.processes(mentioning: sweep).isEmpty }
        let left = Self.processes(mentioning: sweep)
        for pid in left { kill(pid, SIGKILL) }  // the test's own runs, should they have lived on
        p.waitUntilExit()
        #expect(gone, "the runs of the killed sweep were still training 20 s later: \(left)")
        for run in runs {
            #expect(Self.exists(run + "/checkpoint.safetensors") && !Self.exists(run + "/summary.json"), "\(run)")
            let log =
                (try? String(contentsOfFile: sweep + "/logs/\(URL(fileURLWithPath: run).lastPathComponent).log", encoding: .utf8)) ?? ""
            #expect(log.contains("Stopped by SIGTERM"), "\(log)")
        }
    }
}
