// The round sphere S^n as a moduli space: unit vectors in R^(n+1), distance = scale x angle.
// Reference: docs/method.md sections 2.1 (sphere S^2 scale 5, s3 S^3 scale 10), 2.3 and 7 (bugs 2, 3).
import Linalg

/// The sphere S^n: points are unit vectors in R^(n+1) (`sphere` = S^2 in R^3, `s3` = S^3 in R^4).
///
/// Distance: `d(u, v) = scale * atan2(|u ^ v|, u . v)` with the wedge norm
/// `|u ^ v|^2 = sum_{i<j} (u_i v_j - u_j v_i)^2`: exactly 0 for u = v, exactly `pi * scale` for
/// v = -u, no NaN anywhere (unlike `acos(u . v)`). The angle is scale-invariant, so
/// `distanceGradient` (taken in the ambient coordinates) is tangent to the sphere at `a`;
/// `project` re-normalises after an optimizer step.
public struct Sphere: ModuliSpace {
    /// Intrinsic dimension n of S^n (2 for `sphere`, 3 for `s3`).
    public let dimension: Int
    /// Radius: distances are `scale` times angles.
    public let scale: Double

    /// The sphere S^dimension of radius `scale` (paper: S^2 with scale 5, S^3 with scale 10).
    public init(dimension: Int, scale: Double) {
        precondition(dimension >= 1, "Sphere dimension must be at least 1, got \(dimension)")
        precondition(scale > 0 && scale.isFinite, "Sphere scale must be positive and finite, got \(scale)")
        self.dimension = dimension
        self.scale = scale
    }

    /// `sphere` for S^2, `s3` for S^3, `s<n>` otherwise.
    public var name: String { dimension == 2 ? "sphere" : "s\(dimension)" }
    /// dimension + 1 ambient coordinates.
    public var coordinateCount: Int { dimension + 1 }

    /// Uniform on the sphere: a standard normal vector, normalised.
    public func samplePoint(rng: inout SeededGenerator) -> [Double] {
        Sphere.uniformUnitVector(count: dimension + 1, rng: &rng)
    }

    /// `scale * atan2(|a ^ b|, a . b)`.
    public func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        scale * GeometryMath.angle(a, b, count: dimension + 1)
    }

    /// `-scale * z / (|z| |a|)` with `z = |a|^2 b - (a . b) a`; 0 where a = +-b (a subgradient).
    public func distanceGradient(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        GeometryMath.angleGradient(a, b, count: dimension + 1, scale: scale, into: gradient)
    }

    /// Re-normalises to unit length (the zero vector becomes (1, 0, ..., 0)).
    public func project(_ point: UnsafeMutablePointer<Double>) {
        Sphere.normalize(point, count: dimension + 1)
    }

    /// A uniform unit vector in R^count: normal draws divided by their norm (redrawn if ~0).
    static func uniformUnitVector(count: Int, rng: inout SeededGenerator) -> [Double] {
        while true {
            let v = (0..<count).map { _ in rng.normal() }
            let norm2 = v.reduce(0) { $0 + $1 * $1 }
            if norm2 > 1e-20 {
                let norm = norm2.squareRoot()
                return v.map { $0 / norm }
            }
        }
    }

    /// x = x / |x| in place; a zero (or non-finite) vector becomes the first basis vector.
    static func normalize(_ x: UnsafeMutablePointer<Double>, count: Int) {
        var norm2 = 0.0
        for i in 0..<count { norm2 += x[i] * x[i] }
        let norm = norm2.squareRoot()
        if norm > 0 && norm.isFinite {
            for i in 0..<count { x[i] /= norm }
        } else {
            for i in 0..<count { x[i] = i == 0 ? 1 : 0 }
        }
    }
}
