// The GRU layer (gates r, z, n), forward and backpropagation through time.
// Reference: torch.nn.GRU (PyTorch documentation): b_hn sits inside the reset-gate product.
import Compute
import Linalg

/// One GRU layer (PyTorch `nn.GRU` layer), gate blocks stacked in the order r, z, n:
///
///     r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
///     z = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
///     n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn))
///     h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
public struct GRULayer: RecurrentLayer {
    /// Input features I.
    public let inputSize: Int
    /// Hidden units H.
    public let hiddenSize: Int
    /// Three gate blocks: r, z, n.
    public var gateCount: Int { 3 }
    /// A GRU carries only h.
    public var hasCellState: Bool { false }
    /// `3H x I`, `weight_ih_l<k>` = [W_ir; W_iz; W_in].
    public let weightIH: ParameterSlot
    /// `3H x H`, `weight_hh_l<k>` = [W_hr; W_hz; W_hn].
    public let weightHH: ParameterSlot
    /// `3H`, `bias_ih_l<k>`; nil without bias.
    public let biasIH: ParameterSlot?
    /// `3H`, `bias_hh_l<k>`; nil without bias.
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
            name: name, layer: layer, gates: 3, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
            store: store, rng: &rng)
    }

    // MARK: On a backend

    /// The forward pass on a backend, T = `steps` steps of `batch` samples. `gates` (`T B x 3H`)
    /// starts as `X W_ih^T + b_ih` for all steps (one GEMM) and is turned into the post-activation
    /// gates [r z n] step by step in place. `hidden` (`(T + 1) B x H`) receives h_0 (copied from
    /// `initial`) ... h_T, `recurrentN` (`T B x H`) W_hn h_{t-1} + b_hn of every step, and
    /// `projection` (`B x 3H`) holds each step's `h_{t-1} W_hh^T + b_hh` in turn (the product
    /// through `product`).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, initial: ComputeBuffer<Backend.Scalar>,
        gates: ComputeBuffer<Backend.Scalar>, hidden: ComputeBuffer<Backend.Scalar>, recurrentN: ComputeBuffer<Backend.Scalar>,
        projection: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>, product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, g3 = 3 * h, bh = batch * h
        let hh = try projection.slice(from: 0, count: batch * g3)
        try backend.copy(initial.slice(from: 0, count: bh), to: hidden.slice(from: 0, count: bh))
        try RecurrentKernels.inputProjection(
            input, rows: steps * batch, columns: inputSize, weightIH: weightIH, biasIH: biasIH, biasHH: nil, outputs: g3,
            into: gates.slice(from: 0, count: steps * batch * g3), parameters)
        let bhh = try biasHH.map { try parameters.value($0) }
        for t in 0..<steps {
            let hPrev = try hidden.slice(from: t * bh, count: bh)
            // hh = b_hh + h_{t-1} W_hh^T: (B x H)(H x 3H).
            try backend.fill(hh, with: 0)
            if let bhh { try backend.addRowVector(hh, rows: batch, columns: g3, bhh) }
            try product.forward(hPrev, batch: batch, addingTo: hh, parameters)
            try backend.gruForward(
                gates: gates.slice(from: t * batch * g3, count: batch * g3), recurrent: hh, hiddenPrevious: hPrev,
                hidden: hidden.slice(from: (t + 1) * bh, count: bh), recurrentN: recurrentN.slice(from: t * bh, count: bh),
                batch: batch, hiddenSize: h)
        }
    }

    /// Backpropagation through time on a backend. With dh = dLoss/dh_t (carried plus `dOutput`),
    /// the gradients of the input-side pre-activations (dPre) and of the recurrent projection
    /// (dHH) differ only in the n block:
    ///
    ///     da_n = dh ⊙ (1 - z) ⊙ (1 - n²)                dPre_n = da_n,  dHH_n = da_n ⊙ r
    ///     da_z = dh ⊙ (h_{t-1} - n) ⊙ z(1 - z)           dPre_z = dHH_z = da_z
    ///     da_r = da_n ⊙ (W_hn h_{t-1} + b_hn) ⊙ r(1 - r) dPre_r = dHH_r = da_r
    ///     dh_{t-1} = dh ⊙ z + dHH W_hh
    ///
    /// then dW_hh += dHH^T [h_0 ... h_{T-1}], db_hh += colsum(dHH), dW_ih += dPre^T X,
    /// db_ih += colsum(dPre), one product each, and dX = dPre W_ih when `dInput` is given. The W_hh
    /// products go through `product`. `gates`, `hidden` and `recurrentN` are the forward pass's;
    /// `dOutput` (`T B x H`) is nil when no step's output has a gradient; `dHidden` (`B x H`) holds
    /// the final state's gradient on entry and the initial state's on return; `dPre` and `dHH`
    /// (`T B x 3H`) receive the pre-activation gradients.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, gates: ComputeBuffer<Backend.Scalar>,
        hidden: ComputeBuffer<Backend.Scalar>, recurrentN: ComputeBuffer<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dHidden: ComputeBuffer<Backend.Scalar>, dPre: ComputeBuffer<Backend.Scalar>, dHH: ComputeBuffer<Backend.Scalar>,
        dInput: ComputeBuffer<Backend.Scalar>?, _ parameters: ParameterBuffers<Backend>, product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, g3 = 3 * h, bh = batch * h, n = steps * batch
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let dq = try dHH.slice(from: t * batch * g3, count: batch * g3)
            try backend.gruBackward(
                gates: gates.slice(from: t * batch * g3, count: batch * g3), hiddenPrevious: hidden.slice(from: t * bh, count: bh),
                recurrentN: recurrentN.slice(from: t * bh, count: bh), dOutput: dOutput?.slice(from: t * bh, count: bh),
                dHidden: dHidden, dPre: dPre.slice(from: t * batch * g3, count: batch * g3), dRecurrent: dq, batch: batch,
                hiddenSize: h)
            // dh_{t-1} += dHH W_hh: (B x 3H)(3H x H).
            try product.backward(dq, batch: batch, into: dHidden, accumulate: true, parameters)
        }
        try RecurrentKernels.recurrentWeightGradient(
            hidden: hidden.slice(from: 0, count: n * h), dHH: dHH, rows: n, product: product, biasHH: biasHH, parameters)
        try RecurrentKernels.inputProjectionBackward(
            input, rows: n, columns: inputSize, dPre: dPre, outputs: g3, weightIH: weightIH, biasIH: biasIH, dInput: dInput,
            parameters)
    }

    // MARK: On matrices, on the CPU backend

    /// The forward pass (`forward(_:steps:batch:initial:gates:hidden:recurrentN:projection:_:product:)`
    /// on the CPU backend). The cache keeps h_0...h_T (`((T + 1) * B) x H`), the post-activation
    /// gates [r z n] of every step (`(T * B) x 3H`) and, in `extra`, W_hn h_{t-1} + b_hn
    /// (`(T * B) x H`).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>, product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        precondition(
            input.columns == inputSize && input.rows % batch == 0,
            "GRU layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(
            initial.hidden.rows == batch && initial.hidden.columns == hiddenSize,
            "GRU layer: initial state has the wrong shape")
        let steps = input.rows / batch, h = hiddenSize
        let cpu = CPUBackend(S.self)
        // Fresh storage: every element is written by the forward pass.
        var gates = Matrix<S>(rows: steps * batch, columns: 3 * h) { _ in }
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h) { _ in }
        var extra = Matrix<S>(rows: steps * batch, columns: h) { _ in }
        let projection = UnsafeMutablePointer<S>.allocate(capacity: batch * 3 * h)
        defer { projection.deallocate() }
        input.withUnsafeBufferPointer { px in
            initial.hidden.withUnsafeBufferPointer { p0 in
                gates.withUnsafeMutableBufferPointer { pg in
                    hidden.withUnsafeMutableBufferPointer { ph in
                        extra.withUnsafeMutableBufferPointer { pe in
                            onHost("GRU forward") {
                                try forward(
                                    cpu.buffer(over: px), steps: steps, batch: batch, initial: cpu.buffer(over: p0),
                                    gates: cpu.buffer(over: pg), hidden: cpu.buffer(over: ph), recurrentN: cpu.buffer(over: pe),
                                    projection: cpu.buffer(at: projection, count: batch * 3 * h), store.buffers(on: cpu), product: product)
                            }
                        }
                    }
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: input, hidden: hidden, gates: gates, extra: extra)
    }

    /// Backpropagation through time (`backward(_:steps:batch:gates:hidden:recurrentN:dOutput:dHidden:dPre:dHH:dInput:_:product:)`
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
            !hasOutputGradient || (dOutput.rows == steps * batch && dOutput.columns == h), "GRU backward: dOutput has the wrong shape")
        guard let extra = cache.extra else { preconditionFailure("GRU backward: the cache has no W_hn h + b_hn") }
        let cpu = CPUBackend(S.self)
        // Every element of dPre and dHH is written by the backward pass.
        var dPre = Matrix<S>(rows: steps * batch, columns: 3 * h) { _ in }
        var dHH = Matrix<S>(rows: steps * batch, columns: 3 * h) { _ in }
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        var dInput = Matrix<S>(rows: needInputGradient ? steps * batch : 0, columns: inputSize)
        cache.input.withUnsafeBufferPointer { px in
            cache.gates.withUnsafeBufferPointer { pg in
                cache.hidden.withUnsafeBufferPointer { ph in
                    extra.withUnsafeBufferPointer { pe in
                        dOutput.withUnsafeBufferPointer { pdo in
                            dPre.withUnsafeMutableBufferPointer { pdp in
                                dHH.withUnsafeMutableBufferPointer { pdq in
                                    dh.withUnsafeMutableBufferPointer { pdh in
                                        dInput.withUnsafeMutableBufferPointer { pdx in
                                            onHost("GRU backward") {
                                                try backward(
                                                    cpu.buffer(over: px), steps: steps, batch: batch, gates: cpu.buffer(over: pg),
                                                    hidden: cpu.buffer(over: ph), recurrentN: cpu.buffer(over: pe),
                                                    dOutput: hasOutputGradient ? cpu.buffer(over: pdo) : nil,
                                                    dHidden: cpu.buffer(over: pdh),
                                                    dPre: cpu.buffer(over: pdp), dHH: cpu.buffer(over: pdq),
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
        return (dInput, RecurrentState(hidden: dh))
    }
}

extension GRULayer: BackendRecurrentLayer {
    /// Forward: the gates, h_0 ... h_T, W_hn h + b_hn and one step's projection; backward: dh, dPre,
    /// dHH and dX.
    public func workspaceCount(steps: Int, batch: Int) -> Int {
        let bh = batch * hiddenSize, n = steps * batch, g3 = 3 * hiddenSize
        return Workspace<Float>.count(pieces: [n * g3, (steps + 1) * bh, n * hiddenSize, batch * g3, bh, n * g3, n * g3, n * inputSize])
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: StateBuffers<Backend.Scalar>, workspace: inout Workspace<Backend.Scalar>, product: any RecurrentProduct
    ) throws -> CacheBuffers<Backend.Scalar> {
        let bh = batch * hiddenSize, g3 = 3 * hiddenSize
        let gates = try workspace.take(steps * batch * g3), hidden = try workspace.take((steps + 1) * bh)
        let extra = try workspace.take(steps * bh), projection = try workspace.take(batch * g3)
        try forward(
            input, steps: steps, batch: batch, initial: initial.hidden, gates: gates, hidden: hidden, recurrentN: extra,
            projection: projection, parameters, product: product)
        return CacheBuffers(steps: steps, batch: batch, hiddenSize: hiddenSize, input: input, hidden: hidden, gates: gates, extra: extra)
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ cache: CacheBuffers<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dFinal: StateBuffers<Backend.Scalar>?, workspace: inout Workspace<Backend.Scalar>, needInputGradient: Bool,
        product: any RecurrentProduct
    ) throws -> (dInput: ComputeBuffer<Backend.Scalar>?, dInitial: StateBuffers<Backend.Scalar>) {
        guard let gates = cache.gates, let extra = cache.extra else {
            throw ComputeError.invalidArgument("GRU backward: the cache has no gates or W_hn h + b_hn")
        }
        let bh = cache.batch * hiddenSize, n = cache.steps * cache.batch, g3 = 3 * hiddenSize
        let d = try Self.stateGradient(dFinal, count: bh, withCell: false, workspace: &workspace, on: parameters.backend)
        let dPre = try workspace.take(n * g3), dHH = try workspace.take(n * g3)
        let dInput = needInputGradient ? try workspace.take(n * inputSize) : nil
        try backward(
            cache.input, steps: cache.steps, batch: cache.batch, gates: gates, hidden: cache.hidden, recurrentN: extra,
            dOutput: dOutput, dHidden: d.hidden, dPre: dPre, dHH: dHH, dInput: dInput, parameters, product: product)
        return (dInput, d)
    }
}
