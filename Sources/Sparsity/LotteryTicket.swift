// Lottery tickets: the paper's version (final masks on a freshly initialised model) and Frankle &
// Carbin's rewinding (surviving weights reset to their initial values). Reference: docs/method.md section 3.
import Linalg
import NN

/// Why masks could not be moved between two stores.
public enum LotteryTicketError: Error, Equatable, CustomStringConvertible {
    /// A masked tensor of the trained store has no tensor of the same name in the other store.
    case missingTensor(String)
    /// A tensor has different shapes in the two stores.
    case shapeMismatch(name: String, trained: [Int], other: [Int])
    /// Rewinding needs a snapshot with exactly the same layout.
    case layoutMismatch

    /// A sentence saying what is wrong.
    public var description: String {
        switch self {
        case .missingTensor(let n): return "Lottery ticket: tensor \(n) is masked in the trained model but missing in the new one"
        case .shapeMismatch(let n, let a, let b):
            return "Lottery ticket: tensor \(n) has shape \(a) in the trained model and \(b) in the new one"
        case .layoutMismatch: return "Lottery ticket: the initial snapshot has a different parameter layout"
        }
    }
}

/// Lottery-ticket retraining setups (docs/method.md 3).
public enum LotteryTicket {
    /// The paper's version: copies the masks of every masked tensor of `trained` into the tensor of
    /// the same name in `fresh` (a freshly initialised model with the same layout and a new seed),
    /// enables them and zeroes the pruned weights. Unmasked tensors of `fresh` are left as they
    /// are. Returns the names of the tensors that received masks.
    @discardableResult
    public static func transferMasks<S: BLASScalar>(
        from trained: ParameterStore<S>,
        to fresh: ParameterStore<S>
    ) throws -> [String] {
        var moved: [String] = []
        for slot in trained.slots where trained.isMasked[slot.index] {
            let info = trained.info(slot)
            guard let target = fresh.slot(named: info.name) else { throw LotteryTicketError.missingTensor(info.name) }
            guard fresh.info(target).shape == info.shape else {
                throw LotteryTicketError.shapeMismatch(name: info.name, trained: info.shape, other: fresh.info(target).shape)
            }
            fresh.mask(target).update(from: trained.mask(slot), count: info.count)
            fresh.enableMask(target)
            moved.append(info.name)
        }
        return moved
    }

    /// Frankle & Carbin rewinding: every value of `store` is reset to the snapshot `initial`
    /// (`store.copy()` taken right after initialisation, same layout), then the masks of `store`
    /// are applied, so surviving weights hold their initial values and pruned ones are 0. Learned
    /// positions in the store are rewound too. Gradients are zeroed.
    public static func rewind<S: BLASScalar>(_ store: ParameterStore<S>, to initial: ParameterStore<S>) throws {
        guard initial.infos == store.infos else { throw LotteryTicketError.layoutMismatch }
        store.copyValues(from: initial)
        store.applyMasks()
        store.zeroGradients()
    }
}
