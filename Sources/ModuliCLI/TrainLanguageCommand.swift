// `moduli train language`: word-level language modelling on WikiText-2 (PAPER.md section 5) on the shared trainer.
import ArgumentParser
import Experiments
import Foundation
import NN

extension LanguagePreset: ExpressibleByArgument {}
extension LanguagePruning: ExpressibleByArgument {}

struct TrainLanguageCommand: TaskCommand {
    typealias Task = LanguageTask
    static let configuration = CommandConfiguration(
        commandName: "language",
        abstract: "Word-level language model: embedding, tanh RNN / LSTM / GRU, decoder over the vocabulary; SGD lr 20.",
        discussion: """
            --preset paper (the default) is the paper's protocol: E = H = 650, one tanh RNN layer, batch 20, bptt 35, \
            SGD lr 20, clip 0.25, lr / 4 when validation perplexity does not improve, 15 epochs, pruning to 90% of the \
            pooled embedding, decoder, W_ih and W_hh, lambda 0.1. --preset small is E = H = 200 and 3 epochs. An epoch \
            is one pass over the training text unless --batches-per-epoch says otherwise. Without --data the built-in \
            WikiText-2 split trains (docs/language-corpus.md: its perplexities are not comparable with published ones).
            """)

    @OptionGroup var output: RunOptions
    @OptionGroup(visibility: .hidden) var configFile: ConfigFileOption
    @Option(help: "Starting point: paper (default) or small.") var preset: LanguagePreset?
    @Option(help: "Corpus directory with train.txt, valid.txt, test.txt (default: the built-in WikiText-2 split).") var data: String?
    @Option(help: "Cell: rnn_tanh (default), rnn_relu, lstm, gru.") var cell: String?
    @Option(name: .customLong("embedding-size"), help: "Word-vector size E (paper 650).") var embeddingSize: Int?
    @Option(help: "Hidden units H (paper 650).") var hidden: Int?
    @Option(help: "Recurrent layers (default 1).") var layers: Int?
    @Option(help: "Dropout on the embedding and every layer's output (default 0).") var dropout: Double?
    @Flag(help: "Tie the decoder's weight to the embedding (needs E = H).") var tied = false
    @Option(name: .customLong("batch-size"), help: "Columns of the training text (default 20).") var batchSize: Int?
    @Option(name: .customLong("evaluation-batch-size"), help: "Columns of the validation and test texts (default 10).")
    var evaluationBatchSize: Int?
    @Option(help: "Rows of a window, truncated backpropagation through time (default 35).") var bptt: Int?
    @Option(help: "Pruned tensors: all (paper: embedding, decoder, every W_ih and W_hh, pooled) or recurrent (W_hh only).")
    var prune: LanguagePruning?
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Moduli regularizer and pruning") var method: MethodOptions

    var given: [String] {
        [("--preset", preset != nil), ("--data", data != nil), ("--cell", cell != nil), ("--embedding-size", embeddingSize != nil),
         ("--hidden", hidden != nil), ("--layers", layers != nil), ("--dropout", dropout != nil), ("--tied", tied),
         ("--batch-size", batchSize != nil), ("--evaluation-batch-size", evaluationBatchSize != nil), ("--bptt", bptt != nil),
         ("--prune", prune != nil)].filter(\.1).map(\.0) + training.given + method.given
    }

    func config() throws -> LanguageConfig {
        var c = (preset ?? .paper).config
        if let data { c.data = URL(fileURLWithPath: data).standardizedFileURL.path }  // absolute: sweeps run elsewhere
        if let cell { c.cell = try cellKind(cell) }
        if let embeddingSize { c.embeddingSize = embeddingSize }
        if let hidden { c.hiddenSize = hidden }
        if let layers { c.layers = layers }
        if let dropout { c.dropout = dropout }
        if tied { c.tied = true }
        if let batchSize { c.batchSize = batchSize }
        if let evaluationBatchSize { c.evaluationBatchSize = evaluationBatchSize }
        if let bptt { c.bptt = bptt }
        if let prune { c.prunedTensors = prune }
        training.apply(to: &c.training)
        try method.apply(to: &c.training, lambdaDefault: LanguageTask.defaultLambda)
        if training.batchesPerEpoch == nil {
            do { c.stepsPerEpoch = try LanguageTask.windowsPerPass(c.options) } catch let e as ExperimentError {
                throw ValidationError(e.description)
            }
        }
        return c
    }
}
