// The compute backends' penalty operation against the regularizer the trainer runs: with fixed
// positions, the CPU backend's `moduliPenalty` adds the same gradients to the bit and the same value
// up to its rounding to the backend's scalar, so the regularizer can move onto the backend without
// changing a trajectory.
import Testing
import Linalg
import NN
import Compute
import Sparsity

@Suite struct RegularizerBackendTests {
    @Test(arguments: [1, 2])
    func backendPenaltyMatchesTheRegularizer(power: Int) throws {
        let h = 9, seed: UInt64 = 3200 + UInt64(power)
        let (store, slots) = recurrentStore(hiddenSize: h, gates: [4, 1], seed: seed, as: Float.self)
        var rng = SeededGenerator(seed: seed)
        var regularizer = try ModuliRegularizer<Float>(
            config: .geometric(space: "torus", lambda: 0.3, power: power), hiddenSize: h, in: store, rng: &rng)
        let cpu = CPUBackend()
        let r = try cpu.buffer(try #require(regularizer.coefficients).scalars.map { Float($0) })
        let value = try cpu.allocate(count: 1)
        var expectedGradients = [[Float]](), gradients = [[Float]]()
        store.zeroGradients()
        let total = regularizer.addGradients(weights: slots, in: store)
        for (k, slot) in slots.enumerated() {
            let info = store.info(slot)
            expectedGradients.append(Array(UnsafeBufferPointer(start: store.gradient(slot), count: info.count)))
            let g = try cpu.allocate(count: info.count)
            try cpu.moduliPenalty(
                weights: try cpu.buffer(Array(UnsafeBufferPointer(start: store.value(slot), count: info.count))),
                coefficients: r, gates: info.rows / h, hiddenSize: h, lambda: 0.3, power: power, value: value,
                accumulate: k > 0, gradient: g)
            gradients.append(try cpu.download(g))
        }
        let differing = zip(gradients.joined(), expectedGradients.joined()).filter { $0 != $1 }.count
        #expect(
            gradients.map(\.count) == expectedGradients.map(\.count) && differing == 0,
            "p = \(power): \(differing) gradient entries differ between the backend's penalty and the regularizer's")
        #expect(gradients.joined().contains { $0 != 0 })
        // The backend sums the tensors' values in its scalar; the regularizer in Double.
        let got = Double(try cpu.download(value)[0])
        #expect(abs(got - total) <= 2e-7 * total, "p = \(power): penalty \(got) on the backend, \(total) in the regularizer")
    }
}
