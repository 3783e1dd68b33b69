// PyTorch's default initialisations, drawn from an explicit seeded generator.
// Reference: torch.nn.Linear.reset_parameters, torch.nn.RNNBase.reset_parameters, torch.nn.Embedding.
import Linalg

/// Initial values for parameters.
public enum Initialization: Sendable, Equatable {
    /// U(-bound, bound).
    case uniform(bound: Double)
    /// N(0, std^2).
    case normal(std: Double)
    /// All zeros.
    case zeros

    /// PyTorch's Linear default, U(-1/sqrt(fanIn), 1/sqrt(fanIn)), also its recurrent default with fanIn = H.
    public static func pytorchDefault(fanIn: Int) -> Initialization { .uniform(bound: 1 / Double(fanIn).squareRoot()) }

    /// Fills `count` scalars at `p`.
    package func fill<S: BLASScalar>(_ p: UnsafeMutablePointer<S>, count: Int, rng: inout SeededGenerator) {
        switch self {
        case .uniform(let b): for i in 0..<count { p[i] = S(rng.uniform(-b, b)) }
        case .normal(let s): for i in 0..<count { p[i] = S(rng.normal(std: s)) }
        case .zeros: p.update(repeating: 0, count: count)
        }
    }
}

extension ParameterStore {
    /// Registers a tensor and fills it with `initialization`.
    @discardableResult
    public func add(_ name: String, shape: [Int], _ initialization: Initialization, rng: inout SeededGenerator) -> ParameterSlot {
        let slot = add(name, shape: shape)
        initialization.fill(value(slot), count: info(slot).count, rng: &rng)
        return slot
    }

    /// Re-draws a tensor's values.
    public func reinitialize(_ slot: ParameterSlot, _ initialization: Initialization, rng: inout SeededGenerator) {
        initialization.fill(value(slot), count: info(slot).count, rng: &rng)
        valuesDidChange(slot)
    }
}
