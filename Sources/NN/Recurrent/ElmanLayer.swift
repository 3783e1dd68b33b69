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
    public let inputSize: Int
    public let hiddenSize: Int
    /// tanh or ReLU.
    public let nonlinearity: ElmanNonlinearity
    public var gateCount: Int { 1 }
    public var hasCellState: Bool { false }
    public let weightIH: ParameterSlot
    public let weightHH: ParameterSlot
    public let biasIH: ParameterSlot?
    public let biasHH: ParameterSlot?

    /// Registers `<name>.weight_ih_l<layer>` etc. with PyTorch's default initialisation.
    public init<S: BLASScalar>(inputSize: Int, hiddenSize: Int, nonlinearity: ElmanNonlinearity, bias: Bool = true,
                               name: String = "rnn", layer: Int = 0, in store: ParameterStore<S>,
                               rng: inout SeededGenerator) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.nonlinearity = nonlinearity
        (weightIH, weightHH, biasIH, biasHH) = registerRecurrentWeights(
            name: name, layer: layer, gates: 1, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
            store: store, rng: &rng)
    }

    public func forward<S: BLASScalar>(_ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
                                       _ store: ParameterStore<S>) -> RecurrentCache<S> {
        precondition(input.columns == inputSize && input.rows % batch == 0,
                     "Elman layer expects (T * \(batch)) x \(inputSize) input, got \(input.rows) x \(input.columns)")
        precondition(initial.hidden.rows == batch && initial.hidden.columns == hiddenSize, "Elman layer: initial state has the wrong shape")
        let steps = input.rows / batch, h = hiddenSize, bh = batch * h
        let pre = RecurrentKernels.inputProjection(input, weightIH: weightIH, biasIH: biasIH, outputs: h, store)
        // hidden holds h_0 then, for each step, the pre-activation turned into h_t in place.
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h)
        hidden.scalars.replaceSubrange(0..<bh, with: initial.hidden.scalars)
        hidden.scalars.replaceSubrange(bh..., with: pre.scalars)
        let whh = store.value(weightHH)
        let bhh = biasHH.map { store.value($0) }
        hidden.withUnsafeMutableBufferPointer { ph in
            let base = ph.baseAddress!
            for t in 0..<steps {
                let prev = base + t * bh, cur = base + (t + 1) * bh
                if let bhh { Kernels.addRowVector(cur, rows: batch, columns: h, bhh) }
                S.gemm(.noTranspose, .transpose, m: batch, n: h, k: h, alpha: 1, a: prev, lda: h,
                       b: whh, ldb: h, beta: 1, c: cur, ldc: h)
                switch nonlinearity {
                case .relu: Kernels.reluInPlace(cur, count: bh)
                case .tanh: Kernels.tanhInPlace(cur, count: bh)
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: input, hidden: hidden,
                              gates: Matrix(rows: 0, columns: 0))
    }

    public func backward<S: BLASScalar>(_ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
                                        _ store: ParameterStore<S>, needInputGradient: Bool)
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>) {
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, bh = batch * h
        precondition(dOutput.rows == steps * batch && dOutput.columns == h, "Elman backward: dOutput has the wrong shape")
        // dPre_t = dLoss/d(pre-activation at step t); dh = dLoss/dh_t, carried backwards.
        var dPre = Matrix<S>(rows: steps * batch, columns: h)
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        let whh = store.value(weightHH)
        cache.hidden.withUnsafeBufferPointer { ph in
            dOutput.withUnsafeBufferPointer { pdo in
                dPre.withUnsafeMutableBufferPointer { pdp in
                    dh.withUnsafeMutableBufferPointer { pdh in
                        let dhp = pdh.baseAddress!
                        for t in stride(from: steps - 1, through: 0, by: -1) {
                            let ht = ph.baseAddress! + (t + 1) * bh
                            let dout = pdo.baseAddress! + t * bh
                            let dp = pdp.baseAddress! + t * bh
                            switch nonlinearity {
                            case .relu: for i in 0..<bh { dp[i] = ht[i] > 0 ? dhp[i] + dout[i] : 0 }
                            case .tanh: for i in 0..<bh { dp[i] = (dhp[i] + dout[i]) * (1 - ht[i] * ht[i]) }
                            }
                            S.gemm(.noTranspose, .noTranspose, m: batch, n: h, k: h, alpha: 1, a: dp, lda: h,
                                   b: whh, ldb: h, beta: 0, c: dhp, ldc: h)
                        }
                    }
                }
            }
        }
        RecurrentKernels.recurrentWeightGradient(hidden: cache.hidden, dHH: dPre, steps: steps, batch: batch,
                                                 weightHH: weightHH, biasHH: biasHH, store)
        let dInput = RecurrentKernels.inputProjectionBackward(cache.input, dPre: dPre, weightIH: weightIH,
                                                              biasIH: biasIH, store, needInputGradient: needInputGradient)
        return (dInput, RecurrentState(hidden: dh))
    }
}
