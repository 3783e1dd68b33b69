// The language model and its task: gradients against finite differences in Double (every cell,
// stacked layers, dropout, tying), evaluation against a column-by-column oracle, a tiny run end to
// end with exact resume (corpus position, carried state, dropout stream), option and stream checks,
// and sampling.
import Foundation
import Formats
import Testing
import Linalg
import _TestSupport
import NN
@testable import Experiments

@Suite struct LanguageTaskTests {
    /// A corpus directory of a few hundred tokens over a 12-word vocabulary.
    static func tinyCorpus() throws -> String {
        var rng = SeededGenerator(seed: 7)
        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "and", "big"]
        func text(_ lines: Int) -> [UInt8] {
            let body = (0..<lines).map { _ in
                (0..<(3 + rng.integer(below: 6))).map { _ in words[rng.integer(below: words.count)] }.joined(separator: " ")
            }
            return Array((body.joined(separator: "\n") + "\n").utf8)
        }
        return try CorpusTests.directory(["train.txt": text(60), "valid.txt": text(12), "test.txt": text(12)])
    }

    static func tinyConfig(data: String) -> LanguageConfig {
        var c = LanguageConfig()
        c.data = data
        c.embeddingSize = 6; c.hiddenSize = 8; c.batchSize = 4; c.evaluationBatchSize = 3; c.bptt = 5
        c.epochs = 3; c.stepsPerEpoch = 9; c.logEvery = 4
        c.optimizer.learningRate = 1
        return c
    }

    static func train(_ c: LanguageConfig, _ path: String, resume: Bool = false, stopAfterEpochs: Int? = nil) throws -> RunSummary? {
        try Trainer<LanguageTask>(config: c).train(
            in: RunDirectory(path: path, overwrite: false, resume: resume),
            resume: resume, stopAfterEpochs: stopAfterEpochs)
    }

    /// dLoss/dParameters of one window (state carried in, dropout on) against central differences.
    func checkGradients(cell: CellKind, layers: Int, dropout: Double, tied: Bool) {
        let (v, e, h, t, b) = (9, 4, 4, 3, 2)
        let store = ParameterStore<Double>()
        var rng = SeededGenerator(seed: 11)
        let model = LanguageModel(
            vocabularySize: v, embeddingSize: e, hiddenSize: h, layers: layers, cell: cell,
            dropout: dropout, tied: tied, store: store, rng: &rng)
        // Larger weights than the initialisation's, so that every path carries signal.
        for i in 0..<store.totalCount { store.values[i] = rng.normal(std: 0.5) }
        let inputs = (0..<(t * b)).map { _ in rng.integer(below: v) }, targets = (0..<(t * b)).map { _ in rng.integer(below: v) }
        let initial = model.rnn.layers.map { layer in
            RecurrentState<Double>(
                hidden: rng.normalMatrix(rows: b, columns: h, std: 0.3),
                cell: layer.hasCellState ? rng.normalMatrix(rows: b, columns: h, std: 0.3) : nil)
        }
        let dropoutRNG = SeededGenerator(seed: 5)
        var r = dropoutRNG
        store.zeroGradients()
        _ = model.lossAndGradients(inputs: inputs, targets: targets, batch: b, initial: initial, store, rng: &r)
        let analytic = Array(UnsafeBufferPointer(start: store.gradients.baseAddress!, count: store.totalCount))
        let numeric = GradientCheck.numericalGradient(store.values.baseAddress!, count: store.totalCount) {
            var r = dropoutRNG  // the same masks every time (the gradients it adds are not read again)
            return model.lossAndGradients(inputs: inputs, targets: targets, batch: b, initial: initial, store, rng: &r).loss
        }
        let error = GradientCheck.maxRelativeError(analytic, numeric)
        #expect(error < 1e-6, "\(cell.rawValue), \(layers) layer(s), dropout \(dropout), tied \(tied): max relative error \(error)")
        #expect(analytic.contains { abs($0) > 1e-3 }, "gradients are not all near zero")
    }

    @Test(arguments: [CellKind.rnnTanh, .rnnReLU, .lstm, .gru])
    func gradientsMatchFiniteDifferences(cell: CellKind) {
        checkGradients(cell: cell, layers: 2, dropout: 0, tied: false)
        checkGradients(cell: cell, layers: 2, dropout: 0.3, tied: true)
    }

    /// The batched evaluation (B columns, state carried across windows) against running each column
    /// alone with batch 1 and summing the negative log-likelihoods by hand.
    @Test func evaluationMatchesAColumnByColumnOracle() throws {
        let store = ParameterStore<Double>()
        var rng = SeededGenerator(seed: 3)
        let (v, columns, bptt) = (13, 3, 4)
        let model = LanguageModel(
            vocabularySize: v, embeddingSize: 5, hiddenSize: 6, layers: 2, cell: .lstm, dropout: 0,
            tied: false, store: store, rng: &rng)
        let ids = (0..<47).map { _ in Int32(rng.integer(below: v)) }
        let tokens = batchify(ids, columns: columns)
        let result = model.evaluate(tokens, bptt: bptt, store)
        #expect(result.predictions == (tokens.rows - 1) * columns)
        var nll = 0.0, correct = 0
        for column in 0..<columns {
            var state = model.rnn.zeroState(batch: 1, as: Double.self)
            for row in 0..<(tokens.rows - 1) {
                let target = Int(tokens[row + 1, column])
                model.logits(inputs: [Int(tokens[row, column])], batch: 1, state: &state, store) { logits in
                    let x = (0..<v).map { logits[0, $0] }
                    let m = x.max()!
                    nll += m + Foundation.log(x.map { Foundation.exp($0 - m) }.reduce(0, +)) - x[target]
                    if x.firstIndex(of: m) == target { correct += 1 }
                }
            }
        }
        let n = Double(result.predictions)
        #expect(abs(result.loss - nll / n) < 1e-12, "batched \(result.loss), column by column \(nll / n)")
        #expect(result.accuracy == Double(correct) / n)
    }

    @Test func aTinyRunTrainsAndWritesPyTorchNames() throws {
        let data = try Self.tinyCorpus(), path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: path) }
        var config = Self.tinyConfig(data: data)
        config.regularizer = .geometric(space: "torus", lambda: 0.1)
        config.pruning.targetSparsity = 0.5
        let summary = try #require(try Self.train(config, path))
        let ppl = try #require(summary["testPerplexity"]), unigram = try #require(summary.baselines["unigramTestPerplexity"])
        #expect(ppl.isFinite && ppl > 1 && ppl < 12, "test perplexity \(ppl) (vocabulary 12)")
        #expect(ppl < unigram * 1.1, "test perplexity \(ppl), unigram \(unigram)")
        #expect(summary["testAccuracy"] != nil && summary["validPerplexity"] != nil)
        #expect(abs(summary.main.sparsity.pooled.sparsity - 0.5) < 0.01)
        let (tensors, _) = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors")))
        #expect(
            Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.shape) })
                == [
                    "encoder.weight": [12, 6], "rnn.weight_ih_l0": [8, 6], "rnn.weight_hh_l0": [8, 8], "rnn.bias_ih_l0": [8],
                    "rnn.bias_hh_l0": [8], "decoder.weight": [12, 8], "decoder.bias": [12]
                ])
        // Validation every epoch, the test set only at the end.
        let lines = try MetricsLine.parseAll(String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8))
        let evals = lines.compactMap { if case .eval(let e) = $0 { e } else { nil } }
        #expect(evals.count == 3 && evals.allSatisfy { $0.metrics["validPerplexity"] != nil })
        #expect(evals.map { $0.metrics["testPerplexity"] != nil } == [false, false, true])
        // The finished model evaluates to the summary's numbers.
        let trained = try TrainedModel<LanguageTask>(runAt: path)
        let again = try trained.evaluate()
        #expect(again["testPerplexity"] == summary["testPerplexity"] && again["validLoss"] == summary["validLoss"])
    }

    @Test func resumingGivesTheSameRunAsNotStopping() throws {
        let data = try Self.tinyCorpus()
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { for p in [data, straight, split] { try? FileManager.default.removeItem(atPath: p) } }
        var config = Self.tinyConfig(data: data)
        config.cell = .lstm; config.dropout = 0.2; config.layers = 2
        config.stepsPerEpoch = 7  // not a whole pass (9 windows): epochs end inside a pass, with a carried state
        config.pruning.targetSparsity = 0.5
        config.lottery = .random
        let a = try #require(try Self.train(config, straight))
        #expect(try Self.train(config, split, stopAfterEpochs: 1) == nil)
        #expect(try Self.train(config, split, resume: true, stopAfterEpochs: 4) == nil)
        let b = try #require(try Self.train(config, split, resume: true))
        #expect(a.metrics == b.metrics && a.main.metrics == b.main.metrics)
        let ma = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let mb = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(ma == mb)
        #expect(
            withoutWallTimes(try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8))
                == withoutWallTimes(try String(contentsOfFile: split + "/metrics.jsonl", encoding: .utf8)))
    }

    /// A whole pruned run with its lottery phase on the sparse products (W_hh, W_ih's GEMMs aside,
    /// and the decoder: its own weight, or the embedding's when tied) gives the metrics of the same
    /// run on GEMMs to float rounding (within 5e-8 here; a decoder copy left stale after the
    /// optimizer steps is 3.5e-4 off or more): the sparse copies follow every optimizer step,
    /// pruning event and the lottery set-up.
    @Test(arguments: [false, true])
    func sparseKernelsGiveTheRunOfTheGEMMs(tied: Bool) throws {
        let data = try Self.tinyCorpus()
        let sparse = TestFiles.temporaryDirectory("moduli-tests"), dense = TestFiles.temporaryDirectory("moduli-tests")
        defer { for p in [data, sparse, dense] { try? FileManager.default.removeItem(atPath: p) } }
        var config = Self.tinyConfig(data: data)
        config.cell = .lstm
        config.tied = tied
        if tied { config.embeddingSize = config.hiddenSize }
        config.pruning.targetSparsity = 0.9
        config.pruning.tensorTargets = Array(repeating: 0.9, count: tied ? 3 : 4)  // every tensor below the 20% switch
        config.lottery = .random
        config.recurrentKernels = .auto
        let a = try #require(try Self.train(config, sparse))
        config.recurrentKernels = .dense
        let b = try #require(try Self.train(config, dense))
        for (phase, x, y) in [("main", a.main.metrics, b.main.metrics), ("lottery", a.metrics, b.metrics)] {
            #expect(Set(x.keys) == Set(y.keys))
            for (name, value) in x {
                let other = try #require(y[name])
                #expect(abs(value - other) <= 1e-6 * max(1, abs(other)), "tied \(tied), \(phase) \(name): sparse \(value), dense \(other)")
            }
        }
    }

    @Test func aCarriedStateOfTheWrongShapeIsRefused() throws {
        let data = try Self.tinyCorpus()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let task = try LanguageTask(options: Self.tinyConfig(data: data).options)
        var stream = task.makeStream(rng: SeededGenerator(seed: 1))
        try task.validate(stream: stream)
        // Every position a pass goes through, the one after its last window included.
        while stream.windows.next(in: task.train) != nil { try task.validate(stream: stream) }
        #expect(stream.windows.position > task.train.rows - 1)
        for position in [3, stream.windows.position + 5] {
            stream.windows = BPTTWindows(bptt: 5, position: position)
            #expect { try task.validate(stream: stream) } throws: { "\($0)".contains("position \(position)") }
        }
        stream.windows = BPTTWindows(bptt: 5)
        stream.states = [LanguageTask.SavedState(hidden: [Float](repeating: 0, count: 4 * 8), cell: nil)]
        try task.validate(stream: stream)
        stream.states = [LanguageTask.SavedState(hidden: [Float](repeating: 0, count: 5), cell: nil)]
        #expect { try task.validate(stream: stream) } throws: { "\($0)".contains("shape 4 x 8") }
        stream.states = [LanguageTask.SavedState(hidden: [Float](repeating: .nan, count: 32), cell: nil)]
        #expect { try task.validate(stream: stream) } throws: { "\($0)".contains("not finite") }
    }

    @Test func optionChecksNameTheOption() throws {
        let data = try Self.tinyCorpus()
        defer { try? FileManager.default.removeItem(atPath: data) }
        func message(_ change: (inout LanguageConfig) -> Void) -> String {
            var c = Self.tinyConfig(data: data)
            change(&c)
            do { _ = try Trainer<LanguageTask>(config: c); return "" } catch { return "\(error)" }
        }
        #expect(message { $0.tied = true }.contains("--tied"))
        #expect(message { $0.dropout = 1 }.contains("--dropout"))
        #expect(message { $0.bptt = 0 }.contains("--bptt"))
        #expect(message { $0.batchSize = 1000 }.contains("--batch-size"))  // fewer than 2 rows of training text
        #expect(message { $0.data = data + "/missing" }.contains("missing"))
        #expect(
            message {
                $0.pruning.targetSparsity = 0.5; $0.pruning.tensorTargets = [0.5]
            }.contains("needs 4 values"))
        #expect(message { _ in }.isEmpty)
        let paper = LanguagePreset.paper.config, small = LanguagePreset.small.config
        #expect(paper.embeddingSize == 650 && paper.hiddenSize == 650 && paper.cell == .rnnTanh && paper.epochs == 15)
        #expect(paper.optimizer == OptimizerConfig(kind: .sgd, learningRate: 20) && paper.clip == 0.25)
        #expect(paper.learningRateSchedule == LearningRateSchedule(kind: .plateau, factor: 4) && paper.pruning.targetSparsity == 0.9)
        #expect(small.embeddingSize == 200 && small.hiddenSize == 200)
        #expect(try LanguageTask.windowsPerPass(LanguageOptions()) == 280)  // the built-in split: 195,890 tokens, 20 columns, bptt 35
    }

    /// The memory check before the corpus is read assumes full WikiText-2's vocabulary; a corpus with
    /// many more words is checked again with its own, before anything is allocated for it.
    @Test func theMemoryCheckUsesTheCorpusVocabulary() throws {
        var o = LanguageOptions()
        o.embeddingSize = 1000; o.hiddenSize = 1000
        let gib = 1_073_741_824.0
        let assumed = LanguageTask.memoryEstimate(o, vocabularySize: LanguageTask.assumedVocabularySize)
        #expect(LanguageTask.memoryEstimate(o, training: LanguageTask.defaultTraining) == assumed)
        try LanguageTask.checkMemory(o, vocabularySize: LanguageTask.assumedVocabularySize, available: assumed / 0.79)
        #expect { try LanguageTask.checkMemory(o, vocabularySize: 500_000, available: assumed / 0.79) } throws: {
            "\($0)".contains("vocabulary of 500000 words") && "\($0)".contains("GiB") && "\($0)".contains("--embedding-size")
        }
        // Ten times the words: about ten times the bytes (embedding, decoder, logits).
        let ratio = LanguageTask.memoryEstimate(o, vocabularySize: 10 * LanguageTask.assumedVocabularySize) / assumed
        #expect(ratio > 9 && ratio < 10.01, "\(ratio)")
        #expect(assumed / gib > 1 && assumed / gib < 10, "\(assumed / gib) GiB")
    }

    @Test func samplingFollowsTheSoftmaxAndTheSeed() throws {
        // The sampler's frequencies against softmax(logits / T).
        let logits = Matrix<Float>(rows: 1, columns: 4, scalars: [0, 1, 2, -1])
        var probabilities = [Double](repeating: 0, count: 4)
        var rng = SeededGenerator(seed: 9)
        var counts = [0, 0, 0, 0]
        let n = 40_000
        for _ in 0..<n { counts[TextGenerator.sample(logits, temperature: 2, probabilities: &probabilities, rng: &rng)] += 1 }
        let w = [0.0, 1, 2, -1].map { Foundation.exp($0 / 2) }, z = w.reduce(0, +)
        for j in 0..<4 {
            let expected = w[j] / z, seen = Double(counts[j]) / Double(n)
            #expect(
                abs(seen - expected) < 4 * (expected * (1 - expected) / Double(n)).squareRoot() + 1e-3, "word \(j): \(seen) vs \(expected)")
        }
        // A whole run: the same seed gives the same words; a near-zero temperature gives the argmax.
        let data = try Self.tinyCorpus(), path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: path) }
        var config = Self.tinyConfig(data: data)
        config.epochs = 1; config.pruning.targetSparsity = 0
        _ = try Self.train(config, path)
        let generator = try TextGenerator(runAt: path)
        var a: [String] = [], b: [String] = [], greedy: [String] = []
        try generator.generate(words: 30, temperature: 1, seed: 4) { a.append($0) }
        try generator.generate(words: 30, temperature: 1, seed: 4) { b.append($0) }
        #expect(a == b && a.count == 30)
        try generator.generate(words: 5, temperature: 0.001, seed: 4, prompt: ["the", "cat"]) { greedy.append($0) }
        let model = generator.trained.model, store = generator.trained.store, vocabulary = generator.trained.task.corpus.vocabulary
        var state = model.rnn.zeroState(batch: 1, as: Float.self)
        var input = Int(vocabulary.id(of: "the")!)
        _ = model.logits(inputs: [input], batch: 1, state: &state, store) { _ in 0 }
        input = Int(vocabulary.id(of: "cat")!)
        var expected: [String] = []
        for _ in 0..<5 {
            input = model.logits(inputs: [input], batch: 1, state: &state, store) { Kernels.argmax($0.scalars, count: $0.columns) }
            expected.append(vocabulary.word(Int32(input)))
        }
        #expect(greedy == expected)
        #expect { try generator.generate(words: 3, temperature: 1, seed: 0, prompt: ["zebra"]) { _ in } } throws: {
            "\($0)".contains("'zebra' is not in the run's vocabulary")
        }
    }
}
