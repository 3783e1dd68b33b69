// Word-level language modelling (docs/method.md section 5) as a task of the shared trainer: bptt windows
// over the batchified training text with the hidden state carried (detached) between them,
// cross-entropy over the vocabulary, validation perplexity every epoch (the plateau schedule's
// metric) and test perplexity and accuracy at the end. docs/language-model.md.
import Compute
import Foundation
import Linalg
import NN

/// Which tensors gradual magnitude pruning pools.
public enum LanguagePruning: String, Codable, Sendable, CaseIterable, OptionValue {
    /// The paper's pool: embedding, decoder weight, every W_ih and W_hh. W_hh is under 1% of it,
    /// so a pooled threshold mostly prunes the embedding and the decoder.
    case all
    /// The recurrent weights W_hh alone (every layer, pooled).
    case recurrent
}

/// The language model's own options, as written to config.json under `options`.
public struct LanguageOptions: Codable, Sendable, Equatable {
    /// A corpus directory (train.txt, valid.txt, test.txt); nil = the built-in WikiText-2 split.
    public var data: String?
    /// Cell: rnn_tanh (paper), rnn_relu, lstm or gru.
    public var cell: CellKind = .rnnTanh
    /// Word-vector size E (paper 650).
    public var embeddingSize = 650
    /// Hidden units H (paper 650).
    public var hiddenSize = 650
    /// Recurrent layers (paper 1 to 3).
    public var layers = 1
    /// Dropout on the embedding and every layer's output (paper 0).
    public var dropout = 0.0
    /// Whether the decoder shares the embedding's weight (needs E = H).
    public var tied = false
    /// Columns of the training text B (20).
    public var batchSize = 20
    /// Columns of the validation and test texts (10).
    public var evaluationBatchSize = 10
    /// Rows of a window T (35).
    public var bptt = 35
    /// The tensors pruning pools.
    public var prunedTensors = LanguagePruning.all
    /// The paper's options.
    public init() {}
}

/// The configuration of a language-model run.
public typealias LanguageConfig = RunConfig<LanguageOptions>

extension RunConfig where Options == LanguageOptions {
    /// The paper's protocol for the language model.
    public init() { self.init(task: LanguageTask.name, training: LanguageTask.defaultTraining, options: LanguageOptions()) }
}

/// Named starting points for a language-model run.
public enum LanguagePreset: String, Codable, Sendable, CaseIterable, OptionValue {
    /// docs/method.md section 5: E = H = 650, SGD lr 20, clip 0.25, 15 epochs, pruning to 90%.
    case paper
    /// One CPU core in minutes (docs/language-model.md): E = H = 200, 3 epochs (840 steps on the
    /// built-in split), pruning to 90%.
    case small

    /// The preset's configuration (steps per epoch: one pass over the built-in split's training text).
    public var config: LanguageConfig {
        var c = LanguageConfig()
        switch self {
        case .paper: break
        case .small:
            c.options.embeddingSize = 200; c.options.hiddenSize = 200
            c.training.epochs = 3
        }
        return c
    }
}

/// The language model for the trainer.
public struct LanguageTask: TrainingTask {
    /// The position in the training text and the state carried into the next window.
    public struct Stream: TaskStream {
        /// The next window of the current pass.
        var windows: BPTTWindows
        /// Every layer's state after the last window (detached); empty at the start of a pass.
        var states: [SavedState]
        /// Dropout masks.
        var rng: SeededGenerator
    }

    /// One layer's carried state, row-major `B x H` (and the cell state of an LSTM).
    struct SavedState: Codable, Sendable {
        var hidden: [Float]
        var cell: [Float]?
    }

    public static let name = "language"
    public static let primaryMetric = "testPerplexity"
    public static let scheduleMetric = "validPerplexity"
    public static let selectionMetric = "validPerplexity"
    public static let defaultLambda = 0.1
    /// SGD lr 20, clip 0.25, lr / 4 on a validation plateau, 15 epochs of one pass (280 windows of
    /// the built-in split), pruning to 90%.
    public static var defaultTraining: TrainingConfig {
        var t = TrainingConfig(epochs: 15, stepsPerEpoch: 280, optimizer: OptimizerConfig(kind: .sgd, learningRate: 20))
        t.clip = 0.25
        t.learningRateSchedule = LearningRateSchedule(kind: .plateau, factor: 4)
        t.pruning.targetSparsity = 0.9
        t.logEvery = 50
        return t
    }

    public static var commandLine: TaskCommandLine<LanguageOptions> {
        typealias O = ConfigOption<LanguageConfig>
        return TaskCommandLine(
            abstract: "Word-level language model: embedding, tanh RNN / LSTM / GRU, decoder over the vocabulary; SGD lr 20.",
            discussion: """
                --preset paper (the default) is the paper's protocol: E = H = 650, one tanh RNN layer, batch 20, bptt 35, \
                SGD lr 20, clip 0.25, lr / 4 when validation perplexity does not improve, 15 epochs, pruning to 90% of the \
                pooled embedding, decoder, W_ih and W_hh, lambda 0.1. --preset small is E = H = 200 and 3 epochs. An epoch \
                is one pass over the training text unless --batches-per-epoch says otherwise. Without --data the built-in \
                WikiText-2 split trains (docs/language-corpus.md: its perplexities are not comparable with published ones).
                """,
            defaults: LanguagePreset.paper.config,
            options: [
                O.preset("preset", LanguagePreset.self, help: "Starting point: paper (default) or small.") { $0.config },
                // Absolute: a sweep's runs start elsewhere.
                O(
                    name: "data", key: "options.data",
                    help: "Corpus directory with train.txt, valid.txt, test.txt (default: the built-in WikiText-2 split).",
                    arity: .value("DIR"), set: { c, text, _ in c.options.data = URL(fileURLWithPath: text).standardizedFileURL.path }),
                O.value("cell", \.options.cell, key: "options.cell", "CELL", help: "Cell: rnn_tanh (default), rnn_relu, lstm, gru."),
                O.value(
                    "embedding-size", \.options.embeddingSize, key: "options.embeddingSize", "N", help: "Word-vector size E (paper 650)."),
                O.value("hidden", \.options.hiddenSize, key: "options.hiddenSize", "N", help: "Hidden units H (paper 650)."),
                O.value("layers", \.options.layers, key: "options.layers", "N", help: "Recurrent layers (default 1)."),
                O.value(
                    "dropout", \.options.dropout, key: "options.dropout", "X",
                    help: "Dropout on the embedding and every layer's output (default 0)."),
                O.flag("tied", \.options.tied, key: "options.tied", help: "Tie the decoder's weight to the embedding (needs E = H)."),
                O.value(
                    "batch-size", \.options.batchSize, key: "options.batchSize", "N", help: "Columns of the training text (default 20)."),
                O.value(
                    "evaluation-batch-size", \.options.evaluationBatchSize, key: "options.evaluationBatchSize", "N",
                    help: "Columns of the validation and test texts (default 10)."),
                O.value(
                    "bptt", \.options.bptt, key: "options.bptt", "N",
                    help: "Rows of a window, truncated backpropagation through time (default 35)."),
                O.value(
                    "prune", \.options.prunedTensors, key: "options.prunedTensors", "NAME",
                    help: "Pruned tensors: all (paper: embedding, decoder, every W_ih and W_hh, pooled) or recurrent (W_hh only).",
                    prerequisite: { MethodOptions.needsPruning("options.prunedTensors [--prune]", "prune", $0.training) })
            ],
            complete: { c, given in
                // An epoch is one pass over the training text unless --batches-per-epoch says otherwise;
                // the corpus read to count it goes on to the task.
                guard !given.contains("batches-per-epoch") else { return nil }
                let corpus = try Corpus.load(c.options.data)
                c.training.stepsPerEpoch = windowsPerPass(corpus, c.options)
                return corpus
            })
    }

    public let options: LanguageOptions
    /// The texts and vocabulary.
    public let corpus: Corpus
    /// The training text in `batchSize` columns; the validation and test texts in `evaluationBatchSize`.
    public let train: BatchifiedTokens, valid: BatchifiedTokens, test: BatchifiedTokens
    public let baselines: [String: Double]

    public init(options: LanguageOptions) throws { try self.init(options: options, prepared: nil) }

    /// The task over `prepared`, the corpus the configuration's resolution read to count an
    /// epoch's windows (the corpus of `options.data`), or over the corpus read now when it is nil.
    public init(options: LanguageOptions, prepared: (any Sendable)?) throws {
        self.options = options
        corpus = try (prepared as? Corpus) ?? Corpus.load(options.data)
        try Self.checkMemory(options, vocabularySize: corpus.vocabulary.count)
        train = batchify(corpus.train, columns: options.batchSize)
        valid = batchify(corpus.valid, columns: options.evaluationBatchSize)
        test = batchify(corpus.test, columns: options.evaluationBatchSize)
        for (name, tokens, columns, option) in [
            ("training", train, options.batchSize, Self.label("options.batchSize")),
            ("validation", valid, options.evaluationBatchSize, Self.label("options.evaluationBatchSize")),
            ("test", test, options.evaluationBatchSize, Self.label("options.evaluationBatchSize"))
        ] {
            try require(
                tokens.rows >= 2,
                "The \(name) text of \(corpus.source) has too few tokens for \(columns) columns of at least 2 rows; lower \(option).")
        }
        baselines = Self.unigramBaselines(corpus: corpus, test: test)
    }

    /// The corpus's vocabulary (words in id order) and the token ids of its three texts.
    public func dataFingerprint() -> DataFingerprint? {
        let directory = options.data != nil
        return DataFingerprint(
            kind: "the corpus", source: options.data ?? "the built-in WikiText-2 subset", option: "--data",
            parts: [
                DataFingerprint.Part(
                    name: "the vocabulary", count: corpus.vocabulary.count, unit: "words",
                    hash: DataFingerprint.hashText(corpus.vocabulary.contentHash())),
                DataFingerprint.tokens(directory ? "train.txt" : "the training text", corpus.train),
                DataFingerprint.tokens(directory ? "valid.txt" : "the validation text", corpus.valid),
                DataFingerprint.tokens(directory ? "test.txt" : "the test text", corpus.test)
            ])
    }

    /// Windows per pass over the training text of `options`' corpus (one epoch of the example).
    public static func windowsPerPass(_ options: LanguageOptions) throws -> Int {
        windowsPerPass(try Corpus.load(options.data), options)
    }

    /// Windows per pass over the training text of `corpus` with `options`' batch size and bptt.
    static func windowsPerPass(_ corpus: Corpus, _ options: LanguageOptions) -> Int {
        BPTTWindows.count(rows: corpus.train.count / max(1, options.batchSize), bptt: max(1, options.bptt))
    }

    /// Reference points: the test perplexity of the training text's unigram frequencies (add-one
    /// smoothed over the vocabulary) and the test accuracy of always predicting its most frequent
    /// word, over the same predictions as the model's.
    static func unigramBaselines(corpus: Corpus, test: BatchifiedTokens) -> [String: Double] {
        let v = corpus.vocabulary.count
        var counts = [Double](repeating: 1, count: v)
        for id in corpus.train { counts[Int(id)] += 1 }
        let total = Double(corpus.train.count + v)
        let mostFrequent = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        var logSum = 0.0, hits = 0
        let targets = test.ids[test.columns...]
        for id in targets {
            logSum += Foundation.log(counts[Int(id)] / total)
            if Int(id) == mostFrequent { hits += 1 }
        }
        let n = Double(max(1, targets.count))
        return ["unigramTestPerplexity": Foundation.exp(-logSum / n), "mostFrequentWordTestAccuracy": Double(hits) / n]
    }

    public static func validate(_ o: LanguageOptions, training: TrainingConfig) throws {
        try require(
            o.embeddingSize >= 1 && o.embeddingSize <= 65_536,
            "\(label("options.embeddingSize")) must be between 1 and 65536, got \(o.embeddingSize).")
        try require(
            o.hiddenSize >= 1 && o.hiddenSize <= 65_536, "\(label("options.hiddenSize")) must be between 1 and 65536, got \(o.hiddenSize).")
        try require(o.layers >= 1 && o.layers <= 16, "\(label("options.layers")) must be between 1 and 16, got \(o.layers).")
        try require(o.dropout >= 0 && o.dropout < 1, "\(label("options.dropout")) must be in [0, 1), got \(o.dropout).")
        try require(
            !o.tied || o.embeddingSize == o.hiddenSize,
            """
            \(label("options.tied")) needs \(label("options.embeddingSize")) equal to \(label("options.hiddenSize")) (got \
            \(o.embeddingSize) and \(o.hiddenSize)).
            """
        )
        try require(
            o.batchSize >= 1 && o.batchSize <= 100_000, "\(label("options.batchSize")) must be between 1 and 100000, got \(o.batchSize).")
        try require(
            o.evaluationBatchSize >= 1 && o.evaluationBatchSize <= 100_000,
            "\(label("options.evaluationBatchSize")) must be between 1 and 100000, got \(o.evaluationBatchSize).")
        try require(o.bptt >= 1 && o.bptt <= 100_000, "\(label("options.bptt")) must be between 1 and 100000, got \(o.bptt).")
        if let data = o.data {
            try require(!data.isEmpty, "\(label("options.data")) is empty: name a directory with train.txt, valid.txt and test.txt.")
        }
        if let targets = training.pruning.tensorTargets {
            let count = o.prunedTensors == .recurrent ? o.layers : (o.tied ? 1 : 2) + 2 * o.layers
            let tensors =
                o.prunedTensors == .recurrent
                ? "W_hh of every layer" : "encoder, \(o.tied ? "" : "decoder, ")then W_ih and W_hh of every layer"
            try require(
                targets.count == count,
                "\(label("training.pruning.tensorTargets")) needs \(count) values (the pruned tensors: \(tensors)), got \(targets.count)."
            )
        }
    }

    /// The vocabulary assumed before the corpus is read (full WikiText-2's); `init` checks the
    /// memory again with the corpus's own vocabulary.
    static let assumedVocabularySize = 33_278

    /// Parameters, optimizer state and copies; the decoder's logits and gradient for the training
    /// and evaluation windows; the layers' caches (with the vocabulary of full WikiText-2: the
    /// corpus is not read yet).
    /// H; with tied weights the decoder's input axis is also the embedding's, so no unit can be removed alone.
    public static func removableHiddenUnits(_ o: LanguageOptions) throws -> Int {
        try require(
            !o.tied,
            """
            with \(label("options.tied")) the decoder's weight is the embedding's, so a hidden unit's read-out column is also an \
            embedding dimension and cannot be removed alone: train without --tied.
            """
        )
        return o.hiddenSize
    }

    public static func memoryEstimate(_ o: LanguageOptions, training: TrainingConfig) -> Double {
        memoryEstimate(o, vocabularySize: assumedVocabularySize)
    }

    /// The bytes a run of `o` needs at its peak with a vocabulary of `vocabularySize` words.
    static func memoryEstimate(_ o: LanguageOptions, vocabularySize: Int) -> Double {
        let v = Double(vocabularySize)
        let (e, h, l) = (Double(o.embeddingSize), Double(o.hiddenSize), Double(o.layers))
        let g = Double(o.cell.gateCount)
        let parameters = 4 * 7 * (v * e * (o.tied ? 1 : 2) + v + l * g * h * (max(e, h) + h + 2))
        let rows = Double(o.bptt) * Double(max(o.batchSize, o.evaluationBatchSize))
        let buffers = 4 * 4 * rows * v  // logits and gradients, a full and a last window
        let caches = 4 * 2 * rows * l * h * (g + 4)
        return parameters + buffers + caches
    }

    /// Refuses options whose model and buffers over this corpus's vocabulary would not fit in 80%
    /// of `available` bytes, or by default in what the process may still take (`MemoryBudget`):
    /// the check of `memoryEstimate` once the vocabulary is known.
    static func checkMemory(_ o: LanguageOptions, vocabularySize: Int, available: Double? = nil) throws {
        try requireMemory(
            memoryEstimate(o, vocabularySize: vocabularySize), budget: available.map { .physical($0) } ?? .current(),
            what: "This run, over a vocabulary of \(vocabularySize) words,",
            reduce:
                """
                \(label("options.embeddingSize")), \(label("options.hiddenSize")), \(label("options.batchSize")) or \
                \(label("options.bptt")), or use a corpus with fewer distinct words
                """
        )
    }

    public func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> LanguageModel {
        LanguageModel(
            vocabularySize: corpus.vocabulary.count, embeddingSize: options.embeddingSize, hiddenSize: options.hiddenSize,
            layers: options.layers, cell: options.cell, dropout: options.dropout, tied: options.tied,
            store: store, rng: &rng)
    }

    public func roles(of model: LanguageModel) -> ParameterRoles {
        let pruned = options.prunedTensors == .recurrent ? model.rnn.recurrentWeights : model.prunableWeights
        // With tying the decoder's input axis is also the embedding's: the hidden units cannot be renumbered alone.
        let axes = options.tied ? [] : model.rnn.hiddenUnitAxes + [HiddenUnitAxis(slot: model.decoder.weight, dimension: 1)]
        return ParameterRoles(
            pruned: pruned, recurrent: model.rnn.recurrentWeights, hiddenSize: options.hiddenSize,
            networks: [model.rnn], linears: [model.decoder], hiddenUnitAxes: axes,
            batch: options.batchSize, linearRows: options.batchSize * options.bptt)
    }

    public func makeStream(rng: SeededGenerator) -> Stream {
        Stream(windows: BPTTWindows(bptt: options.bptt), states: [], rng: rng)
    }

    public func validate(stream: Stream) throws {
        try require(stream.windows.bptt == options.bptt, "its windows have bptt \(stream.windows.bptt), the run \(options.bptt).")
        // Windows start at multiples of bptt below rows - 1; after a pass's last one the position is past the last row.
        let position = stream.windows.position
        try require(
            position % options.bptt == 0 && position < train.rows - 1 + options.bptt,
            "its position \(position) is not the start of a window of \(options.bptt) rows over the training text's \(train.rows) rows.")
        guard !stream.states.isEmpty else { return }
        try require(
            stream.states.count == options.layers, "it carries \(stream.states.count) layer states, the model has \(options.layers) layers."
        )
        let size = options.batchSize * options.hiddenSize
        for (k, s) in stream.states.enumerated() {
            try require(
                s.hidden.count == size && (s.cell?.count ?? size) == size && (s.cell != nil) == options.cell.hasCellState,
                """
                layer \(k)'s carried state does not have the shape \(options.batchSize) x \
                \(options.hiddenSize)\(options.cell.hasCellState ? " with a cell state" : "").
                """
            )
            try require(
                s.hidden.allSatisfy(\.isFinite) && (s.cell?.allSatisfy(\.isFinite) ?? true), "layer \(k)'s carried state is not finite.")
        }
    }

    public func stepWorkspaceCount(_ model: LanguageModel) -> Int? {
        model.stepWorkspaceCount(steps: options.bptt, batch: options.batchSize)
    }

    /// The next window of the training text (a new pass, from the zero state, when one ends).
    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func trainStep<Backend: ComputeBackend>(
        _ model: LanguageModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        if stream.windows.isFinished(in: train) {
            stream.windows.rewind()
            stream.states = []
        }
        guard let window = stream.windows.next(in: train) else {
            throw ExperimentError("The training text has no window (checked when the task was built).")
        }
        let (b, h) = (options.batchSize, options.hiddenSize)
        let initial =
            stream.states.isEmpty
            ? model.rnn.zeroState(batch: b, as: Float.self)
            : stream.states.map {
                RecurrentState(
                    hidden: Matrix(rows: b, columns: h, scalars: $0.hidden),
                    cell: $0.cell.map { Matrix(rows: b, columns: h, scalars: $0) })
            }
        StepProfile.lap(.data)
        let (loss, final) = try model.lossAndGradients(
            inputs: window.inputs.map(Int.init), targets: window.targets.map(Int.init),
            batch: b, initial: initial, on: parameters, workspace: &workspace, rng: &stream.rng)
        stream.states = final.map { SavedState(hidden: $0.hidden.scalars, cell: $0.cell?.scalars) }
        return loss
    }

    /// A window of the evaluation text's columns.
    public func evaluationWorkspaceCount(_ model: LanguageModel) -> Int? {
        model.stepWorkspaceCount(steps: options.bptt, batch: max(valid.columns, test.columns))
    }

    /// `validLoss`, `validPerplexity`, `validAccuracy`; with `final` also `testLoss`,
    /// `testPerplexity`, `testAccuracy` (the test text is 11 times the validation text). The loss
    /// and the count of correct predictions of each window are computed on the backend.
    @_specialize(where Backend == CPUBackend<Float>)  // the trainer calls it unspecialized (StepDevice.swift)
    public func evaluate<Backend: ComputeBackend>(
        _ model: LanguageModel, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        var metrics: [String: Double] = [:]
        for (name, tokens) in final ? [("valid", valid), ("test", test)] : [("valid", valid)] {
            let r = try model.evaluate(tokens, bptt: options.bptt, on: parameters, workspace: &workspace)
            metrics[name + "Loss"] = r.loss
            metrics[name + "Perplexity"] = Foundation.exp(r.loss)
            metrics[name + "Accuracy"] = r.accuracy
        }
        return metrics
    }

    /// The top layer's hidden states over the test or validation text, as the evaluation runs it.
    public func hiddenStates(_ model: LanguageModel, _ store: ParameterStore<Float>, maximumRows: Int, inputs: StateInputs) -> Matrix<
        Float
    >? {
        model.hiddenStates(inputs == .test ? test : valid, bptt: options.bptt, store, maximumRows: maximumRows)
    }
}
