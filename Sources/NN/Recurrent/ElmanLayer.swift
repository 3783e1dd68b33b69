// The Elman recurrent layer h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or ReLU,
// forward and backpropagation through time. Reference: torch.nn.RNN.
import Compute
import Linalg

/// The nonlinearity of an Elman layer: the compute backend's cell activation (tanh or ReLU).
public typealias ElmanNonlinearity = CellActivation

/// One Elman layer (PyTorch `nn.RNN` layer): `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.
public struct ElmanLayer: RecurrentLayer {
    /// Input features I.
    public let inputSize: Int
    /// Hidden units H.
    public let hiddenSize: Int
    /// tanh or ReLU.
    public let nonlinearity: ElmanNonlinearity
    /// One gate block.
    public var gateCount: Int { 1 }
    /// An Elman layer carries only h.
    public var hasCellState: Bool { false }
    /// `H x I`, `weight_ih_l<k>`.
    public let weightIH: ParameterSlot
    /// `H x H`, `weight_hh_l<k>`.
    public let weightHH: ParameterSlot
    /// `H`, `bias_ih_l<k>`; nil without bias.
    public let biasIH: ParameterSlot?
    /// `H`, `bias_hh_l<k>`; nil without bias.
    public let biasHH: ParameterSlot?

    /// Registers `<name>.weight_ih_l<layer>` etc. with PyTorch's default initialisation.
    public init<S: BLASScalar>(
        inputSize: Int, hiddenSize: Int, nonlinearity: ElmanNonlinearity, bias: Bool = true,
        name: String = "rnn", layer: Int = 0, in store: ParameterStore<S>,
        rng: inout SeededGenerator
    ) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.nonlinearity = nonlinearity
        (weightIH, weightHH, biasIH, biasHH) = registerRecurrentWeights(
            name: name, layer: layer, gates: 1, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
            store: store, rng: &rng)
    }

    // MARK: On a backend

    /// The forward pass on a backend, T = `steps` steps of `batch` samples. `hidden`
    /// (`(T + 1) B x H`) receives h_0 (copied from `initial`, `B x H`) and h_1 ... h_T: first the
    /// pre-activations `X W_ih^T + b_ih + b_hh` of every step in one GEMM, then per step
    /// `h_{t-1} W_hh^T` (through `product`) added and the activation applied in place. When
    /// `product` prefers transposed states the steps run on `H x B` copies in `scratch`
    /// (`2 B H` elements, else unused).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, initial: ComputeBuffer<Backend.Scalar>,
        into hidden: ComputeBuffer<Backend.Scalar>, scratch: ComputeBuffer<Backend.Scalar>?, _ parameters: ParameterBuffers<Backend>,
        product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, bh = batch * h
        func state(_ t: Int) throws -> ComputeBuffer<Backend.Scalar> { try hidden.slice(from: t * bh, count: bh) }
        try backend.copy(initial.slice(from: 0, count: bh), to: state(0))
        try RecurrentKernels.inputProjection(
            input, rows: steps * batch, columns: inputSize, weightIH: weightIH, biasIH: biasIH, biasHH: biasHH, outputs: h,
            into: hidden.slice(from: bh, count: steps * bh), parameters)
        if product.prefersTransposedStates(batch: batch, on: backend) {
            // h_t^T = act(pre_t^T + W_hh h_{t-1}^T) on H x B scratch states, copied back into the rows.
            guard let scratch else { throw ComputeError.invalidArgument("Elman forward: transposed steps need a scratch buffer") }
            var prevT = try scratch.slice(from: 0, count: bh), curT = try scratch.slice(from: bh, count: bh)
            try backend.transpose(state(0), rows: batch, columns: h, into: prevT)
            for t in 0..<steps {
                try backend.transpose(state(t + 1), rows: batch, columns: h, into: curT)
                try product.forwardTransposed(prevT, batch: batch, addingTo: curT, parameters)
                try backend.elmanForward(nonlinearity, curT)
                try backend.transpose(curT, rows: h, columns: batch, into: state(t + 1))
                swap(&prevT, &curT)
            }
        } else {
            for t in 0..<steps {
                try product.forward(state(t), batch: batch, addingTo: state(t + 1), parameters)
                try backend.elmanForward(nonlinearity, state(t + 1))
            }
        }
    }

    /// BPTT on a backend: `dPre_t = act'(h_t) ⊙ (dh_t + dOutput_t)`, `dh_{t-1} = dPre_t W_hh`
    /// (through `product`, in the layout the forward pass used), then `dW_hh += dPre^T [h_0 ...
    /// h_{T-1}]` (through `product`), `db_hh`, and `dW_ih += dPre^T X` with `db_ih` and, when
    /// `dInput` is given, `dX = dPre W_ih`. `hidden` is the forward pass's; `dOutput` (`T B x H`)
    /// is nil when no step's output has a gradient; `dHidden` (`B x H`) holds dLoss/dh_T on entry
    /// and dLoss/dh_0 on return; `dPre` (`T B x H`) receives the pre-activation gradients.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int, hidden: ComputeBuffer<Backend.Scalar>,
        dOutput: ComputeBuffer<Backend.Scalar>?, dHidden: ComputeBuffer<Backend.Scalar>, dPre: ComputeBuffer<Backend.Scalar>,
        scratch: ComputeBuffer<Backend.Scalar>?, dInput: ComputeBuffer<Backend.Scalar>?, _ parameters: ParameterBuffers<Backend>,
        product: any RecurrentProduct
    ) throws {
        checkProduct(product)
        let backend = parameters.backend, h = hiddenSize, bh = batch * h, n = steps * batch
        let transposed = product.prefersTransposedStates(batch: batch, on: backend)
        guard !transposed || scratch != nil else {
            throw ComputeError.invalidArgument("Elman backward: transposed steps need a scratch buffer")
        }
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let dpt = try dPre.slice(from: t * bh, count: bh)
            try backend.elmanBackward(
                nonlinearity, output: hidden.slice(from: (t + 1) * bh, count: bh), gradient: dHidden,
                extra: dOutput?.slice(from: t * bh, count: bh), into: dpt)
            if let scratch, transposed {
                // dh_{t-1}^T = W_hh^T dPre_t^T on H x B scratch.
                let dpT = try scratch.slice(from: 0, count: bh), dhT = try scratch.slice(from: bh, count: bh)
                try backend.transpose(dpt, rows: batch, columns: h, into: dpT)
                try product.backwardTransposed(dpT, batch: batch, into: dhT, accumulate: false, parameters)
                try backend.transpose(dhT, rows: h, columns: batch, into: dHidden)
            } else {
                try product.backward(dpt, batch: batch, into: dHidden, accumulate: false, parameters)
            }
        }
        try RecurrentKernels.recurrentWeightGradient(
            hidden: hidden.slice(from: 0, count: n * h), dHH: dPre, rows: n, product: product, biasHH: biasHH, parameters)
        try RecurrentKernels.inputProjectionBackward(
            input, rows: n, columns: inputSize, dPre: dPre, outputs: h, weightIH: weightIH, biasIH: biasIH, dInput: dInput,
            parameters)
    }

    // MARK: On matrices, on the CPU backend

    /// The forward pass (`forward(_:steps:batch:initial:into:scratch:_:product:)` on the CPU backend).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>, product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        precondition(
            input.columns == inputSize && input.rows % batch == 0,
            "Elman layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(initial.hidden.rows == batch && initial.hidden.columns == hiddenSize, "Elman layer: initial state has the wrong shape")
        let steps = input.rows / batch, bh = batch * hiddenSize
        let cpu = CPUBackend(S.self)
        let scratch = product.prefersTransposedStates(batch: batch, on: cpu) ? UnsafeMutablePointer<S>.allocate(capacity: 2 * bh) : nil
        defer { scratch?.deallocate() }
        let hidden = Matrix<S>(rows: (steps + 1) * batch, columns: hiddenSize) { base in
            input.withUnsafeBufferPointer { px in
                initial.hidden.withUnsafeBufferPointer { p0 in
                    onHost("Elman forward") {
                        try forward(
                            cpu.buffer(over: px), steps: steps, batch: batch, initial: cpu.buffer(over: p0),
                            into: cpu.buffer(at: base, count: (steps + 1) * bh), scratch: scratch.map { cpu.buffer(at: $0, count: 2 * bh) },
                            store.buffers(on: cpu), product: product)
                    }
                }
            }
        }
        return RecurrentCache(
            steps: steps, batch: batch, input: input, hidden: hidden,
            gates: Matrix(rows: 0, columns: 0))
    }

    /// BPTT (`backward(_:steps:batch:hidden:dOutput:dHidden:dPre:scratch:dInput:_:product:)` on
    /// the CPU backend).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, bh = batch * h
        let hasOutputGradient = dOutput.rows > 0
        precondition(
            !hasOutputGradient || (dOutput.rows == steps * batch && dOutput.columns == h),
            "Elman backward: dOutput is \(dOutput.rows) x \(dOutput.columns), expected \(steps * batch) x \(h) or empty")
        let cpu = CPUBackend(S.self)
        // dh = dLoss/dh_t, carried backwards.
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        var dInput = Matrix<S>(rows: needInputGradient ? steps * batch : 0, columns: inputSize)
        let scratch = product.prefersTransposedStates(batch: batch, on: cpu) ? UnsafeMutablePointer<S>.allocate(capacity: 2 * bh) : nil
        // dPre_t = dLoss/d(pre-activation at step t), every element written by the backward pass.
        let dp = UnsafeMutablePointer<S>.allocate(capacity: max(1, steps * bh))
        defer {
            scratch?.deallocate()
            dp.deallocate()
        }
        do {
            cache.input.withUnsafeBufferPointer { px in
                cache.hidden.withUnsafeBufferPointer { ph in
                    dOutput.withUnsafeBufferPointer { pdo in
                        dh.withUnsafeMutableBufferPointer { pdh in
                            dInput.withUnsafeMutableBufferPointer { pdx in
                                onHost("Elman backward") {
                                    try backward(
                                        cpu.buffer(over: px), steps: steps, batch: batch, hidden: cpu.buffer(over: ph),
                                        dOutput: hasOutputGradient ? cpu.buffer(over: pdo) : nil, dHidden: cpu.buffer(over: pdh),
                                        dPre: cpu.buffer(at: dp, count: steps * bh),
                                        scratch: scratch.map { cpu.buffer(at: $0, count: 2 * bh) },
                                        dInput: needInputGradient ? cpu.buffer(over: pdx) : nil, store.buffers(on: cpu), product: product)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dInput, RecurrentState(hidden: dh))
    }

    /// Whether the steps run on transposed states (`H x B`, `W_hh h^T`) rather than on rows
    /// (`B x H`, `h W_hh^T`) with the dense product on the CPU; another product or backend
    /// decides for itself (`RecurrentProduct.prefersTransposedStates(batch:on:)`).
    static func stepsOnTransposedStates(batch: Int) -> Bool { DenseWeightProduct.prefersTransposedStates(batch: batch) }
}

extension ElmanLayer: BackendRecurrentLayer {
    /// Forward: h_0 ... h_T and the transposed-step scratch; backward: dPre, dh, dX and the scratch.
    public func workspaceCount(steps: Int, batch: Int) -> Int {
        let bh = batch * hiddenSize, n = steps * batch
        return Workspace<Float>.count(pieces: [(steps + 1) * bh, 2 * bh, bh, n * hiddenSize, 2 * bh, n * inputSize])
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: StateBuffers<Backend.Scalar>, workspace: inout Workspace<Backend.Scalar>, product: any RecurrentProduct
    ) throws -> CacheBuffers<Backend.Scalar> {
        let bh = batch * hiddenSize
        let hidden = try workspace.take((steps + 1) * bh), scratch = try workspace.take(2 * bh)
        try forward(
            input, steps: steps, batch: batch, initial: initial.hidden, into: hidden, scratch: scratch, parameters, product: product)
        return CacheBuffers(steps: steps, batch: batch, hiddenSize: hiddenSize, input: input, hidden: hidden)
    }

    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ cache: CacheBuffers<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dFinal: StateBuffers<Backend.Scalar>?, workspace: inout Workspace<Backend.Scalar>, needInputGradient: Bool,
        product: any RecurrentProduct
    ) throws -> (dInput: ComputeBuffer<Backend.Scalar>?, dInitial: StateBuffers<Backend.Scalar>) {
        let bh = cache.batch * hiddenSize, n = cache.steps * cache.batch
        let d = try Self.stateGradient(dFinal, count: bh, withCell: false, workspace: &workspace, on: parameters.backend)
        let dPre = try workspace.take(n * hiddenSize), scratch = try workspace.take(2 * bh)
        let dInput = needInputGradient ? try workspace.take(n * inputSize) : nil
        try backward(
            cache.input, steps: cache.steps, batch: cache.batch, hidden: cache.hidden, dOutput: dOutput, dHidden: d.hidden,
            dPre: dPre, scratch: scratch, dInput: dInput, parameters, product: product)
        return (dInput, d)
    }
}
