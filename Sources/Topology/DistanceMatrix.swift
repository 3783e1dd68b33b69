// A finite metric space stored as the strict lower triangle of its distance matrix, in the order of
// the combinatorial number system for edges (entry (i, j), i > j, at i(i-1)/2 + j), as Ripser does.
import Foundation

/// A finite metric space: `count` points and their pairwise distances, stored compactly as the
/// strict lower triangle, entry (i, j) with i > j at position `i(i-1)/2 + j` (the edge's index in
/// the combinatorial number system). The diagonal is zero.
public struct DistanceMatrix: Sendable {
    /// The number of points.
    public let count: Int
    /// The strict lower triangle, row by row: `count(count-1)/2` distances.
    let lower: [Double]

    /// The Euclidean distances `d(i, j) = sqrt(sum_k (x_ik - x_jk)^2)` of `points` in R^d: at least
    /// one point, every row of the same length d >= 1, every coordinate finite.
    public init(points: [[Double]]) throws {
        guard let first = points.first else {
            throw TopologyError("the point cloud is empty: give at least one point")
        }
        let dimension = first.count
        guard dimension >= 1 else {
            throw TopologyError("point 0 has no coordinates: every point needs at least one coordinate")
        }
        for (i, p) in points.enumerated() {
            guard p.count == dimension else {
                throw TopologyError(
                    """
                    ragged point cloud: point \(i) has \(p.count) coordinates where point 0 has \(dimension); give every point the \
                    same number of coordinates
                    """
                )
            }
            for (k, x) in p.enumerated() where !x.isFinite {
                throw TopologyError(
                    """
                    point \(i) has a non-finite coordinate (\(x) at coordinate \(k)): NaN or infinite coordinates have no distances; \
                    remove or fix the point
                    """
                )
            }
        }
        let n = points.count
        let size = try DistanceMatrix.triangleSize(n)
        var lower = [Double](repeating: 0, count: size)
        var t = 0
        for i in 1..<max(n, 1) {
            let a = points[i]
            for j in 0..<i {
                let b = points[j]
                var s = 0.0
                for k in 0..<dimension {
                    let diff = a[k] - b[k]
                    s += diff * diff
                }
                let d = s.squareRoot()
                guard d.isFinite else {
                    throw TopologyError(
                        "the distance between points \(i) and \(j) overflows a Double: scale the coordinates down")
                }
                lower[t] = d
                t += 1
            }
        }
        self.count = n
        self.lower = lower
    }

    /// A full `count` x `count` matrix given row-major in `entries` (`count * count` of them): square,
    /// finite, non-negative, zero diagonal (within 1e-9 of the largest entry) and symmetric within
    /// 1e-9 relative (`|a_ij - a_ji| <= 1e-9 max(a_ij, a_ji)`); the lower triangle is kept.
    public init(count: Int, entries: [Double]) throws {
        guard count >= 1 else {
            throw TopologyError(
                count == 0
                    ? "the distance matrix is empty: give at least one point"
                    : "the point count \(count) is negative: give at least one point")
        }
        let (square, overflow) = count.multipliedReportingOverflow(by: count)
        guard !overflow, entries.count == square else {
            throw TopologyError(
                """
                the distance matrix is not square: \(entries.count) entries for \(count) points, where a \(count) x \(count) matrix \
                has \(overflow ? "more than Int.max" : String(square)); give all count * count entries, row-major
                """
            )
        }
        try self.init(count: count) { i, j in entries[i * count + j] }
    }

    /// The distances `distance(i, j)` for `i, j` in `0..<count`, validated as
    /// `init(count:entries:)` validates a matrix (finite, non-negative, zero diagonal, symmetric).
    public init(count: Int, distance: (Int, Int) -> Double) throws {
        guard count >= 1 else {
            throw TopologyError(
                count == 0
                    ? "the distance matrix is empty: give at least one point"
                    : "the point count \(count) is negative: give at least one point")
        }
        let n = count
        let size = try DistanceMatrix.triangleSize(n)
        var lower = [Double](repeating: 0, count: size)
        var largest = 0.0
        var t = 0
        for i in 0..<n {
            for j in 0..<i {
                let a = distance(i, j), b = distance(j, i)
                try DistanceMatrix.checkEntry(a, i, j)
                try DistanceMatrix.checkEntry(b, j, i)
                guard abs(a - b) <= 1e-9 * max(a, b) else {
                    throw TopologyError(
                        """
                        the distance matrix is not symmetric: entry (\(i), \(j)) is \(a) but entry (\(j), \(i)) is \(b); give a \
                        symmetric matrix (d(i, j) = d(j, i))
                        """
                    )
                }
                lower[t] = a
                largest = max(largest, a)
                t += 1
            }
        }
        for i in 0..<n {
            let v = distance(i, i)
            guard v.isFinite, abs(v) <= 1e-9 * largest else {
                throw TopologyError(
                    """
                    diagonal entry (\(i), \(i)) is \(v), not zero: a point is at distance 0 from itself; give a matrix with a zero \
                    diagonal
                    """
                )
            }
        }
        self.count = n
        self.lower = lower
    }

    /// The distance between points `i` and `j` (0 when `i == j`).
    public subscript(i: Int, j: Int) -> Double {
        precondition(
            i >= 0 && i < count && j >= 0 && j < count,
            "point index (\(i), \(j)) out of range for \(count) points")
        if i == j { return 0 }
        return i > j ? lower[i * (i - 1) / 2 + j] : lower[j * (j - 1) / 2 + i]
    }

    /// Throws unless distance (`row`, `column`) `v` is finite and non-negative.
    private static func checkEntry(_ v: Double, _ row: Int, _ column: Int) throws {
        guard v.isFinite else {
            throw TopologyError(
                "distance (\(row), \(column)) is not finite (\(v)): every distance must be a finite number")
        }
        guard v >= 0 else {
            throw TopologyError(
                "distance (\(row), \(column)) is negative (\(v)): distances must be >= 0")
        }
    }

    /// `n(n-1)/2`, the size of the strict lower triangle, or an error when it overflows.
    static func triangleSize(_ n: Int) throws -> Int {
        let (product, overflow) = n.multipliedReportingOverflow(by: n - 1)
        guard !overflow else {
            throw TopologyError(
                "\(n) points have more pairwise distances than can be stored: use fewer points (landmarks)")
        }
        return product / 2
    }
}
