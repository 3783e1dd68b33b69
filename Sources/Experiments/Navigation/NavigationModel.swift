// The path-integration network of docs/method.md section 4: h0 = encoder(place code of the start), a
// ReLU RNN without bias over the velocity inputs, and a decoder to place-cell logits at every step.
// Parameter names match a PyTorch module with `encoder`, `rnn` (nn.RNN) and `decoder`.
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

    /// Place-cell logits `(T * B) x Np` for start codes `B x Np` and velocities `(T * B) x 2`.
    public func logits(start: Matrix<Float>, velocities: Matrix<Float>, _ store: ParameterStore<Float>) -> Matrix<Float> {
        let h0 = encoder.forward(start, store)
        let caches = rnn.forward(velocities, batch: start.rows, initial: [RecurrentState(hidden: h0)], store)
        return decoder.forward(caches[0].output, store)
    }

    /// The hidden states `(T * B) x Ng` after every step, for start codes `B x Np` and velocities `(T * B) x 2`.
    public func hiddenStates(start: Matrix<Float>, velocities: Matrix<Float>, _ store: ParameterStore<Float>) -> Matrix<Float> {
        let h0 = encoder.forward(start, store)
        return rnn.forward(velocities, batch: start.rows, initial: [RecurrentState(hidden: h0)], store)[0].output
    }

    /// One forward and backward pass of the soft-target cross-entropy (mean over batch and time);
    /// adds the gradients into the store and returns the loss.
    public func lossAndGradients(
        start: Matrix<Float>, velocities: Matrix<Float>, targets: Matrix<Float>,
        _ store: ParameterStore<Float>
    ) -> Double {
        let h0 = encoder.forward(start, store)
        let caches = rnn.forward(velocities, batch: start.rows, initial: [RecurrentState(hidden: h0)], store)
        let hidden = caches[0].output
        let logits = decoder.forward(hidden, store)
        let (loss, dLogits) = SoftCrossEntropy.lossAndGradient(logits: logits, targets: targets)
        StepProfile.lap(.forward)
        let dHidden = decoder.backward(input: hidden, dOutput: dLogits, store)
        let (_, dInitial) = rnn.backward(caches, dOutput: dHidden, store)
        _ = encoder.backward(input: start, dOutput: dInitial[0].hidden, store, needInputGradient: false)
        StepProfile.lap(.backward)
        return loss
    }
}
