// The adding problem end to end: data laws, learning on a small run, exact resume, run records.
import Foundation
import Formats
import Testing
import _TestSupport
import Linalg
import NN
@testable import Experiments

@Suite struct AddingExperimentTests {
    /// A configuration small enough for a debug build.
    static func smallConfig() -> AddingConfig {
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 16; c.batchSize = 16; c.optimizer.learningRate = 3e-3
        c.epochs = 6; c.stepsPerEpoch = 150; c.fixedEpochs = 0; c.testSize = 400; c.logEvery = 50
        return c
    }

    /// Trains (or resumes) `config` in `path` on the shared trainer.
    static func train(
        _ config: AddingConfig, _ path: String, resume: Bool = false, overwrite: Bool = false,
        stopAfterEpochs: Int? = nil
    ) throws -> RunSummary? {
        let run = try RunDirectory(path: path, overwrite: overwrite, resume: resume)
        return try Trainer<AddingTask>(config: config).train(in: run, resume: resume, stopAfterEpochs: stopAfterEpochs)
    }

    @Test func batchesHaveTwoMarkersAndTheirSum() {
        var rng = SeededGenerator(seed: 5)
        let (t, b) = (9, 64)
        let batch = AddingProblem.batch(length: t, batch: b, rng: &rng)
        for s in 0..<b {
            var marked: [Float] = []
            for step in 0..<t {
                let v = batch.inputs[step * b + s, 0], m = batch.inputs[step * b + s, 1]
                #expect(v >= 0 && v < 1)
                #expect(m == 0 || m == 1)
                if m == 1 { marked.append(v) }
            }
            #expect(marked.count == 2, "sample \(s) seed 5")
            #expect(batch.targets[s, 0] == marked[0] + marked[1])
        }
    }

    @Test func predictingOneGivesTheTrivialMSE() {
        var rng = SeededGenerator(seed: 6)
        let batch = AddingProblem.batch(length: 5, batch: 100_000, rng: &rng)
        let mse = batch.targets.scalars.reduce(0.0) { $0 + Double(($1 - 1) * ($1 - 1)) } / 100_000
        #expect(abs(mse - AddingProblem.trivialMSE) < 0.003)
    }

    @Test func smallRunLearnsAndWritesItsRecords() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try #require(try Self.train(Self.smallConfig(), path))
        let run = try RunDirectory(path: path, overwrite: false, resume: true)
        let mse = try #require(summary["testMSE"])
        #expect(mse < 0.25 * AddingProblem.trivialMSE, "test MSE \(mse), seed 0")
        // The validation set is another draw of the same distribution: the model does as well there.
        let valid = try #require(summary["validMSE"])
        #expect(valid < 0.25 * AddingProblem.trivialMSE && valid != mse, "validation MSE \(valid), test MSE \(mse), seed 0")
        #expect(summary.baselines["trivialMSE"] == AddingProblem.trivialMSE)
        #expect(summary.steps == 900)
        for name in ["config.json", "metrics.jsonl", "summary.json", "model.safetensors", "checkpoint.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: run.file(name).path), "\(name) missing")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
        let config = try run.readJSON(AddingConfig.self, from: "config.json")
        #expect(config == Self.smallConfig())
        let lines = try String(contentsOf: run.file("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 18 + 6)  // a train line every 50 steps, an eval line per epoch
        // The saved model loads back and reproduces the summary's test MSE.
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: run.file("model.safetensors")))
        #expect(
            Set(tensors.map(\.name)) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.weight", "fc.bias"]
        )
    }

    @Test func resumingGivesTheSameRunAsNotStopping() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        var config = Self.smallConfig()
        config.epochs = 3
        let a = try #require(try Self.train(config, straight))
        let stopped = try Self.train(config, split, stopAfterEpochs: 1)
        #expect(stopped == nil)
        let b = try #require(try Self.train(config, split, resume: true))
        #expect(a.metrics == b.metrics)
        #expect(a.trainLoss == b.trainLoss)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb, "resumed weights differ from an uninterrupted run")
        let la = withoutWallTimes(try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8))
        let lb = withoutWallTimes(try String(contentsOfFile: split + "/metrics.jsonl", encoding: .utf8))
        #expect(la == lb)
    }

    @Test func resumingWithAnotherConfigurationIsRefused() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = Self.smallConfig()
        config.epochs = 2
        _ = try Self.train(config, path, stopAfterEpochs: 1)
        config.optimizer.learningRate = 1
        #expect(throws: ExperimentError.self) { try Self.train(config, path, resume: true) }
    }

    @Test func runDirectoryRefusesToClobberOrWriteIntoAFile() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let run = try RunDirectory(path: path, overwrite: false, resume: false)
            try run.writeJSON(Self.smallConfig(), to: "config.json")
        }  // the run's lock is released here
        #expect(throws: ExperimentError.self) { try RunDirectory(path: path, overwrite: false, resume: false) }
        do { _ = try RunDirectory(path: path, overwrite: true, resume: false) }
        #expect(!FileManager.default.fileExists(atPath: path + "/config.json"))
        let file = path + "/plain-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        #expect(throws: ExperimentError.self) { try RunDirectory(path: file, overwrite: false, resume: false) }
        #expect(throws: ExperimentError.self) { try RunDirectory(path: file + "/below", overwrite: false, resume: false) }
    }

    @Test func invalidConfigurationsNameTheOption() {
        var c = Self.smallConfig()
        c.hiddenSize = 0
        #expect { try Trainer<AddingTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description == "options.hiddenSize [--hidden] must be between 1 and 65536, got 0."
        }
        c = Self.smallConfig(); c.length = 1
        #expect { try Trainer<AddingTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.hasPrefix("options.length [--length] must") == true
        }
        c = Self.smallConfig(); c.optimizer.learningRate = -1
        #expect { try Trainer<AddingTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.hasPrefix("training.optimizer.learningRate [--lr] must be a positive number") == true
        }
    }
}
