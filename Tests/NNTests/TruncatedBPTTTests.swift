// Truncated BPTT: the state carried across windows reproduces the full-sequence forward pass,
// and a window's gradients stop at its first step (the carried state is detached).
import Testing
import Linalg
import _TestSupport
@testable import NN

@Suite struct TruncatedBPTTTests {
    @Test(arguments: [CellKind.rnnTanh, .lstm, .gru])
    func carriedStateMatchesTheWholeSequence(kind: CellKind) {
        let (i, h, b, t) = (3, 5, 2, 8)
        var rng = SeededGenerator(seed: 21)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: 2, in: store, rng: &rng)
        let x: Matrix<Double> = rng.normalMatrix(rows: t * b, columns: i)
        let whole = net.forward(x, batch: b, store)
        // Two windows of 3 and 5 steps, the second starting from the first's final states.
        let split = 3 * b * i
        let first = Matrix(rows: 3 * b, columns: i, scalars: Array(x.scalars[..<split]))
        let second = Matrix(rows: 5 * b, columns: i, scalars: Array(x.scalars[split...]))
        let w1 = net.forward(first, batch: b, store)
        let w2 = net.forward(second, batch: b, initial: net.finalStates(w1), store)
        let joined = w1.last!.output.scalars + w2.last!.output.scalars
        #expect(Matrix(rows: t * b, columns: h, scalars: joined).maxAbsDifference(whole.last!.output) < 1e-14)
        for (a, c) in zip(net.finalStates(w2), net.finalStates(whole)) {
            #expect(a.hidden.maxAbsDifference(c.hidden) < 1e-14)
            if let ac = a.cell, let cc = c.cell { #expect(ac.maxAbsDifference(cc) < 1e-14) }
        }
    }

    @Test func windowGradientsTreatTheCarriedStateAsAConstant() {
        // The gradients of window 2's loss equal finite differences with the carried state held
        // fixed: backward adds nothing through the carried state into window 1 (it is detached).
        let (i, h, b) = (2, 3, 2)
        var rng = SeededGenerator(seed: 22)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: .rnnTanh, inputSize: i, hiddenSize: h, in: store, rng: &rng)
        let x1: Matrix<Double> = rng.normalMatrix(rows: 4 * b, columns: i)
        let x2: Matrix<Double> = rng.normalMatrix(rows: 4 * b, columns: i)
        let carried = net.finalStates(net.forward(x1, batch: b, store))
        let w = rng.lossWeights(rows: 4 * b, columns: h)
        func loss() -> Double {
            zip(net.forward(x2, batch: b, initial: carried, store).last!.output.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        store.zeroGradients()
        let caches = net.forward(x2, batch: b, initial: carried, store)
        _ = net.backward(caches, dOutput: w, store)
        for slot in store.slots {
            let n = GradientCheck.numericalGradient(store.value(slot), count: store.info(slot).count, loss)
            let a = Array(UnsafeBufferPointer(start: store.gradient(slot), count: store.info(slot).count))
            #expect(GradientCheck.maxRelativeError(n, a) < 1e-6, "\(store.info(slot).name) seed 22")
        }
    }
}
