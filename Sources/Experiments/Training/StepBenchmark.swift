// Timing the trainer's own optimizer step for `moduli bench train`: the step a run takes (forward,
// backward, penalty, masking, clipping, update, products), without evaluation or checkpoints.
import Compute
import Foundation
import Linalg
import NN
import Sparsity

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
    /// Pooled sparsity of the pruned tensors while the steps ran (0 without pruning).
    public var sparsity: Double
    /// Milliseconds per step of each phase (`StepProfile`), when the steps were profiled.
    public var phases: [String: Double]?
    /// The threads the steps ran on.
    public var threads: Int = 1
    /// The kernels of each pruned weight's products while the steps ran: its name and "sparse" or
    /// "dense" (`KernelChoice`).
    public var kernels: [String: String] = [:]
    /// The decisions of `--recurrent-kernels auto` after `prunedTo` (with their timings).
    public var kernelDecisions: [KernelDecision] = []
}

extension Trainer {
    /// Takes `warmup` and then `steps` timed optimizer steps of the main phase from the run's start
    /// (the same code as `train`, in a scratch run directory that is removed afterwards); nothing is
    /// evaluated, pruned or saved. With `prunedTo`, every pruned tensor is first pruned alone to that
    /// sparsity by magnitude (masks in force), as a run is late in its schedule or in its lottery
    /// phase, so that the step runs the kernels `--recurrent-kernels` chooses there.
    /// With `profile`, the timed steps also report milliseconds per phase (`StepProfile`).
    public func timeSteps(_ steps: Int, warmup: Int, prunedTo: Double? = nil, profile: Bool = false) throws -> StepTiming {
        try Parallel.withSubnormalsFlushed { try timeStepsFlushed(steps, warmup: warmup, prunedTo: prunedTo, profile: profile) }
    }

    /// `timeSteps` on a thread that flushes subnormals, as training does, on the run's device.
    private func timeStepsFlushed(_ steps: Int, warmup: Int, prunedTo: Double?, profile: Bool) throws -> StepTiming {
        try (config.training.device ?? .cpu).run(Timing(trainer: self, steps: steps, warmup: warmup, prunedTo: prunedTo, profile: profile))
    }

    /// `timeSteps` as work for the run's device.
    private struct Timing: DeviceWork {
        let trainer: Trainer, steps: Int, warmup: Int, prunedTo: Double?, profile: Bool
        func run<Backend: ComputeBackend>(deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>) throws
            -> StepTiming where Backend.Scalar == Float
        {
            try trainer.timeSteps(steps, warmup: warmup, prunedTo: prunedTo, profile: profile, deviceStore: deviceStore)
        }
    }

    /// `timeSteps` with the steps on the backend of `deviceStore`'s stores.
    fileprivate func timeSteps<Backend: ComputeBackend>(
        _ steps: Int, warmup: Int, prunedTo: Double?, profile: Bool,
        deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>
    ) throws -> StepTiming where Backend.Scalar == Float {
        try require(steps >= 1 && steps <= 100_000, "--steps must be between 1 and 100000, got \(steps).")
        try require(warmup >= 0 && warmup <= 100_000, "--warmup must be between 0 and 100000, got \(warmup).")
        if let prunedTo { try require(prunedTo >= 0 && prunedTo < 1, "--pruned must be at least 0 and below 1, got \(prunedTo).") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var loop = try TrainingLoop(
            trainer: self, run: RunDirectory(path: scratch, overwrite: false, resume: false),
            resume: false, showProgress: false, deviceStore: deviceStore)
        if let prunedTo {
            let store = loop.session.store
            for slot in loop.session.roles.pruned { GradualMagnitudePruner.prune([slot], toSparsity: prunedTo, in: store) }
            try loop.hostChangesToDevice()
            try loop.chooseKernels()
        }
        for _ in 0..<warmup { _ = try loop.takeStep() }
        var times: [Double] = []
        let phases = profile ? StepProfile() : nil
        try StepProfile.$current.withValue(phases) {
            for _ in 0..<steps {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try loop.takeStep()
                try loop.device.backend.synchronize()  // a GPU's work is asynchronous
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        var timing = StepTiming(milliseconds: times, sparsity: loop.session.sparsity().pooled.sparsity)
        timing.phases = phases.map { Dictionary(uniqueKeysWithValues: $0.millisecondsPerStep.map { ($0.phase.rawValue, $0.milliseconds) }) }
        timing.threads = config.training.threads
        timing.kernels = loop.session.roles.kernelChoices(in: loop.session.store)
        timing.kernelDecisions = loop.state.kernelDecisions ?? []
        return timing
    }
}
