// Human-readable progress on stderr: a redrawn bar with step, loss, steps/s and ETA on a
// terminal (cut to the terminal's width); plain lines otherwise (logs, CI).
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reports training progress to standard error.
///
/// Output goes through write(2) and failures are ignored: progress is never worth stopping a
/// run for (stderr closed, or a pipe whose reader has gone, `moduli ... 2>&1 | head -1`).
public final class ProgressReporter: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let interactive: Bool
    /// The step and time from which the rate is measured: steps done by this process only.
    private var baseline: (step: Int, time: Date)?
    private var lastDraw = Date.distantPast
    private var lastLine = Date.distantPast
    private var broken = false
    /// Seconds between plain lines when not on a terminal.
    public var lineInterval: TimeInterval = 10
    /// Whether to print anything.
    public let quiet: Bool

    /// A reporter for steps `firstStep ..< total`. The rate and ETA count only the steps after
    /// `firstStep` (a resumed run's earlier steps took no time in this process). Without
    /// `firstStep`, they are measured from the first `update` (or from `begin(atStep:)`).
    public init(label: String, total: Int, firstStep: Int? = nil, quiet: Bool = false) {
        self.label = label
        self.total = total
        self.quiet = quiet
        baseline = firstStep.map { ($0, Date()) }
        interactive = isatty(STDERR_FILENO) != 0
    }

    /// Starts measuring the rate from `step`, now (for a caller that learns the first step
    /// after creating the reporter, as a resume does).
    public func begin(atStep step: Int) {
        baseline = (step, Date())
    }

    /// Steps per second since the baseline, or nil before any measurable progress.
    func rate(step: Int, now: Date) -> Double? {
        guard let b = baseline else { return nil }
        let elapsed = now.timeIntervalSince(b.time)
        guard elapsed > 0, step > b.step else { return nil }
        return Double(step - b.step) / elapsed
    }

    /// The progress text for `step` (without bar or line end).
    func text(step: Int, loss: Double, extra: String, now: Date) -> String {
        let r = rate(step: step, now: now)
        let rateText = r.map { String(format: "%.1f steps/s", $0) } ?? "- steps/s"
        let eta = r.map { ProgressReporter.format(seconds: Double(max(0, total - step)) / $0) } ?? "?"
        return "\(label) step \(step)/\(total)  loss \(String(format: "%.5f", loss))  \(rateText)  ETA \(eta)"
            + (extra.isEmpty ? "" : "  " + extra)
    }

    /// Reports that `step` steps are done; `extra` is shown after the ETA.
    public func update(step: Int, loss: Double, extra: String = "") {
        let now = Date()
        if baseline == nil { baseline = (step, now) }
        guard !quiet else { return }
        if interactive {
            guard now.timeIntervalSince(lastDraw) > 0.1 || step == total else { return }
            lastDraw = now
            let width = 24, filled = total > 0 ? max(0, min(width, width * step / total)) : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = ProgressReporter.fit(
                "[\(bar)] " + text(step: step, loss: loss, extra: extra, now: now),
                columns: ProgressReporter.terminalColumns())
            emit("\r\u{1B}[2K" + line)
        } else if now.timeIntervalSince(lastLine) >= lineInterval || step == total {
            lastLine = now
            emit(text(step: step, loss: loss, extra: extra, now: now) + "\n")
        }
    }

    /// Prints a line of its own (ends the bar line first on a terminal).
    public func message(_ text: String) {
        guard !quiet else { return }
        emit((interactive ? "\r\u{1B}[2K" : "") + text + "\n")
    }

    /// Ends the bar.
    public func finish() {
        if interactive && !quiet { emit("\n") }
    }

    /// Writes to stderr, ignoring failures; after EPIPE or EBADF nothing more is attempted.
    private func emit(_ text: String) {
        guard !broken else { return }
        let bytes = Array(text.utf8)
        let code = bytes.withUnsafeBytes { FileIO.writeAll(STDERR_FILENO, $0) }
        if code == EPIPE || code == EBADF { broken = true }
    }

    /// `text` cut to fit in `columns - 1` columns (a line that fills the last column wraps on
    /// many terminals, and then `\r` no longer returns to its start).
    static func fit(_ text: String, columns: Int) -> String {
        let room = max(1, columns - 1)
        guard text.count > room else { return text }
        return String(text.prefix(room))
    }

    /// The width of the terminal on stderr, or 80 when it cannot be told.
    static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// "1h02m", "3m04s", "12s"; "?" for a time that is not finite or beyond a year.
    public static func format(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 366 * 86_400 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
