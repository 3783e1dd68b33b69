// TrainingTask.hiddenStates: the hidden states over each task's test and validation inputs are the
// ones its evaluation reads out (the read-out of the states gives the evaluated outputs), in order,
// capped (the adding problem's cap keeps every step of fewer sequences).
import Foundation
import Linalg
import NN
import Testing
@testable import Experiments

@Suite struct HiddenStatesTests {
    @Test func addingStatesAreTheTestSequencesStepByStep() throws {
        var o = AddingOptions()
        o.length = 4; o.hiddenSize = 8; o.testSize = 30
        let task = AddingTask(options: o)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 3)
        let model = task.makeModel(in: store, rng: &rng)
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1000, inputs: .test))
        #expect(states.rows == 4 * 30 && states.columns == 8)
        // The last step's states (rows 3 * 30 ..< 4 * 30) through the read-out are the predictions.
        let last = Matrix<Float>(rows: 30, columns: 8) { r, c in states[3 * 30 + r, c] }
        let predictions = model.head.forward(last, store)
        var inputs = Matrix<Float>(rows: 4 * 30, columns: 2)
        for i in 0..<(4 * 30) { inputs[i, 0] = task.testSet.inputs[i, 0]; inputs[i, 1] = task.testSet.inputs[i, 1] }
        let expected = model.predict(inputs, batch: 30, store)
        for b in 0..<30 { #expect(abs(predictions[b, 0] - expected[b, 0]) <= 1e-6) }
        // Capped at 50 rows: every step of the first 50 / 4 = 12 sequences (row t * 12 + b).
        let capped = try #require(task.hiddenStates(model, store, maximumRows: 50, inputs: .test))
        #expect(capped.rows == 4 * 12)
        #expect(
            (0..<4).allSatisfy { t in (0..<12).allSatisfy { b in (0..<8).allSatisfy { capped[t * 12 + b, $0] == states[t * 30 + b, $0] } } }
        )

        // The validation sequences: their last step's states read out to the validation predictions.
        let valid = try #require(task.hiddenStates(model, store, maximumRows: 1000, inputs: .validation))
        let validLast = Matrix<Float>(rows: 30, columns: 8) { r, c in valid[3 * 30 + r, c] }
        var validInputs = Matrix<Float>(rows: 4 * 30, columns: 2)
        for i in 0..<(4 * 30) {
            validInputs[i, 0] = task.validationSet.inputs[i, 0]; validInputs[i, 1] = task.validationSet.inputs[i, 1]
        }
        let validExpected = model.predict(validInputs, batch: 30, store)
        let validPredictions = model.head.forward(validLast, store)
        for b in 0..<30 { #expect(abs(validPredictions[b, 0] - validExpected[b, 0]) <= 1e-6) }
        #expect(valid.scalars != states.scalars)
    }

    @Test func navigationStatesDecodeToTheEvaluatedLogits() throws {
        var o = NavigationOptions()
        o.placeCells = 16; o.hiddenSize = 12; o.length = 5; o.evaluationBatches = 2; o.evaluationBatchSize = 6
        let task = try NavigationTask(options: o)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 4)
        let model = task.makeModel(in: store, rng: &rng)
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1000, inputs: .test))
        #expect(states.rows == 2 * 5 * 6 && states.columns == 12)
        let batch = task.evaluationSets[0][1]
        let second = Matrix<Float>(rows: 30, columns: 12) { r, c in states[30 + r, c] }
        let logits = model.logits(start: task.cells.codes(for: batch.start), velocities: batch.velocities, store)
        let decoded = model.decoder.forward(second, store)
        #expect(zip(decoded.scalars, logits.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(try #require(task.hiddenStates(model, store, maximumRows: 7, inputs: .test)).rows == 7)

        // The validation trajectories' states decode to their logits.
        let valid = try #require(task.hiddenStates(model, store, maximumRows: 1000, inputs: .validation))
        let validBatch = task.validationSet[0]
        let validLogits = model.logits(start: task.cells.codes(for: validBatch.start), velocities: validBatch.velocities, store)
        let validDecoded = model.decoder.forward(Matrix<Float>(rows: 30, columns: 12) { r, c in valid[r, c] }, store)
        #expect(zip(validDecoded.scalars, validLogits.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(valid.scalars != states.scalars)
    }

    @Test func languageStatesCoverTheTestTextAndDecodeToItsLogits() throws {
        let data = try LanguageTaskTests.tinyCorpus()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let task = try LanguageTask(options: LanguageTaskTests.tinyConfig(data: data).options)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 5)
        let model = task.makeModel(in: store, rng: &rng)
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1_000_000, inputs: .test))
        // Every input row of the test text (all but the last, which is only a target), every column.
        #expect(states.rows == (task.test.rows - 1) * task.test.columns && states.columns == 8)
        // The first window's states through the decoder are the logits the evaluation computes.
        var windows = BPTTWindows(bptt: task.options.bptt)
        let next = windows.next(in: task.test)
        let first = try #require(next)
        var state = model.rnn.zeroState(batch: task.test.columns, as: Float.self)
        let n = first.inputs.count
        let decoded = model.decoder.forward(Matrix<Float>(rows: n, columns: 8) { r, c in states[r, c] }, store)
        let agree = model.logits(inputs: first.inputs.map(Int.init), batch: first.columns, state: &state, store) { logits in
            logits.rows == n && zip(decoded.scalars, logits.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }
        }
        #expect(agree)
        #expect(try #require(task.hiddenStates(model, store, maximumRows: 5, inputs: .test)).rows == 5)
    }
}
