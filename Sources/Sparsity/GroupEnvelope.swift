// The weighted group sparse envelope function (WGSEF) with k kept groups: its value and its
// proximal operator from the group norms, by sorting them. Reference: Refael, Arbel, Huleihel,
// "Learning k-Level Structured Sparse Neural Networks Using Group Envelope Regularization"
// (arXiv 2212.12921); docs/method.md, "Group envelope regularization".
import Linalg
import NN

/// The weighted group sparse envelope function S of n groups x_1 ... x_n with weights
/// d_i > 0 and k kept groups: the convex envelope of
///
///     f(x) = 1/2 sum_i d_i ||x_i||^2   if at most k groups are non-zero,   +infinity otherwise.
///
/// It equals the variational formula S(x) = min { 1/2 sum_i d_i ||x_i||^2 / theta_i :
/// 0 <= theta_i <= 1, sum_i theta_i = k } (0/0 = 0), so it depends on x only through the weighted
/// group norms z_i = sqrt(d_i) ||x_i||: with z sorted decreasingly and t the first count in
/// 0 ..< k with z_(t) <= tau_t = (sum_{i >= t} z_(i)) / (k - t) (0-based),
///
///     S(x) = 1/2 (sum_{i < t} z_(i)^2 + (sum_{i >= t} z_(i))^2 / (k - t)),
///
/// and S(x) = f(x) whenever at most k groups are non-zero. Its proximal operator with step s,
/// prox(x) = argmin_u s S(u) + 1/2 ||u - x||^2, scales each group: u_i = c_i x_i with
/// c_i = theta_i / (theta_i + s d_i), theta_i = clip(eta sqrt(s d_i) ||x_i|| - s d_i, 0, 1), and
/// eta the level at which sum_i theta_i = k (found by sorting the breakpoints of the theta_i). The
/// largest groups (theta = 1) shrink by 1 / (1 + s d_i), the smallest (theta = 0) become zero, and
/// those between lose sqrt(s d_i) / eta of their norm (a group soft threshold). At least
/// min(k, non-zero groups) groups survive, more when norms are close. All arithmetic is in Double.
public struct GroupEnvelope: Sendable, Equatable {
    /// k, the number of groups the envelope keeps.
    public let keptGroups: Int
    /// The weights d_i (> 0, finite), one per group; nil: every weight is 1.
    public let weights: [Double]?

    /// The envelope with `keptGroups` (>= 1) kept groups and the given weights.
    public init(keptGroups: Int, weights: [Double]? = nil) {
        precondition(keptGroups >= 1, "GroupEnvelope: k must be at least 1, got \(keptGroups)")
        if let w = weights { precondition(w.allSatisfy { $0 > 0 && $0.isFinite }, "GroupEnvelope: weights must be positive and finite") }
        self.keptGroups = keptGroups; self.weights = weights
    }

    /// d_i for `count` groups.
    func weights(count: Int) -> [Double] {
        if let w = weights {
            precondition(w.count == count, "GroupEnvelope: \(w.count) weights for \(count) groups")
            return w
        }
        return [Double](repeating: 1, count: count)
    }

    /// S(x) for groups with Euclidean norms `norms` (||x_i||).
    public func value(norms: [Double]) -> Double {
        let d = weights(count: norms.count)
        let z = zip(norms, d).map { $0 * $1.squareRoot() }.sorted(by: >)
        let n = z.count, k = keptGroups
        if k >= n { return 0.5 * z.reduce(0) { $0 + $1 * $1 } }
        // suffix[t] = sum of z_(i) for i >= t.
        var suffix = [Double](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + z[i] }
        var top = 0.0
        for t in 0..<k {
            let tau = suffix[t] / Double(k - t)
            // The first such t has z_(t-1) > tau as well (t = k - 1 always qualifies).
            if z[t] <= tau || t == k - 1 { return 0.5 * (top + suffix[t] * suffix[t] / Double(k - t)) }
            top += z[t] * z[t]
        }
        return 0.5 * top  // not reached
    }

    /// The selection weights theta of the variational formula at the proximal point: the theta_i
    /// in [0, 1], summing to k (to min(k, number of non-zero groups)), with which prox(x)_i =
    /// theta_i / (theta_i + s d_i) x_i.
    func proxSelection(norms: [Double], step s: Double) -> [Double] {
        let n = norms.count
        let d = weights(count: n)
        let nonZero = norms.indices.filter { norms[$0] > 0 }
        var theta = [Double](repeating: 0, count: n)
        if nonZero.count <= keptGroups {
            for i in nonZero { theta[i] = 1 }
            return theta
        }
        // theta_i(eta) = clip(a_i eta - b_i, 0, 1) rises from eta = b_i / a_i to (1 + b_i) / a_i.
        let a = norms.indices.map { norms[$0] * (s * d[$0]).squareRoot() }, b = d.map { s * $0 }
        var events: [(eta: Double, group: Int, start: Bool)] = []
        events.reserveCapacity(2 * nonZero.count)
        for i in nonZero {
            events.append((b[i] / a[i], i, true))
            events.append(((1 + b[i]) / a[i], i, false))
        }
        events.sort { $0.eta < $1.eta || $0.eta == $1.eta && $0.start && !$1.start }
        // Between events, sum_i theta_i(eta) = slope eta + offset.
        var slope = 0.0, offset = 0.0
        let k = Double(keptGroups)
        var eta = events.last?.eta ?? 0, previous = 0.0
        for e in events {
            if slope * e.eta + offset >= k {
                // The sum reaches k in [previous, e.eta]; where it is flat (every rising group saturated
                // exactly at k, up to rounding) any point of the flat part will do: its start.
                eta = slope > 0 ? min(max((k - offset) / slope, previous), e.eta) : previous
                break
            }
            if e.start {
                slope += a[e.group]; offset -= b[e.group]
            } else {
                slope -= a[e.group]; offset += b[e.group] + 1
            }
            previous = e.eta
        }
        for i in nonZero { theta[i] = min(1, max(0, a[i] * eta - b[i])) }
        return theta
    }

    /// The factors c_i of the proximal operator of s S (step `step` >= 0) at groups with norms
    /// `norms`: prox(x)_i = c_i x_i, c_i in [0, 1]. A zero group gets 0 (it stays zero); with a
    /// zero step every factor is 1.
    public func proxFactors(norms: [Double], step: Double) -> [Double] {
        precondition(step >= 0 && step.isFinite, "GroupEnvelope: the step must be finite and 0 or more, got \(step)")
        guard step > 0 else { return norms.map { _ in 1 } }
        let d = weights(count: norms.count)
        let theta = proxSelection(norms: norms, step: step)
        return theta.indices.map { theta[$0] > 0 ? theta[$0] / (theta[$0] + step * d[$0]) : 0 }
    }

    /// The k groups with the largest weighted norms sqrt(d_i) ||x_i|| (ties: the lower index), in
    /// increasing order: those the envelope keeps when it must choose exactly k.
    public func largestGroups(norms: [Double]) -> [Int] {
        let d = weights(count: norms.count)
        let order = norms.indices.sorted { i, j in
            let (zi, zj) = (norms[i] * d[i].squareRoot(), norms[j] * d[j].squareRoot())
            return zi > zj || zi == zj && i < j
        }
        return Array(order.prefix(keptGroups)).sorted()
    }
}

/// Groups of parameters the envelope acts on, wherever they live: their norms, and scaling them.
public protocol EnvelopeGroups {
    /// The number of groups.
    var groupCount: Int { get }
    /// The Euclidean norm of every group (in Double).
    func groupNorms() -> [Double]
    /// Multiplies group i by `factors[i]`.
    func scaleGroups(by factors: [Double])
}

extension GroupEnvelope {
    /// Applies the proximal operator of `step` x S to `groups` in place; returns the number of
    /// groups that are non-zero afterwards.
    @discardableResult
    public func applyProx(to groups: some EnvelopeGroups, step: Double) -> Int {
        let norms = groups.groupNorms()
        let factors = proxFactors(norms: norms, step: step)
        groups.scaleGroups(by: factors)
        return zip(norms, factors).filter { $0 > 0 && $1 > 0 }.count
    }
}

/// The owned parts of a model's hidden units (`HiddenUnitGroups.Part.owned`, disjoint) in a store:
/// the groups the trainer applies the envelope to.
public struct OwnedHiddenUnits<S: BLASScalar>: EnvelopeGroups {
    /// The hidden units.
    public let units: HiddenUnitGroups
    /// The store holding their parameters.
    public let store: ParameterStore<S>

    /// The owned parts of `units` in `store`.
    public init(_ units: HiddenUnitGroups, in store: ParameterStore<S>) { self.units = units; self.store = store }

    public var groupCount: Int { units.hiddenSize }
    public func groupNorms() -> [Double] { units.norms(.owned, in: store) }
    public func scaleGroups(by factors: [Double]) { units.scaleOwned(by: factors, in: store) }
}
