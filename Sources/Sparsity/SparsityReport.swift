// Sparsity of a model's tensors: per tensor, pooled over the pruned tensors, and W_hh alone, with
// the paper's log count of |w| < 1e-3 in W_hh. Reference: docs/method.md section 3 (sparsity reporting).
import Linalg
import NN

/// How sparse a model is, per tensor and pooled (Codable for run records).
///
/// `sparsity` is mask-based (pruned entries / entries); `zeros` counts values exactly 0 and
/// `small` values with |w| < `smallThreshold` (the paper's logs count |w| < 1e-3 in W_hh, which
/// also catches weights the regularizer drove near 0 without pruning).
public struct SparsityReport: Codable, Sendable, Equatable {
    /// Counts for one tensor or a pool of tensors.
    public struct Entry: Codable, Sendable, Equatable {
        /// Tensor name, or `pooled` / `weight_hh` for the pools.
        public var name: String
        /// Number of entries.
        public var count: Int
        /// Entries with mask 0.
        public var pruned: Int
        /// Entries whose value is exactly 0.
        public var zeros: Int
        /// Entries with |w| < the report's `smallThreshold`.
        public var small: Int
        /// pruned / count.
        public var sparsity: Double
        /// small / count.
        public var smallFraction: Double

        /// Counts of a tensor (or pool) from its parts.
        public init(name: String, count: Int, pruned: Int, zeros: Int, small: Int) {
            self.name = name; self.count = count; self.pruned = pruned; self.zeros = zeros; self.small = small
            sparsity = count == 0 ? 0 : Double(pruned) / Double(count)
            smallFraction = count == 0 ? 0 : Double(small) / Double(count)
        }

        static func + (a: Entry, b: Entry) -> Entry {
            Entry(
                name: a.name, count: a.count + b.count, pruned: a.pruned + b.pruned, zeros: a.zeros + b.zeros,
                small: a.small + b.small)
        }
    }

    /// One entry per listed tensor, in the given order.
    public var tensors: [Entry]
    /// The pool of all listed tensors (name `pooled`).
    public var pooled: Entry
    /// The pool of the recurrent weights W_hh (name `weight_hh`), mask-based like the others.
    public var recurrent: Entry
    /// The threshold of `small` (default 1e-3).
    public var smallThreshold: Double

    /// The paper's log value: the number of W_hh entries with |w| < `smallThreshold`.
    public var recurrentSmallCount: Int { recurrent.small }

    /// Counts `slots` (typically the pruned tensors) and `recurrentSlots` (every W_hh) in `store`.
    public init<S: BLASScalar>(
        store: ParameterStore<S>, slots: [ParameterSlot], recurrentSlots: [ParameterSlot],
        smallThreshold: Double = 1e-3
    ) {
        func entry(_ slot: ParameterSlot) -> Entry {
            let info = store.info(slot), w = store.value(slot), m = store.mask(slot)
            var pruned = 0, zeros = 0, small = 0
            for i in 0..<info.count {
                if m[i] == 0 { pruned += 1 }
                let v = Double(w[i])
                if v == 0 { zeros += 1 }
                if Swift.abs(v) < smallThreshold { small += 1 }
            }
            return Entry(name: info.name, count: info.count, pruned: pruned, zeros: zeros, small: small)
        }
        let empty = Entry(name: "", count: 0, pruned: 0, zeros: 0, small: 0)
        tensors = slots.map(entry)
        var pooled = tensors.reduce(empty, +)
        pooled.name = "pooled"
        self.pooled = pooled
        var recurrent = recurrentSlots.map(entry).reduce(empty, +)
        recurrent.name = "weight_hh"
        self.recurrent = recurrent
        self.smallThreshold = smallThreshold
    }
}
