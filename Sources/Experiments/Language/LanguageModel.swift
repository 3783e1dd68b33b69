// The word-level language model (docs/method.md section 5): embedding -> tanh/ReLU RNN, LSTM or GRU
// (1 to 3 layers, dropout) -> decoder over the vocabulary, with optional weight tying. Parameter
// names match PyTorch's word_language_model example: `encoder`, `rnn`, `decoder`.
import Compute
import Linalg
import NN

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
    /// The memory of a training window on the CPU, kept from window to window.
    let workspaces = HostWorkspaces()

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
    }

    /// The tensors of the paper's pooled pruning: embedding, decoder weight (once when tied), then
    /// every layer's W_ih and W_hh.
    public var prunableWeights: [ParameterSlot] {
        [encoder.weight] + (tied ? [] : [decoder.weight]) + rnn.layers.flatMap { [$0.weightIH, $0.weightHH] }
    }

    /// Elements of workspace one window of training (`lossAndGradients(on:...)`) takes for
    /// `batch` columns of `steps` steps; nil when a layer has no backend pass.
    public func stepWorkspaceCount(steps: Int, batch: Int) -> Int? {
        guard let stack = rnn.workspaceCount(steps: steps, batch: batch) else { return nil }
        let (n, h, v) = (steps * batch, rnn.hiddenSize, decoder.outputSize)
        let dropped = dropout.isActive ? rnn.layers.count : 0  // a copy of each layer's output to drop out
        let states = rnn.layers.reduce(0) { $0 + batch * h * ($1.hasCellState ? 2 : 1) }
        let masks = dropout.isActive ? n * encoder.embeddingSize + rnn.layers.count * n * h : 0
        let uploads = Workspace<Float>.count(pieces: [2 * n, states, masks]) + Workspace<Float>.pageElements
        return uploads + stack
            + Workspace<Float>.count(pieces: [n * encoder.embeddingSize, n * v, n * v, n * h] + Array(repeating: n * h, count: dropped))
    }

    /// The forward pass over a window on a backend, up to the logits: the embedding of `inputs`
    /// (`T * B` ids stored as scalars, time-major), every layer from `initial`, dropout with `masks`
    /// (the embedding's, then each layer's output's; none in evaluation), the decoder. Returns the
    /// layers' caches, the decoder's input and the `(T * B) x V` logits, all in `workspace`.
    func forward<Backend: ComputeBackend>(
        inputs: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, initial: [StateBuffers<Backend.Scalar>],
        masks: [ComputeBuffer<Backend.Scalar>], on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Backend.Scalar>
    ) throws -> (caches: [CacheBuffers<Backend.Scalar>], top: ComputeBuffer<Backend.Scalar>, logits: ComputeBuffer<Backend.Scalar>) {
        let backend = parameters.backend, products = rnn.products, layers = try rnn.backendLayers()
        let (n, h, v) = (steps * batch, rnn.hiddenSize, decoder.outputSize)
        let dropping = !masks.isEmpty
        guard !dropping || masks.count == layers.count + 1, initial.count == layers.count else {
            throw ComputeError.invalidArgument(
                "language model: \(masks.count) dropout masks and \(initial.count) initial states for \(layers.count) layers")
        }
        var x = try workspace.take(n * encoder.embeddingSize)
        try encoder.forward(inputs, count: n, into: x, parameters)
        if dropping { try Dropout.apply(masks[0], to: x, on: backend) }
        var caches: [CacheBuffers<Backend.Scalar>] = []
        for (k, layer) in layers.enumerated() {
            let cache = try layer.forward(
                on: parameters, x, steps: steps, batch: batch, initial: initial[k], workspace: &workspace, product: products[k])
            x = try cache.output()
            if dropping {  // dropped out in a copy: the cache keeps the layer's own outputs
                let dropped = try workspace.take(n * h)
                try backend.copy(x, to: dropped)
                try Dropout.apply(masks[k + 1], to: dropped, on: backend)
                x = dropped
            }
            caches.append(cache)
        }
        let logits = try workspace.take(n * v)
        try decoder.forward(x, rows: n, into: logits, parameters)
        return (caches, x, logits)
    }

    /// One window of training on a backend: forward over `inputs` (`T * B` token ids stored as
    /// scalars, time-major) from `initial`, cross-entropy against `targets` (likewise), backward;
    /// adds the gradients into `parameters`. `masks` holds the dropout masks of the embedding and
    /// of each layer's output (`(T * B) x E`, then `(T * B) x H` each; empty without dropout).
    /// Returns the mean loss and the final state of every layer (views into `workspace`, valid
    /// until it is reset). The model's one training pass.
    public func lossAndGradients<Backend: ComputeBackend>(
        inputs: ComputeBuffer<Backend.Scalar>, targets: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: [StateBuffers<Backend.Scalar>], masks: [ComputeBuffer<Backend.Scalar>], on parameters: ParameterBuffers<Backend>,
        workspace: inout Workspace<Backend.Scalar>
    ) throws -> (loss: Double, final: [StateBuffers<Backend.Scalar>]) {
        let backend = parameters.backend, products = rnn.products, layers = try rnn.backendLayers()
        let (n, h, v) = (steps * batch, rnn.hiddenSize, decoder.outputSize)
        guard masks.count == (dropout.isActive ? layers.count + 1 : 0) else {
            throw ComputeError.invalidArgument("language model: \(masks.count) dropout masks for \(layers.count) layers")
        }
        let (caches, x, logits) = try forward(
            inputs: inputs, steps: steps, batch: batch, initial: initial, masks: masks, on: parameters, workspace: &workspace)
        let dLogits = try workspace.take(n * v)
        let loss = try CrossEntropy.lossAndGradient(logits: logits, targets: targets, rows: n, classes: v, into: dLogits, on: backend).loss
        var d: ComputeBuffer<Backend.Scalar>? = try workspace.take(n * h)
        try decoder.backward(input: x, dOutput: dLogits, rows: n, dInput: d, parameters)
        StepProfile.lap(.forward)
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            if dropout.isActive, let d { try Dropout.apply(masks[k + 1], to: d, on: backend) }
            d = try layers[k].backward(
                on: parameters, caches[k], dOutput: d, dFinal: nil as StateBuffers<Backend.Scalar>?, workspace: &workspace,
                needInputGradient: true, product: products[k]
            ).dInput
        }
        guard let d else { throw ComputeError.invalidArgument("language model: the bottom layer gave no input gradient") }
        if dropout.isActive { try Dropout.apply(masks[0], to: d, on: backend) }
        try encoder.backward(inputs, count: n, dOutput: d, parameters)
        StepProfile.lap(.backward)
        return (loss, try caches.map { try $0.final() })
    }

    /// One window of training on a backend from data on the host: forward over `inputs` (`T * B`
    /// ids, time-major) from `initial`, cross-entropy against `targets`, backward; adds the
    /// gradients into `parameters`. The ids, the states and the dropout masks (drawn from `rng`:
    /// the embedding's, then each layer's, in that order) are uploaded into `workspace`. Returns the
    /// mean loss and the final state of every layer (downloaded, carried detached into the next
    /// window).
    public func lossAndGradients<Backend: ComputeBackend>(
        inputs: [Int], targets: [Int], batch: Int, initial: [RecurrentState<Backend.Scalar>],
        on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Backend.Scalar>, rng: inout SeededGenerator
    ) throws -> (loss: Double, final: [RecurrentState<Backend.Scalar>]) {
        typealias S = Backend.Scalar
        let n = inputs.count, steps = n / batch, h = rnn.hiddenSize, backend = parameters.backend
        guard n % batch == 0 && targets.count == n && initial.count == rnn.layers.count else {
            throw ComputeError.invalidArgument("language model: \(n) inputs, \(targets.count) targets, batch \(batch)")
        }
        for (i, t) in zip(inputs, targets) {
            guard (0..<encoder.vocabularySize).contains(i) && (0..<decoder.outputSize).contains(t) else {
                throw ComputeError.invalidArgument("language model: token \(i) or target \(t) is outside the vocabulary")
            }
        }
        var masks: [Matrix<S>] = []
        if dropout.isActive {
            masks.append(dropout.mask(rows: n, columns: encoder.embeddingSize, rng: &rng))
            for _ in rnn.layers { masks.append(dropout.mask(rows: n, columns: h, rng: &rng)) }
        }
        let ids = try backend.upload(inputs.map { S($0) } + targets.map { S($0) }, into: &workspace)
        let states = try upload(initial, batch: batch, on: backend, workspace: &workspace)
        let maskBuffer = try backend.upload(masks.flatMap(\.scalars), into: &workspace)
        try workspace.startPage()
        let maskBuffers = try masks.indices.map { k in
            try maskBuffer.slice(from: k == 0 ? 0 : n * encoder.embeddingSize + (k - 1) * n * h, count: masks[k].count)
        }
        let (loss, final) = try lossAndGradients(
            inputs: ids.slice(from: 0, count: n), targets: ids.slice(from: n, count: n), steps: steps, batch: batch,
            initial: states, masks: maskBuffers, on: parameters, workspace: &workspace)
        return (loss, try download(final, batch: batch, on: backend))
    }

    /// Uploads every layer's state (`batch x H`: hidden, then cell where the layer has one) into
    /// `workspace` as one piece; returns each layer's views of it.
    private func upload<Backend: ComputeBackend>(
        _ states: [RecurrentState<Backend.Scalar>], batch: Int, on backend: Backend, workspace: inout Workspace<Backend.Scalar>
    ) throws -> [StateBuffers<Backend.Scalar>] {
        let bh = batch * rnn.hiddenSize
        let all = try backend.upload(states.flatMap { $0.hidden.scalars + ($0.cell?.scalars ?? []) }, into: &workspace)
        var offset = 0
        return try rnn.layers.map { layer in
            let hidden = try all.slice(from: offset, count: bh)
            offset += bh
            guard layer.hasCellState else { return StateBuffers(hidden: hidden) }
            defer { offset += bh }
            return StateBuffers(hidden: hidden, cell: try all.slice(from: offset, count: bh))
        }
    }

    /// Every layer's state read back from the backend.
    private func download<Backend: ComputeBackend>(
        _ states: [StateBuffers<Backend.Scalar>], batch: Int, on backend: Backend
    ) throws -> [RecurrentState<Backend.Scalar>] {
        let h = rnn.hiddenSize
        return try states.map { state in
            RecurrentState(
                hidden: Matrix(rows: batch, columns: h, scalars: try backend.download(state.hidden)),
                cell: try state.cell.map { Matrix(rows: batch, columns: h, scalars: try backend.download($0)) })
        }
    }

    /// One window of training on the CPU backend over the store's memory (see the backend form
    /// above); adds the gradients into `store`.
    public func lossAndGradients<S: BLASScalar>(
        inputs: [Int], targets: [Int], batch: Int, initial: [RecurrentState<S>],
        _ store: ParameterStore<S>, rng: inout SeededGenerator
    )
        -> (loss: Double, final: [RecurrentState<S>])
    {
        guard let count = stepWorkspaceCount(steps: inputs.count / max(batch, 1), batch: batch) else {
            preconditionFailure("the language model's layers have no pass on the compute backend")
        }
        do {
            return try workspaces.workspace(S.self).with(count: count) { cpu, workspace in
                try lossAndGradients(
                    inputs: inputs, targets: targets, batch: batch, initial: initial, on: store.buffers(on: cpu), workspace: &workspace,
                    rng: &rng)
            }
        } catch { preconditionFailure("language model step on the CPU backend: \(error)") }
    }

    /// Runs `inputs` (`T * B` ids, time-major) from `state` without dropout on a backend: the ids
    /// and the state are uploaded into `workspace`, `state` becomes the final one (read back).
    /// Returns the `(T * B) x V` logits, in `workspace`. `stepWorkspaceCount(steps:batch:)` elements
    /// suffice.
    public func logits<Backend: ComputeBackend>(
        inputs: [Int], batch: Int, state: inout [RecurrentState<Backend.Scalar>], on parameters: ParameterBuffers<Backend>,
        workspace: inout Workspace<Backend.Scalar>
    ) throws -> ComputeBuffer<Backend.Scalar> {
        typealias S = Backend.Scalar
        let backend = parameters.backend, n = inputs.count
        guard batch >= 1, n % batch == 0, state.count == rnn.layers.count else {
            throw ComputeError.invalidArgument("language model: \(n) inputs, batch \(batch), \(state.count) states")
        }
        guard inputs.allSatisfy({ (0..<encoder.vocabularySize).contains($0) }) else {
            throw ComputeError.invalidArgument("language model: an input token is outside the vocabulary")
        }
        let ids = try backend.upload(inputs.map { S($0) }, into: &workspace)
        let initial = try upload(state, batch: batch, on: backend, workspace: &workspace)
        try workspace.startPage()
        let (caches, _, logits) = try forward(
            inputs: ids, steps: n / batch, batch: batch, initial: initial, masks: [], on: parameters, workspace: &workspace)
        state = try download(caches.map { try $0.final() }, batch: batch, on: backend)
        return logits
    }

    /// Runs `inputs` (`T * B` ids, time-major) from `state` without dropout on the CPU backend,
    /// updates `state` to the final one and calls `body` with the `(T * B) x V` logits.
    public func logits<S: BLASScalar, R>(
        inputs: [Int], batch: Int, state: inout [RecurrentState<S>], _ store: ParameterStore<S>,
        _ body: (Matrix<S>) -> R
    ) -> R {
        guard let count = stepWorkspaceCount(steps: inputs.count / max(batch, 1), batch: batch) else {
            preconditionFailure("the language model's layers have no pass on the compute backend")
        }
        do {
            let rows = try workspaces.workspace(S.self).with(count: count) { cpu, workspace in
                let l = try logits(inputs: inputs, batch: batch, state: &state, on: store.buffers(on: cpu), workspace: &workspace)
                return Matrix(rows: inputs.count, columns: decoder.outputSize, scalars: try cpu.download(l))
            }
            return body(rows)
        } catch { preconditionFailure("language model forward pass on the CPU backend: \(error)") }
    }

    /// Mean cross-entropy and top-1 accuracy over every prediction of `tokens` (the example's
    /// `evaluate`: windows of `bptt` rows, the state carried from zero, no dropout) on a backend;
    /// each window's ids and state are uploaded into `workspace` (reset before each), and only the
    /// loss, the count of correct predictions and the final state are read back. The loss is the
    /// mean over all `(rows - 1) x B` predictions, and so is the accuracy.
    public func evaluate<Backend: ComputeBackend>(
        _ tokens: BatchifiedTokens, bptt: Int, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Backend.Scalar>
    ) throws -> (loss: Double, accuracy: Double, predictions: Int) {
        typealias S = Backend.Scalar
        var state = rnn.zeroState(batch: tokens.columns, as: S.self)
        var windows = BPTTWindows(bptt: bptt)
        var lossSum = 0.0, correct = 0, count = 0
        while let w = windows.next(in: tokens) {
            workspace.reset()
            let targets = w.targets.map(Int.init)
            let logits = try logits(inputs: w.inputs.map(Int.init), batch: w.columns, state: &state, on: parameters, workspace: &workspace)
            guard targets.allSatisfy({ (0..<decoder.outputSize).contains($0) }) else {
                throw ComputeError.invalidArgument("language model: a target token is outside the vocabulary")
            }
            let stored = try parameters.backend.upload(targets.map { S($0) }, into: &workspace)
            let r = try CrossEntropy.lossAndGradient(
                logits: logits, targets: stored, rows: targets.count, classes: decoder.outputSize, into: nil, on: parameters.backend)
            lossSum += r.loss * Double(targets.count)
            correct += r.correct
            count += targets.count
        }
        guard count > 0 else { return (.nan, .nan, 0) }
        return (lossSum / Double(count), Double(correct) / Double(count), count)
    }

    /// `evaluate(_:bptt:on:workspace:)` on the CPU backend over `store`'s own memory.
    public func evaluate<S: BLASScalar>(_ tokens: BatchifiedTokens, bptt: Int, _ store: ParameterStore<S>)
        -> (loss: Double, accuracy: Double, predictions: Int)
    {
        guard let count = stepWorkspaceCount(steps: bptt, batch: tokens.columns) else {
            preconditionFailure("the language model's layers have no pass on the compute backend")
        }
        do {
            return try workspaces.workspace(S.self).with(count: count) { cpu, workspace in
                try evaluate(tokens, bptt: bptt, on: store.buffers(on: cpu), workspace: &workspace)
            }
        } catch { preconditionFailure("language model evaluation on the CPU backend: \(error)") }
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
}
