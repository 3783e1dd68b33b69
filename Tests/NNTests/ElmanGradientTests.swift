// Finite-difference checks in Double for the Elman layer, the recurrent stack and BPTT.
import Testing
import Linalg
import _TestSupport
@testable import NN

@Suite struct ElmanGradientTests {
    /// Builds a network, runs it, and checks every parameter, input and initial-state gradient
    /// of loss = sum(W * output) + sum(V * final hidden) against central differences.
    func check(kind: CellKind, layers: Int, bias: Bool, seed: UInt64) {
        let (i, h, b, t) = (3, 4, 2, 5)
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: layers, bias: bias, in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        var h0 = net.zeroState(batch: b, as: Double.self)
        for k in h0.indices { h0[k].hidden = rng.normalMatrix(rows: b, columns: h, std: 0.5) }
        let w = rng.lossWeights(rows: t * b, columns: h)
        let v = rng.lossWeights(rows: b, columns: h)

        func loss() -> Double { loss(x, h0) }
        func loss(_ x: Matrix<Double>, _ h0: [RecurrentState<Double>]) -> Double {
            let caches = net.forward(x, batch: b, initial: h0, store)
            let out = caches.last!.output, fin = caches.last!.final.hidden
            return zip(out.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 } + zip(fin.scalars, v.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        store.zeroGradients()
        let caches = net.forward(x, batch: b, initial: h0, store)
        var dFinal = net.zeroState(batch: b, as: Double.self)
        dFinal[layers - 1].hidden = v
        let (dx, d0) = net.backward(caches, dOutput: w, dFinal: dFinal, store, needInputGradient: true)

        for slot in store.slots {
            let info = store.info(slot)
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: info.count, loss)
            let analytic = Array(UnsafeBufferPointer(start: store.gradient(slot), count: info.count))
            #expect(GradientCheck.maxRelativeError(numeric, analytic) < 1e-6, "\(kind) \(info.name) seed \(seed)")
        }
        let nx = GradientCheck.numericalGradient(of: x) { loss($0, h0) }
        #expect(GradientCheck.maxRelativeError(nx, dx.scalars) < 1e-6, "\(kind) dInput seed \(seed)")
        for k in 0..<layers {
            let nh = GradientCheck.numericalGradient(of: h0[k].hidden) { m in
                var s = h0
                s[k].hidden = m
                return loss(x, s)
            }
            #expect(GradientCheck.maxRelativeError(nh, d0[k].hidden.scalars) < 1e-6, "\(kind) dInitial layer \(k) seed \(seed)")
        }
    }

    @Test func elmanTanhOneLayer() { check(kind: .rnnTanh, layers: 1, bias: true, seed: 1) }
    @Test func elmanTanhTwoLayersNoBias() { check(kind: .rnnTanh, layers: 2, bias: false, seed: 2) }
    @Test func elmanReLUThreeLayers() { check(kind: .rnnReLU, layers: 3, bias: true, seed: 3) }

    @Test func reluForwardMatchesNaiveLoop() {
        var rng = SeededGenerator(seed: 9)
        let store = ParameterStore<Double>()
        let layer = ElmanLayer(inputSize: 2, hiddenSize: 3, nonlinearity: .relu, in: store, rng: &rng)
        let (b, t) = (2, 4)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: 2)
        let out = layer.forward(x, batch: b, initial: .zeros(batch: b, hiddenSize: 3, withCell: false), store).output
        let wih = store.matrix(layer.weightIH), whh = store.matrix(layer.weightHH)
        let bih = store.matrix(layer.biasIH!), bhh = store.matrix(layer.biasHH!)
        var hPrev = [[Double]](repeating: [0, 0, 0], count: b)
        for s in 0..<t {
            for n in 0..<b {
                var hn = [Double](repeating: 0, count: 3)
                for j in 0..<3 {
                    var a = bih.scalars[j] + bhh.scalars[j]
                    for k in 0..<2 { a += wih[j, k] * x[s * b + n, k] }
                    for k in 0..<3 { a += whh[j, k] * hPrev[n][k] }
                    hn[j] = max(0, a)
                    #expect(abs(out[s * b + n, j] - hn[j]) < 1e-12)
                }
                hPrev[n] = hn
            }
        }
    }
}
