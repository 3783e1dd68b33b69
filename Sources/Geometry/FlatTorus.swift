// The flat torus T^k = R^k / (side Z)^k as a moduli space.
// Reference: docs/method.md sections 2.1 (torus: k = 2, torus6: k = 6, side 10) and 7 (bug 1).
import Linalg

/// The flat torus of dimension k: points in [0, side)^k, each coordinate periodic with period `side`.
///
/// Distance: `d(a, b) = sqrt(sum_i r_i^2)` with `r_i = min(|a_i - b_i| mod side, side - that)`,
/// the true pairwise distance (not the authors' mis-paired `view`). The diameter is
/// `side / 2 * sqrt(k)`. Gradient: `r_i / d` with r_i signed (the nearest image); at the cut
/// locus |r_i| = side/2 either sign is a valid subgradient, and at a = b it is 0.
public struct FlatTorus: ModuliSpace {
    /// Number of periodic coordinates k.
    public let dimension: Int
    /// The period of every coordinate.
    public let side: Double

    /// The flat torus of the given dimension and side (paper: dimension 2 or 6, side 10).
    public init(dimension: Int, side: Double = 10) {
        precondition(dimension >= 1, "FlatTorus dimension must be at least 1, got \(dimension)")
        precondition(side > 0 && side.isFinite, "FlatTorus side must be positive and finite, got \(side)")
        self.dimension = dimension
        self.side = side
    }

    /// `torus` for k = 2, `torus<k>` otherwise (`torus6`).
    public var name: String { dimension == 2 ? "torus" : "torus\(dimension)" }
    /// k coordinates.
    public var coordinateCount: Int { dimension }

    /// Uniform in [0, side)^k.
    public func samplePoint(rng: inout SeededGenerator) -> [Double] {
        (0..<dimension).map { _ in rng.uniform(0, side) }
    }

    /// `sqrt(sum_i min(|a_i - b_i| mod side, side - that)^2)`.
    public func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        var s = 0.0
        for i in 0..<dimension {
            let r = GeometryMath.periodicDistance(a[i], b[i], period: side)
            s += r * r
        }
        return s.squareRoot()
    }

    /// `r_i / d` (signed nearest-image differences over the distance); 0 where d = 0.
    public func distanceGradient(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        var s = 0.0
        for i in 0..<dimension {
            let r = GeometryMath.signedDifference(a[i], b[i], period: side)
            gradient[i] = r
            s += r * r
        }
        let d = s.squareRoot()
        if d > 0 {
            for i in 0..<dimension { gradient[i] /= d }
        } else {
            for i in 0..<dimension { gradient[i] = 0 }
        }
    }

    /// Wraps every coordinate into [0, side).
    public func project(_ point: UnsafeMutablePointer<Double>) {
        for i in 0..<dimension { point[i] = GeometryMath.wrap(point[i], period: side) }
    }
}
