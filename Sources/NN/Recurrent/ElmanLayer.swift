// The Elman recurrent layer h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or ReLU,
// forward and backpropagation through time. Reference: torch.nn.RNN.
import Linalg

/// The nonlinearity of an Elman layer.
public enum ElmanNonlinearity: String, Sendable, Codable, CaseIterable {
    case tanh
    case relu
}

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

    /// The forward pass. Per step: `h_{t-1} W_hh^T` (through `product`) added onto the precomputed
    /// `X W_ih^T + b_ih + b_hh`, then the activation in place.
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
        checkProduct(product)
        let steps = input.rows / batch, h = hiddenSize, bh = batch * h
        let nonlinearity = nonlinearity
        // hidden holds h_0, then for each step the pre-activation X W_ih^T + b_ih + b_hh (all steps in
        // one GEMM), turned into h_t in place.
        let transposed = product.prefersTransposedStates(batch: batch)
        let hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h) { base in
            initial.hidden.withUnsafeBufferPointer { base.initialize(from: $0.baseAddress!, count: bh) }
            RecurrentKernels.inputProjection(
                input, weightIH: weightIH, biasIH: biasIH, biasHH: biasHH, outputs: h,
                store, into: base + bh)
            if transposed {
                // h_t^T = act(pre_t^T + W_hh h_{t-1}^T) on H x B scratch states, copied back into the rows.
                let scratch = UnsafeMutablePointer<S>.allocate(capacity: 2 * bh)
                defer { scratch.deallocate() }
                var prevT = scratch, curT = scratch + bh
                Kernels.transpose(base, rows: batch, columns: h, xStride: h, into: prevT, yStride: batch)
                for t in 0..<steps {
                    let cur = base + (t + 1) * bh
                    Kernels.transpose(cur, rows: batch, columns: h, xStride: h, into: curT, yStride: batch)
                    product.forwardTransposed(prevT, batch: batch, addingTo: curT, store)
                    ElmanLayer.activate(nonlinearity, curT, count: bh)
                    Kernels.transpose(curT, rows: h, columns: batch, xStride: batch, into: cur, yStride: h)
                    swap(&prevT, &curT)
                }
            } else {
                for t in 0..<steps {
                    let prev = base + t * bh, cur = prev + bh
                    product.forward(prev, batch: batch, addingTo: cur, store)
                    ElmanLayer.activate(nonlinearity, cur, count: bh)
                }
            }
        }
        return RecurrentCache(
            steps: steps, batch: batch, input: input, hidden: hidden,
            gates: Matrix(rows: 0, columns: 0))
    }

    /// BPTT: `dPre_t = act'(h_t) ⊙ (dh_t + dOutput_t)`, `dh_{t-1} = dPre_t W_hh` (through
    /// `product`, in the layout the forward pass used), then dW_hh += dPre^T [h_0 ... h_{T-1}]
    /// (through `product`) and dW_ih += dPre^T X as one GEMM.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        checkProduct(product)
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, bh = batch * h
        let hasOutputGradient = dOutput.rows > 0
        precondition(
            !hasOutputGradient || (dOutput.rows == steps * batch && dOutput.columns == h),
            "Elman backward: dOutput is \(dOutput.rows) x \(dOutput.columns), expected \(steps * batch) x \(h) or empty")
        // dh = dLoss/dh_t, carried backwards.
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        let nonlinearity = nonlinearity
        // dPre_t = dLoss/d(pre-activation at step t), every row written below.
        let transposed = product.prefersTransposedStates(batch: batch)
        let dPre = Matrix<S>(rows: steps * batch, columns: h) { dp in
            cache.hidden.withUnsafeBufferPointer { ph in
                dOutput.withUnsafeBufferPointer { pdo in
                    dh.withUnsafeMutableBufferPointer { pdh in
                        let dhp = pdh.baseAddress!
                        // Transposed steps: dh_{t-1}^T = W_hh^T dPre_t^T on H x B scratch.
                        let scratch = transposed ? UnsafeMutablePointer<S>.allocate(capacity: 2 * bh) : nil
                        defer { scratch?.deallocate() }
                        for t in stride(from: steps - 1, through: 0, by: -1) {
                            let ht = ph.baseAddress! + (t + 1) * bh
                            let dout = hasOutputGradient ? UnsafePointer(pdo.baseAddress! + t * bh) : nil
                            let dpt = dp + t * bh
                            switch nonlinearity {
                            case .relu: Kernels.reluBackward(output: ht, gradient: dhp, extra: dout, into: dpt, count: bh)
                            case .tanh: Kernels.tanhBackward(output: ht, gradient: dhp, extra: dout, into: dpt, count: bh)
                            }
                            if let scratch {
                                let dpT = scratch, dhT = scratch + bh
                                Kernels.transpose(dpt, rows: batch, columns: h, xStride: h, into: dpT, yStride: batch)
                                product.backwardTransposed(dpT, batch: batch, into: dhT, accumulate: false, store)
                                Kernels.transpose(dhT, rows: h, columns: batch, xStride: batch, into: dhp, yStride: h)
                            } else {
                                product.backward(dpt, batch: batch, into: dhp, accumulate: false, store)
                            }
                        }
                    }
                }
            }
        }
        RecurrentKernels.recurrentWeightGradient(
            hidden: cache.hidden, dHH: dPre, steps: steps, batch: batch,
            product: product, biasHH: biasHH, store)
        let dInput = RecurrentKernels.inputProjectionBackward(
            cache.input, dPre: dPre, weightIH: weightIH,
            biasIH: biasIH, store, needInputGradient: needInputGradient)
        return (dInput, RecurrentState(hidden: dh))
    }

    /// Whether the steps run on transposed states (`H x B`, `W_hh h^T`) rather than on rows
    /// (`B x H`, `h W_hh^T`) with the dense product; another product decides for itself
    /// (`RecurrentProduct.prefersTransposedStates(batch:)`).
    static func stepsOnTransposedStates(batch: Int) -> Bool { DenseWeightProduct.prefersTransposedStates(batch: batch) }

    /// The activation in place.
    @inline(__always)
    static func activate<S: BLASScalar>(_ nonlinearity: ElmanNonlinearity, _ x: UnsafeMutablePointer<S>, count: Int) {
        switch nonlinearity {
        case .relu: Kernels.reluInPlace(x, count: count)
        case .tanh: Kernels.tanhInPlace(x, count: count)
        }
    }
}
