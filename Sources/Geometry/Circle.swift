// The circle S^1 as a moduli space: unit vectors in R^2, distance = scale x geodesic angle.
// Reference: docs/method.md section 2.1 (circle, scale 5, circumference 10 pi).
import Linalg

/// The circle: points are unit vectors (cos t, sin t) in R^2.
///
/// Distance: `d(u, v) = scale * atan2(|u_0 v_1 - u_1 v_0|, u . v)`, in [0, pi * scale]; the
/// circumference is `2 pi scale` (10 pi for the paper's scale 5). The angle is scale-invariant, so
/// the gradient with respect to the ambient coordinates of `a` is tangent to the circle.
public struct Circle: ModuliSpace {
    /// Radius of the circle: distances are `scale` times angles.
    public let scale: Double

    /// A circle of radius `scale` (the paper uses 5).
    public init(scale: Double = 5) {
        precondition(scale > 0 && scale.isFinite, "Circle scale must be positive and finite, got \(scale)")
        self.scale = scale
    }

    /// `circle`.
    public var name: String { "circle" }
    /// Two ambient coordinates.
    public var coordinateCount: Int { 2 }

    /// Uniform on the circle: a standard normal vector in R^2, normalised.
    public func samplePoint(rng: inout SeededGenerator) -> [Double] {
        Sphere.uniformUnitVector(count: 2, rng: &rng)
    }

    /// `scale * atan2(|u x v|, u . v)`.
    public func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        scale * GeometryMath.angle(a, b, count: 2)
    }

    /// `-scale * z / (|z| |a|)` with z the component of b orthogonal to a; 0 where a = +-b.
    public func distanceGradient(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        GeometryMath.angleGradient(a, b, count: 2, scale: scale, into: gradient)
    }

    /// Re-normalises to unit length (the zero vector becomes (1, 0)).
    public func project(_ point: UnsafeMutablePointer<Double>) {
        Sphere.normalize(point, count: 2)
    }
}
