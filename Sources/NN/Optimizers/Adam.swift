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
    public static func adamW(learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8,
                             weightDecay: Double = 0.01) -> Adam {
        Adam(learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay, decoupled: true)
    }

    private init(learningRate: Double, betas: (Double, Double), epsilon: Double, weightDecay: Double, decoupled: Bool) {
        self.learningRate = learningRate; self.betas = betas; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupledWeightDecay = decoupled
    }

    public var state: OptimizerState {
        get { OptimizerState(stepCount: stepCount, buffers: ["exp_avg": m.scalars.map(Double.init), "exp_avg_sq": v.scalars.map(Double.init)]) }
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
                    var start = range.lowerBound
                    if Scalar.self == Float.self, range.count >= 8 {
                        // The same formula 8 lanes at a time (the scalar loop does not vectorize): about
                        // twice as fast, with identical results (each lane does the same IEEE operations).
                        func f(_ x: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
                            UnsafeMutableRawPointer(x + range.lowerBound).assumingMemoryBound(to: Float.self)
                        }
                        func s(_ x: Scalar) -> Float { unsafeBitCast(x, to: Float.self) }
                        start += Adam.updateLanes(p: f(p.baseAddress!), g: f(g.baseAddress!), m: f(mb.baseAddress!),
                                                  v: f(vb.baseAddress!), count: range.count, l2: s(l2), b1: s(b1), b2: s(b2), c1: s(c1), c2: s(c2),
                                                  stepSize: s(stepSize), bc2Root: s(bc2Root), eps: s(eps), decay: s(decay))
                    }
                    for i in start..<range.upperBound {
                        let gi = g[i] + l2 * p[i]
                        let mi = b1 * mb[i] + c1 * gi
                        let vi = b2 * vb[i] + c2 * gi * gi
                        mb[i] = mi; vb[i] = vi
                        p[i] = p[i] * decay - stepSize * mi / (vi.squareRoot() / bc2Root + eps)
                    }
                }
                store.maskState(mb.baseAddress!)
                store.maskState(vb.baseAddress!)
            }
        }
        store.applyMasks()
    }

    /// The Float update of `step`, 8 lanes at a time over the first `count - count % 8` entries;
    /// returns how many entries it did.
    @inline(__always)
    static func updateLanes(p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                            v: UnsafeMutablePointer<Float>, count: Int, l2: Float, b1: Float, b2: Float, c1: Float, c2: Float,
                            stepSize: Float, bc2Root: Float, eps: Float, decay: Float) -> Int {
        @inline(__always) func load(_ x: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func store(_ x: SIMD8<Float>, _ to: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(to).storeBytes(of: x, as: SIMD8<Float>.self)
        }
        var i = 0
        while i + 8 <= count {
            let pi = load(p + i)
            let gi = load(g + i) + l2 * pi
            let mi = b1 * load(m + i) + c1 * gi
            let vi = b2 * load(v + i) + c2 * gi * gi
            store(mi, m + i); store(vi, v + i)
            store(pi * decay - stepSize * mi / (vi.squareRoot() / bc2Root + eps), p + i)
            i += 8
        }
        return i
    }
}
