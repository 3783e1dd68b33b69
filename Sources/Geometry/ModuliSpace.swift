// The moduli-space abstraction: a metric space with uniform sampling, pairwise distances and the
// gradient of the distance. Reference: docs/method.md section 2.1.
import Linalg

/// A space on which hidden neurons get positions (circle, torus, Klein bottle, sphere, ...).
///
/// Points are stored as `coordinateCount` Doubles. `distance` is the true geodesic distance,
/// exactly 0 for identical points.
public protocol ModuliSpace: Sendable {
    /// Stable name used on the command line and in run records (`torus`, `klein`, `sphere`, ...).
    var name: String { get }
    /// Number of coordinates of a stored point.
    var coordinateCount: Int { get }
    /// A point drawn from the space's sampling distribution (uniform for compact spaces).
    func samplePoint(rng: inout SeededGenerator) -> [Double]
    /// Geodesic distance between two points of `coordinateCount` coordinates each.
    func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double
    /// d distance(a, b) / d a, written into `gradient` (`coordinateCount` values); 0 where a == b.
    func distanceGradient(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, into gradient: UnsafeMutablePointer<Double>)
    /// Maps a point back onto the space after an optimizer step (wrap a torus, normalise a sphere).
    func project(_ point: UnsafeMutablePointer<Double>)

    /// Distances from one point to many: `out[j] = distance(a, points + j * stride)` for j in 0..<count.
    ///
    /// The batched form lets a caller holding `any ModuliSpace` pay one dynamic dispatch per row
    /// instead of one per pair. Results are bitwise equal to calling `distance` pair by pair.
    func distances(
        from a: UnsafePointer<Double>, to points: UnsafePointer<Double>, stride: Int, count: Int,
        into out: UnsafeMutablePointer<Double>)
    /// Adds `sum_j weights[j] * d distance(a, p_j) / d a` into `gradient`, where
    /// `p_j = points + j * stride` for j in 0..<count (the backward of `distances(from:...)`).
    func accumulateDistanceGradients(
        from a: UnsafePointer<Double>, to points: UnsafePointer<Double>, stride: Int,
        count: Int, weights: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>)
}

extension ModuliSpace {
    /// Default batched distances: a loop over `distance` (specialized per conforming type).
    public func distances(
        from a: UnsafePointer<Double>, to points: UnsafePointer<Double>, stride: Int, count: Int,
        into out: UnsafeMutablePointer<Double>
    ) {
        for j in 0..<count { out[j] = distance(a, points + j * stride) }
    }

    /// Default batched gradient: a loop over `distanceGradient`, skipping zero weights.
    public func accumulateDistanceGradients(
        from a: UnsafePointer<Double>, to points: UnsafePointer<Double>, stride: Int,
        count: Int, weights: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        let k = coordinateCount
        withUnsafeTemporaryAllocation(of: Double.self, capacity: k) { g in
            let gp = g.baseAddress!
            for j in 0..<count where weights[j] != 0 {
                distanceGradient(a, points + j * stride, into: gp)
                let w = weights[j]
                for c in 0..<k { gradient[c] += w * gp[c] }
            }
        }
    }

    /// Distance between two points given as arrays of `coordinateCount` values.
    public func distance(_ a: [Double], _ b: [Double]) -> Double {
        precondition(
            a.count == coordinateCount && b.count == coordinateCount,
            "\(name): points need \(coordinateCount) coordinates, got \(a.count) and \(b.count)")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in distance(pa.baseAddress!, pb.baseAddress!) }
        }
    }

    /// d distance(a, b) / d a for points given as arrays.
    public func distanceGradient(_ a: [Double], _ b: [Double]) -> [Double] {
        precondition(
            a.count == coordinateCount && b.count == coordinateCount,
            "\(name): points need \(coordinateCount) coordinates, got \(a.count) and \(b.count)")
        var g = [Double](repeating: 0, count: coordinateCount)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                g.withUnsafeMutableBufferPointer { pg in distanceGradient(pa.baseAddress!, pb.baseAddress!, into: pg.baseAddress!) }
            }
        }
        return g
    }

    /// The point mapped back onto the space (`project` on a copy).
    public func projected(_ point: [Double]) -> [Double] {
        precondition(
            point.count == coordinateCount,
            "\(name): points need \(coordinateCount) coordinates, got \(point.count)")
        var p = point
        p.withUnsafeMutableBufferPointer { project($0.baseAddress!) }
        return p
    }
}
