// Timing the trainer's own optimizer step for `moduli bench train`: the step a run takes (forward,
// backward, penalty, masking, clipping, update, products), without evaluation or checkpoints.
import Foundation

/// Milliseconds per training step of a configuration.
public struct StepTiming: Sendable, Codable {
    /// Every timed step, in order.
    public var milliseconds: [Double]
    /// The mean.
    public var mean: Double { milliseconds.reduce(0, +) / Double(max(1, milliseconds.count)) }
    /// The median.
    public var median: Double {
        let s = milliseconds.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    /// The fastest step.
    public var minimum: Double { milliseconds.min() ?? .nan }
}

extension Trainer {
    /// Takes `warmup` and then `steps` timed optimizer steps of the main phase from the run's start
    /// (the same code as `train`, in a scratch run directory that is removed afterwards); nothing is
    /// evaluated, pruned or saved.
    public func timeSteps(_ steps: Int, warmup: Int) throws -> StepTiming {
        try require(steps >= 1 && steps <= 100_000, "--steps must be between 1 and 100000, got \(steps).")
        try require(warmup >= 0 && warmup <= 100_000, "--warmup must be between 0 and 100000, got \(warmup).")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var loop = try TrainingLoop(trainer: self, run: RunDirectory(path: scratch, overwrite: false, resume: false),
                                    resume: false, showProgress: false)
        for _ in 0..<warmup { _ = try loop.takeStep() }
        var times: [Double] = []
        for _ in 0..<steps {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try loop.takeStep()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return StepTiming(milliseconds: times)
    }
}
