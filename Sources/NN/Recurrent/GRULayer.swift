// The GRU layer (gates r, z, n), forward and backpropagation through time.
// Reference: torch.nn.GRU (PyTorch documentation): b_hn sits inside the reset-gate product.
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

    /// The forward pass: runs T steps. The cache keeps h_0...h_T (`((T + 1) * B) x H`), the
    /// post-activation gates [r z n] of every step (`(T * B) x 3H`) and, in `extra`,
    /// W_hn h_{t-1} + b_hn (`(T * B) x H`). The step product h_{t-1} W_hh^T goes through `product`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>, product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        checkProduct(product)
        precondition(
            input.columns == inputSize && input.rows % batch == 0,
            "GRU layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(
            initial.hidden.rows == batch && initial.hidden.columns == hiddenSize,
            "GRU layer: initial state has the wrong shape")
        let steps = input.rows / batch, h = hiddenSize, g3 = 3 * h, bh = batch * h
        // gates starts as X W_ih^T + b_ih for all steps (one GEMM), (T * B) x 3H, and is turned
        // into [r z n] step by step in place.
        var gates = RecurrentKernels.inputProjection(input, weightIH: weightIH, biasIH: biasIH, outputs: g3, store)
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h)
        hidden.scalars.replaceSubrange(0..<bh, with: initial.hidden.scalars)
        var extra = Matrix<S>(rows: steps * batch, columns: h)
        // The recurrent projection of one step, h_{t-1} W_hh^T + b_hh, B x 3H; reused every step.
        var projection = Matrix<S>(rows: batch, columns: g3)
        let bhh = biasHH.map { store.value($0) }
        gates.withUnsafeMutableBufferPointer { pg in
            hidden.withUnsafeMutableBufferPointer { ph in
                extra.withUnsafeMutableBufferPointer { pe in
                    projection.withUnsafeMutableBufferPointer { pp in
                        let hh = pp.baseAddress!
                        for t in 0..<steps {
                            let a = pg.baseAddress! + t * batch * g3  // B x 3H
                            let hPrev = ph.baseAddress! + t * bh, hCur = hPrev + bh
                            let hn = pe.baseAddress! + t * bh  // B x H
                            if let bhh {
                                for n in 0..<batch { (hh + n * g3).update(from: bhh, count: g3) }
                            } else {
                                hh.update(repeating: 0, count: batch * g3)
                            }
                            // hh += h_{t-1} W_hh^T: (B x H)(H x 3H).
                            product.forward(hPrev, batch: batch, addingTo: hh, store)
                            Kernels.gruCellForward(
                                gates: a, recurrent: hh, hiddenPrevious: hPrev, hidden: hCur, recurrentN: hn, batch: batch,
                                hiddenSize: h)
                        }
                    }
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: input, hidden: hidden, gates: gates, extra: extra)
    }

    /// Backpropagation through time. With dh = dLoss/dh_t (carried plus `dOutput`), the gradients
    /// of the input-side pre-activations (dPre) and of the recurrent projection (dHH) differ only
    /// in the n block:
    ///
    ///     da_n = dh ⊙ (1 - z) ⊙ (1 - n²)                dPre_n = da_n,  dHH_n = da_n ⊙ r
    ///     da_z = dh ⊙ (h_{t-1} - n) ⊙ z(1 - z)           dPre_z = dHH_z = da_z
    ///     da_r = da_n ⊙ (W_hn h_{t-1} + b_hn) ⊙ r(1 - r) dPre_r = dHH_r = da_r
    ///     dh_{t-1} = dh ⊙ z + dHH W_hh
    ///
    /// then dW_hh += dHH^T [h_0 ... h_{T-1}], db_hh += colsum(dHH), dW_ih += dPre^T X,
    /// db_ih += colsum(dPre), one product each. The W_hh products (dHH W_hh, the dW_hh product)
    /// go through `product`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        checkProduct(product)
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, g3 = 3 * h, bh = batch * h
        let dOutput = dOutput.rows == 0 ? Matrix<S>(rows: steps * batch, columns: h) : dOutput  // empty: no output gradient
        precondition(dOutput.rows == steps * batch && dOutput.columns == h, "GRU backward: dOutput has the wrong shape")
        guard let extra = cache.extra else { preconditionFailure("GRU backward: the cache has no W_hn h + b_hn") }
        var dPre = Matrix<S>(rows: steps * batch, columns: g3)
        var dHH = Matrix<S>(rows: steps * batch, columns: g3)
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        cache.gates.withUnsafeBufferPointer { pg in
            cache.hidden.withUnsafeBufferPointer { ph in
                extra.withUnsafeBufferPointer { pe in
                    dOutput.withUnsafeBufferPointer { pdo in
                        dPre.withUnsafeMutableBufferPointer { pdp in
                            dHH.withUnsafeMutableBufferPointer { pdq in
                                dh.withUnsafeMutableBufferPointer { pdh in
                                    let dhp = pdh.baseAddress!
                                    for t in stride(from: steps - 1, through: 0, by: -1) {
                                        let gate = pg.baseAddress! + t * batch * g3
                                        let dp = pdp.baseAddress! + t * batch * g3, dq = pdq.baseAddress! + t * batch * g3
                                        let hPrev = ph.baseAddress! + t * bh, hn = pe.baseAddress! + t * bh
                                        let dout = pdo.baseAddress! + t * bh
                                        Kernels.gruCellBackward(
                                            gates: gate, hiddenPrevious: hPrev, recurrentN: hn, dOutput: dout, dHidden: dhp,
                                            dPre: dp, dRecurrent: dq, batch: batch, hiddenSize: h)
                                        // dh_{t-1} += dHH W_hh: (B x 3H)(3H x H).
                                        product.backward(dq, batch: batch, into: dhp, accumulate: true, store)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        RecurrentKernels.recurrentWeightGradient(
            hidden: cache.hidden, dHH: dHH, steps: steps, batch: batch,
            product: product, biasHH: biasHH, store)
        let dInput = RecurrentKernels.inputProjectionBackward(
            cache.input, dPre: dPre, weightIH: weightIH,
            biasIH: biasIH, store, needInputGradient: needInputGradient)
        return (dInput, RecurrentState(hidden: dh))
    }
}
