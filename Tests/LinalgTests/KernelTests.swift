// Oracles for the vectorized Linalg kernels: Float.exponential against Double libm over its whole
// range, and the SIMD softmax row kernels against naive scalar formulas at widths with and without tails.
import Foundation
import Testing
import Linalg

@Suite struct KernelTests {
    /// Relative error of Float.exponential below 3 ulp on [-86.6, 88.7]; 0 below, infinity above.
    @Test func exponentialIsAccurateOverItsRange() {
        var worst = 0.0
        var x = -86.6
        while x < 88.7 {
            var v = SIMD8<Float>()
            for i in 0..<8 { v[i] = Float(x + Double(i) * 0.0137) }
            let e = Float.exponential(v)
            for i in 0..<8 where Double(v[i]) <= 88.7 {
                let exact = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
            }
            x += 0.1
        }
        #expect(worst < 3 * Double(Float.ulpOfOne), "worst relative error \(worst)")
        let edges = Float.exponential(SIMD8<Float>(-1e4, -100, -87, 0, 1, 88.8, 100, 1e4))
        #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 0 && edges[3] == 1)
        #expect(abs(Double(edges[4]) - M_E) < 1e-6)
        #expect(edges[5] == .infinity && edges[6] == .infinity && edges[7] == .infinity)
    }

    /// The SIMD row kernels match the scalar formulas (Double oracle) for widths around multiples of 8.
    @Test(arguments: [1, 5, 8, 13, 16, 37, 512])
    func softmaxRowsMatchNaiveFormulas(width c: Int) {
        var rng = SeededGenerator(seed: UInt64(300 + c))
        let x: Matrix<Float> = rng.normalMatrix(rows: 1, columns: c, std: 4)
        let p: Matrix<Float> = rng.uniformMatrix(rows: 1, columns: c, low: 0, high: 1)
        let xd = x.scalars.map(Double.init), pd = p.scalars.map(Double.init)
        let m = xd.max()!, z = xd.reduce(0) { $0 + exp($1 - m) }, mass = pd.reduce(0, +)
        let target = c / 2
        var d = [Float](repeating: .nan, count: c)
        let scale: Float = 0.25
        let soft = x.scalars.withUnsafeBufferPointer { px in
            p.scalars.withUnsafeBufferPointer { pp in
                Kernels.softCrossEntropyRow(px.baseAddress!, pp.baseAddress!, count: c, gradient: &d, scale: scale)
            }
        }
        let softExpected = zip(xd, pd).reduce(0) { $0 - $1.1 * ($1.0 - m - log(z)) }
        #expect(abs(soft - softExpected) < 1e-5 * max(1, abs(softExpected)), "soft loss width \(c)")
        for j in 0..<c {
            let g = 0.25 * (mass * exp(xd[j] - m) / z - pd[j])
            #expect(abs(Double(d[j]) - g) < 1e-6 * max(1, abs(g)), "soft gradient \(j) width \(c)")
        }
        let hard = x.scalars.withUnsafeBufferPointer { px in
            Kernels.crossEntropyRow(px.baseAddress!, count: c, target: target, gradient: &d, scale: scale)
        }
        #expect(abs(hard.loss - (log(z) + m - xd[target])) < 1e-5 * max(1, hard.loss), "loss width \(c)")
        #expect(hard.argmax == xd.firstIndex(of: m)!, "argmax width \(c)")
        for j in 0..<c {
            let g = 0.25 * (exp(xd[j] - m) / z - (j == target ? 1 : 0))
            #expect(abs(Double(d[j]) - g) < 1e-6, "gradient \(j) width \(c)")
        }
    }
}

@Suite struct TransposeKernelTests {
    /// Float (SIMD tiles) and Double (scalar) transposes of ragged blocks inside strided buffers.
    @Test(arguments: [(1, 1), (3, 5), (4, 4), (32, 128), (13, 7), (70, 9)])
    func transposeMatchesDefinition(rows: Int, columns: Int) {
        var rng = SeededGenerator(seed: 700 + UInt64(rows * 1000 + columns))
        let xStride = columns + 3, yStride = rows + 2
        let x: Matrix<Double> = rng.normalMatrix(rows: rows, columns: xStride)
        let xf: Matrix<Float> = x.converted()
        var y = [Double](repeating: .nan, count: columns * yStride), yf = [Float](repeating: .nan, count: columns * yStride)
        x.withUnsafeBufferPointer {
            Kernels.transpose($0.baseAddress!, rows: rows, columns: columns, xStride: xStride, into: &y, yStride: yStride)
        }
        xf.withUnsafeBufferPointer {
            Kernels.transpose($0.baseAddress!, rows: rows, columns: columns, xStride: xStride, into: &yf, yStride: yStride)
        }
        for r in 0..<rows {
            for c in 0..<columns {
                #expect(y[c * yStride + r] == x[r, c] && yf[c * yStride + r] == xf[r, c], "(\(r), \(c)) of \(rows) x \(columns)")
            }
        }
    }
}

/// The choice of OpenBLAS kernels from /proc/cpuinfo flags.
@Suite struct BLASKernelChoiceTests {
    @Test func genericKernelsAreReplacedOnlyWhenTheCPUHasBetterOnes() {
        let avx512: Set<String> = ["sse3", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        #expect(BLASKernels.betterCoreType(current: "Prescott", cpuFlags: avx512) == "SkylakeX")
        #expect(BLASKernels.betterCoreType(current: "Prescott", cpuFlags: ["avx2", "fma", "avx512f"]) == "Haswell")
        #expect(BLASKernels.betterCoreType(current: "Prescott", cpuFlags: ["sse3", "avx"]) == nil)
        #expect(BLASKernels.betterCoreType(current: "Zen", cpuFlags: avx512) == nil, "a recognised CPU keeps its kernels")
        #expect(BLASKernels.betterCoreType(current: "SkylakeX", cpuFlags: avx512) == nil)
    }

    @Test func flagsAreReadFromTheFirstProcessor() {
        let cpuinfo =
            "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse3 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
        #expect(BLASKernels.cpuFlags(cpuinfo: cpuinfo) == ["fpu", "sse3", "avx2", "fma"])
        #expect(BLASKernels.cpuFlags(cpuinfo: "processor : 0\n") == [])
    }

    /// Selection against a full sort, with many ties (Double, as the pruner and the statistics
    /// select) and on the bit patterns of magnitudes (UInt32, as the CPU backend selects).
    @Test func selectFindsOrderStatistics() {
        var rng = SeededGenerator(seed: 7)
        let values = (0..<501).map { _ in Double(rng.integer(below: 20)) }
        let sorted = values.sorted()
        for k in [0, 1, 100, 250, 499, 500] {
            var copy = values
            #expect(OrderStatistics.select(&copy, k) == sorted[k], "k = \(k), seed 7")
        }
        let bits = (0..<300).map { _ in Float(rng.uniform(-2, 2)).bitPattern & 0x7fff_ffff }
        let sortedBits = bits.sorted()
        for k in [0, 150, 299] {
            var copy = bits
            #expect(OrderStatistics.select(&copy, k) == sortedBits[k], "bits, k = \(k), seed 7")
        }
    }
}
