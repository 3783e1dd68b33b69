// Block compressed sparse row (BSR) matrices and their kernels: W_hh stored as small dense blocks,
// so that the products load contiguous runs of the input instead of gathering single values.
// Reference: Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., section 3.4 (block formats).

/// A `rows x columns` sparse matrix stored as `blockRows x blockColumns` dense blocks.
///
/// Block row `br` (rows `br * blockRows ..< (br + 1) * blockRows`) holds the blocks
/// `blockRowOffsets[br] ..< blockRowOffsets[br + 1]`; block k covers columns
/// `blockColumnIndices[k] * blockColumns ..< + blockColumns`. A block is stored when any entry in it is
/// kept (mask != 0, or nonzero without a mask); its other entries are explicit zeros, and so are
/// the parts of edge blocks past the last row or column (sizes need not be multiples of the block).
///
/// Value layout: the rows of a block row are stored one after another, each as the concatenation
/// of its `blockColumns`-wide slices of that row's blocks: with `nb` blocks in block row br and
/// `base = blockRowOffsets[br] * blockRows * blockColumns`, entry (rr, cc) of the row's kk-th
/// block is at `values[base + rr * nb * blockColumns + kk * blockColumns + cc]`. The same storage as
/// block-major BSR, ordered so that a kernel streams one row at a time with one accumulator and
/// shares each column index among `blockRows * blockColumns` values.
///
/// `blockColumns` is 4 or 8 (one SIMD4 or SIMD8 load per block row slice); `blockRows` is 1 to 16.
///
/// Block shape: `BlockSparseMatrix.defaultBlockShape` = 1 x 8, chosen by measurement (BENCHMARKS.md,
/// "Sparse kernels"; `moduli bench sparse --block RxC`, 2-core AVX-512 machine, baseline x86-64
/// build, OPENBLAS_CORETYPE=SkylakeX, speedup over dense sgemv / sgemm at batch 1 / 200):
/// - random masks at 90%: a fraction 1 - 0.9^(r c) of the blocks is nonempty, so the blocks store
///   5.7x the kept entries (1x8), 8.1x (4x4), 9.7x (4x8), 10x (8x8), and every block shape is
///   slower than CSR (1x8 at H 1024: 1.2x / 0.25x against CSR's 4.7x / 1.4x);
/// - geometric masks (each neuron keeps its nearest 10% on a torus), neurons in `NeuronOrdering`
///   order, H 4096: fill 1.25 / 1.31 / 1.40 / 1.52 / 1.28 and batch-1 speedups 8.8 / 7.2 / 8.7 /
///   7.3 / 5.4 for 1x8 / 2x8 / 4x8 / 8x8 / 4x4 (CSR 5.3-6.8); at batch 200 1.35 / 1.37 / 1.19 /
///   1.06 / 1.19 (CSR about 1.4);
/// - trained navigation masks (W_hh 99.5-99.6% sparse, one or two entries per row) in manifold
///   order: fill 6.7 / 10.8 / 17.9 / 27.5 for 1x8 / 4x4 / 4x8 / 8x8 at Ng 512, CSR fastest.
/// 1 x 8 has the least padding on every mask and is the fastest or within noise of it.
/// Kernels are the same as `CSRMatrix`'s: `multiply`, `multiplyColumns`, `multiplyRows`,
/// `multiplyTransposed`, `multiplyTransposedColumns`, `multiplyTransposedRows`, `addSampledProduct`.
public struct BlockSparseMatrix<S: BLASScalar>: Sendable, Equatable {
    /// The block shape chosen by measurement (rows, columns): 1 x 8.
    public static var defaultBlockShape: (rows: Int, columns: Int) { (1, 8) }

    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Rows of a block.
    public let blockRows: Int
    /// Columns of a block: 4 or 8.
    public let blockColumns: Int
    /// `ceil(rows / blockRows) + 1` offsets into `blockColumnIndices`.
    public private(set) var blockRowOffsets: [Int32]
    /// Block column of each stored block (its first column divided by `blockColumns`), increasing within a block row.
    public private(set) var blockColumnIndices: [Int32]
    /// The stored blocks' values, in the layout described above.
    public private(set) var values: [S]
    /// 1 where a stored value is a kept entry of the source, 0 for padding (kept at zero by `refreshValues`).
    public private(set) var kept: [UInt8]
    /// Where `refreshValues` reads entry (i, j): `dense[i * row + j * column]`.
    public let sourceStrides: (row: Int, column: Int)
    /// Number of kept entries (stored values minus padding).
    public private(set) var keptCount: Int

    /// Number of stored blocks.
    public var blockCount: Int { blockColumnIndices.count }
    /// Number of stored values, padding included.
    public var storedCount: Int { values.count }
    /// Number of block rows.
    public var blockRowCount: Int { blockRowOffsets.count - 1 }
    /// Scalars of workspace the row-layout kernels and the SDDMM use: `(rows + columns) * 32`, plus
    /// 64 bytes of slack for aligning its start to a cache line.
    public var workspaceCount: Int { SparseSupport.workspaceCount(tileRows: rows + columns, of: S.self) }

    public static func == (a: BlockSparseMatrix, b: BlockSparseMatrix) -> Bool {
        a.rows == b.rows && a.columns == b.columns && a.blockRows == b.blockRows && a.blockColumns == b.blockColumns
            && a.blockRowOffsets == b.blockRowOffsets && a.blockColumnIndices == b.blockColumnIndices
            && a.values == b.values && a.kept == b.kept && a.sourceStrides == b.sourceStrides
    }

    /// The block form of the `rows x columns` matrix whose entry (i, j) is
    /// `dense[i * rowStride + j * columnStride]`, keeping (i, j) where the mask at the same place is
    /// nonzero, or where the value is nonzero without a mask.
    @_specialize(where S == Float)  // runs every training step, called from NN
    @_specialize(where S == Double)
    package init(
        rows: Int, columns: Int, dense: UnsafePointer<S>, mask: UnsafePointer<S>? = nil,
        rowStride: Int? = nil, columnStride: Int = 1,
        blockRows: Int = BlockSparseMatrix.defaultBlockShape.rows,
        blockColumns: Int = BlockSparseMatrix.defaultBlockShape.columns
    ) {
        precondition(rows >= 0 && columns >= 0, "BlockSparseMatrix sizes must be non-negative, got \(rows) x \(columns)")
        precondition(blockColumns == 4 || blockColumns == 8, "BlockSparseMatrix: blockColumns must be 4 or 8, got \(blockColumns)")
        precondition((1...16).contains(blockRows), "BlockSparseMatrix: blockRows must be 1 to 16, got \(blockRows)")
        precondition(columns / blockColumns < Int(Int32.max), "BlockSparseMatrix: \(columns) columns do not fit Int32 indices")
        let rs = rowStride ?? columns, cs = columnStride, r = blockRows, c = blockColumns
        self.rows = rows
        self.columns = columns
        self.blockRows = r
        self.blockColumns = c
        self.sourceStrides = (rs, cs)
        func keeps(_ i: Int, _ j: Int) -> Bool {
            let at = i * rs + j * cs
            return mask.map { $0[at] != 0 } ?? (dense[at] != 0)
        }
        let blockRowCount = (rows + r - 1) / r, blockColumnCount = (columns + c - 1) / c
        var offsets = [Int32](repeating: 0, count: blockRowCount + 1)
        var indices = [Int32](), vals = [S](), keptFlags = [UInt8]()
        var keptTotal = 0
        var occupied = [Bool](repeating: false, count: blockColumnCount)
        for br in 0..<blockRowCount {
            let rowRange = (br * r)..<min(rows, (br + 1) * r)
            for q in 0..<blockColumnCount { occupied[q] = false }
            for i in rowRange {
                for j in 0..<columns where keeps(i, j) { occupied[j / c] = true }
            }
            let first = indices.count
            for q in 0..<blockColumnCount where occupied[q] { indices.append(Int32(q)) }
            let blocks = indices[first...]
            for rr in 0..<r {
                let i = br * r + rr
                for q in blocks {
                    for cc in 0..<c {
                        let j = Int(q) * c + cc
                        if i < rows && j < columns && keeps(i, j) {
                            vals.append(dense[i * rs + j * cs]); keptFlags.append(1); keptTotal += 1
                        } else {
                            vals.append(0); keptFlags.append(0)
                        }
                    }
                }
            }
            precondition(indices.count <= Int(Int32.max), "BlockSparseMatrix: more than Int32.max blocks")
            offsets[br + 1] = Int32(indices.count)
        }
        blockRowOffsets = offsets
        blockColumnIndices = indices
        values = vals
        kept = keptFlags
        keptCount = keptTotal
    }

    /// The block form of a dense matrix, keeping entries where `mask` (same shape) is nonzero, or
    /// the nonzero entries without a mask.
    public init(
        _ dense: Matrix<S>, mask: Matrix<S>? = nil, blockRows: Int = BlockSparseMatrix.defaultBlockShape.rows,
        blockColumns: Int = BlockSparseMatrix.defaultBlockShape.columns
    ) {
        if let mask {
            precondition(
                mask.rows == dense.rows && mask.columns == dense.columns,
                "BlockSparseMatrix: mask is \(mask.rows) x \(mask.columns), matrix \(dense.rows) x \(dense.columns)")
        }
        let m = mask?.scalars
        self = dense.scalars.withUnsafeBufferPointer { d in
            guard let m else {
                return BlockSparseMatrix(
                    rows: dense.rows, columns: dense.columns, dense: d.baseAddress!,
                    blockRows: blockRows, blockColumns: blockColumns)
            }
            return m.withUnsafeBufferPointer {
                BlockSparseMatrix(
                    rows: dense.rows, columns: dense.columns, dense: d.baseAddress!, mask: $0.baseAddress!,
                    blockRows: blockRows, blockColumns: blockColumns)
            }
        }
    }

    /// Re-reads every kept value from a dense source with the layout given at construction; padding
    /// stays zero (same pattern, no reallocation when the storage is not shared).
    @_specialize(where S == Float)  // runs every training step, called from NN
    @_specialize(where S == Double)
    package mutating func refreshValues(from dense: UnsafePointer<S>) {
        let (rs, cs) = sourceStrides, r = blockRows, c = blockColumns, rowCount = rows
        blockRowOffsets.withUnsafeBufferPointer { ro in
            blockColumnIndices.withUnsafeBufferPointer { ci in
                kept.withUnsafeBufferPointer { kp in
                    values.withUnsafeMutableBufferPointer { v in
                        for br in 0..<(ro.count - 1) {
                            let start = Int(ro[br]), nb = Int(ro[br + 1]) - start
                            for rr in 0..<r where br * r + rr < rowCount {
                                let base = start * r * c + rr * nb * c, src = dense + (br * r + rr) * rs
                                for kk in 0..<nb {
                                    let j0 = Int(ci[start + kk]) * c, o = base + kk * c
                                    for cc in 0..<c where kp[o + cc] != 0 { v[o + cc] = src[(j0 + cc) * cs] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Re-reads every kept value from a dense row-major matrix of the same shape.
    public mutating func refreshValues(from dense: Matrix<S>) {
        precondition(
            dense.rows == rows && dense.columns == columns && sourceStrides == (columns, 1),
            "refreshValues: expected a row-major \(rows) x \(columns) matrix, got \(dense.rows) x \(dense.columns)")
        dense.withUnsafeBufferPointer { refreshValues(from: $0.baseAddress!) }
    }

    /// The dense row-major matrix (zeros where nothing is stored).
    public func dense() -> Matrix<S> {
        var m = Matrix<S>(rows: rows, columns: columns)
        let r = blockRows, c = blockColumns
        for br in 0..<blockRowCount {
            let start = Int(blockRowOffsets[br]), nb = Int(blockRowOffsets[br + 1]) - start
            for rr in 0..<r where br * r + rr < rows {
                for kk in 0..<nb {
                    for cc in 0..<c {
                        let j = Int(blockColumnIndices[start + kk]) * c + cc
                        if j < columns { m[br * r + rr, j] = values[start * r * c + rr * nb * c + kk * c + cc] }
                    }
                }
            }
        }
        return m
    }

    /// Calls `body` with the raw arrays.
    @inline(__always)
    func withArrays<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<S>) -> R) -> R {
        blockRowOffsets.withUnsafeBufferPointer { ro in
            blockColumnIndices.withUnsafeBufferPointer { ci in
                values.withUnsafeBufferPointer { v in
                    body(ro.baseAddress!, ci.baseAddress ?? UnsafePointer(bitPattern: 8)!, v.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                }
            }
        }
    }

    /// Visits every stored row slice: `body(row, values of the row's slices, first block, block count)`.
    @inline(__always)
    func forEachRow(
        _ ro: UnsafePointer<Int32>, _ v: UnsafePointer<S>, blockRows range: Range<Int>? = nil,
        _ body: (_ row: Int, _ slices: UnsafePointer<S>, _ start: Int, _ blocks: Int) -> Void
    ) {
        let r = blockRows, c = blockColumns
        for br in range ?? 0..<blockRowCount {
            let start = Int(ro[br]), nb = Int(ro[br + 1]) - start
            for rr in 0..<r {
                let i = br * r + rr
                if i >= rows { break }
                body(i, v + start * r * c + rr * nb * c, start, nb)
            }
        }
    }
}

/// The batch products run on the drivers shared with CSR (SparseTileDrivers.swift); a group is
/// one block row.
extension BlockSparseMatrix: SparseTileKernels {
    package var rowsPerGroup: Int { blockRows }
    package var groupCount: Int { blockRowCount }
    package var storedValueCount: Int { blockCount * blockRows * blockColumns }

    /// `forEachRow` with the block rows split over the worker pool (`forEachGroupRange`): for
    /// bodies that write only their own row's outputs, each computed by one thread in the serial order.
    @inline(__always)
    func forEachRowInParallel(
        _ ro: UnsafePointer<Int32>, _ v: UnsafePointer<S>, width: Int,
        _ body: (_ row: Int, _ slices: UnsafePointer<S>, _ start: Int, _ blocks: Int) -> Void
    ) {
        forEachGroupRange(width: width) { range in forEachRow(ro, v, blockRows: range, body) }
    }
}

// MARK: - Products with A

extension BlockSparseMatrix {
    /// `y = A x` (or `+=`), x `columns`, y `rows`: per row, one vector load of x and of the
    /// values per block, one accumulator per row.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiply(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        if blockColumns == 8 {
            multiply(x, into: y, accumulate: accumulate, SIMD8<S>.self)
        } else {
            multiply(x, into: y, accumulate: accumulate, SIMD4<S>.self)
        }
    }

    @inline(__always)
    func multiply<V: SIMD>(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool, _: V.Type)
    where V.Scalar == S {
        let c = V.scalarCount, full = columns / c
        withArrays { ro, ci, v in
            forEachRowInParallel(ro, v, width: 1) { i, slices, start, nb in
                var acc = V()
                var tail: S = 0
                for kk in 0..<nb {
                    let q = Int(ci[start + kk])
                    if q < full {
                        acc += SparseSupport.load(slices + kk * c, as: V.self) * SparseSupport.load(x + q * c, as: V.self)
                    } else {
                        for cc in 0..<(columns - q * c) { tail += slices[kk * c + cc] * x[q * c + cc] }
                    }
                }
                let s = SparseSupport.sum(acc) + tail
                y[i] = accumulate ? y[i] + s : s
            }
        }
    }

    /// `Y = A X` (or `+=`), X `columns x batch`, Y `rows x batch` (states as columns).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyColumns(_ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        multiplyColumnsDriver(x, batch: batch, into: y, accumulate: accumulate)
    }

    /// `y[i, 0..<width] (+)= (A x)[i, 0..<width]` for the rows i of the block rows `groups`, with
    /// leading dimensions ldx, ldy: per row, 32 samples in four 8-lane accumulators, each block
    /// adding `blockColumns` rows of x.
    @inline(__always)
    package func gatherTile(
        groups: Range<Int>, _ x: UnsafePointer<S>, ldx: Int, width: Int, into y: UnsafeMutablePointer<S>, ldy: Int,
        accumulate: Bool
    ) {
        typealias V = SIMD8<S>
        let c = blockColumns, full = columns / c
        withArrays { ro, ci, v in
            forEachRow(ro, v, blockRows: groups) { i, slices, start, nb in
                let yr = y + i * ldy
                var b = 0
                while b + 32 <= width {
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    if accumulate {
                        a0 = SparseSupport.load8(yr + b); a1 = SparseSupport.load8(yr + b + 8)
                        a2 = SparseSupport.load8(yr + b + 16); a3 = SparseSupport.load8(yr + b + 24)
                    }
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        let w = slices + kk * c
                        var p = x + q * c * ldx + b
                        for cc in 0..<lim {
                            let s = V(repeating: w[cc])
                            a0 += s * SparseSupport.load8(p); a1 += s * SparseSupport.load8(p + 8)
                            a2 += s * SparseSupport.load8(p + 16); a3 += s * SparseSupport.load8(p + 24)
                            p += ldx
                        }
                    }
                    SparseSupport.store8(a0, yr + b); SparseSupport.store8(a1, yr + b + 8)
                    SparseSupport.store8(a2, yr + b + 16); SparseSupport.store8(a3, yr + b + 24)
                    b += 32
                }
                while b + 8 <= width {
                    var a0 = accumulate ? SparseSupport.load8(yr + b) : V()
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        for cc in 0..<lim {
                            a0 += V(repeating: slices[kk * c + cc]) * SparseSupport.load8(x + (q * c + cc) * ldx + b)
                        }
                    }
                    SparseSupport.store8(a0, yr + b)
                    b += 8
                }
                while b < width {
                    var s: S = accumulate ? yr[b] : 0
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        for cc in 0..<lim { s += slices[kk * c + cc] * x[(q * c + cc) * ldx + b] }
                    }
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

extension BlockSparseMatrix {
    /// `y = A^T x` (or `+=`), x `rows`, y `columns`: each row slice adds `x_i` times its values
    /// to a contiguous run of y.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func multiplyTransposed(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, accumulate: Bool) {
        if !accumulate { y.update(repeating: 0, count: columns) }
        if blockColumns == 8 { multiplyTransposed(x, into: y, SIMD8<S>.self) } else { multiplyTransposed(x, into: y, SIMD4<S>.self) }
    }

    @inline(__always)
    func multiplyTransposed<V: SIMD>(_ x: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, _: V.Type)
    where V.Scalar == S {
        let c = V.scalarCount, full = columns / c
        withArrays { ro, ci, v in
            forEachRow(ro, v) { i, slices, start, nb in
                let xi = x[i], xv = V(repeating: xi)
                for kk in 0..<nb {
                    let q = Int(ci[start + kk]), p = y + q * c
                    if q < full {
                        SparseSupport.store(
                            SparseSupport.load(UnsafePointer(p), as: V.self)
                                + SparseSupport.load(slices + kk * c, as: V.self) * xv, p)
                    } else {
                        for cc in 0..<(columns - q * c) { p[cc] += slices[kk * c + cc] * xi }
                    }
                }
            }
        }
    }

    /// `Y = A^T X` (or `+=`), X `rows x batch`, Y `columns x batch` (states as columns).
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
        let c = blockColumns, full = columns / c
        withArrays { ro, ci, v in
            forEachRow(ro, v) { i, slices, start, nb in
                guard nb > 0 else { return }
                let xr = x + i * ldx
                var b = 0
                while b + 32 <= width {
                    let x0 = SparseSupport.load8(xr + b), x1 = SparseSupport.load8(xr + b + 8)
                    let x2 = SparseSupport.load8(xr + b + 16), x3 = SparseSupport.load8(xr + b + 24)
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        var p = y + q * c * ldy + b
                        for cc in 0..<lim {
                            let w = V(repeating: slices[kk * c + cc])
                            SparseSupport.store8(SparseSupport.load8(p) + w * x0, p)
                            SparseSupport.store8(SparseSupport.load8(p + 8) + w * x1, p + 8)
                            SparseSupport.store8(SparseSupport.load8(p + 16) + w * x2, p + 16)
                            SparseSupport.store8(SparseSupport.load8(p + 24) + w * x3, p + 24)
                            p += ldy
                        }
                    }
                    b += 32
                }
                while b + 8 <= width {
                    let x0 = SparseSupport.load8(xr + b)
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        for cc in 0..<lim {
                            let p = y + (q * c + cc) * ldy + b
                            SparseSupport.store8(SparseSupport.load8(p) + V(repeating: slices[kk * c + cc]) * x0, p)
                        }
                    }
                    b += 8
                }
                while b < width {
                    let xb = xr[b]
                    for kk in 0..<nb {
                        let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                        for cc in 0..<lim { y[(q * c + cc) * ldy + b] += slices[kk * c + cc] * xb }
                    }
                    b += 1
                }
            }
        }
    }

    /// `Y = X A` (or `+=`), X `batch x rows`, Y `batch x columns` (states as rows), through
    /// transposed tiles of 32 samples in the workspace.
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

extension BlockSparseMatrix {
    /// SDDMM: `G[i, j] += sum_r left[r, i] * right[r, j]` for every (i, j) inside a stored block
    /// (padding entries inside the matrix included; the rest of G is left as it is), with `left`
    /// `count x rows`, `right` `count x columns` and G `rows x columns` with leading dimension
    /// `ldg`. Sums run over tiles of 32 rows, transposed into the workspace.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func addSampledProduct(
        _ left: UnsafePointer<S>, _ right: UnsafePointer<S>, count: Int,
        into g: UnsafeMutablePointer<S>, ldg: Int, workspace: UnsafeMutablePointer<S>? = nil
    ) {
        addSampledProductDriver(left, right, count: count, into: g, ldg: ldg, workspace: workspace)
    }

    /// One tile of the SDDMM for the rows of the block rows `groups`: a dot product of 32 lanes for
    /// every entry of every stored block (inside the matrix).
    @inline(__always)
    package func addSampledTile(
        groups: Range<Int>, left lt: UnsafePointer<S>, right rt: UnsafePointer<S>, into g: UnsafeMutablePointer<S>,
        ldg: Int
    ) {
        let t = SparseSupport.tile, c = blockColumns, full = columns / c
        withArrays { ro, ci, v in
            forEachRow(ro, v, blockRows: groups) { i, _, start, nb in
                guard nb > 0 else { return }
                let li = lt + i * t
                let l0 = SparseSupport.load8(li), l1 = SparseSupport.load8(li + 8)
                let l2 = SparseSupport.load8(li + 16), l3 = SparseSupport.load8(li + 24)
                let gr = g + i * ldg
                for kk in 0..<nb {
                    let q = Int(ci[start + kk]), lim = q < full ? c : columns - q * c
                    for cc in 0..<lim {
                        let j = q * c + cc, p = rt + j * t
                        let s0: SIMD8<S> = l0 * SparseSupport.load8(p) + l1 * SparseSupport.load8(p + 8)
                        let s1: SIMD8<S> = l2 * SparseSupport.load8(p + 16) + l3 * SparseSupport.load8(p + 24)
                        let s = s0 + s1
                        gr[j] += SparseSupport.sum(s)
                    }
                }
            }
        }
    }
}
