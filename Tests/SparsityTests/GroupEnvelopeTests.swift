// The weighted group sparse envelope (GroupEnvelope): its value against the variational formula
// minimized independently, its convexity and agreement with 1/2 sum d ||x||^2 on k-group-sparse
// points, and its proximal operator against a numerical minimization of the prox's objective.
// Reference: docs/method.md, "Group envelope regularization".
import Foundation
import Linalg
import NN
import Testing
@testable import Sparsity

@Suite struct GroupEnvelopeTests {
    /// One instance: groups of 1 to 3 entries, optional weights.
    struct Instance {
        var groups: [[Double]]
        var weights: [Double]?
        var norms: [Double] { groups.map { g in g.reduce(0) { $0 + $1 * $1 }.squareRoot() } }
        var d: [Double] { weights ?? groups.map { _ in 1 } }
    }

    /// Instances of 4 to 6 groups, each of 1 to 3 entries in (-2, 2), with and without weights in
    /// (0.5, 2); one group in five is zero.
    static func instances(seed: UInt64, count: Int) -> [Instance] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { k in
            let n = 4 + rng.integer(below: 3)
            let groups = (0..<n).map { _ in
                let size = 1 + rng.integer(below: 3)
                let zero = rng.uniform() < 0.2
                return (0..<size).map { _ in zero ? 0 : rng.uniform() * 4 - 2 }
            }
            let weights = k % 2 == 0 ? nil : (0..<n).map { _ in 0.5 + 1.5 * rng.uniform() }
            return Instance(groups: groups, weights: weights)
        }
    }

    /// The Euclidean projection of `y` onto the capped simplex {0 <= theta <= 1, sum theta = k}:
    /// clip(y - nu, 0, 1) with nu found by bisection.
    static func projectCappedSimplex(_ y: [Double], k: Int) -> [Double] {
        var lo = (y.min() ?? 0) - 1, hi = y.max() ?? 0
        for _ in 0..<60 {
            let nu = (lo + hi) / 2
            let sum = y.reduce(0) { $0 + min(1, max(0, $1 - nu)) }
            if sum > Double(k) { lo = nu } else { hi = nu }
        }
        return y.map { min(1, max(0, $0 - (lo + hi) / 2)) }
    }

    /// The variational formula's objective 1/2 sum d_i ||x_i||^2 / theta_i (0/0 = 0).
    static func variational(_ norms: [Double], _ d: [Double], _ theta: [Double]) -> Double {
        norms.indices.reduce(0) { sum, i in
            norms[i] == 0 ? sum : sum + 0.5 * d[i] * norms[i] * norms[i] / theta[i]
        }
    }

    /// A minimizer of the variational objective from its optimality conditions alone: theta_i =
    /// min(1, z_i / tau) with tau found by bisection so that sum theta = k (no sorting, no cases).
    static func bisectionTheta(_ norms: [Double], _ d: [Double], k: Int) -> [Double] {
        let z = norms.indices.map { norms[$0] * d[$0].squareRoot() }
        if z.filter({ $0 > 0 }).count <= k { return z.map { $0 > 0 ? 1 : 0 } }
        var lo = 0.0, hi = z.reduce(0, +)
        for _ in 0..<300 {
            let tau = (lo + hi) / 2
            if z.reduce(0, { $0 + min(1, $1 / tau) }) > Double(k) { lo = tau } else { hi = tau }
        }
        return z.map { min(1, $0 / ((lo + hi) / 2)) }
    }

    /// Uniform-ish random points of the capped simplex (projections of random vectors).
    static func randomTheta(_ n: Int, k: Int, rng: inout SeededGenerator) -> [Double] {
        projectCappedSimplex((0..<n).map { _ in rng.uniform() * 2 }, k: k)
    }

    /// The value against the variational formula: it equals the objective at the bisection's
    /// minimizer, and no random feasible theta does better (so it is the minimum), for every k.
    @Test func valueIsTheVariationalMinimum() {
        var rng = SeededGenerator(seed: 5)
        for (m, instance) in Self.instances(seed: 1, count: 40).enumerated() {
            let (norms, d) = (instance.norms, instance.d)
            for k in 1...norms.count {
                let value = GroupEnvelope(keptGroups: k, weights: instance.weights).value(norms: norms)
                let attained = Self.variational(norms, d, Self.bisectionTheta(norms, d, k: k))
                #expect(abs(value - attained) <= 1e-9 * max(1, attained), "instance \(m), k \(k): \(value) vs \(attained)")
                for _ in 0..<100 {
                    let theta = Self.randomTheta(norms.count, k: k, rng: &rng)
                    #expect(value <= Self.variational(norms, d, theta) + 1e-9, "instance \(m), k \(k): a feasible theta does better")
                }
            }
        }
    }

    /// The envelope is convex, lies above q = 1/2 sum d ||x_i||^2 (theta <= 1 in the variational
    /// formula) and below f = q + (at most k groups, else infinity), and equals q wherever at most k
    /// groups are non-zero (and everywhere when k = n).
    @Test func valueIsTheConvexEnvelope() {
        var rng = SeededGenerator(seed: 6)
        for (m, instance) in Self.instances(seed: 2, count: 30).enumerated() {
            let n = instance.groups.count
            let f = zip(instance.norms, instance.d).reduce(0) { $0 + 0.5 * $1.1 * $1.0 * $1.0 }
            for k in 1...n {
                let envelope = GroupEnvelope(keptGroups: k, weights: instance.weights)
                // Keep the k largest groups (by index order): a k-group-sparse point.
                var sparse = instance.norms
                for i in k..<n { sparse[i] = 0 }
                let fSparse = zip(sparse, instance.d).reduce(0) { $0 + 0.5 * $1.1 * $1.0 * $1.0 }
                #expect(abs(envelope.value(norms: sparse) - fSparse) <= 1e-12 * max(1, fSparse), "instance \(m), k \(k)")
                #expect(envelope.value(norms: instance.norms) >= f - 1e-12)
                if k == n { #expect(abs(envelope.value(norms: instance.norms) - f) <= 1e-12 * max(1, f)) }
                // Convexity along the segment to another point with the same groups.
                var other = instance
                other.groups = instance.groups.map { g in g.map { _ in rng.uniform() * 4 - 2 } }
                for t in [0.25, 0.5, 0.75] {
                    let mixed = zip(instance.groups, other.groups).map { a, b in zip(a, b).map { t * $0 + (1 - t) * $1 } }
                    let norms = mixed.map { g in g.reduce(0) { $0 + $1 * $1 }.squareRoot() }
                    let bound = t * envelope.value(norms: instance.norms) + (1 - t) * envelope.value(norms: other.norms)
                    #expect(envelope.value(norms: norms) <= bound + 1e-12, "instance \(m), k \(k), t \(t): not convex")
                }
            }
        }
    }

    /// The prox's objective after the inner minimization over u: for fixed theta, u_i = x_i theta_i /
    /// (theta_i + s d_i) and the objective is h(theta) = sum_i 1/2 ||x_i||^2 s d_i / (theta_i + s d_i),
    /// smooth and convex on the capped simplex. Minimized here by nested bisection: on the
    /// multiplier mu of sum theta = k, and for each mu on the root of each coordinate's derivative
    /// h_i'(theta) + mu in [0, 1]. It shares no formula with the implementation's breakpoint sweep.
    static func numericalProx(_ instance: Instance, k: Int, step s: Double) -> [[Double]] {
        let (r, d) = (instance.norms, instance.d)
        let n = r.count
        func derivative(_ i: Int, _ theta: Double) -> Double {
            let q: Double = theta + s * d[i]
            return -0.5 * r[i] * r[i] * s * d[i] / (q * q)
        }
        func coordinate(_ i: Int, _ mu: Double) -> Double {
            if derivative(i, 0) + mu >= 0 { return 0 }
            if derivative(i, 1) + mu <= 0 { return 1 }
            var (lo, hi) = (0.0, 1.0)
            for _ in 0..<100 {
                let mid = (lo + hi) / 2
                if derivative(i, mid) + mu < 0 { lo = mid } else { hi = mid }
            }
            return (lo + hi) / 2
        }
        func thetas(_ mu: Double) -> [Double] { (0..<n).map { coordinate($0, mu) } }
        var theta = thetas(0)
        if theta.reduce(0, +) > Double(k) {
            var lo = 0.0, hi = 0.0
            for i in 0..<n { hi = max(hi, -derivative(i, 0)) }
            for _ in 0..<100 {
                let mid = (lo + hi) / 2
                if thetas(mid).reduce(0, +) > Double(k) { lo = mid } else { hi = mid }
            }
            theta = thetas((lo + hi) / 2)
        }
        return instance.groups.indices.map { i in instance.groups[i].map { $0 * theta[i] / (theta[i] + s * d[i]) } }
    }

    /// s S(u) + 1/2 ||u - x||^2, the objective the prox minimizes.
    static func proxObjective(_ u: [[Double]], _ x: [[Double]], envelope: GroupEnvelope, step s: Double) -> Double {
        let norms = u.map { g in g.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let distance = zip(u, x).reduce(0.0) { sum, pair in sum + zip(pair.0, pair.1).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        return s * envelope.value(norms: norms) + 0.5 * distance
    }

    @Test func proxMatchesANumericalMinimization() {
        var rng = SeededGenerator(seed: 9)
        for (m, instance) in Self.instances(seed: 3, count: 24).enumerated() {
            for k in 1...instance.groups.count {
                for s in [0.5, 2.0] {
                    let envelope = GroupEnvelope(keptGroups: k, weights: instance.weights)
                    let factors = envelope.proxFactors(norms: instance.norms, step: s)
                    let prox = instance.groups.indices.map { i in instance.groups[i].map { $0 * factors[i] } }
                    let oracle = Self.numericalProx(instance, k: k, step: s)
                    for i in prox.indices {
                        for e in prox[i].indices {
                            #expect(
                                abs(prox[i][e] - oracle[i][e]) <= 1e-9,
                                "instance \(m), k \(k), s \(s), group \(i): \(prox[i]) vs \(oracle[i])")
                        }
                    }
                    // No nearby or random point has a lower objective (computed with `value`).
                    let best = Self.proxObjective(prox, instance.groups, envelope: envelope, step: s)
                    for size in [1e-4, 1e-2, 1.0] {
                        for _ in 0..<50 {
                            let moved = prox.map { g in g.map { $0 + size * (rng.uniform() * 2 - 1) } }
                            #expect(best <= Self.proxObjective(moved, instance.groups, envelope: envelope, step: s) + 1e-12)
                        }
                    }
                    // At least k groups survive (all non-zero ones when there are at most k).
                    let nonZero = instance.norms.filter { $0 > 0 }.count
                    let survivors = zip(instance.norms, factors).filter { $0 > 0 && $1 > 0 }.count
                    #expect(survivors >= min(k, nonZero) && factors.allSatisfy { $0 >= 0 && $0 <= 1 })
                }
            }
        }
    }

    /// Cases worked by hand: groups far apart keep the k largest (shrunk by 1 / (1 + s d)) and zero
    /// the rest; three equal groups with k = 1 cannot be told apart, and each keeps theta = 1/3.
    @Test func proxOnCasesWorkedByHand() {
        let envelope = GroupEnvelope(keptGroups: 2)
        // theta = clip(eta sqrt(s) r - s, 0, 1) with s = 0.1: groups 10 and 8 saturate while 0.1 and 0.2 stay at 0.
        let factors = envelope.proxFactors(norms: [10, 0.1, 8, 0.2], step: 0.1)
        #expect(abs(factors[0] - 1 / 1.1) < 1e-12 && abs(factors[2] - 1 / 1.1) < 1e-12 && factors[1] == 0 && factors[3] == 0)
        let tie = GroupEnvelope(keptGroups: 1).proxFactors(norms: [1, 1, 1], step: 0.5)
        for c in tie { #expect(abs(c - (1.0 / 3) / (1.0 / 3 + 0.5)) < 1e-12) }
        #expect(GroupEnvelope(keptGroups: 1).proxFactors(norms: [1, 2], step: 0) == [1, 1])
        #expect(GroupEnvelope(keptGroups: 3).proxFactors(norms: [1, 0, 2], step: 1) == [0.5, 0, 0.5])
        // Value: z = (3, 1, 1, 1), k = 2: t = 0, tau = 6 / 2 = 3 >= z_(0): 1/2 6^2 / 2 = 9.
        #expect(abs(GroupEnvelope(keptGroups: 2).value(norms: [1, 3, 1, 1]) - 9) < 1e-12)
        // Weights: z = sqrt(d) r ranks the groups.
        #expect(GroupEnvelope(keptGroups: 2, weights: [1, 9, 1, 1]).largestGroups(norms: [2, 1, 1.5, 0.5]) == [0, 1])
        #expect(GroupEnvelope(keptGroups: 2).largestGroups(norms: [1, 1, 1]) == [0, 1])
    }

    /// The generic entry point on groups stored elsewhere: a toy conformer over nested arrays.
    final class Groups: EnvelopeGroups {
        var values: [[Double]]
        init(_ values: [[Double]]) { self.values = values }
        var groupCount: Int { values.count }
        func groupNorms() -> [Double] { values.map { g in g.reduce(0) { $0 + $1 * $1 }.squareRoot() } }
        func scaleGroups(by factors: [Double]) { for i in values.indices { values[i] = values[i].map { $0 * factors[i] } } }
    }

    @Test func applyProxScalesTheGroupsWhereTheyLive() {
        for instance in Self.instances(seed: 4, count: 6) {
            let groups = Groups(instance.groups)
            let envelope = GroupEnvelope(keptGroups: 2, weights: instance.weights)
            let factors = envelope.proxFactors(norms: instance.norms, step: 0.7)
            let survivors = envelope.applyProx(to: groups, step: 0.7)
            #expect(groups.values == instance.groups.indices.map { i in instance.groups[i].map { $0 * factors[i] } })
            #expect(survivors == groups.groupNorms().filter { $0 > 0 }.count)
        }
    }
}
