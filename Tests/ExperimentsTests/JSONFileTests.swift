// Errors of the tool's JSON files name the file, the line and column, the key path, what is wrong
// and what to do; a key given twice and a number beyond a Double are errors, and a metric that is
// not a number is never dropped.
import Foundation
import Testing
@testable import Experiments

@Suite struct JSONFileTests {
    struct Inner: Codable { var lr: Double; var steps: Int; var seed: UInt64; var name: String }
    struct Outer: Codable { var trainer: Inner; var list: [Double] }

    static let good = """
        {
          "trainer": {"lr": 0.1, "steps": 3, "seed": 7, "name": "a"},
          "list": [1, 2]
        }
        """

    /// The message of decoding `text` as `Outer`.
    static func message(_ text: String) -> String {
        do { _ = try JSONFile.decode(Outer.self, from: Data(text.utf8), path: "/x/c.json", advice: "Fix it."); return "accepted" } catch {
            return "\(error)"
        }
    }

    @Test func theGoodFileDecodes() throws {
        let v = try JSONFile.decode(Outer.self, from: Data(Self.good.utf8), path: "c.json", advice: "")
        #expect(v.trainer.lr == 0.1 && v.list == [1, 2])
    }

    @Test(arguments: [
        // A number too large for a Double (Foundation: "The given data was not valid JSON").
        (#""lr": 0.1"#, #""lr": 1e400"#, "line 2, column 21, at trainer.lr: the number 1e400 does not fit a Double"),
        // A key given twice, at any depth.
        (#""steps": 3"#, #""steps": 3, "steps": 4"#, #"line 2, column 38, at trainer.steps: the key "steps" appears twice"#),
        (#""list": [1, 2]"#, #""list": [1, 2], "list": []"#, #"line 3, column 19, at list: the key "list" appears twice"#),
        // Syntax errors with line and column.
        (#""list": [1, 2]"#, #""list": [1, 2,]"#, "line 3, column 17, at list[2]: expected a value"),
        ("}", "", "line 4, column 1, at trainer: unexpected end of the file inside an object"),
        // Types: what was expected and what was found.
        (#""lr": 0.1"#, #""lr": "fast""#, #"line 2, column 15, at trainer.lr: expected a number, found a string ("fast")"#),
        (#""name": "a""#, #""name": 3"#, "at trainer.name: expected a string, found a number (3)"),
        (#""lr": 0.1"#, #""lr": null"#, "at trainer.lr: expected a number, found null"),
        (#""steps": 3, "#, "", #"line 2, column 3, at trainer.steps: the key "steps" is missing in trainer"#),
        (#""list": [1, 2]"#, #""list": [1, "x"]"#, #"at list[1]: expected a number, found a string ("x")"#),
        // Numbers that do not fit a whole-number field (Foundation gives no place for them).
        (#""seed": 7"#, #""seed": -1"#, "line 2, column 46, at trainer.seed: expected a whole number in this field's range, found -1"),
        (#""steps": 3"#, #""steps": 2.5"#, "at trainer.steps: expected a whole number in this field's range, found 2.5"),
        (#""steps": 3"#, #""steps": 1e30"#, "at trainer.steps: expected a whole number in this field's range, found 1e30")
    ])
    func everyErrorSaysWhereAndWhat(replacing: String, with: String, says: String) {
        let text = Self.good.replacingOccurrences(of: replacing, with: with)
        let m = Self.message(text)
        #expect(m.hasPrefix("/x/c.json, ") && m.contains(says) && m.hasSuffix("Fix it."), "\(text)\n-> \(m)")
    }

    @Test func aMetricThatIsNotANumberFailsTheRecordAtItsKey() throws {
        let line = #"{"kind": "eval", "step": 1, "phase": 0, "epoch": 1, "trainLoss": 0.5, "sparsity": 0, "testMSE": "n/a"}"#
        let text = #"{"kind": "train", "step": 1, "phase": 0, "loss": 1, "penalty": 0, "gradientNorm": 1}"# + "\n" + line + "\n"
        let e = #expect(throws: ExperimentError.self) {
            try MetricsLine.parseAll(Data(text.utf8), path: "/r/metrics.jsonl", advice: "Restore it.")
        }
        #expect(
            e?.description.contains(#"/r/metrics.jsonl, line 2, column 86, at testMSE: expected a number, found a string ("n/a")"#) == true,
            "\(e?.description ?? "accepted")")
        // Non-finite values as run records write them still read.
        let nan = line.replacingOccurrences(of: "\"n/a\"", with: "\"nan\"")
        let parsed = try MetricsLine.parseAll(Data(nan.utf8), path: "m", advice: "")
        guard case .eval(let r) = parsed.first else { Issue.record("no eval line"); return }
        #expect(r.metrics["testMSE"]?.isNaN == true)
    }

    @Test func aConfigFileErrorNamesTheKeyAndTheLine() throws {
        var config = AddingConfig()
        config.hiddenSize = 8
        let text = String(decoding: try RunDirectory.encodeJSON(config), as: UTF8.self)
        let register = try TaskRegistry.task(named: "adding")
        #expect(register.name == "adding")
        let cases: [(String, String)] = [
            (
                text.replacingOccurrences(of: "\"hiddenSize\" : 8,", with: "\"hiddenSize\" : 8, \"hiddenSize\" : 9,"),
                #"at options.hiddenSize: the key "hiddenSize" appears twice"#
            ),
            (
                text.replacingOccurrences(of: "\"clip\" : 0.5,", with: "\"clip\" : 0.5, \"clipp\" : 1,"),
                #"at training.clipp: unknown key "clipp""#
            ),
            (
                text.replacingOccurrences(of: "\"clip\" : 0.5,", with: "\"clip\" : 5e999,"),
                "at training.clip: the number 5e999 does not fit a Double"
            )
        ]
        for (file, says) in cases {
            let e = #expect(throws: ExperimentError.self) {
                try TaskRegistry.decodeStrictly(AddingConfig.self, from: Data(file.utf8), path: "/c/config.json")
            }
            #expect(
                e?.description.hasPrefix("/c/config.json, line ") == true && e?.description.contains(says) == true,
                "\(e?.description ?? "accepted")")
        }
    }
}
