// Finite-difference checks in Double for Linear and Embedding, naive-loop forwards, and Linear's
// Float path against its Double path.
import Testing
import Linalg
import _TestSupport
import NN

/// sum(w * y), the scalar test loss whose gradient with respect to y is w.
fileprivate func weightedSum(_ y: Matrix<Double>, _ w: Matrix<Double>) -> Double {
    zip(y.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 }
}

@Suite struct LinearEmbeddingTests {
    /// Checks every weight, bias and input gradient of loss = sum(W * linear(x)) by central differences.
    func checkLinear(bias: Bool, seed: UInt64) {
        let (n, i, o) = (3, 4, 2)
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let layer = Linear(inputSize: i, outputSize: o, bias: bias, name: "fc", in: store, rng: &rng)
        #expect(store.infos.map(\.name) == (bias ? ["fc.weight", "fc.bias"] : ["fc.weight"]))
        #expect(store.info(layer.weight).shape == [o, i])
        let x: Matrix<Double> = rng.normalMatrix(rows: n, columns: i)
        let w = rng.lossWeights(rows: n, columns: o)
        func loss(_ x: Matrix<Double>) -> Double { weightedSum(layer.forward(x, store), w) }

        store.zeroGradients()
        let dx = layer.backward(input: x, dOutput: w, store)
        for slot in store.slots {
            let info = store.info(slot)
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: info.count) { loss(x) }
            let analytic = Array(UnsafeBufferPointer(start: store.gradient(slot), count: info.count))
            #expect(GradientCheck.maxRelativeError(numeric, analytic) < 1e-8, "\(info.name) bias \(bias) seed \(seed)")
        }
        let nx = GradientCheck.numericalGradient(of: x) { loss($0) }
        #expect(GradientCheck.maxRelativeError(nx, dx.scalars) < 1e-8, "dInput bias \(bias) seed \(seed)")

        // Backward adds: a second call doubles every parameter gradient.
        let once = Array(store.gradients)
        layer.backward(input: x, dOutput: w, store, needInputGradient: false)
        #expect(GradientCheck.maxRelativeError(Array(store.gradients), once.map { 2 * $0 }) < 1e-15)
    }

    @Test func linearWithBias() { checkLinear(bias: true, seed: 101) }
    @Test func linearWithoutBias() { checkLinear(bias: false, seed: 102) }

    @Test func linearForwardMatchesNaiveLoop() {
        var rng = SeededGenerator(seed: 103)
        let store = ParameterStore<Double>()
        let layer = Linear(inputSize: 3, outputSize: 4, name: "fc", in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: 2, columns: 3)
        let y = layer.forward(x, store)
        let wm = store.matrix(layer.weight), bm = store.matrix(layer.bias!)
        for r in 0..<2 {
            for o in 0..<4 {
                var a = bm.scalars[o]
                for i in 0..<3 { a += wm[o, i] * x[r, i] }
                #expect(abs(y[r, o] - a) < 1e-14, "y[\(r), \(o)] seed 103")
            }
        }
        // PyTorch's default initialisation U(-1/sqrt(I), 1/sqrt(I)).
        let bound = 1 / 3.0.squareRoot()
        #expect(Array(store.values).allSatisfy { abs($0) <= bound })
    }

    /// The Float path gives the Double path's output and gradients to Float accuracy.
    @Test(arguments: [true, false]) func linearFloatMatchesDouble(bias: Bool) {
        let (n, i, o) = (5, 7, 3)
        var rng = SeededGenerator(seed: 104)
        let ds = ParameterStore<Double>(), fs = ParameterStore<Float>()
        let layer = Linear(inputSize: i, outputSize: o, bias: bias, name: "fc", in: ds, rng: &rng)
        var unused = SeededGenerator(seed: 0)
        let fl = Linear(inputSize: i, outputSize: o, bias: bias, name: "fc", in: fs, rng: &unused)
        for slot in ds.slots { fs.setValue(slot, ds.matrix(slot).converted()) }
        let x: Matrix<Double> = rng.normalMatrix(rows: n, columns: i)
        let dy = rng.lossWeights(rows: n, columns: o)
        let yd = layer.forward(x, ds), yf = fl.forward(x.converted(to: Float.self), fs)
        #expect(GradientCheck.maxRelativeError(yd.scalars, yf.scalars.map(Double.init)) < 1e-5, "bias \(bias)")
        ds.zeroGradients(); fs.zeroGradients()
        let dxd = layer.backward(input: x, dOutput: dy, ds)
        let dxf = fl.backward(input: x.converted(), dOutput: dy.converted(), fs)
        #expect(GradientCheck.maxRelativeError(dxd.scalars, dxf.scalars.map(Double.init)) < 1e-5, "bias \(bias)")
        #expect(GradientCheck.maxRelativeError(Array(ds.gradients), fs.gradients.map(Double.init)) < 1e-5, "bias \(bias)")
    }

    @Test func embeddingGradientWithRepeatedIndices() {
        let (v, e) = (5, 3)
        let indices = [2, 0, 2, 4, 2, 0]
        var rng = SeededGenerator(seed: 105)
        let store = ParameterStore<Double>()
        let emb = Embedding(vocabularySize: v, embeddingSize: e, name: "encoder", in: store, rng: &rng)
        #expect(store.info(emb.weight).name == "encoder.weight")
        #expect(store.info(emb.weight).shape == [v, e])
        let w = rng.lossWeights(rows: indices.count, columns: e)

        let y: Matrix<Double> = emb.forward(indices, store)
        let table = store.matrix(emb.weight)
        for (n, i) in indices.enumerated() { #expect(y.row(n) == table.row(i), "row \(n) seed 105") }

        store.zeroGradients()
        emb.backward(indices: indices, dOutput: w, store)
        let numeric = GradientCheck.numericalGradient(store.value(emb.weight), count: v * e) {
            weightedSum(emb.forward(indices, store), w)
        }
        let analytic = store.gradientMatrix(emb.weight)
        #expect(GradientCheck.maxRelativeError(numeric, analytic.scalars) < 1e-8, "seed 105")
        // Rows never looked up get nothing; row 2 (three uses) gets the sum of three rows of w.
        #expect(analytic.row(1) == [0, 0, 0] && analytic.row(3) == [0, 0, 0])
        for j in 0..<e { #expect(abs(analytic[2, j] - (w[0, j] + w[2, j] + w[4, j])) < 1e-15) }

        // Backward adds.
        emb.backward(indices: indices, dOutput: w, store)
        #expect(GradientCheck.maxRelativeError(store.gradientMatrix(emb.weight).scalars, analytic.scalars.map { 2 * $0 }) < 1e-15)

        // The preallocated forward writes the same rows.
        var into = Matrix<Double>(rows: indices.count, columns: e, repeating: .nan)
        emb.forward(indices, store, into: &into)
        #expect(into == y)
    }

    @Test func embeddingInitialisation() {
        var rng = SeededGenerator(seed: 106)
        let store = ParameterStore<Float>()
        let normal = Embedding(vocabularySize: 50, embeddingSize: 40, name: "a", in: store, rng: &rng)
        let uniform = Embedding(
            vocabularySize: 50, embeddingSize: 40, name: "b", in: store, rng: &rng,
            weightInit: .uniform(bound: 0.1))
        let nv = store.matrix(normal.weight).scalars.map(Double.init)
        let mean = nv.reduce(0, +) / Double(nv.count)
        let std = (nv.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(nv.count)).squareRoot()
        // 2000 draws of N(0, 1): mean within 4 standard errors, std within 10%.
        #expect(abs(mean) < 4 / 2000.0.squareRoot() && abs(std - 1) < 0.1, "mean \(mean) std \(std) seed 106")
        let uv = store.matrix(uniform.weight).scalars
        #expect(uv.allSatisfy { abs($0) <= 0.1 } && uv.contains { abs($0) > 0.09 })
    }
}
