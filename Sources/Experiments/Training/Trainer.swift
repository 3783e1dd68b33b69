// The one training loop every task runs on: phases (main, then the lottery ticket), the optimizer
// and its learning-rate schedule, the moduli penalty, gradient clipping, pruning events,
// projection of learned positions, the group envelope's proximal step, neuron elimination events,
// evaluation, metrics, progress, checkpoints and exact resume.
// Reference: docs/method.md sections 2 and 3, "Group envelope regularization" and "Neuron
// elimination"; docs/adding-a-task.md.
import Compute
import Foundation
import Formats
import Linalg
import NN
import Sparsity

/// What the trainer carries from one checkpoint to the next (JSON in the checkpoint's metadata).
struct TrainerState<Stream: TaskStream>: Codable {
    /// 0 = main training, 1 = lottery-ticket retraining.
    var phase = 0
    /// Steps taken within the phase.
    var step = 0
    /// Steps over all phases (the `step` of metrics.jsonl).
    var globalStep = 0
    /// The task's data stream.
    var stream: Stream
    /// Seconds of training, summed over sessions.
    var wallSeconds = 0.0
    var epochLossSum = 0.0
    var epochLossCount = 0
    var lastEpochLoss = Double.nan
    /// Sums over the current metrics.jsonl logging window.
    var windowLoss = 0.0, windowPenalty = 0.0, windowCount = 0
    /// The current learning rate, and the best primary metric of the phase (plateau schedule).
    var learningRate: Double
    var bestMetric: Double?
    /// The last evaluation and the global step it was made at.
    var lastMetrics: [String: Double] = [:]
    var lastMetricsStep = -1
    /// Whether the last evaluation included the test set (`TrainingTask.evaluate(_:_:final:)`;
    /// nil in checkpoints of moduli 0.2, whose evaluations were all final).
    var lastMetricsFinal: Bool?
    /// The main phase's result, once it is over.
    var main: PhaseSummary?
    /// Bytes of metrics.jsonl that belong to the run up to this state (a resume cuts the file back to it).
    var metricsBytes = 0
    /// The kernels `--recurrent-kernels auto` chose at the phase's last pruning event (or its
    /// start), which a resumed run reuses; nil before the first choice and in checkpoints of
    /// moduli 0.3 and earlier (whose products follow `SparseWeightProduct`'s density rule).
    var kernelDecisions: [KernelDecision]?
}

/// Trains a task: the shared engine behind `moduli train <task>`.
public struct Trainer<Task: TrainingTask> {
    /// The fully resolved configuration.
    public let config: RunConfig<Task.Options>
    /// The task, built from the configuration's options.
    public let task: Task

    /// Validates the configuration (sizes, overflow and memory first) and builds the task.
    public init(config: RunConfig<Task.Options>) throws {
        try Self.validate(config)
        self.config = config
        task = try Task(options: config.options)
    }

    /// Builds the task of a configuration that `validate` accepted already (the command line
    /// validates once, before it creates the run directory), with the data its resolution read
    /// (`TaskOptions.resolve`'s `prepared`).
    public init(validated config: RunConfig<Task.Options>, prepared: (any Sendable)? = nil) throws {
        self.config = config
        task = try Task(options: config.options, prepared: prepared)
    }

    /// Checks the trainer's settings, the task's options and the memory the run needs; the error
    /// names the option and what to do.
    public static func validate(_ config: RunConfig<Task.Options>) throws {
        try require(config.task == Task.name, "The configuration is for task '\(config.task)', not '\(Task.name)'.")
        try config.training.validate()
        try Task.validate(config.options, training: config.training)
        if let envelope = config.training.groupEnvelope {
            let units: Int
            do { units = try Task.removableHiddenUnits(config.options) } catch {
                throw ExperimentError("\(optionLabel("groupEnvelope.keptUnits")) cannot be used on this model: \(error)")
            }
            try envelope.validate(hiddenSize: units)
        }
        if config.training.elimination != nil { try validateElimination(config) }
        try requireMemory(Task.memoryEstimate(config.options, training: config.training))
    }

    /// Refuses neuron elimination on a model whose hidden units cannot be removed one by one (a
    /// tied language model) or that has more than one recurrent layer (the regressed hidden states
    /// are the top layer's, as in `moduli compress`); the error names the option and what to do.
    static func validateElimination(_ config: RunConfig<Task.Options>) throws {
        let label = optionLabel("elimination.tolerance")
        do { _ = try Task.removableHiddenUnits(config.options) } catch {
            throw ExperimentError("\(label) cannot be used on this model: \(error)")
        }
        // The options' `layers`, where the task has them (read through their JSON form, since they are the task's own type).
        let options = try? JSONSerialization.jsonObject(with: RunDirectory.encodeJSON(config.options)) as? [String: Any]
        if let layers = options?["layers"] as? Int, layers > 1 {
            throw ExperimentError(
                """
                \(label) removes units of a single recurrent layer, and this model has \(layers) \
                (\(Task.label("options.layers"))): train a one-layer model, or drop --eliminate-tolerance.
                """
            )
        }
    }

    /// Runs (or resumes) the run in `run` and returns its summary. Writes config.json,
    /// metrics.jsonl, checkpoint.safetensors (every epoch), model.safetensors, summary.json, and
    /// with a geometric regularizer regularizer.json, initial_R.npy, initial_positions.npy and
    /// positions.npy (with learned positions also R.npy, computed from the saved positions).
    /// With `stopAfterEpochs`, stops after that many epochs over all phases (at a checkpoint) and
    /// returns nil: the run can be resumed later. Subnormal numbers flush to zero meanwhile
    /// (`Parallel.withSubnormalsFlushed`, docs/decisions.md 37).
    /// The steps run on `training.device` (`StepDevice`): on the CPU over the store's own memory,
    /// on a GPU (`--device cuda`) in its memory, with the values copied back for pruning events,
    /// evaluations and checkpoints.
    @discardableResult
    public func train(
        in run: RunDirectory, resume: Bool = false, showProgress: Bool = false,
        stopAfterEpochs: Int? = nil
    ) throws -> RunSummary? {
        try (config.training.device ?? .cpu).run(
            Training(trainer: self, run: run, resume: resume, showProgress: showProgress, stopAfterEpochs: stopAfterEpochs))
    }

    /// `train` as work for the run's device.
    private struct Training: DeviceWork {
        let trainer: Trainer, run: RunDirectory, resume: Bool, showProgress: Bool, stopAfterEpochs: Int?
        func run<Backend: ComputeBackend>(deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>) throws
            -> RunSummary? where Backend.Scalar == Float
        {
            try trainer.train(
                in: run, resume: resume, showProgress: showProgress, stopAfterEpochs: stopAfterEpochs, deviceStore: deviceStore)
        }
    }

    /// `train` with the steps on a backend whose device stores `deviceStore` makes (for a host
    /// store): the one training loop, on any device.
    func train<Backend: ComputeBackend>(
        in run: RunDirectory, resume: Bool, showProgress: Bool, stopAfterEpochs: Int?,
        deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>
    ) throws -> RunSummary? where Backend.Scalar == Float {
        try Parallel.withSubnormalsFlushed {
            var loop = try TrainingLoop(trainer: self, run: run, resume: resume, showProgress: showProgress, deviceStore: deviceStore)
            return try loop.run(stopAfterEpochs: stopAfterEpochs)
        }
    }

    /// Opens `device` (nil: the CPU) and lets it go: a command calls this before it makes a run
    /// directory, so that a missing GPU leaves nothing behind. The error says what is missing.
    public static func requireDevice(_ device: ComputeDevice?) throws { try ComputeDevice.require(device) }
}

/// One process's pass over a run: the state between steps, and the memory they run in.
struct TrainingLoop<Task: TrainingTask, Backend: ComputeBackend> where Backend.Scalar == Float {
    let config: RunConfig<Task.Options>
    let task: Task
    let run: RunDirectory
    let root: SeededGenerator
    var session: TrainingSession<Task>
    var state: TrainerState<Task.Stream>
    let metrics: MetricsLog
    let progress: ProgressReporter?
    var sessionStart = Date()
    /// The global step of the newest checkpoint on disk (nil before the first).
    var checkpointStep: Int?
    /// The model's hidden units as groups (nil when the task lists no hidden-unit axes).
    let unitGroups: HiddenUnitGroups?
    /// The group envelope regularizer, when configured.
    let envelope: GroupEnvelope?
    /// Makes the device copy of a phase's host store.
    let deviceStore: (ParameterStore<Float>) throws -> DeviceStore<Backend>
    /// Where the phase's steps run.
    var device: StepDevice<Backend>

    var training: TrainingConfig { config.training }

    init(
        trainer: Trainer<Task>, run: RunDirectory, resume: Bool, showProgress: Bool,
        deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>
    ) throws {
        self.deviceStore = deviceStore
        config = trainer.config
        task = trainer.task
        self.run = run
        ThreadSetup.apply(threads: config.training.threads)
        root = SeededGenerator(seed: config.training.seed)
        state = TrainerState(stream: task.makeStream(rng: root.derived(2)), learningRate: config.training.optimizer.learningRate)
        session = try TrainingSession(
            task: task, training: config.training, weightsRNG: root.derived(1),
            regularizerRNG: root.derived(3), prune: true)
        (unitGroups, envelope) = try Self.hiddenUnits(config.training, session: session)
        if resume {
            let saved: RunConfig<Task.Options>
            do { saved = try run.readJSON(RunConfig<Task.Options>.self, from: "config.json") } catch {
                throw ExperimentError("Cannot read \(run.file("config.json").path) to resume: \(error)")
            }
            // Neither the thread count nor the device changes results: a run resumes with others.
            var savedTraining = saved.training
            savedTraining.threads = config.training.threads
            savedTraining.device = config.training.device
            guard saved.task == config.task, savedTraining == config.training, saved.options == config.options else {
                throw ExperimentError(
                    "The configuration differs from the one in \(run.file("config.json").path); resume with the run's own options.")
            }
            if let fingerprint = task.dataFingerprint() {
                try DataFingerprint.verify(
                    fingerprint, runAt: run.url.path,
                    remedy:
                        """
                        Put back the data the run was trained on, or start the run anew on this data: give --overwrite instead of \
                        --resume.
                        """
                )
            }
            let training = config.training
            let validate: (TrainerState<Task.Stream>, Int) throws -> Void = { s, optimizerStep in
                try Trainer<Task>.check(s, optimizerStep: optimizerStep, training: training, run: run)
            }
            let (_, peek) = try Checkpoint.load(
                ParameterStore<Float>(), stateType: TrainerState<Task.Stream>.self, from: run,
                stateOnly: true, layout: session.store, validate: validate)
            if peek.phase == 1 { session = try Self.lotterySession(task: task, training: training, root: root, main: nil, run: run) }
            let (optimizerState, saved2) = try Checkpoint.load(
                session.store, stateType: TrainerState<Task.Stream>.self, from: run,
                validate: validate)
            session.optimizer.state = optimizerState
            session.optimizer.learningRate = saved2.learningRate
            do { try task.validate(stream: saved2.stream) } catch {
                throw ExperimentError(
                    """
                    The checkpoint \(run.file(Checkpoint.fileName).path) holds a data stream this run cannot use: \(error) Start the \
                    run anew with --overwrite.
                    """
                )
            }
            state = saved2
            session.regularizer.updateCoefficients(from: session.store)
            if let decisions = state.kernelDecisions, config.training.deviceRecurrentKernels == .auto {
                session.roles.applyKernels(decisions, in: session.store)
            }
            checkpointStep = state.globalStep
            metrics = try MetricsLog(run: run, keepBytes: state.metricsBytes)
        } else {
            try run.writeJSON(config, to: "config.json")
            if let fingerprint = task.dataFingerprint() { try DataFingerprint.record(fingerprint, in: run) }
            try Self.writeGeometry(session, to: run, initial: true)
            if let stats = session.regularizer.statistics() { try run.writeJSON(stats, to: "regularizer.json") }
            if config.training.lottery == .rewind {
                try run.writeAtomically(
                    try SafeTensors.encode(session.store.namedValues(), metadata: ["format": Self.initialFormat], checksum: true),
                    to: "initial.safetensors")
            }
            metrics = try MetricsLog(run: run)
        }
        device = try Self.makeDevice(&session, task: task, deviceStore: deviceStore)
        let progress =
            showProgress ? ProgressReporter(label: Task.name, total: config.training.totalSteps, firstStep: state.globalStep) : nil
        self.progress = progress
        if resume { progress?.message("Resuming \(run.url.path) at step \(state.globalStep) of \(config.training.totalSteps).") }
    }

    /// The steps' memory for `session` on the backend: its parameters and its optimizer's state
    /// copied there (after which the host optimizer keeps only its step count and settings).
    static func makeDevice(
        _ session: inout TrainingSession<Task>, task: Task, deviceStore: (ParameterStore<Float>) throws -> DeviceStore<Backend>
    ) throws -> StepDevice<Backend> {
        guard let step = task.stepWorkspaceCount(session.model), let evaluation = task.evaluationWorkspaceCount(session.model) else {
            throw ExperimentError("The model of \(Task.name) has a layer without a pass on the compute backend: it cannot be trained.")
        }
        let count = max(step, evaluation)  // one workspace: evaluations run between steps
        let device = try StepDevice(store: deviceStore(session.store), optimizer: session.optimizer, workspaceCount: count)
        session.optimizer.state = OptimizerState(stepCount: session.optimizer.state.stepCount, buffers: [:])
        return device
    }

    /// Brings the device's values to the host store before host code reads them (evaluation,
    /// checkpoints, pruning); nothing to do when the device shares the host's memory.
    func valuesToHost() throws { try device.store.downloadValues() }

    /// Sends what host code changed in the store (pruning, loads) to the device.
    func hostChangesToDevice() throws { try device.store.uploadChanges() }

    /// The hidden units of the session's model as groups (nil when its task lists no hidden-unit
    /// axes), and the group envelope of `training` over them (nil when not configured). Throws when
    /// the envelope is configured and the task's roles do not describe its H hidden units.
    static func hiddenUnits(_ training: TrainingConfig, session: TrainingSession<Task>) throws -> (HiddenUnitGroups?, GroupEnvelope?) {
        let roles = session.roles
        let groups =
            roles.hiddenUnitAxes.isEmpty
            ? nil : try? HiddenUnitGroups(axes: roles.hiddenUnitAxes, hiddenSize: roles.hiddenSize, in: session.store)
        if training.elimination != nil {
            do {
                guard !roles.hiddenUnitAxes.isEmpty else {
                    throw ExperimentError("the task \(Task.name) lists no parameters of its hidden units (ParameterRoles.hiddenUnitAxes).")
                }
                _ = try HiddenUnitGroups(axes: roles.hiddenUnitAxes, hiddenSize: roles.hiddenSize, in: session.store)
                let layers = roles.networks.reduce(0) { $0 + $1.layers.count }
                guard layers == 1 else { throw ExperimentError("the model has \(layers) recurrent layers; train a one-layer model.") }
            } catch {
                throw ExperimentError("\(optionLabel("elimination.tolerance")) cannot be used on this model: \(error)")
            }
        }
        guard let config = training.groupEnvelope else { return (groups, nil) }
        do {
            guard !roles.hiddenUnitAxes.isEmpty else {
                throw ExperimentError("the task \(Task.name) lists no parameters of its hidden units (ParameterRoles.hiddenUnitAxes).")
            }
            let checked = try HiddenUnitGroups(axes: roles.hiddenUnitAxes, hiddenSize: roles.hiddenSize, in: session.store)
            try config.validate(hiddenSize: checked.hiddenSize)
            return (checked, GroupEnvelope(keptGroups: config.keptUnits, weights: config.weights))
        } catch {
            throw ExperimentError("\(optionLabel("groupEnvelope.keptUnits")) cannot be used on this model: \(error)")
        }
    }

    /// The hidden units whose own parameters are not all zero (nil when the model's units are not known).
    func keptUnits() -> Int? { unitGroups?.nonZeroUnits(in: session.store) }

    /// After an optimizer step of the main epochs: the group envelope's proximal operator with step
    /// learning rate x lambda on every hidden unit's own parameters; after the last main step of a
    /// phase, every unit but the k largest removed (values and masks), so that exactly k units
    /// remain. The fixed epochs then train those k units at fixed structure, without the prox.
    /// On a device with memory of its own the values come back to the host for it, and what it
    /// changed goes back.
    func applyGroupEnvelope() throws {
        guard let envelope, let unitGroups, let config = training.groupEnvelope else { return }
        guard state.step < training.mainSteps else { return }
        try valuesToHost()
        let units = OwnedHiddenUnits(unitGroups, in: session.store)
        envelope.applyProx(to: units, step: session.optimizer.learningRate * config.lambda)
        if state.step + 1 == training.mainSteps {
            let kept = Set(envelope.largestGroups(norms: units.groupNorms()))
            unitGroups.remove((0..<unitGroups.hiddenSize).filter { !kept.contains($0) }, in: session.store)
        }
        try hostChangesToDevice()
    }

    /// After main-phase step `state.step` when an elimination event follows it
    /// (`TrainingConfig.eliminationTolerance(afterStep:)`): the dead units (nothing reads them or
    /// nothing drives them) and, one at a time, every unit whose activations over the task's
    /// validation inputs (`TrainingTask.hiddenStates`, with the initial states an encoder sets, as
    /// `moduli compress` regresses them) are a linear combination of the other live units' within
    /// the event's tolerance, folded into them (`NeuronElimination.eliminate`); then the whole
    /// groups of the units removed are set to zero in values and masks (`HiddenUnitGroups.remove`),
    /// so that training keeps them at zero. Writes an `eliminate` line to metrics.jsonl.
    mutating func eliminateUnits() throws {
        guard state.phase == 0, let config = training.elimination, let unitGroups,
            let tolerance = training.eliminationTolerance(afterStep: state.step)
        else { return }
        try valuesToHost()  // the event reads and changes values on the host
        let store = session.store, roles = session.roles, model = session.model, task = self.task
        let h = roles.hiddenSize, axes = roles.hiddenUnitAxes
        let consumers = roles.hiddenUnitConsumers()
        let intercept = !consumers.isEmpty && consumers.allSatisfy { $0.bias != nil }
        let encoders = roles.linears.filter { linear in axes.contains { $0.dimension == 0 && $0.slot == linear.weight } }
        let owned = unitGroups.norms(.owned, in: store)
        let dead = store.deadHiddenUnits(of: h, along: axes).filter { owned[$0] > 0 }
        let live = (0..<h).filter { owned[$0] > 0 && !dead.contains($0) }
        var rowsUsed = 0
        let outcome = NeuronElimination.eliminate(
            store: store, consumers: consumers, hiddenSize: h, units: live, tolerance: tolerance, intercept: intercept,
            maximumDrift: tolerance,
            states: { s in
                let states = task.hiddenStates(model, s, maximumRows: config.rows, inputs: .validation) ?? Matrix(rows: 0, columns: h)
                rowsUsed = states.rows
                return ModelCompression.appendingInitialStates(states.converted(to: Double.self), encoders: encoders, store: s)
            })
        let eliminated = outcome.removed
        let removed = (dead + eliminated.map(\.unit)).sorted()
        unitGroups.remove(removed, in: store)
        let kept = unitGroups.nonZeroUnits(in: store)
        try metrics.append(
            EliminationRecord(
                step: state.globalStep, phase: state.phase, tolerance: tolerance, rows: rowsUsed, deadUnits: dead,
                eliminatedUnits: eliminated.map(\.unit), residuals: eliminated.map(\.relativeResidual), keptUnits: kept,
                drift: outcome.drift, stop: outcome.stop, undoneUnit: outcome.undone?.unit))
        try hostChangesToDevice()
        if !removed.isEmpty {
            progress?.message(
                String(
                    format: "Step %d: %d hidden units removed at tolerance %.4g; %d of %d kept.", state.globalStep, removed.count,
                    tolerance, kept, h))
        }
    }

    /// Trains every phase to its end; returns the summary, or nil when stopped by `stopAfterEpochs`.
    mutating func run(stopAfterEpochs: Int?) throws -> RunSummary? {
        while true {
            guard try trainPhase(stopAfterEpochs: stopAfterEpochs) else { progress?.finish(); return nil }
            let result = PhaseSummary(metrics: try evaluation(final: true), trainLoss: state.lastEpochLoss, sparsity: session.sparsity())
            if state.phase == 1 || training.lottery == .none {
                return try finish(result)
            }
            state.main = result
            try Self.writeGeometry(session, to: run, initial: false)
            progress?.message(
                String(
                    format: "main phase: %@ %.5g at %.1f%% sparsity; lottery ticket (%@) next",
                    Task.primaryMetric, result[Task.primaryMetric] ?? .nan,
                    100 * result.sparsity.pooled.sparsity, training.lottery.rawValue))
            session = try Self.lotterySession(task: task, training: training, root: root, main: session.store, run: run)
            try device.release()  // the main phase's memory on the backend
            device = try Self.makeDevice(&session, task: task, deviceStore: deviceStore)
            state.phase = 1
            state.step = 0
            state.epochLossSum = 0; state.epochLossCount = 0
            state.windowLoss = 0; state.windowPenalty = 0; state.windowCount = 0
            state.learningRate = training.optimizer.learningRate
            state.bestMetric = nil
            state.kernelDecisions = nil
            try chooseKernels()
            try saveCheckpoint()
        }
    }

    /// The metrics at the current step: the last evaluation when it was made here (with the test
    /// set when `final`), else a new one.
    mutating func evaluation(final: Bool) throws -> [String: Double] {
        if state.lastMetricsStep != state.globalStep || final && state.lastMetricsFinal == false {
            device.workspace.reset()
            state.lastMetrics = try task.evaluate(session.model, on: device.parameters, workspace: &device.workspace, final: final)
            state.lastMetricsStep = state.globalStep
            state.lastMetricsFinal = final
        }
        return state.lastMetrics
    }

    /// Writes model.safetensors, the final geometry and summary.json.
    mutating func finish(_ last: PhaseSummary) throws -> RunSummary {
        progress?.finish()
        state.wallSeconds += Date().timeIntervalSince(sessionStart)
        sessionStart = Date()
        try valuesToHost()
        if state.phase == 0 { try Self.writeGeometry(session, to: run, initial: false) }
        try Checkpoint.saveModel(session.modelTensors(), to: run, metadata: ["task": Task.name, "version": ModuliVersion.string])
        let main = state.main ?? last
        // R's statistics as written at the start (absent without a regularizer; never a reason to lose the run's end).
        let regularizer = try? run.readJSON(RegularizerStatistics.self, from: "regularizer.json")
        let summary = RunSummary(
            task: Task.name, metrics: last.metrics, baselines: task.baselines, trainLoss: last.trainLoss,
            main: main, lottery: state.phase == 1 ? last : nil, regularizer: regularizer,
            steps: state.globalStep, wallSeconds: state.wallSeconds,
            stepsPerSecond: state.wallSeconds > 0 ? Double(state.globalStep) / state.wallSeconds : 0,
            seed: training.seed, blasKernels: BLASKernels.coreName, keptUnits: keptUnits())
        try run.writeJSON(summary, to: "summary.json")
        return summary
    }

    mutating func saveCheckpoint() throws {
        let now = Date()
        state.wallSeconds += now.timeIntervalSince(sessionStart)
        sessionStart = now
        state.metricsBytes = metrics.byteCount
        try valuesToHost()
        // A weight that became non-finite in the epoch's last step is never saved: a checkpoint
        // holding one is then damage, and says so when it is read.
        for s in session.store.slots {
            let values = UnsafeBufferPointer(start: session.store.value(s), count: session.store.info(s).count)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                let saved =
                    checkpointStep.map { "\(run.file(Checkpoint.fileName).path) holds step \($0)" } ?? "no checkpoint was written yet"
                throw ExperimentError(
                    """
                    The weight \(session.store.info(s).name) became \(values[bad]) (element \(bad)) at step \(state.globalStep); the \
                    run stopped (\(saved)). Lower \(optionLabel("optimizer.learningRate")) or set \(optionLabel("clip")), and start \
                    again with --overwrite.
                    """
                )
            }
        }
        try Checkpoint.save(session.store, optimizer: device.download(session.optimizer.state), state: state, to: run)
        checkpointStep = state.globalStep
    }

    /// With `--recurrent-kernels auto`: decides the kernels of every pruned weight under its
    /// current mask (`KernelChoice`), switches the products to them, and records the decisions
    /// (a `kernels` line of metrics.jsonl, and the trainer state for a resume). Nothing otherwise.
    mutating func chooseKernels() throws {
        guard training.deviceRecurrentKernels == .auto else { return }
        let decisions = session.roles.decideKernels(in: session.store, threads: training.threads)
        guard !decisions.isEmpty else { return }
        session.roles.applyKernels(decisions, in: session.store)
        state.kernelDecisions = decisions
        try metrics.append(KernelRecord(step: state.globalStep, phase: state.phase, decisions: decisions))
    }

    /// The learning rate for the next step under the schedule.
    func scheduledLearningRate() -> Double {
        let schedule = training.learningRateSchedule
        switch schedule.kind {
        case .constant, .plateau: return state.learningRate
        case .warmup:
            let base = training.optimizer.learningRate
            return base * min(1, Double(state.step + 1) / Double(schedule.warmupSteps))
        }
    }

    /// Trains the current phase from `state.step` to its end; returns false if stopped early.
    mutating func trainPhase(stopAfterEpochs: Int?) throws -> Bool {
        let total = training.phaseSteps, perEpoch = training.stepsPerEpoch
        let period = training.pruningPeriod, pruningSteps = training.mainSteps
        let logLearningRate = training.learningRateSchedule.kind != .constant
        while state.step < total {
            try stopIfRequested()
            if state.step % period == 0, state.step < pruningSteps, let pruner = session.pruner {
                try valuesToHost()
                if let event = pruner.prune(atEvent: state.step / period, in: session.store) {
                    try hostChangesToDevice()
                    try metrics.append(
                        PruneRecord(step: state.globalStep, phase: state.phase, event: event, sparsity: session.sparsity()))
                    try chooseKernels()
                }
            }
            let (loss, penalty, gradientNorm) = try takeStep()
            state.step += 1
            state.globalStep += 1
            state.windowLoss += loss; state.windowPenalty += penalty; state.windowCount += 1
            state.epochLossSum += loss; state.epochLossCount += 1
            try eliminateUnits()

            if state.step % training.logEvery == 0 {
                let n = Double(state.windowCount)
                try metrics.append(
                    TrainRecord(
                        step: state.globalStep, phase: state.phase, loss: state.windowLoss / n,
                        penalty: state.windowPenalty / n, gradientNorm: gradientNorm,
                        learningRate: logLearningRate ? session.optimizer.learningRate : nil))
                let last = state.lastMetrics[Task.scheduleMetric]
                progress?.update(
                    step: state.globalStep, loss: state.windowLoss / n,
                    extra: last.map { String(format: "%@ %.5g", Task.scheduleMetric, $0) } ?? "")
                state.windowLoss = 0; state.windowPenalty = 0; state.windowCount = 0
            }
            if state.step % perEpoch == 0 {
                let epoch = state.step / perEpoch
                state.lastEpochLoss = state.epochLossSum / Double(max(1, state.epochLossCount))
                state.epochLossSum = 0; state.epochLossCount = 0
                if epoch % training.evaluateEvery == 0 || state.step == total {
                    let values = try evaluation(final: state.step == total)
                    try valuesToHost()  // the count of kept units reads the values
                    try metrics.append(
                        EvalRecord(
                            step: state.globalStep, phase: state.phase, epoch: epoch,
                            trainLoss: state.lastEpochLoss, sparsity: session.sparsity().pooled.sparsity,
                            metrics: values,
                            wallSeconds: state.wallSeconds + Date().timeIntervalSince(sessionStart),
                            keptUnits: keptUnits()))
                    adjustLearningRateOnPlateau(values)
                }
                try saveCheckpoint()
                let epochsDone = state.phase * (training.epochs + training.fixedEpochs) + epoch
                if let stop = stopAfterEpochs, epochsDone >= stop,
                    state.step < total || state.phase == 0 && training.lottery != .none
                {
                    return false
                }
            }
        }
        return true
    }

    /// Between two steps: when a signal asked the process to stop (`StopRequest`), writes the
    /// checkpoint of this step (unless it is on disk already) and throws `TrainingStopped`. The
    /// checkpoint holds the whole trainer state, mid-epoch too, so `--resume` continues exactly.
    mutating func stopIfRequested() throws {
        guard let signal = StopRequest.signal else { return }
        if checkpointStep != state.globalStep { try saveCheckpoint() }
        progress?.finish()
        throw TrainingStopped(signal: signal, step: state.globalStep, directory: run.url.path, task: Task.name)
    }

    /// One optimizer step on the next batch: gradients of the loss and the penalty, pruned entries
    /// masked, clipping, the update, the group envelope's proximal step, projection of learned
    /// positions. Returns the loss, the penalty and the gradient norm before clipping; throws when
    /// the loss is not finite.
    mutating func takeStep() throws -> (loss: Double, penalty: Double, gradientNorm: Double) {
        StepProfile.current?.startStep()
        let parameters = device.parameters
        try zeroGradients(parameters)
        device.workspace.reset()
        let loss = try task.trainStep(session.model, on: parameters, workspace: &device.workspace, stream: &state.stream)
        var penalty = 0.0
        let positions = session.regularizer.learned?.slots ?? []
        if !session.regularizer.isInactive {
            // Learned positions: R and dPenalty/dPositions are formed on the host (their one
            // implementation) from W_hh and the positions, read back where the device's memory
            // is its own; the positions' gradients go to the device, which holds no other.
            if !positions.isEmpty && !device.store.isShared {
                try device.store.downloadValues(of: session.roles.recurrent)
                for slot in positions { session.store.gradient(slot).update(repeating: 0, count: session.store.info(slot).count) }
            }
            session.regularizer.updateCoefficients(from: session.store)
            penalty = try session.regularizer.penalty(
                session.roles.recurrent, on: parameters, coefficients: device.coefficients(of: session.regularizer),
                addingGradients: true)
            session.regularizer.addPositionGradients(weights: session.roles.recurrent, in: session.store)
            try device.store.uploadGradients(of: positions)
        }
        StepProfile.lap(.penalty)
        guard loss.isFinite && penalty.isFinite else {
            let saved = checkpointStep.map { "\(run.file(Checkpoint.fileName).path) holds step \($0)" } ?? "no checkpoint was written yet"
            throw ExperimentError(
                """
                The training loss became \(loss + penalty) at step \(state.globalStep + 1); the run stopped (\(saved)). Lower \
                \(optionLabel("optimizer.learningRate")) or set \(optionLabel("clip")), and start again with --overwrite.
                """
            )
        }
        // Pruned weights do not exist: their gradients count neither in the norm nor in the clip.
        let gradientNorm = try maskAndClipGradients(parameters, maxNorm: training.clip)
        StepProfile.lap(.masks)
        session.optimizer.learningRate = scheduledLearningRate()
        try session.optimizer.step(parameters, state: device.optimizerState)
        device.store.valuesChangedOnDevice()
        try applyGroupEnvelope()
        StepProfile.lap(.optimizer)
        if !positions.isEmpty {
            try device.store.downloadValues(of: positions)
            session.regularizer.projectPositions(in: session.store)
            try hostChangesToDevice()
        }
        StepProfile.lap(.positions)
        return (loss, penalty, gradientNorm)
    }

    /// The plateau schedule: divide the rate when the schedule metric did not improve on the phase's best.
    mutating func adjustLearningRateOnPlateau(_ values: [String: Double]) {
        guard training.learningRateSchedule.kind == .plateau, let value = values[Task.scheduleMetric], value.isFinite else { return }
        let improved = state.bestMetric.map { Task.primaryMetricIncreases ? value > $0 : value < $0 } ?? true
        if improved {
            state.bestMetric = value
        } else {
            state.learningRate /= training.learningRateSchedule.factor
            progress?.message(
                String(
                    format: "%@ did not improve (%.5g); learning rate now %.4g",
                    Task.scheduleMetric, value, state.learningRate))
        }
    }

    /// The `format` of initial.safetensors (the initial weights a rewound lottery ticket restarts from).
    static var initialFormat: String { "moduli-initial-1" }

    /// The lottery ticket's session: fresh weights and embedding from new streams (`random`) or
    /// the initial values (`rewind`), under the final masks of the main phase. With `main` nil
    /// (resuming inside the lottery phase) the masks come from the checkpoint instead.
    static func lotterySession(
        task: Task, training: TrainingConfig, root: SeededGenerator, main: ParameterStore<Float>?,
        run: RunDirectory
    ) throws -> TrainingSession<Task> {
        // rewind: the main phase's own streams (same positions), then its saved initial values.
        let rewind = training.lottery == .rewind
        var session = try TrainingSession(
            task: task, training: training, weightsRNG: root.derived(rewind ? 1 : 11),
            regularizerRNG: root.derived(rewind ? 3 : 13), prune: false)
        if rewind {
            let url = run.file("initial.safetensors")
            let data = try run.readFile(
                "initial.safetensors", maximumBytes: session.store.totalCount * 8 + (1 << 20),
                hint: "It cannot hold this run's initial weights: restore it, or start the run anew with --overwrite.")
            do {
                let (initial, metadata) = try SafeTensors.decode(data)
                // Written with a checksum over the whole file; earlier versions wrote it without metadata.
                guard SafeTensors.checksumCoverage(metadata) == .wholeFile || metadata.isEmpty else {
                    throw ExperimentError("its checksum over the whole file is missing: the file was changed after it was written")
                }
                try session.store.load(initial)
            } catch {
                throw ExperimentError(
                    """
                    Cannot use the initial weights \(url.path) for the rewound lottery ticket: \(error). Start the run anew with \
                    --overwrite.
                    """
                )
            }
        }
        if let main {
            do { try LotteryTicket.transferMasks(from: main, to: session.store) } catch {
                throw ExperimentError("Cannot set up the lottery ticket: \(error)")
            }
            session.regularizer.updateCoefficients(from: session.store)
        }
        return session
    }

    /// Writes the positions (initial_positions.npy as drawn, positions.npy at the end) and R
    /// (initial_R.npy; R.npy at the end for learned positions, computed from the positions written
    /// beside it) for a geometric regularizer; nothing otherwise.
    static func writeGeometry(_ session: TrainingSession<Task>, to run: RunDirectory, initial: Bool) throws {
        var regularizer = session.regularizer
        guard let positions = regularizer.positions(in: session.store) else { return }
        let prefix = initial ? "initial_" : ""
        try run.writeAtomically(NPYFile.encode(positions.rows), to: "\(prefix)positions.npy")
        if let columns = positions.columns { try run.writeAtomically(NPYFile.encode(columns), to: "\(prefix)column_positions.npy") }
        if initial || regularizer.learned != nil {
            regularizer.updateCoefficients(from: session.store)
            if let r = regularizer.coefficients { try run.writeAtomically(NPYFile.encode(r), to: "\(prefix)R.npy") }
        }
    }
}

extension Trainer {
    /// Checks a checkpoint's trainer state against the configuration before anything is built from it.
    static func check(_ s: TrainerState<Task.Stream>, optimizerStep: Int, training: TrainingConfig, run: RunDirectory) throws {
        let path = run.file(Checkpoint.fileName).path
        let phases = training.lottery == .none ? 1 : 2
        let total = training.phaseSteps
        func fail(_ what: String) -> ExperimentError {
            ExperimentError("The checkpoint \(path) is inconsistent with the run: \(what). Start the run anew with --overwrite.")
        }
        guard s.phase >= 0 && s.phase < phases else { throw fail("phase \(s.phase), but the run has \(phases) phase(s)") }
        guard s.step >= 0 && s.step <= total else { throw fail("step \(s.step) of a phase of \(total) steps") }
        guard s.globalStep == s.phase * total + s.step else {
            throw fail("global step \(s.globalStep) does not match phase \(s.phase), step \(s.step)")
        }
        guard s.phase == 0 || s.main != nil else { throw fail("the lottery phase has no result of the main phase") }
        guard s.metricsBytes >= 0, s.learningRate > 0, s.learningRate.isFinite else {
            throw fail("invalid metrics length or learning rate")
        }
        guard optimizerStep == s.step else { throw fail("its optimizer took \(optimizerStep) steps in the phase, its trainer \(s.step)") }
    }
}
