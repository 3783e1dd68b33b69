// The moduli command as a user runs it: exit codes, messages, and what lands on disk.
import Foundation
import Testing
import _TestSupport

@Suite struct CLITests {
    /// The `moduli` executable built next to the test bundle.
    static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("moduli")
    }

    /// Runs the command; returns exit status, stdout and stderr. The process is killed (SIGKILL)
    /// after `timeout` seconds, so a hang fails the test instead of stalling the suite.
    static func moduli(_ arguments: [String], timeout: Double = 300) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(arguments: [
        (["train", "adding", "--no-such-flag"], "no-such-flag"),
        (["train", "adding", "--hidden", "0"], "--hidden"),
        (["train", "adding", "--length", "1"], "--length"),
        (["train", "adding", "--cell", "transformer"], "--cell"),
        (["train", "adding", "--device", "gpu"], "--device"),
        (["train", "adding", "--device", "cuda", "--recurrent-kernels", "sparse"], "--recurrent-kernels"),
        (["train", "adding", "--sparse-from", "0.8"], "add --recurrent-kernels sparse, or drop --sparse-from"),
        (
            ["train", "adding", "--recurrent-kernels", "sparse", "--sparse-from", "80"],
            "[--sparse-from] must be a sparsity in [0, 1], got 80"
        ),
        (["train", "adding", "--overwrite", "--resume", "--out", "x"], "contradict"),
        (["train", "adding", "--resume"], "--resume needs --out"),
        (["train", "adding", "--lr", "abc"], "lr"),
        (["train", "adding", "--permute"], "--moduli"),
        (["train", "adding", "--moduli", "donut"], "donut"),
        (["train", "adding", "--lottery", "random"], "--target-sparsity"),
        (["train", "adding", "--moduli", "torus", "--inhibitor", "mexican-hat"], "--inhibitor"),
        (["train", "adding", "--target-sparsity", "1.5"], "--target-sparsity"),
        (["train", "adding", "--epochs", "9223372036854775807"], "--epochs"),
        (["train", "adding", "--hidden", "65536", "--batch-size", "1000000", "--length", "1000"], "GiB"),
        (["train", "adding", "--out", ""], "--out"),
        (["train", "adding", "--resume", "--out", "x", "--lr", "1", "--permute"], "--lr, --permute cannot be given"),
        (["train", "--config", "/nonexistent/config.json"], "/nonexistent/config.json"),
        (["train", "--config", "/dev/zero"], "not a regular file"),
        (["compare", "/dev"], "/dev/summary.json"),
        (["train", "adding", "--moduli", "torus", "--inhibitor", "constant", "--invert"], "constant inhibitor cannot be inverted"),
        (["train", "adding", "--prune-every", "10"], "--target-sparsity"),
        (["train", "adding", "--optimizer", "rmsprop"], "optimizer"),
        (["train", "adding", "--nesterov"], "--nesterov"),
        (["train", "adding", "--lr-schedule", "warmup"], "--warmup-steps"),
        (["geometry", "--space", "donut"], "donut"),
        (["geometry", "--neurons", "0"], "--neurons")
    ])
    func badInputFailsWithAMessage(arguments: [String], mentions: String) throws {
        let r = try Self.moduli(arguments)
        #expect(r.status != 0, "\(arguments) exited 0")
        #expect(r.err.contains(mentions), "\(arguments): stderr does not mention \(mentions): \(r.err)")
    }

    @Test func geometryPrintsThePaperStatisticsAndWritesR() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try Self.moduli([
            "geometry", "--space", "torus", "--inhibitor", "inverted-dog", "--neurons", "600",
            "--seed", "1", "--json", "--matrix", dir + "/R.npy"
        ])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let statistics = try #require(object?["statistics"] as? [String: Any])
        let stats = statistics.compactMapValues { $0 as? Double }
        // docs/method.md 2.2 (H = 4096): mean 66.26, median 77.0, max 81.14, min 0; H = 600 within sampling error.
        #expect(abs(stats["mean"]! - 66.26) < 1.5, "mean \(stats["mean"]!)")
        #expect(abs(stats["median"]! - 77.0) < 1.5, "median \(stats["median"]!)")
        #expect(abs(stats["maximum"]! - 81.14) < 0.01 && stats["minimum"]! == 0)
        let npy = try Data(contentsOf: URL(fileURLWithPath: dir + "/R.npy"))
        // .npy: magic "\x93NUMPY", a header padded to 64 bytes, then 600 x 600 float32.
        #expect(npy.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
        #expect((npy.count - 600 * 600 * 4) % 64 == 0 && npy.count - 600 * 600 * 4 <= 128, "R.npy has \(npy.count) bytes")
    }

    @Test func unwritableOutputFailsBeforeTraining() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/file", contents: Data())
        let r = try Self.moduli(["train", "adding", "--out", dir + "/file/run", "--epochs", "1"])
        #expect(r.status != 0)
        #expect(r.err.contains("output directory"), "\(r.err)")
    }

    @Test func tinyRunEndsWithASummaryLineAndRunDirectory() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = [
            "train", "adding", "--out", dir, "--length", "4", "--hidden", "8", "--epochs", "2",
            "--batches-per-epoch", "5", "--fixed-epochs", "0", "--test-size", "20"
        ]
        let r = try Self.moduli(args)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("adding: testMSE ") && r.out.contains("trivialMSE 0.16667") && r.out.contains(dir), "\(r.out)")
        for name in ["config.json", "metrics.jsonl", "summary.json", "model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name))
        }
        // A second run into the same directory must not clobber it.
        let again = try Self.moduli(args)
        #expect(again.status != 0)
        #expect(again.err.contains("--overwrite"), "\(again.err)")
    }

    /// A tiny adding run with `environment` changed (nil removes a variable); returns the
    /// `blasKernels` its summary.json records.
    static func blasKernelsOfATinyRun(_ environment: [String: String?]) throws -> String? {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let p = Process()
        p.executableURL = executable
        p.arguments = [
            "train", "adding", "--out", dir, "--length", "4", "--hidden", "8", "--epochs", "1",
            "--batches-per-epoch", "2", "--fixed-epochs", "0", "--test-size", "20", "--quiet"
        ]
        p.environment = env
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return object?["blasKernels"] as? String
    }

    /// OPENBLAS_CORETYPE set by the user is kept; without it, a CPU with AVX2 and FMA never runs
    /// OpenBLAS's generic Prescott kernels (the tool re-executes itself with better ones when
    /// OpenBLAS does not recognise the CPU).
    @Test func openBLASKernelsFitTheCPU() throws {
        #expect(try Self.blasKernelsOfATinyRun(["OPENBLAS_CORETYPE": "Prescott"]) == "Prescott")
        let chosen = try Self.blasKernelsOfATinyRun(["OPENBLAS_CORETYPE": nil])
        #expect(chosen != nil)
        let flags =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))
            .map { $0.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? [] }
            ?? []
        if flags.contains("avx2") && flags.contains("fma") {
            #expect(chosen != "Prescott", "an AVX2 CPU ran the generic kernels")
        }
    }

    /// Metric lines of `moduli evaluate`: name -> value.
    static func evaluatedMetrics(_ output: String) -> [String: Double] {
        var metrics: [String: Double] = [:]
        for line in output.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let v = Double(fields[1]) { metrics[String(fields[0])] = v }
        }
        return metrics
    }

    /// The differences `moduli evaluate` prints beside each metric summary.json records ("difference
    /// D": the evaluated value minus the saved one, computed before either is rounded for printing).
    static func evaluatedDifferences(_ output: String) -> [String: Double] {
        var differences: [String: Double] = [:]
        for line in output.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let name = fields.first, let k = fields.firstIndex(of: "difference"), k + 1 < fields.count else { continue }
            if let d = Double(fields[k + 1].trimmingCharacters(in: CharacterSet(charactersIn: "),"))) {
                differences[String(name)] = d
            }
        }
        return differences
    }

    /// `moduli evaluate` gives back summary.json's metrics from the saved model, dense and with the
    /// sparse kernels; a directory without a model is an error that names the file.
    @Test func evaluateReproducesTheSummaryDenseAndSparse() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try Self.moduli([
            "train", "navigation", "--out", dir, "--hidden", "12", "--place-cells", "16",
            "--batch-size", "4", "--length", "5", "--epochs", "3", "--batches-per-epoch", "4",
            "--evaluation-batches", "1", "--evaluation-batch-size", "8",
            "--target-sparsity", "0.8", "--moduli", "torus", "--quiet"
        ])
        #expect(train.status == 0, "\(train.err)")
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any]
        let saved = try #require(summary?["decodingErrorCM"] as? Double)
        let savedLoss = try #require(summary?["testLoss"] as? Double)
        for variant in [[], ["--sparse"], ["--reorder"], ["--sparse", "--format", "block", "--reorder"]] {
            let r = try Self.moduli(["evaluate", dir] + variant)
            #expect(r.status == 0, "\(r.err)")
            let metrics = Self.evaluatedMetrics(r.out)
            let value = try #require(metrics["decodingErrorCM"], "\(r.out)")
            #expect(abs(value - saved) <= 1e-4 * max(1, abs(saved)), "\(variant): \(value) against \(saved)")
            let loss = try #require(metrics["testLoss"], "\(r.out)")
            #expect(abs(loss - savedLoss) <= 1e-5 * abs(savedLoss), "\(variant): test loss \(loss) against \(savedLoss)")
        }
        // Exported files: sparse, sparse in manifold order, dense; each evaluates to the same metrics.
        for (flags, name) in [([String](), "sparse"), (["--reorder"], "reordered"), (["--dense", "--reorder"], "dense")] {
            let file = dir + "/\(name).safetensors"
            let export = try Self.moduli(["export", dir, "--out", file] + flags)
            #expect(export.status == 0, "\(export.err)")
            let r = try Self.moduli(["evaluate", dir, "--model", file, "--sparse"])
            #expect(r.status == 0, "\(r.err)")
            let loss = try #require(Self.evaluatedMetrics(r.out)["testLoss"], "\(r.out)")
            #expect(abs(loss - savedLoss) <= 1e-5 * abs(savedLoss), "\(name): test loss \(loss) against \(savedLoss)")
        }
        let again = try Self.moduli(["export", dir, "--out", dir + "/sparse.safetensors"])
        #expect(again.status != 0 && again.err.contains("--overwrite"), "\(again.err)")
        var damaged = try Data(contentsOf: URL(fileURLWithPath: dir + "/sparse.safetensors"))
        damaged[damaged.count - 3] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: dir + "/damaged.safetensors"))
        let bad = try Self.moduli(["evaluate", dir, "--model", dir + "/damaged.safetensors"])
        #expect(bad.status != 0 && bad.err.contains("damaged.safetensors") && bad.err.contains("checksum"), "\(bad.err)")

        // An edited config.json asking for an impossible model is refused before anything is allocated.
        let configURL = URL(fileURLWithPath: dir + "/config.json")
        let config = try String(contentsOf: configURL, encoding: .utf8)
        let edited = config.replacingOccurrences(of: "\"hiddenSize\" : 12", with: "\"hiddenSize\" : 65536")
        #expect(edited != config, "config.json has no \"hiddenSize\" : 12")
        try edited.write(to: configURL, atomically: true, encoding: .utf8)
        let huge = try Self.moduli(["evaluate", dir])
        #expect(huge.status != 0 && huge.err.contains("GiB"), "\(huge.err)")
        try config.write(to: configURL, atomically: true, encoding: .utf8)

        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        let missing = try Self.moduli(["evaluate", dir])
        #expect(missing.status != 0)
        #expect(missing.err.contains("model.safetensors"), "\(missing.err)")
        try Data("{\"task\": \"navigation\"}".utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let corrupt = try Self.moduli(["evaluate", dir])
        #expect(corrupt.status != 0 && corrupt.err.contains("corrupt"), "\(corrupt.err)")
    }

    @Test func aRunsConfigFileRunsTheSameRunAgain() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Self.moduli([
            "train", "adding", "--out", dir + "/a", "--length", "4", "--hidden", "8", "--epochs", "2",
            "--batches-per-epoch", "5", "--fixed-epochs", "0", "--test-size", "20", "--quiet"
        ])
        #expect(first.status == 0, "\(first.err)")
        let second = try Self.moduli(["train", "--config", dir + "/a/config.json", "--out", dir + "/b", "--quiet"])
        #expect(second.status == 0, "\(second.err)")
        #expect(second.out.hasPrefix("adding: testMSE "), "\(second.out)")
        // Both runs side by side.
        let table = try Self.moduli(["compare", dir + "/a", dir + "/b"])
        #expect(table.status == 0, "\(table.err)")
        let testRow = table.out.split(separator: "\n").first { $0.hasPrefix("testMSE ") }.map(String.init) ?? ""
        let values = testRow.split(separator: " ").dropFirst()
        #expect(values.count == 2 && values.first == values.last, "\(table.out)")
        let missing = try Self.moduli(["compare", dir + "/a", dir + "/nothing"])
        #expect(missing.status != 0 && missing.err.contains(dir + "/nothing"), "\(missing.err)")
        let a = withoutWallTimes(try String(contentsOfFile: dir + "/a/metrics.jsonl", encoding: .utf8))
        let b = withoutWallTimes(try String(contentsOfFile: dir + "/b/metrics.jsonl", encoding: .utf8))
        #expect(a == b)
    }
}
