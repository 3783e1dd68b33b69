// Shared pieces of the sparse kernels (CSRMatrix, BlockSparseMatrix): unaligned SIMD loads and
// stores, tile transposes and the batch tile width. Baseline x86-64 (SSE2): SIMD8<Float> is two
// 4-lane operations, SIMD8<Double> four.
import CSparseKernels

/// Helpers of the CSR and block-sparse kernels.
enum SparseSupport {
    /// The vector width of the Float CSR gather kernels in CSparseKernels for this CPU: 0 none
    /// (the Swift SIMD8 kernels run), 1 AVX2 with FMA, 2 AVX-512F; read once from CPUID/XGETBV.
    static let floatKernelLevel = Int(moduli_sparse_cpu_level())

    /// The least work, in multiply-adds, that a sparse kernel hands to one thread of the worker
    /// pool: below two such chunks a product runs on the calling thread. About 10 microseconds of
    /// gathers, several times the pool's round trip (`Parallel.measureDispatchNanoseconds`,
    /// docs/decisions.md).
    static let minimumChunkWork = 32768

    /// Rows per chunk of a product over `rows` rows with `stored` entries at `width` lanes each:
    /// enough rows for `minimumChunkWork` multiply-adds.
    static func minimumRows(rows: Int, stored: Int, width: Int) -> Int {
        let perRow = max(1, stored * max(1, width) / max(1, rows))
        return max(1, (minimumChunkWork + perRow - 1) / perRow)
    }

    /// `transposeTile` with the output rows (columns of x) split over the worker pool: each
    /// output row is written by one thread.
    @inline(__always)
    static func transposeTileInParallel<S: BLASScalar>(
        _ x: UnsafePointer<S>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<S>, ldOut: Int
    ) {
        Parallel.forEachChunk(count: width, minimumChunk: max(8, minimumChunkWork / max(1, ldOut))) { c in
            transposeTile(
                x + c.lowerBound, ldx: ldx, from: r0, count: count, width: c.count, into: out + c.lowerBound * ldOut, ldOut: ldOut)
        }
    }

    /// `count` rows of x from row r0 as consecutive tiles of `tile` samples, each transposed
    /// (`transposeTile`) into `width x lanes` at `out + k * tileStride` (lanes: the tile's samples
    /// rounded up to 8, zeros after them), with the columns split over the worker pool: one call for
    /// every tile of a panel.
    @inline(__always)
    static func transposeTilesInParallel<S: BLASScalar>(
        _ x: UnsafePointer<S>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<S>, tileStride: Int
    ) {
        let tiles = (count + tile - 1) / tile
        Parallel.forEachChunk(count: width, minimumChunk: max(8, minimumChunkWork / max(1, tiles * tile))) { c in
            for k in 0..<tiles {
                let n = min(tile, count - k * tile), lanes = (n + 7) / 8 * 8
                transposeTile(
                    x + c.lowerBound, ldx: ldx, from: r0 + k * tile, count: n, width: c.count,
                    into: out + k * tileStride + c.lowerBound * lanes, ldOut: lanes)
            }
        }
    }

    /// Width of a batch tile: the row-layout kernels transpose `tile` samples at a time into a
    /// workspace, and the SDDMM reduces over `tile` rows of the sequence at a time.
    static let tile = 32

    /// Rows of the sequence per tile of the Float SDDMM's C kernel: a longer dot product per stored
    /// entry and tile than `tile` gives, so that the lane sum after it costs less per multiply-add
    /// (Tools/bench_sparse_variants.c, H 1024, 90%, 10,000 rows: 82-83 ms at 128 or 256 rows four
    /// entries at a time, 201 ms at 32 one at a time; 256 pays at H 4096 with column blocks).
    static let reductionTile = 256

    /// Bytes to which the kernels align their workspace: a tile row of 32 Floats is then two whole
    /// cache lines, where an arbitrary 16-byte-aligned start (what malloc gives) makes it three and
    /// every 64-byte load a split load (Tools/bench_sparse_variants.c: the row-layout product at
    /// H 1024, 90%, batch 200 takes about 1.4x as long from a workspace 16 or 32 bytes off a
    /// 64-byte boundary).
    static let workspaceAlignment = 64

    /// Scalars of workspace for `tileRows` tile rows: the rows, plus the slack that aligning the start
    /// can use up.
    static func workspaceCount<S>(tileRows: Int, of _: S.Type) -> Int {
        tileRows * max(tile, reductionTile) + workspaceAlignment / MemoryLayout<S>.stride
    }

    /// Runs `body` on the first `workspaceAlignment`-byte boundary in `workspace` (which holds at
    /// least `count` scalars, `workspaceCount(tileRows:of:)`), or in a temporary workspace of `count`.
    @inline(__always)
    static func withAlignedWorkspace<S, R>(
        _ workspace: UnsafeMutablePointer<S>?, count: Int,
        _ body: (UnsafeMutablePointer<S>) -> R
    ) -> R {
        func aligned(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<S> {
            // p is aligned to the scalar's stride, which divides the alignment, so the step is whole scalars.
            let a = Int(bitPattern: p), m = workspaceAlignment - 1
            return p + ((a + m) & ~m - a) / MemoryLayout<S>.stride
        }
        if let workspace { return body(aligned(workspace)) }
        return withUnsafeTemporaryAllocation(of: S.self, capacity: max(1, count)) { body(aligned($0.baseAddress!)) }
    }

    /// Eight consecutive values from `p` (no alignment needed).
    @inline(__always)
    static func load8<S: BLASScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    /// Eight consecutive values from a mutable pointer.
    @inline(__always)
    static func load8<S: BLASScalar>(_ p: UnsafeMutablePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    /// Writes eight consecutive values to `p` (no alignment needed).
    @inline(__always)
    static func store8<S: BLASScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
    }

    /// The sum of the lanes by halving (8 -> 4 -> 2 -> 1: three vector adds instead of seven
    /// scalar ones after lane extraction).
    @inline(__always)
    static func sum<S: BLASScalar>(_ v: SIMD8<S>) -> S {
        let q = v.lowHalf + v.highHalf
        let d = q.lowHalf + q.highHalf
        return d[0] + d[1]
    }

    /// The sum of the lanes of a 4- or 8-lane vector by halving.
    @inline(__always)
    static func sum<V: SIMD>(_ v: V) -> V.Scalar where V.Scalar: BLASScalar {
        if V.scalarCount == 8 { return sum(unsafeBitCast(v, to: SIMD8<V.Scalar>.self)) }
        if V.scalarCount == 4 {
            let q = unsafeBitCast(v, to: SIMD4<V.Scalar>.self)
            let d = q.lowHalf + q.highHalf
            return d[0] + d[1]
        }
        return v.sum()
    }

    /// A vector of `V.scalarCount` consecutive values from `p` (no alignment needed).
    @inline(__always)
    static func load<V: SIMD>(_ p: UnsafePointer<V.Scalar>, as: V.Type) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    /// Writes a vector to `p` (no alignment needed).
    @inline(__always)
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// `out[c * ldOut + r] = x[(r0 + r) * ldx + c]` for r in 0..<count, c in 0..<width, and zeros in
    /// lanes `count..<ldOut` of every output row: `count` rows of x from row r0, transposed into a
    /// `width x ldOut` tile (ldOut = `tile`, count <= ldOut).
    @inline(__always)
    static func transposeTile<S: BLASScalar>(
        _ x: UnsafePointer<S>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<S>, ldOut: Int
    ) {
        if count < ldOut {
            for c in 0..<width { (out + c * ldOut + count).update(repeating: 0, count: ldOut - count) }
        }
        S.transposeTile(x, ldx: ldx, from: r0, count: count, width: width, into: out, ldOut: ldOut)
    }

    /// The loop of `transposeTile` after the zero lanes (Double, and Float without the C kernels).
    @inline(__always)
    static func transposeTileLoop<S: BLASScalar>(
        _ x: UnsafePointer<S>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<S>, ldOut: Int
    ) {
        // Four rows at a time, so that each output line is written four lanes at once.
        var r = 0
        while r + 4 <= count {
            let p0 = x + (r0 + r) * ldx, p1 = p0 + ldx, p2 = p1 + ldx, p3 = p2 + ldx
            for c in 0..<width {
                let o = out + c * ldOut + r
                o[0] = p0[c]; o[1] = p1[c]; o[2] = p2[c]; o[3] = p3[c]
            }
            r += 4
        }
        while r < count {
            let p = x + (r0 + r) * ldx
            for c in 0..<width { out[c * ldOut + r] = p[c] }
            r += 1
        }
    }

    /// `y[(r0 + r) * ldy + c] (+)= t[c * ldt + r]` for r in 0..<count, c in 0..<width: a tile
    /// written back in row layout (the inverse of `transposeTile`).
    @inline(__always)
    static func addTransposedTile<S: BLASScalar>(
        _ t: UnsafePointer<S>, ldt: Int, count: Int, width: Int,
        into y: UnsafeMutablePointer<S>, ldy: Int, from r0: Int,
        accumulate: Bool
    ) {
        S.addTransposedTile(t, ldt: ldt, count: count, width: width, into: y, ldy: ldy, from: r0, accumulate: accumulate)
    }

    /// The loop of `addTransposedTile` (Double, and Float without the C kernels).
    @inline(__always)
    static func addTransposedTileLoop<S: BLASScalar>(
        _ t: UnsafePointer<S>, ldt: Int, count: Int, width: Int,
        into y: UnsafeMutablePointer<S>, ldy: Int, from r0: Int,
        accumulate: Bool
    ) {
        for r in 0..<count {
            let row = y + (r0 + r) * ldy
            if accumulate {
                for c in 0..<width { row[c] += t[c * ldt + r] }
            } else {
                for c in 0..<width { row[c] = t[c * ldt + r] }
            }
        }
    }
}

extension Float {
    /// `SparseSupport.transposeTile` after the zero lanes: the C kernel at the CPU's vector width,
    /// or the Swift loop on a CPU without AVX2.
    public static func transposeTile(
        _ x: UnsafePointer<Float>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<Float>, ldOut: Int
    ) {
        let level = SparseSupport.floatKernelLevel
        guard level > 0 else {
            SparseSupport.transposeTileLoop(x, ldx: ldx, from: r0, count: count, width: width, into: out, ldOut: ldOut)
            return
        }
        moduli_transpose_f32(x + r0 * ldx, Int64(ldx), Int64(count), Int64(width), out, Int64(ldOut), 0, Int32(level))
    }

    /// `SparseSupport.addTransposedTile`: the C kernel at the CPU's vector width, or the Swift loop
    /// on a CPU without AVX2.
    public static func addTransposedTile(
        _ t: UnsafePointer<Float>, ldt: Int, count: Int, width: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, from r0: Int, accumulate: Bool
    ) {
        let level = SparseSupport.floatKernelLevel
        guard level > 0 else {
            SparseSupport.addTransposedTileLoop(
                t, ldt: ldt, count: count, width: width, into: y, ldy: ldy, from: r0,
                accumulate: accumulate)
            return
        }
        moduli_transpose_f32(
            t, Int64(ldt), Int64(width), Int64(count), y + r0 * ldy, Int64(ldy),
            accumulate ? 1 : 0, Int32(level))
    }
}

extension Double {
    /// `SparseSupport.transposeTile` after the zero lanes, four rows at a time.
    public static func transposeTile(
        _ x: UnsafePointer<Double>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<Double>, ldOut: Int
    ) {
        SparseSupport.transposeTileLoop(x, ldx: ldx, from: r0, count: count, width: width, into: out, ldOut: ldOut)
    }

    /// `SparseSupport.addTransposedTile`, element by element.
    public static func addTransposedTile(
        _ t: UnsafePointer<Double>, ldt: Int, count: Int, width: Int,
        into y: UnsafeMutablePointer<Double>, ldy: Int, from r0: Int, accumulate: Bool
    ) {
        SparseSupport.addTransposedTileLoop(
            t, ldt: ldt, count: count, width: width, into: y, ldy: ldy, from: r0,
            accumulate: accumulate)
    }
}
