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
        /// with the loss, chunk by chunk), and the sparse products' refresh of their weight copies
        /// (at their first use after the optimizer moved the weights' versions).
        case forward
        /// The backward pass (weight and input gradients).
        case backward
        /// The moduli penalty and its gradient.
        case penalty
        /// Masking the pruned gradients and the gradient norm (and clipping).
        case masks
        /// The optimizer's update.
        case optimizer
        /// Projecting learned positions back onto their space.
        case positions
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

/// Amdahl's law over the phases of a step timed at 1 thread and at `threads`: each phase's part
/// that does not scale, and the step projected to more threads.
public struct AmdahlProfile: Sendable {
    /// Milliseconds per phase at 1 thread and at `threads`.
    public let one: [String: Double], many: [String: Double]
    /// The threads of `many`.
    public let threads: Int

    /// A profile from milliseconds per phase (`StepTiming.phases`) at 1 thread and at `threads`.
    public init(one: [String: Double], many: [String: Double], threads: Int) {
        self.one = one; self.many = many; self.threads = threads
    }

    /// The serial fraction f of a phase from T1 and Tp = T1 (f + (1 - f) / p), clamped to [0, 1];
    /// 1 at one thread (nothing measured scales).
    public static func serialFraction(one: Double, many: Double, threads: Int) -> Double {
        guard threads > 1, one > 0 else { return 1 }
        let p = Double(threads)
        return min(1, max(0, (many / one - 1 / p) / (1 - 1 / p)))
    }

    /// Milliseconds of a phase at `n` threads: T1 (f + (1 - f) / n).
    public static func projected(one: Double, fraction: Double, threads n: Int) -> Double { one * (fraction + (1 - fraction) / Double(n)) }

    /// One line per phase and one for the whole step: PROFILE phase, ms at 1 and at `threads`
    /// threads, serial fraction, ms projected to 16 and 64 threads.
    public var lines: [String] {
        let phases = StepProfile.Phase.allCases.map(\.rawValue)
        var out = [
            "PROFILE "
                + ["phase", "1 thr ms", "\(threads) thr ms", "serial", "16 thr ms", "64 thr ms"].map(Self.padded).joined(separator: " ")
        ]
        var totals = (one: 0.0, many: 0.0, p16: 0.0, p64: 0.0, serial: 0.0)
        for phase in phases {
            let t1 = one[phase] ?? 0, tp = many[phase] ?? 0
            let f = Self.serialFraction(one: t1, many: tp, threads: threads)
            let p16 = Self.projected(one: t1, fraction: f, threads: 16), p64 = Self.projected(one: t1, fraction: f, threads: 64)
            totals.one += t1; totals.many += tp; totals.p16 += p16; totals.p64 += p64; totals.serial += f * t1
            out.append(Self.line(phase, [t1, tp, f, p16, p64]))
        }
        out.append(Self.line("step", [totals.one, totals.many, totals.one > 0 ? totals.serial / totals.one : 1, totals.p16, totals.p64]))
        return out
    }

    /// `text` padded to a column of 10 characters.
    static func padded(_ text: String) -> String { text.padding(toLength: max(10, text.count), withPad: " ", startingAt: 0) }

    /// A PROFILE line: the phase and its numbers with three decimals.
    static func line(_ phase: String, _ values: [Double]) -> String {
        "PROFILE " + ([phase] + values.map { String(format: "%.3f", $0) }).map(padded).joined(separator: " ")
    }
}
