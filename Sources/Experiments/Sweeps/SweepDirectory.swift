// A sweep's directory: sweep.json (the spec and the state of every run), the run directories
// `<configuration>-s<seed>`, logs/ and the summary. Every change of sweep.json happens under an
// exclusive lock (flock(2) on .sweep.lock), so that local workers and Slurm array tasks on several
// nodes of a shared file system can record their runs side by side.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What sweep.json records about one run.
public struct SweepRunRecord: Codable, Sendable, Equatable {
    /// Where a run stands.
    public enum State: String, Codable, Sendable {
        /// Not started, or interrupted with its sweep.
        case pending
        /// A worker is running it.
        case running
        /// It has a summary.json.
        case finished
        /// It failed twice in one sweep session (exit status and log below).
        case failed
    }
    /// The run directory's name, `<configuration>-s<seed>`.
    public var name: String
    /// The configuration.
    public var configuration: String
    /// The seed.
    public var seed: UInt64
    /// Where it stands.
    public var state: State
    /// Attempts in the last session that ran it (1, or 2 after a retry).
    public var attempts: Int
    /// How the last attempt ended when it failed ("exit 1", "signal 9").
    public var exit: String?
    /// Its log, relative to the sweep directory.
    public var log: String
}

/// sweep.json: the spec and where each of its runs stands.
public struct SweepRecord: Codable, Sendable, Equatable {
    /// The format tag.
    public var format: String
    /// The spec the sweep runs; another spec is refused in this directory.
    public var spec: SweepSpec
    /// Every run, in the order of `spec.runs` (the Slurm array index).
    public var runs: [SweepRunRecord]

    /// The current format.
    public static let currentFormat = "moduli-sweep-1"

    /// The record of a sweep that has not started.
    public init(spec: SweepSpec) {
        format = Self.currentFormat
        self.spec = spec
        runs = spec.runs.map {
            SweepRunRecord(
                name: $0.name, configuration: $0.configuration, seed: $0.seed, state: .pending,
                attempts: 0, exit: nil, log: "logs/\($0.name).log")
        }
    }
}

/// Where a run stands on disk, which decides how a worker continues it.
public enum SweepRunCondition: Sendable, Equatable {
    /// summary.json exists: never run again.
    case finished
    /// A checkpoint exists: `moduli train <task> --out DIR --resume`.
    case resumable
    /// config.json but no checkpoint (stopped before its first epoch ended): started anew with --overwrite.
    case restartable
    /// No run yet (no directory, or an empty one).
    case fresh
    /// Another process holds the run directory's lock (a worker of another sweep session).
    case busy
}

/// An open sweep directory.
public struct SweepDirectory: Sendable {
    /// The directory (absolute, standardized).
    public let url: URL
    /// The spec it runs.
    public let spec: SweepSpec

    /// The record's file name.
    public static let recordName = "sweep.json"
    /// The lock file's name.
    static let lockName = ".sweep.lock"

    /// Opens the sweep at `path` for `spec`. With `create`, a missing or empty directory becomes a
    /// new sweep; without it, the directory must hold a sweep already (`--collect`). A directory
    /// whose sweep.json records another spec, or that holds other files but no sweep.json, is
    /// refused with an error naming it. Only the controls may change (they change no run): sweep.json
    /// then records the new ones.
    public init(path: String, spec: SweepSpec, create: Bool) throws {
        guard !path.isEmpty else { throw ExperimentError("The sweep directory path is empty: give --out a directory.") }
        url = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        self.spec = spec
        let dir = url.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ExperimentError("The sweep directory \(dir) exists and is a file. Choose another --out.")
            }
        } else {
            guard create else {
                throw ExperimentError(
                    "There is no sweep in \(dir): the directory does not exist. Check --out (the directory the sweep ran in).")
            }
            try RunDirectory.createDirectories(dir)
        }
        let recordPath = file(Self.recordName).path
        try withLock {
            if FileManager.default.fileExists(atPath: recordPath) {
                var record = try readRecord()
                if record.spec.runsOnly != spec.runsOnly {
                    throw ExperimentError(
                        "\(dir) holds a sweep of another spec (\(recordPath)): \(SweepDirectory.difference(record.spec, spec)). "
                            + "Give the same spec (and --seeds, --preset) as before, or choose another --out.")
                }
                if record.spec.controls != spec.controls {  // the controls change no run: the table follows the spec given
                    record.spec.controls = spec.controls
                    try writeRecord(record)
                }
                return
            }
            guard create else {
                throw ExperimentError(
                    "There is no sweep in \(dir): it has no \(Self.recordName). Check --out (the directory the sweep ran in).")
            }
            let names = try RunDirectory.entries(of: dir).filter { $0 != Self.lockName }
            if !names.isEmpty {
                let shown = names.sorted().prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
                throw ExperimentError(
                    """
                    The sweep directory \(dir) holds files but no \(Self.recordName): \(shown). A sweep starts in a new or empty \
                    directory: choose another --out.
                    """
                )
            }
            try RunDirectory.createDirectories(file("logs").path)
            try writeRecord(SweepRecord(spec: spec))
        }
    }

    /// What differs between two specs, in words.
    static func difference(_ old: SweepSpec, _ new: SweepSpec) -> String {
        var parts: [String] = []
        if old.task != new.task { parts.append("task \(old.task) there, \(new.task) here") }
        if old.base != new.base {
            parts.append("base flags [\(old.base.joined(separator: " "))] there, [\(new.base.joined(separator: " "))] here")
        }
        if old.seeds != new.seeds {
            parts.append(
                """
                seeds \(old.seeds.map(String.init).joined(separator: ",")) there, \
                \(new.seeds.map(String.init).joined(separator: ",")) here
                """
            )
        }
        if old.configurations.map(\.name) != new.configurations.map(\.name) {
            parts.append(
                """
                configurations \(old.configurations.map(\.name).joined(separator: ",")) there, \
                \(new.configurations.map(\.name).joined(separator: ",")) here
                """
            )
        } else {
            for (a, b) in zip(old.configurations, new.configurations) where a.flags != b.flags {
                parts.append("\(a.name) has flags [\(a.flags.joined(separator: " "))] there, [\(b.flags.joined(separator: " "))] here")
            }
        }
        if old.tune != new.tune { parts.append("the tuned flag differs (\"tune\" or \"confirm\")") }
        return parts.joined(separator: "; ")
    }

    /// A file or directory inside the sweep directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The directory of `run`.
    public func directory(of run: SweepRun) -> URL { file(run.name) }

    /// The resolved configuration file of `run`, `configs/<run>.json`: what `moduli train --config` starts it from.
    public func configFile(of run: SweepRun) -> URL { file("configs/\(run.name).json") }

    /// Writes every run's resolved configuration (`SweepSpec.resolvedConfigs`) to `configs/`,
    /// leaving a file that holds the same bytes already untouched.
    public func writeConfigs(_ configs: [(run: SweepRun, config: Data)]) throws {
        _ = try RunDirectory.createDirectories(file("configs").path)
        try FileIO.refuseSymbolicLink(file("configs").path, role: "the sweep's configuration directory")
        for (run, data) in configs {
            let url = configFile(of: run)
            let old = try? RunDirectory.readFile(atPath: url.path, maximumBytes: TaskRegistry.maximumConfigBytes, hint: "")
            if old == data { continue }
            try RunDirectory.writeAtomically(data, to: url)
        }
    }

    /// Runs `body` holding the sweep's lock (blocking until other processes release it).
    func withLock<T>(_ body: () throws -> T) throws -> T {
        let path = file(Self.lockName).path
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP { try FileIO.refuseSymbolicLink(path, role: "the sweep's lock file") }
            throw ExperimentError("Cannot open the sweep's lock file \(path): \(FileIO.errorText(e)). Choose a writable --out.")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            let e = errno
            if e == EINTR { continue }
            if e == ENOLCK || e == EOPNOTSUPP || e == ENOTSUP || e == EINVAL { break }  // no locking on this file system
            throw ExperimentError("Cannot lock the sweep directory \(url.path): \(FileIO.errorText(e)).")
        }
        return try body()
    }

    /// sweep.json as it is on disk.
    func readRecord() throws -> SweepRecord {
        let path = file(Self.recordName).path
        let data = try RunDirectory.readFile(atPath: path, maximumBytes: 64 << 20, hint: "The sweep directory \(url.path) is damaged.")
        let record = try JSONFile.decode(
            SweepRecord.self, from: data, path: path,
            advice: "It is not a sweep record moduli wrote: restore it, or start the sweep in another --out.")
        guard record.format == SweepRecord.currentFormat, record.runs.map(\.name) == record.spec.runs.map(\.name) else {
            throw ExperimentError(
                "\(path) is a sweep record of another format (\(record.format)) or is damaged. Start the sweep in another --out.")
        }
        return record
    }

    func writeRecord(_ record: SweepRecord) throws {
        try RunDirectory.writeAtomically(RunDirectory.encodeJSON(record), to: file(Self.recordName))
    }

    /// Changes the record of run `index` under the lock.
    public func update(_ index: Int, _ change: (inout SweepRunRecord) -> Void) throws {
        try withLock {
            var record = try readRecord()
            change(&record.runs[index])
            try writeRecord(record)
        }
    }

    /// sweep.json with every run that has a summary.json marked finished (written back when that
    /// changed anything).
    public func refresh() throws -> SweepRecord {
        try withLock {
            var record = try readRecord()
            let before = record
            for run in spec.runs where condition(of: run) == .finished { record.runs[run.index].state = .finished }
            if record != before { try writeRecord(record) }
            return record
        }
    }

    /// Where `run` stands on disk.
    public func condition(of run: SweepRun) -> SweepRunCondition {
        let dir = directory(of: run)
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("summary.json").path) { return .finished }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else { return .fresh }
        if Self.isLockedElsewhere(dir.path) { return .busy }
        if fm.fileExists(atPath: dir.appendingPathComponent(Checkpoint.fileName).path) { return .resumable }
        if RunDirectory.holdsRun(dir) { return .restartable }
        return .fresh
    }

    /// Whether another open file description holds the flock of the directory at `path` (a
    /// moduli process training there).
    static func isLockedElsewhere(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            return errno == EWOULDBLOCK
        }
        flock(fd, LOCK_UN)
        return false
    }
}
