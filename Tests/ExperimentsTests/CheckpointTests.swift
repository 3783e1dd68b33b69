// Checkpoint contents (parameters, masks, optimizer buffers, state).
import Foundation
import Testing
import Linalg
import NN
@testable import Experiments

@Suite struct CheckpointTests {
    @Test func checkpointRestoresParametersMasksAndOptimizer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-ckpt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        var rng = SeededGenerator(seed: 1)
        let store = ParameterStore<Float>()
        let layer = Linear(inputSize: 3, outputSize: 2, name: "fc", in: store, rng: &rng)
        store.mask(layer.weight)[1] = 0
        store.enableMask(layer.weight)
        var adam = Adam<Float>()
        for i in 0..<store.totalCount { store.gradients[i] = Float(i) - 2 }
        adam.step(store)
        try Checkpoint.save(store, optimizer: adam.state, state: ["step": 7], to: run)

        let fresh = ParameterStore<Float>()
        var other = SeededGenerator(seed: 99)
        _ = Linear(inputSize: 3, outputSize: 2, name: "fc", in: fresh, rng: &other)
        let (opt, state) = try Checkpoint.load(fresh, stateType: [String: Int].self, from: run)
        #expect(state == ["step": 7])
        #expect(opt == adam.state)
        #expect(Array(fresh.values) == Array(store.values))
        #expect(Array(fresh.masks) == Array(store.masks))
        #expect(fresh.isMasked == store.isMasked)
    }
}
