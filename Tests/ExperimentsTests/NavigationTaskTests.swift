// The navigation task on the shared trainer: a tiny run end to end, its records and model names,
// exact resume, presets and option checks.
import Foundation
import Formats
import Testing
import Linalg
import _TestSupport
import NN
@testable import Experiments

@Suite struct NavigationTaskTests {
    static func tinyConfig() -> NavigationConfig {
        var c = NavigationConfig()
        c.placeCells = 24; c.hiddenSize = 16; c.width = 0.3; c.batchSize = 6; c.length = 5
        c.evaluationBatches = 2; c.evaluationBatchSize = 8
        c.epochs = 3; c.stepsPerEpoch = 10; c.logEvery = 5
        c.optimizer.learningRate = 3e-3
        return c
    }

    static func train(_ c: NavigationConfig, _ path: String, resume: Bool = false, stopAfterEpochs: Int? = nil) throws -> RunSummary? {
        try Trainer<NavigationTask>(config: c).train(
            in: RunDirectory(path: path, overwrite: false, resume: resume),
            resume: resume, stopAfterEpochs: stopAfterEpochs)
    }

    @Test func aTinyRunWritesItsRecordsAndAPyTorchShapedModel() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = Self.tinyConfig()
        config.regularizer = .geometric(space: "torus", lambda: 0.1)
        let summary = try #require(try Self.train(config, path))
        let error = try #require(summary["decodingErrorCM"]), error50 = try #require(summary["decodingErrorCM50"])
        #expect(error.isFinite && error50.isFinite && error > 0 && error < 400, "decoding errors \(error), \(error50)")
        // summary.json holds the validation metrics beside the test ones.
        let valid = try #require(summary["validDecodingErrorCM"]), validLoss = try #require(summary["validLoss"])
        #expect(valid.isFinite && valid > 0 && valid < 400 && valid != error && validLoss.isFinite, "validation \(valid), \(validLoss)")
        let centre = try #require(summary.baselines["centreGuessCM"])
        #expect(centre > 40 && centre < 120, "guessing the centre: \(centre) cm")
        #expect(summary.main.sparsity.pooled.sparsity > 0.899 && summary.main.sparsity.pooled.sparsity < 0.901)
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors")))
        #expect(
            Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.shape) })
                == ["encoder.weight": [16, 24], "rnn.weight_ih_l0": [16, 2], "rnn.weight_hh_l0": [16, 16], "decoder.weight": [24, 16]])
        let lines = try MetricsLine.parseAll(String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8))
        #expect(lines.filter { if case .prune = $0 { true } else { false } }.count == 2)
        #expect(lines.filter { if case .eval = $0 { true } else { false } }.count == 3)
    }

    @Test func resumingGivesTheSameRunAsNotStopping() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        var config = Self.tinyConfig()
        config.lottery = .random
        let a = try #require(try Self.train(config, straight))
        #expect(try Self.train(config, split, stopAfterEpochs: 2) == nil)
        #expect(try Self.train(config, split, resume: true, stopAfterEpochs: 4) == nil)
        let b = try #require(try Self.train(config, split, resume: true))
        #expect(a.metrics == b.metrics && a.main.metrics == b.main.metrics)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb)
        #expect(
            withoutWallTimes(try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8))
                == withoutWallTimes(try String(contentsOfFile: split + "/metrics.jsonl", encoding: .utf8)))
    }

    @Test func presetsAndOptionChecks() throws {
        let paper = NavigationPreset.paper.config
        #expect(paper.hiddenSize == 4096 && paper.placeCells == 512 && paper.width == 0.12 && paper.batchSize == 200 && paper.length == 50)
        #expect(paper.optimizer == OptimizerConfig(kind: .adamw, learningRate: 1e-4, weightDecay: 0.01))
        #expect(paper.epochs == 30 && paper.stepsPerEpoch == 1000 && paper.pruning.targetSparsity == 0.9)
        let small = NavigationPreset.small.config
        #expect(small.hiddenSize == 256 && small.batchSize == 50 && small.length == 20 && small.width == 0.2)
        try Trainer<NavigationTask>.validate(paper)
        try Trainer<NavigationTask>.validate(small)
        var c = Self.tinyConfig(); c.width = 0
        #expect { try Trainer<NavigationTask>.validate(c) } throws: { ($0 as? ExperimentError)?.description.contains("--width") == true }
        c = Self.tinyConfig(); c.placeCells = 2
        #expect { try Trainer<NavigationTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.contains("--place-cells") == true
        }
        c = Self.tinyConfig(); c.pruning.tensorTargets = [0.5, 0.5]
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { _ = try Self.train(c, path) } throws: {
            ($0 as? ExperimentError)?.description.contains("encoder.weight, rnn.weight_ih_l0, rnn.weight_hh_l0, decoder.weight") == true
        }
    }
}
