// Compressed sparse row (CSR) matrices and their kernels: the W_hh products of a pruned recurrent
// layer (forward, transposed backward, and the weight gradient sampled at the kept entries).
// Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., section 3.4 (CSR).
import CSparseKernels

/// A `rows x columns` sparse matrix in compressed sparse row form.
///
/// Row i keeps its entries at positions `rowOffsets[i] ..< rowOffsets[i + 1]` of `columnIndices`
/// (increasing) and `values`. The pattern comes from a mask (keep where mask != 0; a kept entry whose
/// value is 0 is still stored) or, without one, from the nonzeros of the dense matrix, so that
/// `refreshValues(from:)` can re-gather changed weights at the same pattern without reallocating.
///
/// Indices are `Int32`: 8 bytes per stored entry with Float values. `UInt16` column indices (enough
/// for up to 65,536 columns) would make that 6 bytes, i.e. at 90% sparsity a matrix-vector product
/// reads 0.6 instead of 0.8 bytes per dense entry, a bound of 6.7x instead of 5x over the 4 bytes of
/// a dense gemv; not done, to keep one index type for every size.
///
/// Kernels (`B` batch; every output is overwritten, or added to when `accumulate`):
/// - `multiply`: y = A x, batch 1 (x `columns`, y `rows`).
/// - `multiplyColumns`: Y = A X with X `columns x B`, Y `rows x B` (states as columns).
/// - `multiplyRows`: Y = X A^T with X `B x columns`, Y `B x rows` (states as rows).
/// - `multiplyTransposed`, `multiplyTransposedColumns`, `multiplyTransposedRows`: the same with
///   A^T: y = A^T x, Y = A^T X (X `rows x B`), Y = X A (X `B x rows`).
/// - `addSampledProduct`: G[i, j] += sum_r L[r, i] R[r, j] only where (i, j) is stored (SDDMM).
///
/// The row-layout kernels and the SDDMM transpose panels of up to 256 samples into a workspace of
/// `workspaceCount` scalars; pass one to keep them free of allocation.
public struct CSRMatrix<S: BLASScalar>: Sendable, Equatable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// `rows + 1` offsets into `columnIndices` and `values`; row i is `rowOffsets[i] ..< rowOffsets[i + 1]`.
    public private(set) var rowOffsets: [Int32]
    /// Column of each stored entry, increasing within a row.
    public private(set) var columnIndices: [Int32]
    /// Value of each stored entry.
    public private(set) var values: [S]
    /// Distance in the dense source between consecutive rows and columns (`columns` and 1 for a
    /// row-major matrix; 1 and `rows` for the transpose of one): where `refreshValues` reads.
    public let sourceStrides: (row: Int, column: Int)

    /// Number of stored entries.
    @inlinable public var storedCount: Int { values.count }

    /// Scalars of workspace the row-layout kernels and the SDDMM use: `(rows + columns) * 256`, one
    /// per stored entry (the SDDMM's sums), and 64 bytes of slack for aligning its start to a cache line.
    public var workspaceCount: Int { SparseSupport.workspaceCount(tileRows: rows + columns, of: S.self) + storedCount }

    public static func == (a: CSRMatrix, b: CSRMatrix) -> Bool {
        a.rows == b.rows && a.columns == b.columns && a.rowOffsets == b.rowOffsets && a.columnIndices == b.columnIndices
            && a.values == b.values && a.sourceStrides == b.sourceStrides
    }

    /// The CSR form of the `rows x columns` matrix whose entry (i, j) is
    /// `dense[i * rowStride + j * columnStride]` (row-major: `columns`, 1; the transpose of a
    /// row-major `columns x rows` matrix: 1, `rows`), keeping entry (i, j) where
    /// `mask[i * rowStride + j * columnStride] != 0`, or where the value is nonzero without a mask.
    @_specialize(where S == Float)  // runs every training step, called from NN
    @_specialize(where S == Double)
    package init(
        rows: Int, columns: Int, dense: UnsafePointer<S>, mask: UnsafePointer<S>? = nil,
        rowStride: Int? = nil, columnStride: Int = 1
    ) {
        precondition(rows >= 0 && columns >= 0, "CSRMatrix sizes must be non-negative, got \(rows) x \(columns)")
        precondition(columns <= Int(Int32.max), "CSRMatrix: \(columns) columns do not fit Int32 indices")
        let rs = rowStride ?? columns, cs = columnStride
        self.rows = rows
        self.columns = columns
        self.sourceStrides = (rs, cs)
        var offsets = [Int32](repeating: 0, count: rows + 1)
        var indices = [Int32](), vals = [S]()
        for i in 0..<rows {
            for j in 0..<columns {
                let at = i * rs + j * cs
                if mask.map({ $0[at] != 0 }) ?? (dense[at] != 0) {
                    indices.append(Int32(j))
                    vals.append(dense[at])
                }
            }
            precondition(indices.count <= Int(Int32.max), "CSRMatrix: more than Int32.max stored entries")
            offsets[i + 1] = Int32(indices.count)
        }
        rowOffsets = offsets
        columnIndices = indices
        values = vals
    }

    /// The CSR form of a dense matrix, keeping entries where `mask` (same shape) is nonzero, or the
    /// nonzero entries without a mask.
    public init(_ dense: Matrix<S>, mask: Matrix<S>? = nil) {
        if let mask {
            precondition(
                mask.rows == dense.rows && mask.columns == dense.columns,
                "CSRMatrix: mask is \(mask.rows) x \(mask.columns), matrix \(dense.rows) x \(dense.columns)")
        }
        let m = mask?.scalars
        self = dense.scalars.withUnsafeBufferPointer { d in
            guard let m else { return CSRMatrix(rows: dense.rows, columns: dense.columns, dense: d.baseAddress!) }
            return m.withUnsafeBufferPointer {
                CSRMatrix(rows: dense.rows, columns: dense.columns, dense: d.baseAddress!, mask: $0.baseAddress!)
            }
        }
    }

    /// Re-reads every stored value from a dense source with the layout given at construction
    /// (same pattern, no reallocation when the storage is not shared), rows split over the worker pool.
    @_specialize(where S == Float)  // runs every training step, called from NN
    @_specialize(where S == Double)
    package mutating func refreshValues(from dense: UnsafePointer<S>) {
        let (rs, cs) = sourceStrides
        rowOffsets.withUnsafeBufferPointer { ro in
            columnIndices.withUnsafeBufferPointer { ci in
                values.withUnsafeMutableBufferPointer { v in
                    let vp = v.baseAddress
                    let minimum = SparseSupport.minimumRows(rows: rows, stored: v.count, width: 1)
                    Parallel.forEachChunk(count: rows, minimumChunk: minimum) { range in
                        for i in range {
                            let row = dense + i * rs
                            for k in Int(ro[i])..<Int(ro[i + 1]) { vp![k] = row[Int(ci[k]) * cs] }
                        }
                    }
                }
            }
        }
    }

    /// Re-reads every stored value from a dense matrix of the same shape (row-major source only).
    public mutating func refreshValues(from dense: Matrix<S>) {
        precondition(
            dense.rows == rows && dense.columns == columns && sourceStrides == (columns, 1),
            "refreshValues: expected a row-major \(rows) x \(columns) matrix, got \(dense.rows) x \(dense.columns)")
        dense.withUnsafeBufferPointer { refreshValues(from: $0.baseAddress!) }
    }

    /// The dense row-major matrix (zeros where nothing is stored).
    public func dense() -> Matrix<S> {
        var m = Matrix<S>(rows: rows, columns: columns)
        for i in 0..<rows {
            for k in Int(rowOffsets[i])..<Int(rowOffsets[i + 1]) { m[i, Int(columnIndices[k])] = values[k] }
        }
        return m
    }

    /// Calls `body` with the raw arrays.
    @inline(__always)
    func withArrays<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<S>) -> R) -> R {
        rowOffsets.withUnsafeBufferPointer { ro in
            columnIndices.withUnsafeBufferPointer { ci in
                values.withUnsafeBufferPointer { v in
                    // Empty arrays may have no base address; an address that is never read stands in.
                    body(ro.baseAddress!, ci.baseAddress ?? UnsafePointer(bitPattern: 8)!, v.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                }
            }
        }
    }

}

/// The batch products run on the drivers shared with the block format (SparseTileDrivers.swift);
/// a group is one row.
extension CSRMatrix: SparseTileKernels {
    package var rowsPerGroup: Int { 1 }
    package var groupCount: Int { rows }
    package var storedValueCount: Int { storedCount }
}

// MARK: - Products with A

extension CSRMatrix {
    /// `y = A x` (or `y += A x` when `accumulate`), x `columns`, y `rows`. Float on an AVX2 CPU runs
    /// the C kernel of CSparseKernels (hardware gathers of eight x entries, two accumulators); else,
    /// per row, eight stored entries at a time (gathered x times the values, one 8-lane
    /// accumulator), then four, then a scalar tail.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiply(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        forEachGroupRange(width: 1) { r in S.csrMultiply(self, rows: r, x, into: y, accumulate: accumulate) }
    }

    /// The Swift loop of `multiply` on the rows `range` (Double, and Float without the C kernels).
    @inline(__always)
    func multiplyLoop(rows range: Range<Int>, _ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        withArrays { ro, ci, v in
            for i in range {
                var k = Int(ro[i])
                let end = Int(ro[i + 1])
                var acc = SIMD8<S>()
                while k + 8 <= end {
                    let c = ci + k
                    let g = SIMD8<S>(
                        x[Int(c[0])], x[Int(c[1])], x[Int(c[2])], x[Int(c[3])],
                        x[Int(c[4])], x[Int(c[5])], x[Int(c[6])], x[Int(c[7])])
                    acc += g * SparseSupport.load8(v + k)
                    k += 8
                }
                if k + 4 <= end {
                    let c = ci + k
                    let g = SIMD4<S>(x[Int(c[0])], x[Int(c[1])], x[Int(c[2])], x[Int(c[3])])
                    acc.lowHalf += g * SparseSupport.load(v + k, as: SIMD4<S>.self)
                    k += 4
                }
                var s = SparseSupport.sum(acc)
                while k < end { s += v[k] * x[Int(ci[k])]; k += 1 }
                y[i] = accumulate ? y[i] + s : s
            }
        }
    }

    /// `Y = A X` (or `+=`), X `columns x batch`, Y `rows x batch` (both row-major): per row,
    /// 32 samples at a time in four 8-lane accumulators, then 8 at a time, then a scalar tail.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyColumns(_ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        multiplyColumnsDriver(x, batch: batch, into: y, accumulate: accumulate)
    }

    /// `y[i, 0..<width] (+)= (A x)[i, 0..<width]` for the rows i in `groups`, with leading
    /// dimensions ldx, ldy. Float runs the C kernels of CSparseKernels at the CPU's vector width
    /// (AVX2/FMA or AVX-512, chosen once at run time; `SparseSupport.floatKernelLevel`), at least 8
    /// wide; Double and narrow tiles run `gatherTileLoop`.
    @inline(__always)
    package func gatherTile(
        groups: Range<Int>, _ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int,
        accumulate: Bool
    ) {
        S.csrGatherTile(self, rows: groups, x, ldx: ldx, width: width, into: y, ldy: ldy, accumulate: accumulate)
    }

    /// The Swift loop of `gatherTile` on the rows `range` (Double, and Float on narrow tiles or
    /// without the C kernels).
    @inline(__always)
    func gatherTileLoop(
        rows range: Range<Int>, _ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int,
        accumulate: Bool
    ) {
        typealias V = SIMD8<S>
        withArrays { ro, ci, v in
            for i in range {
                let start = Int(ro[i]), end = Int(ro[i + 1])
                let yr = y + i * ldy
                var b = 0
                while b + 32 <= width {
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    if accumulate {
                        a0 = SparseSupport.load8(yr + b); a1 = SparseSupport.load8(yr + b + 8)
                        a2 = SparseSupport.load8(yr + b + 16); a3 = SparseSupport.load8(yr + b + 24)
                    }
                    for k in start..<end {
                        let w = V(repeating: v[k]), p = x + Int(ci[k]) * ldx + b
                        a0 += w * SparseSupport.load8(p); a1 += w * SparseSupport.load8(p + 8)
                        a2 += w * SparseSupport.load8(p + 16); a3 += w * SparseSupport.load8(p + 24)
                    }
                    SparseSupport.store8(a0, yr + b); SparseSupport.store8(a1, yr + b + 8)
                    SparseSupport.store8(a2, yr + b + 16); SparseSupport.store8(a3, yr + b + 24)
                    b += 32
                }
                while b + 8 <= width {
                    var a0 = accumulate ? SparseSupport.load8(yr + b) : V()
                    for k in start..<end { a0 += V(repeating: v[k]) * SparseSupport.load8(x + Int(ci[k]) * ldx + b) }
                    SparseSupport.store8(a0, yr + b)
                    b += 8
                }
                while b < width {
                    var s: S = accumulate ? yr[b] : 0
                    for k in start..<end { s += v[k] * x[Int(ci[k]) * ldx + b] }
                    yr[b] = s
                    b += 1
                }
            }
        }
    }

    /// `Y = X A^T` (or `+=`), X `batch x columns`, Y `batch x rows` (states as rows), through
    /// panels of transposed tiles in the workspace (`multiplyRowsDriver`).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyRows(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool,
        workspace: UnsafeMutablePointer<S>? = nil
    ) {
        multiplyRowsDriver(x, batch: batch, into: y, accumulate: accumulate, workspace: workspace)
    }
}

// MARK: - Products with A^T

extension CSRMatrix {
    /// `y = A^T x` (or `+=`), x `rows`, y `columns`: each stored entry (i, j) adds `a_ij x_i` to y_j.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyTransposed(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        if !accumulate { y.update(repeating: 0, count: columns) }
        withArrays { ro, ci, v in
            for i in 0..<rows {
                let xi = x[i]
                var k = Int(ro[i])
                let end = Int(ro[i + 1])
                while k + 4 <= end {
                    let j0 = Int(ci[k]), j1 = Int(ci[k + 1]), j2 = Int(ci[k + 2]), j3 = Int(ci[k + 3])
                    y[j0] += v[k] * xi; y[j1] += v[k + 1] * xi; y[j2] += v[k + 2] * xi; y[j3] += v[k + 3] * xi
                    k += 4
                }
                while k < end { y[Int(ci[k])] += v[k] * xi; k += 1 }
            }
        }
    }

    /// `Y = A^T X` (or `+=`), X `rows x batch`, Y `columns x batch`: each stored entry (i, j) adds
    /// `a_ij X[i, :]` to `Y[j, :]`, 32 samples at a time.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyTransposedColumns(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>,
        accumulate: Bool
    ) {
        multiplyTransposedColumnsDriver(x, batch: batch, into: y, accumulate: accumulate)
    }

    /// `y[:, 0..<width] += A^T x[:, 0..<width]` with leading dimensions ldx, ldy.
    @inline(__always)
    package func scatterTile(_ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int) {
        typealias V = SIMD8<S>
        withArrays { ro, ci, v in
            for i in 0..<rows {
                let start = Int(ro[i]), end = Int(ro[i + 1])
                guard start < end else { continue }
                let xr = x + i * ldx
                var b = 0
                while b + 32 <= width {
                    let x0 = SparseSupport.load8(xr + b), x1 = SparseSupport.load8(xr + b + 8)
                    let x2 = SparseSupport.load8(xr + b + 16), x3 = SparseSupport.load8(xr + b + 24)
                    for k in start..<end {
                        let w = V(repeating: v[k]), p = y + Int(ci[k]) * ldy + b
                        SparseSupport.store8(SparseSupport.load8(p) + w * x0, p)
                        SparseSupport.store8(SparseSupport.load8(p + 8) + w * x1, p + 8)
                        SparseSupport.store8(SparseSupport.load8(p + 16) + w * x2, p + 16)
                        SparseSupport.store8(SparseSupport.load8(p + 24) + w * x3, p + 24)
                    }
                    b += 32
                }
                while b + 8 <= width {
                    let x0 = SparseSupport.load8(xr + b)
                    for k in start..<end {
                        let p = y + Int(ci[k]) * ldy + b
                        SparseSupport.store8(SparseSupport.load8(p) + V(repeating: v[k]) * x0, p)
                    }
                    b += 8
                }
                while b < width {
                    let xb = xr[b]
                    for k in start..<end { y[Int(ci[k]) * ldy + b] += v[k] * xb }
                    b += 1
                }
            }
        }
    }

    /// `Y = X A` (or `+=`), X `batch x rows`, Y `batch x columns` (states as rows): tiles of 32
    /// samples are transposed into the workspace, multiplied as columns, and written back.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyTransposedRows(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>,
        accumulate: Bool, workspace: UnsafeMutablePointer<S>? = nil
    ) {
        multiplyTransposedRowsDriver(x, batch: batch, into: y, accumulate: accumulate, workspace: workspace)
    }
}

// MARK: - Sampled dense-dense product

extension CSRMatrix {
    /// SDDMM: `G[i, j] += sum_r left[r, i] * right[r, j]` for every stored (i, j), with `left`
    /// `count x rows`, `right` `count x columns` (row-major; for W_hh: dPre and the hidden states
    /// of all steps, time-major) and G `rows x columns` with leading dimension `ldg` (the dense
    /// gradient). Entries of G that are not stored are left as they are. Sums run over tiles of
    /// rows of left and right transposed into the workspace, so that each stored entry is a dot
    /// product of contiguous lanes per tile: Float on an AVX2 CPU in the C kernel of CSparseKernels
    /// (tiles of 256 rows, blocks of 1024 columns), otherwise in Swift (tiles of 32, 8-lane vectors).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func addSampledProduct(
        _ left: UnsafePointer<S>, _ right: UnsafePointer<S>, count: Int,
        into g: UnsafeMutablePointer<S>, ldg: Int, workspace: UnsafeMutablePointer<S>? = nil
    ) {
        guard count > 0, storedCount > 0 else { return }
        S.csrAddSampledProduct(self, left, right, count: count, into: g, ldg: ldg, workspace: workspace)
    }

    /// The Swift SDDMM: tiles of 32 rows, 8-lane vectors (Double, and Float without the C kernels).
    @inline(__always)
    func addSampledProductLoop(
        _ left: UnsafePointer<S>, _ right: UnsafePointer<S>, count: Int,
        into g: UnsafeMutablePointer<S>, ldg: Int, workspace: UnsafeMutablePointer<S>?
    ) {
        addSampledProductDriver(left, right, count: count, into: g, ldg: ldg, workspace: workspace)
    }

    /// One tile of the Swift SDDMM for the rows `groups`: each stored entry's dot product of 32 lanes.
    @inline(__always)
    package func addSampledTile(
        groups: Range<Int>, left lt: UnsafePointer<S>, right rt: UnsafePointer<S>, into g: UnsafeMutablePointer<S>,
        ldg: Int
    ) {
        let t = SparseSupport.tile
        withArrays { ro, ci, _ in
            for i in groups {
                let start = Int(ro[i]), end = Int(ro[i + 1])
                guard start < end else { continue }
                let li = lt + i * t
                let l0 = SparseSupport.load8(li), l1 = SparseSupport.load8(li + 8)
                let l2 = SparseSupport.load8(li + 16), l3 = SparseSupport.load8(li + 24)
                let gr = g + i * ldg
                for k in start..<end {
                    let j = Int(ci[k]), p = rt + j * t
                    let s0: SIMD8<S> = l0 * SparseSupport.load8(p) + l1 * SparseSupport.load8(p + 8)
                    let s1: SIMD8<S> = l2 * SparseSupport.load8(p + 16) + l3 * SparseSupport.load8(p + 24)
                    let s = s0 + s1
                    gr[j] += SparseSupport.sum(s)
                }
            }
        }
    }
}

extension CSRMatrix where S == Float {
    /// The SDDMM through the C kernel: tiles of up to `reductionTile` rows, padded with zero lanes
    /// to a multiple of 16, one dot product per stored entry and tile, summed over the tiles into
    /// one slot per stored entry in the workspace (each thread zeroes its rows' slots in the first
    /// tile and adds them into G in the last), so that the tiles do not read and write the dense
    /// gradient (4 MiB at H 1024) each time.
    @inline(__always)
    func addSampledProductFloatKernel(
        _ left: UnsafePointer<Float>, _ right: UnsafePointer<Float>, count: Int,
        into g: UnsafeMutablePointer<Float>, ldg: Int, workspace: UnsafeMutablePointer<Float>?
    ) {
        withWorkspace(workspace) { ws in
            let t = SparseSupport.reductionTile, sums = ws + (rows + columns) * t
            withArrays { ro, ci, _ in
                var r0 = 0
                while r0 < count {
                    let n = min(t, count - r0), lanes = (n + 15) / 16 * 16, lt = ws, rt = ws + rows * lanes
                    let first = r0 == 0, last = r0 + n == count
                    SparseSupport.transposeTileInParallel(left, ldx: rows, from: r0, count: n, width: rows, into: lt, ldOut: lanes)
                    SparseSupport.transposeTileInParallel(
                        right, ldx: columns, from: r0, count: n, width: columns, into: rt, ldOut: lanes)
                    forEachGroupRange(width: lanes) { r in
                        let k0 = Int(ro[r.lowerBound]), k1 = Int(ro[r.upperBound])
                        if first { (sums + k0).update(repeating: 0, count: k1 - k0) }
                        moduli_csr_sddmm_f32(
                            Int64(r.count), Int64(columns), ro + r.lowerBound, ci, lt + r.lowerBound * lanes, rt, Int64(lanes),
                            sums, Int32(SparseSupport.floatKernelLevel))
                        guard last else { return }
                        for i in r {
                            let gr = g + i * ldg
                            for k in Int(ro[i])..<Int(ro[i + 1]) { gr[Int(ci[k])] += sums[k] }
                        }
                    }
                    r0 += n
                }
            }
        }
    }
}

// MARK: - The CSR kernels of BLASScalar

extension Float {
    /// `CSRMatrix.multiply`: the C kernel (hardware gathers of eight x entries, two accumulators)
    /// on an AVX2 CPU, else the Swift loop.
    public static func csrMultiply(
        _ a: CSRMatrix<Float>, rows r: Range<Int>, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        let level = SparseSupport.floatKernelLevel
        guard level > 0 else { a.multiplyLoop(rows: r, x, into: y, accumulate: accumulate); return }
        a.withArrays { ro, ci, v in
            moduli_csr_multiply_f32(
                Int64(r.count), ro + r.lowerBound, ci, v, x, y + r.lowerBound, accumulate ? 1 : 0, Int32(level))
        }
    }

    /// The CSR gather tile: the C kernel at the CPU's vector width (AVX2/FMA or AVX-512) for tiles
    /// at least 8 wide, else the Swift loop.
    public static func csrGatherTile(
        _ a: CSRMatrix<Float>, rows r: Range<Int>, _ x: UnsafePointer<Float>, ldx: Int, width: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool
    ) {
        let level = SparseSupport.floatKernelLevel
        guard width >= 8, level > 0 else {
            a.gatherTileLoop(rows: r, x, ldx: ldx, width: width, into: y, ldy: ldy, accumulate: accumulate)
            return
        }
        a.withArrays { ro, ci, v in
            moduli_csr_gather_f32(
                Int64(r.count), ro + r.lowerBound, ci, v, x, Int64(ldx), Int64(width), y + r.lowerBound * ldy, Int64(ldy),
                accumulate ? 1 : 0, Int32(level))
        }
    }

    /// The CSR SDDMM: the C kernel (tiles of 256 rows) on an AVX2 CPU, else the Swift loop.
    public static func csrAddSampledProduct(
        _ a: CSRMatrix<Float>, _ left: UnsafePointer<Float>, _ right: UnsafePointer<Float>,
        count: Int, into g: UnsafeMutablePointer<Float>, ldg: Int,
        workspace: UnsafeMutablePointer<Float>?
    ) {
        if SparseSupport.floatKernelLevel > 0 {
            a.addSampledProductFloatKernel(left, right, count: count, into: g, ldg: ldg, workspace: workspace)
        } else {
            a.addSampledProductLoop(left, right, count: count, into: g, ldg: ldg, workspace: workspace)
        }
    }
}

extension Double {
    /// `CSRMatrix.multiply`: the Swift loop.
    public static func csrMultiply(
        _ a: CSRMatrix<Double>, rows r: Range<Int>, _ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>,
        accumulate: Bool
    ) {
        a.multiplyLoop(rows: r, x, into: y, accumulate: accumulate)
    }

    /// The CSR gather tile: the Swift loop.
    public static func csrGatherTile(
        _ a: CSRMatrix<Double>, rows r: Range<Int>, _ x: UnsafePointer<Double>, ldx: Int, width: Int,
        into y: UnsafeMutablePointer<Double>, ldy: Int, accumulate: Bool
    ) {
        a.gatherTileLoop(rows: r, x, ldx: ldx, width: width, into: y, ldy: ldy, accumulate: accumulate)
    }

    /// The CSR SDDMM: the Swift loop.
    public static func csrAddSampledProduct(
        _ a: CSRMatrix<Double>, _ left: UnsafePointer<Double>, _ right: UnsafePointer<Double>,
        count: Int, into g: UnsafeMutablePointer<Double>, ldg: Int,
        workspace: UnsafeMutablePointer<Double>?
    ) {
        a.addSampledProductLoop(left, right, count: count, into: g, ldg: ldg, workspace: workspace)
    }
}
