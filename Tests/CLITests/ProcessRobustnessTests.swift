// The moduli process under hostile conditions: stderr closed, stdout and stderr into a pipe that
// closes after one line, a file-size limit standing in for a full disk, two processes aimed at
// one run directory, and output paths that must be refused.
import Foundation
import Testing
import _TestSupport

@Suite(.serialized) struct ProcessRobustnessTests {
    /// A tiny adding run (a fraction of a second).
    static let tiny = [
        "train", "adding", "--epochs", "2", "--batches-per-epoch", "5", "--hidden", "8", "--length", "5",
        "--test-size", "10", "--log-every", "1"
    ]

    struct Outcome {
        var status: Int32
        var signaled: Bool
        var out: String
        var err: String
    }

    /// Runs `script` with /bin/sh, `$0` the moduli executable and `$@` the arguments.
    static func shell(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, CLITests.executable.path] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Outcome(
            status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
            out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Every line of metrics.jsonl is a JSON object (no progress text slipped in).
    static func metricsAreClean(_ dir: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty, sourceLocation: sourceLocation)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON line in metrics.jsonl: \(line)", sourceLocation: sourceLocation)
        }
        #expect(text.hasSuffix("\n"), sourceLocation: sourceLocation)
    }

    @Test func withStderrClosedProgressStaysOutOfTheRunFiles() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.shell("exec \"$0\" \"$@\" 2>&-", Self.tiny + ["--out", dir])
        #expect(r.status == 0 && !r.signaled, "status \(r.status): \(r.out)")
        #expect(Self.exists(dir + "/model.safetensors"))
        try Self.metricsAreClean(dir)
        for name in ["config.json", "summary.json"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "\(name) is not JSON")
        }
    }

    @Test func aPipeThatClosesEarlyDoesNotKillTheRun() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let status = dir + "-status"
        defer { try? FileManager.default.removeItem(atPath: status) }
        // `head -1` exits after the first line; moduli's later writes meet a closed pipe.
        let r = try Self.shell(
            "{ \"$0\" \"$@\" 2>&1; echo $? > \"$STATUS\"; } | head -1", Self.tiny + ["--out", dir + "/run"],
            environment: ["STATUS": status])
        #expect(r.status == 0)
        let code = try String(contentsOfFile: status, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(code == "0", "moduli exited with \(code) (141 = killed by SIGPIPE)")
        #expect(Self.exists(dir + "/run/model.safetensors") && Self.exists(dir + "/run/summary.json"))
        try Self.metricsAreClean(dir + "/run")
    }

    @Test func aFileSizeLimitIsAnErrorNotACrash() throws {
        // Under `ulimit -f` with SIGXFSZ ignored a write past the limit fails with EFBIG, as a
        // write to a full disk fails with ENOSPC.
        for blocks in [1, 4, 8, 16] {
            let dir = TestFiles.temporaryDirectory("moduli-cli")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let r = try Self.shell("trap '' XFSZ; ulimit -f \(blocks); exec \"$0\" \"$@\"", Self.tiny + ["--out", dir])
            #expect(!r.signaled, "ulimit -f \(blocks): killed by signal \(r.status)")
            if r.status == 0 { continue }  // everything fit
            #expect(r.err.contains("File too large") && r.err.contains(dir), "ulimit -f \(blocks): \(r.err)")
            // No half-written file under a final name, no temporary left over.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            #expect(!names.contains { $0.contains(".tmp-") }, "ulimit -f \(blocks): \(names)")
            if names.contains("metrics.jsonl") { try Self.metricsAreCleanOrEmpty(dir) }
        }
    }

    static func metricsAreCleanOrEmpty(_ dir: String) throws {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        if !text.isEmpty { try metricsAreClean(dir) }
    }

    @Test func twoProcessesCannotShareARunDirectory() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let long = [
            "train", "adding", "--epochs", "300", "--batches-per-epoch", "100", "--hidden", "8", "--length", "5",
            "--test-size", "10", "--quiet", "--out", dir
        ]
        let first = Process()
        first.executableURL = CLITests.executable
        first.arguments = long
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        // SIGKILL: the test runner may block SIGTERM, and its children inherit that mask.
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) }; first.waitUntilExit() }
        let deadline = Date().addingTimeInterval(60)
        while !Self.exists(dir + "/config.json") && first.isRunning && Date() < deadline { usleep(50_000) }
        try #require(Self.exists(dir + "/config.json") && first.isRunning, "the first run did not start")
        for second in [long, ["train", "adding", "--out", dir, "--resume"], long + ["--overwrite"]] {
            let r = try CLITests.moduli(second)
            #expect(r.status != 0, "\(second): a second process was let in")
            #expect(r.err.contains("Another moduli process") && r.err.contains(dir), "\(second): \(r.err)")
        }
        #expect(first.isRunning, "the first run was disturbed")
    }

    @Test func outputPathsThatMustNotBeWrittenAreRefused() throws {
        let empty = try CLITests.moduli(Self.tiny + ["--out", ""])
        #expect(empty.status != 0 && empty.err.contains("empty"), "\(empty.err)")

        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        for extra in [[], ["--overwrite"]] {
            let r = try CLITests.moduli(Self.tiny + ["--out", dir] + extra)
            #expect(r.status != 0 && r.err.contains("model.safetensors"), "\(extra): \(r.err)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")) == Data("precious".utf8))
    }

    @Test func overwriteLeavesNothingOfTheOldRun() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try CLITests.moduli(Self.tiny + ["--out", dir, "--quiet"])
        #expect(first.status == 0, "\(first.err)")
        for name in ["R.npy", "positions.npy", "initial_R.npy", "regularizer.json"] {
            try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        let again = try CLITests.moduli(Self.tiny + ["--out", dir, "--quiet", "--overwrite"])
        #expect(again.status == 0, "\(again.err)")
        for name in ["R.npy", "positions.npy", "initial_R.npy", "regularizer.json"] {
            #expect(!Self.exists(dir + "/" + name), "\(name) survived --overwrite")
        }
        #expect(Self.exists(dir + "/model.safetensors"))
    }
}
