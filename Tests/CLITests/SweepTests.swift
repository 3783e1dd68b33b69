// `moduli sweep` as a user runs it: a grid of tiny adding runs run locally in child processes,
// refused specs, a sweep killed halfway and restarted, and the same sweep as a Slurm job array on a
// one-node cluster started by Tools/slurm-local.sh.
import Foundation
import Testing
import _TestSupport

@Suite struct SweepTests {
    /// Flags of an adding run that takes a fraction of a second.
    static let tinyBase = [
        "--length", "4", "--hidden", "8", "--epochs", "2", "--batches-per-epoch", "5", "--fixed-epochs", "0", "--test-size", "20"
    ]

    /// A spec file with `configurations` (in this order) over `seeds`; returns its path.
    static func writeSpec(
        _ dir: String, base: [String] = tinyBase, seeds: [Int] = [0, 1],
        configurations: [(String, [String])] = [("zeta", ["--moduli", "torus", "--target-sparsity", "0.5"]), ("alpha", [])]
    ) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func list(_ flags: [String]) -> String { "[" + flags.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        let text = """
            {"task": "adding", "base": \(list(base)), "seeds": [\(seeds.map(String.init).joined(separator: ", "))],
             "configurations": {\(configurations.map { "\"\($0.0)\": \(list($0.1))" }.joined(separator: ", "))}}
            """
        let path = dir + "/spec.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    static func modificationDate(_ path: String) throws -> Date {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
    }

    static func states(_ sweep: String) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sweep + "/sweep.json"))) as? [String: Any]
        let runs = try #require(object?["runs"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: runs.map { ($0["name"] as? String ?? "", $0["state"] as? String ?? "") })
    }

    @Test func aLocalSweepRunsTheGridAndTabulatesItInTheSpecsOrder() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir)
        let sweep = dir + "/sweep"
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep, "--jobs", "2"])
        #expect(r.status == 0, "\(r.err)")
        let names = ["zeta-s0", "alpha-s0", "zeta-s1", "alpha-s1"]
        for name in names {
            #expect(FileManager.default.fileExists(atPath: "\(sweep)/\(name)/summary.json"), "\(name) has no summary.json")
        }
        #expect(try Self.states(sweep) == Dictionary(uniqueKeysWithValues: names.map { ($0, "finished") }))
        // Each run started from the resolved configuration the sweep wrote, which is the one the
        // same flags give moduli train: the same bytes as the run's config.json.
        for name in names {
            #expect(try Self.read("\(sweep)/configs/\(name).json") == Self.read("\(sweep)/\(name)/config.json"), "\(name)")
            #expect(try Self.read("\(sweep)/logs/\(name).log").contains(" train --config "), "\(name)")
            #expect(try Self.read("\(sweep)/logs/\(name).log").contains("configs/\(name).json --out"), "\(name)")
        }
        // The sweep gave each run its share of the cores (--jobs 2: max(1, cores / 2) threads).
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sweep + "/configs/zeta-s1.json")))
        let threads = try #require(((written as? [String: Any])?["training"] as? [String: Any])?["threads"] as? Int)
        #expect(threads >= 1 && threads <= max(1, ProcessInfo.processInfo.activeProcessorCount / 2), "\(threads) threads")
        let direct = try CLITests.moduli(
            ["train", "adding"] + Self.tinyBase + [
                "--moduli", "torus", "--target-sparsity", "0.5", "--seed", "1", "--threads", String(threads), "--out", dir + "/direct",
                "--quiet"
            ])
        #expect(direct.status == 0, "\(direct.err)")
        #expect(try Self.read(dir + "/direct/config.json") == Self.read(sweep + "/zeta-s1/config.json"))
        let markdown = try Self.read(sweep + "/summary.md")
        #expect(r.out.contains(markdown), "the table is not printed")
        // One row per configuration in the spec's order (zeta before alpha), primary metric first.
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| ") }
        #expect(rows.count == 3, "\(markdown)")
        #expect(rows.first?.contains("**testMSE**") == true && rows.first?.hasSuffix("W_hh sparsity |") == true, "\(rows)")
        #expect(rows.dropFirst().first?.hasPrefix("| zeta | `--moduli torus --target-sparsity 0.5` | 2/2 | ") == true, "\(rows)")
        #expect(rows.last?.hasPrefix("| alpha | - | 2/2 | ") == true, "\(rows)")
        // The table's numbers are the runs' mean (sample std).
        func testMSE(_ name: String) throws -> Double {
            let object =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(sweep)/\(name)/summary.json")))
                as? [String: Any]
            return try #require(object?["testMSE"] as? Double)
        }
        let (a, b) = (try testMSE("alpha-s0"), try testMSE("alpha-s1"))
        let csv = try Self.read(sweep + "/summary.csv").split(separator: "\n")
        // The primary metric first, then the other final metrics (the validation MSE), then the sparsity.
        #expect(
            csv.first == "configuration,flags,runs,seeds,failed,testMSE,testMSE std,validMSE,validMSE std,W_hh sparsity,W_hh sparsity std")
        let alpha = try #require(csv.last?.split(separator: ",", omittingEmptySubsequences: false))
        #expect(alpha.count == 11 && alpha[0] == "alpha" && alpha[2] == "2" && alpha[4] == "0", "\(alpha)")
        #expect(Double(alpha[5]) == (a + b) / 2, "mean of \(a), \(b): \(alpha)")
        #expect(abs(Double(alpha[6])! - abs(a - b) / 2.0.squareRoot()) < 1e-12, "std of \(a), \(b): \(alpha)")
        #expect(Double(alpha[9]) == 0, "an unpruned run has W_hh sparsity \(alpha[9])")

        // Again: nothing is redone. A run whose summary.json is gone resumes from its checkpoint
        // and ends with the same table.
        let finished = try Self.modificationDate("\(sweep)/zeta-s0/summary.json")
        try FileManager.default.removeItem(atPath: "\(sweep)/alpha-s1/summary.json")
        let again = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(again.status == 0, "\(again.err)")
        #expect(try Self.modificationDate("\(sweep)/zeta-s0/summary.json") == finished, "a finished run was run again")
        #expect(try Self.read(sweep + "/logs/alpha-s1.log").contains("--resume"), "the run with a checkpoint was not resumed")
        #expect(!(try Self.read(sweep + "/logs/zeta-s0.log").contains("attempt 2")))
        #expect(try Self.read(sweep + "/summary.md") == markdown)

        // --collect reads the table without running anything.
        let collected = try CLITests.moduli(["sweep", spec, "--out", sweep, "--collect"])
        #expect(collected.status == 0 && collected.out.contains(markdown), "\(collected.err)")

        // Another spec in the same directory is refused, and says what differs.
        let other = try CLITests.moduli(["sweep", spec, "--out", sweep, "--seeds", "3"])
        #expect(other.status != 0)
        #expect(other.err.contains("another spec") && other.err.contains("seeds 0,1 there, 0,1,2 here"), "\(other.err)")
    }

    @Test(arguments: [
        (#"{"task": "adding", "seeds": [0], "configuration": {"a": []}}"#, #"unknown key "configuration""#),
        (#"{"task": "adding", "seeds": [0]}"#, #"lacks "configurations""#),
        (#"{"task": "addition", "seeds": [0], "configurations": {"a": []}}"#, #""task": Unknown task 'addition'"#),
        (#"{"task": "adding", "seeds": [0, -1], "configurations": {"a": []}}"#, #""seeds"[1] must be a whole number"#),
        (#"{"task": "adding", "seeds": [0, 0], "configurations": {"a": []}}"#, "lists 0 twice"),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a": ["--hidden", 8]}}"#, #""configurations.a"[1] must be a string"#),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a": ["--seed", "3"]}}"#, #""configurations.a" gives --seed"#),
        (#"{"task": "adding", "seeds": [0], "base": ["--out=x"], "configurations": {"a": []}}"#, #""base" gives --out"#),
        (#"{"task": "adding", "seeds": [0], "configurations": {"../a": []}}"#, #"name "../a" cannot name a run directory"#),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a-s1": []}}"#, "seed suffix"),
        (
            #"{"task": "adding", "seeds": [0], "configurations": {"a": ["--hiden", "8"]}}"#,
            #"configuration "a" (moduli train adding --hiden 8): Unknown option '--hiden': did you mean '--hidden'?"#
        ),
        (
            #"{"task": "adding", "seeds": [0], "configurations": {"a": ["--hidden", "0"]}}"#,
            #"configuration "a" (moduli train adding --hidden 0): options.hiddenSize [--hidden] must be between 1 and 65536, got 0."#
        ),
        (
            #"{"task": "adding", "base": ["--lr", "1"], "seeds": [0], "configurations": {"a": ["--lr", "2"]}}"#,
            #"training.optimizer.learningRate [--lr] is given twice"#
        ),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a": ["--target-sparsity", "2"]}}"#, "--target-sparsity"),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a": [], "a": []}}"#, #"the key "a" appears twice"#),
        (#"{"task": "adding", "seeds": [0], "configurations": {"a": []}"#, "line 1, column 61: unexpected end of the file inside an object")
    ])
    func aBadSpecIsRefusedBeforeAnyRunNamingTheFileAndKey(spec: String, mentions: String) throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/bad.json"
        try spec.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try CLITests.moduli(["sweep", path, "--out", dir + "/sweep"])
        #expect(r.status == 64, "\(spec): exit \(r.status)")
        #expect(r.err.contains(path) && r.err.contains(mentions), "\(spec): \(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/sweep"), "\(spec): a refused spec left a sweep directory")
    }

    @Test(arguments: [
        (["sweep", "paper-language", "--preset", "tiny"], "--preset must be small or paper"),
        (["sweep", "no-such-grid"], "neither a spec file"),
        (["sweep", "paper-adding", "--preset", "small"], "--preset applies to the paper-navigation and paper-language grids"),
        (["sweep", "paper-navigation", "--preset", "huge"], "--preset must be small or paper"),
        (["sweep", "paper-adding", "--partition", "gpu"], "--partition applies only with --emit slurm"),
        (["sweep", "paper-adding", "--emit", "pbs"], "slurm"),
        (["sweep", "paper-adding", "--collect", "--emit", "slurm"], "contradict"),
        (["sweep", "paper-adding", "--jobs", "0"], "--jobs")
    ])
    func badOptionsFailWithAMessage(arguments: [String], mentions: String) throws {
        let r = try CLITests.moduli(arguments)
        #expect(r.status != 0, "\(arguments) exited 0")
        #expect(r.err.contains(mentions), "\(arguments): \(r.err)")
    }

    @Test func aDirectoryWithOtherFilesIsRefusedAndCollectNeedsASweep() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir)
        try FileManager.default.createDirectory(atPath: dir + "/occupied", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/occupied/notes.txt", contents: Data("mine".utf8))
        let r = try CLITests.moduli(["sweep", spec, "--out", dir + "/occupied"])
        #expect(r.status != 0 && r.err.contains("notes.txt") && r.err.contains("no sweep.json"), "\(r.err)")
        #expect(try Self.read(dir + "/occupied/notes.txt") == "mine")
        let c = try CLITests.moduli(["sweep", spec, "--out", dir + "/none", "--collect"])
        #expect(c.status != 0 && c.err.contains("no sweep"), "\(c.err)")
    }

    @Test func aFailingRunIsRetriedOnceThenReportedWhileTheOthersFinish() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir, seeds: [0], configurations: [("good", []), ("blocked", [])])
        let sweep = dir + "/sweep"
        // A run directory holding files of another program cannot be trained in: the run fails.
        try FileManager.default.createDirectory(atPath: sweep, withIntermediateDirectories: true)
        let first = try CLITests.moduli(["sweep", spec, "--out", sweep, "--emit", "slurm"])  // creates sweep.json only
        #expect(first.status == 0, "\(first.err)")
        try FileManager.default.createDirectory(atPath: sweep + "/blocked-s0", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: sweep + "/blocked-s0/notes.txt", contents: Data())
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(r.status == 1, "exit \(r.status): \(r.err)")
        #expect(
            r.err.contains("blocked-s0 failed (exit 1)") && r.err.contains("retrying once") && r.err.contains("failed again"), "\(r.err)")
        #expect(r.err.contains("The sweep is incomplete: 1 run(s) failed twice: blocked-s0"), "\(r.err)")
        #expect(try Self.states(sweep) == ["good-s0": "finished", "blocked-s0": "failed"])
        let log = try Self.read(sweep + "/logs/blocked-s0.log")
        #expect(log.contains("attempt 1") && log.contains("attempt 2") && log.contains("holds files but no moduli run"), "\(log)")
        let markdown = try Self.read(sweep + "/summary.md")
        #expect(
            markdown.contains("| blocked | - | 0/1 (1 failed) | - | - |")
                && markdown.contains("Failed: blocked-s0 (exit 1; logs/blocked-s0.log)"), "\(markdown)")
        #expect(markdown.contains("| good | - | 1/1 | "), "\(markdown)")
    }

    /// Starts `moduli sweep SPEC --out OUT`, waits until `ready()` (at most `within` seconds) and
    /// `pause` seconds more, then kills the sweep and its runs at once: stopped first, so that it
    /// starts nothing more, then SIGKILL for its runs and itself.
    static func killSweep(spec: String, out: String, within: TimeInterval, pause: TimeInterval = 0, until ready: () -> Bool) throws {
        let p = Process()
        p.executableURL = CLITests.executable
        p.arguments = ["sweep", spec, "--out", out]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(within)
        while p.isRunning, Date() < deadline, !ready() { usleep(10_000) }
        if pause > 0 { usleep(useconds_t(pause * 1e6)) }
        try #require(p.isRunning, "the sweep ended before it could be killed")
        kill(p.processIdentifier, SIGSTOP)
        for child in children(of: p.processIdentifier) { kill(child, SIGKILL) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// The process ids whose parent is `pid` (from /proc).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { return false }
            let fields = stat[close.upperBound...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    @Test func aSweepKilledHalfwayFinishesWithoutRedoingRunsAndGivesTheSameTable() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Runs of about half a second each (with a checkpoint after every epoch), one at a time.
        let base = [
            "--length", "4", "--hidden", "8", "--epochs", "8", "--batches-per-epoch", "30", "--fixed-epochs", "0", "--test-size", "20"
        ]
        let spec = try Self.writeSpec(
            dir, base: base, seeds: [0],
            configurations: [
                ("torus", ["--moduli", "torus", "--target-sparsity", "0.5"]), ("none", []), ("pruned", ["--target-sparsity", "0.5"])
            ])
        let sweep = dir + "/killed"
        try Self.killSweep(spec: spec, out: sweep, within: 30, pause: 0.15) {  // into the second run
            FileManager.default.fileExists(atPath: sweep + "/torus-s0/summary.json")
        }
        try #require(FileManager.default.fileExists(atPath: sweep + "/torus-s0/summary.json"))
        #expect(!FileManager.default.fileExists(atPath: sweep + "/pruned-s0/summary.json"), "the sweep was not killed halfway")
        let first = try Self.modificationDate(sweep + "/torus-s0/summary.json")
        let firstModel = try Data(contentsOf: URL(fileURLWithPath: sweep + "/torus-s0/model.safetensors"))

        let resumed = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(try Self.modificationDate(sweep + "/torus-s0/summary.json") == first, "the finished run was run again")
        #expect(try Data(contentsOf: URL(fileURLWithPath: sweep + "/torus-s0/model.safetensors")) == firstModel)
        #expect(!(try Self.read(sweep + "/logs/torus-s0.log").contains("attempt 2")))
        #expect(!resumed.err.contains("torus-s0"), "the restarted sweep touched torus-s0: \(resumed.err)")
        #expect(try Self.states(sweep).values.allSatisfy { $0 == "finished" })

        let whole = try CLITests.moduli(["sweep", spec, "--out", dir + "/whole"])
        #expect(whole.status == 0, "\(whole.err)")
        #expect(try Self.read(sweep + "/summary.md") == Self.read(dir + "/whole/summary.md"))
        #expect(try Self.read(sweep + "/summary.csv") == Self.read(dir + "/whole/summary.csv"))
    }

    /// Whether the Slurm test can run here, or why not.
    static var slurmUnavailable: String? {
        #if os(Linux)
            if ProcessInfo.processInfo.environment["MODULI_SKIP_SLURM"] == "1" { return "MODULI_SKIP_SLURM=1" }
            if getuid() != 0 { return "not root: a local Slurm cluster needs root (Tools/slurm-local.sh)" }
            let fm = FileManager.default
            let hasSlurm = ["/usr/bin/sbatch", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"].allSatisfy {
                fm.isExecutableFile(atPath: $0)
            }
            if !hasSlurm {
                return "Slurm is not installed (make test-deps installs Debian's slurmctld, slurmd, slurm-client and munge as root)"
            }
            return nil
        #else
            return "the local Slurm cluster needs Linux"
        #endif
    }

    /// Runs a command (no shell), returns exit status and output. The output goes through a file,
    /// not a pipe: a daemon the command starts may keep a pipe open long after the command ended.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String)
    {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-sweep-\(UUID().uuidString).out").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = output; p.standardError = output
        try p.run()
        p.waitUntilExit()
        try output.close()
        return (p.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    @Test func aSlurmJobArrayGivesTheSameTableAsALocalSweep() throws {
        if let why = Self.slurmUnavailable { try Test.cancel("the Slurm test needs a local cluster: \(why)") }
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("Tools/slurm-local.sh").path
        // A cluster of its own: its own directory and ports, stopped at the end.
        let cluster = dir + "/cluster"
        let port = 20_000 + 2 * Int.random(in: 0..<4_000)
        let env = ["MODULI_SLURM_DIR": cluster, "MODULI_SLURM_PORT": String(port), "SLURM_CONF": cluster + "/slurm.conf"]
        defer { _ = try? Self.run(script, ["stop"], environment: env) }
        let started = try Self.run(script, ["start"], environment: env)
        try #require(started.status == 0, "Tools/slurm-local.sh start failed: \(started.out)")

        let sweep = dir + "/slurm"
        let emitted = try CLITests.moduli([
            "sweep", spec, "--out", sweep, "--emit", "slurm", "--time", "00:05:00", "--cpus-per-task", "1", "--mem", "500M"
        ])
        #expect(emitted.status == 0, "\(emitted.err)")
        let batch = try Self.read(sweep + "/sweep.sbatch")
        #expect(batch.contains("#SBATCH --array=0-3\n") && batch.contains("--only-index \"$SLURM_ARRAY_TASK_ID\""), "\(batch)")
        #expect(batch.contains("#SBATCH --time=00:05:00\n") && batch.contains("#SBATCH --mem=500M\n"))
        let submitted = try Self.run("/usr/bin/sbatch", ["--parsable", sweep + "/sweep.sbatch"], environment: env)
        try #require(submitted.status == 0, "sbatch failed: \(submitted.out)")
        let job = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        let deadline = Date().addingTimeInterval(60)
        var queued = "?"
        while Date() < deadline {
            queued = try Self.run("/usr/bin/squeue", ["-h", "-j", job, "-o", "%i %t"], environment: env).out
            if queued.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
            usleep(250_000)
        }
        if !queued.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            _ = try? Self.run("/usr/bin/scancel", [job], environment: env)
            Issue.record("the job array \(job) did not finish in 60 s: \(queued)")
            return
        }
        let collected = try CLITests.moduli(["sweep", spec, "--out", sweep, "--collect"])
        #expect(collected.status == 0, "\(collected.err)")
        for k in 0..<4 {
            #expect(FileManager.default.fileExists(atPath: "\(sweep)/logs/slurm-\(job)_\(k).out"), "no output of array task \(k)")
        }

        let local = try CLITests.moduli(["sweep", spec, "--out", dir + "/local"])
        #expect(local.status == 0, "\(local.err)")
        #expect(try Self.read(sweep + "/summary.md") == Self.read(dir + "/local/summary.md"))
        #expect(try Self.read(sweep + "/summary.csv") == Self.read(dir + "/local/summary.csv"))
        #expect(try Self.states(sweep).values.allSatisfy { $0 == "finished" })
    }
}
