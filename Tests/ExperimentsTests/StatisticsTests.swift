// The statistics of sweep tables against published worked examples and the laws of the t
// distribution: closed forms at 1 and 2 degrees of freedom, NIST's table of critical values, the
// normal limit, symmetry; the paired and Welch intervals of Student's sleep data and of NIST's
// two-sample example.
import Foundation
import Testing
@testable import Experiments

@Suite struct StatisticsTests {
    @Test func meanAndSampleStandardDeviation() throws {
        #expect(Statistics.mean([]) == nil && Statistics.standardDeviation([3]) == nil)
        #expect(Statistics.mean([1, 2, 6]) == 3)
        // Sum of squared deviations 4 + 1 + 9 = 14 over n - 1 = 2.
        #expect(try #require(Statistics.standardDeviation([1, 2, 6])) == 7.0.squareRoot())
    }

    /// I_x(a, 1) = x^a and I_x(1, b) = 1 - (1 - x)^b (the integrals in closed form), I_x(a, a) at
    /// 1/2 is 1/2, and I_x(a, b) = 1 - I_(1-x)(b, a).
    @Test func incompleteBetaMeetsItsClosedForms() {
        for a in [0.5, 1, 2.5, 7, 40] {
            for x in [0.001, 0.1, 0.37, 0.5, 0.8, 0.999] {
                let power = Statistics.regularizedIncompleteBeta(x, a: a, b: 1)
                #expect(abs(power - pow(x, a)) <= 1e-13 * max(1, pow(x, a)), "a \(a) x \(x): \(power)")
                let complement = Statistics.regularizedIncompleteBeta(x, a: 1, b: a)
                #expect(abs(complement - (1 - pow(1 - x, a))) <= 1e-13, "b \(a) x \(x): \(complement)")
                for b in [0.5, 3, 11.25] {
                    let sum = Statistics.regularizedIncompleteBeta(x, a: a, b: b) + Statistics.regularizedIncompleteBeta(1 - x, a: b, b: a)
                    #expect(abs(sum - 1) <= 1e-13, "a \(a) b \(b) x \(x): \(sum)")
                }
            }
            #expect(abs(Statistics.regularizedIncompleteBeta(0.5, a: a, b: a) - 0.5) <= 1e-13)
        }
        #expect(Statistics.regularizedIncompleteBeta(1.5, a: 1, b: 1).isNaN && Statistics.regularizedIncompleteBeta(0.5, a: 0, b: 1).isNaN)
    }

    /// With 1 degree of freedom t is Cauchy: F(t) = 1/2 + atan(t) / pi, quantile tan(pi (p - 1/2));
    /// with 2, F(t) = 1/2 + t / (2 sqrt(2 + t^2)), quantile (2p - 1) / sqrt(2 p (1 - p)).
    @Test func tDistributionMeetsTheClosedFormsAtOneAndTwoDegreesOfFreedom() {
        for t in [-30, -2.5, -0.3, 0, 0.7, 4, 100.0] {
            let one = Statistics.studentTDistribution(t, degreesOfFreedom: 1), two = Statistics.studentTDistribution(t, degreesOfFreedom: 2)
            #expect(abs(one - (0.5 + atan(t) / Double.pi)) <= 1e-14, "t \(t): \(one)")
            #expect(abs(two - (0.5 + t / (2 * (2 + t * t).squareRoot()))) <= 1e-14, "t \(t): \(two)")
        }
        for p in [0.001, 0.05, 0.3, 0.5, 0.9, 0.975, 0.995, 0.9999] {
            let one = Statistics.studentTQuantile(p, degreesOfFreedom: 1), two = Statistics.studentTQuantile(p, degreesOfFreedom: 2)
            let cauchy = tan(Double.pi * (p - 0.5)), exact2 = (2 * p - 1) / (2 * p * (1 - p)).squareRoot()
            #expect(abs(one - cauchy) <= 1e-11 * max(1, abs(cauchy)), "p \(p): \(one) against \(cauchy)")
            #expect(abs(two - exact2) <= 1e-11 * max(1, abs(exact2)), "p \(p): \(two) against \(exact2)")
        }
    }

    /// NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 (critical values of
    /// Student's t distribution), upper 0.025 column, to the table's three decimals.
    @Test func tQuantilesMatchNISTsTable() {
        let table: [(Double, Double)] = [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (20, 2.086), (30, 2.042), (100, 1.984)]
        for (df, value) in table {
            let t = Statistics.studentTQuantile(0.975, degreesOfFreedom: df)
            #expect(abs(t - value) <= 0.0005, "df \(df): \(t), NIST \(value)")
        }
        // The 0.05 column (one-sided 95%) at 10 degrees of freedom: 1.812.
        #expect(abs(Statistics.studentTQuantile(0.95, degreesOfFreedom: 10) - 1.812) <= 0.0005)
    }

    /// Laws: the quantile inverts the distribution function, is symmetric and increasing in p,
    /// decreases with the degrees of freedom towards the normal's 1.959964 (Phi^-1(0.975) =
    /// 1.959963984540054), and is NaN outside (0, 1).
    @Test func tQuantileLaws() {
        var previous = Double.infinity
        for df in [1.0, 1.5, 3, 7.25, 17.776, 50, 1e3, 1e5, 1e8] {
            let t = Statistics.studentTQuantile(0.975, degreesOfFreedom: df)
            #expect(t < previous && t > 1.959963984540054, "df \(df): \(t)")
            previous = t
            for p in [0.01, 0.2, 0.6, 0.99] {
                let q = Statistics.studentTQuantile(p, degreesOfFreedom: df)
                // To 1e-12 up to 1e5 degrees of freedom; the continued fraction loses digits beyond.
                let tolerance = df <= 1e5 ? 1e-12 : 1e-9
                #expect(abs(Statistics.studentTDistribution(q, degreesOfFreedom: df) - p) <= tolerance, "df \(df) p \(p)")
                #expect(q == -Statistics.studentTQuantile(1 - p, degreesOfFreedom: df), "df \(df) p \(p): not symmetric")
            }
        }
        #expect(abs(Statistics.studentTQuantile(0.975, degreesOfFreedom: 1e8) - 1.959963984540054) <= 1e-6)
        #expect(abs(Statistics.studentTQuantile(0.975, degreesOfFreedom: .infinity) - 1.959963984540054) <= 1e-12)
        #expect(Statistics.studentTQuantile(0.5, degreesOfFreedom: 4) == 0)
        #expect(Statistics.studentTQuantile(0, degreesOfFreedom: 4).isNaN && Statistics.studentTQuantile(1.2, degreesOfFreedom: 4).isNaN)
        #expect(Statistics.studentTQuantile(0.9, degreesOfFreedom: 0).isNaN)
    }

    /// Student (1908), "The probable error of a mean", Biometrika 6: extra hours of sleep of ten
    /// patients under two drugs (Cushny & Peebles), the example of R's `t.test` documentation
    /// (`sleep`): paired, mean difference 1.58, t = 4.0621 on 9 df, 95% interval (0.7001142,
    /// 2.4598858); as independent samples (Welch), t = 1.8608 on 17.776 df, interval (-0.2054832,
    /// 3.3654832).
    static let drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    static let drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

    @Test func pairedIntervalOfStudentsSleepData() throws {
        let d = try #require(MeanDifference.paired(Self.drug2, Self.drug1))
        #expect(d.method == .paired && d.degreesOfFreedom == 9)
        #expect(abs(d.difference - 1.58) <= 1e-12 && abs(d.t - 4.0621) <= 5e-5, "\(d)")
        #expect(abs(d.lower - 0.7001142) <= 5e-8 && abs(d.upper - 2.4598858) <= 5e-8, "\(d)")
        // Seeds that pair give the paired interval, whatever their order.
        let a = zip(0..<10, Self.drug2).map { (seed: $0, value: $1) }
        let b = zip(0..<10, Self.drug1).map { (seed: $0, value: $1) }.reversed()
        #expect(MeanDifference.between(a, Array(b)) == d)
    }

    @Test func welchIntervalOfStudentsSleepData() throws {
        let d = try #require(MeanDifference.welch(Self.drug2, Self.drug1))
        #expect(d.method == .welch && abs(d.degreesOfFreedom - 17.776) <= 5e-4, "\(d)")
        #expect(abs(d.t - 1.8608) <= 5e-5, "\(d)")
        #expect(abs(d.lower - -0.2054832) <= 5e-8 && abs(d.upper - 3.3654832) <= 5e-8, "\(d)")
        // Seeds that do not pair give Welch's interval.
        let a = zip(0..<10, Self.drug2).map { (seed: $0, value: $1) }
        let b = zip(10..<20, Self.drug1).map { (seed: $0, value: $1) }
        #expect(MeanDifference.between(a, b) == d)
    }

    /// NIST/SEMATECH e-Handbook, section 7.3.1 (AUTO83B, miles per gallon of US and Japanese cars):
    /// N1 = 249, mean 20.14458, s 6.41470; N2 = 79, mean 30.48101, s 6.10771; without equal
    /// variances T = -12.94627 on nu = 136.8750 degrees of freedom, critical value 1.977.
    @Test func welchStatisticOfNISTsTwoSampleExample() throws {
        let d = try #require(
            MeanDifference.welch(
                meanA: 20.14458, standardDeviationA: 6.41470, countA: 249, meanB: 30.48101, standardDeviationB: 6.10771, countB: 79))
        #expect(abs(d.t - -12.94627) <= 5e-5 && abs(d.degreesOfFreedom - 136.8750) <= 5e-4, "\(d)")
        let critical = Statistics.studentTQuantile(0.975, degreesOfFreedom: d.degreesOfFreedom)
        #expect(abs(critical - 1.977) <= 0.0005, "\(critical)")
        #expect(abs((d.upper - d.lower) / 2 - critical * d.standardError) <= 1e-12)
    }

    @Test func degenerateGroupsGiveNoIntervalOrAPointOne() throws {
        #expect(MeanDifference.paired([1], [2]) == nil && MeanDifference.welch([1, 2], [3]) == nil)
        #expect(MeanDifference.paired([1, 2], [1]) == nil && MeanDifference.paired([1, .nan], [1, 2]) == nil)
        // Equal differences: no spread, the interval is the point.
        let d = try #require(MeanDifference.paired([3, 4, 5], [1, 2, 3]))
        #expect(d.difference == 2 && d.lower == 2 && d.upper == 2)
        let w = try #require(MeanDifference.welch([1, 1], [0, 0, 0]))
        #expect(w.difference == 1 && w.lower == 1 && w.upper == 1 && w.degreesOfFreedom == 3)
    }
}
