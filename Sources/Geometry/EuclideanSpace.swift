// Euclidean space R^k as a moduli space (no identifications), with normal sampling.
// Reference: docs/method.md sections 2.1 (r3: normal(0, 1); adding problem: 10 x normal) and 6.
import Linalg

/// Euclidean space R^k: points are any k-vectors, sampled as `samplingStd * normal(0, 1)` per
/// coordinate.
///
/// Distance: `d(a, b) = sqrt(sum_i (a_i - b_i)^2)`; gradient `(a - b) / d`, 0 at a = b.
/// Registry names: `r3` is R^3 with std 1 (the navigation and language-model scripts); `r9` is
/// R^9 with std 10 (the adding problem's `10 * randn` embeddings).
public struct EuclideanSpace: ModuliSpace {
    /// Number of coordinates k.
    public let dimension: Int
    /// Standard deviation of each sampled coordinate.
    public let samplingStd: Double

    /// R^dimension with normal(0, samplingStd^2) sampling per coordinate.
    public init(dimension: Int, samplingStd: Double = 1) {
        precondition(dimension >= 1, "EuclideanSpace dimension must be at least 1, got \(dimension)")
        precondition(
            samplingStd > 0 && samplingStd.isFinite,
            "EuclideanSpace samplingStd must be positive and finite, got \(samplingStd)")
        self.dimension = dimension
        self.samplingStd = samplingStd
    }

    /// `r<k>` (`r3`, `r9`).
    public var name: String { "r\(dimension)" }
    /// k coordinates.
    public var coordinateCount: Int { dimension }

    /// `samplingStd * normal(0, 1)` per coordinate.
    public func samplePoint(rng: inout SeededGenerator) -> [Double] {
        (0..<dimension).map { _ in rng.normal(mean: 0, std: samplingStd) }
    }

    /// `sqrt(sum_i (a_i - b_i)^2)`.
    public func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        var s = 0.0
        for i in 0..<dimension {
            let r = a[i] - b[i]
            s += r * r
        }
        return s.squareRoot()
    }

    /// `(a - b) / |a - b|`; 0 where a = b.
    public func distanceGradient(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        var s = 0.0
        for i in 0..<dimension {
            let r = a[i] - b[i]
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

    /// Nothing to do: every point of R^k is on the space.
    public func project(_ point: UnsafeMutablePointer<Double>) {}
}
