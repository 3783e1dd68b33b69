// Shared fixtures for the Sparsity tests: stores with recurrent-weight-shaped slots.
import Linalg
import NN

/// A store with one `(G * H) x H` slot per entry of `gates`, named like PyTorch's W_hh, filled with
/// N(0, 1) values whose magnitudes are at least `minimumMagnitude` (away from the |w| kink).
func recurrentStore<S: BLASScalar>(
    hiddenSize h: Int, gates: [Int], seed: UInt64, minimumMagnitude: Double = 0.05,
    as: S.Type = S.self
) -> (ParameterStore<S>, [ParameterSlot]) {
    var rng = SeededGenerator(seed: seed)
    let store = ParameterStore<S>()
    var slots: [ParameterSlot] = []
    for (layer, g) in gates.enumerated() {
        slots.append(
            store.add("rnn.weight_hh_l\(layer)", shape: [g * h, h]) {
                var v = rng.normal()
                while abs(v) < minimumMagnitude { v = rng.normal() }
                return S(v)
            })
    }
    return (store, slots)
}

/// A copy of a slot's values as Doubles.
func values<S: BLASScalar>(_ store: ParameterStore<S>, _ slot: ParameterSlot) -> [Double] {
    Array(UnsafeBufferPointer(start: store.value(slot), count: store.info(slot).count)).map { Double($0) }
}

/// A copy of a slot's gradient as Doubles.
func gradients<S: BLASScalar>(_ store: ParameterStore<S>, _ slot: ParameterSlot) -> [Double] {
    Array(UnsafeBufferPointer(start: store.gradient(slot), count: store.info(slot).count)).map { Double($0) }
}

/// A copy of a slot's mask as Doubles.
func mask<S: BLASScalar>(_ store: ParameterStore<S>, _ slot: ParameterSlot) -> [Double] {
    Array(UnsafeBufferPointer(start: store.mask(slot), count: store.info(slot).count)).map { Double($0) }
}
