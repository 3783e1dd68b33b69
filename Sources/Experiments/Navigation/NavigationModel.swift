// The path-integration network of docs/method.md section 4: h0 = encoder(place code of the start), a
// ReLU RNN without bias over the velocity inputs, and a decoder to place-cell logits at every step.
// Parameter names match a PyTorch module with `encoder`, `rnn` (nn.RNN) and `decoder`.
import Compute
import Linalg
import NN

/// `encoder = Linear(Np -> Ng, no bias)`, `rnn = RNN(2, Ng, relu, no bias)`, `decoder = Linear(Ng -> Np, no bias)`.
public struct NavigationModel: Sendable {
    /// Place-cell code of the start -> initial hidden state.
    public let encoder: Linear
    /// The recurrent network over velocities.
    public let rnn: RecurrentNetwork
    /// Hidden state -> place-cell logits.
    public let decoder: Linear
    /// The memory of a training step on the CPU, kept from step to step.
    let workspace = HostWorkspace<Float>()

    /// Registers the parameters in `store` with PyTorch's default initialisation (encoder, rnn, decoder, in that order).
    public init(placeCells: Int, hiddenSize: Int, store: ParameterStore<Float>, rng: inout SeededGenerator) {
        encoder = Linear(inputSize: placeCells, outputSize: hiddenSize, bias: false, name: "encoder", in: store, rng: &rng)
        rnn = RecurrentNetwork(
            kind: .rnnReLU, inputSize: 2, hiddenSize: hiddenSize, layerCount: 1, bias: false,
            name: "rnn", in: store, rng: &rng)
        decoder = Linear(inputSize: hiddenSize, outputSize: placeCells, bias: false, name: "decoder", in: store, rng: &rng)
    }

    /// The tensors pruned by the paper's navigation protocol: encoder, W_ih, W_hh and decoder.
    public var prunableWeights: [ParameterSlot] {
        [encoder.weight] + rnn.layers.flatMap { [$0.weightIH, $0.weightHH] } + [decoder.weight]
    }

    /// Place-cell logits `(T * B) x Np` for start codes `B x Np` and velocities `(T * B) x 2`, on
    /// the CPU backend (`logits(start:velocities:on:workspace:)`).
    public func logits(start: Matrix<Float>, velocities: Matrix<Float>, _ store: ParameterStore<Float>) -> Matrix<Float> {
        onCPU(start: start, velocities: velocities, store) { cpu, workspace in
            try logits(start: start, velocities: velocities, on: store.buffers(on: cpu), workspace: &workspace)
        }
    }

    /// The hidden states `(T * B) x Ng` after every step, for start codes `B x Np` and velocities
    /// `(T * B) x 2`, on the CPU backend.
    public func hiddenStates(start: Matrix<Float>, velocities: Matrix<Float>, _ store: ParameterStore<Float>) -> Matrix<Float> {
        onCPU(start: start, velocities: velocities, store) { cpu, workspace in
            let batch = start.rows, steps = velocities.rows / batch
            let (s, v) = try upload(start: start, velocities: velocities, on: cpu, workspace: &workspace)
            let hidden = try forward(start: s, velocities: v, steps: steps, batch: batch, on: store.buffers(on: cpu), workspace: &workspace)
                .hidden
            return Matrix(rows: steps * batch, columns: rnn.hiddenSize, scalars: try cpu.download(hidden))
        }
    }

    /// Runs `body` with a CPU backend and a workspace for a batch of this shape.
    private func onCPU(
        start: Matrix<Float>, velocities: Matrix<Float>, _ store: ParameterStore<Float>,
        _ body: (CPUBackend<Float>, inout Workspace<Float>) throws -> Matrix<Float>
    ) -> Matrix<Float> {
        let batch = start.rows, steps = velocities.rows / max(batch, 1)
        guard let count = stepWorkspaceCount(steps: steps, batch: batch) else {
            preconditionFailure("the navigation model's recurrent layer has no pass on the compute backend")
        }
        do { return try workspace.with(count: count, body) } catch {
            preconditionFailure("navigation model forward pass on the CPU backend: \(error)")
        }
    }

    /// Place-cell logits `(T * B) x Np` for start codes `B x Np` and velocities `(T * B) x 2` made on
    /// the host, on a backend: the batch is uploaded into `workspace`, the logits read back.
    /// `stepWorkspaceCount(steps:batch:)` elements suffice.
    public func logits<Backend: ComputeBackend>(
        start: Matrix<Float>, velocities: Matrix<Float>, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>
    ) throws -> Matrix<Float> where Backend.Scalar == Float {
        let backend = parameters.backend, batch = start.rows, steps = velocities.rows / batch
        let (s, v) = try upload(start: start, velocities: velocities, on: backend, workspace: &workspace)
        let hidden = try forward(start: s, velocities: v, steps: steps, batch: batch, on: parameters, workspace: &workspace).hidden
        let logits = try workspace.take(steps * batch * decoder.outputSize)
        try decoder.forward(hidden, rows: steps * batch, into: logits, parameters)
        return Matrix(rows: steps * batch, columns: decoder.outputSize, scalars: try backend.download(logits))
    }

    /// Uploads start codes and velocities into `workspace`, then moves it to a page start (`Workspace.startPage`).
    private func upload<Backend: ComputeBackend>(
        start: Matrix<Float>, velocities: Matrix<Float>, on backend: Backend, workspace: inout Workspace<Float>
    ) throws -> (start: ComputeBuffer<Float>, velocities: ComputeBuffer<Float>) where Backend.Scalar == Float {
        let s = try backend.upload(start.scalars, into: &workspace)
        let v = try backend.upload(velocities.scalars, into: &workspace)
        try workspace.startPage()
        return (s, v)
    }

    /// The forward pass up to the hidden states on a backend: h0 = encoder(start codes `B x Np`),
    /// then the RNN over the velocities (`(T * B) x 2`). Returns the hidden states `(T * B) x Ng`
    /// and the RNN's caches (for the backward pass).
    func forward<Backend: ComputeBackend>(
        start: ComputeBuffer<Float>, velocities: ComputeBuffer<Float>, steps: Int, batch: Int, on parameters: ParameterBuffers<Backend>,
        workspace: inout Workspace<Float>
    ) throws -> (hidden: ComputeBuffer<Float>, caches: [CacheBuffers<Float>]) where Backend.Scalar == Float {
        let h0 = try workspace.take(batch * rnn.hiddenSize)
        try encoder.forward(start, rows: batch, into: h0, parameters)
        let caches = try rnn.forward(
            on: parameters, velocities, steps: steps, batch: batch, initial: [StateBuffers(hidden: h0)], workspace: &workspace)
        return (try caches[0].output(), caches)
    }

    /// Elements of workspace one training step (`lossAndGradients(start:velocities:targets:on:...)`
    /// with host matrices) takes for `batch` trajectories of `steps` steps, the uploaded batch
    /// included; nil when the recurrent layer has no backend pass.
    public func stepWorkspaceCount(steps: Int, batch: Int) -> Int? {
        guard let stack = rnn.workspaceCount(steps: steps, batch: batch) else { return nil }
        let (n, np, bh) = (steps * batch, decoder.outputSize, batch * rnn.hiddenSize)
        let uploads = Workspace<Float>.count(pieces: [batch * np, n * 2, n * np]) + Workspace<Float>.pageElements
        return uploads + stack + Workspace<Float>.count(pieces: [bh, n * np, n * np, n * rnn.hiddenSize])
    }

    /// One training step on a backend from a batch made on the host (start codes `B x Np`,
    /// velocities `(T * B) x 2`, targets `(T * B) x Np`): uploads it into `workspace` and runs the
    /// pass on buffers. Returns the loss.
    public func lossAndGradients<Backend: ComputeBackend>(
        start: Matrix<Float>, velocities: Matrix<Float>, targets: Matrix<Float>, on parameters: ParameterBuffers<Backend>,
        workspace: inout Workspace<Float>
    ) throws -> Double where Backend.Scalar == Float {
        let backend = parameters.backend, batch = start.rows
        let s = try backend.upload(start.scalars, into: &workspace)
        let v = try backend.upload(velocities.scalars, into: &workspace)
        let t = try backend.upload(targets.scalars, into: &workspace)
        try workspace.startPage()
        return try lossAndGradients(
            start: s, velocities: v, targets: t, steps: velocities.rows / batch, batch: batch, on: parameters, workspace: &workspace)
    }

    /// One forward and backward pass of the soft-target cross-entropy (mean over batch and time)
    /// on a backend: start codes `start` (`B x Np`), velocities (`(T * B) x 2`, time-major) and
    /// targets (`(T * B) x Np`) in its memory, activations taken from `workspace`. Adds the
    /// gradients into `parameters`; returns the loss. The model's one training pass.
    public func lossAndGradients<Backend: ComputeBackend>(
        start: ComputeBuffer<Float>, velocities: ComputeBuffer<Float>, targets: ComputeBuffer<Float>, steps: Int, batch: Int,
        on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>
    ) throws -> Double where Backend.Scalar == Float {
        let (n, np, h) = (steps * batch, decoder.outputSize, rnn.hiddenSize)
        let (hidden, caches) = try forward(
            start: start, velocities: velocities, steps: steps, batch: batch, on: parameters, workspace: &workspace)
        let logits = try workspace.take(n * np), dLogits = try workspace.take(n * np)
        try decoder.forward(hidden, rows: n, into: logits, parameters)
        let loss = try SoftCrossEntropy.lossAndGradient(
            logits: logits, targets: targets, rows: n, classes: np, into: dLogits, on: parameters.backend)
        StepProfile.lap(.forward)
        let dHidden = try workspace.take(n * h)
        try decoder.backward(input: hidden, dOutput: dLogits, rows: n, dInput: dHidden, parameters)
        let (_, dInitial) = try rnn.backward(on: parameters, caches, dOutput: dHidden, workspace: &workspace)
        try encoder.backward(input: start, dOutput: dInitial[0].hidden, rows: batch, dInput: nil, parameters)
        StepProfile.lap(.backward)
        return loss
    }

    /// One training step on the CPU backend over the store's memory; adds the gradients into the
    /// store and returns the loss.
    public func lossAndGradients(
        start: Matrix<Float>, velocities: Matrix<Float>, targets: Matrix<Float>,
        _ store: ParameterStore<Float>
    ) -> Double {
        let batch = start.rows, steps = velocities.rows / batch
        guard let count = stepWorkspaceCount(steps: steps, batch: batch) else {
            preconditionFailure("the navigation model's recurrent layer has no pass on the compute backend")
        }
        do {
            return try workspace.with(count: count) { cpu, workspace in
                try lossAndGradients(
                    start: start, velocities: velocities, targets: targets, on: store.buffers(on: cpu), workspace: &workspace)
            }
        } catch { preconditionFailure("navigation model step on the CPU backend: \(error)") }
    }
}
