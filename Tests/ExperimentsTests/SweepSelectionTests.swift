// Validation data and selection: every package task declares a validation metric apart from its test
// metric, the validation sets are fixed draws of their own, a tuned spec reads and lays out its runs,
// and the selection follows the validation metric alone, even where the test metric disagrees.
import Foundation
import Linalg
import NN
import Testing
@testable import Experiments

@Suite struct SweepSelectionTests {
    @Test func everyPackageTaskSelectsOnAValidationMetricNotItsTestMetric() throws {
        let expected = ["adding": "validMSE", "navigation": "validDecodingErrorCM", "language": "validPerplexity"]
        for (name, metric) in expected {
            let task = try TaskRegistry.task(named: name)
            #expect(task.selectionMetric == metric && task.selectionMetric != task.primaryMetric, "\(name)")
            #expect(try task.validationMetric() == metric)
        }
        #expect(AddingTask.scheduleMetric == "validMSE" && NavigationTask.scheduleMetric == "validDecodingErrorCM")
        // A task whose selection metric is its test metric (no validation data) cannot be selected on.
        let pull = RegisteredTask(PullTask.self)
        #expect(pull.selectionMetric == nil)
        #expect(throws: ExperimentError.self) { try pull.validationMetric() }
    }

    @Test func addingValidationSetIsAFixedDrawApartFromTheTestSet() throws {
        var o = AddingOptions()
        o.length = 5; o.testSize = 50
        let a = AddingTask(options: o), b = AddingTask(options: o)
        #expect(a.validationSet.inputs.scalars == b.validationSet.inputs.scalars, "the validation set is not fixed")
        #expect(a.validationSet.inputs.scalars != a.testSet.inputs.scalars)
        // Its draw: the generator derived from the test seed, which is not the test seed's own.
        var rng = AddingTask.validationGenerator(testSeed: o.testSeed)
        #expect(rng.seed != o.testSeed)
        let again = AddingProblem.batch(length: 5, batch: 50, rng: &rng)
        #expect(again.inputs.scalars == a.validationSet.inputs.scalars && again.targets.scalars == a.validationSet.targets.scalars)
        // No validation sequence repeats a test sequence.
        let testTargets = Set(a.testSet.targets.scalars)
        #expect(a.validationSet.targets.scalars.allSatisfy { !testTargets.contains($0) })
    }

    @Test func navigationValidationTrajectoriesAreFixedAndApartFromTheTestOnes() throws {
        var o = NavigationOptions()
        o.placeCells = 16; o.hiddenSize = 8; o.length = 6; o.evaluationBatches = 2; o.evaluationBatchSize = 3
        let t = try NavigationTask(options: o), u = try NavigationTask(options: o)
        #expect(t.validationSet.count == 2 && t.validationSet.allSatisfy { $0.positions.rows == 6 * 3 })
        #expect(zip(t.validationSet, u.validationSet).allSatisfy { $0.positions.scalars == $1.positions.scalars })
        let test = Set(t.evaluationSets.flatMap { $0.flatMap(\.positions.scalars) })
        #expect(t.validationSet.flatMap(\.positions.scalars).allSatisfy { !test.contains($0) })
        // Every evaluation reports the validation metrics beside the test ones.
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 1)
        let model = t.makeModel(in: store, rng: &rng)
        let metrics = try t.evaluate(model, store)
        #expect(Set(metrics.keys) == ["decodingErrorCM", "decodingErrorCM50", "testLoss", "validDecodingErrorCM", "validLoss"])
        #expect(metrics["validDecodingErrorCM"] != metrics["decodingErrorCM"])
    }

    /// A tuned spec of the adding task: torus tuned on two values, none not tuned.
    static let tunedText = """
        {"task": "adding", "base": ["--hidden", "8"],
         "configurations": {"torus": ["--moduli", "torus"], "none": []},
         "tune": {"flag": "--lambda", "values": ["0.001", "0.1"], "seeds": [0, 1], "configurations": ["torus"]},
         "confirm": {"seeds": [7, 8, 9]}, "control": "none"}
        """

    /// Every sweep spec checked in under Tools/sweeps (the commands of RESULTS.md) reads and
    /// resolves every run's flags through its task, confirmation runs at the first tuned value: a
    /// spec with an unknown option or a value the task refuses fails here, not hours into a study.
    @Test func everyCheckedInSpecResolves() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/sweeps")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 10, "found only \(files) in \(folder.path)")
        for file in files {
            let path = folder.appendingPathComponent(file).path
            let spec = try SweepSpec.parse(try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
            let selected = Dictionary(uniqueKeysWithValues: spec.tunedConfigurations.map { ($0, spec.tune?.values.first ?? "") })
            let resolved = try spec.resolvedConfigs(path: path, selected: selected)
            #expect(resolved.count == spec.runs.count, "\(file): \(resolved.count) of \(spec.runs.count) runs resolve")
        }
    }

    @Test func aTunedSpecLaysOutTuningRunsThenConfirmationRuns() throws {
        let spec = try SweepSpec.parse(Data(Self.tunedText.utf8), path: "t.json")
        #expect(spec.tune == SweepSpec.Tuning(flag: "--lambda", values: ["0.001", "0.1"], seeds: [0, 1], configurations: ["torus"]))
        #expect(spec.seeds == [7, 8, 9] && spec.controls == ["none"] && spec.tunedConfigurations == ["torus"])
        #expect(
            spec.runs.map(\.name) == [
                "torus-tune0.001-s0", "torus-tune0.1-s0", "torus-tune0.001-s1", "torus-tune0.1-s1",
                "torus-s7", "none-s7", "torus-s8", "none-s8", "torus-s9", "none-s9"
            ])
        #expect(spec.runs.map(\.index) == Array(0..<10))
        #expect(spec.runs[1].flags == ["--hidden", "8", "--moduli", "torus", "--lambda", "0.1"])
        // Before a selection only the tuning runs and the untuned configuration's runs resolve; the
        // selected value goes into the tuned configuration's confirmation runs.
        let before = try spec.resolvedConfigs(path: "t.json")
        #expect(
            before.map(\.run.name) == [
                "torus-tune0.001-s0", "torus-tune0.1-s0", "torus-tune0.001-s1", "torus-tune0.1-s1", "none-s7", "none-s8", "none-s9"
            ])
        let after = try spec.resolvedConfigs(path: "t.json", selected: ["torus": "0.1"])
        #expect(after.count == 10)
        for (run, data) in after {
            let training = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["training"] as? [String: Any])
            #expect((training["seed"] as? NSNumber)?.uint64Value == run.seed)
            if run.configuration == "torus" {
                let lambda = (training["regularizer"] as? [String: Any])?["lambda"] as? Double
                #expect(lambda == Double(run.value ?? "0.1"), "\(run.name)")
            }
        }
        // A plain spec keeps its layout and file format.
        let plain = try SweepSpec.parse(
            Data(#"{"task": "adding", "seeds": [0, 1], "configurations": {"a": [], "b": ["--hidden", "8"]}}"#.utf8), path: "p.json")
        #expect(plain.tune == nil && plain.controls.isEmpty && plain.runs.map(\.name) == ["a-s0", "b-s0", "a-s1", "b-s1"])
    }

    @Test(arguments: [
        (#""tune": {"flag": "--lambda", "values": ["1"], "seeds": [0]}, "seeds": [1]"#, #"not in "seeds""#),
        (#""tune": {"flag": "--lambda", "values": ["1"], "seeds": [0]}"#, #"needs "confirm""#),
        (#""seeds": [0], "confirm": {"seeds": [1]}"#, #""confirm" goes with "tune""#),
        (#""tune": {"flag": "--lambda", "values": ["1"], "seeds": [0, 1]}, "confirm": {"seeds": [1, 2]}"#, "seed 1 is both"),
        (#""tune": {"flag": "--lambada", "values": ["1"], "seeds": [0]}, "confirm": {"seeds": [1]}"#, "no option of moduli train adding"),
        (#""tune": {"flag": "--seed", "values": ["1"], "seeds": [0]}, "confirm": {"seeds": [1]}"#, "sets itself"),
        (#""tune": {"flag": "--lambda", "values": ["a/b"], "seeds": [0]}, "confirm": {"seeds": [1]}"#, "cannot be part of a run directory"),
        (#""tune": {"flag": "--lambda", "values": ["1", "1"], "seeds": [0]}, "confirm": {"seeds": [1]}"#, "lists 1 twice"),
        (#""tune": {"flag": "--lambda", "values": [], "seeds": [0]}, "confirm": {"seeds": [1]}"#, #""tune.values" is empty"#),
        (#""tune": {"flag": "--lambda", "values": ["1"]}, "confirm": {"seeds": [1]}"#, #""tune" lacks "seeds""#),
        (#""tune": {"flag": "--lambda", "values": ["1"], "seeds": [0], "step": 2}, "confirm": {"seeds": [1]}"#, #"unknown key "step""#),
        (
            #""tune": {"flag": "--lambda", "values": ["1"], "seeds": [0], "configurations": ["c"]}, "confirm": {"seeds": [1]}"#,
            #""tune.configurations" names c"#
        ),
        (#""seeds": [0], "control": "c""#, #""control" names c"#),
        (#""seeds": [0], "control": ["a", "c"]"#, #""control" names c"#),
        (#""seeds": [0], "control": ["a", "a"]"#, #""control" lists a configuration twice"#),
        (#""seeds": [0], "control": 1"#, #""control" must be the name of a configuration or a list"#)
    ])
    func aBadTunedSpecIsRefusedNamingTheKey(keys: String, mentions: String) throws {
        let text = #"{"task": "adding", "configurations": {"a": ["--moduli", "torus"], "b": []}, "# + keys + "}"
        #expect {
            try SweepSpec.parse(Data(text.utf8), path: "bad.json")
        } throws: { error in
            "\(error)".contains("bad.json") && "\(error)".contains(mentions)
        }
    }

    /// Tuning runs whose test metric would pick the other value than their validation metric:
    /// the selection follows the validation metric.
    @Test func selectionReadsTheValidationMetricOnly() throws {
        let spec = try SweepSpec.parse(Data(Self.tunedText.utf8), path: "t.json")
        // validMSE: 0.001 is better on average (0.20 against 0.25); testMSE: 0.1 is far better.
        let metrics: [String: [String: Double]] = [
            "torus-tune0.001-s0": ["validMSE": 0.10, "testMSE": 0.9],
            "torus-tune0.001-s1": ["validMSE": 0.30, "testMSE": 0.9],
            "torus-tune0.1-s0": ["validMSE": 0.25, "testMSE": 0.01],
            "torus-tune0.1-s1": ["validMSE": 0.25, "testMSE": 0.01]
        ]
        let selection = try SweepSelection.select(spec: spec, metric: "validMSE", increases: false) { metrics[$0.name] ?? [:] }
        #expect(selection.selected == ["torus": "0.001"])
        let candidates = try #require(selection.choices.first?.candidates)
        #expect(candidates.map(\.value) == ["0.001", "0.1"] && candidates.map(\.seeds) == [[0, 1], [0, 1]])
        #expect(abs(candidates[0].mean! - 0.2) < 1e-15 && candidates[1].mean == 0.25)
        // With the test metric named instead, the other value would win: the metric read is the one named.
        let byTest = try SweepSelection.select(spec: spec, metric: "testMSE", increases: false) { metrics[$0.name] ?? [:] }
        #expect(byTest.selected == ["torus": "0.1"])
        // Larger is better for an accuracy; a run without a finite metric rules its value out; ties go first.
        #expect(
            try SweepSelection.select(spec: spec, metric: "validMSE", increases: true) { metrics[$0.name] ?? [:] }.selected["torus"]
                == "0.1")
        var diverged = metrics
        diverged["torus-tune0.001-s1"] = ["validMSE": .nan]
        #expect(
            try SweepSelection.select(spec: spec, metric: "validMSE", increases: false) { diverged[$0.name] ?? [:] }.selected["torus"]
                == "0.1")
        #expect(
            try SweepSelection.select(spec: spec, metric: "validMSE", increases: false) { _ in ["validMSE": 1] }.selected["torus"]
                == "0.001")
        #expect(throws: ExperimentError.self) {
            try SweepSelection.select(spec: spec, metric: "validMSE", increases: false) { _ in [:] }
        }
    }
}
