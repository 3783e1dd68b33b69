// The NN module's optimizers (which run the backend's steps over parameter groups and masks) equal
// one plain backend step per update to the bit, and the backend operations composed by hand into a
// layer's forward pass reproduce the NN layers' own passes.
import Testing
import Linalg
import NN
import Compute

@Suite struct NNParityTests {
    /// A store with one tensor of `values`, its gradient set to `gradient`.
    func store(_ values: [Float]) -> (ParameterStore<Float>, ParameterSlot) {
        let s = ParameterStore<Float>()
        let slot = s.add("w", shape: [values.count])
        for (i, v) in values.enumerated() { s.values[i] = v }
        return (s, slot)
    }

    /// Adam and AdamW, four steps: parameters bitwise equal (the NN path runs 8 lanes at a time).
    @Test(arguments: [false, true])
    func adamMatchesNNAdamBitwise(decoupled: Bool) throws {
        var rng = SeededGenerator(seed: 80)
        let n = 45
        let initial = rng.floats(n)
        let (s, _) = store(initial)
        var nn: Adam<Float> = decoupled ? .adamW(learningRate: 3e-3, weightDecay: 0.01) : Adam(learningRate: 3e-3, weightDecay: 0.02)
        let settings =
            decoupled ? AdamSettings.adamW(learningRate: 3e-3, weightDecay: 0.01) : AdamSettings(learningRate: 3e-3, weightDecay: 0.02)
        let cpu = CPUBackend()
        let p = try cpu.buffer(initial), g = try cpu.allocate(count: n)
        let m = try cpu.buffer([Float](repeating: 0, count: n)), v = try cpu.buffer([Float](repeating: 0, count: n))
        for t in 1...4 {
            let grad = rng.floats(n)
            for i in 0..<n { s.gradients[i] = grad[i] }
            nn.step(s)
            try cpu.upload(grad, to: g)
            try cpu.adamStep(parameters: p, gradients: g, firstMoment: m, secondMoment: v, settings: settings, step: t)
        }
        #expect(try cpu.download(p) == Array(s.values), "\(decoupled ? "AdamW" : "Adam") differs from NN's")
    }

    /// SGD with momentum and Nesterov, three steps: bitwise equal.
    @Test func sgdMatchesNNSGDBitwise() throws {
        var rng = SeededGenerator(seed: 81)
        let n = 19
        let initial = rng.floats(n)
        let (s, _) = store(initial)
        var nn = SGD<Float>(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
        let settings = SGDSettings(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
        let cpu = CPUBackend()
        let p = try cpu.buffer(initial), g = try cpu.allocate(count: n), b = try cpu.allocate(count: n)
        for step in 0..<3 {
            let grad = rng.floats(n)
            for i in 0..<n { s.gradients[i] = grad[i] }
            nn.step(s)
            try cpu.upload(grad, to: g)
            try cpu.sgdStep(parameters: p, gradients: g, momentumBuffer: b, settings: settings, firstStep: step == 0)
        }
        #expect(try cpu.download(p) == Array(s.values))
    }
}

/// The backend operations composed here by hand into an LSTM and a GRU layer's forward pass (input
/// projection for all steps, then per step the W_hh product and the fused step) reproduce the NN
/// layers, whose passes run the same operations through their own slicing and workspace: a check
/// of the layers' plumbing (their math has the finite-difference and PyTorch oracles in NNTests).
@Suite struct LayerCompositionTests {
    /// Uploads a store tensor.
    func upload(_ cpu: CPUBackend<Float>, _ store: ParameterStore<Float>, _ slot: ParameterSlot) throws -> ComputeBuffer<Float> {
        let count = store.info(slot).count
        return try cpu.buffer(Array(UnsafeBufferPointer(start: store.value(slot), count: count)))
    }

    @Test(arguments: ["lstm", "gru"])
    func cellStepsComposeIntoTheLayer(_ kind: String) throws {
        var rng = SeededGenerator(seed: 90)
        let (inputs, h, batch, steps) = (3, 5, 4, 3)
        let store = ParameterStore<Float>()
        let layer: any RecurrentLayer =
            kind == "lstm"
            ? LSTMLayer(inputSize: inputs, hiddenSize: h, in: store, rng: &rng)
            : GRULayer(inputSize: inputs, hiddenSize: h, in: store, rng: &rng)
        let g = layer.gateCount * h
        let x = Matrix<Float>(rows: steps * batch, columns: inputs, scalars: rng.floats(steps * batch * inputs))
        let h0 = Matrix<Float>(rows: batch, columns: h, scalars: rng.floats(batch * h))
        let c0 = Matrix<Float>(rows: batch, columns: h, scalars: rng.floats(batch * h))
        let cache = layer.forward(
            x, batch: batch, initial: RecurrentState(hidden: h0, cell: kind == "lstm" ? c0 : nil), store,
            product: DenseWeightProduct(for: layer))
        let (biasIH, biasHH) = (try #require(layer.biasIH), try #require(layer.biasHH))

        let cpu = CPUBackend()
        let wih = try upload(cpu, store, layer.weightIH), whh = try upload(cpu, store, layer.weightHH)
        let bih = try upload(cpu, store, biasIH), bhh = try upload(cpu, store, biasHH)
        let xs = try cpu.buffer(x.scalars)
        // All steps' input projections in one GEMM: pre = X W_ih^T + b_ih, (T B) x G H.
        let pre = try cpu.allocate(count: steps * batch * g)
        try cpu.gemm(
            .noTranspose, .transpose, m: steps * batch, n: g, k: inputs, alpha: 1, a: xs, lda: inputs, b: wih, ldb: inputs,
            beta: 0, c: pre, ldc: g)
        try cpu.addRowVector(pre, rows: steps * batch, columns: g, bih)
        let hidden = try cpu.allocate(count: (steps + 1) * batch * h), cell = try cpu.allocate(count: (steps + 1) * batch * h)
        try cpu.upload(h0.scalars, to: hidden)
        try cpu.upload(c0.scalars, to: cell)
        var ws = try cpu.makeWorkspace(count: 4 * batch * g)
        for t in 0..<steps {
            ws.reset()
            let a = try pre.rows(t * batch, count: batch, columns: g)
            let hPrev = try hidden.rows(t * batch, count: batch, columns: h),
                hCur = try hidden.rows((t + 1) * batch, count: batch, columns: h)
            if kind == "lstm" {
                try cpu.addRowVector(a, rows: batch, columns: g, bhh)
                try cpu.gemm(
                    .noTranspose, .transpose, m: batch, n: g, k: h, alpha: 1, a: hPrev, lda: h, b: whh, ldb: h, beta: 1, c: a, ldc: g)
                try cpu.lstmForward(
                    gates: a, cellPrevious: try cell.rows(t * batch, count: batch, columns: h),
                    cell: try cell.rows((t + 1) * batch, count: batch, columns: h), hidden: hCur, batch: batch, hiddenSize: h)
            } else {
                let q = try ws.take(batch * g), qn = try ws.take(batch * h)
                try cpu.fill(q, with: 0)
                try cpu.addRowVector(q, rows: batch, columns: g, bhh)
                try cpu.gemm(
                    .noTranspose, .transpose, m: batch, n: g, k: h, alpha: 1, a: hPrev, lda: h, b: whh, ldb: h, beta: 1, c: q, ldc: g)
                try cpu.gruForward(gates: a, recurrent: q, hiddenPrevious: hPrev, hidden: hCur, recurrentN: qn, batch: batch, hiddenSize: h)
            }
        }
        expectClose(try cpu.download(hidden), cache.hidden.scalars.map(Double.init), tolerance: 1e-6, "\(kind) hidden states")
        expectClose(try cpu.download(pre), cache.gates.scalars.map(Double.init), tolerance: 1e-6, "\(kind) gates")
        if kind == "lstm", let c = cache.cell {
            expectClose(try cpu.download(cell), c.scalars.map(Double.init), tolerance: 1e-6, "lstm cell states")
        }
    }
}
