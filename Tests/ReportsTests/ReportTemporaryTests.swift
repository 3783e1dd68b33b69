// A report killed while writing leaves a hidden temporary directory beside its target; the next
// report into the same parent removes it when its process is gone, and leaves alone what is not
// its own (a live process's, or one holding other files). Links in an old report are replaced,
// never written through.
import Foundation
import Testing
@testable import Reports
@testable import Experiments
#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ReportTemporaryTests {
    static let files: [String: Data] = ["report.md": Data("# report\n".utf8), "report.json": Data("{\"kind\": \"moduli-report\"}\n".utf8)]

    /// A process id no process has (above any pid_max).
    static let deadPID: pid_t = 2_000_000_000

    @Test func staleTemporaryDirectoriesOfDeadReportsAreRemoved() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-rtmp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let fm = FileManager.default
        func make(_ name: String, holding entries: [String]) throws {
            try fm.createDirectory(atPath: parent + "/" + name, withIntermediateDirectories: true)
            for entry in entries { try Data("x".utf8).write(to: URL(fileURLWithPath: "\(parent)/\(name)/\(entry)")) }
        }
        try make(".report.tmp-\(Self.deadPID)-17", holding: ["report.md", ".report.json.tmp-\(Self.deadPID)-0123456789abcdef"])
        try make(".older.old-\(Self.deadPID)-3", holding: ["report.html", "runs.csv"])
        try make(".alive.tmp-\(getppid())-5", holding: ["report.md"])  // its process lives
        try make(".foreign.tmp-\(Self.deadPID)-6", holding: ["thesis.tex"])  // not a report's files
        try make(".notes.tmp-x-6", holding: [])  // not the pattern
        try ReportDirectory.write(Self.files, to: parent + "/report")
        let left = try fm.contentsOfDirectory(atPath: parent).sorted()
        #expect(left == [".alive.tmp-\(getppid())-5", ".foreign.tmp-\(Self.deadPID)-6", ".notes.tmp-x-6", "report"], "\(left)")
        #expect(ReportDirectory.temporaryOwner(".report.tmp-12-34") == 12 && ReportDirectory.temporaryOwner(".report.old-12-34") == 12)
        #expect(ReportDirectory.temporaryOwner(".tmp-12-34") == nil && ReportDirectory.temporaryOwner("report.tmp-12-34") == nil)
    }

    @Test func linksInAnOldReportAreNeverWrittenThrough() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-rlink-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let victim = parent + "/victim"
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: victim))
        try ReportDirectory.write(Self.files, to: parent + "/report")
        try fm.removeItem(atPath: parent + "/report/report.md")
        try fm.createSymbolicLink(atPath: parent + "/report/report.md", withDestinationPath: victim)
        try ReportDirectory.write(Self.files, to: parent + "/report")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "victim\n")
        #expect(try String(contentsOfFile: parent + "/report/report.md", encoding: .utf8) == "# report\n")
        #expect((try? fm.destinationOfSymbolicLink(atPath: parent + "/report/report.md")) == nil)
    }
}
