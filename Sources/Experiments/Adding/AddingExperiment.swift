// The adding-problem training run end to end (PAPER.md section 6): fresh batches every step, Adam,
// gradient clipping, a fixed held-out test set, metrics, checkpoints and a summary.
import Foundation
import Linalg
import NN

/// The result of an adding-problem run, as written to summary.json.
public struct AddingSummary: Codable, Sendable {
    /// Mean squared error on the held-out test set after the last step.
    public var testMSE: Double
    /// The MSE of always predicting 1 (1/6): the baseline to beat.
    public var trivialMSE = AddingProblem.trivialMSE
    /// Mean training loss over the last epoch.
    public var trainLoss: Double
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
    var step = 0
    var dataRNG: SeededGenerator
    var wallSeconds = 0.0
    var epochLossSum = 0.0
    var epochLossCount = 0
    var lastEpochLoss = Double.nan
}

/// Trains the adding-problem model.
public enum AddingExperiment {
    /// Runs (or resumes) a training run in `run` and returns its summary. Writes config.json,
    /// metrics.jsonl, checkpoint.safetensors (every epoch), model.safetensors and summary.json.
    /// With `stopAfterEpochs`, stops after that many epochs in total (at a checkpoint) and returns
    /// nil: the run can be resumed later.
    @discardableResult
    public static func run(_ config: AddingConfig, in run: RunDirectory, resume: Bool = false,
                           progress: ProgressReporter? = nil, stopAfterEpochs: Int? = nil) throws -> AddingSummary? {
        try config.validate()
        BLASThreads.set(config.threads)
        let root = SeededGenerator(seed: config.seed)
        var initRNG = root.derived(1)
        let store = ParameterStore<Float>()
        let model = AddingModel(kind: config.cell, hiddenSize: config.hiddenSize, layers: config.layers, bias: config.bias,
                                store: store, rng: &initRNG)
        var optimizer = Adam<Float>(learningRate: config.learningRate)
        var testRNG = SeededGenerator(seed: config.testSeed)
        let testSet = AddingProblem.batch(length: config.length, batch: config.testSize, rng: &testRNG)

        var state = AddingTrainingState(dataRNG: root.derived(2))
        if resume {
            let saved = try run.readJSON(AddingConfig.self, from: "config.json")
            guard saved == config else {
                throw ExperimentError("The configuration differs from the one in \(run.file("config.json").path); resume with the run's own options.")
            }
            let (optState, trainerState) = try Checkpoint.load(store, stateType: AddingTrainingState.self, from: run)
            optimizer.state = optState
            state = trainerState
            progress?.message("Resuming \(run.url.path) at step \(state.step) of \(config.totalSteps).")
        } else {
            try run.writeJSON(config, to: "config.json")
        }
        let metrics = try MetricsLog(run: run, keepUpToStep: resume ? state.step : nil)

        let total = config.totalSteps
        var windowLoss = 0.0, windowCount = 0
        var testMSE = Double.nan
        var sessionStart = Date()
        while state.step < total {
            let batch = AddingProblem.batch(length: config.length, batch: config.batchSize, rng: &state.dataRNG)
            store.zeroGradients()
            let loss = model.lossAndGradients(batch, store)
            guard loss.isFinite else {
                throw ExperimentError("The training loss became \(loss) at step \(state.step + 1). Lower --lr or use --clip; the last good checkpoint is in \(run.url.path).")
            }
            let gradientNorm = config.clip > 0 ? clipGradientNorm(store, maxNorm: config.clip)
                : Kernels.sumOfSquares(UnsafePointer(store.gradients.baseAddress!), count: store.totalCount).squareRoot()
            optimizer.step(store)
            state.step += 1
            windowLoss += loss; windowCount += 1
            state.epochLossSum += loss; state.epochLossCount += 1

            if state.step % config.logEvery == 0 {
                try metrics.append(TrainRecord(step: state.step, loss: windowLoss / Double(windowCount), gradientNorm: gradientNorm))
                progress?.update(step: state.step, loss: windowLoss / Double(windowCount),
                                 extra: testMSE.isNaN ? "" : String(format: "test MSE %.5f", testMSE))
                windowLoss = 0; windowCount = 0
            }
            if state.step % config.batchesPerEpoch == 0 {
                let epoch = state.step / config.batchesPerEpoch
                state.lastEpochLoss = state.epochLossSum / Double(max(1, state.epochLossCount))
                state.epochLossSum = 0; state.epochLossCount = 0
                if epoch % config.evaluateEvery == 0 || state.step == total {
                    testMSE = model.meanSquaredError(testSet, length: config.length, store)
                    try metrics.append(EvalRecord(step: state.step, epoch: epoch, trainLoss: state.lastEpochLoss, testMSE: testMSE))
                }
                let now = Date()
                state.wallSeconds += now.timeIntervalSince(sessionStart)
                sessionStart = now
                try Checkpoint.save(store, optimizer: optimizer.state, state: state, to: run)
                if let stop = stopAfterEpochs, epoch >= stop, state.step < total {
                    progress?.finish()
                    return nil
                }
            }
        }
        state.wallSeconds += Date().timeIntervalSince(sessionStart)
        progress?.finish()
        testMSE = model.meanSquaredError(testSet, length: config.length, store)
        try Checkpoint.saveModel(store, to: run, metadata: ["task": "adding", "version": ModuliVersion.string])
        let summary = AddingSummary(testMSE: testMSE, trainLoss: state.lastEpochLoss, steps: state.step,
                                    wallSeconds: state.wallSeconds,
                                    stepsPerSecond: state.wallSeconds > 0 ? Double(state.step) / state.wallSeconds : 0,
                                    seed: config.seed)
        try run.writeJSON(summary, to: "summary.json")
        return summary
    }
}

/// A training-loss line of metrics.jsonl.
struct TrainRecord: Encodable {
    let kind = "train"
    let step: Int
    let loss: Double
    let gradientNorm: Double
}

/// An evaluation line of metrics.jsonl.
struct EvalRecord: Encodable {
    let kind = "eval"
    let step: Int
    let epoch: Int
    let trainLoss: Double
    let testMSE: Double
}
