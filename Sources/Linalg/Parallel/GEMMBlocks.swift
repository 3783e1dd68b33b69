// Dense products on the worker pool, with the same bits at every thread count. OpenBLAS's own
// threads split a product by the thread count, and its results then depend on that count: its
// kernels for the edge tiles of a split sum differently (measured: dX = dY W of the small language
// model, 700 x 200 x 18,328, differs in 76,172 of 140,000 entries between 1 and 2 OpenBLAS threads).
// Here OpenBLAS runs one thread per call, and a large product is cut into blocks of output rows or
// columns whose boundaries depend only on the product's shape; each block is one OpenBLAS call on
// one thread of the pool.

/// How `BLASScalar.gemm` and `gemv` cut a product into blocks (docs/decisions.md 34).
public enum GEMMBlocks {
    /// Products of fewer multiply-adds run as one call: about 0.1 ms of a core's GEMM.
    public static let minimumWork = 1 << 22
    /// At most this many blocks, enough to keep 32 threads busy.
    public static let maximumBlocks = 32
    /// The least block of rows or columns (OpenBLAS's register tiles are 16 to 32 wide, its cache
    /// blocks hundreds: a thinner block spends more of its time packing the other operand).
    public static let minimumBlock = 64

    /// The block size along a split dimension of `size` entries in a product of `work`
    /// multiply-adds: at most `maximumBlocks` blocks, each of at least `minimumBlock` entries and a
    /// quarter of `minimumWork`, rounded up to a multiple of 16. Depends on the shape alone.
    @inlinable
    public static func blockSize(dimension size: Int, work: Int) -> Int {
        let perEntry = max(1, work / max(1, size))
        let block = max(minimumBlock, (size + maximumBlocks - 1) / maximumBlocks, (minimumWork / 4 + perEntry - 1) / perEntry)
        return (block + 15) / 16 * 16
    }

    /// Runs `call(m', n', a', b', c')` on blocks of C's rows (m >= n) or columns (m < n) on the
    /// worker pool, each block on one thread, or once for the whole product when it is small.
    /// The arguments are those of a row-major `C = op(A) op(B) (+ C)`, C `m x n`.
    @inlinable
    public static func run<S>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int,
        _ call: (Int, Int, UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let work = m * n * max(1, k)
        guard work >= minimumWork, max(m, n) >= 2 * minimumBlock else { call(m, n, a, b, c); return }
        let rows = m >= n
        let size = rows ? m : n
        let block = blockSize(dimension: size, work: work)
        let blocks = (size + block - 1) / block
        Parallel.forEachChunk(count: blocks, minimumChunk: 1) { range in
            for index in range {
                let start = index * block, count = min(block, size - start)
                if rows {
                    call(count, n, transA == .noTranspose ? a + start * lda : a + start, b, c + start * ldc)
                } else {
                    call(m, count, a, transB == .noTranspose ? b + start : b + start * ldb, c + start)
                }
            }
        }
    }

    /// Runs `call(m', n', a', x', y')` of a row-major `y = op(A) x (+ y)` (A `m x n` as stored) on
    /// blocks of y on the worker pool (rows of A, or its columns for `op = transpose`), or once
    /// for a small product. Each entry of y is one dot product, computed by one thread.
    @inlinable
    public static func runGEMV<S>(
        _ transA: Transpose, m: Int, n: Int, a: UnsafePointer<S>, lda: Int,
        x: UnsafePointer<S>, incx: Int, y: UnsafeMutablePointer<S>, incy: Int,
        _ call: (Int, Int, UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let size = transA == .noTranspose ? m : n
        let work = m * n
        guard work >= minimumWork / 4, size >= 2 * minimumBlock, incy > 0 else { call(m, n, a, x, y); return }
        let block = blockSize(dimension: size, work: work)
        let blocks = (size + block - 1) / block
        Parallel.forEachChunk(count: blocks, minimumChunk: 1) { range in
            for index in range {
                let start = index * block, count = min(block, size - start)
                if transA == .noTranspose {
                    call(count, n, a + start * lda, x, y + start * incy)
                } else {
                    call(m, count, a + start, x, y + start * incy)
                }
            }
        }
    }
}
