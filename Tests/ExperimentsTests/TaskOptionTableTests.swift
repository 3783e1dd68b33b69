// The option tables of the registered tasks: parsing, presets, resolution, labels in errors, and a
// task defined here alone that registers, parses its options and trains through the same path.
import Compute
import Foundation
import Linalg
import NN
import Sparsity
import Testing
@testable import Experiments

/// A task that exists only in this test: `width` weights pulled towards `target` by mean squared error.
struct PullTask: TrainingTask {
    struct Options: Codable, Sendable, Equatable {
        var width = 4
        var target = 1.0
    }
    struct Stream: TaskStream {}
    struct Model { let w: ParameterSlot }

    static let name = "test-pull"
    static let primaryMetric = "error"
    static let defaultLambda = 0.5
    static var defaultTraining: TrainingConfig {
        TrainingConfig(epochs: 3, stepsPerEpoch: 4, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.1))
    }
    static var commandLine: TaskCommandLine<Options> {
        typealias O = ConfigOption<RunConfig<Options>>
        return TaskCommandLine(
            abstract: "Weights pulled towards a target.", discussion: "A test task.",
            defaults: RunConfig(task: name, training: defaultTraining, options: Options()),
            options: [
                O.value("width", \.options.width, key: "options.width", "N", help: "Weights."),
                O.value("target", \.options.target, key: "options.target", "X", help: "Their target.")
            ])
    }

    let options: Options
    init(options: Options) throws { self.options = options }

    static func validate(_ o: Options, training: TrainingConfig) throws {
        try require(o.width >= 1 && o.width <= 1000, "\(label("options.width")) must be between 1 and 1000, got \(o.width).")
    }
    static func memoryEstimate(_ o: Options, training: TrainingConfig) -> Double { Double(o.width) * 64 }

    func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> Model {
        Model(w: store.add("w", shape: [1, options.width]) { Float.random(in: -1...1, using: &rng) })
    }
    func roles(of model: Model) -> ParameterRoles { ParameterRoles(pruned: [model.w], recurrent: [], hiddenSize: options.width) }
    func makeStream(rng: SeededGenerator) -> Stream { Stream() }
    func error(_ w: [Float]) -> Double {
        w.map { pow(Double($0) - options.target, 2) }.reduce(0, +) / Double(options.width)
    }
    func stepWorkspaceCount(_ model: Model) -> Int? { Workspace<Float>.count(pieces: [options.width]) }
    func trainStep<Backend: ComputeBackend>(
        _ model: Model, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        let backend = parameters.backend, w = try backend.download(parameters.value(model.w))
        let d = w.map { Float(2 * (Double($0) - options.target) / Double(options.width)) }
        try backend.axpy(alpha: 1, backend.upload(d, into: &workspace), parameters.gradient(model.w))
        return error(w)
    }
    func evaluate<Backend: ComputeBackend>(
        _ model: Model, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        ["error": error(try parameters.backend.download(parameters.value(model.w)))]
    }
}

@Suite struct TaskOptionTableTests {
    /// The value at `key` (dot-separated) of the JSON object `json`.
    static func value(at key: String, in json: Any) -> Any? {
        var node: Any? = json
        for part in key.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
        return node
    }

    /// Every declared key is a key of the configuration the task writes to config.json.
    @Test func everyDeclaredKeyIsAConfigurationKey() throws {
        func check<T: TrainingTask>(_ t: T.Type) throws {
            let config = TaskOptions<T>.start(T.commandLine.defaults)
            let json = try JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(config))
            var names = Set<String>()
            for o in TaskOptions<T>.declarations {
                #expect(names.insert(o.name).inserted, "\(T.name): --\(o.name) is declared twice")
                guard o.key != "options.data", o.key != "training.pruning.everySteps", o.key != "training.pruning.tensorTargets",
                    o.key != "training.recurrentKernels", o.key != "training.sparseFrom", o.key != "training.device",
                    !o.key.hasPrefix("training.groupEnvelope."),
                    !o.key.hasPrefix("training.elimination."), !o.isPreset
                else { continue }  // nil (absent) by default
                #expect(Self.value(at: o.key, in: json) != nil, "\(T.name): \(o.key) [--\(o.name)] is not in config.json")
            }
        }
        for task in TaskRegistry.tasks { try check(task.type) }
    }

    /// A value option sets exactly the value at its key in config.json.
    @Test func aValueLandsAtItsKey() throws {
        let (config, given, _) = try TaskOptions<AddingTask>.resolve(["--hidden", "24", "--lr=0.25", "--no-bias", "--momentum", "-0"])
        #expect(given == ["--hidden", "--lr", "--bias/--no-bias", "--momentum"])  // in the order given
        let json = try JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(config))
        #expect(Self.value(at: "options.hiddenSize", in: json) as? Int == 24)
        #expect(Self.value(at: "training.optimizer.learningRate", in: json) as? Double == 0.25)
        #expect(Self.value(at: "options.bias", in: json) as? Bool == false)
    }

    @Test func aPresetAppliesFirstAndOptionsOverrideIt() throws {
        let small = try TaskOptions<NavigationTask>.resolve(["--hidden", "64", "--preset", "small"]).config
        #expect(small.options.hiddenSize == 64 && small.options.width == 0.2 && small.training.optimizer.learningRate == 3e-3)
        #expect(small.training.regularizer.lambda == NavigationTask.defaultLambda)
        let adding = try TaskOptions<AddingTask>.resolve([]).config
        #expect(adding.training.regularizer == RegularizerConfig(space: "none", lambda: AddingTask.defaultLambda))
    }

    @Test(arguments: [
        (["--hiden", "8"], "Unknown option '--hiden': did you mean '--hidden'?"),
        (["--hidden"], "options.hiddenSize [--hidden] needs a value"),
        (["--hidden", "--lr", "1"], "options.hiddenSize [--hidden] needs a value"),
        (["--hidden", "8", "--hidden", "9"], "options.hiddenSize [--hidden] is given twice"),
        (["--hidden", "eight"], "options.hiddenSize [--hidden] must be a whole number, got 'eight'."),
        (["--cell", "transformer"], "options.cell [--cell] must be one of rnn_tanh, rnn_relu, lstm, gru, got 'transformer'."),
        (["8"], "Unexpected argument '8'"),
        (["--nesterov=yes"], "training.optimizer.nesterov [--nesterov] takes no value"),
        (["--permute"], "training.regularizer.permute [--permute] needs a regularizer: set training.regularizer.space [--moduli]"),
        (["--tensor-targets", "0.5,x"], "training.pruning.tensorTargets [--tensor-targets] must be comma-separated numbers")
    ])
    func badOptionsAreRefusedByName(arguments: [String], message: String) {
        #expect { try TaskOptions<AddingTask>.resolve(arguments) } throws: {
            ($0 as? OptionError)?.description.contains(message) == true
        }
    }

    /// Library messages name the key, with the flag from the same table.
    @Test func validationNamesTheKeyAndTheFlag() {
        var c = LanguageConfig()
        c.options.hiddenSize = 0
        #expect { try Trainer<LanguageTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description == "options.hiddenSize [--hidden] must be between 1 and 65536, got 0."
        }
        c = LanguageConfig(); c.training.clip = -1
        #expect { try Trainer<LanguageTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description.hasPrefix("training.clip [--clip] must be 0 (off) or positive") == true
        }
        c = LanguageConfig(); c.training.regularizer = RegularizerConfig(space: "torus", lambda: 0.1, power: 3)
        #expect { try Trainer<LanguageTask>.validate(c) } throws: {
            ($0 as? ExperimentError)?.description == "training.regularizer.power [--power] must be 1 or 2, got 3."
        }
    }

    /// The language model's corpus is read once per command: to count an epoch's windows while
    /// the configuration resolves, then handed to the task (the directory may be gone by then).
    @Test func theCorpusReadToCountAnEpochGoesOnToTheTask() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let words = (0..<12).map { "w\($0)" }
        for (name, lines) in [("train.txt", 12), ("valid.txt", 4), ("test.txt", 4)] {
            var text = ""
            for k in 0..<lines {
                let line: [String] = (0..<9).map { (j: Int) -> String in words[(j * 5 + k * 7) % 12] }
                text += line.joined(separator: " ") + "\n"
            }
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        let resolved = try TaskOptions<LanguageTask>.resolve([
            "--data", dir, "--hidden", "4", "--embedding-size", "4", "--batch-size", "2",
            "--evaluation-batch-size", "2", "--bptt", "5"
        ])
        // 12 lines of 9 words and an end of line: 120 tokens, 60 rows of 2 columns, windows of 5 rows over 59 targets: 12.
        #expect(resolved.config.training.stepsPerEpoch == 12)
        try Trainer<LanguageTask>.validate(resolved.config)
        try FileManager.default.removeItem(atPath: dir)
        let trainer = try Trainer<LanguageTask>(validated: resolved.config, prepared: resolved.prepared)
        #expect(trainer.task.corpus.train.count == 120 && trainer.task.corpus.vocabulary.count >= 12)
        #expect(throws: (any Error).self) { try Trainer<LanguageTask>(validated: resolved.config) }
        // With --batches-per-epoch given nothing is read while resolving.
        #expect(try TaskOptions<LanguageTask>.resolve(["--data", dir, "--batches-per-epoch", "3"]).prepared == nil)
    }

    /// A task defined in this file alone: registered with one line, found by name, its options
    /// parsed by the same table, its configuration resolved for a sweep, and trained.
    @Test func aTaskDefinedInATestRegistersParsesAndTrains() throws {
        TaskRegistry.register(PullTask.self)
        let registered = try TaskRegistry.task(named: PullTask.name)
        #expect(registered.optionFlags.prefix(3) == ["--width", "--target", "--seed"])
        let files = try registered.resolvedConfigFiles(
            arguments: ["--width", "3", "--target", "2", "--epochs", "20", "--lr", "0.2"], seeds: [5, 6])
        let config = try TaskRegistry.decodeStrictly(RunConfig<PullTask.Options>.self, from: files[1], path: "test")
        #expect(config.options == PullTask.Options(width: 3, target: 2) && config.training.seed == 6 && config.training.epochs == 20)
        #expect { try registered.resolvedConfigFiles(arguments: ["--width", "0"], seeds: [0]) } throws: {
            ($0 as? ExperimentError)?.description == "options.width [--width] must be between 1 and 1000, got 0."
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pull-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = try registered.run(configData: files[0], path: "test", in: RunDirectory(path: dir, overwrite: false, resume: false))
        let error = try #require(summary?.metrics["error"])
        // Gradient descent on (w - 2)^2 with lr 0.2 / 3 per weight for 80 steps: the error shrinks by (1 - 0.4/3)^160.
        #expect(error < 1e-6, "error \(error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")) == files[0])
    }
}
