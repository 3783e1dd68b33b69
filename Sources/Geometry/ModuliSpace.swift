// The moduli-space abstraction: a metric space with uniform sampling, pairwise distances and the
// gradient of the distance. Reference: PAPER.md section 2.1.
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
}
