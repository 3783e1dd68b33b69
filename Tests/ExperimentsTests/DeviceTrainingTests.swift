// The trainer's steps on memory of the backend's own, as on a GPU: a CPU backend's allocations
// stand in for the device, so that every parameter, gradient, optimizer moment and R lives apart
// from the host store and reaches it only through the device store's copies (pruning events,
// evaluations, checkpoints). The run must equal the one over the host store's own memory to the
// bit, which checks the copies and their timing, not the math (one code path computes both).
import Compute
import Foundation
import Testing
import _TestSupport
import Linalg
import NN
import Sparsity
@testable import Experiments

@Suite struct DeviceTrainingTests {
    /// Trains (or resumes) `config` in `path`, the steps over the host store's memory (`separate`
    /// false, the `--device cpu` path) or on a CPU backend's own allocations (true); returns
    /// metrics.jsonl without clock readings and the bytes of model.safetensors (nil when stopped).
    static func train<Task: TrainingTask>(
        _ task: Task.Type, _ config: RunConfig<Task.Options>, separate: Bool, path: String, resume: Bool = false,
        stopAfterEpochs: Int? = nil
    ) throws -> (metrics: String, model: Data?) {
        let trainer = try Trainer<Task>(config: config)
        let run = try RunDirectory(path: path, overwrite: false, resume: resume)
        let cpu = CPUBackend<Float>()
        let summary =
            separate
            ? try trainer.train(
                in: run, resume: resume, showProgress: false, stopAfterEpochs: stopAfterEpochs,
                deviceStore: { try DeviceStore($0, on: cpu) })
            : try trainer.train(
                in: run, resume: resume, showProgress: false, stopAfterEpochs: stopAfterEpochs,
                deviceStore: { DeviceStore(sharing: $0, on: cpu) })
        let metrics = withoutWallTimes(try String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8))
        return (metrics, summary == nil ? nil : try Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors")))
    }

    /// Both paths on `config`; expects equal metrics and model bytes.
    static func expectSameRun<Task: TrainingTask>(_ task: Task.Type, _ config: RunConfig<Task.Options>, _ what: String) throws {
        let host = TestFiles.temporaryDirectory("moduli-tests"), device = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: host); try? FileManager.default.removeItem(atPath: device) }
        let a = try train(task, config, separate: false, path: host)
        let b = try train(task, config, separate: true, path: device)
        #expect(a.metrics.split(separator: "\n").count > 5, "\(what): too few metrics lines")
        #expect(a.metrics == b.metrics, "\(what): metrics.jsonl differs between host memory and device memory")
        #expect(a.model != nil && a.model == b.model, "\(what): model.safetensors differs")
    }

    /// The adding problem with a fixed torus, clipping, pruning and a rewound lottery ticket (a
    /// second phase, so a second device store under the main phase's masks), Adam and SGD with
    /// momentum (optimizer state on the device).
    @Test(arguments: [OptimizerConfig.Kind.adam, .sgd])
    func addingOnDeviceMemoryEqualsTheHostRun(optimizer: OptimizerConfig.Kind) throws {
        var c = AddingExperimentTests.smallConfig()
        c.epochs = 3; c.stepsPerEpoch = 20; c.fixedEpochs = 1; c.logEvery = 5
        c.optimizer.kind = optimizer
        if optimizer == .sgd { c.optimizer.momentum = 0.9; c.optimizer.learningRate = 0.05 }
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.pruning.targetSparsity = 0.8
        c.clip = 0.5
        c.lottery = .rewind
        c.recurrentKernels = .dense
        try Self.expectSameRun(AddingTask.self, c, "adding, \(optimizer)")
    }

    /// Navigation (encoder, ReLU layer, decoder, soft targets) with per-tensor targets and a recovery epoch.
    @Test func navigationOnDeviceMemoryEqualsTheHostRun() throws {
        var c = NavigationTaskTests.tinyConfig()
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.pruning.targetSparsity = 0.9
        c.pruning.tensorTargets = [0.5, 0.5, 0.9, 0.5]
        c.fixedEpochs = 1
        c.recurrentKernels = .dense
        try Self.expectSameRun(NavigationTask.self, c, "navigation")
    }

    /// The language model: a state carried from window to window and dropout masks uploaded with
    /// the batch.
    @Test func languageOnDeviceMemoryEqualsTheHostRun() throws {
        let data = try LanguageTaskTests.tinyCorpus()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var c = LanguageTaskTests.tinyConfig(data: data)
        c.cell = .gru
        c.dropout = 0.2
        c.pruning.targetSparsity = 0.5
        c.recurrentKernels = .dense
        try Self.expectSameRun(LanguageTask.self, c, "language")
    }

    /// What host code does around the device's steps: learned positions (W_hh and the positions
    /// read back every step, the positions' gradients sent, the projected positions sent back),
    /// with changed embeddings (row and column positions) on navigation.
    @Test(arguments: [false, true])
    func learnedPositionsOnDeviceMemoryEqualTheHostRun(changeEmbed: Bool) throws {
        var c = NavigationTaskTests.tinyConfig()
        c.regularizer = RegularizerConfig(space: "torus", inhibitor: .invertedDoG, lambda: 0.1, learnEmbedding: true)
        c.regularizer.changeEmbed = changeEmbed
        c.pruning.targetSparsity = 0.5
        c.recurrentKernels = .dense
        try Self.expectSameRun(NavigationTask.self, c, "navigation, learned positions, changeEmbed \(changeEmbed)")
    }

    /// The group envelope (a proximal step on the host after every step, units removed at the end
    /// of the main epochs) and neuron elimination (events that fold units on the host), together.
    @Test func theGroupEnvelopeAndEliminationOnDeviceMemoryEqualTheHostRun() throws {
        var c = EliminationTrainingTests.adding()
        c.groupEnvelope = GroupEnvelopeConfig(keptUnits: 4, lambda: 10)
        c.elimination = EliminationConfig(tolerance: 0.3, everySteps: 10)
        c.recurrentKernels = .dense
        try Self.expectSameRun(AddingTask.self, c, "adding, group envelope and elimination")
    }

    /// Checkpoints are device-neutral: a run stopped on the host and resumed on device memory (and
    /// the other way round) ends as the run that never stopped.
    @Test func aRunResumesOnTheOtherDevice() throws {
        var c = AddingExperimentTests.smallConfig()
        c.epochs = 3; c.stepsPerEpoch = 20; c.logEvery = 5
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.pruning.targetSparsity = 0.8
        c.recurrentKernels = .dense
        let straight = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight) }
        let whole = try Self.train(AddingTask.self, c, separate: false, path: straight)
        for first in [false, true] {
            let path = TestFiles.temporaryDirectory("moduli-tests")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let stopped = try Self.train(AddingTask.self, c, separate: first, path: path, stopAfterEpochs: 1)
            #expect(stopped.model == nil)
            let resumed = try Self.train(AddingTask.self, c, separate: !first, path: path, resume: true)
            #expect(resumed.metrics == whole.metrics, "stopped with separate memory \(first): metrics differ")
            #expect(resumed.model == whole.model, "stopped with separate memory \(first): model differs")
        }
    }
}
