// The shared trainer with a task defined here, outside the library: optimizers, learning-rate
// schedules, pruning cadence, run records, resume after a kill, and checks of checkpoint state.
import Compute
import Foundation
import Formats
import Testing
import Geometry
import Linalg
import _TestSupport
import NN
import Sparsity
@testable import Experiments

/// y = 3 x + 1 with noise-free fresh samples, learned by one Linear layer; `evaluation` fixes the metric.
struct LineTask: TrainingTask {
    struct Options: Codable, Sendable, Equatable {
        var batch = 16
        /// When set, `evaluate` reports this constant instead of the test error.
        var constantMetric: Double?
    }
    struct Stream: TaskStream { var rng: SeededGenerator }
    static let name = "line"
    static let primaryMetric = "testError"
    static let defaultLambda = 0.0
    static var defaultTraining: TrainingConfig {
        var t = TrainingConfig(epochs: 4, stepsPerEpoch: 25, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.1, momentum: 0.5))
        t.logEvery = 5
        return t
    }
    static var commandLine: TaskCommandLine<Options> {
        TaskCommandLine(
            abstract: "y = 3 x + 1.", discussion: "", defaults: RunConfig(task: name, training: defaultTraining, options: Options()),
            options: [.value("batch", \.options.batch, key: "options.batch", "N", help: "Samples per step.")])
    }
    let options: Options
    static func validate(_ o: Options, training: TrainingConfig) throws {}
    static func memoryEstimate(_ o: Options, training: TrainingConfig) -> Double { 1_000 }
    func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> Linear {
        Linear(inputSize: 1, outputSize: 1, name: "fc", in: store, rng: &rng)
    }
    func roles(of model: Linear) -> ParameterRoles { ParameterRoles(pruned: [model.weight], recurrent: [], hiddenSize: 1) }
    func makeStream(rng: SeededGenerator) -> Stream { Stream(rng: rng) }
    func batch(_ rng: inout SeededGenerator) -> (Matrix<Float>, Matrix<Float>) {
        var x = Matrix<Float>(rows: options.batch, columns: 1), y = Matrix<Float>(rows: options.batch, columns: 1)
        for i in 0..<options.batch { x[i, 0] = Float(rng.uniform() * 2 - 1); y[i, 0] = 3 * x[i, 0] + 1 }
        return (x, y)
    }
    func stepWorkspaceCount(_ model: Linear) -> Int? { Workspace<Float>.count(pieces: Array(repeating: options.batch, count: 4)) }
    func trainStep<Backend: ComputeBackend>(
        _ model: Linear, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        let (x, y) = batch(&stream.rng)
        let backend = parameters.backend, n = options.batch
        let input = try backend.upload(x.scalars, into: &workspace), target = try backend.upload(y.scalars, into: &workspace)
        let prediction = try workspace.take(n), dPrediction = try workspace.take(n)
        try model.forward(input, rows: n, into: prediction, parameters)
        let loss = try MeanSquaredError.lossAndGradient(prediction: prediction, target: target, into: dPrediction, on: backend)
        try model.backward(input: input, dOutput: dPrediction, rows: n, dInput: nil, parameters)
        return loss
    }
    func evaluate<Backend: ComputeBackend>(
        _ model: Linear, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        if let c = options.constantMetric { return ["testError": c] }
        var rng = SeededGenerator(seed: 99)
        let (x, y) = batch(&rng)
        let backend = parameters.backend, n = options.batch
        let input = try backend.upload(x.scalars, into: &workspace), prediction = try workspace.take(n)
        try model.forward(input, rows: n, into: prediction, parameters)
        let p = Matrix(rows: n, columns: 1, scalars: try backend.download(prediction))
        return ["testError": MeanSquaredError.lossAndGradient(prediction: p, target: y).loss]
    }
}

@Suite struct TrainerTests {
    static func lineConfig(_ edit: (inout RunConfig<LineTask.Options>) -> Void = { _ in }) -> RunConfig<LineTask.Options> {
        var c = RunConfig(task: LineTask.name, training: LineTask.defaultTraining, options: LineTask.Options())
        edit(&c)
        return c
    }

    static func records(_ path: String) throws -> [MetricsLine] {
        try MetricsLine.parseAll(String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8))
    }

    @Test func aTaskDefinedOutsideTheLibraryTrains() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for kind in OptimizerConfig.Kind.allCases {
            let config = Self.lineConfig {
                $0.optimizer.kind = kind; $0.optimizer.momentum = kind == .sgd ? 0.5 : 0
            }
            let run = try RunDirectory(path: path, overwrite: true, resume: false)
            let summary = try #require(try Trainer<LineTask>(config: config).train(in: run))
            let error = try #require(summary["testError"])
            #expect(error < 0.05, "\(kind): test error \(error), seed 0")
            #expect(summary.task == "line" && summary.steps == 100)
            let evals = try Self.records(path).compactMap { if case .eval(let e) = $0 { e } else { nil } }
            #expect(evals.map(\.epoch) == [1, 2, 3, 4])
            #expect(evals.last?.metrics == summary.metrics)
        }
    }

    @Test func plateauScheduleDividesTheRateWhenTheMetricStalls() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = Self.lineConfig {
            $0.options.constantMetric = 1.0  // never improves after the first evaluation
            $0.learningRateSchedule = LearningRateSchedule(kind: .plateau, factor: 4)
        }
        try Trainer<LineTask>(config: config).train(in: RunDirectory(path: path, overwrite: false, resume: false))
        let rates = try Self.records(path).compactMap { if case .train(let t) = $0 { t.learningRate } else { nil } }
        // Evaluations after epochs 1 (best so far), 2, 3 (no improvement: / 4 each); 5 lines per epoch.
        let expected = [Double](repeating: 0.1, count: 10) + [Double](repeating: 0.025, count: 5) + [Double](repeating: 0.00625, count: 5)
        #expect(rates == expected)
    }

    @Test func warmupRaisesTheRateLinearly() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = Self.lineConfig {
            $0.learningRateSchedule = LearningRateSchedule(kind: .warmup, warmupSteps: 10)
            $0.logEvery = 1
        }
        try Trainer<LineTask>(config: config).train(in: RunDirectory(path: path, overwrite: false, resume: false))
        let rates = try Self.records(path).compactMap { if case .train(let t) = $0 { t.learningRate } else { nil } }
        #expect(rates.count == 100)
        for (k, rate) in rates.prefix(12).enumerated() {
            #expect(abs(rate - 0.1 * min(1, Double(k + 1) / 10)) < 1e-15, "step \(k + 1): \(rate)")
        }
    }

    @Test func pruningEveryKStepsCutsInSmallSteps() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = AddingExperimentTests.smallConfig()
        config.epochs = 3; config.stepsPerEpoch = 100; config.fixedEpochs = 1
        config.pruning = PruningConfig(targetSparsity: 0.8, everySteps: 50)
        _ = try AddingExperimentTests.train(config, path)
        let prunes = try Self.records(path).compactMap { if case .prune(let p) = $0 { p } else { nil } }
        // 300 main steps / 50 = 6 periods: events 1 ... 5 at steps 50 ... 250, linear to 80%.
        #expect(prunes.map(\.step) == [50, 100, 150, 200, 250])
        for (k, p) in prunes.enumerated() {
            #expect(abs(p.event.target - 0.8 * Double(k + 1) / 5) < 1e-12)
            #expect(abs(p.event.achieved - p.event.target) < 0.002, "event \(k + 1): \(p.event)")
        }
    }

    @Test func resumeAfterAKillKeepsOneLinePerEvent() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), killed = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: killed) }
        var config = SparseAddingTests.sparseConfig()
        config.epochs = 3; config.fixedEpochs = 1; config.stepsPerEpoch = 40
        _ = try AddingExperimentTests.train(config, straight)
        _ = try AddingExperimentTests.train(config, killed, stopAfterEpochs: 1)
        // A process killed during epoch 2 had written that epoch's prune line (at the checkpoint's
        // step) and a training line before dying, after the checkpoint of epoch 1.
        let lines = try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let done = try String(contentsOfFile: killed + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count
        let handle = try #require(FileHandle(forWritingAtPath: killed + "/metrics.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data((lines[done] + "\n" + lines[done + 1] + "\n").utf8))
        try handle.close()
        _ = try AddingExperimentTests.train(config, killed, resume: true)
        let a = withoutWallTimes(try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8))
        let b = withoutWallTimes(try String(contentsOfFile: killed + "/metrics.jsonl", encoding: .utf8))
        #expect(a == b, "metrics.jsonl after a kill and a resume differs from an uninterrupted run")
    }

    @Test func checkpointStateIsCheckedAgainstTheRun() throws {
        let config = AddingExperimentTests.smallConfig()  // 6 epochs x 150 steps, no lottery
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        var good = TrainerState(stream: AddingTask.Stream(rng: SeededGenerator(seed: 1)), learningRate: 1e-3)
        good.step = 300; good.globalStep = 300
        try Trainer<AddingTask>.check(good, optimizerStep: 300, training: config.training, run: run)
        // A stop between two steps (a signal) checkpoints mid-epoch: a valid state.
        var midEpoch = good
        midEpoch.step = 301; midEpoch.globalStep = 301
        try Trainer<AddingTask>.check(midEpoch, optimizerStep: 301, training: config.training, run: run)
        var edits: [(String, (inout TrainerState<AddingTask.Stream>) -> Void)] = []
        edits.append(
            (
                "phase",
                {
                    $0.phase = 1; $0.globalStep = 1200
                }
            ))  // no lottery phase in this run
        edits.append(("phase", { $0.phase = -1 }))
        edits.append(
            (
                "step",
                {
                    $0.step = 1050; $0.globalStep = 1050
                }
            ))  // past the phase
        edits.append(("global step", { $0.globalStep = 450 }))
        edits.append(("learning rate", { $0.learningRate = .nan }))
        edits.append(("metrics", { $0.metricsBytes = -5 }))
        #expect(throws: ExperimentError.self, "an optimizer step unlike the trainer's accepted") {
            try Trainer<AddingTask>.check(good, optimizerStep: 299, training: config.training, run: run)
        }
        for (what, edit) in edits {
            var bad = good
            edit(&bad)
            #expect(throws: ExperimentError.self, "edited \(what) accepted") {
                try Trainer<AddingTask>.check(bad, optimizerStep: bad.step, training: config.training, run: run)
            }
        }
    }

    @Test func anEditedCheckpointStepIsRefusedOnResume() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = AddingExperimentTests.smallConfig()
        config.epochs = 3
        _ = try AddingExperimentTests.train(config, path, stopAfterEpochs: 1)
        // Rewrite the checkpoint with the trainer's step moved on by one epoch, checksum intact.
        let url = URL(fileURLWithPath: path + "/checkpoint.safetensors")
        let (tensors, metadata) = try SafeTensors.decode(Data(contentsOf: url))
        var meta = metadata
        let state = try #require(meta["state"])
        meta["state"] = state.replacingOccurrences(of: "\"step\" : 150", with: "\"step\" : 300")
            .replacingOccurrences(of: "\"globalStep\" : 150", with: "\"globalStep\" : 300")
        #expect(meta["state"] != state)
        try SafeTensors.encode(tensors, dtype: .f32, metadata: meta, checksum: true).write(to: url)
        #expect { try AddingExperimentTests.train(config, path, resume: true) } throws: {
            ($0 as? ExperimentError)?.description.contains("optimizer") == true
        }
    }

    @Test func learnedRunsWriteRFromTheSavedPositionsAndAModelWithoutThem() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SparseAddingTests.sparseConfig()
        config.epochs = 2; config.fixedEpochs = 0; config.stepsPerEpoch = 30
        _ = try AddingExperimentTests.train(config, path)
        let positions = try NPYFile.read(from: URL(fileURLWithPath: path + "/positions.npy"))
        let saved = try NPYFile.read(from: URL(fileURLWithPath: path + "/R.npy"))
        var fixed = config.regularizer
        fixed.learnEmbedding = false
        var rng = SeededGenerator(seed: 0)
        let rebuilt = try ModuliRegularizer<Float>(
            config: fixed, hiddenSize: config.hiddenSize, space: try ModuliSpaces.named("torus"),
            positions: Matrix(
                rows: positions.rows, columns: positions.columns,
                scalars: positions.scalars.map(Double.init)),
            in: ParameterStore<Float>(), rng: &rng)
        let r = try #require(rebuilt.coefficients)
        var worst = 0.0
        for (a, b) in zip(r.scalars, saved.scalars) { worst = max(worst, abs(a - Double(b))) }
        // Positions are saved in float32: R from them agrees to float32 rounding of the positions.
        #expect(worst < 1e-3, "R.npy differs from R of positions.npy by up to \(worst)")
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors")))
        #expect(
            Set(tensors.map(\.name)) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.weight", "fc.bias"]
        )
    }

    @Test func overwriteReplacesTheWholeRun() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var torus = SparseAddingTests.sparseConfig()
        torus.epochs = 2; torus.fixedEpochs = 0; torus.stepsPerEpoch = 20
        _ = try AddingExperimentTests.train(torus, path)
        #expect(FileManager.default.fileExists(atPath: path + "/R.npy"))
        var dense = AddingExperimentTests.smallConfig()
        dense.epochs = 1; dense.stepsPerEpoch = 20
        let summary = try #require(try AddingExperimentTests.train(dense, path, overwrite: true))
        #expect(summary.regularizer == nil)
        let left = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(left == ["checkpoint.safetensors", "config.json", "metrics.jsonl", "model.safetensors", "summary.json"])
    }

    @Test func aConfigFileRunsItsTaskAndRefusesUnknownKeys() throws {
        let first = TestFiles.temporaryDirectory("moduli-tests"), second = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: first); try? FileManager.default.removeItem(atPath: second) }
        var config = AddingExperimentTests.smallConfig()
        config.epochs = 2; config.stepsPerEpoch = 30
        let a = try #require(try AddingExperimentTests.train(config, first))
        let data = try Data(contentsOf: URL(fileURLWithPath: first + "/config.json"))
        let task = try TaskRegistry.task(inConfig: data, path: "config.json")
        #expect(task.name == "adding")
        let b = try #require(
            try task.run(
                configData: data, path: "config.json",
                in: RunDirectory(path: second, overwrite: false, resume: false)))
        #expect(a.metrics == b.metrics)
        let text = String(decoding: data, as: UTF8.self)
        let misspelt = Data(text.replacingOccurrences(of: "\"hiddenSize\"", with: "\"hiddenSise\"").utf8)
        #expect {
            try task.run(configData: misspelt, path: "edited.json", in: RunDirectory(path: second, overwrite: true, resume: false))
        } throws: { ($0 as? ExperimentError)?.description.contains("hiddenSi") == true }
        let extra = Data(text.replacingOccurrences(of: "\"layers\"", with: "\"colour\" : 1, \"layers\"").utf8)
        #expect {
            try task.run(configData: extra, path: "edited.json", in: RunDirectory(path: second, overwrite: true, resume: false))
        } throws: { ($0 as? ExperimentError)?.description.contains("colour") == true }
        #expect(throws: ExperimentError.self) { try TaskRegistry.task(inConfig: Data("{\"task\": \"chess\"}".utf8), path: "x.json") }
        #expect(throws: ExperimentError.self) { try TaskRegistry.task(inConfig: Data("[1, 2]".utf8), path: "x.json") }
    }

    @Test func aDivergingRunSaysWhereItsLastCheckpointIs() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = Self.lineConfig { $0.optimizer = OptimizerConfig(kind: .sgd, learningRate: 1e6) }
        #expect { try Trainer<LineTask>(config: config).train(in: RunDirectory(path: path, overwrite: false, resume: false)) } throws: {
            ($0 as? ExperimentError)?.description.contains("no checkpoint was written yet") == true
        }
    }

    @Test func impossibleSizesAreRefusedBeforeAnyWork() {
        var c = AddingExperimentTests.smallConfig()
        c.epochs = Int.max
        #expect { try Trainer<AddingTask>.validate(c) } throws: { ($0 as? ExperimentError)?.description.contains("--epochs") == true }
        c = AddingExperimentTests.smallConfig()
        c.stepsPerEpoch = Int.max / 2; c.fixedEpochs = 3
        #expect { try Trainer<AddingTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.contains("--batches-per-epoch") == true
        }
        c = AddingExperimentTests.smallConfig()
        c.hiddenSize = 65_536; c.batchSize = 1_000_000; c.length = 1_000
        #expect { try Trainer<AddingTask>.validate(c) } throws: { ($0 as? ExperimentError)?.description.contains("GiB") == true }
    }

    @Test func learnedPositionsGetNoWeightDecay() throws {
        var config = SparseAddingTests.sparseConfig()  // learned torus positions
        config.optimizer = OptimizerConfig(kind: .adamw, learningRate: 1e-3, weightDecay: 0.01)
        let task = AddingTask(options: config.options)
        let session = try TrainingSession(
            task: task, training: config.training, weightsRNG: SeededGenerator(seed: 1),
            regularizerRNG: SeededGenerator(seed: 3), prune: true)
        let positions = try #require(session.regularizer.learned?.slots)
        guard case .adam(let adam) = session.optimizer else { Issue.record("AdamW expected"); return }
        #expect(adam.decoupledWeightDecay && adam.weightDecay == 0.01)
        #expect(adam.parameterGroups == [ParameterGroup(slots: positions, weightDecay: 0)])
    }

    @Test func prunedWeightsCountNeitherInTheGradientNormNorInTheClip() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SparseAddingTests.sparseConfig()
        config.clip = 0
        var loop = try TrainingLoop(
            trainer: Trainer<AddingTask>(config: config),
            run: RunDirectory(path: path, overwrite: false, resume: false), resume: false, showProgress: false)
        let pruner = try #require(loop.session.pruner)
        _ = try #require(pruner.prune(atEvent: 3, in: loop.session.store))
        let (_, _, norm) = try loop.takeStep()
        let store = loop.session.store
        var kept = 0.0
        for s in store.slots {
            let g = store.gradient(s), m = store.mask(s)
            for i in 0..<store.info(s).count {
                #expect(m[i] == 1 || g[i] == 0, "\(store.info(s).name)[\(i)] is pruned but has a gradient")
                kept += Double(g[i]) * Double(g[i])
            }
        }
        #expect(abs(norm - kept.squareRoot()) <= 1e-6 * norm, "norm \(norm), over the kept weights \(kept.squareRoot())")
    }

    @Test func aRunWrittenByAnotherVersionResumes() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = AddingExperimentTests.smallConfig()
        config.epochs = 2; config.stepsPerEpoch = 20
        _ = try AddingExperimentTests.train(config, path, stopAfterEpochs: 1)
        let url = URL(fileURLWithPath: path + "/config.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: "\"version\" : \"\(ModuliVersion.string)\"", with: "\"version\" : \"0.0.9\"")
            .write(to: url, atomically: true, encoding: .utf8)
        var saved = try RunDirectory(path: path, overwrite: false, resume: true).readJSON(AddingConfig.self, from: "config.json")
        #expect(saved.version == "0.0.9")
        saved.version = "0.0.9"
        let summary = try AddingExperimentTests.train(saved, path, resume: true)
        #expect(summary?.steps == 40)
    }
}
