// The batched sparse products written once for every compressed format (CSRMatrix,
// BlockSparseMatrix): a format supplies its row kernels (one sample; a tile of samples gathered,
// scattered or reduced) and these drivers run them over a batch, through transposed tiles in the
// workspace and on the worker pool. Each output element is computed by one kernel call in the
// kernel's own order, so the drivers decide only who computes what and when, never a sum's order.

/// The row kernels a compressed sparse format supplies to the batch drivers.
///
/// Rows come in groups (one row of CSR, one block row of the block format): a kernel given a range
/// of groups writes exactly the outputs of their rows, so that threads given disjoint ranges never
/// write the same element. Tiles are transposed: sample b of a tile is lane b of a row.
package protocol SparseTileKernels {
    associatedtype S: BLASScalar
    /// Rows of A.
    var rows: Int { get }
    /// Columns of A.
    var columns: Int { get }
    /// Rows per group.
    var rowsPerGroup: Int { get }
    /// Number of groups: rows / rowsPerGroup, rounded up.
    var groupCount: Int { get }
    /// Values stored (padding included): the multiply-adds of one sample's product, for the work split.
    var storedValueCount: Int { get }

    /// Scalars of workspace the products need (`withWorkspace`).
    var workspaceCount: Int { get }
    /// `y = A x` (or `+=`), one sample: x `columns`, y `rows`.
    func multiply(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool)
    /// `y = A^T x` (or `+=`), one sample: x `rows`, y `columns`.
    func multiplyTransposed(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool)
    /// `y[i, 0..<width] (+)= (A x)[i, 0..<width]` for the rows i of `groups`, x `columns x width`
    /// and y with leading dimensions ldx and ldy.
    func gatherTile(
        groups: Range<Int>, _ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int,
        accumulate: Bool)
    /// `y[:, 0..<width] += A^T x[:, 0..<width]` over every row (scatters: one thread).
    func scatterTile(_ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int)
    /// The sampled product of one tile of `SparseSupport.tile` rows of the sequence: for the rows i of
    /// `groups` and every stored (i, j), `g[i * ldg + j] += sum_b lt[i * tile + b] * rt[j * tile + b]`.
    func addSampledTile(
        groups: Range<Int>, left lt: UnsafePointer<S>, right rt: UnsafePointer<S>, into g: UnsafeMutablePointer<S>,
        ldg: Int)
}

extension SparseTileKernels {
    /// Runs `body` on `workspace` (at least `workspaceCount` scalars, aligned to a cache line
    /// inside), or on a temporary one.
    @inline(__always)
    func withWorkspace<R>(_ workspace: UnsafeMutablePointer<S>?, _ body: (UnsafeMutablePointer<S>) -> R) -> R {
        SparseSupport.withAlignedWorkspace(workspace, count: workspaceCount, body)
    }

    /// Runs `body` on contiguous ranges of groups on the worker pool (`Parallel`): ranges of at
    /// least `SparseSupport.minimumChunkWork` multiply-adds at `width` lanes per stored value, so
    /// that small products stay on the calling thread.
    @inline(__always)
    func forEachGroupRange(width: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEachChunk(
            count: groupCount,
            minimumChunk: SparseSupport.minimumRows(rows: groupCount, stored: storedValueCount, width: width), body)
    }

    /// The rows of the groups `groups`.
    @inline(__always)
    func rows(ofGroups groups: Range<Int>) -> Range<Int> {
        min(rows, groups.lowerBound * rowsPerGroup)..<min(rows, groups.upperBound * rowsPerGroup)
    }

    /// `Y = A X` (or `+=`), X `columns x batch`, Y `rows x batch` (states as columns): one gather
    /// over the whole batch, groups split over the pool.
    @inline(__always)
    func multiplyColumnsDriver(_ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        if batch == 1 { multiply(x, into: y, accumulate: accumulate); return }
        forEachGroupRange(width: batch) { g in
            gatherTile(groups: g, x, ldx: batch, width: batch, into: y, ldy: batch, accumulate: accumulate)
        }
    }

    /// `Y = X A^T` (or `+=`), X `batch x columns`, Y `batch x rows` (states as rows). Panels of up
    /// to `SparseSupport.reductionTile` samples go through the workspace in two pool calls: every
    /// 32-sample tile of the panel is transposed (columns split over the pool), then each thread
    /// runs its groups through the tiles, gathered as columns and written back in row layout. A
    /// transpose and a gather call per tile left the transposes on one thread, with a barrier
    /// after each (BENCHMARKS.md, "Threads").
    @inline(__always)
    func multiplyRowsDriver(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool,
        workspace: UnsafeMutablePointer<S>?
    ) {
        if batch == 1 { multiply(x, into: y, accumulate: accumulate); return }
        withWorkspace(workspace) { ws in
            let t = SparseSupport.tile, panel = SparseSupport.reductionTile
            // Tile k of a panel is `columns x lanes` at xt + k columns 32; the gathers write their rows into yt.
            let xt = ws, yt = ws + columns * panel
            var p0 = 0
            while p0 < batch {
                let m = min(panel, batch - p0), tiles = (m + t - 1) / t
                SparseSupport.transposeTilesInParallel(
                    x, ldx: columns, from: p0, count: m, width: columns, into: xt, tileStride: columns * t)
                forEachGroupRange(width: tiles * t) { g in
                    let r = rows(ofGroups: g)
                    for k in 0..<tiles {
                        let n = min(t, m - k * t), lanes = (n + 7) / 8 * 8
                        // Row i's lanes at yt + i t in every tile, so that no two threads' rows meet.
                        gatherTile(groups: g, xt + k * columns * t, ldx: lanes, width: lanes, into: yt, ldy: t, accumulate: false)
                        SparseSupport.addTransposedTile(
                            yt + r.lowerBound * t, ldt: t, count: n, width: r.count, into: y + r.lowerBound, ldy: rows,
                            from: p0 + k * t, accumulate: accumulate)
                    }
                }
                p0 += m
            }
        }
    }

    /// `Y = A^T X` (or `+=`), X `rows x batch`, Y `columns x batch` (states as columns).
    @inline(__always)
    func multiplyTransposedColumnsDriver(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool
    ) {
        if batch == 1 { multiplyTransposed(x, into: y, accumulate: accumulate); return }
        if !accumulate { y.update(repeating: 0, count: columns * batch) }
        scatterTile(x, ldx: batch, width: batch, into: y, ldy: batch)
    }

    /// `Y = X A` (or `+=`), X `batch x rows`, Y `batch x columns` (states as rows): tiles of 32
    /// samples are transposed into the workspace, multiplied as columns, and written back.
    @inline(__always)
    func multiplyTransposedRowsDriver(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool,
        workspace: UnsafeMutablePointer<S>?
    ) {
        if batch == 1 { multiplyTransposed(x, into: y, accumulate: accumulate); return }
        withWorkspace(workspace) { ws in
            let t = SparseSupport.tile, xt = ws, yt = ws + rows * t
            var b0 = 0
            while b0 < batch {
                let n = min(t, batch - b0), lanes = (n + 7) / 8 * 8
                SparseSupport.transposeTile(x, ldx: rows, from: b0, count: n, width: rows, into: xt, ldOut: lanes)
                yt.update(repeating: 0, count: columns * lanes)
                scatterTile(xt, ldx: lanes, width: lanes, into: yt, ldy: lanes)
                SparseSupport.addTransposedTile(
                    yt, ldt: lanes, count: n, width: columns, into: y, ldy: columns, from: b0, accumulate: accumulate)
                b0 += n
            }
        }
    }

    /// The SDDMM `G[i, j] += sum_r left[r, i] * right[r, j]` at the stored entries, over tiles of
    /// 32 rows of the sequence: each tile of left and right is transposed into the workspace
    /// (zero lanes past the sequence's end), then every thread reduces its groups' entries.
    @inline(__always)
    func addSampledProductDriver(
        _ left: UnsafePointer<S>, _ right: UnsafePointer<S>, count: Int,
        into g: UnsafeMutablePointer<S>, ldg: Int, workspace: UnsafeMutablePointer<S>?
    ) {
        guard count > 0, storedValueCount > 0 else { return }
        withWorkspace(workspace) { ws in
            let t = SparseSupport.tile, lt = ws, rt = ws + rows * t
            var r0 = 0
            while r0 < count {
                let n = min(t, count - r0)
                SparseSupport.transposeTileInParallel(left, ldx: rows, from: r0, count: n, width: rows, into: lt, ldOut: t)
                SparseSupport.transposeTileInParallel(right, ldx: columns, from: r0, count: n, width: columns, into: rt, ldOut: t)
                forEachGroupRange(width: t) { groups in addSampledTile(groups: groups, left: lt, right: rt, into: g, ldg: ldg) }
                r0 += n
            }
        }
    }
}
