// Max-min (farthest point) landmark sampling of a finite metric space: a small subset that covers
// the cloud. Reference: de Silva and Carlsson, "Topological estimation using witness complexes" (2004).

/// Landmarks chosen by max-min sampling, and how well they cover the space.
public struct LandmarkSelection: Equatable, Sendable {
    /// The chosen points' indices, in the order chosen (the first is the start).
    public var indices: [Int]
    /// `coveringRadii[k]`: the largest distance from any point to its nearest of the first k + 1
    /// landmarks (non-increasing in k).
    public var coveringRadii: [Double]
    /// The covering radius of all the landmarks: every point lies within it of some landmark.
    public var coveringRadius: Double { coveringRadii.last ?? 0 }
}

/// Max-min sampling: start at one point, then add, again and again, the point farthest from the
/// landmarks chosen so far (the smallest index among equally far ones), so the choice is
/// deterministic. Costs `count * pointCount` distance evaluations and `pointCount` Doubles.
public enum Landmarks {
    /// `count` landmarks of the `pointCount` points of a metric space given by `distance` (all
    /// points when `count >= pointCount`), starting at `start`. Errors on an empty space, a count
    /// below 1, a start out of range, and a negative or NaN distance.
    public static func maxMin(
        count: Int, of pointCount: Int, start: Int = 0,
        distance: (Int, Int) -> Double
    ) throws -> LandmarkSelection {
        guard pointCount >= 1 else { throw TopologyError("Landmarks of an empty point cloud: give at least one point.") }
        guard count >= 1 else { throw TopologyError("The number of landmarks must be at least 1, got \(count).") }
        guard start >= 0 && start < pointCount else {
            throw TopologyError("The first landmark must be one of the \(pointCount) points (0..<\(pointCount)), got \(start).")
        }
        let wanted = min(count, pointCount)
        var nearest = [Double](repeating: .infinity, count: pointCount)
        var indices: [Int] = [], radii: [Double] = []
        indices.reserveCapacity(wanted); radii.reserveCapacity(wanted)
        var next = start
        while true {
            indices.append(next)
            nearest[next] = 0
            var farthest = -1, radius = 0.0
            for i in 0..<pointCount {
                let d = i == next ? 0 : distance(next, i)
                guard d >= 0 else {
                    throw TopologyError("The distance between points \(next) and \(i) is \(d): distances must be non-negative numbers.")
                }
                if d < nearest[i] { nearest[i] = d }
                if nearest[i] > radius { radius = nearest[i]; farthest = i }
            }
            radii.append(radius)
            if indices.count == wanted || farthest < 0 { break }
            next = farthest
        }
        // A space with fewer distinct points than `wanted` stops covered (radius 0); the rest of the
        // landmarks are the remaining points in index order, as max-min picks among ties.
        if indices.count < wanted {
            var chosen = [Bool](repeating: false, count: pointCount)
            for i in indices { chosen[i] = true }
            for i in 0..<pointCount where !chosen[i] && indices.count < wanted { indices.append(i); radii.append(0) }
        }
        return LandmarkSelection(indices: indices, coveringRadii: radii)
    }

    /// `count` landmarks of a Euclidean point cloud (rows are points), starting at `start`. Errors
    /// on an empty cloud, rows of different lengths and coordinates that are not finite.
    public static func maxMin(_ points: [[Double]], count: Int, start: Int = 0) throws -> LandmarkSelection {
        try PointCloud.validate(points)
        return try maxMin(count: count, of: points.count, start: start) { i, j in
            PointCloud.euclidean(points[i], points[j])
        }
    }
}

/// Checks and distances of point clouds given as rows of coordinates.
public enum PointCloud {
    /// Errors, naming the first offending row, on an empty cloud, rows of different lengths (or of
    /// no coordinates), and coordinates that are NaN or infinite.
    public static func validate(_ points: [[Double]]) throws {
        guard let first = points.first else { throw TopologyError("The point cloud is empty: give at least one point.") }
        guard !first.isEmpty else { throw TopologyError("The points have no coordinates: each row needs at least one.") }
        for (i, p) in points.enumerated() {
            guard p.count == first.count else {
                throw TopologyError(
                    "Point \(i) has \(p.count) coordinates and point 0 has \(first.count): every point needs the same number.")
            }
            if let c = p.firstIndex(where: { !$0.isFinite }) {
                throw TopologyError(
                    "Point \(i) has a coordinate that is not a finite number (\(p[c]) at coordinate \(c)): remove or fix it.")
            }
        }
    }

    /// The Euclidean distance between two points of the same length.
    @inlinable public static func euclidean(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for k in 0..<min(a.count, b.count) { let d = a[k] - b[k]; s += d * d }
        return s.squareRoot()
    }
}
