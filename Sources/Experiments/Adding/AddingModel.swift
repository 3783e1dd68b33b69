// The adding-problem network (docs/method.md section 6): Elman layer(s), h0 = 0, and a linear read-out
// of the last hidden state. Parameter names match a PyTorch module with `rnn` and `fc`.
import Linalg
import NN

/// Elman RNN (`rnn.*`) plus `fc = Linear(H -> 1)` on the final hidden state.
public struct AddingModel: Sendable {
    /// The recurrent stack.
    public let rnn: RecurrentNetwork
    /// The read-out.
    public let head: Linear

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

    /// Predictions `B x 1` for a batch (`(T * B) x 2` inputs).
    public func predict(_ inputs: Matrix<Float>, batch: Int, _ store: ParameterStore<Float>) -> Matrix<Float> {
        let caches = rnn.forward(inputs, batch: batch, store)
        return head.forward(caches.last!.final.hidden, store)
    }

    /// One forward and backward pass of the MSE loss; adds gradients into the store, returns the loss.
    public func lossAndGradients(_ batch: AddingBatch, _ store: ParameterStore<Float>) -> Double {
        let b = batch.targets.rows
        let caches = rnn.forward(batch.inputs, batch: b, store)
        let last = caches.last!.final.hidden
        let prediction = head.forward(last, store)
        let (loss, dPrediction) = MeanSquaredError.lossAndGradient(prediction: prediction, target: batch.targets)
        StepProfile.lap(.forward)
        let dLast = head.backward(input: last, dOutput: dPrediction, store)
        var dFinal = rnn.zeroState(batch: b, as: Float.self)
        dFinal[dFinal.count - 1].hidden = dLast
        let noOutputGradient = Matrix<Float>(rows: 0, columns: rnn.hiddenSize)  // only the final state is read out
        _ = rnn.backward(caches, dOutput: noOutputGradient, dFinal: dFinal, store)
        StepProfile.lap(.backward)
        return loss
    }

    /// Mean squared error over a fixed set, evaluated in chunks.
    public func meanSquaredError(_ set: AddingBatch, length: Int, _ store: ParameterStore<Float>, chunk: Int = 500) -> Double {
        var total = 0.0
        forEachChunk(set, length: length, store, chunk: chunk) { caches, start in
            let p = head.forward(caches.last!.final.hidden, store)
            for b in 0..<p.rows {
                let e = Double(p[b, 0]) - Double(set.targets[start + b, 0])
                total += e * e
            }
            return true
        }
        return total / Double(set.targets.rows)
    }

    /// Runs the recurrent stack over `set` in chunks of `chunk` sequences, calling `body` with each
    /// chunk's caches and the index of its first sequence, until `body` returns false.
    func forEachChunk(
        _ set: AddingBatch, length: Int, _ store: ParameterStore<Float>, chunk: Int = 500,
        _ body: ([RecurrentCache<Float>], Int) -> Bool
    ) {
        let n = set.targets.rows
        var start = 0
        while start < n {
            let size = min(chunk, n - start)
            var inputs = Matrix<Float>(rows: length * size, columns: 2)
            for t in 0..<length {
                for b in 0..<size {
                    inputs[t * size + b, 0] = set.inputs[t * n + start + b, 0]
                    inputs[t * size + b, 1] = set.inputs[t * n + start + b, 1]
                }
            }
            guard body(rnn.forward(inputs, batch: size, store), start) else { return }
            start += size
        }
    }
}
