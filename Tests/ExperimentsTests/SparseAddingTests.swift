// The adding problem with the paper's method: pruning to the exact target, learned positions
// saved, lottery tickets, and exact resume across phases.
import Foundation
import Formats
import Testing
import _TestSupport
import Linalg
import NN
import Sparsity
@testable import Experiments

@Suite struct SparseAddingTests {
    static func sparseConfig(lottery: LotteryMode = .none) -> AddingConfig {
        var c = AddingExperimentTests.smallConfig()
        c.regularizer = RegularizerConfig(space: "torus", inhibitor: .invertedDoG, lambda: 1e-3, learnEmbedding: true)
        c.pruning.targetSparsity = 0.9
        c.fixedEpochs = 2
        c.lottery = lottery
        return c
    }

    @Test func prunesToTheTargetAndSavesLearnedPositions() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try #require(try AddingExperimentTests.train(Self.sparseConfig(), path))
        let run = try RunDirectory(path: path, overwrite: false, resume: true)
        let pooled = summary.main.sparsity.pooled
        #expect(pooled.pruned == Int((0.9 * Double(pooled.count)).rounded()), "pooled \(pooled)")
        let mse = try #require(summary["testMSE"])
        #expect(mse < 0.5 * AddingProblem.trivialMSE, "test MSE \(mse) at 90% sparsity, seed 0")
        // Sparsity trajectory: one prune line per epoch 1 ... epochs-1, increasing to the target.
        let lines = try String(contentsOf: run.file("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let prunes = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["kind"] as? String == "prune" }
            .compactMap { ($0["event"] as? [String: Any])?["achieved"] as? Double }
        #expect(prunes.count == 5)
        #expect(prunes == prunes.sorted())
        // Positions: saved as drawn and as learned; they moved, and stayed on the torus [0, 10)^2.
        let initial = try NPYFile.read(from: run.file("initial_positions.npy"))
        let final = try NPYFile.read(from: run.file("positions.npy"))
        #expect(initial.rows == 16 && initial.columns == 2)
        #expect(final.rows == 16 && final.columns == 2)
        #expect(initial != final)
        #expect(final.scalars.allSatisfy { $0 >= 0 && $0 < 10 })
        let stats = try run.readJSON(RegularizerStatistics.self, from: "regularizer.json")
        #expect(stats.minimum == 0 && stats.maximum > 80)
    }

    @Test func lotteryTicketRetrainsUnderTheFinalMasks() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = Self.sparseConfig(lottery: .rewind)
        let summary = try #require(try AddingExperimentTests.train(config, path))
        let run = try RunDirectory(path: path, overwrite: false, resume: true)
        let lottery = try #require(summary.lottery)
        #expect(lottery.sparsity.pooled.pruned == summary.main.sparsity.pooled.pruned)
        #expect(summary.steps == 2 * config.phaseSteps)
        // The final model has exactly as many zeros in the pruned tensors as the mask says.
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: run.file("model.safetensors")))
        let pruned = tensors.filter { ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight"].contains($0.name) }
            .reduce(0) { $0 + $1.scalars.filter { $0 == 0 }.count }
        #expect(pruned >= lottery.sparsity.pooled.pruned)
    }

    @Test func resumingAcrossPhasesGivesTheSameRun() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        var config = Self.sparseConfig(lottery: .random)
        config.epochs = 3; config.fixedEpochs = 1; config.stepsPerEpoch = 40
        let a = try #require(try AddingExperimentTests.train(config, straight))
        // Stop inside the main phase, then at its end, then inside the lottery phase.
        for stop in [2, 4, 6] {
            let resume = stop != 2
            let r = try AddingExperimentTests.train(config, split, resume: resume, stopAfterEpochs: stop)
            #expect(r == nil)
        }
        let b = try #require(try AddingExperimentTests.train(config, split, resume: true))
        #expect(a.metrics == b.metrics && a.main.metrics == b.main.metrics)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb, "resumed weights differ from an uninterrupted run")
        let la = withoutWallTimes(try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8)).split(separator: "\n")
        let lb = withoutWallTimes(try String(contentsOfFile: split + "/metrics.jsonl", encoding: .utf8)).split(separator: "\n")
        #expect(la.count == lb.count)
        if let i = la.indices.first(where: { $0 < lb.count && la[$0] != lb[$0] }) {
            Issue.record("metrics.jsonl line \(i + 1) differs:\n\(la[i])\n\(lb[i])")
        }
    }

    @Test func contradictoryMethodOptionsAreRefused() {
        var c = AddingExperimentTests.smallConfig()
        c.lottery = .random
        #expect { try Trainer<AddingTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.contains("--target-sparsity") == true
        }
        c = AddingExperimentTests.smallConfig()
        c.regularizer = RegularizerConfig(space: "donut", lambda: 1e-3)
        #expect { try Trainer<AddingTask>.validate(c) } throws: { ($0 as? ExperimentError)?.description.contains("donut") == true }
        c = AddingExperimentTests.smallConfig()
        c.regularizer = RegularizerConfig(space: "standard", inhibitor: .constant, invert: true, lambda: 1e-3)
        #expect(throws: ExperimentError.self) { try Trainer<AddingTask>.validate(c) }
    }
}
