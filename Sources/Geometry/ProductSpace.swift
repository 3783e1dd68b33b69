// Products of moduli spaces (e.g. "mixedcurv" = S^2 x T^2) with the product (L2) metric.
// Reference: docs/method.md section 2.1 (product, "mixedcurv").
import Linalg

/// The product M_1 x ... x M_m: a point is one point per factor, concatenated.
///
/// Distance: `d(a, b) = sqrt(sum_k d_k(a_k, b_k)^2)`. Gradient: `(d_k / d) * grad d_k` on factor
/// k's coordinates; 0 where d = 0.
public struct ProductSpace: ModuliSpace {
    /// The factors, in coordinate order.
    public let factors: [any ModuliSpace]
    /// Offset of factor k's coordinates within a point.
    public let factorOffsets: [Int]
    /// The stable name (given, or `product(<factor names>)`).
    public let name: String
    /// Sum of the factors' coordinate counts.
    public let coordinateCount: Int

    /// The product of `factors` (at least one), named `name` or `product(a,b,...)`.
    public init(factors: [any ModuliSpace], name: String? = nil) {
        precondition(!factors.isEmpty, "ProductSpace needs at least one factor")
        self.factors = factors
        var offsets = [Int]()
        var total = 0
        for f in factors {
            offsets.append(total)
            total += f.coordinateCount
        }
        self.factorOffsets = offsets
        self.coordinateCount = total
        self.name = name ?? "product(" + factors.map(\.name).joined(separator: ",") + ")"
    }

    /// One sample per factor, concatenated.
    public func samplePoint(rng: inout SeededGenerator) -> [Double] {
        factors.flatMap { $0.samplePoint(rng: &rng) }
    }

    /// `sqrt(sum_k d_k(a_k, b_k)^2)`.
    public func distance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        var s = 0.0
        for k in factors.indices {
            let o = factorOffsets[k]
            let d = factors[k].distance(a + o, b + o)
            s += d * d
        }
        return s.squareRoot()
    }

    /// Batched: each factor's batched distances, squared and summed, then the square root
    /// (bitwise equal to `distance` pair by pair).
    public func distances(
        from a: UnsafePointer<Double>, to points: UnsafePointer<Double>, stride: Int, count: Int,
        into out: UnsafeMutablePointer<Double>
    ) {
        for j in 0..<count { out[j] = 0 }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.max(count, 1)) { tmp in
            let t = tmp.baseAddress!
            for k in factors.indices {
                let o = factorOffsets[k]
                factors[k].distances(from: a + o, to: points + o, stride: stride, count: count, into: t)
                for j in 0..<count { out[j] += t[j] * t[j] }
            }
        }
        for j in 0..<count { out[j] = out[j].squareRoot() }
    }

    /// `(d_k / d) * grad d_k` per factor; 0 where d = 0.
    public func distanceGradient(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
        into gradient: UnsafeMutablePointer<Double>
    ) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: factors.count) { factorDistances in
            var s = 0.0
            for k in factors.indices {
                let o = factorOffsets[k]
                let d = factors[k].distance(a + o, b + o)
                factorDistances[k] = d
                s += d * d
            }
            let d = s.squareRoot()
            guard d > 0 else {
                for i in 0..<coordinateCount { gradient[i] = 0 }
                return
            }
            for k in factors.indices {
                let o = factorOffsets[k]
                factors[k].distanceGradient(a + o, b + o, into: gradient + o)
                let w = factorDistances[k] / d
                for i in o..<(o + factors[k].coordinateCount) { gradient[i] *= w }
            }
        }
    }

    /// Projects every factor's coordinates.
    public func project(_ point: UnsafeMutablePointer<Double>) {
        for k in factors.indices { factors[k].project(point + factorOffsets[k]) }
    }
}
