// The Elman layer runs its per-step product on rows (B x H) or on transposed states (H x B)
// depending on the batch size; both forms are checked here against finite differences in Double
// and against each other.
import Testing
import Linalg
import _TestSupport
@testable import NN

@Suite struct ElmanStepLayoutTests {
    /// Every gradient of loss = sum(W * output) + sum(V * final) at a batch that takes the given form.
    @Test(arguments: [(3, ElmanNonlinearity.relu), (3, .tanh), (70, .relu), (70, .tanh)])
    func gradientsMatchFiniteDifferences(batch b: Int, nonlinearity: ElmanNonlinearity) {
        let (i, h, t) = (2, 3, 3)
        var rng = SeededGenerator(seed: 500 + UInt64(b))
        let store = ParameterStore<Double>()
        let layer = ElmanLayer(inputSize: i, hiddenSize: h, nonlinearity: nonlinearity, in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        let h0 = RecurrentState<Double>(hidden: rng.normalMatrix(rows: b, columns: h, std: 0.5))
        let w = rng.lossWeights(rows: t * b, columns: h), v = rng.lossWeights(rows: b, columns: h)
        func loss(_ x: Matrix<Double>, _ h0: RecurrentState<Double>) -> Double {
            let cache = layer.forward(x, batch: b, initial: h0, store)
            return zip(cache.output.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 }
                + zip(cache.final.hidden.scalars, v.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        store.zeroGradients()
        let cache = layer.forward(x, batch: b, initial: h0, store)
        let (dx, d0) = layer.backward(cache, dOutput: w, dFinal: RecurrentState(hidden: v), store, needInputGradient: true)
        let form = ElmanLayer.stepsOnTransposedStates(batch: b) ? "transposed" : "rows"
        for slot in store.slots {
            let info = store.info(slot)
            let numeric = GradientCheck.numericalGradient(store.value(slot), count: info.count) { loss(x, h0) }
            let analytic = Array(UnsafeBufferPointer(start: store.gradient(slot), count: info.count))
            #expect(GradientCheck.maxRelativeError(numeric, analytic) < 1e-6, "\(nonlinearity) \(form) \(info.name)")
        }
        #expect(
            GradientCheck.maxRelativeError(GradientCheck.numericalGradient(of: x) { loss($0, h0) }, dx.scalars) < 1e-6,
            "\(nonlinearity) \(form) dInput")
        let nh = GradientCheck.numericalGradient(of: h0.hidden) { loss(x, RecurrentState(hidden: $0)) }
        #expect(GradientCheck.maxRelativeError(nh, d0.hidden.scalars) < 1e-6, "\(nonlinearity) \(form) dInitial")
    }

    /// The first samples of a batch that takes the row form give the same outputs and input
    /// gradients as those samples alone in a batch that takes the transposed form.
    @Test func bothFormsAgree() {
        let (i, h, t, big, small) = (2, 5, 4, 70, 3)
        #expect(!ElmanLayer.stepsOnTransposedStates(batch: big) && ElmanLayer.stepsOnTransposedStates(batch: small))
        var rng = SeededGenerator(seed: 510)
        let store = ParameterStore<Double>()
        let layer = ElmanLayer(inputSize: i, hiddenSize: h, nonlinearity: .tanh, in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * big, columns: i)
        let w: Matrix<Double> = rng.normalMatrix(rows: t * big, columns: h)
        func rows(_ m: Matrix<Double>, _ width: Int) -> Matrix<Double> {  // the first `small` samples of each step
            Matrix(rows: t * small, columns: width) { r, c in m[(r / small) * big + r % small, c] }
        }
        let zeros = { (n: Int) in RecurrentState<Double>.zeros(batch: n, hiddenSize: h, withCell: false) }
        let cacheBig = layer.forward(x, batch: big, initial: zeros(big), store)
        let cacheSmall = layer.forward(rows(x, i), batch: small, initial: zeros(small), store)
        #expect(rows(cacheBig.output, h).maxAbsDifference(cacheSmall.output) < 1e-12)
        let dxBig = layer.backward(cacheBig, dOutput: w, dFinal: nil, store, needInputGradient: true).dInput
        let dxSmall = layer.backward(cacheSmall, dOutput: rows(w, h), dFinal: nil, store, needInputGradient: true).dInput
        #expect(rows(dxBig, i).maxAbsDifference(dxSmall) < 1e-12)
    }
}
