// Dense products on the worker pool, with the same bits at every thread count. OpenBLAS's own
// threads change the bits of some products with their number (measured: dX = dY W of the small
// language model, 700 x 200 x 18,328, differs in 76,172 of 140,000 entries between 1 and 2
// OpenBLAS threads). Here OpenBLAS runs one thread per call, and a large product is cut into one
// block of output rows or columns per pool thread, each one OpenBLAS call on one thread. A
// single-threaded call gives every output entry the same bits whatever block of rows or columns
// it is computed in (its sums over k are blocked by k alone; checked for every split of that
// product, and by GEMMBlocksTests at 1, 2 and 3 threads), so the blocks may follow the thread count.

/// How `BLASScalar.gemm` and `gemv` cut a product into blocks (docs/decisions.md 34).
public enum GEMMBlocks {
    /// Products of fewer multiply-adds run as one call on the calling thread: about 0.1 ms of a
    /// core's GEMM.
    public static let minimumWork = 1 << 22
    /// Blocks start at multiples of this many rows or columns (OpenBLAS's register tiles are 16
    /// to 32 wide), and are at least `minimumBlock` wide and a quarter of `minimumWork`.
    public static let alignment = 16
    /// The narrowest block: a thinner one spends more of its time packing the other operand.
    public static let minimumBlock = 64

    /// The least number of `alignment`-wide units per block along a dimension of `size` entries
    /// in a product of `work` multiply-adds.
    @inlinable
    static func minimumUnits(dimension size: Int, work: Int) -> Int {
        let perUnit = max(1, work / max(1, size) * alignment)
        return max(minimumBlock / alignment, (minimumWork / 4 + perUnit - 1) / perUnit)
    }

    /// Runs `call(m', n', a', b', c')` on blocks of C's rows (m >= n) or columns (m < n), one per
    /// thread of the worker pool, or once for the whole product when it is small or the pool has
    /// one thread. The arguments are those of a row-major `C = op(A) op(B) (+ C)`, C `m x n`.
    @inlinable
    public static func run<S>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
        _ call: (Int, Int, UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let work = m * n * max(1, k)
        guard work >= minimumWork, Parallel.threadCount > 1 else { call(m, n, a, b, c); return }
        let rows = m >= n
        let size = rows ? m : n
        let units = (size + alignment - 1) / alignment
        Parallel.forEachChunk(count: units, minimumChunk: minimumUnits(dimension: size, work: work), perThread: 1) { range in
            let start = range.lowerBound * alignment, count = min(size, range.upperBound * alignment) - start
            if rows {
                call(count, n, transA == .noTranspose ? a + start * lda : a + start, b, c + start * ldc)
            } else {
                call(m, count, a, transB == .noTranspose ? b + start : b + start * ldb, c + start)
            }
        }
    }

    /// Runs `call(m', n', a', x', y')` of a row-major `y = op(A) x (+ y)` (A `m x n` as stored) on
    /// blocks of y, one per pool thread (rows of A, or its columns for `op = transpose`), or once for
    /// a small product. Each entry of y is one dot product, computed by one thread.
    @inlinable
    public static func runGEMV<S>(
        _ transA: Transpose, m: Int, n: Int, a: UnsafePointer<S>, lda: Int,
        x: UnsafePointer<S>, incx: Int, y: UnsafeMutablePointer<S>, incy: Int,
        _ call: (Int, Int, UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let size = transA == .noTranspose ? m : n
        let work = m * n
        guard work >= minimumWork / 4, incy > 0, Parallel.threadCount > 1 else { call(m, n, a, x, y); return }
        let units = (size + alignment - 1) / alignment
        Parallel.forEachChunk(count: units, minimumChunk: minimumUnits(dimension: size, work: work * 4), perThread: 1) { range in
            let start = range.lowerBound * alignment, count = min(size, range.upperBound * alignment) - start
            if transA == .noTranspose {
                call(count, n, a + start * lda, x, y + start * incy)
            } else {
                call(m, count, a + start, x, y + start * incy)
            }
        }
    }
}
