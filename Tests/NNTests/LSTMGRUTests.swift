// Finite-difference checks in Double for the LSTM and GRU layers and their stacks (BPTT), and
// agreement of the Float path with the Double path.
import Foundation
import Testing
import Linalg
import _TestSupport
@testable import NN

@Suite struct LSTMGRUTests {
    static let (inputSize, hiddenSize, batch, steps) = (3, 4, 2, 5)

    /// A network with a non-zero initial state and fixed loss weights, for
    /// loss = sum(W * output) + sum_k sum(V_k * h_T^k) + sum_k sum(U_k * c_T^k).
    struct Fixture {
        let net: RecurrentNetwork
        let store: ParameterStore<Double>
        let x: Matrix<Double>
        let h0: [RecurrentState<Double>]
        let w: Matrix<Double>
        /// Loss weights on every layer's final state (V on h, U on c for the LSTM).
        let finalWeights: [RecurrentState<Double>]

        init(kind: CellKind, layers: Int, bias: Bool, seed: UInt64) {
            let (i, h, b, t) = (LSTMGRUTests.inputSize, LSTMGRUTests.hiddenSize, LSTMGRUTests.batch, LSTMGRUTests.steps)
            var rng = SeededGenerator(seed: seed)
            store = ParameterStore<Double>()
            net = RecurrentNetwork(
                kind: kind, inputSize: i, hiddenSize: h, layerCount: layers, bias: bias,
                in: store, rng: &rng)
            x = rng.normalMatrix(rows: t * b, columns: i)
            var states = net.zeroState(batch: b, as: Double.self)
            for k in states.indices {
                states[k].hidden = rng.normalMatrix(rows: b, columns: h, std: 0.5)
                if states[k].cell != nil { states[k].cell = rng.normalMatrix(rows: b, columns: h, std: 0.5) }
            }
            h0 = states
            w = rng.lossWeights(rows: t * b, columns: h)
            var fw = net.zeroState(batch: b, as: Double.self)
            for k in fw.indices {
                fw[k].hidden = rng.lossWeights(rows: b, columns: h)
                if fw[k].cell != nil { fw[k].cell = rng.lossWeights(rows: b, columns: h) }
            }
            finalWeights = fw
        }

        func loss(_ x: Matrix<Double>, _ h0: [RecurrentState<Double>]) -> Double {
            func dot(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double { zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 } }
            let caches = net.forward(x, batch: LSTMGRUTests.batch, initial: h0, store)
            var l = dot(caches.last!.output, w)
            for (cache, fw) in zip(caches, finalWeights) {
                let fin = cache.final
                l += dot(fin.hidden, fw.hidden)
                if let c = fin.cell, let u = fw.cell { l += dot(c, u) }
            }
            return l
        }
    }

    /// Checks every parameter, input and initial-state (h and c) gradient against central differences.
    func check(kind: CellKind, layers: Int, bias: Bool, seed: UInt64) {
        let f = Fixture(kind: kind, layers: layers, bias: bias, seed: seed)
        let store = f.store
        store.zeroGradients()
        let caches = f.net.forward(f.x, batch: Self.batch, initial: f.h0, store)
        let (dx, d0) = f.net.backward(caches, dOutput: f.w, dFinal: f.finalWeights, store, needInputGradient: true)
        let tag = "\(kind) layers \(layers) bias \(bias) seed \(seed)"

        for slot in store.slots {
            let info = store.info(slot)
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: info.count) { f.loss(f.x, f.h0) }
            let analytic = Array(UnsafeBufferPointer(start: store.gradient(slot), count: info.count))
            #expect(GradientCheck.maxRelativeError(numeric, analytic) < 1e-6, "\(tag): \(info.name)")
        }
        let nx = GradientCheck.numericalGradient(of: f.x) { f.loss($0, f.h0) }
        #expect(GradientCheck.maxRelativeError(nx, dx.scalars) < 1e-6, "\(tag): dInput")
        for k in 0..<layers {
            let nh = GradientCheck.numericalGradient(of: f.h0[k].hidden) { m in
                var s = f.h0
                s[k].hidden = m
                return f.loss(f.x, s)
            }
            #expect(GradientCheck.maxRelativeError(nh, d0[k].hidden.scalars) < 1e-6, "\(tag): dInitial h layer \(k)")
            if let c0 = f.h0[k].cell {
                let nc = GradientCheck.numericalGradient(of: c0) { m in
                    var s = f.h0
                    s[k].cell = m
                    return f.loss(f.x, s)
                }
                #expect(d0[k].cell != nil, "\(tag): no dInitial c layer \(k)")
                #expect(GradientCheck.maxRelativeError(nc, d0[k].cell?.scalars ?? []) < 1e-6, "\(tag): dInitial c layer \(k)")
            } else {
                #expect(d0[k].cell == nil, "\(tag): unexpected dInitial c layer \(k)")
            }
        }
    }

    @Test func lstmOneLayer() { check(kind: .lstm, layers: 1, bias: true, seed: 101) }
    @Test func lstmOneLayerNoBias() { check(kind: .lstm, layers: 1, bias: false, seed: 102) }
    @Test func lstmTwoLayers() { check(kind: .lstm, layers: 2, bias: true, seed: 103) }
    @Test func lstmTwoLayersNoBias() { check(kind: .lstm, layers: 2, bias: false, seed: 104) }
    @Test func gruOneLayer() { check(kind: .gru, layers: 1, bias: true, seed: 201) }
    @Test func gruOneLayerNoBias() { check(kind: .gru, layers: 1, bias: false, seed: 202) }
    @Test func gruTwoLayers() { check(kind: .gru, layers: 2, bias: true, seed: 203) }
    @Test func gruTwoLayersNoBias() { check(kind: .gru, layers: 2, bias: false, seed: 204) }

    /// The Float path gives the Double path's outputs, final states and gradients for the same
    /// weights, to Float precision.
    @Test(arguments: [CellKind.lstm, .gru])
    func floatMatchesDouble(kind: CellKind) {
        let f = Fixture(kind: kind, layers: 2, bias: true, seed: 301)
        var rng = SeededGenerator(seed: 301)
        let storeF = ParameterStore<Float>()
        let netF = RecurrentNetwork(
            kind: kind, inputSize: Self.inputSize, hiddenSize: Self.hiddenSize, layerCount: 2,
            in: storeF, rng: &rng)
        #expect(storeF.infos == f.store.infos)
        for i in 0..<f.store.totalCount { storeF.values[i] = Float(f.store.values[i]) }
        func toFloat(_ s: RecurrentState<Double>) -> RecurrentState<Float> {
            RecurrentState(hidden: s.hidden.converted(), cell: s.cell?.converted())
        }

        f.store.zeroGradients()
        storeF.zeroGradients()
        let cachesD = f.net.forward(f.x, batch: Self.batch, initial: f.h0, f.store)
        let cachesF = netF.forward(f.x.converted(to: Float.self), batch: Self.batch, initial: f.h0.map(toFloat), storeF)
        let (dxD, d0D) = f.net.backward(cachesD, dOutput: f.w, dFinal: f.finalWeights, f.store, needInputGradient: true)
        let (dxF, d0F) = netF.backward(
            cachesF, dOutput: f.w.converted(), dFinal: f.finalWeights.map(toFloat), storeF,
            needInputGradient: true)

        func close(_ a: Matrix<Float>, _ b: Matrix<Double>, _ what: String, tolerance: Double = 1e-5) {
            #expect(a.rows == b.rows && a.columns == b.columns, "\(kind) \(what): shape")
            let e = GradientCheck.maxRelativeError(a.scalars.map(Double.init), b.scalars)
            #expect(e < tolerance, "\(kind) \(what): Float vs Double error \(e)")
        }
        for k in 0..<2 {
            close(cachesF[k].output, cachesD[k].output, "output layer \(k)")
            close(cachesF[k].final.hidden, cachesD[k].final.hidden, "final h layer \(k)")
            #expect((cachesF[k].final.cell == nil) == (kind != .lstm))
            if let cF = cachesF[k].final.cell, let cD = cachesD[k].final.cell { close(cF, cD, "final c layer \(k)") }
        }
        close(dxF, dxD, "dInput", tolerance: 1e-4)
        for k in 0..<2 {
            close(d0F[k].hidden, d0D[k].hidden, "dInitial h layer \(k)", tolerance: 1e-4)
            if let cF = d0F[k].cell, let cD = d0D[k].cell { close(cF, cD, "dInitial c layer \(k)", tolerance: 1e-4) }
        }
        for slot in f.store.slots {
            close(storeF.gradientMatrix(slot), f.store.gradientMatrix(slot), f.store.info(slot).name, tolerance: 1e-4)
        }
    }

    /// The LSTM forward pass against a naive per-element loop of the PyTorch formulas.
    @Test func lstmForwardMatchesNaiveLoop() {
        let f = Fixture(kind: .lstm, layers: 1, bias: true, seed: 401)
        let layer = f.net.layers[0]
        let cache = layer.forward(f.x, batch: Self.batch, initial: f.h0[0], f.store)
        let wih = f.store.matrix(layer.weightIH), whh = f.store.matrix(layer.weightHH)
        let bih = f.store.matrix(layer.biasIH!), bhh = f.store.matrix(layer.biasHH!)
        let (i, h, b) = (Self.inputSize, Self.hiddenSize, Self.batch)
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        var hPrev = f.h0[0].hidden, cPrev = f.h0[0].cell!
        for s in 0..<Self.steps {
            var hNew = hPrev, cNew = cPrev
            for n in 0..<b {
                for j in 0..<h {
                    var a = [Double](repeating: 0, count: 4)
                    for g in 0..<4 {
                        let r = g * h + j
                        a[g] = bih.scalars[r] + bhh.scalars[r]
                        for k in 0..<i { a[g] += wih[r, k] * f.x[s * b + n, k] }
                        for k in 0..<h { a[g] += whh[r, k] * hPrev[n, k] }
                    }
                    let c = sigmoid(a[1]) * cPrev[n, j] + sigmoid(a[0]) * tanh(a[2])
                    cNew[n, j] = c
                    hNew[n, j] = sigmoid(a[3]) * tanh(c)
                    #expect(abs(cache.output[s * b + n, j] - hNew[n, j]) < 1e-12)
                    #expect(abs(cache.cell![(s + 1) * b + n, j] - c) < 1e-12)
                }
            }
            hPrev = hNew; cPrev = cNew
        }
    }
}
