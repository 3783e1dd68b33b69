// Summary statistics of runs over seeds and the 95% interval of a difference of means: the paired t
// interval when the seeds pair, Welch's otherwise (Welch 1947; NIST/SEMATECH e-Handbook of
// Statistical Methods, sections 1.3.5.3 and 7.3.1). Student's t quantile is computed in Double from
// the regularized incomplete beta function (its continued fraction, evaluated by Lentz's method).
import Foundation

/// Mean, sample standard deviation and Student's t distribution.
public enum Statistics {
    /// The arithmetic mean; nil for no values.
    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// The sample standard deviation `sqrt(sum (x - mean)^2 / (n - 1))`; nil for fewer than two values.
    public static func standardDeviation(_ values: [Double]) -> Double? {
        guard values.count > 1, let m = mean(values) else { return nil }
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// The regularized incomplete beta function `I_x(a, b) = B(x; a, b) / B(a, b)` for `a, b > 0`
    /// and `0 <= x <= 1`: `x^a (1 - x)^b / (a B(a, b))` times the continued fraction
    /// `1 / (1 + d1 / (1 + d2 / (1 + ...)))` with `d(2m+1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))`
    /// and `d(2m) = m (b - m) x / ((a + 2m - 1)(a + 2m))`, which converges fast for
    /// `x < (a + 1) / (a + b + 2)`; above, `I_x(a, b) = 1 - I_(1-x)(b, a)`. NaN outside the domain.
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        regularizedIncompleteBeta(x, complement: 1 - x, a: a, b: b)
    }

    /// `I_x(a, b)` given `x` and `y = 1 - x` each to full precision (one of them may be tiny).
    static func regularizedIncompleteBeta(_ x: Double, complement y: Double, a: Double, b: Double) -> Double {
        guard a > 0, b > 0, x >= 0, x <= 1, y >= 0, y <= 1, a.isFinite, b.isFinite else { return .nan }
        if x == 0 { return 0 }
        if y == 0 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(y, complement: x, a: b, b: a) }
        let logFront = a * Foundation.log(x) + b * Foundation.log(y) - logBeta(a, b)
        return Foundation.exp(logFront) * continuedFraction(x, a: a, b: b) / a
    }

    /// `ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b)`. When the larger argument is 10
    /// or more, `ln Gamma(a) - ln Gamma(a + b)` is taken from Stirling's series, `ln Gamma(z) =
    /// (z - 1/2) ln z - z + ln(2 pi) / 2 + delta(z)`, as `-(a - 1/2) log1p(b / a) - b ln(a + b) + b +
    /// delta(a) - delta(a + b)`, which keeps its precision where the two log-gammas nearly cancel
    /// (Student's t at many degrees of freedom).
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        let (large, small) = a >= b ? (a, b) : (b, a)
        guard large >= 10 else { return Foundation.lgamma(a) + Foundation.lgamma(b) - Foundation.lgamma(a + b) }
        let difference =
            -(large - 0.5) * Foundation.log1p(small / large) - small * Foundation.log(large + small) + small
            + stirlingCorrection(large) - stirlingCorrection(large + small)
        return Foundation.lgamma(small) + difference
    }

    /// `delta(z) = ln Gamma(z) - ((z - 1/2) ln z - z + ln(2 pi) / 2)` for `z >= 10`: the series
    /// `1/(12 z) - 1/(360 z^3) + 1/(1260 z^5) - 1/(1680 z^7)` (Abramowitz & Stegun 6.1.41), whose
    /// next term is below 1e-16 there.
    static func stirlingCorrection(_ z: Double) -> Double {
        let w = 1 / (z * z)
        return (1.0 / 12 - w * (1.0 / 360 - w * (1.0 / 1260 - w / 1680))) / z
    }

    /// The continued fraction of `regularizedIncompleteBeta` by the modified Lentz method
    /// (Lentz 1976; Thompson & Barnett 1986): `f` is the product of the ratios `C D` of successive
    /// convergents, with tiny values kept off zero.
    static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300, epsilon = 1e-16
        func away(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        // The first term, d1 = -(a + b) x / (a + 1), starts D; C starts at 1.
        var c = 1.0
        var d = 1 / away(1 - (a + b) * x / (a + 1))
        var f = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 / away(1 + even * d)
            c = away(1 + even / c)
            f *= c * d
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 / away(1 + odd * d)
            c = away(1 + odd / c)
            let ratio = c * d
            f *= ratio
            if abs(ratio - 1) < epsilon { break }
        }
        return f
    }

    /// Student's t distribution function `P(T <= t)` with `degreesOfFreedom` (any positive real):
    /// the upper tail is `I_(v / (v + t^2))(v / 2, 1 / 2) / 2` for `t > 0`, and the law is symmetric.
    public static func studentTDistribution(_ t: Double, degreesOfFreedom v: Double) -> Double {
        guard v > 0, !t.isNaN else { return .nan }
        if t.isInfinite { return t > 0 ? 1 : 0 }
        let tail = studentTUpperTail(abs(t), degreesOfFreedom: v)
        return t > 0 ? 1 - tail : tail
    }

    /// `P(T > t)` for `t >= 0` (computed directly, so that it keeps its relative precision far out).
    static func studentTUpperTail(_ t: Double, degreesOfFreedom v: Double) -> Double {
        if v.isInfinite { return 0.5 * Foundation.erfc(t / 2.0.squareRoot()) }
        return 0.5 * regularizedIncompleteBeta(v / (v + t * t), complement: t * t / (v + t * t), a: v / 2, b: 0.5)
    }

    /// Student's t quantile: the `t` with `P(T <= t) = p`, for `0 < p < 1` and `degreesOfFreedom`
    /// any positive real (Welch's are not whole); NaN outside. Found by bisection of the upper tail
    /// (decreasing in t) to the last bit of a Double, after doubling an upper bracket; symmetric:
    /// `quantile(1 - p) = -quantile(p)`.
    public static func studentTQuantile(_ p: Double, degreesOfFreedom v: Double) -> Double {
        guard v > 0, p > 0, p < 1 else { return .nan }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -studentTQuantile(1 - p, degreesOfFreedom: v) }
        let q = 1 - p  // the upper tail sought
        var low = 0.0, high = 1.0
        while studentTUpperTail(high, degreesOfFreedom: v) > q {
            low = high
            high *= 2
            if high > 1e300 { return .infinity }
        }
        for _ in 0..<2_000 {
            let middle = low + (high - low) / 2
            if middle <= low || middle >= high { break }
            if studentTUpperTail(middle, degreesOfFreedom: v) > q { low = middle } else { high = middle }
        }
        return low + (high - low) / 2
    }
}

/// The difference of two groups' means with its confidence interval (Student's t).
public struct MeanDifference: Sendable, Equatable {
    /// How the interval was computed.
    public enum Method: String, Sendable, Codable {
        /// The paired t interval on the per-seed differences (the same seeds in both groups).
        case paired
        /// Welch's t interval for two independent samples of unequal variances, with the
        /// Welch-Satterthwaite degrees of freedom.
        case welch
    }

    /// The method.
    public var method: Method
    /// `mean(a) - mean(b)`.
    public var difference: Double
    /// The standard error of the difference.
    public var standardError: Double
    /// The degrees of freedom of the t distribution used.
    public var degreesOfFreedom: Double
    /// The interval's confidence level (0.95).
    public var level: Double
    /// The interval's ends: `difference -+ t((1 + level) / 2, df) * standardError`.
    public var lower: Double, upper: Double
    /// The t statistic `difference / standardError` (infinite or NaN when the standard error is 0).
    public var t: Double { difference / standardError }

    /// The interval of `difference` at `level` from a standard error and degrees of freedom.
    init(method: Method, difference: Double, standardError: Double, degreesOfFreedom: Double, level: Double) {
        self.method = method; self.difference = difference; self.standardError = standardError
        self.degreesOfFreedom = degreesOfFreedom; self.level = level
        let half = standardError == 0 ? 0 : Statistics.studentTQuantile((1 + level) / 2, degreesOfFreedom: degreesOfFreedom) * standardError
        lower = difference - half; upper = difference + half
    }

    /// The paired interval of `mean(a - b)`: `a[k]` and `b[k]` are the same seed's values. Standard
    /// error `s_d / sqrt(n)` with `s_d` the sample standard deviation of the differences, `n - 1`
    /// degrees of freedom. nil for fewer than two pairs, unequal counts, a level outside (0, 1) or a
    /// value that is not finite.
    public static func paired(_ a: [Double], _ b: [Double], level: Double = 0.95) -> MeanDifference? {
        guard a.count == b.count, a.count > 1, level > 0, level < 1, (a + b).allSatisfy(\.isFinite) else { return nil }
        let differences = zip(a, b).map { $0 - $1 }
        guard let mean = Statistics.mean(differences), let s = Statistics.standardDeviation(differences) else { return nil }
        return MeanDifference(
            method: .paired, difference: mean, standardError: s / Double(differences.count).squareRoot(),
            degreesOfFreedom: Double(differences.count - 1), level: level)
    }

    /// Welch's interval of `mean(a) - mean(b)` for independent samples. nil for fewer than two
    /// values in either, a level outside (0, 1) or a value that is not finite.
    public static func welch(_ a: [Double], _ b: [Double], level: Double = 0.95) -> MeanDifference? {
        guard (a + b).allSatisfy(\.isFinite), let ma = Statistics.mean(a), let mb = Statistics.mean(b),
            let sa = Statistics.standardDeviation(a), let sb = Statistics.standardDeviation(b)
        else { return nil }
        return welch(meanA: ma, standardDeviationA: sa, countA: a.count, meanB: mb, standardDeviationB: sb, countB: b.count, level: level)
    }

    /// Welch's interval from each group's mean, sample standard deviation and count: standard error
    /// `sqrt(va + vb)` with `va = sa^2 / na`, `vb = sb^2 / nb`, and the Welch-Satterthwaite degrees
    /// of freedom `(va + vb)^2 / (va^2 / (na - 1) + vb^2 / (nb - 1))` (`na + nb - 2` when both
    /// variances are 0). nil for a count under two or a level outside (0, 1).
    public static func welch(
        meanA: Double, standardDeviationA sa: Double, countA na: Int, meanB: Double, standardDeviationB sb: Double, countB nb: Int,
        level: Double = 0.95
    ) -> MeanDifference? {
        guard na > 1, nb > 1, level > 0, level < 1, sa >= 0, sb >= 0 else { return nil }
        let va = sa * sa / Double(na), vb = sb * sb / Double(nb)
        let denominator = va * va / Double(na - 1) + vb * vb / Double(nb - 1)
        let df = denominator > 0 ? (va + vb) * (va + vb) / denominator : Double(na + nb - 2)
        return MeanDifference(
            method: .welch, difference: meanA - meanB, standardError: (va + vb).squareRoot(), degreesOfFreedom: df, level: level)
    }

    /// The paired interval when `seedsA` and `seedsB` hold the same seeds (values matched by seed),
    /// Welch's otherwise; nil when the chosen one cannot be computed.
    public static func between<Seed: Hashable>(
        _ a: [(seed: Seed, value: Double)], _ b: [(seed: Seed, value: Double)], level: Double = 0.95
    ) -> MeanDifference? {
        let seedsA = a.map(\.seed), seedsB = b.map(\.seed)
        if Set(seedsA) == Set(seedsB), Set(seedsA).count == seedsA.count, seedsB.count == seedsA.count {
            let byB = Dictionary(uniqueKeysWithValues: b.map { ($0.seed, $0.value) })
            let matched = a.compactMap { byB[$0.seed] }
            if matched.count == a.count { return paired(a.map(\.value), matched, level: level) }
        }
        return welch(a.map(\.value), b.map(\.value), level: level)
    }
}
