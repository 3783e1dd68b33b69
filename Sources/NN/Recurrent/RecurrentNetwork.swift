// A stack of recurrent layers of one kind (PyTorch nn.RNN / nn.LSTM / nn.GRU with num_layers),
// with the state carried between windows for truncated BPTT.
import Linalg

/// The kind of recurrent cell, with PyTorch's names.
public enum CellKind: String, Sendable, Codable, CaseIterable {
    /// Elman with tanh (`nn.RNN`, nonlinearity 'tanh').
    case rnnTanh = "rnn_tanh"
    /// Elman with ReLU (`nn.RNN`, nonlinearity 'relu').
    case rnnReLU = "rnn_relu"
    /// LSTM, gates i, f, g, o.
    case lstm
    /// GRU, gates r, z, n.
    case gru
}

/// A stack of recurrent layers; layer k reads layer k-1's hidden states.
public struct RecurrentNetwork: Sendable {
    /// The cell kind of every layer.
    public let kind: CellKind
    /// The layers, bottom first.
    public let layers: [any RecurrentLayer]

    /// Registers `<name>.weight_ih_l0` ... with PyTorch names, sizes and initialisation.
    public init<S: BLASScalar>(kind: CellKind, inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true,
                               name: String = "rnn", in store: ParameterStore<S>, rng: inout SeededGenerator) {
        precondition(layerCount >= 1, "A recurrent network needs at least one layer")
        self.kind = kind
        var layers: [any RecurrentLayer] = []
        for k in 0..<layerCount {
            let i = k == 0 ? inputSize : hiddenSize
            switch kind {
            case .rnnTanh, .rnnReLU:
                layers.append(ElmanLayer(inputSize: i, hiddenSize: hiddenSize, nonlinearity: kind == .rnnTanh ? .tanh : .relu,
                                         bias: bias, name: name, layer: k, in: store, rng: &rng))
            case .lstm:
                layers.append(LSTMLayer(inputSize: i, hiddenSize: hiddenSize, bias: bias, name: name, layer: k,
                                        in: store, rng: &rng))
            case .gru:
                layers.append(GRULayer(inputSize: i, hiddenSize: hiddenSize, bias: bias, name: name, layer: k,
                                       in: store, rng: &rng))
            }
        }
        self.layers = layers
    }

    /// Hidden units H.
    public var hiddenSize: Int { layers[0].hiddenSize }

    /// The recurrent weight slots (W_hh of every layer), where the moduli regularizer acts.
    public var recurrentWeights: [ParameterSlot] { layers.map(\.weightHH) }

    /// The zero state of every layer for `batch` samples.
    public func zeroState<S: BLASScalar>(batch: Int, as: S.Type = S.self) -> [RecurrentState<S>] {
        layers.map { RecurrentState.zeros(batch: batch, hiddenSize: $0.hiddenSize, withCell: $0.hasCellState) }
    }

    /// Runs every layer over the sequence (`(T * B) x I`); the top layer's output is `caches.last!.output`.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ input: Matrix<S>, batch: Int, initial: [RecurrentState<S>]? = nil,
                                       _ store: ParameterStore<S>) -> [RecurrentCache<S>] {
        let states = initial ?? zeroState(batch: batch)
        precondition(states.count == layers.count, "Expected \(layers.count) initial states, got \(states.count)")
        var caches: [RecurrentCache<S>] = []
        var x = input
        for (k, (layer, state)) in zip(layers, states).enumerated() {
            let cache = RecurrentNetwork.forward(layer, x, batch: batch, initial: state, store)
            if k + 1 < layers.count { x = cache.output }  // the next layer's input (a copy; none after the top)
            caches.append(cache)
        }
        return caches
    }

    /// The state after the last step of every layer (carried, detached, into the next window).
    public func finalStates<S: BLASScalar>(_ caches: [RecurrentCache<S>]) -> [RecurrentState<S>] { caches.map(\.final) }

    /// Backpropagation through time through the whole stack. `dOutput` is dLoss/d(top outputs);
    /// `dFinal` optional gradients on each layer's final state. Returns dLoss/dInput (empty unless
    /// asked) and dLoss/d(initial state) of every layer.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(_ caches: [RecurrentCache<S>], dOutput: Matrix<S>,
                                        dFinal: [RecurrentState<S>]? = nil, _ store: ParameterStore<S>,
                                        needInputGradient: Bool = false) -> (dInput: Matrix<S>, dInitial: [RecurrentState<S>]) {
        var d = dOutput
        var dInitial: [RecurrentState<S>] = []
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            let (dx, d0) = RecurrentNetwork.backward(layers[k], caches[k], dOutput: d, dFinal: dFinal?[k], store,
                                                     needInputGradient: k > 0 || needInputGradient)
            d = dx
            dInitial.insert(d0, at: 0)
        }
        return (d, dInitial)
    }

    // Calls through `any RecurrentLayer` reach only a layer's generic implementation; casting to the
    // concrete layer first lets a specialized caller (S == Float) call the layer's specialized code.

    /// `layer.forward`, dispatched on the concrete layer type.
    @inline(__always)
    static func forward<S: BLASScalar>(_ layer: any RecurrentLayer, _ x: Matrix<S>, batch: Int, initial: RecurrentState<S>,
                                       _ store: ParameterStore<S>) -> RecurrentCache<S> {
        switch layer {
        case let l as ElmanLayer: l.forward(x, batch: batch, initial: initial, store)
        case let l as LSTMLayer: l.forward(x, batch: batch, initial: initial, store)
        case let l as GRULayer: l.forward(x, batch: batch, initial: initial, store)
        default: layer.forward(x, batch: batch, initial: initial, store)
        }
    }

    /// `layer.backward`, dispatched on the concrete layer type.
    @inline(__always)
    static func backward<S: BLASScalar>(_ layer: any RecurrentLayer, _ cache: RecurrentCache<S>, dOutput: Matrix<S>,
                                        dFinal: RecurrentState<S>?, _ store: ParameterStore<S>, needInputGradient: Bool)
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>) {
        switch layer {
        case let l as ElmanLayer:
            l.backward(cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient)
        case let l as LSTMLayer:
            l.backward(cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient)
        case let l as GRULayer:
            l.backward(cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient)
        default:
            layer.backward(cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient)
        }
    }
}
