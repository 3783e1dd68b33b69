// The task-neutral part of a run's configuration: optimizer, learning-rate schedule, clipping, the
// moduli penalty, pruning, the lottery phase, and the cadence of evaluation, logging and checkpoints.
// Reference: docs/method.md sections 2 and 3; each task's defaults follow its section of the paper.
import Foundation
import Geometry
import NN
import Sparsity

/// How the final masks are retrained after sparse training (docs/method.md section 3).
public enum LotteryMode: String, Codable, Sendable, CaseIterable {
    /// No lottery-ticket phase.
    case none
    /// The paper's version: fresh random weights (and a fresh embedding draw) under the final masks.
    case random
    /// Frankle & Carbin: surviving weights reset to their initial values.
    case rewind
}

/// The pruning schedule's shape.
public enum ScheduleShape: String, Codable, Sendable, CaseIterable {
    /// The paper's: at the start of period e, target * e / (E - 1).
    case linear
    /// Zhu & Gupta (2017): target * (1 - (1 - e / (E - 1))^3).
    case cubic
}

/// Which kernels run the products with the recurrent weights W_hh and with the pruned weights of
/// linear layers (`ParameterRoles.linears`: encoders, decoders, heads).
public enum RecurrentKernels: String, Codable, Sendable, CaseIterable {
    /// At every pruning event (and at the start of the lottery phase), each pruned weight gets the
    /// sparse kernels (CSR at the mask's pattern) or the dense GEMMs, whichever multiplies it
    /// faster at the step's rows and the run's threads (`KernelChoice`; small weights by density
    /// alone). The choices are recorded in metrics.jsonl and the checkpoint, and a resume reuses
    /// them.
    case auto
    /// Dense GEMMs throughout (pruned weights are multiplied as zeros).
    case dense
    /// The sparse kernels for every pruned weight from its first pruning event, whatever its
    /// density: a choice fixed in advance, so that a run computes the same bits on any machine.
    case sparse
}

/// The optimizer of a run, with PyTorch's meaning of every field.
public struct OptimizerConfig: Codable, Sendable, Equatable {
    /// Which update rule.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// torch.optim.SGD (momentum, Nesterov, L2 weight decay).
        case sgd
        /// torch.optim.Adam (L2 weight decay added to the gradient).
        case adam
        /// torch.optim.AdamW (decoupled weight decay).
        case adamw
    }
    /// The update rule.
    public var kind: Kind
    /// Learning rate at the start (schedules change it).
    public var learningRate: Double
    /// Weight decay of every parameter except learned neuron positions, which get none.
    public var weightDecay: Double
    /// SGD momentum (0 = plain SGD).
    public var momentum: Double
    /// SGD Nesterov momentum.
    public var nesterov: Bool

    /// An optimizer from its parts.
    public init(kind: Kind, learningRate: Double, weightDecay: Double = 0, momentum: Double = 0, nesterov: Bool = false) {
        self.kind = kind; self.learningRate = learningRate; self.weightDecay = weightDecay
        self.momentum = momentum; self.nesterov = nesterov
    }

    /// Checks every value; the error names the option.
    public func validate() throws {
        try require(
            learningRate > 0 && learningRate.isFinite,
            "\(optionLabel("optimizer.learningRate")) must be a positive number, got \(learningRate).")
        try require(
            weightDecay >= 0 && weightDecay.isFinite, "\(optionLabel("optimizer.weightDecay")) must be 0 or positive, got \(weightDecay).")
        try require(momentum >= 0 && momentum < 1, "\(optionLabel("optimizer.momentum")) must be in [0, 1), got \(momentum).")
        try require(
            !nesterov || (kind == .sgd && momentum > 0),
            """
            \(optionLabel("optimizer.nesterov")) needs \(optionLabel("optimizer.kind")) sgd with \(optionLabel("optimizer.momentum")) \
            above 0.
            """
        )
        try require(
            kind == .sgd || momentum == 0, "\(optionLabel("optimizer.momentum")) applies to \(optionLabel("optimizer.kind")) sgd only.")
    }
}

/// How the learning rate changes during a phase. Each phase starts again from the configured rate.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// The shape of the schedule.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The configured rate throughout.
        case constant
        /// Linear warm-up from rate / warmupSteps to the rate over the first `warmupSteps` steps.
        case warmup
        /// Divide by `factor` after an evaluation whose primary metric did not improve on the best
        /// so far (the language model's lr / 4 on a validation plateau).
        case plateau
    }
    /// The shape.
    public var kind: Kind
    /// Steps of linear warm-up (`warmup` only).
    public var warmupSteps: Int
    /// Division factor on a plateau (`plateau` only).
    public var factor: Double

    /// A schedule from its parts.
    public init(kind: Kind = .constant, warmupSteps: Int = 0, factor: Double = 4) {
        self.kind = kind; self.warmupSteps = warmupSteps; self.factor = factor
    }

    /// The configured rate throughout.
    public static let constant = LearningRateSchedule()

    /// Checks every value; the error names the option.
    public func validate() throws {
        try require(
            kind != .warmup || warmupSteps >= 1,
            "\(optionLabel("learningRateSchedule.warmupSteps")) must be at least 1 with \(optionLabel("learningRateSchedule.kind")) warmup."
        )
        try require(warmupSteps >= 0, "\(optionLabel("learningRateSchedule.warmupSteps")) must be 0 or more, got \(warmupSteps).")
        try require(
            kind != .plateau || (factor > 1 && factor.isFinite),
            "\(optionLabel("learningRateSchedule.factor")) must be above 1, got \(factor).")
    }
}

/// Gradual magnitude pruning of the task's pruned tensors (docs/method.md section 3).
public struct PruningConfig: Codable, Sendable, Equatable {
    /// Final pooled sparsity (0 = no pruning).
    public var targetSparsity: Double
    /// The schedule's shape.
    public var schedule: ScheduleShape
    /// Steps between pruning events; nil = one event at the start of every epoch (the paper's).
    public var everySteps: Int?
    /// Per-tensor final targets in the order of the task's pruned tensors; nil = one global threshold.
    public var tensorTargets: [Double]?

    /// Pruning from its parts; the default prunes nothing.
    public init(
        targetSparsity: Double = 0, schedule: ScheduleShape = .linear, everySteps: Int? = nil,
        tensorTargets: [Double]? = nil
    ) {
        self.targetSparsity = targetSparsity; self.schedule = schedule
        self.everySteps = everySteps; self.tensorTargets = tensorTargets
    }
}

/// The group envelope regularizer on the hidden units (docs/method.md, "Group envelope
/// regularization"): after every optimizer step, the proximal operator of learning rate x
/// `lambda` x S, the weighted group sparse envelope with `keptUnits` kept groups, on each hidden
/// unit's parameters; at the end of each phase the `keptUnits` largest units are kept and the
/// others removed.
public struct GroupEnvelopeConfig: Codable, Sendable, Equatable {
    /// k, the hidden units the envelope keeps (1 ... H).
    public var keptUnits: Int
    /// The weight of the envelope: the proximal step is the learning rate x lambda.
    public var lambda: Double
    /// The group weights d_j, one per hidden unit; nil (the default): every weight is 1.
    public var weights: [Double]?

    /// The default lambda.
    public static let defaultLambda = 0.01

    /// The envelope keeping `keptUnits` units.
    public init(keptUnits: Int, lambda: Double = Self.defaultLambda, weights: [Double]? = nil) {
        self.keptUnits = keptUnits; self.lambda = lambda; self.weights = weights
    }

    private enum CodingKeys: String, CodingKey { case keptUnits, lambda, weights }

    /// Reads a section in which `lambda` and `weights` may be absent (their defaults).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keptUnits = try c.decode(Int.self, forKey: .keptUnits)
        lambda = try c.decodeIfPresent(Double.self, forKey: .lambda) ?? Self.defaultLambda
        weights = try c.decodeIfPresent([Double].self, forKey: .weights)
    }

    /// Checks the values that do not depend on the model; the error names the option.
    public func validate() throws {
        try require(
            keptUnits >= 1,
            """
            \(optionLabel("groupEnvelope.keptUnits")) must be at least 1 (the hidden units to keep), got \(keptUnits). Give \
            --group-envelope-units K with K between 1 and the hidden size.
            """
        )
        try require(
            lambda >= 0 && lambda.isFinite, "\(optionLabel("groupEnvelope.lambda")) must be finite and 0 or more, got \(lambda).")
        if let w = weights {
            try require(
                w.allSatisfy { $0 > 0 && $0.isFinite },
                "\(optionLabel("groupEnvelope.weights")) must all be positive and finite numbers, got \(w).")
        }
    }

    /// Checks the envelope against a model of `hiddenSize` units; the error names the option.
    public func validate(hiddenSize: Int) throws {
        try require(
            keptUnits <= hiddenSize,
            """
            \(optionLabel("groupEnvelope.keptUnits")) is \(keptUnits), more than the model's \(hiddenSize) hidden units: give \
            --group-envelope-units K with K between 1 and \(hiddenSize).
            """
        )
        if let w = weights {
            try require(
                w.count == hiddenSize,
                "\(optionLabel("groupEnvelope.weights")) needs one weight per hidden unit (\(hiddenSize)), got \(w.count).")
        }
    }
}

/// Neuron elimination during training (docs/method.md, "Neuron elimination during training"): at
/// events between optimizer steps of the main epochs, every hidden unit whose activations over the
/// task's validation inputs are a linear combination of the other units' within a relative residual
/// is folded into them (`NeuronElimination.eliminate`) and its whole group removed (values and
/// masks), so that training goes on without it. The tolerance is annealed linearly from
/// `startTolerance` at the first event to `tolerance` at the last.
public struct EliminationConfig: Codable, Sendable, Equatable {
    /// The tolerance on the relative residual at the last event, in [0, 1).
    public var tolerance: Double
    /// The tolerance at the first event, in [0, `tolerance`] (default 0: only exact dependences and
    /// silent units go first).
    public var startTolerance: Double
    /// Optimizer steps between events: event e (1, 2, ...) follows step e x `everySteps` of the main
    /// epochs; nil (the default) is one event at the end of every main epoch.
    public var everySteps: Int?
    /// The most rows of hidden states a regression uses (over the task's validation inputs).
    public var rows: Int

    /// The default of `rows`.
    public static let defaultRows = 4096

    /// Elimination annealed from `startTolerance` to `tolerance`.
    public init(tolerance: Double, startTolerance: Double = 0, everySteps: Int? = nil, rows: Int = Self.defaultRows) {
        self.tolerance = tolerance; self.startTolerance = startTolerance; self.everySteps = everySteps; self.rows = rows
    }

    private enum CodingKeys: String, CodingKey { case tolerance, startTolerance, everySteps, rows }

    /// Reads a section in which everything but `tolerance` may be absent (their defaults).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tolerance = try c.decode(Double.self, forKey: .tolerance)
        startTolerance = try c.decodeIfPresent(Double.self, forKey: .startTolerance) ?? 0
        everySteps = try c.decodeIfPresent(Int.self, forKey: .everySteps)
        rows = try c.decodeIfPresent(Int.self, forKey: .rows) ?? Self.defaultRows
    }

    /// Checks the values against a main phase of `mainSteps` steps; the error names the option.
    public func validate(mainSteps: Int) throws {
        try require(
            tolerance.isFinite && tolerance >= 0 && tolerance < 1,
            """
            \(optionLabel("elimination.tolerance")) must be a relative residual in [0, 1), got \(tolerance). Give for example \
            --eliminate-tolerance 0.05.
            """
        )
        try require(
            startTolerance.isFinite && startTolerance >= 0 && startTolerance <= tolerance,
            """
            \(optionLabel("elimination.startTolerance")) must be between 0 and the final tolerance \(tolerance), got \
            \(startTolerance).
            """
        )
        if let k = everySteps {
            try require(k >= 1, "\(optionLabel("elimination.everySteps")) must be at least 1 step, got \(k).")
            try require(
                k <= mainSteps,
                """
                \(optionLabel("elimination.everySteps")) \(k) is longer than the main epochs (\(mainSteps) steps): give at most \
                \(mainSteps).
                """
            )
        }
        try require(
            rows >= 2 && rows <= 10_000_000, "\(optionLabel("elimination.rows")) must be between 2 and 10000000, got \(rows).")
    }

    /// The number of events in a main phase of `mainSteps` steps with `stepsPerEpoch` steps per epoch.
    public func events(mainSteps: Int, stepsPerEpoch: Int) -> Int { mainSteps / (everySteps ?? stepsPerEpoch) }

    /// The tolerance of event `event` (1 ... `events`): linear from `startTolerance` at the first
    /// to `tolerance` at the last (`tolerance` when there is one event).
    public func tolerance(atEvent event: Int, of events: Int) -> Double {
        guard events > 1 else { return tolerance }
        return startTolerance + (tolerance - startTolerance) * Double(event - 1) / Double(events - 1)
    }
}

/// Everything the trainer needs to know about a run, whatever the task.
public struct TrainingConfig: Codable, Sendable, Equatable {
    /// Seed of the run: weights, data stream and regularizer draws derive from it.
    public var seed: UInt64 = 0
    /// Epochs of the main phase (pruning runs over these).
    public var epochs: Int
    /// Optimizer steps per epoch.
    public var stepsPerEpoch: Int
    /// Epochs at fixed sparsity after the main epochs (same phase).
    public var fixedEpochs: Int = 0
    /// The optimizer.
    public var optimizer: OptimizerConfig
    /// The learning-rate schedule.
    public var learningRateSchedule = LearningRateSchedule.constant
    /// Global gradient-norm clip (0 = none).
    public var clip: Double = 0
    /// The moduli regularizer on the recurrent weights.
    public var regularizer = RegularizerConfig.none
    /// Gradual magnitude pruning.
    public var pruning = PruningConfig()
    /// Lottery-ticket retraining of the final masks for the same budget.
    public var lottery = LotteryMode.none
    /// Evaluate every this many epochs (and always after a phase's last).
    public var evaluateEvery: Int = 1
    /// Training-loss lines in metrics.jsonl every this many steps.
    public var logEvery: Int = 100
    /// The threads of the run's worker pool, dense products included (`ThreadSetup.apply`).
    /// Results do not depend on it. Default: every core this process may use
    /// (`ThreadSetup.defaultThreads`, resolved when the configuration is made and recorded in config.json).
    public var threads: Int = ThreadSetup.defaultThreads
    /// The kernels of the W_hh products; nil (absent in config files of moduli 0.2) is `.auto`.
    public var recurrentKernels: RecurrentKernels?
    /// With `recurrentKernels` sparse: the sparsity from which a pruned weight runs the sparse
    /// kernels, the dense GEMMs while less of it is pruned (`--sparse-from`). A rule of the masks
    /// alone, so the bits stay the same on every machine. nil (absent in config files written
    /// without it): 0, the sparse kernels from the first pruning event.
    public var sparseFrom: Double?
    /// The group envelope regularizer on the hidden units; nil (absent in config files written
    /// without it): none.
    public var groupEnvelope: GroupEnvelopeConfig?
    /// Neuron elimination during training; nil (absent in config files written without it): none.
    public var elimination: EliminationConfig?
    /// The device the steps run on (`--device`); nil (absent in config files written without it):
    /// the CPU. Results do not depend on it beyond float rounding, and a run resumes on another.
    public var device: ComputeDevice?

    /// A configuration with the given budget and optimizer, everything else at its default.
    public init(epochs: Int, stepsPerEpoch: Int, optimizer: OptimizerConfig) {
        self.epochs = epochs; self.stepsPerEpoch = stepsPerEpoch; self.optimizer = optimizer
    }

    /// Steps of one phase: (epochs + fixedEpochs) x stepsPerEpoch. Valid after `validate()`.
    public var phaseSteps: Int { (epochs + fixedEpochs) * stepsPerEpoch }
    /// Steps of the main epochs of a phase (pruning, the envelope's prox and elimination events run
    /// in them; the fixed epochs follow): epochs x stepsPerEpoch. Valid after `validate()`.
    public var mainSteps: Int { epochs * stepsPerEpoch }

    /// The kernels of the products on the run's device: `recurrentKernels` (nil: auto) on the CPU;
    /// dense elsewhere (the sparse kernels run on host memory).
    public var deviceRecurrentKernels: RecurrentKernels { (device ?? .cpu) == .cpu ? (recurrentKernels ?? .auto) : .dense }

    /// The fraction of kept entries above which a weight under `recurrentKernels` sparse runs the
    /// dense GEMMs: 1 - `sparseFrom`, loosened by 1e-9 so that a weight pruned to exactly
    /// `sparseFrom` is sparse despite the rounding of 1 - `sparseFrom` (the slack is under one
    /// entry for any weight of fewer than 10^9 entries).
    var sparseKernelsDenseAbove: Double { min(1, 1 - (sparseFrom ?? 0) + 1e-9) }

    /// Steps over all phases.
    public var totalSteps: Int { phaseSteps * (lottery == .none ? 1 : 2) }

    /// Steps between pruning events.
    public var pruningPeriod: Int { pruning.everySteps ?? stepsPerEpoch }

    /// The pruning schedule over events; event e happens at step e x `pruningPeriod` of the main
    /// phase, for the periods that fit into the main epochs.
    public var pruningSchedule: PruningSchedule {
        guard pruning.targetSparsity > 0 else { return .none }
        let periods = mainSteps / pruningPeriod
        switch pruning.schedule {
        case .linear: return .linear(target: pruning.targetSparsity, epochs: periods)
        case .cubic: return .cubic(initial: 0, final: pruning.targetSparsity, start: 0, interval: 1, steps: max(0, periods - 1))
        }
    }

    /// The tolerance of the elimination event that follows main-phase step `step` (counted from 1
    /// within the phase), or nil when no event follows it.
    public func eliminationTolerance(afterStep step: Int) -> Double? {
        guard let e = elimination else { return nil }
        let every = e.everySteps ?? stepsPerEpoch
        guard step >= every, step <= mainSteps, step % every == 0 else { return nil }
        return e.tolerance(atEvent: step / every, of: e.events(mainSteps: mainSteps, stepsPerEpoch: stepsPerEpoch))
    }

    /// The largest number of steps a run may have (about 30 years at 1,000 steps per second).
    public static let maximumSteps = 1 << 40

    /// Refuses what does not run off the host yet, for `--device` other than cpu; the error names
    /// the option and what to do.
    func validateOffHost() throws {
        let device = (self.device ?? .cpu).rawValue
        func refuse(_ what: String, _ remedy: String) -> ExperimentError {
            ExperimentError("\(what) runs on the CPU only, not on \(optionLabel("device")) \(device): \(remedy)")
        }
        if recurrentKernels == .sparse {
            throw refuse("\(optionLabel("recurrentKernels")) sparse", "give --recurrent-kernels dense (or auto, which is dense there).")
        }
    }

    /// Checks every value, sizes against overflow first; the error names the option and what is allowed.
    public func validate() throws {
        try require(epochs >= 1, "\(optionLabel("epochs")) must be at least 1, got \(epochs).")
        try require(stepsPerEpoch >= 1, "\(optionLabel("stepsPerEpoch")) must be at least 1, got \(stepsPerEpoch).")
        try require(fixedEpochs >= 0, "\(optionLabel("fixedEpochs")) must be 0 or more, got \(fixedEpochs).")
        let (epochTotal, o1) = epochs.addingReportingOverflow(fixedEpochs)
        let (steps, o2) = epochTotal.multipliedReportingOverflow(by: stepsPerEpoch)
        try require(
            !o1 && !o2 && steps <= Self.maximumSteps / 2,
            """
            (\(optionLabel("epochs")) + \(optionLabel("fixedEpochs"))) x \(optionLabel("stepsPerEpoch")) = \(epochs) + \(fixedEpochs) \
            x \(stepsPerEpoch) steps is more than a run can take (at most \(Self.maximumSteps / 2) steps per phase).
            """
        )
        try optimizer.validate()
        try learningRateSchedule.validate()
        try require(clip >= 0 && clip.isFinite, "\(optionLabel("clip")) must be 0 (off) or positive, got \(clip).")
        try require(evaluateEvery >= 1, "\(optionLabel("evaluateEvery")) must be at least 1, got \(evaluateEvery).")
        try require(logEvery >= 1, "\(optionLabel("logEvery")) must be at least 1, got \(logEvery).")
        try require(threads >= 1 && threads <= 256, "\(optionLabel("threads")) must be between 1 and 256, got \(threads).")
        if let s = sparseFrom {
            try require(
                s >= 0 && s <= 1, "\(optionLabel("sparseFrom")) must be a sparsity in [0, 1], got \(s): for example 0.8.")
            try require(
                recurrentKernels == .sparse,
                """
                \(optionLabel("sparseFrom")) applies only with \(optionLabel("recurrentKernels")) sparse (this run's is \
                \((recurrentKernels ?? .auto).rawValue)): add --recurrent-kernels sparse, or drop --sparse-from.
                """)
        }
        if (device ?? .cpu) != .cpu { try validateOffHost() }
        let target = pruning.targetSparsity
        try require(target >= 0 && target < 1, "\(optionLabel("pruning.targetSparsity")) must be in [0, 1), got \(target).")
        if let k = pruning.everySteps {
            try require(k >= 1, "\(optionLabel("pruning.everySteps")) must be at least 1 step, got \(k).")
            try require(
                k <= mainSteps,
                "\(optionLabel("pruning.everySteps")) \(k) is longer than the main epochs (\(mainSteps) steps).")
        }
        if target > 0 {
            let periods = mainSteps / pruningPeriod
            try require(
                periods >= 2,
                pruning.everySteps == nil
                    ? """
                    Pruning happens at the start of epochs 1 ... epochs-1: \(optionLabel("epochs")) must be at least 2 with \
                    \(optionLabel("pruning.targetSparsity")).
                    """
                    : """
                    Pruning every \(pruningPeriod) steps needs at least 2 periods in the main epochs; lower \
                    \(optionLabel("pruning.everySteps")).
                    """
            )
        }
        if let t = pruning.tensorTargets {
            try require(
                target > 0, "\(optionLabel("pruning.tensorTargets")) needs \(optionLabel("pruning.targetSparsity")) (the schedule's shape)."
            )
            try require(t.allSatisfy { $0 >= 0 && $0 < 1 }, "\(optionLabel("pruning.tensorTargets")) must each be in [0, 1).")
        }
        try require(
            pruning.everySteps == nil || target > 0, "\(optionLabel("pruning.everySteps")) needs \(optionLabel("pruning.targetSparsity")).")
        try require(
            lottery == .none || target > 0,
            "\(optionLabel("lottery")) \(lottery.rawValue) needs pruning masks: set \(optionLabel("pruning.targetSparsity")).")
        do { try regularizer.validate() } catch let e as RegularizerError {
            let r = { (field: String) in optionLabel("regularizer." + field) }
            switch e {
            case .invalidPower(let p): throw ExperimentError("\(r("power")) must be 1 or 2, got \(p).")
            case .invalidLambda(let x): throw ExperimentError("\(r("lambda")) must be finite and 0 or more, got \(x).")
            case .standardInverted:
                throw ExperimentError(
                    """
                    The standard (L1/L2) regularizer cannot be inverted (\(r("invert"))): R = max(1) - 1 = 0 would switch the penalty \
                    off (the authors' bug 4).
                    """
                )
            case .constantInverted:
                throw ExperimentError(
                    """
                    A constant inhibitor cannot be inverted: R = max(R) - R = 0 everywhere would switch the penalty off; drop \
                    \(r("invert")) or choose another \(r("inhibitor")).
                    """
                )
            case .learnedWithoutGeometry(let space):
                throw ExperimentError("\(r("learnEmbedding")) needs a moduli space in \(r("space")); '\(space)' has no neuron positions.")
            case .learnedStrengthMatched:
                throw ExperimentError(
                    "\(r("learnEmbedding")) cannot go with \(r("strengthMatched")): a constant R does not depend on the positions.")
            default: throw ExperimentError("\(e).")
            }
        } catch { throw ExperimentError("\(error).") }
        try groupEnvelope?.validate()
        try elimination?.validate(mainSteps: mainSteps)
        if case .geometric(let name) = regularizer.kind {
            do { _ = try ModuliSpaces.named(name) } catch { throw ExperimentError("\(optionLabel("regularizer.space")): \(error)") }
        }
    }
}

/// Throws an `ExperimentError` unless `needed` bytes fit in `budget` (default: what this process
/// may still take under the machine's memory, its cgroup's limit and `ulimit -v`, see
/// `MemoryBudget`); the message gives both numbers, the limit's source and what to reduce
/// (`reduce`, after "Reduce ").
func requireMemory(
    _ needed: Double, budget: MemoryBudget = .current(),
    what: String = "This run", reduce: String = "the hidden size, batch size or sequence length"
) throws {
    try require(
        needed.isFinite && needed <= budget.bytes,
        String(
            format: "%@ needs about %.1f GiB of memory; %.1f GiB can be used (%@). Reduce %@.",
            what, needed / 1_073_741_824, budget.bytes / 1_073_741_824, budget.source, reduce))
}

/// The same check against 80% of `available` bytes of memory.
func requireMemory(
    _ needed: Double, available: Double,
    what: String = "This run", reduce: String = "the hidden size, batch size or sequence length"
) throws {
    try requireMemory(needed, budget: .physical(available), what: what, reduce: reduce)
}

/// The key of a trainer setting (under `training.`) with the flag that sets it, for errors:
/// `training.optimizer.learningRate [--lr]`.
func optionLabel(_ key: String) -> String { TrainingOptions.label(forKey: key) }

/// Throws an `ExperimentError` with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ExperimentError(message()) }
}
