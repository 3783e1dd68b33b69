// Positions of neurons on a moduli space, and their pairwise distance matrices (with backward).
// Reference: docs/method.md sections 2 (D[i][j] = d_M(x_i, x_j)), 2.2 (changeembed) and 2.3 (learned).
import Linalg

/// N neurons placed on a moduli space: row i of `positions` is the point x_i.
///
/// `distanceMatrix()` is `D[i][j] = d_M(x_i, x_j)`: N x N, symmetric, exactly 0 on the diagonal,
/// bitwise equal to calling `space.distance` pair by pair.
public struct NeuronEmbedding: Sendable {
    /// The space the positions live on.
    public let space: any ModuliSpace
    /// N x coordinateCount positions, one row per neuron.
    public var positions: Matrix<Double>

    /// An embedding over given positions (`positions.columns` must equal `space.coordinateCount`).
    public init(space: any ModuliSpace, positions: Matrix<Double>) {
        precondition(
            positions.columns == space.coordinateCount,
            "\(space.name) points have \(space.coordinateCount) coordinates, positions have \(positions.columns) columns")
        self.space = space
        self.positions = positions
    }

    /// Number of neurons N.
    public var count: Int { positions.rows }

    /// Position of neuron i as an array.
    public func position(_ i: Int) -> [Double] { positions.row(i) }

    /// `count` points drawn one after another from `space.samplePoint(rng:)`.
    public static func sample(space: any ModuliSpace, count: Int, rng: inout SeededGenerator) -> NeuronEmbedding {
        precondition(count >= 0, "NeuronEmbedding.sample needs a non-negative count, got \(count)")
        var scalars = [Double]()
        scalars.reserveCapacity(count * space.coordinateCount)
        for _ in 0..<count { scalars += space.samplePoint(rng: &rng) }
        return NeuronEmbedding(space: space, positions: Matrix(rows: count, columns: space.coordinateCount, scalars: scalars))
    }

    /// Maps every position back onto the space (after an optimizer step on learned positions).
    public mutating func project() {
        let k = space.coordinateCount, n = count, s = space
        positions.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { s.project(p.baseAddress! + i * k) }
        }
    }

    /// `D[i][j] = d(x_i, x_j)`, N x N: the upper triangle row by row through the space's batched
    /// `distances`, then mirrored in tiles; the diagonal is exactly 0.
    public func distanceMatrix() -> Matrix<Double> {
        let n = count, k = space.coordinateCount, s = space
        var d = Matrix<Double>(rows: n, columns: n)
        positions.withUnsafeBufferPointer { pp in
            d.withUnsafeMutableBufferPointer { pd in
                let p = pp.baseAddress!, out = pd.baseAddress!
                for i in 0..<n where i + 1 < n {
                    s.distances(
                        from: p + i * k, to: p + (i + 1) * k, stride: k, count: n - i - 1,
                        into: out + i * n + i + 1)
                }
                // Lower triangle = transpose of the upper one, tile by tile for cache locality.
                let tile = 32
                for ib in stride(from: 0, to: n, by: tile) {
                    for jb in stride(from: 0, through: ib, by: tile) {
                        for i in ib..<Swift.min(ib + tile, n) {
                            for j in jb..<Swift.min(jb + tile, i) { out[i * n + j] = out[j * n + i] }
                        }
                    }
                }
            }
        }
        return d
    }

    /// `D[i][j] = d(x_i, y_j)` with rows from `self` and columns from `other` (the paper's
    /// `changeembed`: separate positions for rows and columns). Both must share the space's
    /// coordinate layout.
    public func distances(to other: NeuronEmbedding) -> Matrix<Double> {
        precondition(
            other.space.coordinateCount == space.coordinateCount,
            "distances(to:): coordinate counts differ (\(space.coordinateCount) vs \(other.space.coordinateCount))")
        let m = count, n = other.count, k = space.coordinateCount, s = space
        var d = Matrix<Double>(rows: m, columns: n)
        positions.withUnsafeBufferPointer { pa in
            other.positions.withUnsafeBufferPointer { pb in
                d.withUnsafeMutableBufferPointer { pd in
                    guard n > 0 else { return }
                    for i in 0..<m {
                        s.distances(
                            from: pa.baseAddress! + i * k, to: pb.baseAddress!, stride: k, count: n,
                            into: pd.baseAddress! + i * n)
                    }
                }
            }
        }
        return d
    }

    /// Backward of `distanceMatrix()`: adds `dL/dx_i = sum_j (G_ij + G_ji) * d d(x_i, x_j) / d x_i`
    /// into `dPositions` (N x coordinateCount), where `G = dDistances` = dL/dD (N x N).
    ///
    /// The diagonal contributes nothing (subgradient 0 at a == b), so no NaN ever appears.
    public func distanceMatrixBackward(_ dDistances: Matrix<Double>, into dPositions: inout Matrix<Double>) {
        let n = count, k = space.coordinateCount, s = space
        precondition(
            dDistances.rows == n && dDistances.columns == n,
            "dDistances must be \(n) x \(n), got \(dDistances.rows) x \(dDistances.columns)")
        precondition(
            dPositions.rows == n && dPositions.columns == k,
            "dPositions must be \(n) x \(k), got \(dPositions.rows) x \(dPositions.columns)")
        guard n > 0 else { return }
        var weights = [Double](repeating: 0, count: n)
        positions.withUnsafeBufferPointer { pp in
            dDistances.withUnsafeBufferPointer { pg in
                dPositions.withUnsafeMutableBufferPointer { pdp in
                    weights.withUnsafeMutableBufferPointer { pw in
                        let p = pp.baseAddress!, g = pg.baseAddress!, w = pw.baseAddress!
                        for i in 0..<n {
                            for j in 0..<n { w[j] = g[i * n + j] + g[j * n + i] }
                            w[i] = 0
                            s.accumulateDistanceGradients(
                                from: p + i * k, to: p, stride: k, count: n, weights: w,
                                into: pdp.baseAddress! + i * k)
                        }
                    }
                }
            }
        }
    }
}
