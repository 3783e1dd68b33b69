// safetensors round trips and checkpoint contents (parameters, masks, optimizer buffers, state).
import Foundation
import Formats
import Testing
import Linalg
import NN
@testable import Experiments

@Suite struct CheckpointTests {
    @Test func safetensorsRoundTripsFloatAndDouble() throws {
        let tensors = [NamedTensor(name: "a.weight", shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-8, -7]),
                       NamedTensor(name: "a.bias", shape: [3], scalars: [0.25, 0.5, 0.75])]
        for dtype in [SafeTensorsDType.f32, .f64] {
            let data = try SafeTensors.encode(tensors, dtype: dtype, metadata: ["k": "v"])
            // Header length is little-endian and the header is padded to 8 bytes.
            let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(n % 8 == 0)
            let (back, meta) = try SafeTensors.decode(data)
            #expect(meta == ["k": "v"])
            #expect(back.map(\.name) == ["a.weight", "a.bias"])
            for (x, y) in zip(back, tensors) {
                #expect(x.shape == y.shape)
                #expect(x.scalars == (dtype == .f32 ? y.scalars.map { Double(Float($0)) } : y.scalars))
            }
        }
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(Data([1, 2, 3])) }
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(Data([255, 0, 0, 0, 0, 0, 0, 0, 123])) }
    }

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
