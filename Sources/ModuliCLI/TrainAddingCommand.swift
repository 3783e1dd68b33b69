// `moduli train adding`: the adding problem (PAPER.md section 6).
import ArgumentParser
import Experiments
import Foundation
import Geometry
import NN
import Sparsity

/// Options every training command shares: where the run goes and how to continue it.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Run directory to write (config.json, metrics.jsonl, summary.json, model.safetensors).")
    var out: String?

    @Flag(name: .long, help: "Replace an existing run in --out.")
    var overwrite = false

    @Flag(name: .long, help: "Continue the run in --out from its last checkpoint, with its own configuration.")
    var resume = false

    @Flag(name: .long, help: "Print nothing but errors and the final summary line.")
    var quiet = false

    func validate() throws {
        if overwrite && resume { throw ValidationError("--overwrite and --resume contradict each other: choose one.") }
    }

    /// The run directory, defaulting to runs/<task>-<timestamp>.
    func directory(task: String) throws -> RunDirectory {
        let path: String
        if let out { path = out } else {
            if resume { throw ValidationError("--resume needs --out, the run directory to continue.") }
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            path = "runs/\(task)-\(stamp)"
        }
        return try RunDirectory(path: path, overwrite: overwrite, resume: resume)
    }
}

struct TrainAddingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adding",
        abstract: "The adding problem: Elman ReLU network, Adam, fresh batches, fixed test set.",
        discussion: "Defaults are the paper's protocol: T=50, H=128, batch 32, Adam lr 1e-4, clip 0.5, 100 epochs of 313 batches then 10 epochs at fixed sparsity.")

    @OptionGroup var output: RunOptions

    @Option(help: "Run seed (weights and data stream).") var seed: UInt64 = 0
    @Option(help: "Seed of the fixed held-out test set.") var testSeed: UInt64 = 20_240_610
    @Option(help: "Sequence length T.") var length = 50
    @Option(help: "Hidden units H.") var hidden = 128
    @Option(help: "Recurrent layers.") var layers = 1
    @Option(help: "Cell: rnn_relu, rnn_tanh, lstm, gru.") var cell = "rnn_relu"
    @Flag(inversion: .prefixedNo, help: "Biases in the recurrent layers.") var bias = true
    @Option(name: .customLong("batch-size"), help: "Batch size B.") var batchSize = 32
    @Option(help: "Adam learning rate.") var lr = 1e-4
    @Option(help: "Global gradient-norm clip (0 = off).") var clip = 0.5
    @Option(help: "Epochs of the main phase.") var epochs = 100
    @Option(help: "Batches per epoch.") var batchesPerEpoch = 313
    @Option(help: "Epochs at fixed sparsity after the main phase.") var fixedEpochs = 10
    @Option(help: "Held-out test sequences.") var testSize = 2000
    @Option(help: "Evaluate the test MSE every N epochs.") var evaluateEvery = 1
    @Option(help: "Write a training-loss line every N steps.") var logEvery = 100
    @Option(help: "OpenBLAS threads.") var threads = 1
    @OptionGroup(title: "Moduli regularizer and pruning") var method: MethodOptions

    func config() throws -> AddingConfig {
        var c = AddingConfig()
        c.seed = seed; c.testSeed = testSeed; c.length = length; c.hiddenSize = hidden; c.layers = layers
        guard let kind = CellKind(rawValue: cell.lowercased()) else {
            throw ValidationError("Unknown --cell \(cell): choose one of rnn_relu, rnn_tanh, lstm, gru.")
        }
        c.cell = kind; c.bias = bias; c.batchSize = batchSize; c.learningRate = lr; c.clip = clip
        c.epochs = epochs; c.batchesPerEpoch = batchesPerEpoch; c.fixedEpochs = fixedEpochs
        c.testSize = testSize; c.evaluateEvery = evaluateEvery; c.logEvery = logEvery; c.threads = threads
        try method.apply(to: &c.regularizer, lambdaDefault: 1e-3)
        c.targetSparsity = method.targetSparsity
        c.schedule = method.schedule
        c.tensorTargets = try method.parsedTensorTargets()
        c.lottery = method.lottery
        return c
    }

    func validate() throws {
        do { try config().validate() } catch let e as ExperimentError { throw ValidationError(e.description) }
    }

    func run() throws {
        let directory = try output.directory(task: "adding")
        var config = try config()
        if output.resume { config = try directory.readJSON(AddingConfig.self, from: "config.json") }
        let progress = ProgressReporter(label: "adding", total: config.totalSteps, quiet: output.quiet)
        guard let summary = try AddingExperiment.run(config, in: directory, resume: output.resume, progress: progress) else { return }
        print(String(format: "adding: test MSE %.5f (trivial baseline %.5f) after %d steps in %.1f s; results in %@",
                     summary.testMSE, summary.trivialMSE, summary.steps, summary.wallSeconds, directory.url.path))
    }
}

extension LotteryMode: ExpressibleByArgument {}
extension ScheduleShape: ExpressibleByArgument {}

/// The paper's method on the command line: the moduli regularizer, pruning and lottery tickets.
/// Flag map to the authors' scripts: --moduli = `moduli`, --inhibitor = `inhibitor`, --invert =
/// `invert`, --permute = `permute`, --change-embed = `changeembed`, --learn-embedding =
/// `learn_embedding`, --lambda = the regularization weight, --target-sparsity = the final pruning
/// fraction (docs/cli.md).
struct MethodOptions: ParsableArguments {
    @Option(help: "Moduli space for the regularizer: none, standard (plain L1/L2), or circle, torus, torus6, klein, sphere, s3, r3, r9, mixedcurv.")
    var moduli = "none"
    @Option(help: "Inhibitor f(d): square, gauss, dog, inverted-dog, ripple, constant.")
    var inhibitor = "inverted-dog"
    @Flag(help: "Invert R: R = max(R) - R (implied by inverted-dog).") var invert = false
    @Flag(help: "Control: shuffle the entries of R (same values, no geometry).") var permute = false
    @Flag(name: .customLong("change-embed"), help: "Separate positions for rows and columns (non-symmetric R).") var changeEmbed = false
    @Flag(name: .customLong("strength-matched"), help: "Control: constant R equal to the mean of the geometric R.") var strengthMatched = false
    @Flag(name: .customLong("learn-embedding"), help: "Learn the neuron positions with the model's optimizer.") var learnEmbedding = false
    @Option(help: "Penalty weight lambda (default: the task's, 1e-3 for adding).") var lambda: Double?
    @Option(help: "Penalty power p: 1 (L1-type) or 2 (L2-type).") var power = 1
    @Option(name: .customLong("target-sparsity"), help: "Final pooled sparsity of the pruned tensors (0 = no pruning; paper 0.95).")
    var targetSparsity = 0.0
    @Option(help: "Pruning schedule: linear (paper) or cubic (Zhu & Gupta).") var schedule = ScheduleShape.linear
    @Option(name: .customLong("tensor-targets"), help: "Per-tensor final targets, comma-separated (W_ih, W_hh per layer, fc.weight).")
    var tensorTargets: String?
    @Option(help: "Lottery ticket after sparse training: none, random (paper), rewind (Frankle-Carbin).") var lottery = LotteryMode.none

    func apply(to r: inout RegularizerConfig, lambdaDefault: Double) throws {
        guard let f = Inhibitor(name: inhibitor) else {
            throw ValidationError("Unknown --inhibitor \(inhibitor): choose square, gauss, dog, inverted-dog, ripple or constant.")
        }
        r = RegularizerConfig(space: moduli.lowercased(), inhibitor: f, invert: invert, permute: permute, changeEmbed: changeEmbed,
                              strengthMatched: strengthMatched, lambda: lambda ?? lambdaDefault, power: power,
                              learnEmbedding: learnEmbedding)
        let usesPenalty = r.kind != .none
        if !usesPenalty && (invert || permute || changeEmbed || strengthMatched || learnEmbedding || lambda != nil) {
            throw ValidationError("--invert, --permute, --change-embed, --strength-matched, --learn-embedding and --lambda need a regularizer: set --moduli.")
        }
    }

    func parsedTensorTargets() throws -> [Double]? {
        guard let tensorTargets else { return nil }
        let values = tensorTargets.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--tensor-targets must be comma-separated numbers, got \(tensorTargets).") }
        return values.map { $0! }
    }
}
