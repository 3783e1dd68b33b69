// Where a training step's time goes (`moduli bench train --profile`): a lap timer over the phases
// of the trainer's step and of the tasks' forward and backward passes, bound to the task that times
// steps (a task-local value), so that steps timed elsewhere in the process are not counted.
import Foundation

/// Nanoseconds per phase of the training step, summed over the timed steps.
public final class StepProfile: @unchecked Sendable {
    /// The phases of a step, in the order a step runs them.
    public enum Phase: String, CaseIterable, Sendable, Codable {
        /// Clearing the gradients and drawing the batch (trajectories, place-cell codes, a corpus window).
        case data
        /// The forward pass and the loss (the language model's decoder backward too: it runs fused
        /// with the loss, chunk by chunk).
        case forward
        /// The backward pass (weight and input gradients).
        case backward
        /// The moduli penalty and its gradient.
        case penalty
        /// Masking the pruned gradients and the gradient norm (and clipping).
        case masks
        /// The optimizer's update.
        case optimizer
        /// Projecting learned positions and refreshing the sparse products' copies of the weights.
        case products
    }

    /// The profile the current task's steps report to (nil: none; the steps time nothing).
    @TaskLocal public static var current: StepProfile?

    /// Ends the current phase of the profile bound to this task, if any.
    @inline(__always)
    static func lap(_ phase: Phase) { current?.record(phase) }

    private var last: UInt64 = DispatchTime.now().uptimeNanoseconds
    /// Nanoseconds per phase so far.
    public private(set) var nanoseconds: [Phase: UInt64] = [:]
    /// Steps timed so far (`startStep` calls).
    public private(set) var steps = 0

    /// An empty profile.
    public init() {}

    /// Starts the clock of a step's first phase.
    func startStep() {
        steps += 1
        last = DispatchTime.now().uptimeNanoseconds
    }

    /// Adds the time since the last lap to `phase`.
    func record(_ phase: Phase) {
        let now = DispatchTime.now().uptimeNanoseconds
        nanoseconds[phase, default: 0] += now - last
        last = now
    }

    /// Milliseconds per step of each phase (every phase present, 0 when it took none).
    public var millisecondsPerStep: [(phase: Phase, milliseconds: Double)] {
        Phase.allCases.map { ($0, Double(nanoseconds[$0] ?? 0) / 1e6 / Double(max(1, steps))) }
    }
}
