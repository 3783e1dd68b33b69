// A request to stop, made by a signal: SIGINT (Ctrl-C), SIGTERM (kill, Slurm's end of a job, a
// sweep stopping its runs) or SIGHUP (a closed terminal). The handler only records the signal; the
// trainer looks at it between steps and stops with a checkpoint, the sweep forwards it to its runs.
// A second SIGINT while a stop is pending (Ctrl-C twice) ends the process at once.
import Foundation
import Synchronization
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's pending stop request.
public enum StopRequest {
    /// The signal that asked for the stop, 0 while none did.
    private static let pending = Atomic<Int32>(0)

    /// The signals a graceful stop answers.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// The signal of the pending request, or nil.
    public static var signal: Int32? {
        let s = pending.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }

    /// Records a request (what the signal handler does; also for a stop decided otherwise).
    public static func request(_ signal: Int32) {
        pending.store(signal, ordering: .sequentiallyConsistent)
    }

    /// Forgets a pending request (tests).
    public static func reset() { pending.store(0, ordering: .sequentiallyConsistent) }

    /// Installs the handler for SIGINT, SIGTERM and SIGHUP and unblocks them in the calling thread
    /// (call it from the main thread, before other threads start). The handler records the signal,
    /// and a blocking system call in progress returns EINTR (no SA_RESTART) so that a waiting
    /// process can look at the request. A second SIGINT restores the default action and raises it
    /// again (Ctrl-C twice ends the process as it would have without the handler). A repeated
    /// SIGTERM or SIGHUP changes nothing: the parent-death signal can arrive more than once (once
    /// per thread of a dying multi-threaded parent), and a stop with a checkpoint should not turn into a kill without one.
    public static func installHandlers() {
        _ = pending.load(ordering: .relaxed)  // initialized before any handler can run
        for s in signals { setAction(of: s, to: stopSignalHandler) }
        // A process can start with these signals blocked (a parent that blocked them before it
        // started this one: the mask is inherited); blocked, they would never arrive.
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal's name for messages ("SIGTERM").
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        case SIGKILL: return "SIGKILL"
        default: return "signal \(signal)"
        }
    }

    /// The conventional exit status of a process stopped by `signal`: 128 + its number.
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    fileprivate static func handle(_ signal: Int32) {
        if signal == SIGINT, pending.load(ordering: .relaxed) == SIGINT {
            setAction(of: signal, to: SIG_DFL)
            _ = raise(signal)
            return
        }
        pending.store(signal, ordering: .relaxed)
    }

    /// Makes `handler` the action of `signal`: no flags (so no SA_RESTART), nothing else blocked
    /// while it runs. Async-signal-safe (sigaction and sigemptyset only).
    private static func setAction(of signal: Int32, to handler: (@convention(c) (Int32) -> Void)?) {
        var action = sigaction()
        #if os(Linux)
            action.__sigaction_handler.sa_handler = handler
        #else
            action.__sigaction_u.__sa_handler = handler
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        _ = sigaction(signal, &action, nil)
    }
}

/// The C signal handler: only atomic operations and async-signal-safe calls.
private func stopSignalHandler(_ signal: Int32) {
    StopRequest.handle(signal)
}

/// The trainer stopped between two steps because a signal asked it to; the run's checkpoint holds
/// the step it stopped after, and `--resume` continues from there exactly.
public struct TrainingStopped: Error, CustomStringConvertible, Sendable {
    /// The signal that asked for the stop.
    public let signal: Int32
    /// The global step the checkpoint holds.
    public let step: Int
    /// The run directory.
    public let directory: String
    /// The task, for the resume command.
    public let task: String

    /// The exit status for it (128 + the signal's number: 130 SIGINT, 143 SIGTERM, 129 SIGHUP).
    public var exitStatus: Int32 { StopRequest.exitStatus(for: signal) }

    public var description: String {
        "Stopped by \(StopRequest.name(of: signal)) after step \(step); the checkpoint in \(directory) holds it. "
            + "Continue with `moduli train \(task) --out \(directory) --resume`."
    }
}
