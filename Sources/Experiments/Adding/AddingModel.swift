// The adding-problem network (docs/method.md section 6): Elman layer(s), h0 = 0, and a linear read-out
// of the last hidden state. Parameter names match a PyTorch module with `rnn` and `fc`.
import Compute
import Linalg
import NN

/// Elman RNN (`rnn.*`) plus `fc = Linear(H -> 1)` on the final hidden state.
public struct AddingModel: Sendable {
    /// The recurrent stack.
    public let rnn: RecurrentNetwork
    /// The read-out.
    public let head: Linear
    /// The memory of a training step on the CPU, kept from step to step.
    let workspace = HostWorkspace<Float>()

    /// Registers the parameters in `store` with PyTorch's default initialisation.
    public init(kind: CellKind, hiddenSize: Int, layers: Int, bias: Bool, store: ParameterStore<Float>, rng: inout SeededGenerator) {
        rnn = RecurrentNetwork(
            kind: kind, inputSize: 2, hiddenSize: hiddenSize, layerCount: layers, bias: bias,
            name: "rnn", in: store, rng: &rng)
        head = Linear(inputSize: hiddenSize, outputSize: 1, name: "fc", in: store, rng: &rng)
    }

    /// The tensors pruned by the paper's adding protocol: every W_ih, W_hh and the read-out weight.
    public var prunableWeights: [ParameterSlot] {
        rnn.layers.flatMap { [$0.weightIH, $0.weightHH] } + [head.weight]
    }

    /// Predictions `B x 1` for a batch (`(T * B) x 2` inputs), on the CPU backend
    /// (`predict(_:batch:on:workspace:)`).
    public func predict(_ inputs: Matrix<Float>, batch: Int, _ store: ParameterStore<Float>) -> Matrix<Float> {
        guard let count = stepWorkspaceCount(steps: inputs.rows / max(batch, 1), batch: batch) else {
            preconditionFailure("the adding model's layers have no pass on the compute backend")
        }
        do {
            return try workspace.with(count: count) { cpu, workspace in
                Matrix(
                    rows: batch, columns: 1, scalars: try predict(inputs, batch: batch, on: store.buffers(on: cpu), workspace: &workspace))
            }
        } catch { preconditionFailure("adding model forward pass on the CPU backend: \(error)") }
    }

    /// Predictions for `batch` sequences (`(T * B) x 2` inputs, time-major, made on the host) on a
    /// backend: the inputs are uploaded into `workspace`, the `batch` predictions read back.
    /// `stepWorkspaceCount(steps:batch:)` elements suffice.
    public func predict<Backend: ComputeBackend>(
        _ inputs: Matrix<Float>, batch: Int, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>
    ) throws -> [Float] where Backend.Scalar == Float {
        let backend = parameters.backend
        let x = try backend.upload(inputs.scalars, into: &workspace)
        try workspace.startPage()
        let caches = try rnn.forward(on: parameters, x, steps: inputs.rows / batch, batch: batch, workspace: &workspace)
        let prediction = try workspace.take(batch)
        try head.forward(caches[caches.count - 1].final().hidden, rows: batch, into: prediction, parameters)
        return try backend.download(prediction)
    }

    /// Elements of workspace one training step (`lossAndGradients(_:on:workspace:)`) takes for
    /// `batch` sequences of `steps` steps, the uploaded batch included; nil when a layer has no
    /// backend pass.
    public func stepWorkspaceCount(steps: Int, batch: Int) -> Int? {
        guard let stack = rnn.workspaceCount(steps: steps, batch: batch) else { return nil }
        let bh = batch * rnn.hiddenSize
        let states = rnn.layers.flatMap { $0.hasCellState ? [bh, bh] : [bh] }  // the final-state gradients
        let uploads = Workspace<Float>.count(pieces: [steps * batch * 2, batch]) + Workspace<Float>.pageElements
        return uploads + stack + Workspace<Float>.count(pieces: [batch, batch, bh] + states)
    }

    /// One training step on a backend from a batch made on the host: uploads it into `workspace`
    /// and runs `lossAndGradients(inputs:targets:...)`. Returns the loss.
    public func lossAndGradients<Backend: ComputeBackend>(
        _ batch: AddingBatch, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>
    ) throws -> Double where Backend.Scalar == Float {
        let b = batch.targets.rows, backend = parameters.backend
        let inputs = try backend.upload(batch.inputs.scalars, into: &workspace)
        let targets = try backend.upload(batch.targets.scalars, into: &workspace)
        try workspace.startPage()
        return try lossAndGradients(
            inputs: inputs, targets: targets, steps: batch.inputs.rows / b, batch: b, on: parameters, workspace: &workspace)
    }

    /// One forward and backward pass of the MSE loss on a backend: `inputs` (`(T * B) x 2`,
    /// time-major) and `targets` (`B`) in its memory, activations taken from `workspace`. Adds the
    /// gradients into `parameters`; returns the loss. The model's one training pass.
    public func lossAndGradients<Backend: ComputeBackend>(
        inputs: ComputeBuffer<Float>, targets: ComputeBuffer<Float>, steps: Int, batch: Int,
        on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>
    ) throws -> Double where Backend.Scalar == Float {
        let backend = parameters.backend, bh = batch * rnn.hiddenSize
        let caches = try rnn.forward(on: parameters, inputs, steps: steps, batch: batch, workspace: &workspace)
        let last = try caches[caches.count - 1].final().hidden
        let prediction = try workspace.take(batch), dPrediction = try workspace.take(batch)
        try head.forward(last, rows: batch, into: prediction, parameters)
        let loss = try MeanSquaredError.lossAndGradient(prediction: prediction, target: targets, into: dPrediction, on: backend)
        StepProfile.lap(.forward)
        let dLast = try workspace.take(bh)
        try head.backward(input: last, dOutput: dPrediction, rows: batch, dInput: dLast, parameters)
        // Only the final state is read out: the top layer's h gets dLast, every other state zero.
        var dFinal: [StateBuffers<Float>] = []
        for (k, layer) in rnn.layers.enumerated() {
            func zero() throws -> ComputeBuffer<Float> {
                let b = try workspace.take(bh)
                try backend.fill(b, with: 0)
                return b
            }
            let hidden = k == rnn.layers.count - 1 ? dLast : try zero()
            dFinal.append(StateBuffers(hidden: hidden, cell: layer.hasCellState ? try zero() : nil))
        }
        _ = try rnn.backward(on: parameters, caches, dOutput: nil, dFinal: dFinal, workspace: &workspace)
        StepProfile.lap(.backward)
        return loss
    }

    /// One training step on the CPU backend over the store's memory; adds gradients into the
    /// store, returns the loss.
    public func lossAndGradients(_ batch: AddingBatch, _ store: ParameterStore<Float>) -> Double {
        let b = batch.targets.rows, steps = batch.inputs.rows / b
        guard let count = stepWorkspaceCount(steps: steps, batch: b) else {
            preconditionFailure("the adding model's layers have no pass on the compute backend")
        }
        do {
            return try workspace.with(count: count) { cpu, workspace in
                try lossAndGradients(batch, on: store.buffers(on: cpu), workspace: &workspace)
            }
        } catch { preconditionFailure("adding model step on the CPU backend: \(error)") }
    }

    /// Mean squared error over a fixed set on a backend, in chunks of `chunk` sequences (each
    /// chunk's inputs uploaded into `workspace`, reset before each).
    public func meanSquaredError<Backend: ComputeBackend>(
        _ set: AddingBatch, length: Int, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>,
        chunk: Int = Self.evaluationChunk
    ) throws -> Double where Backend.Scalar == Float {
        let n = set.targets.rows
        var total = 0.0, start = 0
        while start < n {
            let size = min(chunk, n - start)
            workspace.reset()
            let p = try predict(
                Self.inputs(of: set, length: length, from: start, count: size), batch: size, on: parameters, workspace: &workspace)
            for b in 0..<size {
                let e = Double(p[b]) - Double(set.targets[start + b, 0])
                total += e * e
            }
            start += size
        }
        return total / Double(n)
    }

    /// Sequences per chunk of an evaluation.
    public static let evaluationChunk = 500

    /// The inputs `(T * count) x 2` of sequences `start ..< start + count` of `set`.
    static func inputs(of set: AddingBatch, length: Int, from start: Int, count: Int) -> Matrix<Float> {
        let n = set.targets.rows
        var inputs = Matrix<Float>(rows: length * count, columns: 2)
        for t in 0..<length {
            for b in 0..<count {
                inputs[t * count + b, 0] = set.inputs[t * n + start + b, 0]
                inputs[t * count + b, 1] = set.inputs[t * n + start + b, 1]
            }
        }
        return inputs
    }

    /// Runs the recurrent stack over `set` in chunks of `chunk` sequences, calling `body` with each
    /// chunk's caches and the index of its first sequence, until `body` returns false.
    func forEachChunk(
        _ set: AddingBatch, length: Int, _ store: ParameterStore<Float>, chunk: Int = evaluationChunk,
        _ body: ([RecurrentCache<Float>], Int) -> Bool
    ) {
        let n = set.targets.rows
        var start = 0
        while start < n {
            let size = min(chunk, n - start)
            guard body(rnn.forward(Self.inputs(of: set, length: length, from: start, count: size), batch: size, store), start) else {
                return
            }
            start += size
        }
    }
}
