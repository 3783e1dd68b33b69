// Writing a report directory whole or not at all: the files go into a temporary sibling directory,
// which then takes the target's name. An existing directory is replaced only when it is empty or
// holds nothing but an earlier report's files.
import Experiments
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The output directory of `moduli report`.
public enum ReportDirectory {
    /// Writes `files` (name -> bytes) as the directory `path`.
    ///
    /// - `path` missing: created (its parent must exist).
    /// - `path` an empty directory, or one holding only report files (`RunReport.fileNames`, with
    ///   report.json saying `moduli-report`): replaced.
    /// - anything else (a run directory, a directory with other files, a regular file): refused with
    ///   an error naming it, and nothing is written.
    ///
    /// The files are written and synced in `.NAME.tmp-<pid>-<n>` beside `path`, then renamed into
    /// place; an old report is first renamed aside and deleted after the new one is in place, so at
    /// every moment the path holds either the complete old report or the complete new one. Such
    /// directories that a killed report left behind are removed first (`removeStaleTemporaries`).
    public static func write(_ files: [String: Data], to path: String) throws {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: path).standardizedFileURL
        let parent = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ExperimentError("Cannot write the report to \(path): the directory \(parent.path) does not exist.")
        }
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDirectory)
        if exists {
            guard isDirectory.boolValue else {
                throw ExperimentError("Cannot write the report to \(path): it is a file, not a directory. Choose another --out.")
            }
            if let reason = try refusal(target) {
                throw ExperimentError("Refusing to write the report into \(path): \(reason). Choose a new or empty --out.")
            }
        }
        removeStaleTemporaries(in: parent)
        let temporary = parent.appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw ExperimentError(
                "Cannot write the report next to \(path): \(parent.path) is not writable (\(error.localizedDescription)).")
        }
        do {
            for (name, data) in files.sorted(by: { $0.key < $1.key }) {
                guard !name.contains("/"), !name.hasPrefix(".") else {
                    throw ExperimentError("Report file name \(name) is not a plain name.")
                }
                try RunDirectory.writeAtomically(data, to: temporary.appendingPathComponent(name))
            }
            if exists {
                let aside = parent.appendingPathComponent(
                    ".\(target.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                try fm.moveItem(at: target, to: aside)
                do { try fm.moveItem(at: temporary, to: target) } catch {
                    try? fm.moveItem(at: aside, to: target)  // put the old report back
                    throw error
                }
                try? fm.removeItem(at: aside)
            } else {
                try fm.moveItem(at: temporary, to: target)
            }
        } catch {
            try? fm.removeItem(at: temporary)
            if let e = error as? ExperimentError { throw e }
            throw ExperimentError("Cannot write the report to \(path): \(error.localizedDescription)")
        }
    }

    /// The process id in the name of a report's temporary directory, `.NAME.tmp-PID-N` (the new
    /// report being written) or `.NAME.old-PID-N` (the old one set aside), or nil for any other name.
    static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), name.count > 1 else { return nil }
        for marker in [".tmp-", ".old-"] {
            guard let r = name.range(of: marker, options: .backwards), r.lowerBound > name.index(after: name.startIndex) else { continue }
            let parts = name[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let pid = pid_t(parts[0]), pid > 0
            else { continue }
            return pid
        }
        return nil
    }

    /// Removes the temporary directories that reports killed while writing left in `parent`: a
    /// directory named as `temporaryOwner` reads, whose process is gone (kill(pid, 0) says ESRCH),
    /// holding nothing but report files. Anything else (another program's file, a link, a report
    /// still being written) stays. Best effort: a failure leaves the directory as it was.
    static func removeStaleTemporaries(in parent: URL) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names {
            guard let pid = temporaryOwner(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = parent.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
                let entries = try? fm.contentsOfDirectory(atPath: path),
                entries.allSatisfy({ RunReport.fileNames.contains($0) || RunDirectory.isTemporaryFileName($0) })
            else { continue }
            try? fm.removeItem(atPath: path)
        }
    }

    /// Why an existing directory may not be replaced by a report, or nil when it may.
    static func refusal(_ directory: URL) throws -> String? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if entries.isEmpty { return nil }
        if RunDirectory.holdsRun(directory) { return "it is a run directory" }
        let others = entries.filter { !RunReport.fileNames.contains($0) }.sorted()
        if !others.isEmpty {
            return
                """
                it holds files that are not part of a report \
                (\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", ..." : ""))
                """
        }
        let manifest = directory.appendingPathComponent("report.json")
        guard let data = try? RunDirectory.readFile(atPath: manifest.path, maximumBytes: 1 << 20, hint: ""),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            object["kind"] as? String == "moduli-report"
        else {
            return "it has no report.json of an earlier moduli report"
        }
        return nil
    }
}
