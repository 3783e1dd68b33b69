// Stochastic gradient descent with optional momentum and L2 weight decay. Reference: torch.optim.SGD.
import Compute
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

    /// This optimizer's settings as the compute backends take them.
    public var settings: SGDSettings {
        SGDSettings(learningRate: learningRate, momentum: momentum, dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
    }

    @_specialize(where Scalar == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where Scalar == Double)
    public mutating func step(_ store: ParameterStore<Scalar>) {
        let cpu = CPUBackend(Scalar.self)
        if momentum == 0 {
            onHost("SGD step") { try step(store.buffers(on: cpu), state: []) }
        } else {
            buffer.prepare(count: store.totalCount)
            // The buffer leaves `self` while the step runs over its memory.
            var momentumBuffer = buffer.scalars
            buffer.scalars = []
            defer { buffer.scalars = momentumBuffer }
            momentumBuffer.withUnsafeMutableBufferPointer { b in
                onHost("SGD step") { try step(store.buffers(on: cpu), state: [cpu.buffer(wrapping: b)]) }
            }
        }
        store.allValuesDidChange()
    }

    /// The momentum buffer (none without momentum).
    public var stateBufferNames: [String] { momentum == 0 ? [] : ["momentum_buffer"] }

    @_specialize(where Scalar == Float, Backend == CPUBackend<Float>)
    @_specialize(where Scalar == Double, Backend == CPUBackend<Double>)
    public mutating func step<Backend: ComputeBackend>(_ parameters: ParameterBuffers<Backend>, state: [ComputeBuffer<Scalar>]) throws
    where Backend.Scalar == Scalar {
        guard state.count == stateBufferNames.count else {
            throw ComputeError.invalidArgument("SGD takes \(stateBufferNames.count) state buffers, got \(state.count)")
        }
        try SGD.update(parameters, momentumBuffer: state.first, settings: settings, groups: parameterGroups, firstStep: !started)
        stepCount += 1
    }

    /// One SGD step on `parameters`, a store's tensors in a backend's memory, with the
    /// momentum buffer (nil without momentum) laid out like the store in the same memory, each run
    /// of tensors with one weight decay (`groups`, the rest `settings.weightDecay`) in one backend
    /// step, pruned entries masked before and after (`ParameterBuffers.optimizerStep`). The one
    /// implementation of the optimizer, on every backend.
    public static func update<Backend: ComputeBackend>(
        _ parameters: ParameterBuffers<Backend>, momentumBuffer: ComputeBuffer<Scalar>?,
        settings: SGDSettings, groups: [ParameterGroup], firstStep: Bool
    ) throws where Backend.Scalar == Scalar {
        try parameters.optimizerStep(
            state: momentumBuffer.map { [$0] } ?? [], defaultDecay: settings.weightDecay, groups: groups
        ) { values, gradients, buffer, weightDecay in
            var run = settings
            run.weightDecay = weightDecay
            try parameters.backend.sgdStep(
                parameters: values, gradients: gradients, momentumBuffer: buffer.first, settings: run, firstStep: firstStep)
        }
    }
}
