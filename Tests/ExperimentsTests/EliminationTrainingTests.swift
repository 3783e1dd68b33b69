// Neuron elimination during training on the shared trainer: an event folds a unit built as an
// exact multiple of another with the outputs unchanged; an annealed adding run ends with fewer units
// (read from the weights themselves) and finite loss; a resumed run equals an uninterrupted one;
// models it cannot work on are refused with the flag named; old configurations read without it.
import Foundation
import Testing
import _TestSupport
import Linalg
import NN
@testable import Experiments

@Suite struct EliminationTrainingTests {
    /// A small ReLU adding configuration (H = 8).
    static func adding() -> AddingConfig {
        var c = AddingConfig()
        c.length = 6; c.hiddenSize = 8; c.batchSize = 16; c.optimizer.learningRate = 3e-3
        c.epochs = 3; c.stepsPerEpoch = 10; c.fixedEpochs = 0; c.testSize = 50; c.logEvery = 5
        return c
    }

    /// The elimination lines of the metrics.jsonl at `path`.
    static func events(_ path: String) throws -> [EliminationRecord] {
        try MetricsLine.parseAll(String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8)).compactMap {
            if case .eliminate(let e) = $0 { return e } else { return nil }
        }
    }

    @Test func anEventFoldsAnExactMultipleWithTheOutputsUnchanged() throws {
        var c = Self.adding()
        c.elimination = EliminationConfig(tolerance: 1e-4, startTolerance: 1e-4, everySteps: 1)
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var loop = try TrainingLoop(
            trainer: Trainer<AddingTask>(config: c), run: RunDirectory(path: path, overwrite: false, resume: false),
            resume: false, showProgress: false)
        let store = loop.session.store
        // Unit 1's incoming weights and biases are twice unit 0's: with ReLU and h0 = 0, a_1 = 2 a_0 at every step.
        for name in ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"] {
            let slot = try #require(store.slot(named: name), "\(name)")
            let info = store.info(slot), v = store.value(slot)
            let columns = info.shape.count == 2 ? info.columns : 1
            for k in 0..<columns { v[columns + k] = 2 * v[k] }
            store.valuesDidChange(slot)
        }
        let before = try loop.task.evaluate(loop.session.model, store)["testMSE"]!
        let statesBefore = try #require(loop.task.hiddenStates(loop.session.model, store, maximumRows: 10_000, inputs: .validation))
        loop.state.step = 1
        try loop.eliminateUnits()
        let after = try loop.task.evaluate(loop.session.model, store)["testMSE"]!
        #expect(abs(after - before) <= 1e-5 * before, "testMSE \(before) became \(after)")

        // Units silent on every validation sequence (ReLU units that never fire) go too: their residual is 0.
        let silent = Set((2..<8).filter { j in (0..<statesBefore.rows).allSatisfy { statesBefore[$0, j] == 0 } })
        let events = try Self.events(path)
        try #require(events.count == 1)
        let removed = Set(events[0].eliminatedUnits + events[0].deadUnits)
        let pair = removed.intersection([0, 1])
        #expect(pair.count == 1 && removed.subtracting(pair) == silent, "removed \(removed), expected one of units 0 and 1 and \(silent)")
        #expect(events[0].keptUnits == 8 - removed.count && loop.keptUnits() == 8 - removed.count)
        #expect(events[0].tolerance == 1e-4)
        // The kept units compute what they computed before (the removed ones are now 0).
        let statesAfter = try #require(loop.task.hiddenStates(loop.session.model, store, maximumRows: 10_000, inputs: .validation))
        for r in 0..<statesBefore.rows {
            for j in 0..<8 {
                if removed.contains(j) {
                    #expect(statesAfter[r, j] == 0)
                } else {
                    #expect(abs(statesAfter[r, j] - statesBefore[r, j]) <= 1e-5 * max(1, abs(statesBefore[r, j])))
                }
            }
        }
        // The removed units' whole groups are zero, values and masks.
        let axes = loop.session.roles.hiddenUnitAxes
        let live = GroupEnvelopeTrainingTests.liveUnits(store, axes: axes, hidden: 8)
        #expect(live == Set(0..<8).subtracting(removed))
        for axis in axes {
            let info = store.info(axis.slot)
            #expect(store.isMasked[axis.slot.index], "\(info.name) has no mask in force")
            for r in 0..<info.rows {
                for col in 0..<info.columns where removed.contains((axis.dimension == 0 ? r : col) % 8) {
                    #expect(store.mask(axis.slot)[r * info.columns + col] == 0)
                }
            }
        }
    }

    @Test func anAnnealedAddingRunEndsWithFewerUnits() throws {
        var c = Self.adding()
        c.pruning.targetSparsity = 0.3
        c.elimination = EliminationConfig(tolerance: 0.5, startTolerance: 0.1, everySteps: 10)
        let (summary, store, axes) = try GroupEnvelopeTrainingTests.train(AddingTask.self, c)
        let kept = try #require(summary.keptUnits)
        #expect(kept < 8, "no unit was removed")
        #expect(GroupEnvelopeTrainingTests.liveUnits(store, axes: axes, hidden: 8).count == kept)
        #expect(GroupEnvelopeTrainingTests.masksRespected(store), "a removed or pruned entry is not zero")
        #expect(try #require(summary["testMSE"]).isFinite)
        #expect(summary.trainLoss.isFinite)
    }

    /// With the group envelope: an eliminated unit has norm 0 for the envelope, and the run ends
    /// with at most its k units.
    @Test func itCombinesWithTheGroupEnvelope() throws {
        var c = Self.adding()
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 4, lambda: 10)
        c.elimination = EliminationConfig(tolerance: 0.3, everySteps: 10)
        let (summary, store, axes) = try GroupEnvelopeTrainingTests.train(AddingTask.self, c)
        let kept = try #require(summary.keptUnits)
        #expect(kept >= 1 && kept <= 4)
        #expect(GroupEnvelopeTrainingTests.liveUnits(store, axes: axes, hidden: 8).count == kept)
        #expect(GroupEnvelopeTrainingTests.masksRespected(store))
        #expect(try #require(summary["testMSE"]).isFinite)
    }

    @Test func theScheduleIsLinearFromTheStartToTheFinalTolerance() throws {
        var t = Self.adding().training
        t.elimination = EliminationConfig(tolerance: 0.4, startTolerance: 0.1, everySteps: 10)
        let tolerances = (1...30).compactMap { t.eliminationTolerance(afterStep: $0) }
        #expect(tolerances.count == 3)
        #expect(zip(tolerances, [0.1, 0.25, 0.4]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(tolerances)")
        #expect(t.eliminationTolerance(afterStep: 5) == nil && t.eliminationTolerance(afterStep: 0) == nil)
        // Default: after every main epoch, none in the fixed epochs.
        t.elimination = EliminationConfig(tolerance: 0.2)
        t.fixedEpochs = 2
        #expect((1...t.phaseSteps).filter { t.eliminationTolerance(afterStep: $0) != nil } == [10, 20, 30])
        #expect(t.eliminationTolerance(afterStep: 30) == 0.2 && t.eliminationTolerance(afterStep: 10) == 0)
    }

    /// A run stopped after its first epoch (after one event) and resumed writes the same model bytes
    /// as an uninterrupted one.
    @Test func aResumedRunEqualsAnUninterruptedOne() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer {
            try? FileManager.default.removeItem(atPath: straight)
            try? FileManager.default.removeItem(atPath: split)
        }
        var c = Self.adding()
        c.batchSize = 8; c.testSize = 20
        c.elimination = EliminationConfig(tolerance: 0.5, startTolerance: 0.2, everySteps: 5)
        func train(_ path: String, resume: Bool = false, stop: Int? = nil) throws -> RunSummary? {
            try Trainer<AddingTask>(config: c).train(
                in: RunDirectory(path: path, overwrite: false, resume: resume), resume: resume, stopAfterEpochs: stop)
        }
        let a = try #require(try train(straight))
        #expect(try train(split, stop: 1) == nil)
        let b = try #require(try train(split, resume: true))
        #expect(a.metrics == b.metrics && a.keptUnits == b.keptUnits)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb, "resumed weights differ from an uninterrupted run")
        #expect(try Self.events(straight) == Self.events(split))
    }

    @Test func badSettingsAreRefusedWithTheFlag() throws {
        var c = Self.adding()
        for (elimination, says) in [
            (EliminationConfig(tolerance: 1), "[--eliminate-tolerance] must be a relative residual in [0, 1), got 1.0"),
            (EliminationConfig(tolerance: -0.1), "[--eliminate-tolerance] must be a relative residual in [0, 1)"),
            (EliminationConfig(tolerance: .nan), "[--eliminate-tolerance] must be a relative residual in [0, 1)"),
            (EliminationConfig(tolerance: 0.1, startTolerance: 0.2), "[--eliminate-start-tolerance] must be between 0 and"),
            (EliminationConfig(tolerance: 0.1, everySteps: 0), "[--eliminate-every] must be at least 1"),
            (EliminationConfig(tolerance: 0.1, everySteps: 31), "[--eliminate-every] 31 is longer than the main epochs (30 steps)"),
            (EliminationConfig(tolerance: 0.1, rows: 1), "[--eliminate-rows] must be between 2")
        ] {
            c.elimination = elimination
            #expect {
                try Trainer<AddingTask>.validate(c)
            } throws: {
                (($0 as? ExperimentError)?.description ?? "").contains(says)
            }
        }
        c.elimination = EliminationConfig(tolerance: 0.1)
        c.layers = 2
        #expect {
            try Trainer<AddingTask>.validate(c)
        } throws: {
            let text = ($0 as? ExperimentError)?.description ?? ""
            return text.contains("--eliminate-tolerance") && text.contains("--layers") && text.contains("one-layer")
        }
        var tied = LanguageTaskTests.tinyConfig(data: try LanguageTaskTests.tinyCorpus())
        tied.tied = true; tied.embeddingSize = tied.hiddenSize
        tied.elimination = EliminationConfig(tolerance: 0.1)
        #expect {
            try Trainer<LanguageTask>.validate(tied)
        } throws: {
            let text = ($0 as? ExperimentError)?.description ?? ""
            return text.contains("--eliminate-tolerance") && text.contains("--tied")
        }
    }

    @Test func theOptionsSetTheSectionAndOldConfigsReadWithoutIt() throws {
        let resolved = try TaskOptions<AddingTask>.resolve([
            "--eliminate-every", "5", "--eliminate-tolerance", "0.2", "--eliminate-start-tolerance", "0.05", "--eliminate-rows", "100"
        ]).config
        #expect(resolved.training.elimination == EliminationConfig(tolerance: 0.2, startTolerance: 0.05, everySteps: 5, rows: 100))
        #expect(throws: OptionError.self) { try TaskOptions<AddingTask>.resolve(["--eliminate-every", "5"]) }
        #expect(throws: OptionError.self) { try TaskOptions<AddingTask>.resolve(["--eliminate-tolerance", "x"]) }
        #expect(try TaskOptions<AddingTask>.resolve([]).config.training.elimination == nil)
        let plain = try JSONEncoder().encode(AddingTask.commandLine.defaults.training)
        #expect(!String(decoding: plain, as: UTF8.self).contains("elimination"))
        #expect(try JSONDecoder().decode(TrainingConfig.self, from: plain).elimination == nil)
        let section = try JSONDecoder().decode(EliminationConfig.self, from: Data(#"{"tolerance": 0.3}"#.utf8))
        #expect(section == EliminationConfig(tolerance: 0.3, startTolerance: 0, everySteps: nil, rows: EliminationConfig.defaultRows))
    }
}
