// Stochastic gradient descent with optional momentum and L2 weight decay. Reference: torch.optim.SGD.
import Linalg

/// PyTorch's SGD: `g += wd * p; buf = momentum * buf + (1 - dampening) * g` (buf = g at the first
/// step); `p -= lr * (nesterov ? g + momentum * buf : buf)`; with momentum 0, `p -= lr * g`.
public struct SGD<Scalar: BLASScalar>: Optimizer {
    public var learningRate: Double
    /// Momentum factor (0 = plain SGD).
    public var momentum: Double
    /// Dampening of the momentum.
    public var dampening: Double
    /// L2 penalty added to the gradient.
    public var weightDecay: Double
    /// Nesterov momentum.
    public var nesterov: Bool
    /// Tensors with a weight decay of their own (PyTorch parameter groups); the rest use `weightDecay`.
    public var parameterGroups: [ParameterGroup] = []
    private var buffer = OptimizerBuffer<Scalar>()
    private var stepCount = 0
    private var started: Bool { stepCount > 0 }

    /// PyTorch's defaults except the learning rate, which PyTorch requires.
    public init(learningRate: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov
    }

    public var state: OptimizerState {
        get { OptimizerState(stepCount: stepCount, buffers: ["momentum_buffer": buffer.scalars.map(Double.init)]) }
        set {
            stepCount = newValue.stepCount
            buffer.scalars = (newValue.buffers["momentum_buffer"] ?? []).map { Scalar($0) }
        }
    }

    @_specialize(where Scalar == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where Scalar == Double)
    public mutating func step(_ store: ParameterStore<Scalar>) {
        store.maskGradients()
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!, n = store.totalCount
        let lr = Scalar(learningRate), mu = Scalar(momentum), damp = Scalar(1 - dampening)
        let first = !started, nesterov = nesterov
        if momentum == 0 {
            store.forEachWeightDecayRun(default: weightDecay, groups: parameterGroups) { range, weightDecay in
                let at = range.lowerBound
                Kernels.sgdUpdate(
                    parameters: p + at, gradients: g + at, momentumBuffer: nil, count: range.count, learningRate: lr,
                    weightDecay: Scalar(weightDecay), momentum: mu, oneMinusDampening: damp, nesterov: nesterov,
                    firstStep: first)
            }
        } else {
            buffer.prepare(count: n)
            buffer.scalars.withUnsafeMutableBufferPointer { b in
                store.forEachWeightDecayRun(default: weightDecay, groups: parameterGroups) { range, weightDecay in
                    let at = range.lowerBound
                    Kernels.sgdUpdate(
                        parameters: p + at, gradients: g + at, momentumBuffer: b.baseAddress! + at, count: range.count,
                        learningRate: lr, weightDecay: Scalar(weightDecay), momentum: mu, oneMinusDampening: damp,
                        nesterov: nesterov, firstStep: first)
                }
                store.maskState(b.baseAddress!)
            }
        }
        stepCount += 1
        store.applyMasks()
        store.allValuesDidChange()
    }
}
