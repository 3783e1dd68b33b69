// Adam and AdamW. References: torch.optim.Adam (L2 weight decay added to the gradient) and
// torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter 2019).
import Compute
import Linalg

/// Adam (`decoupledWeightDecay == false`, PyTorch `Adam`) or AdamW (`true`, PyTorch `AdamW`).
///
/// At step t: `g += wd * p` (Adam only) or `p *= 1 - lr * wd` (AdamW only);
/// `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2` (1 - b formed in Double, then rounded);
/// `p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
public struct Adam<Scalar: BLASScalar>: Optimizer {
    public var learningRate: Double
    /// beta1, beta2.
    public var betas: (Double, Double)
    /// Added to the denominator.
    public var epsilon: Double
    /// L2 (Adam) or decoupled (AdamW) weight decay.
    public var weightDecay: Double
    /// Whether weight decay is decoupled (AdamW).
    public let decoupledWeightDecay: Bool
    /// Tensors with a weight decay of their own (PyTorch parameter groups); the rest use `weightDecay`.
    public var parameterGroups: [ParameterGroup] = []
    /// Steps taken so far.
    public private(set) var stepCount = 0
    private var m = OptimizerBuffer<Scalar>()
    private var v = OptimizerBuffer<Scalar>()

    /// PyTorch `Adam` defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
    public init(learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.learningRate = learningRate; self.betas = betas; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = false
    }

    /// PyTorch `AdamW` defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public static func adamW(
        learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8,
        weightDecay: Double = 0.01
    ) -> Adam {
        Adam(learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay, decoupled: true)
    }

    private init(learningRate: Double, betas: (Double, Double), epsilon: Double, weightDecay: Double, decoupled: Bool) {
        self.learningRate = learningRate; self.betas = betas; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = decoupled
    }

    public var state: OptimizerState {
        get {
            OptimizerState(stepCount: stepCount, buffers: ["exp_avg": m.scalars.map(Double.init), "exp_avg_sq": v.scalars.map(Double.init)])
        }
        set {
            stepCount = newValue.stepCount
            m.scalars = (newValue.buffers["exp_avg"] ?? []).map { Scalar($0) }
            v.scalars = (newValue.buffers["exp_avg_sq"] ?? []).map { Scalar($0) }
        }
    }

    /// This optimizer's settings as the compute backends take them.
    public var settings: AdamSettings {
        AdamSettings(
            learningRate: learningRate, beta1: betas.0, beta2: betas.1, epsilon: epsilon, weightDecay: weightDecay,
            decoupled: decoupledWeightDecay)
    }

    @_specialize(where Scalar == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where Scalar == Double)
    public mutating func step(_ store: ParameterStore<Scalar>) {
        let n = store.totalCount
        m.prepare(count: n); v.prepare(count: n)
        // The moments leave `self` while the step runs over their memory.
        var (first, second) = (m.scalars, v.scalars)
        (m.scalars, v.scalars) = ([], [])
        defer { (m.scalars, v.scalars) = (first, second) }
        let cpu = CPUBackend(Scalar.self)
        first.withUnsafeMutableBufferPointer { a in
            second.withUnsafeMutableBufferPointer { b in
                onHost("Adam step") { try step(store.buffers(on: cpu), state: [cpu.buffer(wrapping: a), cpu.buffer(wrapping: b)]) }
            }
        }
        store.allValuesDidChange()
    }

    /// The first and the second moment.
    public var stateBufferNames: [String] { ["exp_avg", "exp_avg_sq"] }

    @_specialize(where Scalar == Float, Backend == CPUBackend<Float>)
    @_specialize(where Scalar == Double, Backend == CPUBackend<Double>)
    public mutating func step<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>, state: [ComputeBuffer<Scalar>]) throws
    where Backend.Scalar == Scalar {
        guard state.count == 2 else { throw ComputeError.invalidArgument("Adam takes 2 state buffers, got \(state.count)") }
        stepCount += 1
        try Adam.update(
            parameters, firstMoment: state[0], secondMoment: state[1], settings: settings, groups: parameterGroups, step: stepCount)
    }

    /// Step `t` (1-based) of Adam or AdamW on `parameters`, a store's tensors in a backend's
    /// memory, with the moments laid out like the store in the same memory, each run of tensors
    /// with one weight decay (`groups`, the rest `settings.weightDecay`) in one backend step, pruned
    /// entries masked before and after (`ParameterBuffers.optimizerStep`). The one implementation
    /// of the optimizer, on every backend.
    public static func update<Backend: ComputeBackend>(
        _ parameters: ParameterBuffers<Backend>, firstMoment: ComputeBuffer<Scalar>,
        secondMoment: ComputeBuffer<Scalar>, settings: AdamSettings, groups: [ParameterGroup], step t: Int
    ) throws where Backend.Scalar == Scalar {
        try parameters.optimizerStep(
            state: [firstMoment, secondMoment], defaultDecay: settings.weightDecay, groups: groups
        ) { values, gradients, moments, weightDecay in
            var run = settings
            run.weightDecay = weightDecay
            try parameters.backend.adamStep(
                parameters: values, gradients: gradients, firstMoment: moments[0], secondMoment: moments[1], settings: run, step: t)
        }
    }
}
