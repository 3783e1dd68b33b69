// Oracles for the Float fast paths of the Linalg kernels (the concrete SIMD8<Float> ReLU, max and
// transpose, and the generic SIMD8 row loops as Float runs them): each Float result is checked
// against a scalar Float formula written here (bit for bit where the operations are the same) and
// against the Double kernel on the same, Float-representable inputs. Widths with and without a tail
// after the 8-lane loop.
import Foundation
import Testing
import Linalg

/// Bit patterns of Floats (so that -0 and NaN are compared exactly).
fileprivate func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

/// Largest `|a - b| / (|b| + floor * max|b|)` over two whole tensors, with its index.
fileprivate func floatError(_ a: [Float], _ b: [Double], floor: Double = 1e-2) -> (error: Double, at: Int) {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    let scale = max(b.map(abs).max() ?? 0, 1e-30)
    var worst = (error: 0.0, at: -1)
    for i in a.indices {
        let d = abs(Double(a[i]) - b[i]), e = d == 0 ? 0 : d / (abs(b[i]) + floor * scale)
        if !(e <= worst.error) { worst = (e.isNaN ? .infinity : e, i) }
    }
    return worst
}

/// Draws `count` Floats: normal values with exact zeros, negative zeros and tiny values mixed in
/// (the cases where a mask `< 0`, `<= 0` or `> 0` decides).
fileprivate func mixedValues(_ count: Int, rng: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in
        switch rng.integer(below: 8) {
        case 0: return 0
        case 1: return -0.0
        case 2: return Float(rng.normal()) * 1e-30
        default: return Float(rng.normal())
        }
    }
}

fileprivate let widths = [1, 5, 7, 8, 9, 13, 16, 21, 37, 64]

// Calls through the generic entry points, as the layers make them (Float dispatches to its
// concrete SIMD code from there).
fileprivate func genericReLU<S: BLASScalar>(_ x: [S]) -> [S] {
    var y = x
    y.withUnsafeMutableBufferPointer { Kernels.reluInPlace($0.baseAddress!, count: $0.count) }
    return y
}
fileprivate func genericReLUBackward<S: BLASScalar>(output h: [S], gradient g: [S], extra o: [S]?) -> [S] {
    var d = [S](repeating: .nan, count: h.count)
    d.withUnsafeMutableBufferPointer { pd in
        if let o {
            Kernels.reluBackward(output: h, gradient: g, extra: o, into: pd.baseAddress!, count: h.count)
        } else {
            Kernels.reluBackward(output: h, gradient: g, extra: nil, into: pd.baseAddress!, count: h.count)
        }
    }
    return d
}
fileprivate func genericTanhBackward<S: BLASScalar>(output h: [S], gradient g: [S], extra o: [S]?) -> [S] {
    var d = [S](repeating: .nan, count: h.count)
    d.withUnsafeMutableBufferPointer { pd in
        if let o {
            Kernels.tanhBackward(output: h, gradient: g, extra: o, into: pd.baseAddress!, count: h.count)
        } else {
            Kernels.tanhBackward(output: h, gradient: g, extra: nil, into: pd.baseAddress!, count: h.count)
        }
    }
    return d
}
fileprivate func genericMaximum<S: BLASScalar>(_ x: [S]) -> S {
    x.withUnsafeBufferPointer { Kernels.maximum($0.baseAddress!, count: $0.count) }
}

@Suite struct FloatKernelTests {
    /// Float ReLU (8 lanes + tail) equals `x < 0 ? 0 : x` bit for bit, keeps NaN and -0, and equals
    /// the Double kernel.
    @Test(arguments: widths)
    func reluInPlace(count: Int) {
        let seed = UInt64(1100 + count)
        var rng = SeededGenerator(seed: seed)
        var x = mixedValues(count, rng: &rng)
        if count > 3 { x[count / 2] = .nan; x[count - 1] = -.infinity }
        let expected = x.map { $0 < 0 ? 0 : $0 }
        var f = x
        Kernels.reluInPlace(&f, count: count)
        #expect(bits(f) == bits(expected), "Float ReLU differs from x < 0 ? 0 : x, count \(count) seed \(seed): \(f) vs \(expected)")
        let generic = genericReLU(x)
        #expect(bits(generic) == bits(expected), "generic Float ReLU, count \(count) seed \(seed): \(generic) vs \(expected)")
        let d = genericReLU(x.map(Double.init))
        #expect(bits(d.map { Float($0) }) == bits(f), "Float and Double ReLU differ, count \(count) seed \(seed)")
    }

    /// Float ReLU backward, with and without the extra gradient, equals `h > 0 ? g (+ o) : 0` bit
    /// for bit (h = 0, -0, tiny, NaN included) and the Double kernel to rounding.
    @Test(arguments: widths)
    func reluBackward(count: Int) {
        let seed = UInt64(1200 + count)
        var rng = SeededGenerator(seed: seed)
        var h = mixedValues(count, rng: &rng)
        if count > 3 { h[count - 2] = .nan }
        let g = (0..<count).map { _ in Float(rng.normal()) }, o = (0..<count).map { _ in Float(rng.normal()) }
        for withExtra in [false, true] {
            var d = [Float](repeating: .nan, count: count)
            if withExtra {
                Kernels.reluBackward(output: h, gradient: g, extra: o, into: &d, count: count)
            } else {
                Kernels.reluBackward(output: h, gradient: g, extra: nil, into: &d, count: count)
            }
            let expected = (0..<count).map { h[$0] > 0 ? (withExtra ? g[$0] + o[$0] : g[$0]) : 0 }
            #expect(bits(d) == bits(expected), "Float reluBackward extra \(withExtra), count \(count) seed \(seed): \(d) vs \(expected)")
            let generic = genericReLUBackward(output: h, gradient: g, extra: withExtra ? o : nil)
            #expect(bits(generic) == bits(expected), "generic Float reluBackward extra \(withExtra), count \(count) seed \(seed)")

            let dd = genericReLUBackward(
                output: h.map(Double.init), gradient: g.map(Double.init),
                extra: withExtra ? o.map(Double.init) : nil)
            let e = floatError(d, dd, floor: 0)
            #expect(e.error < 1e-7, "Float vs Double reluBackward extra \(withExtra), count \(count) seed \(seed): \(e)")
        }
    }

    /// tanh forward and backward in Float against Double.
    @Test(arguments: [5, 16, 37])
    func tanhForwardAndBackward(count: Int) {
        let seed = UInt64(1300 + count)
        var rng = SeededGenerator(seed: seed)
        let x = (0..<count).map { _ in Float(rng.normal(std: 2)) }
        let g = (0..<count).map { _ in Float(rng.normal()) }, o = (0..<count).map { _ in Float(rng.normal()) }
        var h = x, hd = x.map(Double.init)
        Kernels.tanhInPlace(&h, count: count)
        Kernels.tanhInPlace(&hd, count: count)
        let eh = floatError(h, hd)
        #expect(eh.error < 1e-6, "tanh count \(count) seed \(seed): \(eh)")
        for withExtra in [false, true] {
            let hf = hd.map { Float($0) }
            let d = genericTanhBackward(output: hf, gradient: g, extra: withExtra ? o : nil)
            let dd = genericTanhBackward(
                output: hf.map(Double.init), gradient: g.map(Double.init),
                extra: withExtra ? o.map(Double.init) : nil)
            let e = floatError(d, dd)
            #expect(e.error < 1e-5, "tanhBackward extra \(withExtra) count \(count) seed \(seed): \(e)")
        }
        var s = x, sd = x.map(Double.init)
        Kernels.sigmoidInPlace(&s, count: count)
        Kernels.sigmoidInPlace(&sd, count: count)
        let es = floatError(s, sd)
        #expect(es.error < 1e-6, "sigmoid count \(count) seed \(seed): \(es)")
    }

    /// Row broadcasts and column sums in Float (SIMD8 loop + tail) equal the scalar Float formula
    /// bit for bit (same operations, same order) and the Double kernels to rounding.
    @Test(arguments: widths)
    func rowVectorsAndColumnSums(columns c: Int) {
        let seed = UInt64(1400 + c), rows = 3
        var rng = SeededGenerator(seed: seed)
        let y: Matrix<Float> = rng.normalMatrix(rows: rows, columns: c)
        let u = (0..<c).map { _ in Float(rng.normal()) }, v = (0..<c).map { _ in Float(rng.normal()) }
        let start = (0..<c).map { _ in Float(rng.normal()) }

        var one = y.scalars
        Kernels.addRowVector(&one, rows: rows, columns: c, u)
        let oneExpected = (0..<(rows * c)).map { y.scalars[$0] + u[$0 % c] }
        #expect(bits(one) == bits(oneExpected), "addRowVector columns \(c) seed \(seed)")

        var two = y.scalars
        Kernels.addRowVectors(&two, rows: rows, columns: c, u, v)
        let twoExpected = (0..<(rows * c)).map { y.scalars[$0] + u[$0 % c] + v[$0 % c] }
        #expect(bits(two) == bits(twoExpected), "addRowVectors columns \(c) seed \(seed)")

        var sums = start
        Kernels.addColumnSums(y.scalars, rows: rows, columns: c, into: &sums)
        let sumsExpected = (0..<c).map { j in (0..<rows).reduce(start[j]) { $0 + y[$1, j] } }
        #expect(bits(sums) == bits(sumsExpected), "addColumnSums columns \(c) seed \(seed)")

        var sumsD = start.map(Double.init)
        Kernels.addColumnSums(y.scalars.map(Double.init), rows: rows, columns: c, into: &sumsD)
        let e = floatError(sums, sumsD)
        #expect(e.error < 1e-5, "addColumnSums Float vs Double columns \(c) seed \(seed): \(e)")
        var twoD = y.scalars.map(Double.init)
        Kernels.addRowVectors(&twoD, rows: rows, columns: c, u.map(Double.init), v.map(Double.init))
        let e2 = floatError(two, twoD)
        #expect(e2.error < 1e-5, "addRowVectors Float vs Double columns \(c) seed \(seed): \(e2)")
    }

    /// The Float maximum (8 lanes, then across lanes, then the tail) finds the largest value
    /// wherever it sits, also when every value is negative.
    @Test(arguments: widths)
    func maximum(count: Int) {
        let seed = UInt64(1500 + count)
        var rng = SeededGenerator(seed: seed)
        for position in Set([0, count / 2, count - 1]) {
            for shift in [Float(0), -100] {
                var x = (0..<count).map { _ in Float(rng.normal()) + shift }
                x[position] = shift + 10
                let m = x.withUnsafeBufferPointer { Kernels.maximum($0.baseAddress!, count: count) }
                let generic = genericMaximum(x)
                let md = genericMaximum(x.map(Double.init))
                #expect(
                    m == shift + 10 && generic == m && Double(m) == md,
                    "maximum count \(count) at \(position) shift \(shift) seed \(seed): \(m), Double \(md)")
            }
        }
    }

    /// Float.exponential lane by lane against the Double kernel (libm) on random lanes over the
    /// range softmax uses (x <= 0) and beyond; every lane is its own input.
    @Test func exponentialLanesMatchDouble() {
        var rng = SeededGenerator(seed: 1600)
        var worst = 0.0
        for _ in 0..<200 {
            var x = SIMD8<Float>()
            for i in 0..<8 { x[i] = Float(rng.uniform(-80, 80)) }
            let e = Float.exponential(x)
            var xd = SIMD8<Double>()
            for i in 0..<8 { xd[i] = Double(x[i]) }
            let ed = Double.exponential(xd)
            for i in 0..<8 { worst = max(worst, abs(Double(e[i]) - ed[i]) / ed[i]) }
        }
        #expect(worst < 3 * Double(Float.ulpOfOne), "Float.exponential vs libm, worst relative error \(worst), seed 1600")
    }

    /// The softmax row kernels in Float (SIMD exponential, 8-lane sums) against the same kernels
    /// in Double: loss and every gradient entry, with and without the gradient pass.
    @Test(arguments: [1, 5, 7, 8, 9, 12, 13, 16, 24, 37, 64])
    func softmaxRowsFloatMatchDouble(width c: Int) {
        let seed = UInt64(1700 + c)
        var rng = SeededGenerator(seed: seed)
        let x = (0..<c).map { _ in Float(rng.normal(std: 3)) }
        let p = (0..<c).map { _ in Float(rng.uniform(0, 1)) }
        let xd = x.map(Double.init), pd = p.map(Double.init)
        let target = (c * 2) / 3
        let scale: Float = 0.125

        var d = [Float](repeating: .nan, count: c), dd = [Double](repeating: .nan, count: c)
        let soft = Kernels.softCrossEntropyRow(x, p, count: c, gradient: &d, scale: scale)
        let softD = Kernels.softCrossEntropyRow(xd, pd, count: c, gradient: &dd, scale: Double(scale))
        let softNoGradient = Kernels.softCrossEntropyRow(x, p, count: c, gradient: nil, scale: scale)
        #expect(
            abs(soft - softD) < 1e-5 * max(1, abs(softD)) && soft == softNoGradient,
            "soft loss width \(c) seed \(seed): Float \(soft) (no gradient \(softNoGradient)), Double \(softD)")
        let es = floatError(d, dd)
        #expect(es.error < 1e-5, "soft gradient width \(c) seed \(seed): \(es), Float \(d), Double \(dd)")

        let hard = Kernels.crossEntropyRow(x, count: c, target: target, gradient: &d, scale: scale)
        let hardD = Kernels.crossEntropyRow(xd, count: c, target: target, gradient: &dd, scale: Double(scale))
        let hardNoGradient = Kernels.crossEntropyRow(x, count: c, target: target, gradient: nil, scale: scale)
        #expect(
            abs(hard.loss - hardD.loss) < 1e-5 * max(1, abs(hardD.loss)) && hard.loss == hardNoGradient.loss,
            "loss width \(c) seed \(seed): Float \(hard.loss) (no gradient \(hardNoGradient.loss)), Double \(hardD.loss)")
        #expect(hard.argmax == hardD.argmax && hard.argmax == hardNoGradient.argmax, "argmax width \(c) seed \(seed)")
        let eh = floatError(d, dd)
        #expect(eh.error < 1e-5, "gradient width \(c) seed \(seed): \(eh), Float \(d), Double \(dd)")
    }

    /// Sum of squares of Floats (accumulated in Double) equals the Double kernel on the same values.
    @Test func sumOfSquares() {
        var rng = SeededGenerator(seed: 1800)
        let x = (0..<37).map { _ in Float(rng.normal()) }
        let f = Kernels.sumOfSquares(x, count: x.count)
        let d = Kernels.sumOfSquares(x.map(Double.init), count: x.count)
        #expect(f == d, "sumOfSquares Float \(f) vs Double \(d), seed 1800")
    }
}
