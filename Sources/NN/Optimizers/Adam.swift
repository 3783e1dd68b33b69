// Adam and AdamW. References: torch.optim.Adam (L2 weight decay added to the gradient) and
// torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter 2019).
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

    @_specialize(where Scalar == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where Scalar == Double)
    public mutating func step(_ store: ParameterStore<Scalar>) {
        store.maskGradients()
        let n = store.totalCount
        m.prepare(count: n); v.prepare(count: n)
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - Double.pow(betas.0, t), bc2 = 1 - Double.pow(betas.1, t)
        let stepSize = Scalar(learningRate / bc1), bc2Root = Scalar(bc2.squareRoot())
        // 1 - beta is formed in Double and then rounded, as PyTorch does: in Float, 1 - Float(0.999)
        // is 1.3e-5 short of 0.001, which made every Float update 6.4e-6 (relative) too large.
        let b1 = Scalar(betas.0), b2 = Scalar(betas.1), c1 = Scalar(1 - betas.0), c2 = Scalar(1 - betas.1), eps = Scalar(epsilon)
        let p = store.values, g = store.gradients
        let decoupled = decoupledWeightDecay, lr = learningRate
        m.scalars.withUnsafeMutableBufferPointer { mb in
            v.scalars.withUnsafeMutableBufferPointer { vb in
                store.forEachWeightDecayRun(default: weightDecay, groups: parameterGroups) { range, weightDecay in
                    let l2 = decoupled ? 0 : Scalar(weightDecay)
                    let decay = decoupled ? Scalar(1 - lr * weightDecay) : 1
                    // Float runs 8 lanes at a time (the scalar loop does not vectorize), with identical
                    // results: each lane does the same IEEE operations.
                    // Ranges of the run on the worker pool: each entry's update is the same wherever it runs.
                    let (pp, gp, mp, vp) = (p.baseAddress!, g.baseAddress!, mb.baseAddress!, vb.baseAddress!)
                    Parallel.forEachChunk(count: range.count, minimumChunk: Parallel.minimumElementwiseChunk) { sub in
                        let at = range.lowerBound + sub.lowerBound
                        Scalar.adamUpdate(
                            parameters: pp + at, gradients: gp + at, firstMoments: mp + at, secondMoments: vp + at,
                            count: sub.count, l2: l2, b1: b1, b2: b2, c1: c1, c2: c2, stepSize: stepSize,
                            bc2Root: bc2Root, eps: eps, decay: decay)
                    }
                }
                store.maskState(mb.baseAddress!)
                store.maskState(vb.baseAddress!)
            }
        }
        store.applyMasks()
        store.allValuesDidChange()
    }
}
