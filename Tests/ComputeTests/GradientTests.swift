// The backward operations of the CPU backend against central finite differences of the naive
// Double forward formulas (Reference): loss = sum(random weights * outputs), tiny sizes, inputs
// kept away from kinks.
import Foundation
import Testing
import Linalg
import Compute
import _TestSupport

@Suite struct GradientTests {
    let cpu = CPUBackend()

    /// Numerical gradient of `f` with respect to every entry of `x` (central differences, Double).
    func numerical(_ x: [Double], _ f: ([Double]) -> Double) -> [Double] {
        GradientCheck.numericalGradient(of: Matrix(rows: 1, columns: x.count, scalars: x)) { f($0.scalars) }
    }

    /// Elman backward: d = act'(h) (g + o) is d/dpre of sum(w act(pre)), with w = g + o.
    @Test(arguments: CellActivation.allCases)
    func elmanBackward(_ activation: CellActivation) throws {
        var rng = SeededGenerator(seed: 60)
        let n = 21
        let pre = rng.awayFromZero(n, gap: 0.1, high: 2), g = rng.floats(n), o = rng.floats(n)
        let w = (0..<n).map { Double(g[$0]) + Double(o[$0]) }
        func act(_ x: Double) -> Double { activation == .tanh ? tanh(x) : max(x, 0) }
        let h = try cpu.buffer(pre)
        try cpu.elmanForward(activation, h)
        let d = try cpu.allocate(count: n)
        try cpu.elmanBackward(activation, output: h, gradient: try cpu.buffer(g), extra: try cpu.buffer(o), into: d)
        let fd = numerical(pre.doubles) { x in (0..<n).reduce(0) { $0 + w[$1] * act(x[$1]) } }
        expectClose(try cpu.download(d), fd, tolerance: 1e-5, "Elman \(activation) backward, seed 60")
        try cpu.elmanBackward(activation, output: h, gradient: try cpu.buffer(g), extra: nil, into: d)
        let fdG = numerical(pre.doubles) { x in (0..<n).reduce(0) { $0 + Double(g[$1]) * act(x[$1]) } }
        expectClose(try cpu.download(d), fdG, tolerance: 1e-5, "Elman \(activation) backward without extra")
    }

    /// LSTM backward: dGates and the carried dCell are the derivatives of
    /// sum(wh h_t) + sum(wc c_t) with respect to the pre-activations and c_{t-1}.
    @Test func lstmBackward() throws {
        var rng = SeededGenerator(seed: 61)
        let batch = 2, h = 3, bh = batch * h
        let a = rng.floats(4 * bh, -2, 2), cPrev = rng.floats(bh)
        let dh = rng.floats(bh), dOut = rng.floats(bh), dc = rng.floats(bh)
        let wh = (0..<bh).map { Double(dh[$0]) + Double(dOut[$0]) }, wc = dc.doubles
        func loss(_ a: [Double], _ cPrev: [Double]) -> Double {
            let r = Reference.lstm(a: a, cPrev: cPrev, batch: batch, h: h)
            return (0..<bh).reduce(0) { $0 + wh[$1] * r.h[$1] + wc[$1] * r.c[$1] }
        }
        let pg = try cpu.buffer(a), pcp = try cpu.buffer(cPrev), pc = try cpu.allocate(count: bh), ph = try cpu.allocate(count: bh)
        try cpu.lstmForward(gates: pg, cellPrevious: pcp, cell: pc, hidden: ph, batch: batch, hiddenSize: h)
        let pdc = try cpu.buffer(dc), pda = try cpu.allocate(count: 4 * bh)
        try cpu.lstmBackward(
            gates: pg, cellPrevious: pcp, cell: pc, dOutput: try cpu.buffer(dOut), dHidden: try cpu.buffer(dh),
            dCell: pdc, dGates: pda, batch: batch, hiddenSize: h)
        expectClose(try cpu.download(pda), numerical(a.doubles) { loss($0, cPrev.doubles) }, tolerance: 1e-5, "LSTM dGates, seed 61")
        expectClose(try cpu.download(pdc), numerical(cPrev.doubles) { loss(a.doubles, $0) }, tolerance: 1e-5, "LSTM dCell carry")
    }

    /// GRU backward: dPre, dRecurrent and the direct carry dHidden are the derivatives of
    /// sum(w h_t) with respect to the input side, the recurrent projection and h_{t-1} (through z).
    @Test func gruBackward() throws {
        var rng = SeededGenerator(seed: 62)
        let batch = 2, h = 3, bh = batch * h
        let a = rng.floats(3 * bh, -2, 2), q = rng.floats(3 * bh, -2, 2), hPrev = rng.floats(bh)
        let dh = rng.floats(bh), dOut = rng.floats(bh)
        let w = (0..<bh).map { Double(dh[$0]) + Double(dOut[$0]) }
        func loss(_ a: [Double], _ q: [Double], _ hp: [Double]) -> Double {
            let r = Reference.gru(a: a, q: q, hPrev: hp, batch: batch, h: h)
            return (0..<bh).reduce(0) { $0 + w[$1] * r.h[$1] }
        }
        let pg = try cpu.buffer(a), pq = try cpu.buffer(q), php = try cpu.buffer(hPrev)
        let ph = try cpu.allocate(count: bh), pn = try cpu.allocate(count: bh)
        try cpu.gruForward(gates: pg, recurrent: pq, hiddenPrevious: php, hidden: ph, recurrentN: pn, batch: batch, hiddenSize: h)
        let pdh = try cpu.buffer(dh), pdp = try cpu.allocate(count: 3 * bh), pdq = try cpu.allocate(count: 3 * bh)
        try cpu.gruBackward(
            gates: pg, hiddenPrevious: php, recurrentN: pn, dOutput: try cpu.buffer(dOut), dHidden: pdh,
            dPre: pdp, dRecurrent: pdq, batch: batch, hiddenSize: h)
        let (ad, qd, hd) = (a.doubles, q.doubles, hPrev.doubles)
        expectClose(try cpu.download(pdp), numerical(ad) { loss($0, qd, hd) }, tolerance: 1e-5, "GRU dPre, seed 62")
        expectClose(try cpu.download(pdq), numerical(qd) { loss(ad, $0, hd) }, tolerance: 1e-5, "GRU dRecurrent")
        expectClose(try cpu.download(pdh), numerical(hd) { loss(ad, qd, $0) }, tolerance: 1e-5, "GRU direct dHidden")
    }

    /// Cross-entropy's gradient is d/dx of scale * sum of the rows' losses.
    @Test func crossEntropyGradient() throws {
        var rng = SeededGenerator(seed: 63)
        let rows = 3, c = 11, scale: Float = 0.5
        let x = rng.floats(rows * c, -3, 3), t = (0..<rows).map { _ in Float(rng.integer(below: c)) }
        let d = try cpu.allocate(count: rows * c)
        _ = try cpu.crossEntropy(logits: try cpu.buffer(x), targets: try cpu.buffer(t), rows: rows, classes: c, scale: scale, gradient: d)
        let fd = numerical(x.doubles) { xs in
            (0..<rows).reduce(0) { $0 + Double(scale) * Reference.crossEntropy(xs[($1 * c)..<(($1 + 1) * c)], target: Int(t[$1])) }
        }
        expectClose(try cpu.download(d), fd, tolerance: 1e-5, "cross-entropy gradient, seed 63")
    }

    /// Soft cross-entropy's gradient is d/dx of scale * sum of the rows' losses.
    @Test func softCrossEntropyGradient() throws {
        var rng = SeededGenerator(seed: 64)
        let rows = 3, c = 10, scale: Float = 0.25
        let x = rng.floats(rows * c, -3, 3), p = rng.floats(rows * c, 0, 0.3)
        let d = try cpu.allocate(count: rows * c)
        _ = try cpu.softCrossEntropy(
            logits: try cpu.buffer(x), targets: try cpu.buffer(p), rows: rows, classes: c, scale: scale, gradient: d)
        let pd = p.doubles
        let fd = numerical(x.doubles) { xs in
            (0..<rows).reduce(0) {
                $0 + Double(scale) * Reference.softCrossEntropy(xs[($1 * c)..<(($1 + 1) * c)], pd[($1 * c)..<(($1 + 1) * c)])
            }
        }
        expectClose(try cpu.download(d), fd, tolerance: 1e-5, "soft cross-entropy gradient, seed 64")
    }

    /// The penalty's gradient, added onto an existing gradient, is d/dW of its value (p = 1 away
    /// from W = 0, and p = 2), for one and four gate blocks.
    @Test(arguments: [(1, 1), (1, 2), (4, 1), (4, 2)])
    func penaltyGradient(gates: Int, power: Int) throws {
        var rng = SeededGenerator(seed: UInt64(65 + gates + power))
        let h = 4, n = gates * h * h, lambda: Float = 0.3
        let w = rng.awayFromZero(n, gap: 0.05), r = rng.floats(h * h, 0, 5), g0 = rng.floats(n)
        let pgr = try cpu.buffer(g0)
        _ = try cpu.moduliPenalty(
            weights: try cpu.buffer(w), coefficients: try cpu.buffer(r), gates: gates, hiddenSize: h,
            lambda: Double(lambda), power: power, gradient: pgr)
        let fd = numerical(w.doubles) { Reference.penalty(w: $0, r: r.doubles, gates: gates, h: h, lambda: Double(lambda), power: power) }
        expectClose(
            try cpu.download(pgr), (0..<n).map { Double(g0[$0]) + fd[$0] }, tolerance: 1e-6, "penalty gradient G \(gates) p \(power)")
    }
}
