// The CPU backend in Double: its forward operations against the naive Double formulas (Reference),
// its backward operations against central differences of its own forward operations, and its
// optimizer steps against the NN module's Double optimizers. Double is where the gradient checks
// of code written on the backend run, so its operations need oracles of their own.
import Foundation
import Testing
import Linalg
import NN
import Compute

@Suite struct DoubleBackendTests {
    let cpu = CPUBackend(Double.self)

    /// Central differences of `f` at `x`, one coordinate at a time.
    func numerical(_ x: [Double], step: Double = 1e-6, _ f: ([Double]) throws -> Double) rethrows -> [Double] {
        var x = x, out = [Double](repeating: 0, count: x.count)
        for i in x.indices {
            let saved = x[i]
            x[i] = saved + step
            let plus = try f(x)
            x[i] = saved - step
            let minus = try f(x)
            x[i] = saved
            out[i] = (plus - minus) / (2 * step)
        }
        return out
    }

    /// Expects `actual` within `tolerance` of `expected`, absolute below 1 and relative above.
    func expectNear(
        _ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        var worst = 0.0, at = -1
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let err = abs(a - e) / max(1, abs(e))
            if !(err <= worst) { worst = err.isNaN ? .infinity : err; at = i }
        }
        #expect(worst <= tolerance, "\(what): worst error \(worst) at index \(at), tolerance \(tolerance)", sourceLocation: sourceLocation)
    }

    func uniform(_ rng: inout SeededGenerator, _ n: Int, _ low: Double = -1, _ high: Double = 1) -> [Double] {
        (0..<n).map { _ in rng.uniform(low, high) }
    }

    /// Slices and workspace pieces address whole Double elements.
    @Test func slicesAddressDoubleElements() throws {
        let values = (0..<40).map { Double($0) + 0.25 }
        let a = try cpu.buffer(values)
        #expect(try cpu.download(try a.slice(from: 7, count: 5)) == Array(values[7..<12]))
        #expect(try cpu.download(try a.rows(3, count: 2, columns: 4)) == Array(values[12..<20]))
        var ws = try cpu.makeWorkspace(count: 200)
        let p1 = try ws.take(3), p2 = try ws.take(10)
        #expect(p2.address - p1.address == UInt64(2 * Workspace<Double>.alignment * 8))
        try cpu.fill(p2, with: 2)
        try cpu.copy(try a.slice(from: 30, count: 10), to: try ws.storage.slice(from: 0, count: 10))
        #expect(try cpu.download(p2).allSatisfy { $0 == 2 })
        #expect(try cpu.download(try ws.storage.slice(from: 0, count: 10)) == Array(values[30..<40]))
    }

    // MARK: Forward operations against the naive formulas

    @Test(arguments: [
        (Transpose.noTranspose, Transpose.noTranspose), (.transpose, .noTranspose),
        (.noTranspose, .transpose), (.transpose, .transpose)
    ])
    func gemmMatchesTripleLoop(_ ta: Transpose, _ tb: Transpose) throws {
        var rng = SeededGenerator(seed: 90)
        let m = 7, n = 5, k = 11
        let (ar, ac) = ta == .noTranspose ? (m, k) : (k, m)
        let (br, bc) = tb == .noTranspose ? (k, n) : (n, k)
        let lda = ac + 2, ldb = bc + 1, ldc = n + 3
        let a = uniform(&rng, ar * lda), b = uniform(&rng, br * ldb), c = uniform(&rng, m * ldc)
        let pc = try cpu.buffer(c)
        try cpu.gemm(
            ta, tb, m: m, n: n, k: k, alpha: 0.75, a: try cpu.buffer(a), lda: lda, b: try cpu.buffer(b), ldb: ldb,
            beta: -0.5, c: pc, ldc: ldc)
        var expected = c
        Reference.gemm(ta, tb, m: m, n: n, k: k, alpha: 0.75, a: a, lda: lda, b: b, ldb: ldb, beta: -0.5, c: &expected, ldc: ldc)
        expectNear(try cpu.download(pc), expected, tolerance: 1e-13, "Double gemm \(ta) \(tb)")
    }

    /// Two biases in one pass, a transposition, and the weight gradient's product over a long k
    /// (sliced on the CPU) against the naive formulas.
    @Test func layerOperationsMatchReference() throws {
        var rng = SeededGenerator(seed: 31)
        let (rows, columns, k) = (9, 11, 290)
        let y = uniform(&rng, rows * columns), u = uniform(&rng, columns), v = uniform(&rng, columns)
        let py = try cpu.buffer(y)
        try cpu.addRowVectors(py, rows: rows, columns: columns, try cpu.buffer(u), try cpu.buffer(v))
        expectNear(
            try cpu.download(py), (0..<(rows * columns)).map { y[$0] + u[$0 % columns] + v[$0 % columns] }, tolerance: 1e-15,
            "addRowVectors")
        let t = try cpu.allocate(count: rows * columns)
        try cpu.transpose(try cpu.buffer(y), rows: rows, columns: columns, into: t)
        let transposed = try cpu.download(t)
        #expect((0..<rows).allSatisfy { r in (0..<columns).allSatisfy { c in transposed[c * rows + r] == y[r * columns + c] } })
        let a = uniform(&rng, k * rows), b = uniform(&rng, k * columns), c = uniform(&rng, rows * columns)
        let pc = try cpu.buffer(c)
        try cpu.addTransposedProduct(
            m: rows, n: columns, k: k, a: try cpu.buffer(a), lda: rows, b: try cpu.buffer(b), ldb: columns, c: pc, ldc: columns)
        var expected = c
        Reference.gemm(
            .transpose, .noTranspose, m: rows, n: columns, k: k, alpha: 1, a: a, lda: rows, b: b, ldb: columns, beta: 1, c: &expected,
            ldc: columns)
        expectNear(try cpu.download(pc), expected, tolerance: 1e-13, "addTransposedProduct")
    }

    @Test func cellStepsMatchReference() throws {
        var rng = SeededGenerator(seed: 91)
        let batch = 3, h = 5, bh = batch * h
        let a = uniform(&rng, 4 * bh, -2, 2), cPrev = uniform(&rng, bh)
        let gates = try cpu.buffer(a), cell = try cpu.allocate(count: bh), hidden = try cpu.allocate(count: bh)
        try cpu.lstmForward(gates: gates, cellPrevious: try cpu.buffer(cPrev), cell: cell, hidden: hidden, batch: batch, hiddenSize: h)
        let lstm = Reference.lstm(a: a, cPrev: cPrev, batch: batch, h: h)
        expectNear(try cpu.download(gates), lstm.gates, tolerance: 1e-14, "Double LSTM gates")
        expectNear(try cpu.download(cell), lstm.c, tolerance: 1e-14, "Double LSTM c")
        expectNear(try cpu.download(hidden), lstm.h, tolerance: 1e-14, "Double LSTM h")

        let ga = uniform(&rng, 3 * bh, -2, 2), q = uniform(&rng, 3 * bh, -2, 2), hPrev = uniform(&rng, bh)
        let gg = try cpu.buffer(ga), gh = try cpu.allocate(count: bh)
        try cpu.gruForward(
            gates: gg, recurrent: try cpu.buffer(q), hiddenPrevious: try cpu.buffer(hPrev), hidden: gh,
            recurrentN: try cpu.allocate(count: bh), batch: batch, hiddenSize: h)
        let gru = Reference.gru(a: ga, q: q, hPrev: hPrev, batch: batch, h: h)
        expectNear(try cpu.download(gg), gru.gates, tolerance: 1e-14, "Double GRU gates")
        expectNear(try cpu.download(gh), gru.h, tolerance: 1e-14, "Double GRU h")
    }

    @Test(arguments: [(1, 1), (4, 2)])
    func penaltyValueMatchesReference(gates: Int, power: Int) throws {
        var rng = SeededGenerator(seed: 92)
        let h = 6
        let w = uniform(&rng, gates * h * h), r = uniform(&rng, h * h, 0, 5)
        let value = try cpu.moduliPenalty(
            weights: try cpu.buffer(w), coefficients: try cpu.buffer(r), gates: gates, hiddenSize: h,
            lambda: 0.3, power: power, gradient: nil)
        let expected = Reference.penalty(w: w, r: r, gates: gates, h: h, lambda: 0.3, power: power)
        expectNear([value], [expected], tolerance: 1e-14, "Double penalty G \(gates) p \(power)")
    }

    // MARK: Backward operations against central differences of the forward operations

    /// `sum(w act(pre))` through the backend's Elman step.
    @Test(arguments: CellActivation.allCases)
    func elmanBackward(_ activation: CellActivation) throws {
        var rng = SeededGenerator(seed: 93)
        let n = 13
        let pre = rng.awayFromZero(n, gap: 0.1, high: 2).doubles, g = uniform(&rng, n), o = uniform(&rng, n)
        let h = try cpu.buffer(pre)
        try cpu.elmanForward(activation, h)
        let d = try cpu.allocate(count: n)
        try cpu.elmanBackward(activation, output: h, gradient: try cpu.buffer(g), extra: try cpu.buffer(o), into: d)
        let fd = try numerical(pre) { x in
            let b = try cpu.buffer(x)
            try cpu.elmanForward(activation, b)
            let hv: [Double] = try cpu.download(b)
            var sum = 0.0
            for i in 0..<n { sum += hv[i] * (g[i] + o[i]) }
            return sum
        }
        expectNear(try cpu.download(d), fd, tolerance: 1e-8, "Double Elman \(activation) backward")
    }

    @Test func lstmBackward() throws {
        var rng = SeededGenerator(seed: 94)
        let batch = 2, h = 3, bh = batch * h
        let a = uniform(&rng, 4 * bh, -2, 2), cPrev = uniform(&rng, bh)
        let dh = uniform(&rng, bh), dOut = uniform(&rng, bh), dc = uniform(&rng, bh)
        func loss(_ a: [Double], _ cPrev: [Double]) throws -> Double {
            let cell = try cpu.allocate(count: bh), hidden = try cpu.allocate(count: bh)
            try cpu.lstmForward(
                gates: try cpu.buffer(a), cellPrevious: try cpu.buffer(cPrev), cell: cell, hidden: hidden,
                batch: batch, hiddenSize: h)
            let c: [Double] = try cpu.download(cell), hv: [Double] = try cpu.download(hidden)
            var sum = 0.0
            for i in 0..<bh { sum += (dh[i] + dOut[i]) * hv[i] + dc[i] * c[i] }
            return sum
        }
        let pg = try cpu.buffer(a), pcp = try cpu.buffer(cPrev), pc = try cpu.allocate(count: bh)
        try cpu.lstmForward(gates: pg, cellPrevious: pcp, cell: pc, hidden: try cpu.allocate(count: bh), batch: batch, hiddenSize: h)
        let pdc = try cpu.buffer(dc), pda = try cpu.allocate(count: 4 * bh)
        try cpu.lstmBackward(
            gates: pg, cellPrevious: pcp, cell: pc, dOutput: try cpu.buffer(dOut), dHidden: try cpu.buffer(dh),
            dCell: pdc, dGates: pda, batch: batch, hiddenSize: h)
        expectNear(try cpu.download(pda), try numerical(a) { try loss($0, cPrev) }, tolerance: 1e-8, "Double LSTM dGates")
        expectNear(try cpu.download(pdc), try numerical(cPrev) { try loss(a, $0) }, tolerance: 1e-8, "Double LSTM dCell")
    }

    @Test func gruBackward() throws {
        var rng = SeededGenerator(seed: 95)
        let batch = 2, h = 3, bh = batch * h
        let a = uniform(&rng, 3 * bh, -2, 2), q = uniform(&rng, 3 * bh, -2, 2), hPrev = uniform(&rng, bh)
        let dh = uniform(&rng, bh), dOut = uniform(&rng, bh)
        func loss(_ a: [Double], _ q: [Double], _ hp: [Double]) throws -> Double {
            let hidden = try cpu.allocate(count: bh)
            try cpu.gruForward(
                gates: try cpu.buffer(a), recurrent: try cpu.buffer(q), hiddenPrevious: try cpu.buffer(hp), hidden: hidden,
                recurrentN: try cpu.allocate(count: bh), batch: batch, hiddenSize: h)
            let hv: [Double] = try cpu.download(hidden)
            var sum = 0.0
            for i in 0..<bh { sum += (dh[i] + dOut[i]) * hv[i] }
            return sum
        }
        let pg = try cpu.buffer(a), php = try cpu.buffer(hPrev), pn = try cpu.allocate(count: bh)
        try cpu.gruForward(
            gates: pg, recurrent: try cpu.buffer(q), hiddenPrevious: php, hidden: try cpu.allocate(count: bh),
            recurrentN: pn, batch: batch, hiddenSize: h)
        let pdh = try cpu.buffer(dh), pdp = try cpu.allocate(count: 3 * bh), pdq = try cpu.allocate(count: 3 * bh)
        try cpu.gruBackward(
            gates: pg, hiddenPrevious: php, recurrentN: pn, dOutput: try cpu.buffer(dOut), dHidden: pdh,
            dPre: pdp, dRecurrent: pdq, batch: batch, hiddenSize: h)
        expectNear(try cpu.download(pdp), try numerical(a) { try loss($0, q, hPrev) }, tolerance: 1e-8, "Double GRU dPre")
        expectNear(try cpu.download(pdq), try numerical(q) { try loss(a, $0, hPrev) }, tolerance: 1e-8, "Double GRU dRecurrent")
        expectNear(try cpu.download(pdh), try numerical(hPrev) { try loss(a, q, $0) }, tolerance: 1e-8, "Double GRU dHidden")
    }

    /// Both cross-entropies' gradients against differences of their own summed losses.
    @Test func crossEntropyGradients() throws {
        var rng = SeededGenerator(seed: 96)
        let rows = 3, c = 9, scale = 0.5
        let x = uniform(&rng, rows * c, -3, 3), t = (0..<rows).map { _ in Double(rng.integer(below: c)) }
        let p = uniform(&rng, rows * c, 0, 0.3)
        let d = try cpu.allocate(count: rows * c)
        func summed(_ soft: Bool, _ x: [Double]) throws -> Double {
            let loss =
                soft
                ? try cpu.softCrossEntropy(
                    logits: try cpu.buffer(x), targets: try cpu.buffer(p), rows: rows, classes: c, scale: scale, gradient: nil)
                : try cpu.crossEntropy(
                    logits: try cpu.buffer(x), targets: try cpu.buffer(t), rows: rows, classes: c, scale: scale, gradient: nil
                ).loss
            return scale * loss
        }
        _ = try cpu.crossEntropy(logits: try cpu.buffer(x), targets: try cpu.buffer(t), rows: rows, classes: c, scale: scale, gradient: d)
        expectNear(try cpu.download(d), try numerical(x) { try summed(false, $0) }, tolerance: 1e-8, "Double cross-entropy gradient")
        _ = try cpu.softCrossEntropy(
            logits: try cpu.buffer(x), targets: try cpu.buffer(p), rows: rows, classes: c, scale: scale, gradient: d)
        expectNear(try cpu.download(d), try numerical(x) { try summed(true, $0) }, tolerance: 1e-8, "Double soft cross-entropy gradient")
    }

    @Test(arguments: [(1, 1), (4, 2)])
    func penaltyGradient(gates: Int, power: Int) throws {
        var rng = SeededGenerator(seed: 97)
        let h = 4, n = gates * h * h
        let w = rng.awayFromZero(n, gap: 0.05).doubles, r = uniform(&rng, h * h, 0, 5), g0 = uniform(&rng, n)
        let pr = try cpu.buffer(r), grad = try cpu.buffer(g0)
        _ = try cpu.moduliPenalty(
            weights: try cpu.buffer(w), coefficients: pr, gates: gates, hiddenSize: h, lambda: 0.3, power: power, gradient: grad)
        let fd = try numerical(w) { x in
            try cpu.moduliPenalty(
                weights: try cpu.buffer(x), coefficients: pr, gates: gates, hiddenSize: h, lambda: 0.3, power: power, gradient: nil)
        }
        expectNear(
            try cpu.download(grad), (0..<n).map { g0[$0] + fd[$0] }, tolerance: 1e-8, "Double penalty gradient G \(gates) p \(power)")
    }

    // MARK: Optimizers and the pruning threshold

    /// Adam, AdamW and SGD with Nesterov momentum equal the NN module's Double optimizers to the bit.
    @Test func optimizersMatchNNBitwise() throws {
        var rng = SeededGenerator(seed: 98)
        let n = 23
        let initial = uniform(&rng, n)
        for kind in ["adam", "adamw", "sgd"] {
            let store = ParameterStore<Double>()
            _ = store.add("w", shape: [n])
            for i in 0..<n { store.values[i] = initial[i] }
            let p = try cpu.buffer(initial), g = try cpu.allocate(count: n)
            let m = try cpu.allocate(count: n), v = try cpu.allocate(count: n)
            var adam: Adam<Double> =
                kind == "adamw" ? .adamW(learningRate: 3e-3, weightDecay: 0.01) : Adam(learningRate: 3e-3, weightDecay: 0.02)
            var sgd = SGD<Double>(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
            let adamSettings =
                kind == "adamw"
                ? AdamSettings.adamW(learningRate: 3e-3, weightDecay: 0.01) : AdamSettings(learningRate: 3e-3, weightDecay: 0.02)
            let sgdSettings = SGDSettings(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
            for t in 1...3 {
                let grad = uniform(&rng, n)
                for i in 0..<n { store.gradients[i] = grad[i] }
                try cpu.upload(grad, to: g)
                if kind == "sgd" {
                    sgd.step(store)
                    try cpu.sgdStep(parameters: p, gradients: g, momentumBuffer: m, settings: sgdSettings, firstStep: t == 1)
                } else {
                    adam.step(store)
                    try cpu.adamStep(parameters: p, gradients: g, firstMoment: m, secondMoment: v, settings: adamSettings, step: t)
                }
            }
            #expect(try cpu.download(p) == Array(store.values), "Double \(kind) differs from NN's")
        }
    }

    /// The k-th smallest magnitude in Double against a sort, with zeros of both signs and ties; a
    /// NaN sorts after every number.
    @Test func kthSmallestMagnitudeMatchesSort() throws {
        var rng = SeededGenerator(seed: 99)
        var a = uniform(&rng, 30), b = uniform(&rng, 7)
        a[2] = 0; b[3] = -0.0; b[4] = -a[9]; a[11] = 1e-300; b[5] = -.infinity
        let tensors = [try cpu.buffer(a), try cpu.buffer(b)]
        let sorted = (a + b).map { abs($0) }.sorted()
        for k in 1...sorted.count {
            let got = try cpu.kthSmallestMagnitude(of: tensors, k: k)
            #expect(got == sorted[k - 1] && got.sign == .plus, "k = \(k): \(got) vs \(sorted[k - 1])")
        }
        let withNaN = [try cpu.buffer([3, -.nan, 1])]
        #expect(try cpu.kthSmallestMagnitude(of: withNaN, k: 2) == 3)
        #expect(try cpu.kthSmallestMagnitude(of: withNaN, k: 3).isNaN)
    }
}
