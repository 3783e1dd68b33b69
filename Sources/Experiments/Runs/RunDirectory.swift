// A self-describing run directory: config.json, metrics.jsonl, summary.json, checkpoints.
// Every file is written to a temporary name, flushed and renamed, so a crash never leaves half a
// file; the directory is locked while a RunDirectory value holds it, so two processes never mix.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Errors a user can act on: each message names the problem and what to do.
public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    /// The message shown to the user.
    public let description: String
    /// An error with a user-facing message.
    public init(_ description: String) { self.description = description }
}

/// The output directory of one training run.
///
/// Opening one takes an exclusive lock on the directory (flock(2)) for as long as the value or a
/// copy of it lives, or until `unlock()`; a second opener, in this process or another, gets an
/// error once the lock has stayed taken for a second (`RunLock.contention`). Opening also removes
/// temporary files that an interrupted write left behind.
public struct RunDirectory: Sendable {
    /// The directory.
    public let url: URL
    private let lock: RunLock
    /// The directories this value created (the run directory and missing parents, outermost first).
    private let created: [String]

    /// Opens `path` for a new run (neither flag), to replace the run there (`overwrite`) or to
    /// continue it (`resume`).
    ///
    /// - A missing directory is created (not with `resume`: there is nothing to continue).
    /// - An empty directory is used as it is (not with `resume`).
    /// - A directory holding a run (see `holdsRun(_:)`) needs `resume` or `overwrite`;
    ///   `overwrite` removes everything in it first, so the new run starts from an empty directory.
    /// - A directory holding other files is refused, with or without `overwrite`: moduli never
    ///   deletes files that are not a run's.
    ///
    /// Every failure is an `ExperimentError` naming the path and what to do.
    public init(path: String, overwrite: Bool, resume: Bool) throws {
        try self.init(path: path, overwrite: overwrite, resume: resume, unique: false)
    }

    /// Opens a new run in a directory of its own: `path` when it does not exist yet, else the first
    /// of `path-2`, `path-3`, ... that does not. Each candidate is created with mkdir(2), which
    /// fails when the name exists, so two processes started at the same moment (the default
    /// `runs/<task>-<time>` of the same second) never share a directory.
    public init(uniquePath path: String) throws {
        try self.init(path: path, overwrite: false, resume: false, unique: true)
    }

    private init(path: String, overwrite: Bool, resume: Bool, unique: Bool) throws {
        guard !path.isEmpty else {
            throw ExperimentError("The output path is empty. Give --out a directory, for example --out runs/my-run.")
        }
        let fm = FileManager.default
        var url = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        var created: [String] = []
        if unique {
            created = try RunDirectory.createDirectories(url.deletingLastPathComponent().path)
            let base = url.path
            var n = 1
            while true {
                let candidate = n == 1 ? base : "\(base)-\(n)"
                if mkdir(candidate, 0o777) == 0 {
                    url = URL(fileURLWithPath: candidate, isDirectory: true)
                    created.append(candidate)
                    break
                }
                let e = errno
                guard e == EEXIST, n < 10_000 else {
                    throw ExperimentError(
                        "Cannot create the output directory \(candidate): \(FileIO.errorText(e)). Choose a writable --out.")
                }
                n += 1
            }
        }
        self.url = url
        let dir = url.path
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ExperimentError("The output path \(dir) exists and is a file, not a directory. Choose another --out.")
            }
        } else {
            if resume {
                throw ExperimentError(
                    "Nothing to resume: the run directory \(dir) does not exist. Check --out, or start a new run without --resume.")
            }
            created = try RunDirectory.createDirectories(dir)
        }
        self.created = created
        lock = try RunLock(directory: dir)
        // Under the lock no other moduli process writes here, so every temporary file is stale.
        try RunDirectory.removeStaleTemporaries(in: dir)
        let names = try RunDirectory.entries(of: dir)
        if names.isEmpty {
            if resume {
                throw ExperimentError(
                    "Nothing to resume: the run directory \(dir) is empty. Check --out, or start a new run without --resume.")
            }
        } else if RunDirectory.holdsRun(url) {
            if !resume && !overwrite {
                if let restart = RunDirectory.restartCommand(url) {
                    throw ExperimentError(
                        """
                        The output directory \(dir) holds a run that stopped before its first checkpoint, so --resume has nothing to \
                        continue. Start it anew with its own configuration (or choose another --out): \(restart)
                        """
                    )
                }
                throw ExperimentError(
                    """
                    The output directory \(dir) already holds a run. Pass --resume to continue it, --overwrite to replace it, or \
                    choose another --out.
                    """
                )
            }
            if overwrite && !resume {
                for name in names {
                    let entry = url.appendingPathComponent(name).path
                    do { try fm.removeItem(atPath: entry) } catch {
                        throw ExperimentError(
                            """
                            Cannot remove \(entry) to overwrite the run in \(dir): \(RunDirectory.describe(error)). Remove it \
                            yourself or choose another --out.
                            """
                        )
                    }
                }
            }
        } else {
            let shown = names.sorted().prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
            let flag = resume ? "--resume" : overwrite ? "--overwrite" : nil
            let why =
                names.contains("config.json") ? "its config.json is not one moduli wrote (damaged, or another program's)" : "no config.json"
            throw ExperimentError(
                "The output directory \(dir) holds files but no moduli run (\(why)): \(shown). "
                    + (flag.map { "\($0) applies only to a run directory; " } ?? "")
                        + """
                        moduli writes only into an empty directory and never deletes other files. Choose another --out, or empty the \
                        directory yourself.
                        """
            )
        }
        // Probe writability now, before any training time is spent.
        let probe = url.appendingPathComponent(".write-test-\(getpid())-\(FileIO.unpredictableSuffix())").path
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            throw ExperimentError("The output directory \(dir) is not writable: \(FileIO.errorText(e)). Choose a writable --out.")
        }
        close(fd)
        unlink(probe)
    }

    /// Whether `directory` holds a moduli run: its config.json is a JSON object with a `version`
    /// string and a `task`, `training` or `seed` field, as every config.json moduli writes.
    /// A config.json of another program (a model download, a web project) is not a run, whatever
    /// sits beside it.
    public static func holdsRun(_ directory: URL) -> Bool {
        let config = directory.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: config),
            let data = try? FileIO.readFile(config, hint: "", maximumBytes: maximumRecordBytes),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return false }
        return object["version"] is String && ["task", "training", "seed"].contains { object[$0] != nil }
    }

    /// For a run in `directory` that stopped before its first checkpoint (neither a checkpoint nor
    /// summary.json): the command that starts it anew with its own configuration. nil for a run
    /// that has either.
    public static func restartCommand(_ directory: URL) -> String? {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: directory.appendingPathComponent(Checkpoint.fileName).path),
            !fm.fileExists(atPath: directory.appendingPathComponent("summary.json").path)
        else { return nil }
        return "moduli train --config \(directory.path)/config.json --overwrite --out \(directory.path)"
    }

    /// Releases the directory's lock before this value goes away (for a caller that hands the
    /// directory on to another process or opens it again). Idempotent.
    public func unlock() { lock.release() }

    /// Whether this value still holds the directory's lock.
    public var isLocked: Bool { lock.isHeld }

    /// Removes the run directory again when this value created it and nothing was written into it
    /// (a run refused after the directory was made: a configuration, a corpus or a memory check
    /// that failed), and the parent directories it created that are empty now; releases the lock.
    /// A directory that existed before, or that holds any file, is left as it is. Best effort.
    public func removeIfUnused() {
        guard !created.isEmpty, created.last == url.path else { return }
        guard let names = try? RunDirectory.entries(of: url.path, includingTemporaries: true), names.isEmpty else { return }
        unlock()
        for path in created.reversed() {
            if rmdir(path) != 0 { break }  // rmdir removes only an empty directory: a parent in use stays
        }
    }

    /// The URL of a file in the run directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `data` to `name` through a temporary file and an atomic rename.
    public func writeAtomically(_ data: Data, to name: String) throws {
        try RunDirectory.writeAtomically(data, to: file(name))
    }

    /// Writes `data` to `destination` through a temporary file in the same directory
    /// (`.NAME.tmp-PID-RANDOM`, created exclusively and never through a link, see
    /// `FileIO.createTemporary`), flushed to disk, then renamed over `destination`. On failure the
    /// temporary file is removed and `destination` is untouched. A symbolic link at `destination`
    /// is replaced by the new file (the rename replaces the link itself; its target is never
    /// written). A destination that exists and is not a regular file or a link (a directory, a
    /// device such as /dev/null) is refused, never replaced.
    public static func writeAtomically(_ data: Data, to destination: URL) throws {
        let directory = destination.deletingLastPathComponent().path
        var info = stat()
        if lstat(destination.path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG, (info.st_mode & S_IFMT) != S_IFLNK {
            throw ExperimentError(
                "Cannot write \(destination.path): it exists and is not a regular file (a directory or a device). Choose another path.")
        }
        let (fd, temporary) = try FileIO.createTemporary(for: destination)
        func fail(_ code: Int32, _ what: String) -> ExperimentError {
            unlink(temporary)
            return ExperimentError("Cannot write \(destination.path) (\(what)): \(FileIO.errorText(code)). \(FileIO.advice(code))")
        }
        var code = FileIO.writeAll(fd, data)
        if code != 0 { FileIO.closeFile(fd); throw fail(code, "writing \(temporary)") }
        if fsync(fd) != 0, errno != EINVAL, errno != EROFS { code = errno; FileIO.closeFile(fd); throw fail(code, "flushing \(temporary)") }
        code = FileIO.closeFile(fd)
        if code != 0 { throw fail(code, "closing \(temporary)") }
        if rename(temporary, destination.path) != 0 { code = errno; throw fail(code, "renaming \(temporary)") }
        FileIO.syncDirectory(directory)
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

    /// The bytes of `name`; a missing or unreadable file is an error naming its path.
    public func readFile(_ name: String) throws -> Data {
        try FileIO.readFile(
            file(name).path,
            hint: "The run directory \(url.path) is incomplete or damaged: restore the file, or start the run anew with --overwrite.")
    }

    /// The bytes of `name`, refused before reading when it has more than `maximumBytes`; errors
    /// name the path and sizes and end with `hint`.
    public func readFile(_ name: String, maximumBytes: Int, hint: String) throws -> Data {
        try FileIO.readFile(file(name).path, hint: hint, maximumBytes: maximumBytes)
    }

    /// The largest JSON record of a run `readJSON` reads (config.json, regularizer.json: kilobytes).
    public static let maximumRecordBytes = 64 << 20

    /// The bytes of a file outside any run directory (a config file, another run's record): a
    /// regular file of at most `maximumBytes`, or an error naming it, with `hint` saying what to do.
    public static func readFile(atPath path: String, maximumBytes: Int, hint: String) throws -> Data {
        try FileIO.readFile(path, hint: hint, maximumBytes: maximumBytes)
    }

    /// Decodes JSON from `name`. A missing file, or one that is not valid JSON of type `T`, is an
    /// error naming the path and what is wrong.
    public func readJSON<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        try JSONFile.decode(
            T.self,
            from: readFile(
                name, maximumBytes: Self.maximumRecordBytes,
                hint: "The file is damaged: restore it, or start the run anew with --overwrite."),
            path: file(name).path,
            advice: "The file is damaged or from another moduli version: restore it, or start the run anew with --overwrite.")
    }

    /// A short, specific description of a Foundation or decoding error.
    static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let e as ExperimentError: return e.description
        case DecodingError.keyNotFound(let key, let c): return "the field \(at(c.codingPath + [key])) is missing"
        case DecodingError.typeMismatch(let type, let c): return "\(at(c.codingPath)) is not of type \(type)"
        case DecodingError.valueNotFound(let type, let c): return "\(at(c.codingPath)) is null, expected \(type)"
        case DecodingError.dataCorrupted(let c):
            let under = (c.underlyingError as NSError?).map { " (\($0.localizedDescription))" } ?? ""
            return "\(c.debugDescription)\(under) at \(at(c.codingPath))"
        default:
            guard error is CocoaError || type(of: error) is NSError.Type else { return String(describing: error) }
            let ns = error as NSError
            if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
                return FileIO.errorText(Int32(posix.code))
            }
            return ns.localizedDescription
        }
    }

    /// Creates `path` and its missing parents; names the component that fails and why. Returns
    /// the directories it created, outermost first.
    @discardableResult
    static func createDirectories(_ path: String) throws -> [String] {
        var prefix = path.hasPrefix("/") ? "" : "."
        var created: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o777) == 0 { created.append(prefix); continue }
            let e = errno
            var isDirectory: ObjCBool = false
            if e == EEXIST, FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                if isDirectory.boolValue { continue }
                throw ExperimentError(
                    "Cannot create the output directory \(path): \(prefix) is a file, not a directory. Choose another --out.")
            }
            throw ExperimentError("Cannot create the output directory \(path): \(prefix): \(FileIO.errorText(e)). Choose a writable --out.")
        }
        return created
    }

    /// Whether `name` is a temporary file of an interrupted write: `.NAME.tmp-PID-RANDOM` or
    /// `.write-test-PID-RANDOM` (RANDOM 16 hexadecimal digits), or the older `.NAME.tmp-PID` and
    /// `.write-test-PID`.
    static func isTemporary(_ name: String) -> Bool {
        func isDigits(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }
        func isSuffix(_ s: Substring) -> Bool {
            if isDigits(s) { return true }
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            return parts.count == 2 && isDigits(parts[0]) && parts[1].count == 16 && parts[1].allSatisfy { $0.isHexDigit && $0.isASCII }
        }
        func endsInSuffix(after marker: String) -> Bool {
            guard let r = name.range(of: marker, options: .backwards) else { return false }
            return isSuffix(name[r.upperBound...])
        }
        guard name.hasPrefix(".") else { return false }
        return name.hasPrefix(".write-test-") ? endsInSuffix(after: ".write-test-") : (name.count > 1 && endsInSuffix(after: ".tmp-"))
    }

    /// Whether `name` is a temporary file of an interrupted atomic write (`isTemporary`), for other
    /// modules that clean up after one.
    public static func isTemporaryFileName(_ name: String) -> Bool { isTemporary(name) }

    /// Removes the temporary files that interrupted writes left in `directory`.
    static func removeStaleTemporaries(in directory: String) throws {
        for name in try entries(of: directory, includingTemporaries: true) where isTemporary(name) {
            let path = directory + "/" + name
            if unlink(path) != 0, errno != ENOENT {
                let e = errno
                throw ExperimentError(
                    "Cannot remove the stale temporary file \(path): \(FileIO.errorText(e)). Remove it yourself or choose another --out.")
            }
        }
    }

    /// The names in `directory` (without temporary files unless asked).
    static func entries(of directory: String, includingTemporaries: Bool = false) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ExperimentError("Cannot list the output directory \(directory): \(describe(error)). Choose a readable --out.")
        }
        return includingTemporaries ? names : names.filter { !isTemporary($0) }
    }
}
