// The adding-problem training run end to end (PAPER.md section 6): fresh batches every step, Adam,
// the moduli penalty, gradual magnitude pruning, gradient clipping, a fixed held-out test set,
// an optional lottery-ticket phase, metrics, checkpoints and a summary.
import Foundation
import Geometry
import Linalg
import NN
import Sparsity

/// The result of one training phase.
public struct AddingPhaseResult: Codable, Sendable {
    /// Mean squared error on the held-out test set at the end of the phase.
    public var testMSE: Double
    /// Mean training loss (MSE, without the penalty) over the phase's last epoch.
    public var trainLoss: Double
    /// Sparsity of the pruned tensors at the end of the phase.
    public var sparsity: SparsityReport
}

/// The result of an adding-problem run, as written to summary.json.
public struct AddingSummary: Codable, Sendable {
    /// Test MSE after the last step (of the lottery phase, when there is one).
    public var testMSE: Double
    /// The MSE of always predicting 1 (1/6): the baseline to beat.
    public var trivialMSE = AddingProblem.trivialMSE
    /// Mean training loss over the last epoch.
    public var trainLoss: Double
    /// The main (sparse) training phase.
    public var main: AddingPhaseResult
    /// The lottery-ticket phase, when configured.
    public var lottery: AddingPhaseResult?
    /// Statistics of the regularizer's coefficient matrix R at the start (nil without one).
    public var regularizer: RegularizerStatistics?
    /// Optimizer steps taken.
    public var steps: Int
    /// Seconds of training (summed over resumed sessions).
    public var wallSeconds: Double
    /// Steps per second of training.
    public var stepsPerSecond: Double
    /// The run seed.
    public var seed: UInt64
}

/// What the trainer carries from one checkpoint to the next.
struct AddingTrainingState: Codable {
    /// 0 = main training, 1 = lottery-ticket retraining.
    var phase = 0
    /// Steps taken within the phase.
    var step = 0
    var dataRNG: SeededGenerator
    var wallSeconds = 0.0
    var epochLossSum = 0.0
    var epochLossCount = 0
    var lastEpochLoss = Double.nan
    /// Sums over the current metrics.jsonl logging window.
    var windowLoss = 0.0, windowPenalty = 0.0, windowCount = 0
    var main: AddingPhaseResult?
    /// Steps over all phases (the `step` of metrics.jsonl).
    var globalStep = 0
}

/// One phase's model, parameters, regularizer and optimizer.
struct AddingSession {
    let store: ParameterStore<Float>
    let model: AddingModel
    var regularizer: ModuliRegularizer<Float>
    var optimizer: Adam<Float>
    let pruner: GradualMagnitudePruner?

    /// Builds the model and the regularizer from two independent streams.
    init(config: AddingConfig, weightsRNG: SeededGenerator, regularizerRNG: SeededGenerator, prune: Bool) throws {
        var w = weightsRNG, r = regularizerRNG
        store = ParameterStore<Float>()
        model = AddingModel(kind: config.cell, hiddenSize: config.hiddenSize, layers: config.layers, bias: config.bias,
                            store: store, rng: &w)
        do {
            regularizer = try ModuliRegularizer(config: config.regularizer, hiddenSize: config.hiddenSize, in: store, rng: &r)
        } catch { throw ExperimentError("Cannot build the regularizer: \(error)") }
        optimizer = Adam<Float>(learningRate: config.learningRate)
        pruner = prune && config.targetSparsity > 0
            ? GradualMagnitudePruner(slots: model.prunableWeights, schedule: config.pruningSchedule, tensorTargets: config.tensorTargets)
            : nil
    }

    var recurrentWeights: [ParameterSlot] { model.rnn.recurrentWeights }

    func sparsity() -> SparsityReport {
        SparsityReport(store: store, slots: model.prunableWeights, recurrentSlots: recurrentWeights)
    }
}

/// Trains the adding-problem model.
public enum AddingExperiment {
    /// Runs (or resumes) a training run in `run` and returns its summary. Writes config.json,
    /// metrics.jsonl, checkpoint.safetensors (every epoch), model.safetensors, summary.json, and
    /// with a geometric regularizer regularizer.json, R.npy and positions.npy (final positions;
    /// initial_positions.npy as drawn). With `stopAfterEpochs`, stops after that many epochs in
    /// total (at a checkpoint) and returns nil: the run can be resumed later.
    @discardableResult
    public static func run(_ config: AddingConfig, in run: RunDirectory, resume: Bool = false,
                           progress: ProgressReporter? = nil, stopAfterEpochs: Int? = nil) throws -> AddingSummary? {
        try config.validate()
        BLASThreads.set(config.threads)
        let root = SeededGenerator(seed: config.seed)
        var testRNG = SeededGenerator(seed: config.testSeed)
        let testSet = AddingProblem.batch(length: config.length, batch: config.testSize, rng: &testRNG)

        var state = AddingTrainingState(dataRNG: root.derived(2))
        var session = try AddingSession(config: config, weightsRNG: root.derived(1), regularizerRNG: root.derived(3), prune: true)
        if resume {
            let saved = try run.readJSON(AddingConfig.self, from: "config.json")
            guard saved == config else {
                throw ExperimentError("The configuration differs from the one in \(run.file("config.json").path); resume with the run's own options.")
            }
            let (_, peek) = try Checkpoint.load(ParameterStore<Float>(), stateType: AddingTrainingState.self, from: run, stateOnly: true)
            if peek.phase == 1 { session = try lotterySession(config, root: root, main: nil, run: run) }
            let (optState, trainerState) = try Checkpoint.load(session.store, stateType: AddingTrainingState.self, from: run)
            session.optimizer.state = optState
            state = trainerState
            session.regularizer.updateCoefficients(from: session.store)
            progress?.message("Resuming \(run.url.path) at step \(state.globalStep) of \(config.totalSteps).")
        } else {
            try run.writeJSON(config, to: "config.json")
            try writeGeometry(session, to: run, initial: true)
            if config.lottery == .rewind {
                try run.writeAtomically(try SafeTensors.encode(session.store.namedValues()), to: "initial.safetensors")
            }
        }
        let metrics = try MetricsLog(run: run, keepUpToStep: resume ? state.globalStep : nil)
        if !resume, let stats = session.regularizer.statistics() { try run.writeJSON(stats, to: "regularizer.json") }

        var sessionStart = Date()
        func saveCheckpoint(_ session: AddingSession, _ state: inout AddingTrainingState) throws {
            let now = Date()
            state.wallSeconds += now.timeIntervalSince(sessionStart)
            sessionStart = now
            try Checkpoint.save(session.store, optimizer: session.optimizer.state, state: state, to: run)
        }

        while true {
            let finished = try trainPhase(config, session: &session, state: &state, testSet: testSet, metrics: metrics,
                                          progress: progress, checkpoint: saveCheckpoint, stopAfterEpochs: stopAfterEpochs)
            guard finished else { progress?.finish(); return nil }
            let result = AddingPhaseResult(testMSE: session.model.meanSquaredError(testSet, length: config.length, session.store),
                                           trainLoss: state.lastEpochLoss, sparsity: session.sparsity())
            if state.phase == 0 {
                state.main = result
                try writeGeometry(session, to: run, initial: false)
                if config.lottery == .none { break }
                progress?.message(String(format: "main phase: test MSE %.5f at %.1f%% sparsity; lottery ticket (%@) next",
                                         result.testMSE, 100 * result.sparsity.pooled.sparsity, config.lottery.rawValue))
                session = try lotterySession(config, root: root, main: session.store, run: run)
                state.phase = 1
                state.step = 0
                state.epochLossSum = 0; state.epochLossCount = 0
                state.windowLoss = 0; state.windowPenalty = 0; state.windowCount = 0
                try saveCheckpoint(session, &state)
            } else {
                break
            }
        }
        progress?.finish()
        state.wallSeconds += Date().timeIntervalSince(sessionStart)
        try Checkpoint.saveModel(session.store, to: run, metadata: ["task": "adding", "version": ModuliVersion.string])
        let main = state.main!
        let lottery: AddingPhaseResult? = state.phase == 1
            ? AddingPhaseResult(testMSE: session.model.meanSquaredError(testSet, length: config.length, session.store),
                                trainLoss: state.lastEpochLoss, sparsity: session.sparsity())
            : nil
        let last = lottery ?? main
        let summary = AddingSummary(testMSE: last.testMSE, trainLoss: last.trainLoss, main: main, lottery: lottery,
                                    regularizer: try? run.readJSON(RegularizerStatistics.self, from: "regularizer.json"),
                                    steps: state.globalStep, wallSeconds: state.wallSeconds,
                                    stepsPerSecond: state.wallSeconds > 0 ? Double(state.globalStep) / state.wallSeconds : 0,
                                    seed: config.seed)
        try run.writeJSON(summary, to: "summary.json")
        return summary
    }

    /// The lottery ticket's session: fresh weights and embedding from new streams (`random`) or
    /// the initial values (`rewind`), under the final masks of the main phase. With `main` nil
    /// (resuming inside the lottery phase) the masks come from the checkpoint instead.
    static func lotterySession(_ config: AddingConfig, root: SeededGenerator, main: ParameterStore<Float>?,
                               run: RunDirectory) throws -> AddingSession {
        // rewind: the main phase's own streams (same positions), then its saved initial values.
        let rewind = config.lottery == .rewind
        var session = try AddingSession(config: config, weightsRNG: root.derived(rewind ? 1 : 11),
                                        regularizerRNG: root.derived(rewind ? 3 : 13), prune: false)
        if rewind {
            let (initial, _) = try SafeTensors.decode(Data(contentsOf: run.file("initial.safetensors")))
            try session.store.load(initial)
        }
        if let main {
            do { try LotteryTicket.transferMasks(from: main, to: session.store) } catch {
                throw ExperimentError("Cannot set up the lottery ticket: \(error)")
            }
            session.regularizer.updateCoefficients(from: session.store)
        }
        return session
    }

    /// Trains the current phase from `state.step` to its end; returns false if stopped early.
    static func trainPhase(_ config: AddingConfig, session: inout AddingSession, state: inout AddingTrainingState,
                           testSet: AddingBatch, metrics: MetricsLog, progress: ProgressReporter?,
                           checkpoint: (AddingSession, inout AddingTrainingState) throws -> Void,
                           stopAfterEpochs: Int?) throws -> Bool {
        let total = config.phaseSteps, perEpoch = config.batchesPerEpoch
        let recurrent = session.recurrentWeights
        try session.regularizer.checkWeights(recurrent, in: session.store)
        var testMSE = Double.nan
        while state.step < total {
            if state.step % perEpoch == 0, let pruner = session.pruner,
               let event = pruner.prune(atEvent: state.step / perEpoch, in: session.store) {
                try metrics.append(PruneRecord(step: state.globalStep, phase: state.phase, event: event,
                                               sparsity: session.sparsity()))
            }
            let batch = AddingProblem.batch(length: config.length, batch: config.batchSize, rng: &state.dataRNG)
            session.store.zeroGradients()
            let loss = session.model.lossAndGradients(batch, session.store)
            let penalty = session.regularizer.addGradients(weights: recurrent, in: session.store)
            guard loss.isFinite && penalty.isFinite else {
                throw ExperimentError("The training loss became \(loss + penalty) at step \(state.globalStep + 1). Lower --lr or use --clip; the last good checkpoint is in the run directory.")
            }
            let gradientNorm = config.clip > 0 ? clipGradientNorm(session.store, maxNorm: config.clip)
                : Kernels.sumOfSquares(UnsafePointer(session.store.gradients.baseAddress!), count: session.store.totalCount).squareRoot()
            session.optimizer.step(session.store)
            session.regularizer.projectPositions(in: session.store)
            state.step += 1
            state.globalStep += 1
            state.windowLoss += loss; state.windowPenalty += penalty; state.windowCount += 1
            state.epochLossSum += loss; state.epochLossCount += 1

            if state.step % config.logEvery == 0 {
                let n = Double(state.windowCount)
                try metrics.append(TrainRecord(step: state.globalStep, phase: state.phase, loss: state.windowLoss / n,
                                               penalty: state.windowPenalty / n, gradientNorm: gradientNorm))
                progress?.update(step: state.globalStep, loss: state.windowLoss / n,
                                 extra: testMSE.isNaN ? "" : String(format: "test MSE %.5f", testMSE))
                state.windowLoss = 0; state.windowPenalty = 0; state.windowCount = 0
            }
            if state.step % perEpoch == 0 {
                let epoch = state.step / perEpoch
                state.lastEpochLoss = state.epochLossSum / Double(max(1, state.epochLossCount))
                state.epochLossSum = 0; state.epochLossCount = 0
                if epoch % config.evaluateEvery == 0 || state.step == total {
                    testMSE = session.model.meanSquaredError(testSet, length: config.length, session.store)
                    try metrics.append(EvalRecord(step: state.globalStep, phase: state.phase, epoch: epoch,
                                                  trainLoss: state.lastEpochLoss, testMSE: testMSE,
                                                  sparsity: session.sparsity().pooled.sparsity))
                }
                try checkpoint(session, &state)
                let epochsDone = state.phase * (config.epochs + config.fixedEpochs) + epoch
                if let stop = stopAfterEpochs, epochsDone >= stop, state.step < total || state.phase == 0 && config.lottery != .none {
                    return false
                }
            }
        }
        return true
    }

    /// Writes R.npy and positions (initial_positions.npy as drawn, positions.npy at the end) for a
    /// geometric regularizer; nothing otherwise.
    static func writeGeometry(_ session: AddingSession, to run: RunDirectory, initial: Bool) throws {
        guard let positions = session.regularizer.positions(in: session.store) else { return }
        let prefix = initial ? "initial_" : ""
        try run.writeAtomically(NPYFile.encode(positions.rows), to: "\(prefix)positions.npy")
        if let columns = positions.columns { try run.writeAtomically(NPYFile.encode(columns), to: "\(prefix)column_positions.npy") }
        if let r = session.regularizer.coefficients, initial || session.regularizer.learned != nil {
            try run.writeAtomically(NPYFile.encode(r), to: "\(prefix)R.npy")
        }
    }
}

/// A training-loss line of metrics.jsonl (means over the lines' window).
struct TrainRecord: Encodable {
    let kind = "train"
    let step: Int
    let phase: Int
    let loss: Double
    let penalty: Double
    let gradientNorm: Double
}

/// An evaluation line of metrics.jsonl.
struct EvalRecord: Encodable {
    let kind = "eval"
    let step: Int
    let phase: Int
    let epoch: Int
    let trainLoss: Double
    let testMSE: Double
    let sparsity: Double
}

/// A pruning event of metrics.jsonl, with the sparsity of every pruned tensor after it.
struct PruneRecord: Encodable {
    let kind = "prune"
    let step: Int
    let phase: Int
    let event: PruningEvent
    let sparsity: SparsityReport
}
