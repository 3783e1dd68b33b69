// TrainingTask.hiddenStates: the hidden states over each task's evaluation inputs are the ones its
// evaluation reads out (the read-out of the states gives the evaluated outputs), in order, capped.
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
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1000))
        #expect(states.rows == 4 * 30 && states.columns == 8)
        // The last step's states (rows 3 * 30 ..< 4 * 30) through the read-out are the predictions.
        let last = Matrix<Float>(rows: 30, columns: 8) { r, c in states[3 * 30 + r, c] }
        let predictions = model.head.forward(last, store)
        var inputs = Matrix<Float>(rows: 4 * 30, columns: 2)
        for i in 0..<(4 * 30) { inputs[i, 0] = task.testSet.inputs[i, 0]; inputs[i, 1] = task.testSet.inputs[i, 1] }
        let expected = model.predict(inputs, batch: 30, store)
        for b in 0..<30 { #expect(abs(predictions[b, 0] - expected[b, 0]) <= 1e-6) }
        let capped = try #require(task.hiddenStates(model, store, maximumRows: 50))
        #expect(capped.rows == 50 && capped.scalars == Array(states.scalars.prefix(50 * 8)))
    }

    @Test func navigationStatesDecodeToTheEvaluatedLogits() throws {
        var o = NavigationOptions()
        o.placeCells = 16; o.hiddenSize = 12; o.length = 5; o.evaluationBatches = 2; o.evaluationBatchSize = 6
        let task = try NavigationTask(options: o)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 4)
        let model = task.makeModel(in: store, rng: &rng)
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1000))
        #expect(states.rows == 2 * 5 * 6 && states.columns == 12)
        let batch = task.evaluationSets[0][1]
        let second = Matrix<Float>(rows: 30, columns: 12) { r, c in states[30 + r, c] }
        let logits = model.logits(start: task.cells.codes(for: batch.start), velocities: batch.velocities, store)
        let decoded = model.decoder.forward(second, store)
        #expect(zip(decoded.scalars, logits.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(try #require(task.hiddenStates(model, store, maximumRows: 7)).rows == 7)
    }

    @Test func languageStatesCoverTheTestTextAndDecodeToItsLogits() throws {
        let data = try LanguageTaskTests.tinyCorpus()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let task = try LanguageTask(options: LanguageTaskTests.tinyConfig(data: data).options)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 5)
        let model = task.makeModel(in: store, rng: &rng)
        let states = try #require(task.hiddenStates(model, store, maximumRows: 1_000_000))
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
        #expect(try #require(task.hiddenStates(model, store, maximumRows: 5)).rows == 5)
    }
}
