// `--sparse-from S` with `--recurrent-kernels sparse`: a pruned weight runs the dense GEMMs until a
// pruning event leaves at least S of it pruned, then the sparse kernels. Oracles: the runs with
// dense and with sparse kernels throughout, byte for byte, and the training-loss lines before the
// switch.
import Foundation
import Testing
import _TestSupport
import Linalg
import NN
@testable import Experiments

@Suite struct SparseFromTests {
    /// A tiny navigation run with each pruned tensor pruned to 90% in two events (45% before epoch
    /// 2, 90% before epoch 3, to the nearest entry).
    static func config(_ kernels: RecurrentKernels, sparseFrom: Double? = nil) -> NavigationConfig {
        var c = ThreadCountTests.config(kernels: kernels, threads: 1)
        c.lottery = .none
        c.pruning.tensorTargets = [0.9, 0.9, 0.9, 0.9]
        c.sparseFrom = sparseFrom
        return c
    }

    /// The model file and the metrics lines of a run of `config`.
    static func run(_ config: NavigationConfig) throws -> (model: Data, metrics: [String]) {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try #require(try NavigationTaskTests.train(config, path))
        #expect(summary.main.sparsity.pooled.sparsity > 0.89)
        let model = try Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors"))
        let metrics = try String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        return (model, metrics)
    }

    /// The training-loss lines (`"kind":"train"`) of steps up to `step`.
    static func trainLines(_ lines: [String], through step: Int) throws -> [String] {
        try lines.filter { line in
            guard line.contains(#""kind":"train""#) else { return false }
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(json["step"] as? Int) <= step
        }
    }

    @Test func theRuleSwitchesAtTheGivenSparsity() throws {
        let dense = try Self.run(Self.config(.dense)), sparse = try Self.run(Self.config(.sparse))
        // The oracles differ, or nothing below could tell the kernels apart.
        try #require(dense.model != sparse.model, "dense and sparse kernels give the same bytes on this run")

        // Above the final sparsity no weight ever goes sparse: the dense run's bytes.
        #expect(try Self.run(Self.config(.sparse, sparseFrom: 0.95)).model == dense.model)
        #expect(try Self.run(Self.config(.sparse, sparseFrom: 1)).model == dense.model)
        // 0 is the default: sparse from the first pruning event.
        #expect(try Self.run(Self.config(.sparse, sparseFrom: 0)).model == sparse.model)

        // 0.5: dense through epoch 2 (45% pruned), sparse from the 90% event before epoch 3.
        let switched = try Self.run(Self.config(.sparse, sparseFrom: 0.5))
        let before = try Self.trainLines(dense.metrics, through: 20)
        #expect(before.count == 4)
        #expect(try Self.trainLines(switched.metrics, through: 20) == before)
        #expect(switched.model != dense.model, "the run never went sparse")
        #expect(switched.model != sparse.model, "the run was sparse from the first event")
    }

    /// Stopped after epoch 1 (before any pruning event) and resumed, a run stays dense at the 45%
    /// event, switches at the 90% one and ends with the uninterrupted run's bytes.
    @Test func aResumedRunSwitchesAtTheSameEvent() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        let config = Self.config(.sparse, sparseFrom: 0.5)
        _ = try #require(try NavigationTaskTests.train(config, straight))
        #expect(try NavigationTaskTests.train(config, split, stopAfterEpochs: 1) == nil)
        _ = try #require(try NavigationTaskTests.train(config, split, resume: true))
        let a = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(a == b)
    }

    /// A weight pruned to exactly S is sparse under `--sparse-from S`, although 1 - 0.8 rounds
    /// below 0.2; one entry fewer pruned keeps it dense.
    @Test func exactlySIsSparse() {
        var rng = SeededGenerator(seed: 841)
        let store = ParameterStore<Float>()
        let layer = Linear(inputSize: 10, outputSize: 10, name: "decoder", in: store, rng: &rng)
        let m = store.mask(layer.weight)
        for j in 0..<79 { m[j] = 0 }
        store.enableMask(layer.weight)
        store.applyMask(layer.weight)
        var c = Self.config(.sparse, sparseFrom: 0.8)
        func product() -> SparseWeightProduct {
            SparseWeightProduct(weight: layer.weight, outputs: 10, inputs: 10, denseAboveDensity: c.training.sparseKernelsDenseAbove)
        }
        #expect(product().runsDense(in: store), "79% pruned")
        m[79] = 0
        store.applyMask(layer.weight)
        #expect(!product().runsDense(in: store), "80% pruned")
        c.sparseFrom = 0.81
        #expect(product().runsDense(in: store), "80% pruned, S 0.81")
    }

    @Test func theOptionIsCheckedAndRecorded() throws {
        for kernels in [nil, RecurrentKernels.auto, .dense] {
            var c = Self.config(.sparse, sparseFrom: 0.8)
            c.recurrentKernels = kernels
            #expect { try Trainer<NavigationTask>.validate(c) } throws: {
                let text = ($0 as? ExperimentError)?.description ?? ""
                return text.contains("--sparse-from") && text.contains("--recurrent-kernels sparse")
            }
        }
        for bad in [-0.1, 1.5, Double.nan] {
            #expect { try Trainer<NavigationTask>.validate(Self.config(.sparse, sparseFrom: bad)) } throws: {
                ($0 as? ExperimentError)?.description.contains("--sparse-from") == true
            }
        }
        try Trainer<NavigationTask>.validate(Self.config(.sparse, sparseFrom: 0.8))
        let (config, _, _) = try TaskOptions<NavigationTask>.resolve(["--recurrent-kernels", "sparse", "--sparse-from", "0.8"])
        let json = try JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(config))
        #expect(TaskOptionTableTests.value(at: "training.sparseFrom", in: json) as? Double == 0.8)
        // Absent unless given, so config files written without it read and write the same.
        let plain = try JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(TaskOptions<NavigationTask>.resolve([]).config))
        #expect(TaskOptionTableTests.value(at: "training.sparseFrom", in: plain) == nil)
    }
}
