// Gradual global magnitude pruning with growing masks: one threshold over the pooled weights of the
// listed tensors, an exact target count, and per-tensor targets as an option. Reference: docs/method.md 3.
import Compute
import Linalg
import NN

/// What one pruning event did.
public struct PruningEvent: Codable, Sendable, Equatable {
    /// The event index (epoch or step) the schedule was asked about.
    public var event: Int
    /// The pooled target sparsity (global pruning), or the schedule's target (per-tensor pruning).
    public var target: Double
    /// The target of each tensor, in the pruner's slot order (per-tensor pruning only).
    public var tensorTargets: [Double]?
    /// Entries pruned at this event.
    public var newlyPruned: Int
    /// The pooled sparsity of the listed tensors after the event (pruned / total, mask-based).
    public var achieved: Double
}

/// Gradual magnitude pruning over a fixed list of tensors (docs/method.md 3).
///
/// Global pruning (the paper's): at an event with target s, exactly `k = round(s * total)` of the
/// pooled entries are pruned afterwards, where `total` is the number of entries of all listed
/// tensors together and `round` rounds half away from zero. Entries already pruned (mask 0) count
/// first and stay pruned (masks only grow); the remaining `k - alreadyPruned` are the unpruned
/// entries that come first in the order (|w|, position of the tensor in `slots`, flat index):
/// smallest magnitude first, ties broken by tensor order and then by index. If more entries are
/// already pruned than k, nothing changes. NaN weights are never pruned.
///
/// Per-tensor pruning (option): tensor t gets its own target `s_t(e) = tensorTargets[t] * s(e) /
/// schedule.finalTarget` (the schedule's shape scaled to each final target), applied with the same
/// rule within that tensor alone.
///
/// Pruning sets the store's masks (`store.mask(slot)` to 0, `store.enableMask(slot)`) and zeroes the
/// pruned weights; the optimizers then keep them exactly 0 (they mask the update and the moments).
/// Biases are never pruned unless listed.
public struct GradualMagnitudePruner: Codable, Sendable, Equatable {
    /// The tensors pooled by this pruner, in tie-breaking order.
    public var slots: [ParameterSlot]
    /// The schedule: target sparsity per event.
    public var schedule: PruningSchedule
    /// Final per-tensor targets (same order as `slots`), or nil for one global threshold.
    public var tensorTargets: [Double]?

    /// A pruner over `slots` with a schedule; pass `tensorTargets` (one per slot) for per-tensor pruning.
    public init(slots: [ParameterSlot], schedule: PruningSchedule, tensorTargets: [Double]? = nil) {
        precondition(
            tensorTargets == nil || tensorTargets!.count == slots.count,
            "GradualMagnitudePruner: \(tensorTargets?.count ?? 0) per-tensor targets for \(slots.count) tensors")
        self.slots = slots
        self.schedule = schedule
        self.tensorTargets = tensorTargets
    }

    /// Prunes for event `e` if the schedule prunes there; returns what happened, or nil.
    @discardableResult
    @_specialize(where S == Float)  // called from the trainer in another module
    @_specialize(where S == Double)
    public func prune<S: BLASScalar>(atEvent e: Int, in store: ParameterStore<S>) -> PruningEvent? {
        guard let target = schedule.target(atEvent: e) else { return nil }
        if let tensorTargets {
            let final = schedule.finalTarget
            let scaled = tensorTargets.map { final > 0 ? $0 * target / final : 0 }
            var newly = 0
            for (slot, s) in zip(slots, scaled) { newly += Self.prune([slot], toSparsity: s, in: store) }
            return PruningEvent(
                event: e, target: target, tensorTargets: scaled, newlyPruned: newly,
                achieved: Self.sparsity(of: slots, in: store))
        }
        let newly = Self.prune(slots, toSparsity: target, in: store)
        return PruningEvent(
            event: e, target: target, tensorTargets: nil, newlyPruned: newly,
            achieved: Self.sparsity(of: slots, in: store))
    }

    /// Global magnitude pruning of the pooled `slots` to sparsity `s` (clamped to [0, 1]) with the
    /// exact-count rule of the type's documentation. Returns the number of newly pruned entries.
    @discardableResult
    @_specialize(where S == Float)  // called from the trainer in another module
    @_specialize(where S == Double)
    public static func prune<S: BLASScalar>(
        _ slots: [ParameterSlot], toSparsity s: Double,
        in store: ParameterStore<S>
    ) -> Int {
        let total = slots.reduce(0) { $0 + store.info($1).count }
        guard total > 0 else { return 0 }
        let k = Int((Swift.min(Swift.max(s, 0), 1) * Double(total)).rounded(.toNearestOrAwayFromZero))
        var alreadyPruned = 0, notANumber = 0
        for slot in slots {
            let w = store.value(slot), m = store.mask(slot)
            for i in 0..<store.info(slot).count {
                if m[i] == 0 {
                    alreadyPruned += 1
                    w[i] = 0  // a pruned entry is 0 (the store and the optimizers keep it so): the threshold below needs it
                } else if w[i].isNaN {
                    notANumber += 1
                }
            }
        }
        let need = Swift.min(k - alreadyPruned, total - alreadyPruned - notANumber)
        guard need > 0 else { return 0 }
        // The threshold: the backend's k-th smallest magnitude over the pooled values. Pruned
        // entries are 0, the smallest magnitude, so the (alreadyPruned + need)-th of all entries is
        // the need-th of the unpruned ones; NaN sorts last and is never reached.
        let cpu = CPUBackend(S.self), buffers = store.buffers(on: cpu)
        let threshold: Double
        do { threshold = Double(try cpu.kthSmallestMagnitude(of: slots.map { try buffers.value($0) }, k: alreadyPruned + need)) } catch {
            preconditionFailure("the pruning threshold: \(error)")  // sizes from the store itself
        }
        var below = 0
        for slot in slots {
            let w = store.value(slot), m = store.mask(slot)
            for i in 0..<store.info(slot).count where m[i] != 0 && Double(Swift.abs(w[i])) < threshold { below += 1 }
        }
        var ties = need - below
        var pruned = 0
        for slot in slots {
            let w = store.value(slot), m = store.mask(slot)
            for i in 0..<store.info(slot).count where m[i] != 0 {
                let a = Double(Swift.abs(w[i]))
                if a < threshold || (a == threshold && ties > 0) {
                    if a == threshold { ties -= 1 }
                    m[i] = 0
                    w[i] = 0
                    pruned += 1
                }
            }
            store.enableMask(slot)
        }
        return pruned
    }

    /// Pooled mask-based sparsity of `slots`: (entries with mask 0) / (all entries).
    @_specialize(where S == Float)  // called from the trainer in another module
    @_specialize(where S == Double)
    public static func sparsity<S: BLASScalar>(of slots: [ParameterSlot], in store: ParameterStore<S>) -> Double {
        var total = 0, pruned = 0
        for slot in slots {
            let m = store.mask(slot), n = store.info(slot).count
            total += n
            for i in 0..<n where m[i] == 0 { pruned += 1 }
        }
        return total == 0 ? 0 : Double(pruned) / Double(total)
    }
}
