// The CPU backend's optimizer steps equal the NN module's (the trainer's today) to the bit, so
// that moving the trainer onto a backend changes no CPU result.
import Testing
import Linalg
import NN
import Compute

@Suite struct NNParityTests {
    /// A store with one tensor of `values`, its gradient set to `gradient`.
    func store(_ values: [Float]) -> (ParameterStore<Float>, ParameterSlot) {
        let s = ParameterStore<Float>()
        let slot = s.add("w", shape: [values.count])
        for (i, v) in values.enumerated() { s.values[i] = v }
        return (s, slot)
    }

    /// Adam and AdamW, four steps: parameters bitwise equal (the NN path runs 8 lanes at a time).
    @Test(arguments: [false, true])
    func adamMatchesNNAdamBitwise(decoupled: Bool) throws {
        var rng = SeededGenerator(seed: 80)
        let n = 45
        let initial = rng.floats(n)
        let (s, _) = store(initial)
        var nn: Adam<Float> = decoupled ? .adamW(learningRate: 3e-3, weightDecay: 0.01) : Adam(learningRate: 3e-3, weightDecay: 0.02)
        let settings = decoupled ? AdamSettings.adamW(learningRate: 3e-3, weightDecay: 0.01) : AdamSettings(learningRate: 3e-3, weightDecay: 0.02)
        let cpu = CPUBackend()
        let p = try cpu.buffer(initial), g = try cpu.allocate(count: n)
        let m = try cpu.buffer([Float](repeating: 0, count: n)), v = try cpu.buffer([Float](repeating: 0, count: n))
        for t in 1...4 {
            let grad = rng.floats(n)
            for i in 0..<n { s.gradients[i] = grad[i] }
            nn.step(s)
            try cpu.upload(grad, to: g)
            try cpu.adamStep(parameters: p, gradients: g, firstMoment: m, secondMoment: v, settings: settings, step: t)
        }
        #expect(try cpu.download(p) == Array(s.values), "\(decoupled ? "AdamW" : "Adam") differs from NN's")
    }

    /// SGD with momentum and Nesterov, three steps: bitwise equal.
    @Test func sgdMatchesNNSGDBitwise() throws {
        var rng = SeededGenerator(seed: 81)
        let n = 19
        let initial = rng.floats(n)
        let (s, _) = store(initial)
        var nn = SGD<Float>(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
        let settings = SGDSettings(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true)
        let cpu = CPUBackend()
        let p = try cpu.buffer(initial), g = try cpu.allocate(count: n), b = try cpu.allocate(count: n)
        for step in 0..<3 {
            let grad = rng.floats(n)
            for i in 0..<n { s.gradients[i] = grad[i] }
            nn.step(s)
            try cpu.upload(grad, to: g)
            try cpu.sgdStep(parameters: p, gradients: g, momentumBuffer: b, settings: settings, firstStep: step == 0)
        }
        #expect(try cpu.download(p) == Array(s.values))
    }
}
