// `moduli train adding`: the adding problem (PAPER.md section 6) on the shared trainer.
import ArgumentParser
import Experiments
import NN

struct TrainAddingCommand: TaskCommand {
    typealias Task = AddingTask
    static let configuration = CommandConfiguration(
        commandName: "adding",
        abstract: "The adding problem: Elman ReLU network, Adam, fresh batches, fixed test set.",
        discussion: "Defaults are the paper's protocol: T=50, H=128, batch 32, Adam lr 1e-4, clip 0.5, 100 epochs of 313 batches then 10 epochs at fixed sparsity, lambda 1e-3.")

    @OptionGroup var output: RunOptions
    @OptionGroup(visibility: .hidden) var configFile: ConfigFileOption
    @Option(help: "Sequence length T (default 50).") var length: Int?
    @Option(help: "Hidden units H (default 128).") var hidden: Int?
    @Option(help: "Recurrent layers (default 1).") var layers: Int?
    @Option(help: "Cell: rnn_relu (default), rnn_tanh, lstm, gru.") var cell: String?
    @Flag(inversion: .prefixedNo, help: "Biases in the recurrent layers (default on).") var bias: Bool?
    @Option(name: .customLong("batch-size"), help: "Batch size B (default 32).") var batchSize: Int?
    @Option(name: .customLong("test-size"), help: "Held-out test sequences (default 2000).") var testSize: Int?
    @Option(name: .customLong("test-seed"), help: "Seed of the fixed held-out test set.") var testSeed: UInt64?
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Moduli regularizer and pruning") var method: MethodOptions

    var given: [String] {
        [("--length", length != nil), ("--hidden", hidden != nil), ("--layers", layers != nil), ("--cell", cell != nil),
         ("--bias/--no-bias", bias != nil), ("--batch-size", batchSize != nil), ("--test-size", testSize != nil),
         ("--test-seed", testSeed != nil)].filter(\.1).map(\.0) + training.given + method.given
    }

    func config() throws -> AddingConfig {
        var c = AddingConfig()
        if let cell { c.cell = try cellKind(cell) }
        if let length { c.length = length }
        if let hidden { c.hiddenSize = hidden }
        if let layers { c.layers = layers }
        if let bias { c.bias = bias }
        if let batchSize { c.batchSize = batchSize }
        if let testSize { c.testSize = testSize }
        if let testSeed { c.testSeed = testSeed }
        training.apply(to: &c.training)
        try method.apply(to: &c.training, lambdaDefault: AddingTask.defaultLambda)
        return c
    }
}
