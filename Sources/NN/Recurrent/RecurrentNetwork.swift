// A stack of recurrent layers of one kind (PyTorch nn.RNN / nn.LSTM / nn.GRU with num_layers),
// with the state carried between windows for truncated BPTT.
import Compute
import Linalg
import Synchronization

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

extension CellKind {
    /// Gate blocks G stacked in W_ih and W_hh: Elman 1, LSTM 4, GRU 3.
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnReLU: 1
        case .lstm: 4
        case .gru: 3
        }
    }

    /// Whether the cell carries a cell state c (LSTM).
    public var hasCellState: Bool { self == .lstm }
}

/// A stack of recurrent layers; layer k reads layer k-1's hidden states. Layer k multiplies by
/// its W_hh only through `products[k]` (dense by default; `replaceProducts(_:)` swaps them).
///
/// Copies of a network share its products: a model holds its network and the trainer holds a
/// copy (`ParameterRoles.networks`), and replacing the products through either (sparse kernels
/// once W_hh is pruned enough) changes what both run.
public struct RecurrentNetwork: Sendable {
    /// The cell kind of every layer: the PyTorch module whose parameter shapes and state the
    /// layers have.
    public let kind: CellKind
    /// The layers, bottom first.
    public let layers: [any RecurrentLayer]
    /// The W_hh operator of each layer (`products[k]` multiplies by `layers[k].weightHH`).
    public var products: [any RecurrentProduct] { table.products.withLock { $0 } }
    /// The products, shared by every copy of the network.
    private let table: ProductTable

    /// Registers `<name>.weight_ih_l0` ... with PyTorch names, sizes and initialisation; every
    /// layer gets a `DenseWeightProduct`.
    public init<S: BLASScalar>(
        kind: CellKind, inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true,
        name: String = "rnn", in store: ParameterStore<S>, rng: inout SeededGenerator
    ) {
        precondition(layerCount >= 1, "A recurrent network needs at least one layer")
        var layers: [any RecurrentLayer] = []
        for k in 0..<layerCount {
            let i = k == 0 ? inputSize : hiddenSize
            switch kind {
            case .rnnTanh, .rnnReLU:
                layers.append(
                    ElmanLayer(
                        inputSize: i, hiddenSize: hiddenSize, nonlinearity: kind == .rnnTanh ? .tanh : .relu,
                        bias: bias, name: name, layer: k, in: store, rng: &rng))
            case .lstm:
                layers.append(
                    LSTMLayer(
                        inputSize: i, hiddenSize: hiddenSize, bias: bias, name: name, layer: k,
                        in: store, rng: &rng))
            case .gru:
                layers.append(
                    GRULayer(
                        inputSize: i, hiddenSize: hiddenSize, bias: bias, name: name, layer: k,
                        in: store, rng: &rng))
            }
        }
        self.init(kind: kind, layers: layers)
    }

    /// A stack of given layers (of any type conforming to `RecurrentLayer`, from any module), bottom
    /// first, each with a `DenseWeightProduct`. `kind` names the PyTorch module whose gate count
    /// and state the layers share; every layer must have the same hidden size, and layer k > 0
    /// reads layer k-1's hidden states.
    public init(kind: CellKind, layers: [any RecurrentLayer]) {
        precondition(!layers.isEmpty, "A recurrent network needs at least one layer")
        for (k, layer) in layers.enumerated() {
            precondition(
                layer.gateCount == kind.gateCount && layer.hasCellState == kind.hasCellState,
                "Layer \(k) has \(layer.gateCount) gate block(s)\(layer.hasCellState ? " and a cell state" : ""), "
                    + "which a \(kind.rawValue) network does not")
            precondition(
                layer.hiddenSize == layers[0].hiddenSize, "Layer \(k) has \(layer.hiddenSize) hidden units, layer 0 \(layers[0].hiddenSize)"
            )
            precondition(
                k == 0 || layer.inputSize == layers[k - 1].hiddenSize,
                "Layer \(k) reads \(layer.inputSize) features, layer \(k - 1) gives \(layers[k - 1].hiddenSize)")
        }
        self.kind = kind
        self.layers = layers
        self.table = ProductTable(layers.map { DenseWeightProduct(for: $0) })
    }

    /// Replaces the W_hh operator of every layer with `make(layer)` (return a
    /// `DenseWeightProduct(for: layer)` to keep a layer dense). Each operator must multiply by
    /// its layer's W_hh with its shape and reads the weights from the store each call is given (a
    /// sparse one builds its copy on first use and follows the store's versions). Every copy of the network runs the new products.
    public func replaceProducts(_ make: (_ layer: any RecurrentLayer) -> any RecurrentProduct) {
        let products = layers.map(make)
        for (layer, product) in zip(layers, products) { layer.checkProduct(product) }
        table.products.withLock { $0 = products }
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
    /// Each layer is called through its generic `RecurrentLayer.forward`, whose `@_specialize`d
    /// body the generic entry point chooses at run time, so any layer type runs its own specialized code.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: [RecurrentState<S>]? = nil,
        _ store: ParameterStore<S>
    ) -> [RecurrentCache<S>] {
        let states = initial ?? zeroState(batch: batch)
        precondition(states.count == layers.count, "Expected \(layers.count) initial states, got \(states.count)")
        var caches: [RecurrentCache<S>] = []
        var x = input
        for (k, (layer, state)) in zip(layers, states).enumerated() {
            let cache = layer.forward(x, batch: batch, initial: state, store, product: products[k])
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
    public func backward<S: BLASScalar>(
        _ caches: [RecurrentCache<S>], dOutput: Matrix<S>,
        dFinal: [RecurrentState<S>]? = nil, _ store: ParameterStore<S>,
        needInputGradient: Bool = false
    ) -> (dInput: Matrix<S>, dInitial: [RecurrentState<S>]) {
        var d = dOutput
        var dInitial: [RecurrentState<S>] = []
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            let (dx, d0) = layers[k].backward(
                caches[k], dOutput: d, dFinal: dFinal?[k], store,
                needInputGradient: k > 0 || needInputGradient, product: products[k])
            d = dx
            dInitial.insert(d0, at: 0)
        }
        return (d, dInitial)
    }
}

// MARK: On a backend

extension RecurrentNetwork {
    /// The layers as layers with backend passes; throws naming the first that has none.
    public func backendLayers() throws -> [any BackendRecurrentLayer] {
        try layers.enumerated().map { k, layer in
            guard let l = layer as? any BackendRecurrentLayer else {
                throw ComputeError.invalidArgument("layer \(k) (\(type(of: layer))) has no pass on a compute backend")
            }
            return l
        }
    }

    /// Elements of workspace that `forward(on:...)` (zero initial states included) and
    /// `backward(on:...)` take for T = `steps` steps of `batch` samples; nil when a layer has no
    /// backend pass.
    public func workspaceCount(steps: Int, batch: Int) -> Int? {
        guard let layers = try? backendLayers() else { return nil }
        let state = Workspace<Float>.count(pieces: [batch * hiddenSize])
        return layers.reduce(0) { $0 + $1.workspaceCount(steps: steps, batch: batch) + ($1.hasCellState ? 2 : 1) * state }
    }

    /// Runs every layer over the sequence (`(T * B) x I`) on a backend, from `initial` (zero states
    /// taken from `workspace` when nil); the top layer's output is `caches.last!.output()`. Layer
    /// k > 0 reads layer k-1's hidden states in place.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: [StateBuffers<Backend.Scalar>]? = nil, workspace: inout Workspace<Backend.Scalar>
    ) throws -> [CacheBuffers<Backend.Scalar>] {
        let layers = try backendLayers(), products = products
        let states =
            try initial
            ?? layers.map { layer in
                func zero() throws -> ComputeBuffer<Backend.Scalar> {
                    let b = try workspace.take(batch * layer.hiddenSize)
                    try parameters.backend.fill(b, with: 0)
                    return b
                }
                return StateBuffers(hidden: try zero(), cell: layer.hasCellState ? try zero() : nil)
            }
        guard states.count == layers.count else {
            throw ComputeError.invalidArgument("expected \(layers.count) initial states, got \(states.count)")
        }
        var caches: [CacheBuffers<Backend.Scalar>] = []
        var x = input
        for (k, layer) in layers.enumerated() {
            let cache = try layer.forward(
                on: parameters, x, steps: steps, batch: batch, initial: states[k], workspace: &workspace, product: products[k])
            x = try cache.output()
            caches.append(cache)
        }
        return caches
    }

    /// Backpropagation through time through the whole stack on a backend. `dOutput` is
    /// dLoss/d(top outputs) (nil for none); `dFinal` optional gradients on each layer's final
    /// state. Returns dLoss/dInput (nil unless asked) and dLoss/d(initial state) of every layer.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ caches: [CacheBuffers<Backend.Scalar>], dOutput: ComputeBuffer<Backend.Scalar>?,
        dFinal: [StateBuffers<Backend.Scalar>]? = nil, workspace: inout Workspace<Backend.Scalar>, needInputGradient: Bool = false
    ) throws -> (dInput: ComputeBuffer<Backend.Scalar>?, dInitial: [StateBuffers<Backend.Scalar>]) {
        let layers = try backendLayers(), products = products
        guard caches.count == layers.count, dFinal.map({ $0.count == layers.count }) ?? true else {
            throw ComputeError.invalidArgument("expected \(layers.count) caches and final-state gradients")
        }
        var d = dOutput
        var dInitial: [StateBuffers<Backend.Scalar>] = []
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            let (dx, d0) = try layers[k].backward(
                on: parameters, caches[k], dOutput: d, dFinal: dFinal?[k], workspace: &workspace,
                needInputGradient: k > 0 || needInputGradient, product: products[k])
            d = dx
            dInitial.insert(d0, at: 0)
        }
        return (d, dInitial)
    }
}

/// The products of a network and its copies.
private final class ProductTable: Sendable {
    let products: Mutex<[any RecurrentProduct]>
    init(_ products: [any RecurrentProduct]) { self.products = Mutex(products) }
}
