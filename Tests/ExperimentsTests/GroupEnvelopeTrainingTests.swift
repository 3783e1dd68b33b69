// The group envelope regularizer on the shared trainer: runs of every task end with exactly k
// non-zero hidden units (read from the weights themselves), with pruning and the moduli penalty on
// at the same time; pruned entries stay zero; bad settings are refused with the flag named.
import Foundation
import Testing
import _TestSupport
import Linalg
import NN
@testable import Experiments

@Suite struct GroupEnvelopeTrainingTests {
    /// Trains `config` in a fresh directory and returns the summary and the final parameter store.
    static func train<Task: TrainingTask>(_ task: Task.Type, _ config: RunConfig<Task.Options>) throws -> (
        RunSummary, ParameterStore<Float>, [HiddenUnitAxis]
    ) {
        let (summary, store, axes, _) = try trainRecording(task, config)
        return (summary, store, axes)
    }

    /// `train`, with the run's evaluation lines.
    static func trainRecording<Task: TrainingTask>(_ task: Task.Type, _ config: RunConfig<Task.Options>) throws -> (
        RunSummary, ParameterStore<Float>, [HiddenUnitAxis], [EvalRecord]
    ) {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var loop = try TrainingLoop(
            trainer: Trainer<Task>(config: config), run: RunDirectory(path: path, overwrite: false, resume: false),
            resume: false, showProgress: false)
        let summary = try #require(try loop.run(stopAfterEpochs: nil))
        let evaluations = try MetricsLine.parseAll(String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8)).compactMap {
            if case .eval(let e) = $0 { return e } else { return nil }
        }
        #expect(evaluations.last?.keptUnits == summary.keptUnits, "the last evaluation and the summary disagree")
        return (summary, loop.session.store, loop.session.roles.hiddenUnitAxes, evaluations)
    }

    /// The units that have a non-zero entry on any of their axes, read straight from the tensors.
    static func liveUnits(_ store: ParameterStore<Float>, axes: [HiddenUnitAxis], hidden: Int) -> Set<Int> {
        var live = Set<Int>()
        for axis in axes {
            let info = store.info(axis.slot), v = store.value(axis.slot)
            for r in 0..<info.rows {
                for c in 0..<info.columns where v[r * info.columns + c] != 0 {
                    live.insert((axis.dimension == 0 ? r : c) % hidden)
                }
            }
        }
        return live
    }

    /// Every entry whose mask is 0 is 0.
    static func masksRespected(_ store: ParameterStore<Float>) -> Bool {
        store.slots.allSatisfy { s in
            (0..<store.info(s).count).allSatisfy { store.mask(s)[$0] != 0 || store.value(s)[$0] == 0 }
        }
    }

    @Test func anAddingRunWithPruningEndsWithExactlyKUnits() throws {
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 8; c.batchSize = 16; c.optimizer.learningRate = 3e-3
        c.epochs = 3; c.stepsPerEpoch = 30; c.fixedEpochs = 0; c.testSize = 50; c.logEvery = 10
        c.pruning.targetSparsity = 0.5
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 3, lambda: 20)
        let (summary, store, axes) = try Self.train(AddingTask.self, c)
        #expect(summary.keptUnits == 3)
        #expect(Self.liveUnits(store, axes: axes, hidden: 8).count == 3, "the weights hold other than 3 units")
        #expect(Self.masksRespected(store), "a pruned or removed entry is not zero")
        #expect(summary.main.sparsity.recurrent.sparsity >= 1 - 9.0 / 64, "W_hh keeps more than the 3 x 3 block of the kept units")
        #expect(try #require(summary["testMSE"]).isFinite)
    }

    /// With fixed epochs the selection ends the main epochs, and the fixed epochs train the k units
    /// without the prox: k units at the evaluation after the main epochs and at the end, and the
    /// training loss still moves (the prox at this lambda alone leaves more than k units non-zero).
    @Test func theSelectionEndsTheMainEpochsAndTheFixedEpochsTrainTheKUnits() throws {
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 8; c.batchSize = 16; c.optimizer.learningRate = 3e-3
        c.epochs = 2; c.stepsPerEpoch = 20; c.fixedEpochs = 2; c.testSize = 50; c.logEvery = 10
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 3, lambda: 1e-3)
        let (summary, store, axes, evaluations) = try Self.trainRecording(AddingTask.self, c)
        let byEpoch = Dictionary(evaluations.map { ($0.epoch, $0) }, uniquingKeysWith: { $1 })
        let first = try #require(byEpoch[1]), main = try #require(byEpoch[2]), last = try #require(byEpoch[4])
        #expect(try #require(first.keptUnits) > 3, "the prox alone already left 3 units: the test shows nothing")
        #expect(main.keptUnits == 3 && last.keptUnits == 3 && summary.keptUnits == 3)
        #expect(Self.liveUnits(store, axes: axes, hidden: 8).count == 3)
        #expect(last.trainLoss != main.trainLoss, "the fixed epochs did not train")
    }

    /// The same without the envelope: every unit is counted, and the count is recorded.
    @Test func aRunWithoutTheEnvelopeRecordsItsUnits() throws {
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 8; c.batchSize = 16; c.cell = .lstm
        c.epochs = 1; c.stepsPerEpoch = 10; c.fixedEpochs = 0; c.testSize = 20
        let (summary, _, _) = try Self.train(AddingTask.self, c)
        #expect(summary.keptUnits == 8)
    }

    @Test func aNavigationRunWithTheModuliPenaltyEndsWithExactlyKUnits() throws {
        var c = NavigationConfig()
        c.placeCells = 24; c.hiddenSize = 16; c.width = 0.3; c.batchSize = 6; c.length = 5
        c.evaluationBatches = 2; c.evaluationBatchSize = 8
        c.epochs = 3; c.stepsPerEpoch = 10; c.logEvery = 5
        c.optimizer.learningRate = 3e-3
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 5, lambda: 10)
        let (summary, store, axes) = try Self.train(NavigationTask.self, c)
        #expect(summary.keptUnits == 5)
        #expect(Self.liveUnits(store, axes: axes, hidden: 16).count == 5)
        #expect(Self.masksRespected(store))
        #expect(try #require(summary["decodingErrorCM"]).isFinite)
    }

    @Test func anUntiedLanguageModelEndsWithExactlyKUnits() throws {
        var c = LanguageTaskTests.tinyConfig(data: try LanguageTaskTests.tinyCorpus())
        c.layers = 2
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 2, lambda: 0.5)
        let (summary, store, axes) = try Self.train(LanguageTask.self, c)
        #expect(summary.keptUnits == 2)
        #expect(Self.liveUnits(store, axes: axes, hidden: 8).count == 2)
    }

    /// With a lottery phase: the removed units stay removed (their masks), the lottery phase ends
    /// with k units too, and a run stopped inside the lottery phase and resumed equals an
    /// uninterrupted one (the proximal step keeps no state).
    @Test func aResumedLotteryRunEqualsAnUninterruptedOne() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer {
            try? FileManager.default.removeItem(atPath: straight)
            try? FileManager.default.removeItem(atPath: split)
        }
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 8; c.batchSize = 8; c.optimizer.learningRate = 3e-3
        c.epochs = 2; c.stepsPerEpoch = 10; c.fixedEpochs = 0; c.testSize = 20; c.logEvery = 5
        c.pruning.targetSparsity = 0.3; c.lottery = .random
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 4, lambda: 10)
        func train(_ path: String, resume: Bool = false, stop: Int? = nil) throws -> RunSummary? {
            try Trainer<AddingTask>(config: c).train(
                in: RunDirectory(path: path, overwrite: false, resume: resume), resume: resume, stopAfterEpochs: stop)
        }
        let a = try #require(try train(straight))
        #expect(a.keptUnits == 4 && a.lottery != nil)
        #expect(try train(split, stop: 3) == nil)
        let b = try #require(try train(split, resume: true))
        #expect(a.metrics == b.metrics && a.keptUnits == b.keptUnits)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb, "resumed weights differ from an uninterrupted run")
    }

    @Test func badSettingsAreRefusedWithTheFlag() throws {
        var c = AddingConfig()
        c.hiddenSize = 8
        for (envelope, says) in [
            (GroupEnvelopeConfig(keptUnits: 0), "must be at least 1"),
            (GroupEnvelopeConfig(keptUnits: 9), "more than the model's 8 hidden units"),
            (GroupEnvelopeConfig(keptUnits: 2, lambda: -1), "training.groupEnvelope.lambda [--group-envelope-lambda]"),
            (GroupEnvelopeConfig(keptUnits: 2, weights: [1, 2]), "one weight per hidden unit (8), got 2"),
            (GroupEnvelopeConfig(keptUnits: 2, weights: Array(repeating: 0, count: 8)), "positive")
        ] {
            c.groupEnvelope = envelope
            #expect {
                try Trainer<AddingTask>.validate(c)
            } throws: {
                let text = ($0 as? ExperimentError)?.description ?? ""
                return text.contains(says) && text.contains("--group-envelope")
            }
        }
        var tied = LanguageTaskTests.tinyConfig(data: try LanguageTaskTests.tinyCorpus())
        tied.tied = true; tied.embeddingSize = tied.hiddenSize
        tied.groupEnvelope = GroupEnvelopeConfig(keptUnits: 2)
        #expect {
            try Trainer<LanguageTask>.validate(tied)
        } throws: {
            let text = ($0 as? ExperimentError)?.description ?? ""
            return text.contains("--group-envelope-units") && text.contains("--tied")
        }
    }

    @Test func theOptionsSetTheSectionAndOldConfigsReadWithoutIt() throws {
        let resolved = try TaskOptions<AddingTask>.resolve(["--group-envelope-lambda", "2", "--group-envelope-units", "3"]).config
        #expect(resolved.training.groupEnvelope == GroupEnvelopeConfig(keptUnits: 3, lambda: 2))
        #expect(throws: OptionError.self) { try TaskOptions<AddingTask>.resolve(["--group-envelope-lambda", "2"]) }
        #expect(try TaskOptions<AddingTask>.resolve([]).config.training.groupEnvelope == nil)
        // Without the section, config.json has no key for it, and such a file reads as "off".
        let plain = try JSONEncoder().encode(AddingTask.commandLine.defaults.training)
        #expect(!String(decoding: plain, as: UTF8.self).contains("groupEnvelope"))
        #expect(try JSONDecoder().decode(TrainingConfig.self, from: plain).groupEnvelope == nil)
        let section = try JSONDecoder().decode(GroupEnvelopeConfig.self, from: Data(#"{"keptUnits": 4}"#.utf8))
        #expect(section == GroupEnvelopeConfig(keptUnits: 4, lambda: GroupEnvelopeConfig.defaultLambda, weights: nil))
    }
}
