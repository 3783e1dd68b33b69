// The LSTM layer (gates i, f, g, o), forward and backpropagation through time.
// Reference: torch.nn.LSTM (PyTorch documentation), without projections (proj_size 0).
import Compute
import Linalg

/// One LSTM layer (PyTorch `nn.LSTM` layer), gate blocks stacked in the order i, f, g, o:
///
///     a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh              (B x 4H)
///     i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
///     c_t = f ⊙ c_{t-1} + i ⊙ g
///     h_t = o ⊙ tanh(c_t)
public struct LSTMLayer: RecurrentLayer {
    /// Input features I.
    public let inputSize: Int
    /// Hidden units H.
    public let hiddenSize: Int
    /// Four gate blocks: i, f, g, o.
    public var gateCount: Int { 4 }
    /// An LSTM carries the cell state c.
    public var hasCellState: Bool { true }
    /// `4H x I`, `weight_ih_l<k>` = [W_ii; W_if; W_ig; W_io].
    public let weightIH: ParameterSlot
    /// `4H x H`, `weight_hh_l<k>` = [W_hi; W_hf; W_hg; W_ho].
    public let weightHH: ParameterSlot
    /// `4H`, `bias_ih_l<k>`; nil without bias.
    public let biasIH: ParameterSlot?
    /// `4H`, `bias_hh_l<k>`; nil without bias.
    public let biasHH: ParameterSlot?

    /// Registers `<name>.weight_ih_l<layer>` etc. with PyTorch's default initialisation
    /// U(-1/sqrt(H), 1/sqrt(H)).
    public init<S: BLASScalar>(
        inputSize: Int, hiddenSize: Int, bias: Bool = true, name: String = "rnn",
        layer: Int = 0, in store: ParameterStore<S>, rng: inout SeededGenerator
    ) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        (weightIH, weightHH, biasIH, biasHH) = registerRecurrentWeights(
            name: name, layer: layer, gates: 4, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
            store: store, rng: &rng)
    }

    // MARK: On a backend

    /// The forward pass on a backend, T = `steps` steps of `batch` samples. `gates`
    /// (`T B x 4H`) starts as `X W_ih^T + b_ih` for all steps (one GEMM); each step adds b_hh and
    /// `h_{t-1} W_hh^T` (through `product`) and the cell turns it into the post-activation gates
    /// [i f g o] in place. `hidden` and `cell` (`(T + 1) B x H`) receive h_0 ... h_T and
    /// c_0 ... c_T; h_0 is copied from `initialHidden`, c_0 from `initialCell` (zero when nil).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, initialHidden: ComputeBuffer<Backend.Scalar>,
        initialCell: ComputeBuffer<Backend.Scalar>?, gates: ComputeBuffer<Backend.Scalar>, hidden: ComputeBuffer<Backend.Scalar>,
        cell: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>, product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, g4 = 4 * h, bh = batch * h
        func state(_ b: ComputeBuffer<Backend.Scalar>, _ t: Int) throws -> ComputeBuffer<Backend.Scalar> {
            try b.slice(from: t * bh, count: bh)
        }
        try backend.copy(initialHidden.slice(from: 0, count: bh), to: state(hidden, 0))
        if let initialCell {
            try backend.copy(initialCell.slice(from: 0, count: bh), to: state(cell, 0))
        } else {
            try backend.fill(state(cell, 0), with: 0)
        }
        try RecurrentKernels.inputProjection(
            input, rows: steps * batch, columns: inputSize, weightIH: weightIH, biasIH: biasIH, biasHH: nil, outputs: g4,
            into: gates.slice(from: 0, count: steps * batch * g4), parameters)
        let bhh = try biasHH.map { try parameters.value($0) }
        for t in 0..<steps {
            let a = try gates.slice(from: t * batch * g4, count: batch * g4)  // B x 4H
            if let bhh { try backend.addRowVector(a, rows: batch, columns: g4, bhh) }
            // a += h_{t-1} W_hh^T: (B x H)(H x 4H).
            try product.forward(state(hidden, t), batch: batch, addingTo: a, parameters)
            try backend.lstmForward(
                gates: a, cellPrevious: state(cell, t), cell: state(cell, t + 1), hidden: state(hidden, t + 1), batch: batch,
                hiddenSize: h)
        }
    }

    /// Backpropagation through time on a backend. With dh = dLoss/dh_t (carried plus `dOutput`)
    /// and dc carried:
    ///
    ///     dc += dh ⊙ o ⊙ (1 - tanh²(c_t))
    ///     da_i = dc ⊙ g ⊙ i(1 - i),   da_f = dc ⊙ c_{t-1} ⊙ f(1 - f)
    ///     da_g = dc ⊙ i ⊙ (1 - g²),   da_o = dh ⊙ tanh(c_t) ⊙ o(1 - o)
    ///     dc_{t-1} = dc ⊙ f,          dh_{t-1} = da W_hh
    ///
    /// then dW_hh += da^T [h_0 ... h_{T-1}] and dW_ih += da^T X as one product each (b_ih and b_hh
    /// both get colsum(da)), and dX = da W_ih when `dInput` is given. The W_hh products go through
    /// `product`. `gates`, `hidden` and `cell` are the forward pass's; `dOutput` (`T B x H`) is nil
    /// when no step's output has a gradient; `dHidden` and `dCell` (`B x H`) hold the gradients of
    /// the final state on entry and of the initial state on return; `dGates` (`T B x 4H`) receives
    /// da.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, gates: ComputeBuffer<Backend.Scalar>,
        hidden: ComputeBuffer<Backend.Scalar>, cell: ComputeBuffer<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dHidden: ComputeBuffer<Backend.Scalar>, dCell: ComputeBuffer<Backend.Scalar>, dGates: ComputeBuffer<Backend.Scalar>,
        dInput: ComputeBuffer<Backend.Scalar>?, _ parameters: ParameterBuffers<Backend>, product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, g4 = 4 * h, bh = batch * h, n = steps * batch
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let da = try dGates.slice(from: t * batch * g4, count: batch * g4)
            try backend.lstmBackward(
                gates: gates.slice(from: t * batch * g4, count: batch * g4), cellPrevious: cell.slice(from: t * bh, count: bh),
                cell: cell.slice(from: (t + 1) * bh, count: bh), dOutput: dOutput?.slice(from: t * bh, count: bh),
                dHidden: dHidden, dCell: dCell, dGates: da, batch: batch, hiddenSize: h)
            // dh_{t-1} = da W_hh: (B x 4H)(4H x H).
            try product.backward(da, batch: batch, into: dHidden, accumulate: false, parameters)
        }
        try RecurrentKernels.recurrentWeightGradient(
            hidden: hidden.slice(from: 0, count: n * h), dHH: dGates, rows: n, product: product, biasHH: biasHH, parameters)
        try RecurrentKernels.inputProjectionBackward(
            input, rows: n, columns: inputSize, dPre: dGates, outputs: g4, weightIH: weightIH, biasIH: biasIH, dInput: dInput,
            parameters)
    }

    // MARK: On matrices, on the CPU backend

    /// The forward pass (`forward(_:steps:batch:initialHidden:initialCell:gates:hidden:cell:_:product:)`
    /// on the CPU backend). The cache keeps h_0...h_T and c_0...c_T (`((T + 1) * B) x H`) and the
    /// post-activation gates [i f g o] of every step (`(T * B) x 4H`). A nil `initial.cell` is
    /// c_0 = 0.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>, product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        precondition(
            input.columns == inputSize && input.rows % batch == 0,
            "LSTM layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(
            initial.hidden.rows == batch && initial.hidden.columns == hiddenSize,
            "LSTM layer: initial hidden state has the wrong shape")
        precondition(
            initial.cell.map { $0.rows == batch && $0.columns == hiddenSize } ?? true,
            "LSTM layer: initial cell state has the wrong shape")
        let steps = input.rows / batch, h = hiddenSize
        let cpu = CPUBackend(S.self)
        // Fresh storage: every element is written by the forward pass.
        var gates = Matrix<S>(rows: steps * batch, columns: 4 * h) { _ in }
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h) { _ in }
        var cell = Matrix<S>(rows: (steps + 1) * batch, columns: h) { _ in }
        input.withUnsafeBufferPointer { px in
            initial.hidden.withUnsafeBufferPointer { ph0 in
                (initial.cell ?? Matrix(rows: 0, columns: 0)).withUnsafeBufferPointer { pc0 in
                    gates.withUnsafeMutableBufferPointer { pg in
                        hidden.withUnsafeMutableBufferPointer { ph in
                            cell.withUnsafeMutableBufferPointer { pc in
                                onHost("LSTM forward") {
                                    try forward(
                                        cpu.buffer(over: px), steps: steps, batch: batch, initialHidden: cpu.buffer(over: ph0),
                                        initialCell: initial.cell == nil ? nil : cpu.buffer(over: pc0), gates: cpu.buffer(over: pg),
                                        hidden: cpu.buffer(over: ph), cell: cpu.buffer(over: pc), store.buffers(on: cpu), product: product)
                                }
                            }
                        }
                    }
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: input, hidden: hidden, cell: cell, gates: gates)
    }

    /// Backpropagation through time (`backward(_:steps:batch:gates:hidden:cell:dOutput:dHidden:dCell:dGates:dInput:_:product:)`
    /// on the CPU backend).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        let steps = cache.steps, batch = cache.batch, h = hiddenSize
        let hasOutputGradient = dOutput.rows > 0
        precondition(
            !hasOutputGradient || (dOutput.rows == steps * batch && dOutput.columns == h), "LSTM backward: dOutput has the wrong shape")
        guard let cellStates = cache.cell else { preconditionFailure("LSTM backward: the cache has no cell states") }
        let cpu = CPUBackend(S.self)
        // dA = dLoss/d(pre-activation gates), (T * B) x 4H, every element written; dh, dc carried backwards, B x H.
        var dA = Matrix<S>(rows: steps * batch, columns: 4 * h) { _ in }
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        var dc = dFinal?.cell ?? Matrix<S>(rows: batch, columns: h)
        var dInput = Matrix<S>(rows: needInputGradient ? steps * batch : 0, columns: inputSize)
        cache.input.withUnsafeBufferPointer { px in
            cache.gates.withUnsafeBufferPointer { pg in
                cache.hidden.withUnsafeBufferPointer { ph in
                    cellStates.withUnsafeBufferPointer { pc in
                        dOutput.withUnsafeBufferPointer { pdo in
                            dA.withUnsafeMutableBufferPointer { pda in
                                dh.withUnsafeMutableBufferPointer { pdh in
                                    dc.withUnsafeMutableBufferPointer { pdc in
                                        dInput.withUnsafeMutableBufferPointer { pdx in
                                            onHost("LSTM backward") {
                                                try backward(
                                                    cpu.buffer(over: px), steps: steps, batch: batch, gates: cpu.buffer(over: pg),
                                                    hidden: cpu.buffer(over: ph), cell: cpu.buffer(over: pc),
                                                    dOutput: hasOutputGradient ? cpu.buffer(over: pdo) : nil,
                                                    dHidden: cpu.buffer(over: pdh),
                                                    dCell: cpu.buffer(over: pdc), dGates: cpu.buffer(over: pda),
                                                    dInput: needInputGradient ? cpu.buffer(over: pdx) : nil, store.buffers(on: cpu),
                                                    product: product)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dInput, RecurrentState(hidden: dh, cell: dc))
    }
}

extension LSTMLayer: BackendRecurrentLayer {
    /// Forward: the gates, h_0 ... h_T and c_0 ... c_T; backward: dh, dc, the gate gradients and dX.
    public func workspaceCount(steps: Int, batch: Int) -> Int {
        let bh = batch * hiddenSize, n = steps * batch
        return Workspace<Float>.count(pieces: [
            n * 4 * hiddenSize, (steps + 1) * bh, (steps + 1) * bh, bh, bh, n * 4 * hiddenSize, n * inputSize
        ])
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: StateBuffers<Backend.Scalar>, workspace: inout Workspace<Backend.Scalar>, product: any RecurrentProduct
    ) throws -> CacheBuffers<Backend.Scalar> {
        let bh = batch * hiddenSize
        let gates = try workspace.take(steps * batch * 4 * hiddenSize)
        let hidden = try workspace.take((steps + 1) * bh), cell = try workspace.take((steps + 1) * bh)
        try forward(
            input, steps: steps, batch: batch, initialHidden: initial.hidden, initialCell: initial.cell, gates: gates, hidden: hidden,
            cell: cell, parameters, product: product)
        return CacheBuffers(steps: steps, batch: batch, hiddenSize: hiddenSize, input: input, hidden: hidden, cell: cell, gates: gates)
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ cache: CacheBuffers<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dFinal: StateBuffers<Backend.Scalar>?, workspace: inout Workspace<Backend.Scalar>, needInputGradient: Bool,
        product: any RecurrentProduct
    ) throws -> (dInput: ComputeBuffer<Backend.Scalar>?, dInitial: StateBuffers<Backend.Scalar>) {
        guard let gates = cache.gates, let cell = cache.cell else {
            throw ComputeError.invalidArgument("LSTM backward: the cache has no gates or cell states")
        }
        let bh = cache.batch * hiddenSize, n = cache.steps * cache.batch
        let d = try Self.stateGradient(dFinal, count: bh, withCell: true, workspace: &workspace, on: parameters.backend)
        let dGates = try workspace.take(n * 4 * hiddenSize)
        let dInput = needInputGradient ? try workspace.take(n * inputSize) : nil
        guard let dCell = d.cell else { throw ComputeError.invalidArgument("LSTM backward: no cell-state gradient") }
        try backward(
            cache.input, steps: cache.steps, batch: cache.batch, gates: gates, hidden: cache.hidden, cell: cell, dOutput: dOutput,
            dHidden: d.hidden, dCell: dCell, dGates: dGates, dInput: dInput, parameters, product: product)
        return (dInput, d)
    }
}
