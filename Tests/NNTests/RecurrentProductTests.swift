// The recurrent-product seam: the dense operator against naive loops, an operator written here
// that carries all W_hh traffic of every layer kind, and a layer type defined outside NN.
import Testing
import Compute
import Linalg
import _TestSupport
@testable import NN

/// W_hh products as plain loops over a copy of W_hh and its mask, taken again whenever the store's
/// versions of W_hh move (as a sparse operator does), counting every call and every copy. The
/// weight gradient touches kept entries only.
final class LoopProduct: RecurrentProduct, @unchecked Sendable {
    /// Calls of each method.
    struct Counts: Equatable {
        var forward = 0, forwardTransposed = 0, backward = 0, backwardTransposed = 0
        var weightGradient = 0, refreshes = 0
    }

    let weight: ParameterSlot
    let outputs: Int
    let inputs: Int
    /// The layout this operator asks for.
    let transposed: Bool
    /// W_hh and its mask (all ones unless a mask is in force) as of the last refresh.
    private(set) var weights: [Double] = []
    private(set) var kept: [Bool] = []
    private(set) var counts = Counts()
    /// The store and its versions of W_hh (values, mask) that the copy was taken at.
    private var copied: (store: ObjectIdentifier, values: UInt64, mask: UInt64)?

    init(for layer: any RecurrentLayer, transposed: Bool) {
        weight = layer.weightHH
        outputs = layer.gateCount * layer.hiddenSize
        inputs = layer.hiddenSize
        self.transposed = transposed
    }

    /// The products with `layer`'s weight (the row products only).
    init(for layer: Linear) {
        weight = layer.weight
        outputs = layer.outputSize
        inputs = layer.inputSize
        transposed = false
    }

    func prefersTransposedStates(batch: Int, on backend: some ComputeBackend) -> Bool { transposed }

    /// The host memory of a buffer (the loops run on the CPU backend only).
    private func host<Backend: ComputeBackend>(_ b: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>) throws
        -> UnsafeMutablePointer<Backend.Scalar>
    {
        guard parameters.backend.isHostMemory else { throw ComputeError.invalidArgument("LoopProduct runs on host memory") }
        return UnsafeMutablePointer(bitPattern: UInt(b.address))!
    }

    private func w(_ r: Int, _ c: Int) -> Double { weights[r * hiddenSize + c] }

    func forward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, batch: Int, into y: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        typealias S = Backend.Scalar
        let (hidden, pre) = (try host(x, parameters), try host(y, parameters))
        counts.forward += 1
        refresh(parameters.store)
        for b in 0..<batch {
            for r in 0..<outputs {
                var s = 0.0
                for c in 0..<hiddenSize { s += w(r, c) * Double(hidden[b * hiddenSize + c]) }
                pre[b * outputs + r] = (accumulate ? pre[b * outputs + r] : 0) + S(s)
            }
        }
    }

    func forwardTransposed<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, batch: Int, addingTo y: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        typealias S = Backend.Scalar
        let (hiddenT, preT) = (try host(x, parameters), try host(y, parameters))
        counts.forwardTransposed += 1
        refresh(parameters.store)
        for r in 0..<outputs {
            for b in 0..<batch {
                var s = 0.0
                for c in 0..<hiddenSize { s += w(r, c) * Double(hiddenT[c * batch + b]) }
                preT[r * batch + b] += S(s)
            }
        }
    }

    func backward<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, batch: Int, into dx: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        typealias S = Backend.Scalar
        let (dPre, dHidden) = (try host(dy, parameters), try host(dx, parameters))
        counts.backward += 1
        refresh(parameters.store)
        for b in 0..<batch {
            for c in 0..<hiddenSize {
                var s = 0.0
                for r in 0..<outputs { s += Double(dPre[b * outputs + r]) * w(r, c) }
                dHidden[b * hiddenSize + c] = (accumulate ? dHidden[b * hiddenSize + c] : 0) + S(s)
            }
        }
    }

    func backwardTransposed<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, batch: Int, into dx: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        typealias S = Backend.Scalar
        let (dPreT, dHiddenT) = (try host(dy, parameters), try host(dx, parameters))
        counts.backwardTransposed += 1
        refresh(parameters.store)
        for c in 0..<hiddenSize {
            for b in 0..<batch {
                var s = 0.0
                for r in 0..<outputs { s += w(r, c) * Double(dPreT[r * batch + b]) }
                dHiddenT[c * batch + b] = (accumulate ? dHiddenT[c * batch + b] : 0) + S(s)
            }
        }
    }

    func accumulateWeightGradient<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, input x: ComputeBuffer<Backend.Scalar>, rows: Int,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        typealias S = Backend.Scalar
        let (dPre, hidden) = (try host(dy, parameters), try host(x, parameters))
        counts.weightGradient += 1
        refresh(parameters.store)
        let g = try host(parameters.gradient(weightHH), parameters)
        for r in 0..<outputs {
            for c in 0..<hiddenSize where kept[r * hiddenSize + c] {
                var s = 0.0
                for n in 0..<rows { s += Double(dPre[n * outputs + r]) * Double(hidden[n * hiddenSize + c]) }
                g[r * hiddenSize + c] += S(s)
            }
        }
    }

    /// Copies W_hh and its mask when the store or its versions of them differ from the copy's.
    private func refresh<S: BLASScalar>(_ store: ParameterStore<S>) {
        let now = (store: ObjectIdentifier(store), values: store.valueVersion(weightHH), mask: store.maskVersion(weightHH))
        if let copied, copied == now { return }
        copied = now
        counts.refreshes += 1
        let n = outputs * hiddenSize, v = store.value(weightHH), m = store.mask(weightHH)
        let masked = store.isMasked[weightHH.index]
        weights = (0..<n).map { Double(v[$0]) }
        kept = (0..<n).map { !masked || m[$0] != 0 }
    }
}

/// The product calls on host pointers, from public API: each pointer wrapped as a buffer of a CPU
/// backend over the store's memory, with the element count its shape needs.
extension RecurrentProduct {
    fileprivate func forward<S: BLASScalar>(
        _ hidden: UnsafePointer<S>, batch: Int, addingTo pre: UnsafeMutablePointer<S>, _ store: ParameterStore<S>
    ) throws {
        let cpu = CPUBackend(S.self)
        try forward(
            cpu.buffer(at: hidden, count: batch * inputs), batch: batch, addingTo: cpu.buffer(at: pre, count: batch * outputs),
            store.buffers(on: cpu))
    }

    fileprivate func forwardTransposed<S: BLASScalar>(
        _ hiddenT: UnsafePointer<S>, batch: Int, addingTo preT: UnsafeMutablePointer<S>, _ store: ParameterStore<S>
    ) throws {
        let cpu = CPUBackend(S.self)
        try forwardTransposed(
            cpu.buffer(at: hiddenT, count: batch * inputs), batch: batch, addingTo: cpu.buffer(at: preT, count: batch * outputs),
            store.buffers(on: cpu))
    }

    fileprivate func backward<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, batch: Int, into dh: UnsafeMutablePointer<S>, accumulate: Bool, _ store: ParameterStore<S>
    ) throws {
        let cpu = CPUBackend(S.self)
        try backward(
            cpu.buffer(at: dPre, count: batch * outputs), batch: batch, into: cpu.buffer(at: dh, count: batch * inputs),
            accumulate: accumulate, store.buffers(on: cpu))
    }

    fileprivate func backwardTransposed<S: BLASScalar>(
        _ dPreT: UnsafePointer<S>, batch: Int, into dhT: UnsafeMutablePointer<S>, accumulate: Bool, _ store: ParameterStore<S>
    ) throws {
        let cpu = CPUBackend(S.self)
        try backwardTransposed(
            cpu.buffer(at: dPreT, count: batch * outputs), batch: batch, into: cpu.buffer(at: dhT, count: batch * inputs),
            accumulate: accumulate, store.buffers(on: cpu))
    }

    fileprivate func accumulateWeightGradient<S: BLASScalar>(
        _ dPre: UnsafePointer<S>, hidden: UnsafePointer<S>, rows: Int, _ store: ParameterStore<S>
    ) throws {
        let cpu = CPUBackend(S.self)
        try accumulateWeightGradient(
            cpu.buffer(at: dPre, count: rows * outputs), input: cpu.buffer(at: hidden, count: rows * inputs), rows: rows,
            store.buffers(on: cpu))
    }
}

/// A layer type defined outside NN, from public API only: `h_t = softsign(W_ih x_t + W_hh h_{t-1})`
/// with softsign(a) = a / (1 + |a|), no bias, one gate block. Its two generic entry points call one
/// generic function each.
struct SoftsignLayer: RecurrentLayer {
    let inputSize: Int
    let hiddenSize: Int
    var gateCount: Int { 1 }
    var hasCellState: Bool { false }
    let weightIH: ParameterSlot
    let weightHH: ParameterSlot
    var biasIH: ParameterSlot? { nil }
    var biasHH: ParameterSlot? { nil }

    init<S: BLASScalar>(
        inputSize: Int, hiddenSize: Int, name: String, in store: ParameterStore<S>,
        rng: inout SeededGenerator
    ) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        weightIH = store.add("\(name).weight_ih", shape: [hiddenSize, inputSize], .pytorchDefault(fanIn: hiddenSize), rng: &rng)
        weightHH = store.add("\(name).weight_hh", shape: [hiddenSize, hiddenSize], .pytorchDefault(fanIn: hiddenSize), rng: &rng)
    }

    func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>, _ store: ParameterStore<S>,
        product: any RecurrentProduct
    ) -> RecurrentCache<S> {
        do { return try run(input, batch: batch, initial: initial, store, product: product) } catch {
            preconditionFailure("softsign forward: \(error)")
        }
    }

    func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        do {
            return try runBackward(cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient, product: product)
        } catch { preconditionFailure("softsign backward: \(error)") }
    }

    /// Forward: the cache keeps h_0 ... h_T and, in `gates`, the pre-activations a_t.
    func run<S: BLASScalar>(
        _ x: Matrix<S>, batch: Int, initial: RecurrentState<S>, _ store: ParameterStore<S>,
        product: any RecurrentProduct
    ) throws -> RecurrentCache<S> {
        let steps = x.rows / batch, h = hiddenSize, bh = batch * h
        var pre = Matrix<S>(rows: x.rows, columns: h)
        var hidden = Matrix<S>(rows: (steps + 1) * batch, columns: h)
        hidden.scalars.replaceSubrange(0..<bh, with: initial.hidden.scalars)
        try x.withUnsafeBufferPointer { px in
            try pre.withUnsafeMutableBufferPointer { pp in
                try hidden.withUnsafeMutableBufferPointer { ph in
                    S.gemm(
                        .noTranspose, .transpose, m: x.rows, n: h, k: inputSize, alpha: 1, a: px.baseAddress!, lda: inputSize,
                        b: store.value(weightIH), ldb: inputSize, beta: 0, c: pp.baseAddress!, ldc: h)
                    for t in 0..<steps {
                        let a = pp.baseAddress! + t * bh, hPrev = ph.baseAddress! + t * bh
                        try product.forward(hPrev, batch: batch, addingTo: a, store)
                        for i in 0..<bh { hPrev[bh + i] = a[i] / (1 + abs(a[i])) }
                    }
                }
            }
        }
        return RecurrentCache(steps: steps, batch: batch, input: x, hidden: hidden, gates: pre)
    }

    /// BPTT: dA_t = (dh_t + dOutput_t) / (1 + |a_t|)^2, dh_{t-1} = dA_t W_hh; then
    /// dW_hh += dA^T [h_0 ... h_{T-1}], dW_ih += dA^T X, dX = dA W_ih.
    func runBackward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    ) throws
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        let steps = cache.steps, batch = cache.batch, h = hiddenSize, bh = batch * h, n = steps * batch
        var dh = dFinal?.hidden ?? Matrix<S>(rows: batch, columns: h)
        var dA = Matrix<S>(rows: n, columns: h)
        var dX = Matrix<S>(rows: needInputGradient ? n : 0, columns: inputSize)
        try cache.gates.withUnsafeBufferPointer { pa in
            try cache.hidden.withUnsafeBufferPointer { ph in
                try cache.input.withUnsafeBufferPointer { px in
                    try dA.withUnsafeMutableBufferPointer { pd in
                        try dh.withUnsafeMutableBufferPointer { pdh in
                            for t in stride(from: steps - 1, through: 0, by: -1) {
                                let a = pa.baseAddress! + t * bh, da = pd.baseAddress! + t * bh
                                for i in 0..<bh {
                                    let out = dOutput.rows > 0 ? dOutput.scalars[t * bh + i] : 0
                                    let s = 1 + abs(a[i])
                                    da[i] = (pdh[i] + out) / (s * s)
                                }
                                try product.backward(da, batch: batch, into: pdh.baseAddress!, accumulate: false, store)
                            }
                            try product.accumulateWeightGradient(pd.baseAddress!, hidden: ph.baseAddress!, rows: n, store)
                            S.gemm(
                                .transpose, .noTranspose, m: h, n: inputSize, k: n, alpha: 1, a: pd.baseAddress!, lda: h,
                                b: px.baseAddress!, ldb: inputSize, beta: 1, c: store.gradient(weightIH), ldc: inputSize)
                            if needInputGradient {
                                dX.withUnsafeMutableBufferPointer { pdx in
                                    S.gemm(
                                        .noTranspose, .noTranspose, m: n, n: inputSize, k: h, alpha: 1, a: pd.baseAddress!, lda: h,
                                        b: store.value(weightIH), ldb: inputSize, beta: 0, c: pdx.baseAddress!, ldc: inputSize)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dX, RecurrentState(hidden: dh))
    }
}

@Suite struct RecurrentProductTests {
    // MARK: The dense operator against naive loops

    /// Every product of `DenseWeightProduct` in both layouts, against triple loops, for G * H x H
    /// with three gate blocks; `rows` 300 makes the weight gradient run in slices of the inner dimension.
    func checkDense<S: BLASScalar>(_: S.Type, tolerance: Double, seed: UInt64) throws {
        let (g, h, b, rows) = (3, 5, 4, 300)
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<S>()
        _ = store.add("other", shape: [7])  // W_hh does not start at offset 0
        let slot = store.add("weight_hh", shape: [g * h, h], .pytorchDefault(fanIn: h), rng: &rng)
        let product = DenseWeightProduct(weight: slot, outputs: g * h, inputs: h)
        let w = store.matrix(slot)
        func close(_ x: Matrix<S>, _ y: [Double], _ what: String) {
            let err = zip(x.scalars, y).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(err < tolerance, "\(S.self) \(what): relative error \(err) (seed \(seed))")
        }

        // pre (B x GH) += h (B x H) W^T
        let hRows: Matrix<S> = rng.normalMatrix(rows: b, columns: h)
        var pre: Matrix<S> = rng.normalMatrix(rows: b, columns: g * h)
        var expected = (0..<(b * g * h)).map { i in
            (0..<h).reduce(Double(pre.scalars[i])) { $0 + Double(w[i % (g * h), $1]) * Double(hRows[i / (g * h), $1]) }
        }
        try hRows.withUnsafeBufferPointer { ph in
            try pre.withUnsafeMutableBufferPointer { try product.forward(ph.baseAddress!, batch: b, addingTo: $0.baseAddress!, store) }
        }
        close(pre, expected, "forward rows")

        // preT (GH x B) += W hT (H x B)
        let hT: Matrix<S> = rng.normalMatrix(rows: h, columns: b)
        var preT: Matrix<S> = rng.normalMatrix(rows: g * h, columns: b)
        expected = (0..<(g * h * b)).map { i in
            (0..<h).reduce(Double(preT.scalars[i])) { $0 + Double(w[i / b, $1]) * Double(hT[$1, i % b]) }
        }
        try hT.withUnsafeBufferPointer { ph in
            try preT.withUnsafeMutableBufferPointer {
                try product.forwardTransposed(ph.baseAddress!, batch: b, addingTo: $0.baseAddress!, store)
            }
        }
        close(preT, expected, "forward transposed")

        for accumulate in [false, true] {
            // dh (B x H) (+)= dPre (B x GH) W
            let dPre: Matrix<S> = rng.normalMatrix(rows: b, columns: g * h)
            var dh: Matrix<S> = rng.normalMatrix(rows: b, columns: h)
            expected = (0..<(b * h)).map { i in
                (0..<(g * h)).reduce(accumulate ? Double(dh.scalars[i]) : 0) {
                    $0 + Double(dPre[i / h, $1]) * Double(w[$1, i % h])
                }
            }
            try dPre.withUnsafeBufferPointer { pd in
                try dh.withUnsafeMutableBufferPointer {
                    try product.backward(pd.baseAddress!, batch: b, into: $0.baseAddress!, accumulate: accumulate, store)
                }
            }
            close(dh, expected, "backward rows, accumulate \(accumulate)")

            // dhT (H x B) (+)= W^T dPreT (GH x B)
            let dPreT: Matrix<S> = rng.normalMatrix(rows: g * h, columns: b)
            var dhT: Matrix<S> = rng.normalMatrix(rows: h, columns: b)
            expected = (0..<(h * b)).map { i in
                (0..<(g * h)).reduce(accumulate ? Double(dhT.scalars[i]) : 0) {
                    $0 + Double(w[$1, i / b]) * Double(dPreT[$1, i % b])
                }
            }
            try dPreT.withUnsafeBufferPointer { pd in
                try dhT.withUnsafeMutableBufferPointer {
                    try product.backwardTransposed(pd.baseAddress!, batch: b, into: $0.baseAddress!, accumulate: accumulate, store)
                }
            }
            close(dhT, expected, "backward transposed, accumulate \(accumulate)")
        }

        // dW (GH x H) += dPre^T (GH x rows) H (rows x H), with a mask in force: the dense operator
        // computes every entry, and masking afterwards leaves exactly the kept entries.
        let mask = store.mask(slot)
        for i in 0..<(g * h * h) { mask[i] = i % 3 == 0 ? 0 : 1 }
        store.enableMask(slot)
        let dPre: Matrix<S> = rng.normalMatrix(rows: rows, columns: g * h)
        let hidden: Matrix<S> = rng.normalMatrix(rows: rows, columns: h)
        let start: Matrix<S> = rng.normalMatrix(rows: g * h, columns: h)
        store.gradient(slot).update(from: start.scalars, count: g * h * h)
        expected = (0..<(g * h * h)).map { i in
            (0..<rows).reduce(Double(start.scalars[i])) { $0 + Double(dPre[$1, i / h]) * Double(hidden[$1, i % h]) }
        }
        try dPre.withUnsafeBufferPointer { pd in
            try hidden.withUnsafeBufferPointer {
                try product.accumulateWeightGradient(pd.baseAddress!, hidden: $0.baseAddress!, rows: rows, store)
            }
        }
        close(store.gradientMatrix(slot), expected, "weight gradient, every entry")
        store.maskGradients()
        close(
            store.gradientMatrix(slot), expected.enumerated().map { $0.offset % 3 == 0 ? 0 : $0.element },
            "weight gradient, kept entries")
        let values = store.matrix(slot)
        #expect(store.matrix(slot) == values)
    }

    @Test func denseMatchesNaiveLoopsDouble() throws { try checkDense(Double.self, tolerance: 1e-12, seed: 700) }
    @Test func denseMatchesNaiveLoopsFloat() throws { try checkDense(Float.self, tolerance: 2e-5, seed: 701) }

    // MARK: An operator written here carries all W_hh traffic

    /// Results of one forward and backward pass: top outputs, dInput, dInitial of every layer and
    /// every parameter gradient.
    struct Pass: Equatable {
        var output: [Double], dInput: [Double], dInitial: [[Double]], gradients: [[Double]]
    }

    static func pass(
        _ net: RecurrentNetwork, _ store: ParameterStore<Double>, x: Matrix<Double>, batch: Int,
        h0: [RecurrentState<Double>], w: Matrix<Double>
    ) -> Pass {
        store.zeroGradients()
        let caches = net.forward(x, batch: batch, initial: h0, store)
        let (dx, d0) = net.backward(caches, dOutput: w, dFinal: nil, store, needInputGradient: true)
        return Pass(
            output: caches.last!.output.scalars, dInput: dx.scalars,
            dInitial: d0.map { $0.hidden.scalars + ($0.cell?.scalars ?? []) },
            gradients: store.slots.map { store.gradientMatrix($0).scalars })
    }

    static func maxDifference(_ a: Pass, _ b: Pass) -> Double {
        func d(_ x: [Double], _ y: [Double]) -> Double {
            x.count == y.count ? zip(x, y).map { abs($0 - $1) }.max() ?? 0 : .infinity
        }
        return
            ([d(a.output, b.output), d(a.dInput, b.dInput)] + zip(a.dInitial, b.dInitial).map(d)
            + zip(a.gradients, b.gradients).map(d) + [a.gradients.count == b.gradients.count ? 0 : .infinity]).max()!
    }

    /// For every cell kind and both layouts: with loop operators in place and W_hh in the store
    /// overwritten with NaN, forward and backward give the dense results (so no W_hh product
    /// bypasses the operator), and each operator is called once per step and product.
    @Test(arguments: CellKind.allCases, [false, true])
    func loopOperatorCarriesEveryProduct(kind: CellKind, transposed: Bool) {
        let (i, h, b, t, layers) = (3, 4, 5, 6, 2)
        var rng = SeededGenerator(seed: 720)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: layers, in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        var h0 = net.zeroState(batch: b, as: Double.self)
        for k in h0.indices {
            h0[k].hidden = rng.normalMatrix(rows: b, columns: h, std: 0.5)
            if h0[k].cell != nil { h0[k].cell = rng.normalMatrix(rows: b, columns: h, std: 0.5) }
        }
        let w = rng.lossWeights(rows: t * b, columns: h)
        let dense = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)

        var loops: [LoopProduct] = []
        net.replaceProducts { layer in
            let p = LoopProduct(for: layer, transposed: transposed)
            loops.append(p)
            return p
        }
        let viaLoops = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
        let diff = Self.maxDifference(dense, viaLoops)
        #expect(diff < 1e-12, "\(kind) transposed \(transposed): loop operators differ from dense by \(diff)")

        // Only the Elman layer runs on transposed states; LSTM and GRU always use rows.
        let usesTransposed = transposed && (kind == .rnnTanh || kind == .rnnReLU)
        let perStep = LoopProduct.Counts(
            forward: usesTransposed ? 0 : t, forwardTransposed: usesTransposed ? t : 0,
            backward: usesTransposed ? 0 : t, backwardTransposed: usesTransposed ? t : 0,
            weightGradient: 1, refreshes: 1)
        for (k, loop) in loops.enumerated() {
            #expect(loop.counts == perStep, "\(kind) transposed \(transposed) layer \(k): \(loop.counts)")
        }

        // The layers read W_hh only through the operators: NaN written into the store's W_hh
        // without recording the change leaves the operators' copies, and the pass, as they were.
        for slot in net.recurrentWeights {
            store.value(slot).update(repeating: .nan, count: store.info(slot).count)
        }
        let again = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
        #expect(Self.maxDifference(dense, again) < 1e-12, "\(kind) transposed \(transposed): an operator read the store's W_hh")
        #expect(loops.map(\.counts.refreshes) == [1, 1])
        // A recorded change reaches every operator at its next use.
        for slot in net.recurrentWeights { store.valuesDidChange(slot) }
        _ = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
        #expect(loops.map(\.counts.refreshes) == [2, 2])
    }

    /// A Float network with a loop operator gives the dense Float results (to Float rounding) and
    /// calls it once per step: the Float entry points route through the seam too.
    @Test func floatPathUsesTheOperator() {
        let (i, h, b, t) = (2, 6, 3, 4)
        var rng = SeededGenerator(seed: 730)
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .lstm, inputSize: i, hiddenSize: h, in: store, rng: &rng)
        let x: Matrix<Float> = rng.normalMatrix(rows: t * b, columns: i)
        let w: Matrix<Float> = rng.normalMatrix(rows: t * b, columns: h)
        func run() -> [Float] {
            store.zeroGradients()
            let caches = net.forward(x, batch: b, store)
            _ = net.backward(caches, dOutput: w, store)
            return caches.last!.output.scalars + Array(store.gradients)
        }
        let dense = run()
        var loop: LoopProduct?
        net.replaceProducts { layer in
            let p = LoopProduct(for: layer, transposed: false)
            loop = p
            return p
        }
        let viaLoop = run()
        let err = zip(dense, viaLoop).map { abs($0 - $1) / max(1, abs($0)) }.max()!
        #expect(err < 1e-5, "Float LSTM: loop operator differs from dense by \(err)")
        #expect(loop?.counts == LoopProduct.Counts(forward: t, backward: t, weightGradient: 1, refreshes: 1))
    }

    /// A model keeps its network and the trainer a copy: products replaced through the copy are
    /// the ones the model's network runs.
    @Test func copiesOfANetworkShareTheirProducts() {
        var rng = SeededGenerator(seed: 731)
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .rnnTanh, inputSize: 2, hiddenSize: 5, in: store, rng: &rng)
        let copy = net
        var loop: LoopProduct?
        copy.replaceProducts { layer in
            let p = LoopProduct(for: layer, transposed: false)
            loop = p
            return p
        }
        #expect(net.products.first as? LoopProduct === loop)
        _ = net.forward(rng.normalMatrix(rows: 3 * 2, columns: 2), batch: 2, store)
        #expect(loop?.counts.forward == 3)
    }

    /// A Linear layer runs all of its weight's traffic through its product: with the loop
    /// operator every output and gradient equals the dense GEMMs', each product is called once
    /// per pass, and a copy of the layer made before the switch runs the new product too.
    @Test func linearRunsThroughItsProduct() {
        var rng = SeededGenerator(seed: 733)
        let store = ParameterStore<Double>()
        let layer = Linear(inputSize: 5, outputSize: 4, name: "decoder", in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: 3, columns: 5)
        let dY: Matrix<Double> = rng.normalMatrix(rows: 3, columns: 4)
        let dense = SparseLinearTests.pass(layer, store, x: x, dY: dY)
        let copy = layer
        let loop = LoopProduct(for: layer)
        layer.replaceProduct(loop)
        #expect(copy.product as? LoopProduct === loop)
        let viaLoop = SparseLinearTests.pass(copy, store, x: x, dY: dY)
        let err = SparseWeightProductTests.difference(dense, viaLoop)
        #expect(err < 1e-12, "Linear: the loop operator differs from the dense GEMMs by \(err)")
        #expect(loop.counts == LoopProduct.Counts(forward: 1, backward: 1, weightGradient: 1, refreshes: 1))
    }

    /// A pruned W_hh: an operator that computes only kept gradient entries agrees with the dense
    /// one after the optimizer's masking.
    @Test func maskedWeightGradientAgreesAfterMasking() {
        let (i, h, b, t) = (2, 5, 3, 4)
        var rng = SeededGenerator(seed: 740)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: .gru, inputSize: i, hiddenSize: h, in: store, rng: &rng)
        let whh = net.recurrentWeights[0]
        let mask = store.mask(whh)
        for j in 0..<store.info(whh).count { mask[j] = j % 4 == 1 ? 0 : 1 }
        store.enableMask(whh)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        let w = rng.lossWeights(rows: t * b, columns: h)
        let h0 = net.zeroState(batch: b, as: Double.self)
        func gradient() -> [Double] {
            _ = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
            store.maskGradients()
            return store.gradientMatrix(whh).scalars
        }
        let dense = gradient()
        net.replaceProducts { LoopProduct(for: $0, transposed: false) }
        let kept = gradient()
        #expect(zip(dense, kept).map { abs($0 - $1) }.max()! < 1e-12)
        #expect(dense.enumerated().allSatisfy { $0.offset % 4 != 1 || $0.element == 0 })
    }

    // MARK: A layer type from outside NN

    /// A stack of an Elman layer and the `SoftsignLayer` of this file: every gradient matches
    /// central differences in Double, the loop operator sees the custom layer's products, and the
    /// Float entry points agree with Double.
    @Test func customLayerRunsThroughTheNetwork() {
        let (i, h, b, t) = (3, 4, 2, 5)
        var rng = SeededGenerator(seed: 750)
        let store = ParameterStore<Double>()
        let bottom = ElmanLayer(inputSize: i, hiddenSize: h, nonlinearity: .tanh, name: "rnn", layer: 0, in: store, rng: &rng)
        let top = SoftsignLayer(inputSize: h, hiddenSize: h, name: "soft", in: store, rng: &rng)
        let net = RecurrentNetwork(kind: .rnnTanh, layers: [bottom, top])
        #expect(net.recurrentWeights == [bottom.weightHH, top.weightHH])
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        var h0 = net.zeroState(batch: b, as: Double.self)
        for k in h0.indices { h0[k].hidden = rng.normalMatrix(rows: b, columns: h, std: 0.5) }
        let w = rng.lossWeights(rows: t * b, columns: h)
        func loss(_ x: Matrix<Double>, _ h0: [RecurrentState<Double>]) -> Double {
            let out = net.forward(x, batch: b, initial: h0, store).last!.output
            return zip(out.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let analytic = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
        for (slot, g) in zip(store.slots, analytic.gradients) {
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: store.info(slot).count) { loss(x, h0) }
            #expect(GradientCheck.maxRelativeError(numeric, g) < 1e-6, "custom stack \(store.info(slot).name)")
        }
        #expect(GradientCheck.maxRelativeError(GradientCheck.numericalGradient(of: x) { loss($0, h0) }, analytic.dInput) < 1e-6)
        for k in 0..<2 {
            let numeric = GradientCheck.numericalGradient(of: h0[k].hidden) { m in
                var s = h0
                s[k].hidden = m
                return loss(x, s)
            }
            #expect(GradientCheck.maxRelativeError(numeric, analytic.dInitial[k]) < 1e-6, "custom stack dInitial \(k)")
        }

        // The operator seam reaches the custom layer.
        var loops: [LoopProduct] = []
        net.replaceProducts { layer in
            let p = LoopProduct(for: layer, transposed: false)
            loops.append(p)
            return p
        }
        let viaLoops = Self.pass(net, store, x: x, batch: b, h0: h0, w: w)
        #expect(Self.maxDifference(analytic, viaLoops) < 1e-12)
        #expect(loops[1].counts == LoopProduct.Counts(forward: t, backward: t, weightGradient: 1, refreshes: 1))

        // The Float entry points of the custom layer, on a Float copy of the same parameters.
        let storeF = ParameterStore<Float>()
        var rngF = SeededGenerator(seed: 750)
        let bottomF = ElmanLayer(inputSize: i, hiddenSize: h, nonlinearity: .tanh, name: "rnn", layer: 0, in: storeF, rng: &rngF)
        let topF = SoftsignLayer(inputSize: h, hiddenSize: h, name: "soft", in: storeF, rng: &rngF)
        for (s, sF) in zip(store.slots, storeF.slots) {
            storeF.setValue(
                sF,
                Matrix(
                    rows: store.info(s).rows, columns: store.info(s).columns,
                    scalars: store.matrix(s).scalars.map(Float.init)))
        }
        let netF = RecurrentNetwork(kind: .rnnTanh, layers: [bottomF, topF])
        let outF = netF.forward(
            Matrix(rows: x.rows, columns: x.columns, scalars: x.scalars.map(Float.init)), batch: b,
            initial: h0.map { RecurrentState(hidden: Matrix(rows: b, columns: h, scalars: $0.hidden.scalars.map(Float.init))) },
            storeF
        ).last!.output
        let err = zip(outF.scalars, analytic.output).map { abs(Double($0) - $1) }.max()!
        #expect(err < 1e-5, "custom stack: Float output differs from Double by \(err)")
    }
}
