// The fully resolved configuration of an adding-problem run (PAPER.md section 6), as written to
// config.json. Defaults are the paper's protocol.
import Geometry
import NN
import Sparsity

/// How the final masks are retrained after sparse training (PAPER.md section 3).
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
    /// The paper's: at the start of epoch e, target * e / (E - 1).
    case linear
    /// Zhu & Gupta (2017): target * (1 - (1 - e / (E - 1))^3).
    case cubic
}

/// Everything that determines an adding-problem run.
public struct AddingConfig: Codable, Sendable, Equatable {
    /// Seed of the run: weights, data stream and regularizer draws derive from it.
    public var seed: UInt64 = 0
    /// Seed of the fixed held-out test set (the same for every run seed, so runs compare).
    public var testSeed: UInt64 = 20_240_610
    /// Sequence length T.
    public var length = 50
    /// Hidden units H.
    public var hiddenSize = 128
    /// Recurrent layers.
    public var layers = 1
    /// Cell: rnn_relu (paper), rnn_tanh, lstm or gru.
    public var cell: CellKind = .rnnReLU
    /// Biases in the recurrent layers.
    public var bias = true
    /// Batch size B.
    public var batchSize = 32
    /// Adam learning rate.
    public var learningRate = 1e-4
    /// Global gradient-norm clip (0 = none).
    public var clip = 0.5
    /// Epochs of the main phase (pruning happens at the start of epochs 1 ... epochs-1).
    public var epochs = 100
    /// Batches of fresh samples per epoch.
    public var batchesPerEpoch = 313
    /// Epochs at fixed sparsity after the main phase.
    public var fixedEpochs = 10
    /// Held-out test sequences.
    public var testSize = 2000
    /// Evaluate the test MSE every this many epochs (and always after the last).
    public var evaluateEvery = 1
    /// Training-loss lines in metrics.jsonl every this many steps.
    public var logEvery = 100
    /// OpenBLAS threads.
    public var threads = 1
    /// The moduli regularizer on W_hh (PAPER.md section 2; lambda 1e-3 for this task).
    public var regularizer = RegularizerConfig.none
    /// Pooled target sparsity of W_ih, W_hh and the read-out weight (0 = no pruning; paper 0.95).
    public var targetSparsity = 0.0
    /// The pruning schedule's shape.
    public var schedule = ScheduleShape.linear
    /// Per-tensor final targets in the order W_ih, W_hh (per layer), fc.weight; nil = one global threshold.
    public var tensorTargets: [Double]? = nil
    /// Lottery-ticket retraining of the final masks for the same budget.
    public var lottery = LotteryMode.none
    /// Package version that wrote the config.
    public var version = ModuliVersion.string

    /// The paper's defaults.
    public init() {}

    /// Optimizer steps of one phase (main training, or the lottery ticket's retraining).
    public var phaseSteps: Int { (epochs + fixedEpochs) * batchesPerEpoch }

    /// Total optimizer steps over all phases.
    public var totalSteps: Int { phaseSteps * (lottery == .none ? 1 : 2) }

    /// The pruning schedule over epochs (`.none` without a target).
    public var pruningSchedule: PruningSchedule {
        guard targetSparsity > 0 else { return .none }
        switch schedule {
        case .linear: return .linear(target: targetSparsity, epochs: epochs)
        case .cubic: return .cubic(initial: 0, final: targetSparsity, start: 0, interval: 1, steps: max(0, epochs - 1))
        }
    }

    /// Checks every value; the error names the option and what is allowed.
    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw ExperimentError(message) } }
        try require(length >= 2, "--length must be at least 2 (two markers), got \(length).")
        try require(hiddenSize >= 1 && hiddenSize <= 65_536, "--hidden must be between 1 and 65536, got \(hiddenSize).")
        try require(layers >= 1 && layers <= 16, "--layers must be between 1 and 16, got \(layers).")
        try require(batchSize >= 1 && batchSize <= 1_000_000, "--batch-size must be between 1 and 1000000, got \(batchSize).")
        try require(learningRate > 0 && learningRate.isFinite, "--lr must be a positive number, got \(learningRate).")
        try require(clip >= 0 && clip.isFinite, "--clip must be 0 (off) or positive, got \(clip).")
        try require(epochs >= 1, "--epochs must be at least 1, got \(epochs).")
        try require(batchesPerEpoch >= 1, "--batches-per-epoch must be at least 1, got \(batchesPerEpoch).")
        try require(fixedEpochs >= 0, "--fixed-epochs must be 0 or more, got \(fixedEpochs).")
        try require(testSize >= 1, "--test-size must be at least 1, got \(testSize).")
        try require(evaluateEvery >= 1, "--evaluate-every must be at least 1, got \(evaluateEvery).")
        try require(logEvery >= 1, "--log-every must be at least 1, got \(logEvery).")
        try require(threads >= 1 && threads <= 256, "--threads must be between 1 and 256, got \(threads).")
        try require(targetSparsity >= 0 && targetSparsity < 1, "--target-sparsity must be in [0, 1), got \(targetSparsity).")
        try require(targetSparsity == 0 || epochs >= 2, "Pruning happens at the start of epochs 1 ... epochs-1: --epochs must be at least 2 with --target-sparsity.")
        if let t = tensorTargets {
            try require(targetSparsity > 0, "--tensor-targets needs --target-sparsity (the schedule's shape).")
            try require(t.count == 2 * layers + 1, "--tensor-targets needs \(2 * layers + 1) values (W_ih, W_hh per layer, then fc.weight), got \(t.count).")
            try require(t.allSatisfy { $0 >= 0 && $0 < 1 }, "--tensor-targets must each be in [0, 1).")
        }
        try require(lottery == .none || targetSparsity > 0, "--lottery \(lottery.rawValue) needs pruning masks: set --target-sparsity.")
        do { try regularizer.validate() } catch { throw ExperimentError("\(error).") }
        if case .geometric(let name) = regularizer.kind {
            do { _ = try ModuliSpaces.named(name) } catch { throw ExperimentError("--moduli: \(error)") }
        }
        let activations = Double(length) * Double(batchSize) * Double(hiddenSize) * Double(layers)
        try require(activations <= 2e9, "--length x --batch-size x --hidden x --layers = \(Int(activations)) activations is too large for memory; reduce one of them.")
    }
}
