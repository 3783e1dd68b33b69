// metrics.jsonl: one JSON object per line, appended with write(2) so that a failed write (a full
// disk) is an error naming the file, and the log never keeps half a line.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends one JSON object per line to metrics.jsonl.
///
/// On resume the log is cut back to what the checkpoint covers: to a byte length recorded in the
/// checkpoint (`init(run:keepBytes:)`, exact) or to the lines with `step` <= a limit
/// (`init(run:keepUpToStep:)`).
public final class MetricsLog: @unchecked Sendable {
    /// The log's path.
    public let url: URL
    private let descriptor: Int32
    private let encoder: JSONEncoder
    /// The log's length in bytes after the last append (whole lines only).
    public private(set) var byteCount: Int

    /// Opens (or creates) `metrics.jsonl` in `run`. With `keepUpToStep`, earlier lines with a
    /// larger (or no) `step` are removed first (resume); otherwise the file starts empty.
    public convenience init(run: RunDirectory, keepUpToStep: Int? = nil) throws {
        let url = run.file("metrics.jsonl")
        try FileIO.refuseSymbolicLink(url.path, role: "the metrics log")
        var kept = Data()
        if let limit = keepUpToStep, FileManager.default.fileExists(atPath: url.path) {
            let old = try run.readFile("metrics.jsonl")
            for line in old.split(separator: 0x0A) {
                if let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                    let step = obj["step"] as? Int, step <= limit
                {
                    kept.append(contentsOf: line); kept.append(0x0A)
                }
            }
        }
        try RunDirectory.writeAtomically(kept, to: url)
        try self.init(appendingTo: url)
    }

    /// Opens `metrics.jsonl` in `run` and cuts it back to its first `keepBytes` bytes (the length
    /// recorded with a checkpoint), so that a resumed run appends right after the checkpoint's last
    /// line. Fails, naming the file, when the log is shorter than that or the cut would fall inside
    /// a line (the log was edited or replaced).
    public convenience init(run: RunDirectory, keepBytes: Int) throws {
        let url = run.file("metrics.jsonl")
        try FileIO.refuseSymbolicLink(url.path, role: "the metrics log")
        let advice = "The log does not belong to the checkpoint: start the run anew with --overwrite."
        guard keepBytes >= 0 else {
            throw ExperimentError("Cannot keep \(keepBytes) bytes of \(url.path): the length is negative. \(advice)")
        }
        if keepBytes == 0 && !FileManager.default.fileExists(atPath: url.path) {
            try self.init(appendingTo: url)
            return
        }
        let fd = try FileIO.openFile(url.path, O_RDWR | O_NOFOLLOW, purpose: "open the metrics log")
        defer { FileIO.closeFile(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let e = errno
            throw ExperimentError("Cannot read \(url.path): \(FileIO.errorText(e)). \(advice)")
        }
        let size = Int(info.st_size)
        guard size >= keepBytes else {
            throw ExperimentError(
                "\(url.path) holds \(size) bytes, but the checkpoint covers \(keepBytes): the log was cut short. \(advice)")
        }
        if keepBytes > 0 {
            var last: UInt8 = 0
            let n = pread(fd, &last, 1, off_t(keepBytes - 1))
            guard n == 1, last == 0x0A else {
                throw ExperimentError(
                    "\(url.path) does not end a line at byte \(keepBytes), where the checkpoint's part of it ends: it was edited. \(advice)"
                )
            }
        }
        if size > keepBytes, ftruncate(fd, off_t(keepBytes)) != 0 {
            let e = errno
            throw ExperimentError("Cannot cut \(url.path) back to \(keepBytes) bytes: \(FileIO.errorText(e)). \(FileIO.advice(e))")
        }
        try self.init(appendingTo: url)
    }

    /// Appends to the log at `url`, creating it if missing and keeping what it holds. A symbolic
    /// link at `url` is refused: the log is never written through a link.
    public init(appendingTo url: URL) throws {
        self.url = url
        try FileIO.refuseSymbolicLink(url.path, role: "the metrics log")
        descriptor = try FileIO.openFile(url.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, purpose: "open the metrics log")
        var info = stat()
        byteCount = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }

    deinit { FileIO.closeFile(descriptor) }

    /// Appends one record as a line. A failed write (a full disk) throws an error naming the file
    /// and the cause, and cuts off any part of the line that reached the file.
    public func append<T: Encodable>(_ record: T) throws {
        var data: Data
        do { data = try encoder.encode(record) } catch {
            throw ExperimentError("Cannot encode a record for \(url.path): \(RunDirectory.describe(error)).")
        }
        data.append(0x0A)
        let code = FileIO.writeAll(descriptor, data)
        guard code == 0 else {
            _ = ftruncate(descriptor, off_t(byteCount))
            throw ExperimentError(
                """
                Cannot write to \(url.path): \(FileIO.errorText(code)). \(FileIO.advice(code)) The run can continue from its last \
                checkpoint with --resume.
                """
            )
        }
        byteCount += data.count
    }
}
