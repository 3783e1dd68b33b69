// The moduli penalty's Float training path (PenaltyKernel's SIMD8<Float> loops: |w| and sign(w)
// built from bits for p = 1, 2 R w for p = 2, 1024-long partial sums) against its Double path on
// the same Float-representable inputs, value and gradient, at block sizes with and without a tail
// after the 8 lanes and across the chunk boundary; then the whole regularizer in Float against
// Double. Reference: docs/method.md section 2.
import Geometry
import Linalg
import NN
import Testing
@testable import Sparsity

/// Largest `|a - b| / (|b| + floor * max|b|)` over two whole tensors, with its index.
fileprivate func floatError(_ a: [Double], _ b: [Double], floor: Double = 1e-2) -> (error: Double, at: Int) {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    let scale = max(b.map(abs).max() ?? 0, 1e-30)
    var worst = (error: 0.0, at: -1)
    for i in a.indices {
        let d = abs(a[i] - b[i]), e = d == 0 ? 0 : d / (abs(b[i]) + floor * scale)
        if !(e <= worst.error) { worst = (e.isNaN ? .infinity : e, i) }
    }
    return worst
}

@Suite struct PenaltyKernelFloatTests {
    /// One block of `count` weights (a quarter exactly +-0, to check sign(0) = 0), R >= 0, and
    /// gradients that already hold values (the kernel adds).
    @Test(arguments: [1, 7, 8, 9, 49, 64, 1031, 2100], [1, 2])
    func kernelFloatMatchesDouble(count: Int, power: Int) {
        let seed = 3000 + UInt64(count * 10 + power)
        let label = "PenaltyKernel count \(count) p = \(power), seed \(seed)"
        var rng = SeededGenerator(seed: seed)
        let w: [Float] = (0..<count).map { k in
            switch rng.integer(below: 8) {
            case 0: return 0
            case 1: return -0.0
            default: return Float(rng.normal())
            }
        }
        let r: [Float] = (0..<count).map { _ in Float(rng.uniform(0, 80)) }
        let g0: [Float] = (0..<count).map { _ in Float(rng.normal()) }
        let scale = 0.37
        let wd = w.map(Double.init), rd = r.map(Double.init)

        let value = PenaltyKernel.value(w: w, r: r, count: count, power: power)
        let valueD = PenaltyKernel.value(w: wd, r: rd, count: count, power: power)
        #expect(abs(value - valueD) <= 1e-5 * abs(valueD), "\(label): value Float \(value), Double \(valueD)")

        var g = g0, gd = g0.map(Double.init)
        let step = PenaltyKernel.valueAndGradient(w: w, gradient: &g, r: r, count: count, scale: scale, power: power)
        let stepD = PenaltyKernel.valueAndGradient(w: wd, gradient: &gd, r: rd, count: count, scale: scale, power: power)
        #expect(abs(step - stepD) <= 1e-5 * abs(stepD), "\(label): valueAndGradient's value Float \(step), Double \(stepD)")
        #expect(step == value, "\(label): value \(value) and valueAndGradient's value \(step) differ")
        let e = floatError(g.map(Double.init), gd)
        #expect(e.error < 1e-6, "\(label): gradient \(e), Float \(g[max(e.at, 0)]), Double \(gd[max(e.at, 0)])")

        // The added part alone, against its formula: scale R sign(w) (sign(+-0) = 0) or 2 scale R w.
        let added = (0..<count).map { Double(g[$0]) - Double(g0[$0]) }
        let formula = (0..<count).map { k -> Double in
            power == 1 ? scale * rd[k] * (wd[k] > 0 ? 1 : (wd[k] < 0 ? -1 : 0)) : 2 * scale * rd[k] * wd[k]
        }
        let ea = floatError(added, formula)
        #expect(ea.error < 1e-5, "\(label): added gradient \(ea)")
        let zeros = (0..<count).filter { w[$0] == 0 }
        #expect(power == 2 || zeros.allSatisfy { g[$0] == g0[$0] }, "\(label): a zero weight got a subgradient")

        var a = [Double](repeating: 0.5, count: count), ad = a
        PenaltyKernel.accumulateMagnitudes(w: w, into: &a, count: count, scale: scale, power: power)
        PenaltyKernel.accumulateMagnitudes(w: wd, into: &ad, count: count, scale: scale, power: power)
        #expect(a == ad, "\(label): accumulateMagnitudes Float and Double differ")
    }

    /// The whole regularizer (torus, inverted DoG; LSTM-shaped 4H x H and Elman-shaped H x H
    /// weights) in Float against Double with the same positions: penalty and every gradient entry.
    @Test(arguments: [1, 2])
    func regularizerFloatMatchesDouble(power: Int) throws {
        let h = 11, seed: UInt64 = 3100 + UInt64(power)
        let label = "ModuliRegularizer torus p = \(power), H = \(h), seed \(seed)"
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [4, 1], seed: seed, as: Double.self)
        let storeF = ParameterStore<Float>()
        for info in store.infos { storeF.add(info.name, shape: info.shape) }
        for k in 0..<store.totalCount {
            let f = Float(store.values[k])
            store.values[k] = Double(f); storeF.values[k] = f
        }
        let config = RegularizerConfig.geometric(space: "torus", lambda: 0.3, power: power)
        var rng = SeededGenerator(seed: seed), rngF = SeededGenerator(seed: seed)
        var regularizer = try ModuliRegularizer<Double>(config: config, hiddenSize: h, in: store, rng: &rng)
        var regularizerF = try ModuliRegularizer<Float>(config: config, hiddenSize: h, in: storeF, rng: &rngF)
        // The same R (up to its rounding to Float): the positions came from the same draws.
        #expect(regularizer.coefficients == regularizerF.coefficients, "\(label): R differs")
        let penalty = regularizer.penalty(weights: slots, in: store)
        let penaltyF = regularizerF.penalty(weights: slots, in: storeF)
        #expect(abs(penaltyF - penalty) < 1e-5 * penalty, "\(label): penalty Float \(penaltyF), Double \(penalty)")
        store.zeroGradients(); storeF.zeroGradients()
        let added = regularizer.addGradients(weights: slots, in: store)
        let addedF = regularizerF.addGradients(weights: slots, in: storeF)
        #expect(
            abs(addedF - added) < 1e-5 * added && addedF == penaltyF, "\(label): addGradients' penalty Float \(addedF), Double \(added)")
        for slot in slots {
            let e = floatError(gradients(storeF, slot), gradients(store, slot))
            #expect(e.error < 1e-5, "\(label): gradient of \(store.info(slot).name): \(e)")
        }
        #expect(storeF.gradients.contains { $0 != 0 }, "\(label): zero gradients")
    }
}
