// A self-describing run directory: config.json, metrics.jsonl, summary.json, checkpoints.
// Every file is written to a temporary name and renamed, so a crash never leaves half a file.
import Foundation

/// Errors a user can act on: each message names the problem and what to do.
public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    /// The message shown to the user.
    public let description: String
    /// An error with a user-facing message.
    public init(_ description: String) { self.description = description }
}

/// The output directory of one training run.
public struct RunDirectory: Sendable {
    /// The directory.
    public let url: URL

    /// Opens `path` for a new run. Fails with a clear message if it cannot be created or written,
    /// or if it already holds a run and neither `overwrite` nor `resume` is set.
    public init(path: String, overwrite: Bool, resume: Bool) throws {
        let fm = FileManager.default
        url = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw ExperimentError("The output path \(url.path) exists and is a file, not a directory. Choose another --out.")
            }
            let hasRun = fm.fileExists(atPath: url.appendingPathComponent("config.json").path)
            if hasRun && !overwrite && !resume {
                throw ExperimentError("The output directory \(url.path) already holds a run. Pass --resume to continue it, --overwrite to replace it, or choose another --out.")
            }
            if hasRun && overwrite && !resume {
                for name in ["config.json", "metrics.jsonl", "summary.json", "checkpoint.safetensors", "checkpoint.json", "model.safetensors"] {
                    try? fm.removeItem(at: url.appendingPathComponent(name))
                }
            }
        } else {
            do {
                try fm.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw ExperimentError("Cannot create the output directory \(url.path): \(error.localizedDescription). Choose a writable --out.")
            }
        }
        // Probe writability now, before any training time is spent.
        let probe = url.appendingPathComponent(".write-test-\(ProcessInfo.processInfo.processIdentifier)")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw ExperimentError("The output directory \(url.path) is not writable. Choose a writable --out.")
        }
        try? fm.removeItem(at: probe)
    }

    /// The URL of a file in the run directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `data` to `name` through a temporary file and an atomic rename.
    public func writeAtomically(_ data: Data, to name: String) throws {
        try RunDirectory.writeAtomically(data, to: file(name))
    }

    /// Writes `data` to `destination` through a temporary file in the same directory and a rename.
    public static func writeAtomically(_ data: Data, to destination: URL) throws {
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try data.write(to: temporary)
            if rename(temporary.path, destination.path) != 0 {
                throw ExperimentError("Cannot rename \(temporary.path) to \(destination.path): \(String(cString: strerror(errno)))")
            }
        } catch let e as ExperimentError {
            try? FileManager.default.removeItem(at: temporary)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ExperimentError("Cannot write \(destination.path): \(error.localizedDescription)")
        }
    }

    /// Encodes `value` as pretty, key-sorted JSON into `name`, atomically.
    public func writeJSON<T: Encodable>(_ value: T, to name: String) throws {
        try writeAtomically(try RunDirectory.encodeJSON(value), to: name)
    }

    /// Pretty, key-sorted JSON with a trailing newline.
    public static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    /// Decodes JSON from `name`.
    public func readJSON<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        let data = try Data(contentsOf: file(name))
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(T.self, from: data)
    }
}

/// Appends one JSON object per line to metrics.jsonl. On resume, lines past the checkpoint's
/// step are dropped so that the log never holds a step twice.
public final class MetricsLog: @unchecked Sendable {
    private let handle: FileHandle
    private let encoder: JSONEncoder

    /// Opens (or creates) `metrics.jsonl` in `run`. With `keepUpToStep`, earlier lines with a
    /// larger `step` are removed first (resume); otherwise the file starts empty.
    public init(run: RunDirectory, keepUpToStep: Int? = nil) throws {
        let url = run.file("metrics.jsonl")
        var kept = Data()
        if let limit = keepUpToStep, let old = try? String(contentsOf: url, encoding: .utf8) {
            for line in old.split(separator: "\n") {
                if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let step = obj["step"] as? Int, step <= limit {
                    kept.append(Data(line.utf8)); kept.append(0x0A)
                }
            }
        }
        try RunDirectory.writeAtomically(kept, to: url)
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }

    deinit { try? handle.close() }

    /// Appends one record.
    public func append<T: Encodable>(_ record: T) throws {
        var data = try encoder.encode(record)
        data.append(0x0A)
        handle.write(data)
    }
}
