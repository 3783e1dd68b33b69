// The device copy of a parameter store, on a CPU backend's own memory (a stand-in for a GPU's): it
// uploads exactly the tensors whose host versions moved, brings values back, and Adam steps run on
// it equal Adam steps on the host store to the bit.
import Testing
import Compute
import Linalg
import NN

@Suite struct DeviceStoreTests {
    /// A store of three tensors with random values.
    func makeStore() -> (ParameterStore<Float>, [ParameterSlot]) {
        var rng = SeededGenerator(seed: 51)
        let store = ParameterStore<Float>()
        let slots = [
            store.add("a", shape: [4, 5], .pytorchDefault(fanIn: 5), rng: &rng),
            store.add("b", shape: [7], .pytorchDefault(fanIn: 7), rng: &rng),
            store.add("c", shape: [3, 3], .pytorchDefault(fanIn: 3), rng: &rng)
        ]
        return (store, slots)
    }

    @Test func uploadsWhatTheHostChangedAndDownloadsValues() throws {
        let (store, slots) = makeStore()
        let cpu = CPUBackend()
        let device = try DeviceStore(store, on: cpu)
        #expect(try cpu.download(device.parameters.values) == Array(store.values))
        #expect(try cpu.download(device.parameters.masks) == Array(store.masks))
        #expect(try cpu.download(device.parameters.gradients).allSatisfy { $0 == 0 })
        #expect(try device.uploadChanges() == 0, "nothing changed since the first upload")

        // A host write to one tensor: that tensor's values go up, nothing else.
        store.setValue(slots[1], Matrix(rows: 7, columns: 1, scalars: (0..<7).map { Float($0) }))
        #expect(try device.uploadChanges() == 1)
        #expect(try cpu.download(device.parameters.value(slots[1])) == (0..<7).map { Float($0) })

        // A mask put in force: the mask and the masked values go up.
        let m = store.mask(slots[0])
        for i in 0..<20 { m[i] = i % 2 == 0 ? 0 : 1 }
        store.enableMask(slots[0])
        #expect(try device.uploadChanges() == 2)
        #expect(try cpu.download(device.parameters.part(device.parameters.masks, slots[0])) == (0..<20).map { $0 % 2 == 0 ? 0 : 1 })
        #expect(try cpu.download(device.parameters.value(slots[0])) == Array(store.values[store.span(slots[0])]))

        // A change on the device comes back, and does not count as a host change afterwards.
        try cpu.scale(device.parameters.values, by: 2)
        let onDevice = try cpu.download(device.parameters.values)
        try device.downloadValues()
        #expect(Array(store.values) == onDevice)
        #expect(try device.uploadChanges() == 0)
    }

    /// Three Adam steps with masks: the device store's buffers (own memory) against the host store.
    @Test func adamStepsOnTheDeviceEqualTheHost() throws {
        let (host, slots) = makeStore()
        let m = host.mask(slots[2])
        for i in 0..<9 { m[i] = i < 4 ? 0 : 1 }
        host.enableMask(slots[2])
        let copy = host.copy()
        let cpu = CPUBackend()
        let device = try DeviceStore(copy, on: cpu)
        var adam = Adam<Float>.adamW(learningRate: 0.01, weightDecay: 0.1)
        let n = host.totalCount
        let (m1, m2) = (try cpu.buffer([Float](repeating: 0, count: n)), try cpu.buffer([Float](repeating: 0, count: n)))
        var rng = SeededGenerator(seed: 52)
        for t in 1...3 {
            let g = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
            for i in 0..<n { host.gradients[i] = g[i] }
            adam.step(host)
            try cpu.upload(g, to: device.parameters.gradients)
            try Adam.update(
                device.parameters, firstMoment: m1, secondMoment: m2, settings: .adamW(learningRate: 0.01, weightDecay: 0.1), groups: [],
                step: t)
        }
        try device.downloadValues()
        #expect(Array(copy.values) == Array(host.values))
        #expect(Array(copy.values[copy.span(slots[2])]).prefix(4).allSatisfy { $0 == 0 }, "pruned entries stay zero")
    }
}
