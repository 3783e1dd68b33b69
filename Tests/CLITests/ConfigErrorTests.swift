// `moduli train --config` with and without a task, config files with errors, resume messages, and
// options that are refused instead of ignored: each answer names the file, line, column and key,
// and the command that gets the user going again.
import Foundation
import Testing
import _TestSupport

@Suite struct ConfigErrorTests {
    /// A tiny adding run (a fraction of a second).
    static let tiny = ["--epochs", "2", "--batches-per-epoch", "3", "--hidden", "8", "--length", "5", "--test-size", "10", "--quiet"]

    /// A temporary directory with a finished tiny adding run in `run` and its config.json edited to
    /// `--hidden 6` in `six.json`.
    static func setUp() throws -> (dir: String, run: String, six: String) {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CLITests.moduli(["train", "adding", "--out", dir + "/run"] + tiny)
        #expect(r.status == 0, "\(r.err)")
        let text = try String(contentsOfFile: dir + "/run/config.json", encoding: .utf8)
        try text.replacingOccurrences(of: "\"hiddenSize\" : 8", with: "\"hiddenSize\" : 6").write(
            toFile: dir + "/six.json", atomically: true, encoding: .utf8)
        return (dir, dir + "/run", dir + "/six.json")
    }

    static func hidden(_ run: String) throws -> Int? {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))) as? [String: Any]
        return (object?["options"] as? [String: Any])?["hiddenSize"] as? Int
    }

    @Test func aTaskCommandWithConfigRunsTheFile() throws {
        let (dir, _, six) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for arguments in [
            ["train", "--config", six, "--out", dir + "/a", "adding", "--quiet"],
            ["train", "adding", "--config", six, "--out", dir + "/b", "--quiet"],
            ["train", "--config", six, "--out", dir + "/c", "--quiet"]
        ] {
            let r = try CLITests.moduli(arguments)
            #expect(r.status == 0, "\(arguments): \(r.err)")
            #expect(try Self.hidden(arguments[arguments.firstIndex(of: "--out")! + 1]) == 6, "\(arguments) did not run the file")
        }
    }

    @Test func configWithOptionsOrAnotherTaskIsRefused() throws {
        let (dir, _, six) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = try CLITests.moduli(["train", "--config", six, "--out", dir + "/a", "adding", "--hidden", "9", "--lr", "1"])
        #expect(
            options.status == 64 && options.err.contains("--hidden, --lr cannot be given with it")
                && options.err.contains("moduli train --config \(six)"),
            "\(options.err)")
        let task = try CLITests.moduli(["train", "navigation", "--config", six, "--out", dir + "/b"])
        #expect(
            task.status == 64 && task.err.contains("of the task adding, but the command is moduli train navigation")
                && task.err.contains("moduli train --config \(six) --out \(dir)/b"), "\(task.err)")
        let resume = try CLITests.moduli(["train", "--config", six, "--resume", "--out", dir + "/run"])
        #expect(resume.status == 64 && resume.err.contains("moduli train adding --resume --out \(dir)/run"), "\(resume.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/a") && !FileManager.default.fileExists(atPath: dir + "/b"))
    }

    @Test(arguments: [
        (
            #""hiddenSize" : 8,"#, #""hiddenSize" : 8, "hiddenSize" : 7,"#,
            #", line 6, column 23, at options.hiddenSize: the key "hiddenSize" appears twice"#
        ),
        (#""lambda" : 0.001,"#, #""lambda" : 1e400,"#, ", at training.regularizer.lambda: the number 1e400 does not fit a Double"),
        (#""lambda" : 0.001,"#, #""lambda" : "0.001","#, #", at training.regularizer.lambda: expected a number, found a string ("0.001")"#),
        (#""seed" : 0,"#, #""seed" : -1,"#, ", at training.seed: expected a whole number in this field's range, found -1"),
        (#""seed" : 0,"#, #""seed" : 0"#, ": expected , or } in an object"),
        (#""clip" : 0.5,"#, #""clip" : 0.5, "clipp" : 1,"#, #", at training.clipp: unknown key "clipp""#)
    ])
    func aConfigFileErrorSaysWhereAndWhat(replacing: String, with: String, says: String) throws {
        let (dir, run, _) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/edited.json"
        let text = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
        #expect(text.contains(replacing))
        try text.replacingOccurrences(of: replacing, with: with).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try CLITests.moduli(["train", "--config", path, "--out", dir + "/new", "--quiet"])
        #expect(r.status == 1, "\(with): exit \(r.status)")
        #expect(r.err.contains(path + ", line ") && r.err.contains(says), "\(with): \(r.err)")
        #expect(!r.err.contains("The given data was not valid JSON"), "\(r.err)")
    }

    @Test func resumingARunOfAnotherTaskNamesItsCommand() throws {
        let (dir, run, _) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLITests.moduli(["train", "navigation", "--resume", "--out", run])
        #expect(
            r.status == 64 && r.err.contains("is a run of the task adding, not navigation")
                && r.err.contains("moduli train adding --resume --out \(run)") && !r.err.contains("damaged"), "\(r.err)")
    }

    @Test func resumingARunWithADamagedConfigSaysWhere() throws {
        let (dir, run, _) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
        try text.replacingOccurrences(of: "\"task\" : \"adding\",", with: "\"task\" : \"adding\" ").write(
            toFile: run + "/config.json", atomically: true, encoding: .utf8)
        let r = try CLITests.moduli(["train", "adding", "--resume", "--out", run])
        #expect(
            r.status == 1 && r.err.contains("Cannot resume the run in \(run): \(run)/config.json, line ")
                && r.err.contains("expected , or } in an object"),
            "\(r.err)")
    }

    @Test func aRunWithoutACheckpointSaysHowToStartItAnew() throws {
        let (dir, run, _) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A run killed before its first checkpoint: config.json and the start of metrics.jsonl.
        let killed = dir + "/killed"
        try FileManager.default.createDirectory(atPath: killed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: run + "/config.json", toPath: killed + "/config.json")
        try Data().write(to: URL(fileURLWithPath: killed + "/metrics.jsonl"))
        let restart = "moduli train --config \(killed)/config.json --overwrite --out \(killed)"
        let resume = try CLITests.moduli(["train", "adding", "--resume", "--out", killed])
        #expect(resume.status == 1 && resume.err.contains("Nothing to resume yet") && resume.err.contains(restart), "\(resume.err)")
        let again = try CLITests.moduli(["train", "adding", "--out", killed] + Self.tiny)
        #expect(
            again.status == 1 && again.err.contains("stopped before its first checkpoint") && again.err.contains(restart), "\(again.err)")
        // The command given works and trains the run's own configuration.
        let anew = try CLITests.moduli(Array(restart.split(separator: " ").dropFirst().map(String.init)) + ["--quiet"])
        #expect(anew.status == 0, "\(anew.err)")
        #expect(try Self.hidden(killed) == 8 && FileManager.default.fileExists(atPath: killed + "/summary.json"))
        // A finished run is still refused as before (its checkpoint is there).
        let finished = try CLITests.moduli(["train", "adding", "--out", run] + Self.tiny)
        #expect(finished.status == 1 && finished.err.contains("Pass --resume to continue it"), "\(finished.err)")
    }

    @Test(arguments: [
        (
            ["train", "adding", "--warmup-steps", "5"],
            """
            training.learningRateSchedule.warmupSteps [--warmup-steps] applies only with training.learningRateSchedule.kind \
            [--lr-schedule] warmup
            """
        ),
        (
            ["train", "adding", "--lr-factor", "2"],
            """
            training.learningRateSchedule.factor [--lr-factor] applies only with training.learningRateSchedule.kind [--lr-schedule] \
            plateau
            """
        ),
        (
            ["train", "adding", "--lr-schedule", "warmup", "--warmup-steps", "5", "--lr-factor", "2"],
            """
            training.learningRateSchedule.factor [--lr-factor] applies only with training.learningRateSchedule.kind [--lr-schedule] \
            plateau
            """
        ),
        (["train", "adding", "--schedule", "cubic"], "training.pruning.schedule [--schedule] shapes pruning, and this run prunes nothing"),
        (["train", "navigation", "--target-sparsity", "0", "--schedule", "linear"], "[--schedule] shapes pruning"),
        (["train", "language", "--target-sparsity", "0", "--prune", "recurrent"], "options.prunedTensors [--prune] shapes pruning"),
        (
            ["report", "runs/a", "--out", "reports/a", "--no-models", "--units", "4"],
            "--units sets what the navigation models draw, and --no-models runs none"
        ),
        (["bench", "train", "adding", "--config", "/tmp/config.json"], "--config does not apply"),
        (
            ["geometry", "--neurons", "10", "--matrix", "/tmp/same.npy", "--positions", "/tmp/./same.npy"],
            "--matrix and --positions name the same file"
        )
    ])
    func anOptionWithoutItsPrerequisiteIsRefused(arguments: [String], mentions: String) throws {
        let r = try CLITests.moduli(arguments)
        #expect(r.status == 64, "\(arguments): exit \(r.status)")
        #expect(r.err.contains(mentions), "\(arguments): \(r.err)")
    }

    @Test func aTargetThatPrunesEveryWeightIsRefusedWithTheLargestAllowed() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 88 pruned weights (W_ih 8, W_hh 64, fc 8... of H = 8): round(0.999999 x 88) = 88.
        let r = try CLITests.moduli(["train", "adding", "--target-sparsity", "0.999999", "--out", dir + "/run"] + Self.tiny)
        #expect(
            r.status == 1 && r.err.contains("prunes every one of the 88 weights") && r.err.contains("--target-sparsity 0.988 or less"),
            "\(r.err)")
        let ok = try CLITests.moduli(["train", "adding", "--target-sparsity", "0.988", "--out", dir + "/ok"] + Self.tiny)
        #expect(ok.status == 0, "\(ok.err)")
        let perTensor = try CLITests.moduli(
            ["train", "adding", "--target-sparsity", "0.5", "--tensor-targets", "0.5,0.995,0.5", "--out", dir + "/t"] + Self.tiny)
        #expect(
            perTensor.status == 1
                && perTensor.err.contains(
                    """
                    training.pruning.tensorTargets [--tensor-targets] value 2, 0.995, prunes every one of the 64 entries of \
                    rnn.weight_hh_l0
                    """
                ),
            "\(perTensor.err)")
    }

    @Test func geometryWritesTwoFilesAtTwoPaths() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CLITests.moduli(["geometry", "--neurons", "10", "--matrix", dir + "/R.npy", "--positions", dir + "/p.npy"])
        #expect(
            r.status == 0 && FileManager.default.fileExists(atPath: dir + "/R.npy")
                && FileManager.default.fileExists(atPath: dir + "/p.npy"), "\(r.err)")
    }
}
