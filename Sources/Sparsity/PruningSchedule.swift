// Pruning schedules: the sparsity target at each pruning event. The paper's linear per-epoch
// schedule and the cubic schedule of Zhu & Gupta (2017). Reference: docs/method.md section 3.

/// A function from a pruning event index (an epoch, or a training step) to a target sparsity
/// (the fraction of pruned entries), or nil where no pruning happens at that event.
///
/// Every schedule is non-decreasing over the events where it prunes and ends at `finalTarget`.
/// Masks only grow, so after the last event the sparsity stays at the final target.
public enum PruningSchedule: Codable, Sendable, Equatable {
    /// Never prune.
    case none
    /// The paper's schedule: at the start of epoch e, `s_e = target * e / (E - 1)` for
    /// e = 1 ... E-1 (none at e = 0; none after E - 1). E = `epochs`.
    case linear(target: Double, epochs: Int)
    /// Zhu & Gupta (2017): at events t = t0 + k dt, k = 0 ... n,
    /// `s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3`; none elsewhere.
    /// t0 = `start`, dt = `interval`, n = `steps`, s_i = `initial`, s_f = `final`.
    case cubic(initial: Double, final: Double, start: Int, interval: Int, steps: Int)
    /// Any schedule given as a table: event e in 0..<table.count prunes to `table[e]`, unless the
    /// entry is nil (no pruning at that event); none after the table.
    case table([Double?])

    /// A schedule tabulated from a function for events 0..<events (return nil for no pruning).
    public init(events: Int, _ target: (Int) -> Double?) {
        self = .table((0..<events).map { target($0) })
    }

    /// The target sparsity at event `e`, or nil where this schedule does not prune.
    public func target(atEvent e: Int) -> Double? {
        switch self {
        case .none:
            return nil
        case .linear(let target, let epochs):
            guard epochs >= 2, e >= 1, e <= epochs - 1 else { return nil }
            return target * Double(e) / Double(epochs - 1)
        case .cubic(let initial, let final, let start, let interval, let steps):
            guard e >= start, interval >= 1, (e - start) % interval == 0 else { return nil }
            let k = (e - start) / interval
            guard k <= steps else { return nil }
            guard steps > 0 else { return final }
            if k == 0 { return initial }
            let remaining = 1 - Double(k) / Double(steps)
            return final + (initial - final) * remaining * remaining * remaining
        case .table(let values):
            guard e >= 0, e < values.count else { return nil }
            return values[e]
        }
    }

    /// The last target this schedule prunes to (0 for `none` or an empty table).
    public var finalTarget: Double {
        switch self {
        case .none: return 0
        case .linear(let target, let epochs): return epochs >= 2 ? target : 0
        case .cubic(_, let final, _, _, _): return final
        case .table(let values): return values.last { $0 != nil }.flatMap { $0 } ?? 0
        }
    }

    /// The index of the last event at which this schedule prunes (nil if it never does).
    public var lastEvent: Int? {
        switch self {
        case .none: return nil
        case .linear(_, let epochs): return epochs >= 2 ? epochs - 1 : nil
        case .cubic(_, _, let start, let interval, let steps): return start + max(0, steps) * max(1, interval)
        case .table(let values): return values.lastIndex { $0 != nil }
        }
    }
}
