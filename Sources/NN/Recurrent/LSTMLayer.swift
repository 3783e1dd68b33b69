// The LSTM layer (gates i, f, g, o), forward and backpropagation through time.
// Reference: torch.nn.LSTM (PyTorch documentation), without projections (proj_size 0).
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

    /// The forward pass: runs T steps. The cache keeps h_0...h_T and c_0...c_T (`((T + 1) * B) x H`)
    /// and the post-activation gates [i f g o] of every step (`(T * B) x 4H`). A nil `initial.cell`
    /// is c_0 = 0. The step product h_{t-1} W_hh^T goes through `product`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>, product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        checkProduct(product)
        precondition(
            input.columns == inputSize && input.rows % batch == 0,
            "LSTM layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(
            initial.hidden.rows == batch && initial.hidden.columns == hiddenSize,
            "LSTM layer: initial hidden state has the wrong shape")
        precondition(
            initial.cell.map { $0.rows == batch && $0.columns == hiddenSize } ?? true,
            "LSTM layer: initial cell state has the wrong shape")
        let steps = input.rows / batch, h = hiddenSize, g4 = 4 * h, bh = batch * h
        // gates starts as X W_ih^T + b_ih for all steps (one GEMM), (T * B) x 4H; each step adds
        // b_hh + h_{t-1} W_hh^T and applies the activations in place.
        var gates = RecurrentKernels.inputProjection(input, weightIH: weightIH, biasIH: biasIH, outputs: g4, store)
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h)
        var cell = Matrix<S>(rows: (steps + 1) * batch, columns: h)
        hidden.scalars.replaceSubrange(0..<bh, with: initial.hidden.scalars)
        if let c0 = initial.cell { cell.scalars.replaceSubrange(0..<bh, with: c0.scalars) }
        let bhh = biasHH.map { store.value($0) }
        gates.withUnsafeMutableBufferPointer { pg in
            hidden.withUnsafeMutableBufferPointer { ph in
                cell.withUnsafeMutableBufferPointer { pc in
                    for t in 0..<steps {
                        let a = pg.baseAddress! + t * batch * g4  // B x 4H
                        let hPrev = ph.baseAddress! + t * bh, hCur = hPrev + bh
                        let cPrev = pc.baseAddress! + t * bh, cCur = cPrev + bh
                        if let bhh { Kernels.addRowVector(a, rows: batch, columns: g4, bhh) }
                        // a += h_{t-1} W_hh^T: (B x H)(H x 4H).
                        product.forward(hPrev, batch: batch, addingTo: a, store)
                        Kernels.lstmCellForward(gates: a, cellPrevious: cPrev, cell: cCur, hidden: hCur, batch: batch, hiddenSize: h)
                    }
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: input, hidden: hidden, cell: cell, gates: gates)
    }

    /// Backpropagation through time. With dh = dLoss/dh_t (carried plus `dOutput`) and dc carried:
    ///
    ///     dc += dh ⊙ o ⊙ (1 - tanh²(c_t))
    ///     da_i = dc ⊙ g ⊙ i(1 - i),   da_f = dc ⊙ c_{t-1} ⊙ f(1 - f)
    ///     da_g = dc ⊙ i ⊙ (1 - g²),   da_o = dh ⊙ tanh(c_t) ⊙ o(1 - o)
    ///     dc_{t-1} = dc ⊙ f,          dh_{t-1} = da W_hh
    ///
    /// then dW_hh += da^T [h_0 ... h_{T-1}] and dW_ih += da^T X as one product each (b_ih and b_hh
    /// both get colsum(da)). The W_hh products (da W_hh, the dW_hh product) go through `product`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        checkProduct(product)
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, g4 = 4 * h, bh = batch * h
        let dOutput = dOutput.rows == 0 ? Matrix<S>(rows: steps * batch, columns: h) : dOutput  // empty: no output gradient
        precondition(dOutput.rows == steps * batch && dOutput.columns == h, "LSTM backward: dOutput has the wrong shape")
        guard let cellStates = cache.cell else { preconditionFailure("LSTM backward: the cache has no cell states") }
        // dA = dLoss/d(pre-activation gates), (T * B) x 4H; dh, dc carried backwards, B x H.
        var dA = Matrix<S>(rows: steps * batch, columns: g4)
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        var dc = dFinal?.cell ?? Matrix<S>(rows: batch, columns: h)
        cache.gates.withUnsafeBufferPointer { pg in
            cellStates.withUnsafeBufferPointer { pc in
                dOutput.withUnsafeBufferPointer { pdo in
                    dA.withUnsafeMutableBufferPointer { pda in
                        dh.withUnsafeMutableBufferPointer { pdh in
                            dc.withUnsafeMutableBufferPointer { pdc in
                                let dhp = pdh.baseAddress!, dcp = pdc.baseAddress!
                                for t in stride(from: steps - 1, through: 0, by: -1) {
                                    let gate = pg.baseAddress! + t * batch * g4, da = pda.baseAddress! + t * batch * g4
                                    let cPrev = pc.baseAddress! + t * bh, cCur = cPrev + bh
                                    let dout = pdo.baseAddress! + t * bh
                                    Kernels.lstmCellBackward(
                                        gates: gate, cellPrevious: cPrev, cell: cCur, dOutput: dout, dHidden: dhp, dCell: dcp,
                                        dGates: da, batch: batch, hiddenSize: h)
                                    // dh_{t-1} = da W_hh: (B x 4H)(4H x H).
                                    product.backward(da, batch: batch, into: dhp, accumulate: false, store)
                                }
                            }
                        }
                    }
                }
            }
        }
        RecurrentKernels.recurrentWeightGradient(
            hidden: cache.hidden, dHH: dA, steps: steps, batch: batch,
            product: product, biasHH: biasHH, store)
        let dInput = RecurrentKernels.inputProjectionBackward(
            cache.input, dPre: dA, weightIH: weightIH,
            biasIH: biasIH, store, needInputGradient: needInputGradient)
        return (dInput, RecurrentState(hidden: dh, cell: dc))
    }
}
