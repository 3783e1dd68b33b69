// Summary statistics of a regularizer's coefficient matrix R, for run records and `moduli geometry`.
// Reference: docs/method.md section 2.2 (sanity values: torus, inverted DoG, H = 4096).

import Linalg

/// Mean, spread, order statistics and the fraction of small entries of R's H^2 values.
///
/// Quantiles interpolate linearly between order statistics (NumPy's default, Hyndman & Fan
/// type 7): with the n values sorted, q(p) = v[floor(h)] + (h - floor(h)) (v[floor(h)+1] - v[floor(h)]),
/// h = (n - 1) p. The median is q(0.5).
public struct RegularizerStatistics: Codable, Sendable, Equatable {
    /// One quantile: the probability p in [0, 1] and the value q(p).
    public struct Quantile: Codable, Sendable, Equatable {
        /// p.
        public var probability: Double
        /// q(p).
        public var value: Double
    }

    /// Number of entries n (H^2).
    public var count: Int
    /// sum / n.
    public var mean: Double
    /// Population standard deviation sqrt(sum (v - mean)^2 / n).
    public var standardDeviation: Double
    /// The smallest entry.
    public var minimum: Double
    /// q(0.5).
    public var median: Double
    /// The largest entry.
    public var maximum: Double
    /// q(p) for each of `probabilities` given at construction (default 1, 5, 25, 75, 95, 99 %).
    public var quantiles: [Quantile]
    /// The fraction of entries strictly below 10 (docs/method.md 2.2: 4.1 % for torus, inverted DoG).
    public var fractionBelow10: Double

    /// The default quantile probabilities: 1, 5, 25, 75, 95, 99 %.
    public static let defaultProbabilities: [Double] = [0.01, 0.05, 0.25, 0.75, 0.95, 0.99]

    /// Statistics of `values` (selection on a copy, O(n) per quantile). An empty collection gives
    /// zeros and n = 0.
    public init<C: Collection>(values: C, probabilities: [Double] = RegularizerStatistics.defaultProbabilities)
    where C.Element == Double {
        var work = Array(values)
        let n = work.count
        count = n
        guard n > 0 else {
            mean = 0; standardDeviation = 0; minimum = 0; median = 0; maximum = 0; fractionBelow10 = 0
            quantiles = probabilities.map { Quantile(probability: $0, value: 0) }
            return
        }
        var sum = 0.0, low = work[0], high = work[0], below = 0
        for v in work {
            sum += v
            low = Swift.min(low, v); high = Swift.max(high, v)
            if v < 10 { below += 1 }
        }
        let m = sum / Double(n)
        var squares = 0.0
        for v in work { squares += (v - m) * (v - m) }
        mean = m
        standardDeviation = (squares / Double(n)).squareRoot()
        minimum = low
        maximum = high
        fractionBelow10 = Double(below) / Double(n)
        median = Self.quantile(&work, 0.5)
        quantiles = probabilities.map { Quantile(probability: $0, value: Self.quantile(&work, $0)) }
    }

    /// q(p) of this summary if p was one of its probabilities (or 0.5, 0 or 1), else nil.
    public func quantile(_ p: Double) -> Double? {
        if p == 0.5 { return median }
        if p == 0 { return minimum }
        if p == 1 { return maximum }
        return quantiles.first { $0.probability == p }?.value
    }

    /// Type-7 quantile of `values` (reorders them; selection, not a full sort).
    static func quantile(_ values: inout [Double], _ p: Double) -> Double {
        let n = values.count
        let h = Double(n - 1) * Swift.min(Swift.max(p, 0), 1)
        let lower = Int(h.rounded(.down))
        let a = OrderStatistics.select(&values, lower)
        guard lower + 1 < n, h > Double(lower) else { return a }
        let b = OrderStatistics.select(&values, lower + 1)
        return a + (h - Double(lower)) * (b - a)
    }
}
