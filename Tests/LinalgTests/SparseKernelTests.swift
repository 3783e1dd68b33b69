// Oracles for the sparse kernels: every CSRMatrix and BlockSparseMatrix product and the SDDMM
// against naive dense loops in Double, over shapes, sparsities, block shapes, batches and modes.
import Testing
import Linalg
import CSparseKernels

/// A sparse format under test, with every kernel behind one switch.
enum SparseFormat: CustomStringConvertible, Sendable {
    case csr
    case block(rows: Int, columns: Int)

    var description: String {
        switch self {
        case .csr: "CSR"
        case .block(let r, let c): "BSR \(r)x\(c)"
        }
    }
}

/// The kernels of one sparse matrix, whatever its format.
struct SparseUnderTest<S: BLASScalar> {
    enum Storage { case csr(CSRMatrix<S>), block(BlockSparseMatrix<S>) }
    var storage: Storage

    init(_ format: SparseFormat, dense: Matrix<S>, mask: Matrix<S>?) {
        switch format {
        case .csr: storage = .csr(CSRMatrix(dense, mask: mask))
        case .block(let r, let c): storage = .block(BlockSparseMatrix(dense, mask: mask, blockRows: r, blockColumns: c))
        }
    }

    var dense: Matrix<S> {
        switch storage {
        case .csr(let a): a.dense()
        case .block(let a): a.dense()
        }
    }

    mutating func refresh(_ m: Matrix<S>) {
        switch storage {
        case .csr(var a): a.refreshValues(from: m); storage = .csr(a)
        case .block(var a): a.refreshValues(from: m); storage = .block(a)
        }
    }

    /// Kernel `kind` on x into y.
    func run(_ kind: Kernel, _ x: UnsafePointer<S>, batch: Int, _ y: UnsafeMutablePointer<S>, accumulate: Bool) {
        switch (storage, kind) {
        case (.csr(let a), .columns): a.multiplyColumns(x, batch: batch, into: y, accumulate: accumulate)
        case (.csr(let a), .rows): a.multiplyRows(x, batch: batch, into: y, accumulate: accumulate)
        case (.csr(let a), .transposedColumns): a.multiplyTransposedColumns(x, batch: batch, into: y, accumulate: accumulate)
        case (.csr(let a), .transposedRows): a.multiplyTransposedRows(x, batch: batch, into: y, accumulate: accumulate)
        case (.block(let a), .columns): a.multiplyColumns(x, batch: batch, into: y, accumulate: accumulate)
        case (.block(let a), .rows): a.multiplyRows(x, batch: batch, into: y, accumulate: accumulate)
        case (.block(let a), .transposedColumns): a.multiplyTransposedColumns(x, batch: batch, into: y, accumulate: accumulate)
        case (.block(let a), .transposedRows): a.multiplyTransposedRows(x, batch: batch, into: y, accumulate: accumulate)
        }
    }

    /// The batch-1 kernels called directly.
    func runSingle(transposed: Bool, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, accumulate: Bool) {
        switch (storage, transposed) {
        case (.csr(let a), false): a.multiply(x, into: y, accumulate: accumulate)
        case (.csr(let a), true): a.multiplyTransposed(x, into: y, accumulate: accumulate)
        case (.block(let a), false): a.multiply(x, into: y, accumulate: accumulate)
        case (.block(let a), true): a.multiplyTransposed(x, into: y, accumulate: accumulate)
        }
    }

    func sddmm(_ l: UnsafePointer<S>, _ r: UnsafePointer<S>, count: Int, _ g: UnsafeMutablePointer<S>, ldg: Int) {
        switch storage {
        case .csr(let a): a.addSampledProduct(l, r, count: count, into: g, ldg: ldg)
        case .block(let a): a.addSampledProduct(l, r, count: count, into: g, ldg: ldg)
        }
    }

    /// Whether (i, j) lies in stored storage (a stored entry, or a stored block's padding).
    func isStored(_ i: Int, _ j: Int) -> Bool {
        switch storage {
        case .csr(let a):
            return (Int(a.rowOffsets[i])..<Int(a.rowOffsets[i + 1])).contains { Int(a.columnIndices[$0]) == j }
        case .block(let a):
            let br = i / a.blockRows, q = j / a.blockColumns
            return (Int(a.blockRowOffsets[br])..<Int(a.blockRowOffsets[br + 1])).contains { Int(a.blockColumnIndices[$0]) == q }
        }
    }
}

/// The four batched products.
enum Kernel: CaseIterable, Sendable {
    /// Y = A X, X columns x B.
    case columns
    /// Y = X A^T, X B x columns.
    case rows
    /// Y = A^T X, X rows x B.
    case transposedColumns
    /// Y = X A, X B x rows.
    case transposedRows
}

@Suite struct SparseKernelTests {
    static let formats: [SparseFormat] = [
        .csr, .block(rows: 1, columns: 8), .block(rows: 4, columns: 4),
        .block(rows: 3, columns: 8), .block(rows: 8, columns: 8)
    ]
    /// (rows, columns): one entry, one column, one row, not multiples of any block, more than 32 rows.
    static let shapes = [(1, 1), (9, 1), (1, 7), (13, 11), (17, 35), (40, 24)]
    static let sparsities = [0.0, 0.5, 0.9, 0.999, 1.0]

    /// A random matrix and a mask pruning about `sparsity` of it; the mask keeps a few exact zeros
    /// (which must still be stored) and, for sparsity < 1, leaves row 0 and column 0 empty when
    /// the matrix has more than one row and column.
    static func problem<S: BLASScalar>(rows: Int, columns: Int, sparsity: Double, seed: UInt64)
        -> (values: Matrix<S>, mask: Matrix<S>)
    {
        var rng = SeededGenerator(seed: seed)
        var values: Matrix<S> = rng.normalMatrix(rows: rows, columns: columns)
        var mask = Matrix<S>(rows: rows, columns: columns)
        for i in 0..<rows {
            for j in 0..<columns where rng.uniform() >= sparsity {
                mask[i, j] = 1
                if rng.uniform() < 0.1 { values[i, j] = 0 }
            }
        }
        if rows > 1 && columns > 1 {
            for j in 0..<columns { mask[0, j] = 0 }
            for i in 0..<rows { mask[i, 0] = 0 }
        }
        return (values, mask)
    }

    /// The effective dense matrix in Double: values where the mask keeps, 0 elsewhere.
    static func effective<S: BLASScalar>(_ v: Matrix<S>, _ m: Matrix<S>) -> Matrix<Double> {
        Matrix(rows: v.rows, columns: v.columns) { i, j in m[i, j] != 0 ? Double(v[i, j]) : 0 }
    }

    /// |got - want| <= tol * (scale + 1) for every element, scale the sum of |terms|.
    static func check<S: BLASScalar>(_ got: [S], _ want: [Double], _ scale: [Double], _ what: String) {
        let tol = S.self == Float.self ? 1e-5 : 1e-13
        var worst = 0.0, at = -1
        for k in got.indices {
            let e = abs(Double(got[k]) - want[k]) / (scale[k] + 1)
            if !(e <= worst) { worst = e; at = k }
        }
        #expect(worst <= tol, "\(S.self) \(what): worst scaled error \(worst) at \(at)")
    }

    func checkKernels<S: BLASScalar>(_: S.Type, format: SparseFormat, rows: Int, columns: Int, sparsity: Double, seed: UInt64) {
        let (values, mask): (Matrix<S>, Matrix<S>) = Self.problem(rows: rows, columns: columns, sparsity: sparsity, seed: seed)
        let a = SparseUnderTest(format, dense: values, mask: mask)
        let e = Self.effective(values, mask)
        let tag = "\(format) \(rows)x\(columns) sparsity \(sparsity) seed \(seed)"
        #expect(a.dense == e.converted(to: S.self), "\(S.self) \(tag): dense() differs from the masked matrix")
        var rng = SeededGenerator(seed: seed &+ 1)

        // 300 samples: a row-layout product's two panels, the second ending in a partial tile.
        for batch in [1, 41] + (rows * columns >= 400 ? [300] : []) {
            for kind in Kernel.allCases {
                // Shapes: m x k operator, input laid out as (k x B) for columns or (B x k) for rows.
                let transposedOp = kind == .transposedColumns || kind == .transposedRows
                let rowLayout = kind == .rows || kind == .transposedRows
                let (m, k) = transposedOp ? (columns, rows) : (rows, columns)
                let op = transposedOp ? e.transposed().scalars : e.scalars
                let x: Matrix<S> = rowLayout ? rng.normalMatrix(rows: batch, columns: k) : rng.normalMatrix(rows: k, columns: batch)
                let xd = x.scalars.map(Double.init)
                var product = [Double](repeating: 0, count: m * batch), scale = product
                for i in 0..<m {
                    for b in 0..<batch {
                        var s = 0.0, sa = 0.0
                        for j in 0..<k {
                            let t = op[i * k + j] * xd[rowLayout ? b * k + j : j * batch + b]
                            s += t; sa += abs(t)
                        }
                        let out = rowLayout ? b * m + i : i * batch + b
                        product[out] = s; scale[out] = sa
                    }
                }
                for accumulate in [false, true] {
                    // Run `body` on a random y (NaN when overwritten, so that a skipped entry shows) and compare.
                    func verify(_ what: String, _ body: (UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void) {
                        var out: Matrix<S> = rng.normalMatrix(rows: m * batch, columns: 1)
                        let want = accumulate ? zip(out.scalars, product).map { Double($0) + $1 } : product
                        let bound = accumulate ? zip(out.scalars, scale).map { abs(Double($0)) + $1 } : scale
                        if !accumulate { for i in out.scalars.indices { out.scalars[i] = .nan } }
                        x.withUnsafeBufferPointer { px in
                            out.withUnsafeMutableBufferPointer { body(px.baseAddress!, $0.baseAddress!) }
                        }
                        Self.check(out.scalars, want, bound, "\(tag) \(what) batch \(batch) accumulate \(accumulate)")
                    }
                    verify("\(kind)") { a.run(kind, $0, batch: batch, $1, accumulate: accumulate) }
                    if batch == 1 && (kind == .columns || kind == .transposedColumns) {
                        verify("batch-1 entry, \(kind)") {
                            a.runSingle(transposed: kind == .transposedColumns, $0, $1, accumulate: accumulate)
                        }
                    }
                }
            }
        }

        // SDDMM: G[i, j] += sum_r L[r, i] R[r, j] where kept; entries outside stored storage unchanged.
        for count in [1, 45, 600] {  // 600: several of the Float kernel's 256-row tiles
            let l: Matrix<S> = rng.normalMatrix(rows: count, columns: rows)
            let r: Matrix<S> = rng.normalMatrix(rows: count, columns: columns)
            let ldg = columns + 2
            var g: Matrix<S> = rng.normalMatrix(rows: rows, columns: ldg)
            let g0 = g
            l.withUnsafeBufferPointer { pl in
                r.withUnsafeBufferPointer { pr in
                    g.withUnsafeMutableBufferPointer { a.sddmm(pl.baseAddress!, pr.baseAddress!, count: count, $0.baseAddress!, ldg: ldg) }
                }
            }
            var got = [S](), want = [Double](), scale = [Double]()
            var untouched = true
            for i in 0..<rows {
                for j in 0..<ldg {
                    if j < columns && mask[i, j] != 0 {
                        var s = Double(g0[i, j]), sa = abs(s)
                        for n in 0..<count { s += Double(l[n, i]) * Double(r[n, j]); sa += abs(Double(l[n, i]) * Double(r[n, j])) }
                        got.append(g[i, j]); want.append(s); scale.append(sa)
                    } else if j >= columns || !a.isStored(i, j) {
                        untouched = untouched && g[i, j] == g0[i, j]
                    }
                }
            }
            Self.check(got, want, scale, "\(tag) SDDMM count \(count)")
            #expect(untouched, "\(S.self) \(tag) SDDMM count \(count): an entry outside the stored pattern changed")
        }
    }

    @Test(arguments: formats)
    func kernelsMatchNaiveLoops(format: SparseFormat) {
        var seed: UInt64 = 1000
        for (rows, columns) in Self.shapes {
            for sparsity in Self.sparsities {
                seed += 1
                checkKernels(Float.self, format: format, rows: rows, columns: columns, sparsity: sparsity, seed: seed)
                if sparsity == 0.9 {
                    checkKernels(Double.self, format: format, rows: rows, columns: columns, sparsity: sparsity, seed: seed)
                }
            }
        }
    }

    /// The pattern comes from the mask (kept zeros stored); `refreshValues` re-reads values in place,
    /// and padding of a block format stays zero.
    @Test(arguments: formats)
    func patternFromMaskAndRefresh(format: SparseFormat) {
        let (values, mask): (Matrix<Float>, Matrix<Float>) = Self.problem(rows: 19, columns: 21, sparsity: 0.7, seed: 77)
        var a = SparseUnderTest(format, dense: values, mask: mask)
        let keptCount = mask.scalars.filter { $0 != 0 }.count
        switch a.storage {
        case .csr(let m): #expect(m.storedCount == keptCount)
        case .block(let m): #expect(m.keptCount == keptCount && m.storedCount >= keptCount)
        }
        var rng = SeededGenerator(seed: 78)
        let changed: Matrix<Float> = rng.normalMatrix(rows: 19, columns: 21)
        a.refresh(changed)
        #expect(a.dense == Self.effective(changed, mask).converted(to: Float.self))
        // Without a mask, the pattern is the nonzeros.
        let b = SparseUnderTest(format, dense: Self.effective(values, mask).converted(to: Float.self), mask: nil)
        #expect(b.dense == Self.effective(values, mask).converted(to: Float.self))
    }

    /// A CSR matrix read through strides from the transpose of a row-major matrix.
    @Test func csrOfTransposeRefreshes() {
        let (values, mask): (Matrix<Double>, Matrix<Double>) = Self.problem(rows: 6, columns: 9, sparsity: 0.5, seed: 90)
        var t = values.scalars.withUnsafeBufferPointer { v in
            mask.scalars.withUnsafeBufferPointer { m in
                CSRMatrix(rows: 9, columns: 6, dense: v.baseAddress!, mask: m.baseAddress!, rowStride: 1, columnStride: 9)
            }
        }
        #expect(t.dense() == Self.effective(values, mask).transposed())
        var rng = SeededGenerator(seed: 91)
        let changed: Matrix<Double> = rng.normalMatrix(rows: 6, columns: 9)
        changed.withUnsafeBufferPointer { t.refreshValues(from: $0.baseAddress!) }
        #expect(t.dense() == Self.effective(changed, mask).transposed())
    }
}

/// A caller's workspace of exactly `workspaceCount` scalars, starting anywhere: the kernels move its
/// start to a cache line within the slack, never write outside it, and give the same results as
/// with a workspace of their own.
@Suite struct WorkspacePlacementTests {
    @Test func anyStartGivesTheSameResultsInsideTheWorkspace() {
        let (values, mask): (Matrix<Float>, Matrix<Float>) = SparseKernelTests.problem(rows: 70, columns: 45, sparsity: 0.8, seed: 300)
        var rng = SeededGenerator(seed: 301)
        let batch = 37, count = 33
        let x: Matrix<Float> = rng.normalMatrix(rows: batch, columns: 45)
        let dPre: Matrix<Float> = rng.normalMatrix(rows: batch, columns: 70)
        let left: Matrix<Float> = rng.normalMatrix(rows: count, columns: 70)
        let right: Matrix<Float> = rng.normalMatrix(rows: count, columns: 45)
        for format in SparseKernelTests.formats {
            let a = SparseUnderTest(format, dense: values, mask: mask)
            let needed: Int
            switch a.storage {
            case .csr(let m): needed = m.workspaceCount
            case .block(let m): needed = m.workspaceCount
            }
            // The three workspace users, on a given workspace (nil: the kernels' own).
            func run(_ ws: UnsafeMutablePointer<Float>?) -> [Float] {
                var y = [Float](repeating: 0, count: batch * 70), t = [Float](repeating: 0, count: batch * 45)
                var g = [Float](repeating: 0, count: 70 * 45)
                switch a.storage {
                case .csr(let m):
                    m.multiplyRows(x.scalars, batch: batch, into: &y, accumulate: false, workspace: ws)
                    m.multiplyTransposedRows(dPre.scalars, batch: batch, into: &t, accumulate: false, workspace: ws)
                    m.addSampledProduct(left.scalars, right.scalars, count: count, into: &g, ldg: 45, workspace: ws)
                case .block(let m):
                    m.multiplyRows(x.scalars, batch: batch, into: &y, accumulate: false, workspace: ws)
                    m.multiplyTransposedRows(dPre.scalars, batch: batch, into: &t, accumulate: false, workspace: ws)
                    m.addSampledProduct(left.scalars, right.scalars, count: count, into: &g, ldg: 45, workspace: ws)
                }
                return y + t + g
            }
            let reference = run(nil)
            let guardCount = 64
            for offset in 0..<16 {
                var buffer = [Float](repeating: -7, count: offset + needed + guardCount)
                let got = buffer.withUnsafeMutableBufferPointer { run($0.baseAddress! + offset) }
                #expect(got == reference, "\(format), workspace at +\(offset) scalars: results differ")
                let outside = buffer[..<offset].allSatisfy { $0 == -7 } && buffer[(offset + needed)...].allSatisfy { $0 == -7 }
                #expect(outside, "\(format), workspace at +\(offset) scalars: a kernel wrote outside its workspace")
            }
        }
    }
}

/// The C gather kernels at every vector width this CPU runs (portable C, AVX2/FMA, AVX-512),
/// against a naive Double loop: widths around every vector and unroll boundary, empty rows,
/// accumulate and overwrite. (The products above run only the widest level.)
@Suite struct VectorKernelLevelTests {
    @Test func everyLevelMatchesNaiveLoops() {
        var rng = SeededGenerator(seed: 4242)
        let rows = 13, columns = 37
        var dense = [Float](repeating: 0, count: rows * columns)
        for k in dense.indices where rng.uniform() < 0.3 { dense[k] = Float(rng.uniform(-1, 1)) }
        for c in 0..<columns { dense[4 * columns + c] = 0 }  // an empty row
        let a = CSRMatrix(Matrix<Float>(rows: rows, columns: columns, scalars: dense))
        let top = Int(moduli_sparse_cpu_level())
        for level in 0...top {
            for width in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200] {
                let ldx = width + 3, ldy = width + 5
                let x = (0..<(columns * ldx)).map { _ in Float(rng.uniform(-1, 1)) }
                let y0 = (0..<(rows * ldy)).map { _ in Float(rng.uniform(-1, 1)) }
                for accumulate in [false, true] {
                    var y = y0
                    a.rowOffsets.withUnsafeBufferPointer { ro in
                        a.columnIndices.withUnsafeBufferPointer { ci in
                            a.values.withUnsafeBufferPointer { v in
                                moduli_csr_gather_f32(
                                    Int64(rows), ro.baseAddress, ci.baseAddress, v.baseAddress, x, Int64(ldx),
                                    Int64(width), &y, Int64(ldy), accumulate ? 1 : 0, Int32(level))
                            }
                        }
                    }
                    var worst = 0.0
                    for i in 0..<rows {
                        for b in 0..<ldy {
                            var expected = Double(y0[i * ldy + b])
                            if b < width {
                                expected = accumulate ? expected : 0
                                for c in 0..<columns { expected += Double(dense[i * columns + c]) * Double(x[c * ldx + b]) }
                            }
                            worst = max(worst, abs(Double(y[i * ldy + b]) - expected))
                        }
                    }
                    #expect(worst < 1e-5, "level \(level), width \(width), accumulate \(accumulate): error \(worst)")
                }
            }
        }
    }
}

/// The C batch-1 product at every level against a naive Double loop: rows of every length from 0
/// to 40 stored entries (each unroll step and tail), accumulate and overwrite.
@Suite struct VectorMultiplyLevelTests {
    @Test func everyLevelMatchesNaiveLoops() {
        var rng = SeededGenerator(seed: 4244)
        let rows = 41, columns = 97
        var dense = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            var kept = Array(0..<columns)
            rng.shuffle(&kept)
            for c in kept.prefix(i) { dense[i * columns + c] = Float(rng.uniform(-1, 1)) }  // row i keeps i entries
        }
        let a = CSRMatrix(Matrix<Float>(rows: rows, columns: columns, scalars: dense))
        let x = (0..<columns).map { _ in Float(rng.uniform(-1, 1)) }
        let y0 = (0..<rows).map { _ in Float(rng.uniform(-1, 1)) }
        for level in 0...Int(moduli_sparse_cpu_level()) {
            for accumulate in [false, true] {
                var y = y0
                a.rowOffsets.withUnsafeBufferPointer { ro in
                    a.columnIndices.withUnsafeBufferPointer { ci in
                        a.values.withUnsafeBufferPointer { v in
                            moduli_csr_multiply_f32(
                                Int64(rows), ro.baseAddress, ci.baseAddress, v.baseAddress, x, &y,
                                accumulate ? 1 : 0, Int32(level))
                        }
                    }
                }
                var worst = 0.0
                for i in 0..<rows {
                    var expected = accumulate ? Double(y0[i]) : 0
                    for c in 0..<columns { expected += Double(dense[i * columns + c]) * Double(x[c]) }
                    worst = max(worst, abs(Double(y[i]) - expected))
                }
                #expect(worst < 1e-5, "level \(level), accumulate \(accumulate): error \(worst)")
            }
        }
    }
}

/// The C SDDMM on transposed tiles at every level against a naive Double loop: tile widths that
/// each level takes (multiples of 16 and of 8) and one it leaves to portable C, rows with 0 to 9
/// (times perRow) stored entries (the four-at-a-time step and its tail), each sum added to its
/// stored entry's slot.
@Suite struct VectorSampledProductLevelTests {
    /// 23 columns (one pass), and 2500 (three blocks of the vector kernels' 1024 columns, rows with
    /// entries in every block).
    @Test(arguments: [(23, 1), (2500, 60)])
    func everyLevelMatchesNaiveLoops(columns: Int, perRow: Int) {
        var rng = SeededGenerator(seed: 4245)
        let rows = 10
        var dense = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            var kept = Array(0..<columns)
            rng.shuffle(&kept)
            for c in kept.prefix(i * perRow) { dense[i * columns + c] = 1 }  // row i keeps i * perRow entries
        }
        let a = CSRMatrix(Matrix<Float>(rows: rows, columns: columns, scalars: dense))
        for level in 0...Int(moduli_sparse_cpu_level()) {
            for ld in [5, 8, 16, 24, 48, 128] {
                let lt = (0..<(rows * ld)).map { _ in Float(rng.uniform(-1, 1)) }
                let rt = (0..<(columns * ld)).map { _ in Float(rng.uniform(-1, 1)) }
                // One sum per stored entry, added to what the entry held.
                let e0 = (0..<a.storedCount).map { _ in Float(rng.uniform(-1, 1)) }
                var e = e0
                a.rowOffsets.withUnsafeBufferPointer { ro in
                    a.columnIndices.withUnsafeBufferPointer { ci in
                        moduli_csr_sddmm_f32(
                            Int64(rows), Int64(columns), ro.baseAddress, ci.baseAddress, lt, rt, Int64(ld), &e, Int32(level))
                    }
                }
                var worst = 0.0
                for i in 0..<rows {
                    for k in Int(a.rowOffsets[i])..<Int(a.rowOffsets[i + 1]) {
                        let j = Int(a.columnIndices[k])
                        var expected = Double(e0[k])
                        for t in 0..<ld { expected += Double(lt[i * ld + t]) * Double(rt[j * ld + t]) }
                        worst = max(worst, abs(Double(e[k]) - expected))
                    }
                }
                #expect(worst < 1e-4, "level \(level), \(columns) columns, tile width \(ld): error \(worst)")
            }
        }
    }
}

/// The C transposes (tile in and out of the row layout) at every level against their definition.
@Suite struct VectorTransposeTests {
    @Test func everyLevelTransposes() {
        var rng = SeededGenerator(seed: 4243)
        for level in 0...Int(moduli_sparse_cpu_level()) {
            for (rows, columns) in [(1, 1), (7, 9), (8, 8), (9, 17), (32, 40), (13, 64), (33, 5)] {
                let lds = columns + 2, ldd = rows + 3
                let src = (0..<(rows * lds)).map { _ in Float(rng.uniform(-1, 1)) }
                let before = (0..<(columns * ldd)).map { _ in Float(rng.uniform(-1, 1)) }
                for accumulate in [false, true] {
                    var dst = before
                    moduli_transpose_f32(src, Int64(lds), Int64(rows), Int64(columns), &dst, Int64(ldd), accumulate ? 1 : 0, Int32(level))
                    var wrong = 0
                    for j in 0..<columns {
                        for i in 0..<ldd {
                            let expected =
                                i < rows ? (accumulate ? before[j * ldd + i] + src[i * lds + j] : src[i * lds + j]) : before[j * ldd + i]
                            if dst[j * ldd + i] != expected { wrong += 1 }
                        }
                    }
                    #expect(wrong == 0, "level \(level), \(rows) x \(columns), accumulate \(accumulate): \(wrong) entries wrong")
                }
            }
        }
    }
}
