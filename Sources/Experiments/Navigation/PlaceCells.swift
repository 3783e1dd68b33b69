// Place cells for the path-integration task (docs/method.md section 4): difference-of-softmaxes target
// codes for positions, and the decoding of predicted activity back to a position (top-3 centres).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Linalg

/// A population of place cells with centres in the box of `TrajectorySimulator`.
///
/// The code of a position x over the cells c is, as written in docs/method.md section 4,
/// ```
/// a = softmax_c(-|x - c|^2 / (2 s^2)) - softmax_c(-|x - c|^2 / (2 * 2 * s^2))
/// a -= min_c a;  a /= sum_c a
/// ```
/// a centre Gaussian of variance s^2 minus a surround Gaussian of variance `surroundScale * s^2`
/// = 2 s^2 (width sqrt(2) s). Every code is non-negative, sums to 1 and peaks at the nearest centre.
///
/// Configurations are validated by the throwing initializers; a matrix of the wrong shape passed
/// to the batched functions is a programmer error and stops at a precondition naming the shapes.
public struct PlaceCells: Sendable {
    /// Number of cells in the paper (512).
    public static let paperCount = 512
    /// Width s of the centre Gaussian in metres in the paper (0.12 m).
    public static let paperWidth = 0.12
    /// Variance of the surround Gaussian over the centre's (2): the surround softmax divides by
    /// `2 * surroundScale * s^2 = 4 s^2`.
    public static let surroundScale = 2.0
    /// Number of most active cells whose centres are averaged by `decode(_:)` (3).
    public static let decodingTopCount = 3

    /// `N x 2`: the centre of cell n is row n, in metres.
    public let centres: Matrix<Float>
    /// Width s of the centre Gaussian in metres.
    public let width: Double
    /// Centre coordinates, one array per axis, for the vectorized code.
    private let centreX: [Float], centreY: [Float]

    /// Number of cells N.
    public var count: Int { centres.rows }

    /// Cells at the given centres (`N x 2`, N >= 3, finite) with width `width` (finite, > 0).
    /// Throws an `ExperimentError` naming the problem otherwise.
    public init(centres: Matrix<Float>, width: Double) throws {
        guard centres.columns == 2 else {
            throw ExperimentError("Place-cell centres need 2 columns (x, y), got \(centres.columns)")
        }
        guard centres.rows >= Self.decodingTopCount else {
            throw ExperimentError("Place cells: need at least \(Self.decodingTopCount) cells to decode a position, got \(centres.rows)")
        }
        guard centres.scalars.allSatisfy({ $0.isFinite }) else {
            throw ExperimentError("Place-cell centres must be finite numbers")
        }
        guard width.isFinite, width > 0 else {
            throw ExperimentError("Place-cell width must be a positive number of metres, got \(width)")
        }
        self.centres = centres
        self.width = width
        centreX = (0..<centres.rows).map { centres[$0, 0] }
        centreY = (0..<centres.rows).map { centres[$0, 1] }
    }

    /// `count` cells (>= 3) with centres uniform in the box of `TrajectorySimulator` and width
    /// `width` (> 0). Draw order: cell by cell, `uniform(-halfSide, halfSide)` for x, then for y.
    public init(
        count: Int = PlaceCells.paperCount, width: Double = PlaceCells.paperWidth,
        rng: inout SeededGenerator
    ) throws {
        guard count >= Self.decodingTopCount else {
            throw ExperimentError("Place cells: need at least \(Self.decodingTopCount) cells to decode a position, got \(count)")
        }
        let h = TrajectorySimulator.halfSide
        var scalars = [Float]()
        scalars.reserveCapacity(2 * count)
        for _ in 0..<count {
            scalars.append(Float(rng.uniform(-h, h)))
            scalars.append(Float(rng.uniform(-h, h)))
        }
        try self.init(centres: Matrix(rows: count, columns: 2, scalars: scalars), width: width)
    }

    /// As `init(count:width:rng:)` with a generator started at `seed`.
    public init(count: Int = PlaceCells.paperCount, width: Double = PlaceCells.paperWidth, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        try self.init(count: count, width: width, rng: &rng)
    }

    // MARK: Codes

    /// `P x N`: the code of every row of `positions` (`P x 2`, metres).
    ///
    /// Rows are split over the worker pool (`Parallel`, sized by `--threads`); every row is computed
    /// by one thread alone, so the result does not depend on the thread count.
    public func codes(for positions: Matrix<Float>) -> Matrix<Float> {
        precondition(positions.columns == 2, "Positions need 2 columns (x, y), got \(positions.columns)")
        return Matrix(rows: positions.rows, columns: count) { out in
            positions.withUnsafeBufferPointer { p in writeCodes(p.baseAddress!, rows: positions.rows, into: out) }
        }
    }

    /// Writes the codes of `positions` (`P x 2`) into `codes` (`P x N`, reused across calls so that
    /// a training step allocates nothing), on the worker pool as `codes(for:)`.
    public func writeCodes(for positions: Matrix<Float>, into codes: inout Matrix<Float>) {
        precondition(positions.columns == 2, "Positions need 2 columns (x, y), got \(positions.columns)")
        precondition(
            codes.rows == positions.rows && codes.columns == count,
            "Codes must be \(positions.rows) x \(count), got \(codes.rows) x \(codes.columns)")
        guard positions.rows > 0 else { return }
        codes.withUnsafeMutableBufferPointer { out in
            positions.withUnsafeBufferPointer { p in writeCodes(p.baseAddress!, rows: positions.rows, into: out.baseAddress!) }
        }
    }

    /// Rows per chunk of the worker pool: a row costs about 3 N exponentials and sums (N = 512: a
    /// few microseconds), so 16 rows outweigh the pool's round trip several times.
    static let minimumRowsPerChunk = 16

    /// Splits the rows over the worker pool (each row written by one thread).
    private func writeCodes(_ positions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let n = count
        Parallel.forEachChunk(count: rows, minimumChunk: Self.minimumRowsPerChunk) { r in
            writeCodeRows(positions + 2 * r.lowerBound, rows: r.count, into: out + r.lowerBound * n)
        }
    }

    @inline(__always)
    private static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The code of `rows` positions (x, y pairs at `positions`) into `rows x N` at `out`.
    ///
    /// Per row, with `u_c = |x - c|^2 - min_c |x - c|^2 >= 0` (the max shift of both softmaxes,
    /// whose arguments differ only by the factor 1/2):
    /// 1. `u_c` from `(x - cx)^2 + (y - cy)^2` (direct differences: accurate for near cells);
    /// 2. `e2_c = exp(-u_c / (4 s^2))` (vectorized exponential) and `e1_c = exp(-u_c / (2 s^2))
    ///    = e2_c^2` by squaring; `e2_c < 2^-60` gives `e1_c = 0` (it would be below 2^-120,
    ///    against a sum of at least 1, and its subnormal squares would be slow). The sums
    ///    `Z1 = sum e1` and `D = Z2 - Z1 = sum (e2 - e1)` (terms >= 0, so no cancellation);
    /// 3. the difference of softmaxes times Z2 (the code does not depend on a common factor):
    ///    `a_c = Z2 (e1_c / Z1 - e2_c / Z2) = (e1_c - e2_c) + e1_c D / Z1`. This form keeps the
    ///    nearest cell's `a = D / Z1` accurate when its surround is nearly empty (small widths, few
    ///    cells), where `1/Z1 - 1/Z2` would cancel to 0; its minimum m and its sum S;
    /// 4. `code_c = (a_c - m) / (S - N m)`, scaled in Double when `1 / (S - N m)` exceeds Float's
    ///    range. A row whose `a` is all 0 gets the uniform code 1/N: every centre equally far, or
    ///    every other centre so far from the nearest (beyond about 18.6 s) that its surround term
    ///    underflows.
    /// The sums run over 8 Float lanes (at most N/8 terms each) and are combined in Double.
    private func writeCodeRows(_ positions: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let n = count
        let vectorEnd = n - n % 8
        let k2 = Float(1 / (2 * Self.surroundScale * width * width))
        let tiny: Float = 0x1p-60
        centreX.withUnsafeBufferPointer { cxb in
            centreY.withUnsafeBufferPointer { cyb in
                let cx = cxb.baseAddress!, cy = cyb.baseAddress!
                for r in 0..<rows {
                    let x = positions[2 * r], y = positions[2 * r + 1]
                    let o = out + r * n
                    // 1. squared distances and their minimum
                    let xv = SIMD8<Float>(repeating: x), yv = SIMD8<Float>(repeating: y)
                    var minv = SIMD8<Float>(repeating: .infinity)
                    var j = 0
                    while j < vectorEnd {
                        let dx = xv - Self.load8(cx + j), dy = yv - Self.load8(cy + j)
                        let d2 = dx * dx + dy * dy
                        Self.store8(d2, o + j)
                        minv.replace(with: d2, where: d2 .< minv)
                        j += 8
                    }
                    var dmin = minv.min()
                    while j < n {
                        let dx = x - cx[j], dy = y - cy[j]
                        let d2 = dx * dx + dy * dy
                        o[j] = d2
                        if d2 < dmin { dmin = d2 }
                        j += 1
                    }
                    // 2. exponentials, Z1 and D = Z2 - Z1
                    let shift = SIMD8<Float>(repeating: dmin), scale = SIMD8<Float>(repeating: -k2)
                    var z1v = SIMD8<Float>(), dv = SIMD8<Float>()
                    j = 0
                    while j < vectorEnd {
                        let e2 = Float.exponential((Self.load8(o + j) - shift) * scale)
                        let m = e2.replacing(with: 0, where: e2 .< tiny)
                        let e1 = m * m
                        z1v += e1
                        dv += e2 - e1
                        Self.store8(e2, o + j)
                        j += 8
                    }
                    var z1 = Double(z1v.sum()), d = Double(dv.sum())
                    while j < n {
                        let e2 = expf((o[j] - dmin) * -k2)
                        let m = e2 < tiny ? 0 : e2
                        let e1 = m * m
                        z1 += Double(e1)
                        d += Double(e2 - e1)
                        o[j] = e2
                        j += 1
                    }
                    // 3. the difference of softmaxes (times Z2), its minimum and sum
                    let q = Float(d / z1)
                    let qv = SIMD8<Float>(repeating: q)
                    minv = SIMD8<Float>(repeating: .infinity)
                    var sumv = SIMD8<Float>()
                    j = 0
                    while j < vectorEnd {
                        let e2 = Self.load8(o + j)
                        let m = e2.replacing(with: 0, where: e2 .< tiny)
                        let e1 = m * m
                        let a = (e1 - e2) + e1 * qv
                        Self.store8(a, o + j)
                        minv.replace(with: a, where: a .< minv)
                        sumv += a
                        j += 8
                    }
                    var amin = minv.min()
                    var sum = Double(sumv.sum())
                    while j < n {
                        let e2 = o[j]
                        let m = e2 < tiny ? 0 : e2
                        let e1 = m * m
                        let a = (e1 - e2) + e1 * q
                        o[j] = a
                        if a < amin { amin = a }
                        sum += Double(a)
                        j += 1
                    }
                    // 4. shift to non-negative and normalize
                    let total = sum - Double(n) * Double(amin)
                    guard total > 0 else {
                        for c in 0..<n { o[c] = 1 / Float(n) }
                        continue
                    }
                    let inverse = Float(1 / total)
                    guard inverse.isFinite else {
                        for c in 0..<n { o[c] = Float((Double(o[c]) - Double(amin)) / total) }
                        continue
                    }
                    let minAll = SIMD8<Float>(repeating: amin), inverseAll = SIMD8<Float>(repeating: inverse)
                    j = 0
                    while j < vectorEnd {
                        Self.store8((Self.load8(o + j) - minAll) * inverseAll, o + j)
                        j += 8
                    }
                    while j < n { o[j] = (o[j] - amin) * inverse; j += 1 }
                }
            }
        }
    }

    // MARK: Decoding

    /// `P x 2`: the position estimate of every row of `activity` (`P x N` logits or probabilities):
    /// the mean of the centres of the `decodingTopCount` (3) most active cells. Ties go to the
    /// lower cell index; NaN entries are never chosen, and a row with fewer than 3 non-NaN entries
    /// averages those it has (NaN when it has none).
    public func decode(_ activity: Matrix<Float>) -> Matrix<Float> {
        precondition(activity.columns == count, "Activity needs \(count) columns (one per cell), got \(activity.columns)")
        let n = count
        var estimates = Matrix<Float>(rows: activity.rows, columns: 2)
        guard activity.rows > 0 else { return estimates }
        activity.withUnsafeBufferPointer { ab in
            estimates.withUnsafeMutableBufferPointer { eb in
                for r in 0..<activity.rows {
                    let row = ab.baseAddress! + r * n
                    // The three best (value, index), best first; index -1 marks an empty slot.
                    var v0: Float = 0, v1: Float = 0, v2: Float = 0
                    var i0 = -1, i1 = -1, i2 = -1
                    func insert(_ v: Float, _ c: Int) {
                        if i0 < 0 || v > v0 {
                            (v2, i2) = (v1, i1); (v1, i1) = (v0, i0); (v0, i0) = (v, c)
                        } else if i1 < 0 || v > v1 {
                            (v2, i2) = (v1, i1); (v1, i1) = (v, c)
                        } else if i2 < 0 || v > v2 {
                            (v2, i2) = (v, c)
                        }
                    }
                    // The first three non-NaN entries fill the slots; after that only an entry
                    // above the third best (never NaN) can enter, tested 8 at a time.
                    var c = 0
                    while c < n && i2 < 0 {
                        if !row[c].isNaN { insert(row[c], c) }
                        c += 1
                    }
                    while c + 8 <= n {
                        if any(Self.load8(row + c) .> SIMD8<Float>(repeating: v2)) {
                            for k in c..<(c + 8) where row[k] > v2 { insert(row[k], k) }
                        }
                        c += 8
                    }
                    while c < n {
                        if row[c] > v2 { insert(row[c], c) }
                        c += 1
                    }
                    var sx = 0.0, sy = 0.0, chosen = 0
                    for i in 0..<Self.decodingTopCount {
                        let cell = i == 0 ? i0 : (i == 1 ? i1 : i2)
                        guard cell >= 0 else { break }
                        sx += Double(centreX[cell]); sy += Double(centreY[cell]); chosen += 1
                    }
                    eb[2 * r] = chosen > 0 ? Float(sx / Double(chosen)) : .nan
                    eb[2 * r + 1] = chosen > 0 ? Float(sy / Double(chosen)) : .nan
                }
            }
        }
        return estimates
    }

    /// The decoding error in centimetres: the mean over rows of the Euclidean distance between
    /// `estimates` and `positions` (both `P x 2` in metres, P >= 1), times 100. Accumulated in Double.
    public static func decodingError(estimates: Matrix<Float>, positions: Matrix<Float>) -> Double {
        precondition(
            estimates.columns == 2 && positions.columns == 2 && estimates.rows == positions.rows,
            """
            Estimates and positions must both be P x 2, got \(estimates.rows) x \(estimates.columns) and \(positions.rows) x \
            \(positions.columns)
            """
        )
        precondition(positions.rows > 0, "The decoding error needs at least one position")
        var total = 0.0
        for r in 0..<positions.rows {
            let dx = Double(estimates[r, 0]) - Double(positions[r, 0])
            let dy = Double(estimates[r, 1]) - Double(positions[r, 1])
            total += (dx * dx + dy * dy).squareRoot()
        }
        return 100 * total / Double(positions.rows)
    }

    /// The decoding error in centimetres of predicted `activity` (`P x N`) against the true
    /// `positions` (`P x 2`): `decodingError(estimates: decode(activity), positions:)`.
    public func decodingError(activity: Matrix<Float>, positions: Matrix<Float>) -> Double {
        Self.decodingError(estimates: decode(activity), positions: positions)
    }
}
