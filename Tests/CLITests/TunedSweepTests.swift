// `moduli sweep` with a tuned flag, as a user runs it on tiny adding runs: the value selected per
// configuration is the best mean validation metric of its tuning runs (checked against the runs'
// own summary.json), the confirmation runs use it on fresh seeds, the table compares with the
// control, and a sweep killed halfway restarts without redoing a run or selecting again.
import Foundation
import Testing
import _TestSupport

@Suite struct TunedSweepTests {
    /// A tuned spec: torus tuned over two lambdas on seeds 0 and 1, none as the control (not
    /// tuned), confirmation seeds 5 and 6. `epochs` sets the runs' length.
    static func writeSpec(_ dir: String, epochs: Int = 2, batches: Int = 5) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = [
            "--length", "4", "--hidden", "8", "--epochs", String(epochs), "--batches-per-epoch", String(batches), "--fixed-epochs", "0",
            "--test-size", "20", "--lr", "0.01"
        ]
        let text = """
            {"task": "adding", "base": [\(base.map { "\"\($0)\"" }.joined(separator: ", "))],
             "configurations": {"torus": ["--moduli", "torus"], "none": []},
             "tune": {"flag": "--lambda", "values": ["0.001", "3"], "seeds": [0, 1], "configurations": ["torus"]},
             "confirm": {"seeds": [5, 6]}, "control": "none"}
            """
        let path = dir + "/tuned.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let tuningRuns = ["torus-tune0.001-s0", "torus-tune3-s0", "torus-tune0.001-s1", "torus-tune3-s1"]
    static let confirmationRuns = ["torus-s5", "none-s5", "torus-s6", "none-s6"]

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func metric(_ sweep: String, _ run: String, _ name: String) throws -> Double {
        try #require(try json("\(sweep)/\(run)/summary.json")[name] as? Double, "\(run) has no \(name)")
    }

    /// The value of lambda with the smaller mean validMSE over the tuning seeds (the first on a tie).
    static func expectedSelection(_ sweep: String) throws -> String {
        func mean(_ value: String) throws -> Double {
            try (metric(sweep, "torus-tune\(value)-s0", "validMSE") + metric(sweep, "torus-tune\(value)-s1", "validMSE")) / 2
        }
        return try mean("3") < mean("0.001") ? "3" : "0.001"
    }

    @Test func aTunedSweepSelectsOnValidationConfirmsOnFreshSeedsAndComparesWithTheControl() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir)
        let sweep = dir + "/sweep"
        let r = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(r.status == 0, "\(r.err)")
        for name in Self.tuningRuns + Self.confirmationRuns {
            #expect(FileManager.default.fileExists(atPath: "\(sweep)/\(name)/summary.json"), "\(name) has no summary.json")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(sweep)/none-tune3-s0"), "an untuned configuration ran tuning runs")
        // The selection is the best mean validMSE of the tuning runs, recorded in selection.json.
        let selected = try Self.expectedSelection(sweep)
        let selection = try Self.json(sweep + "/selection.json")
        #expect(selection["metric"] as? String == "validMSE" && selection["flag"] as? String == "--lambda")
        let choice = try #require((selection["choices"] as? [[String: Any]])?.first)
        #expect(choice["configuration"] as? String == "torus" && choice["value"] as? String == selected, "\(choice)")
        // The confirmation runs use the selected value at their fresh seeds.
        for seed in [5, 6] {
            let training = try #require(try Self.json("\(sweep)/torus-s\(seed)/config.json")["training"] as? [String: Any])
            #expect((training["regularizer"] as? [String: Any])?["lambda"] as? Double == Double(selected))
            #expect(training["seed"] as? Int == seed)
        }
        // The table: the selected value, the confirmation runs' testMSE mean, and the difference to
        // the control with its paired 95% interval (the same seeds 5 and 6).
        let markdown = try String(contentsOfFile: sweep + "/summary.md", encoding: .utf8)
        let torusRow = markdown.split(separator: "\n").first { $0.hasPrefix("| torus |") }.map(String.init) ?? ""
        #expect(torusRow.hasPrefix("| torus | `--moduli torus` | \(selected) | 2/2 | ") && torusRow.hasSuffix(" paired |"), "\(markdown)")
        #expect(markdown.contains("| none | - | (not tuned) | 2/2 | ") && markdown.contains("(control) |"), "\(markdown)")
        #expect(markdown.contains("## Tuning: --lambda on seeds 0, 1"), "\(markdown)")
        let csv = try String(contentsOfFile: sweep + "/summary.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header = try #require(csv.first)
        let row = try #require(csv.first { $0.first == "torus" })
        func column(_ name: String) throws -> Double {
            let k = try #require(header.firstIndex(of: name), "no column \(name): \(header)")
            return try #require(Double(row[k]), "\(name): \(row[k])")
        }
        let t5 = try Self.metric(sweep, "torus-s5", "testMSE"), t6 = try Self.metric(sweep, "torus-s6", "testMSE")
        let n5 = try Self.metric(sweep, "none-s5", "testMSE"), n6 = try Self.metric(sweep, "none-s6", "testMSE")
        #expect(abs(try column("testMSE") - (t5 + t6) / 2) < 1e-12, "\(row) \(header) \(t5) \(t6)")
        let (d5, d6) = (t5 - n5, t6 - n6)
        #expect(abs(try column("testMSE difference") - (d5 + d6) / 2) < 1e-12)
        // Paired t with 1 degree of freedom: half-width t(0.975, 1) * |d5 - d6| / 2, t = tan(0.475 pi).
        let half = tan(0.475 * Double.pi) * abs(d5 - d6) / 2
        #expect(abs(try column("upper 95%") - ((d5 + d6) / 2 + half)) < 1e-9 * max(1, half))
        #expect(row.last == "paired", "\(row)")

        // Other controls change no run: the finished sweep is collected again with two, a column each.
        let twoControls = dir + "/two-controls.json"
        try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(
            of: #""control": "none""#, with: #""control": ["none", "torus"]"#
        )
        .write(toFile: twoControls, atomically: true, encoding: .utf8)
        let collected = try CLITests.moduli(["sweep", twoControls, "--out", sweep, "--collect"])
        #expect(collected.status == 0, "\(collected.err)")
        let table = try String(contentsOfFile: sweep + "/summary.md", encoding: .utf8)
        #expect(table.contains("testMSE - none [95% CI] | testMSE - torus [95% CI] |"), "\(table)")
        let noneRow = table.split(separator: "\n").first { $0.hasPrefix("| none |") }.map(String.init) ?? ""
        #expect(noneRow.contains("| (control) | ") && noneRow.hasSuffix(" paired |"), "\(noneRow)")
        let csv2 = try String(contentsOfFile: sweep + "/summary.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header2 = try #require(csv2.first), noneCSV = try #require(csv2.first { $0.first == "none" })
        let k = try #require(header2.firstIndex(of: "testMSE difference vs torus"), "\(header2)")
        #expect(abs(try #require(Double(noneCSV[k])) + (d5 + d6) / 2) < 1e-12, "none - torus is minus torus - none")
        let recorded = try #require(try Self.json(sweep + "/sweep.json")["spec"] as? [String: Any])
        #expect(recorded["control"] as? [String] == ["none", "torus"], "sweep.json records the controls given")

        // Tuning finished, no selection and no confirmation run yet (the sweep stopped between the
        // stages): --collect makes the selection from the tuning runs and shows it.
        try FileManager.default.removeItem(atPath: sweep + "/selection.json")
        for name in Self.confirmationRuns { try FileManager.default.removeItem(atPath: "\(sweep)/\(name)") }
        let between = try CLITests.moduli(["sweep", spec, "--out", sweep, "--collect"])
        #expect(between.status != 0, "the confirmation runs are missing")
        let made = try Self.json(sweep + "/selection.json")
        #expect((made["choices"] as? [[String: Any]])?.first?["value"] as? String == selected, "\(made)")
        #expect(between.out.contains("| torus | `--moduli torus` | \(selected) | 0/2 | "), "\(between.out)")
    }

    /// The run directories that have a summary.json.
    static func finished(_ sweep: String) -> [String] {
        (Self.tuningRuns + Self.confirmationRuns).filter { FileManager.default.fileExists(atPath: "\(sweep)/\($0)/summary.json") }
    }

    /// Lines of the run's log that started a process.
    static func starts(_ sweep: String, _ run: String) -> Int {
        let log = (try? String(contentsOfFile: "\(sweep)/logs/\(run).log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.hasPrefix("== ") && $0.contains(" attempt ") }.count
    }

    @Test func aTunedSweepKilledHalfwayRedoesNoRunAndKeepsItsSelection() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir, epochs: 6, batches: 30)
        let sweep = dir + "/killed"
        try SweepTests.killSweep(spec: spec, out: sweep, within: 60) { Self.finished(sweep).count >= 3 }
        let before = Self.finished(sweep)
        try #require(before.count >= 3 && before.count < 8, "\(before)")
        // Before the selection, the table shows the tuning runs finished so far (validation metric only).
        let partial = try CLITests.moduli(["sweep", spec, "--out", sweep, "--collect"])
        if !Self.tuningRuns.allSatisfy(before.contains) {
            #expect(partial.out.contains("Not selected yet"), "\(partial.out)")
            let cells = try ["0.001", "3"].map { value -> String in
                let done = try ["s0", "s1"].filter { before.contains("torus-tune\(value)-\($0)") }
                    .map { try Self.metric(sweep, "torus-tune\(value)-\($0)", "validMSE") }
                guard !done.isEmpty else { return "-" }
                return String(format: "%.4g", done.reduce(0, +) / Double(done.count)) + (done.count < 2 ? " (\(done.count)/2)" : "")
            }
            #expect(partial.out.contains("| torus | \(cells[0]) | \(cells[1]) |"), "\(cells) in \(partial.out)")
        }

        let resumed = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(Self.finished(sweep).count == 8)
        // No run finished before the kill was started again; every other run started once more at most.
        for run in before { #expect(Self.starts(sweep, run) == 1, "\(run) was started again") }
        let startedAgain = resumed.err.split(separator: "\n").filter {
            $0.contains(" started") || $0.contains(" resumed") || $0.contains(" restarted")
        }
        #expect(startedAgain.count == 8 - before.count, "\(resumed.err)")
        let selected = try Self.expectedSelection(sweep)
        let recorded = try Data(contentsOf: URL(fileURLWithPath: sweep + "/selection.json"))
        #expect((try Self.json(sweep + "/selection.json")["choices"] as? [[String: Any]])?.first?["value"] as? String == selected)

        // The selection is recorded: with a tuning run's validation metric edited so that the
        // other value would now win, a confirmation run redone still uses the recorded value.
        let other = selected == "3" ? "0.001" : "3"
        let edited = "\(sweep)/torus-tune\(other)-s0/summary.json"
        var summary = try Self.json(edited)
        summary["validMSE"] = -1000.0
        try JSONSerialization.data(withJSONObject: summary).write(to: URL(fileURLWithPath: edited))
        try FileManager.default.removeItem(atPath: sweep + "/torus-s6")
        let again = try CLITests.moduli(["sweep", spec, "--out", sweep])
        #expect(again.status == 0, "\(again.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: sweep + "/selection.json")) == recorded)
        let training = try #require(try Self.json(sweep + "/torus-s6/config.json")["training"] as? [String: Any])
        #expect((training["regularizer"] as? [String: Any])?["lambda"] as? Double == Double(selected))
    }

    @Test(arguments: [
        (["--seeds", "3"], "--seeds applies to plain grids"),
        (["--emit", "slurm"], "a tuned sweep runs locally")
    ])
    func optionsForPlainGridsAreRefused(options: [String], mentions: String) throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try Self.writeSpec(dir)
        let r = try CLITests.moduli(["sweep", spec, "--out", dir + "/sweep"] + options)
        #expect(r.status == 64 && r.err.contains(mentions), "\(r.status): \(r.err)")
    }
}
