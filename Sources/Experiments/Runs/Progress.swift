// Human-readable progress on stderr: a redrawn bar with step, loss, steps/s and ETA on a
// terminal; plain lines otherwise (logs, CI).
import Foundation

/// Reports training progress to standard error.
public final class ProgressReporter: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let interactive: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastLine = Date.distantPast
    private let firstStep: Int
    /// Seconds between plain lines when not on a terminal.
    public var lineInterval: TimeInterval = 10
    /// Whether to print anything.
    public let quiet: Bool

    /// A reporter for steps `firstStep ..< total`.
    public init(label: String, total: Int, firstStep: Int = 0, quiet: Bool = false) {
        self.label = label
        self.total = total
        self.firstStep = firstStep
        self.quiet = quiet
        interactive = isatty(STDERR_FILENO) != 0
    }

    /// Reports that `step` steps are done; `fields` are shown after the step counter.
    public func update(step: Int, loss: Double, extra: String = "") {
        guard !quiet else { return }
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let done = step - firstStep
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let text = String(format: "%@ step %d/%d  loss %.5f  %.1f steps/s  ETA %@%@", label, step, total, loss, rate,
                          ProgressReporter.format(seconds: eta), extra.isEmpty ? "" : "  " + extra)
        if interactive {
            guard now.timeIntervalSince(lastDraw) > 0.1 || step == total else { return }
            lastDraw = now
            let width = 24, filled = total > 0 ? min(width, width * step / total) : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K[\(bar)] \(text)".utf8))
        } else if now.timeIntervalSince(lastLine) >= lineInterval || step == total {
            lastLine = now
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Prints a line of its own (ends the bar line first on a terminal).
    public func message(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[2K" : "") + text + "\n").utf8))
    }

    /// Ends the bar.
    public func finish() {
        if interactive && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// "1h02m", "3m04s", "12s".
    public static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
