// The word-level language model (docs/method.md section 5): embedding -> tanh/ReLU RNN, LSTM or GRU
// (1 to 3 layers, dropout) -> decoder over the vocabulary, with optional weight tying. Parameter
// names match PyTorch's word_language_model example: `encoder`, `rnn`, `decoder`.
import Linalg
import NN

/// The decoder's logits and their gradient for each window size and scalar type, allocated once:
/// the softmax over the vocabulary is the largest array of a step (bptt x B x V floats), and a fresh
/// one every step would cost page faults as well as the allocation.
final class DecoderBuffers: @unchecked Sendable {  // used by one thread at a time: the model's owner
    private var logits: [Int: Any] = [:]
    private var gradients: [Int: Any] = [:]
    let vocabularySize: Int

    init(vocabularySize: Int) { self.vocabularySize = vocabularySize }

    /// Runs `body` with the `rows x V` logits buffer (and gradient buffer when `withGradient`).
    func with<S: BLASScalar, R>(
        rows: Int, withGradient: Bool, as: S.Type = S.self,
        _ body: (inout Matrix<S>, inout Matrix<S>) -> R
    ) -> R {
        var l = logits.removeValue(forKey: rows) as? Matrix<S> ?? Matrix(rows: rows, columns: vocabularySize)
        var g =
            withGradient
            ? gradients.removeValue(forKey: rows) as? Matrix<S> ?? Matrix(rows: rows, columns: vocabularySize)
            : Matrix(rows: 0, columns: vocabularySize)
        defer {
            logits[rows] = l
            if withGradient { gradients[rows] = g }
        }
        return body(&l, &g)
    }
}

/// Embedding (`encoder`), recurrent stack (`rnn`), linear decoder (`decoder`) over the vocabulary.
public struct LanguageModel: Sendable {
    /// Word vectors `V x E`.
    public let encoder: Embedding
    /// The recurrent stack, E -> H.
    public let rnn: RecurrentNetwork
    /// H -> V; with tying its weight is the encoder's.
    public let decoder: Linear
    /// Dropout on the embedding and on every layer's output (inactive at p = 0).
    public let dropout: Dropout
    /// Whether the decoder shares the encoder's weight.
    public let tied: Bool
    let buffers: DecoderBuffers

    /// Registers the parameters with the example's initialisation: encoder and decoder weights
    /// U(-0.1, 0.1), decoder bias 0, the recurrent layers PyTorch's default.
    public init<S: BLASScalar>(
        vocabularySize: Int, embeddingSize: Int, hiddenSize: Int, layers: Int, cell: CellKind,
        dropout: Double, tied: Bool, store: ParameterStore<S>, rng: inout SeededGenerator
    ) {
        precondition(!tied || embeddingSize == hiddenSize, "Weight tying needs the embedding size to equal the hidden size")
        encoder = Embedding(
            vocabularySize: vocabularySize, embeddingSize: embeddingSize, name: "encoder", in: store, rng: &rng,
            weightInit: .uniform(bound: 0.1))
        rnn = RecurrentNetwork(
            kind: cell, inputSize: embeddingSize, hiddenSize: hiddenSize, layerCount: layers, bias: true,
            name: "rnn", in: store, rng: &rng)
        if tied {
            let bias = store.add("decoder.bias", shape: [vocabularySize], .zeros, rng: &rng)
            decoder = Linear(sharing: encoder.weight, bias: bias, in: store)
        } else {
            decoder = Linear(
                inputSize: hiddenSize, outputSize: vocabularySize, name: "decoder", in: store, rng: &rng,
                weightInit: .uniform(bound: 0.1), biasInit: .zeros)
        }
        self.dropout = Dropout(probability: dropout)
        self.tied = tied
        buffers = DecoderBuffers(vocabularySize: vocabularySize)
    }

    /// The tensors of the paper's pooled pruning: embedding, decoder weight (once when tied), then
    /// every layer's W_ih and W_hh.
    public var prunableWeights: [ParameterSlot] {
        [encoder.weight] + (tied ? [] : [decoder.weight]) + rnn.layers.flatMap { [$0.weightIH, $0.weightHH] }
    }

    /// One window of training: forward over `inputs` (`T * B` ids, time-major) from `initial`,
    /// cross-entropy against `targets`, backward; adds the gradients into `store`. Returns the mean
    /// loss and the final state of every layer (carried, detached, into the next window). Dropout
    /// masks come from `rng`.
    public func lossAndGradients<S: BLASScalar>(
        inputs: [Int], targets: [Int], batch: Int, initial: [RecurrentState<S>],
        _ store: ParameterStore<S>, rng: inout SeededGenerator
    )
        -> (loss: Double, final: [RecurrentState<S>])
    {
        let n = inputs.count
        let products = rnn.products
        var masks: [Matrix<S>] = []
        var x = encoder.forward(inputs, store)
        if dropout.isActive {
            masks.append(dropout.mask(rows: n, columns: x.columns, rng: &rng))
            Dropout.apply(masks[0], to: &x)
        }
        var caches: [RecurrentCache<S>] = []
        for (k, layer) in rnn.layers.enumerated() {
            let cache = layer.forward(x, batch: batch, initial: initial[k], store, product: products[k])
            x = cache.output
            if dropout.isActive {
                masks.append(dropout.mask(rows: n, columns: x.columns, rng: &rng))
                Dropout.apply(masks[k + 1], to: &x)
            }
            caches.append(cache)
        }
        let top = x
        var d = Matrix<S>(rows: n, columns: rnn.hiddenSize) { _ in }  // written whole by the decoder's backward
        let loss = buffers.with(rows: n, withGradient: true, as: S.self) { logits, dLogits in
            decoder.forward(top, store, into: &logits)
            let loss = CrossEntropy.lossAndGradient(logits: logits, targets: targets, into: &dLogits).loss
            decoder.backward(input: top, dOutput: dLogits, store, dInput: &d)
            return loss
        }
        StepProfile.lap(.forward)
        for k in stride(from: rnn.layers.count - 1, through: 0, by: -1) {
            if dropout.isActive { Dropout.apply(masks[k + 1], to: &d) }
            d = rnn.layers[k].backward(caches[k], dOutput: d, dFinal: nil, store, needInputGradient: true, product: products[k]).dInput
        }
        if dropout.isActive { Dropout.apply(masks[0], to: &d) }
        encoder.backward(indices: inputs, dOutput: d, store)
        StepProfile.lap(.backward)
        return (loss, caches.map(\.final))
    }

    /// Runs `inputs` (`T * B` ids, time-major) from `state` without dropout, updates `state` to the
    /// final one and calls `body` with the `(T * B) x V` logits (valid only inside `body`).
    public func logits<S: BLASScalar, R>(
        inputs: [Int], batch: Int, state: inout [RecurrentState<S>], _ store: ParameterStore<S>,
        _ body: (Matrix<S>) -> R
    ) -> R {
        let products = rnn.products
        var x = encoder.forward(inputs, store)
        for (k, layer) in rnn.layers.enumerated() {
            let cache = layer.forward(x, batch: batch, initial: state[k], store, product: products[k])
            x = cache.output
            state[k] = cache.final
        }
        let top = x
        return buffers.with(rows: inputs.count, withGradient: false, as: S.self) { logits, _ in
            decoder.forward(top, store, into: &logits)
            return body(logits)
        }
    }

    /// The top layer's hidden states over `tokens` (windows of `bptt` rows, the state carried from
    /// zero, no dropout, as `evaluate` runs them), at most `maximumRows` rows: row `t * B + b` of a
    /// window is column b after its step t.
    public func hiddenStates(_ tokens: BatchifiedTokens, bptt: Int, _ store: ParameterStore<Float>, maximumRows: Int) -> Matrix<Float> {
        var state = rnn.zeroState(batch: tokens.columns, as: Float.self)
        var windows = BPTTWindows(bptt: bptt)
        var rows = RowCollector(columns: rnn.hiddenSize, limit: maximumRows)
        let products = rnn.products
        while !rows.isFull, let w = windows.next(in: tokens) {
            var x = encoder.forward(w.inputs.map(Int.init), store)
            for (k, layer) in rnn.layers.enumerated() {
                let cache = layer.forward(x, batch: w.columns, initial: state[k], store, product: products[k])
                x = cache.output
                state[k] = cache.final
            }
            rows.append(x)
        }
        return rows.matrix
    }

    /// Mean cross-entropy and top-1 accuracy over every prediction of `tokens` (the example's
    /// `evaluate`: windows of `bptt` rows, the state carried from zero, no dropout). The loss is
    /// the mean over all `(rows - 1) x B` predictions, and so is the accuracy.
    public func evaluate<S: BLASScalar>(_ tokens: BatchifiedTokens, bptt: Int, _ store: ParameterStore<S>)
        -> (loss: Double, accuracy: Double, predictions: Int)
    {
        var state = rnn.zeroState(batch: tokens.columns, as: S.self)
        var windows = BPTTWindows(bptt: bptt)
        var lossSum = 0.0, correct = 0, count = 0
        while let w = windows.next(in: tokens) {
            let targets = w.targets.map(Int.init)
            let r = logits(inputs: w.inputs.map(Int.init), batch: w.columns, state: &state, store) {
                CrossEntropy.evaluate(logits: $0, targets: targets)
            }
            lossSum += r.loss * Double(targets.count)
            correct += r.correct
            count += targets.count
        }
        guard count > 0 else { return (.nan, .nan, 0) }
        return (lossSum / Double(count), Double(correct) / Double(count), count)
    }
}
