// The small set of array operations that layers are written in (besides BLAS): row-vector
// broadcasts, column sums, and the elementwise steps of activations. A GPU backend implements
// the same set.
import RealModule

/// Elementwise and reduction kernels on raw buffers (row-major, `rows x columns`).
public enum Kernels {
    /// y[r, :] += v for every row r.
    @inlinable package static func addRowVector<S: BLASScalar>(_ y: UnsafeMutablePointer<S>, rows: Int, columns: Int, _ v: UnsafePointer<S>)
    {
        forEachRowRange(rows: rows, columns: columns) { range in
            for r in range {
                let row = y + r * columns
                var c = 0
                while c + 8 <= columns { store8(load8(row + c) + load8(v + c), row + c); c += 8 }
                while c < columns { row[c] += v[c]; c += 1 }
            }
        }
    }

    /// Runs `body` on ranges of rows of a `rows x columns` loop on the worker pool (ranges of at
    /// least `Parallel.minimumElementwiseChunk` entries; each row on one thread).
    @inlinable static func forEachRowRange(rows: Int, columns: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEachChunk(count: rows, minimumChunk: max(1, Parallel.minimumElementwiseChunk / max(1, columns)), body)
    }

    /// Runs `body` on ranges of `0..<count` on the worker pool (ranges of at least
    /// `Parallel.minimumElementwiseChunk`): for loops whose entries do not depend on each other.
    @inlinable static func forEachRange(count: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEachChunk(count: count, minimumChunk: Parallel.minimumElementwiseChunk, body)
    }

    /// out[c] += sum over rows of x[r, c] (rows added in order), on the worker pool in ranges of
    /// whole 16-column blocks (one 64-byte line of Float sums): each block's sums stay in registers
    /// while the rows stream past and are stored once, so two threads never write one line. (Ranges
    /// of arbitrary columns, each sum read and written back per row, made the adding model's bias
    /// gradient, 1,600 x 128, slower at 2 threads than at 1: its threads shared the lines of `out`.)
    @inlinable package static func addColumnSums<S: BLASScalar>(
        _ x: UnsafePointer<S>, rows: Int, columns: Int, into out: UnsafeMutablePointer<S>
    ) {
        let block = 16, blocks = (columns + block - 1) / block
        let minimum = max(1, Parallel.minimumElementwiseChunk / max(1, rows * block))
        Parallel.forEachChunk(count: blocks, minimumChunk: minimum) { range in
            let end = min(columns, range.upperBound * block)
            var c = range.lowerBound * block
            while c + 16 <= end {
                var low = load8(out + c), high = load8(out + c + 8)
                for r in 0..<rows {
                    let row = x + r * columns + c
                    low = low + load8(row); high = high + load8(row + 8)
                }
                store8(low, out + c); store8(high, out + c + 8)
                c += 16
            }
            while c + 8 <= end {
                var sum = load8(out + c)
                for r in 0..<rows { sum = sum + load8(x + r * columns + c) }
                store8(sum, out + c)
                c += 8
            }
            while c < end {
                var sum = out[c]
                for r in 0..<rows { sum += x[r * columns + c] }
                out[c] = sum
                c += 1
            }
        }
    }

    /// y[r, :] += u + v for every row r (added left to right: `(y + u) + v`).
    @inlinable package static func addRowVectors<S: BLASScalar>(
        _ y: UnsafeMutablePointer<S>, rows: Int, columns: Int,
        _ u: UnsafePointer<S>, _ v: UnsafePointer<S>
    ) {
        forEachRowRange(rows: rows, columns: columns) { range in
            for r in range {
                let row = y + r * columns
                var c = 0
                while c + 8 <= columns { store8(load8(row + c) + load8(u + c) + load8(v + c), row + c); c += 8 }
                while c < columns { row[c] = row[c] + u[c] + v[c]; c += 1 }
            }
        }
    }

    /// x[i] *= m[i] for i in 0..<count (a mask applied to values, gradients or optimizer state),
    /// in ranges on the worker pool.
    @inlinable public static func multiplyInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, by m: UnsafePointer<S>, count: Int) {
        Parallel.forEachChunk(count: count, minimumChunk: Parallel.minimumElementwiseChunk) { r in
            for i in r { x[i] *= m[i] }
        }
    }

    /// x = max(x, 0) in place (a NaN stays NaN, -0 stays -0). Float runs 8 lanes at a time with a
    /// masked select (`BLASScalar.reluInPlace`).
    @inlinable package static func reluInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        forEachRange(count: count) { r in S.reluInPlace(x + r.lowerBound, count: r.count) }
    }

    /// The ReLU backward step: `d[i] = h[i] > 0 ? g[i] + o[i] : 0`, or `g[i]` alone when `o` is nil
    /// (h is the activation output, g the carried gradient, o an extra gradient on h). Float runs
    /// 8 lanes at a time (`BLASScalar.reluBackward`).
    @inlinable package static func reluBackward<S: BLASScalar>(
        output h: UnsafePointer<S>, gradient g: UnsafePointer<S>,
        extra o: UnsafePointer<S>?, into d: UnsafeMutablePointer<S>,
        count: Int
    ) {
        forEachRange(count: count) { r in
            let at = r.lowerBound
            S.reluBackward(output: h + at, gradient: g + at, extra: o.map { $0 + at }, into: d + at, count: r.count)
        }
    }

    /// The tanh backward step: `d[i] = (g[i] + o[i]) (1 - h[i]^2)`, or `g[i] (1 - h[i]^2)` when `o` is
    /// nil (h = tanh output).
    @inlinable package static func tanhBackward<S: BLASScalar>(
        output h: UnsafePointer<S>, gradient g: UnsafePointer<S>,
        extra o: UnsafePointer<S>?, into d: UnsafeMutablePointer<S>,
        count: Int
    ) {
        forEachRange(count: count) { r in
            if let o {
                for i in r { d[i] = (g[i] + o[i]) * (1 - h[i] * h[i]) }
            } else {
                for i in r { d[i] = g[i] * (1 - h[i] * h[i]) }
            }
        }
    }

    /// Writes the transpose of the `rows x columns` block at `x` (row stride `xStride`) to `y`
    /// (`columns x rows`, row stride `yStride`): `y[c, r] = x[r, c]`. Float moves 4 x 4 tiles through
    /// SIMD4 registers, Double walks 8 x 8 tiles (`BLASScalar.transpose`).
    @inlinable package static func transpose<S: BLASScalar>(
        _ x: UnsafePointer<S>, rows: Int, columns: Int, xStride: Int,
        into y: UnsafeMutablePointer<S>, yStride: Int
    ) {
        S.transpose(x, rows: rows, columns: columns, xStride: xStride, into: y, yStride: yStride)
    }

    /// x = tanh(x) in place.
    @inlinable package static func tanhInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        forEachRange(count: count) { r in for i in r { x[i] = S.tanh(x[i]) } }
    }

    /// x = 1 / (1 + exp(-x)) in place.
    @inlinable package static func sigmoidInPlace<S: BLASScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
        forEachRange(count: count) { r in for i in r { x[i] = sigmoid(x[i]) } }
    }

    /// The logistic function, computed without overflow for large |x|.
    @inlinable public static func sigmoid<S: BLASScalar>(_ x: S) -> S {
        if x >= 0 { return 1 / (1 + S.exp(-x)) }
        let e = S.exp(x)
        return e / (1 + e)
    }

    /// Entries per partial sum of `sumOfSquares`.
    public static let sumOfSquaresChunk = 4096

    /// Sum of squares of `count` elements, accumulated in Double: partial sums over the fixed
    /// chunks of `sumOfSquaresChunk` entries (on the worker pool), added in chunk order, so the
    /// result is the same for every thread count.
    @inlinable package static func sumOfSquares<S: BLASScalar>(_ x: UnsafePointer<S>, count: Int) -> Double {
        let parts = Parallel.chunkResults(count: count, chunk: sumOfSquaresChunk, minimumChunks: 8) { r in
            var s = 0.0
            for i in r { let v = Double(x[i]); s += v * v }
            return s
        }
        var total = 0.0
        for p in parts { total += p }
        return total
    }
}

// MARK: - The element kernels of BLASScalar

extension Float {
    /// x = max(x, 0) in place, 8 lanes at a time with a masked select (a scalar `v < 0 ? 0 : v` loop
    /// is compiled back into branches).
    @inlinable public static func reluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = Kernels.load8(x + i)
            Kernels.store8(v.replacing(with: 0, where: v .< 0), x + i)
            i += 8
        }
        while i < count { if x[i] < 0 { x[i] = 0 }; i += 1 }
    }

    /// The ReLU backward step, 8 lanes at a time.
    @inlinable public static func reluBackward(
        output h: UnsafePointer<Float>, gradient g: UnsafePointer<Float>,
        extra o: UnsafePointer<Float>?, into d: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        var i = 0
        if let o {
            while i + 8 <= count {
                Kernels.store8(
                    (Kernels.load8(g + i) + Kernels.load8(o + i))
                        .replacing(with: 0, where: .!(Kernels.load8(h + i) .> 0)), d + i)
                i += 8
            }
            while i < count { d[i] = h[i] > 0 ? g[i] + o[i] : 0; i += 1 }
        } else {
            while i + 8 <= count {
                Kernels.store8(Kernels.load8(g + i).replacing(with: 0, where: .!(Kernels.load8(h + i) .> 0)), d + i)
                i += 8
            }
            while i < count { d[i] = h[i] > 0 ? g[i] : 0; i += 1 }
        }
    }

    /// The transpose: 4 x 4 tiles moved as four SIMD4 rows turned into four SIMD4 columns
    /// (register shuffles), the ragged edges element by element.
    @inlinable public static func transpose(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, xStride: Int,
        into y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        @inline(__always) func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
        }
        @inline(__always) func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
        }
        var r = 0
        while r + 4 <= rows {
            let x0 = x + r * xStride, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride
            var c = 0
            while c + 4 <= columns {
                let a = load4(x0 + c), b = load4(x1 + c), d = load4(x2 + c), e = load4(x3 + c)
                let out = y + c * yStride + r
                store4(SIMD4(a[0], b[0], d[0], e[0]), out)
                store4(SIMD4(a[1], b[1], d[1], e[1]), out + yStride)
                store4(SIMD4(a[2], b[2], d[2], e[2]), out + 2 * yStride)
                store4(SIMD4(a[3], b[3], d[3], e[3]), out + 3 * yStride)
                c += 4
            }
            while c < columns {
                y[c * yStride + r] = x0[c]; y[c * yStride + r + 1] = x1[c]
                y[c * yStride + r + 2] = x2[c]; y[c * yStride + r + 3] = x3[c]
                c += 1
            }
            r += 4
        }
        while r < rows {
            for c in 0..<columns { y[c * yStride + r] = x[r * xStride + c] }
            r += 1
        }
    }

    /// The largest of `count >= 1` values, 8 lanes at a time (a concrete SIMD8<Float> select
    /// compiles to vector compares; the generic one does not).
    @inlinable public static func largest(_ x: UnsafePointer<Float>, count c: Int) -> Float {
        var j = 0
        var m = x[0]
        if c >= 8 {
            var mv = Kernels.load8(x)
            j = 8
            while j + 8 <= c {
                let v = Kernels.load8(x + j)
                mv.replace(with: v, where: v .> mv)  // a select: pointwiseMax is not inlined
                j += 8
            }
            m = mv.max()
        }
        while j < c { if x[j] > m { m = x[j] }; j += 1 }
        return m
    }
}

extension Double {
    /// x = max(x, 0) in place, element by element.
    @inlinable public static func reluInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count where x[i] < 0 { x[i] = 0 }
    }

    /// The ReLU backward step, element by element.
    @inlinable public static func reluBackward(
        output h: UnsafePointer<Double>, gradient g: UnsafePointer<Double>,
        extra o: UnsafePointer<Double>?, into d: UnsafeMutablePointer<Double>,
        count: Int
    ) {
        if let o {
            for i in 0..<count { d[i] = h[i] > 0 ? g[i] + o[i] : 0 }
        } else {
            for i in 0..<count { d[i] = h[i] > 0 ? g[i] : 0 }
        }
    }

    /// The transpose in 8 x 8 tiles, so that both sides stay in cache.
    @inlinable public static func transpose(
        _ x: UnsafePointer<Double>, rows: Int, columns: Int, xStride: Int,
        into y: UnsafeMutablePointer<Double>, yStride: Int
    ) {
        var r0 = 0
        while r0 < rows {
            let r1 = Swift.min(r0 + 8, rows)
            var c0 = 0
            while c0 < columns {
                let c1 = Swift.min(c0 + 8, columns)
                for r in r0..<r1 {
                    let row = x + r * xStride
                    for c in c0..<c1 { y[c * yStride + r] = row[c] }
                }
                c0 = c1
            }
            r0 = r1
        }
    }

    /// The largest of `count >= 1` values, element by element.
    @inlinable public static func largest(_ x: UnsafePointer<Double>, count c: Int) -> Double {
        var m = x[0]
        for j in 1..<c where x[j] > m { m = x[j] }
        return m
    }
}
