// Adam and AdamW in Float update 8 lanes at a time; the result must equal, bit for bit, the
// documented per-element formula evaluated one scalar at a time (the lanes do the same IEEE
// operations), for stores whose size is and is not a multiple of 8.
import Testing
import Linalg
@testable import NN
import _TestSupport

@Suite struct AdamLanesTests {
    @Test(arguments: [(21, false), (21, true), (16, false), (5, true)])
    func floatLanesMatchTheScalarFormula(count: Int, decoupled: Bool) {
        var rng = SeededGenerator(seed: 900 + UInt64(count))
        let store = ParameterStore<Float>()
        let slot = store.add("w", shape: [count]) { Float(rng.normal()) }
        var optimizer =
            decoupled
            ? Adam<Float>.adamW(learningRate: 1e-2, weightDecay: 0.1)
            : Adam<Float>(learningRate: 1e-2, weightDecay: 0.05)
        var p = Array(UnsafeBufferPointer(start: store.value(slot), count: count))
        var m = [Float](repeating: 0, count: count), v = [Float](repeating: 0, count: count)
        for step in 1...4 {
            let g = (0..<count).map { _ in Float(rng.normal()) }
            for i in 0..<count { store.gradient(slot)[i] = g[i] }
            optimizer.step(store)
            let bc1 = 1 - Double.pow(0.9, Double(step)), bc2 = 1 - Double.pow(0.999, Double(step))
            let stepSize = Float(1e-2 / bc1), bc2Root = Float(bc2.squareRoot())
            let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
            let c1 = Float(1 - 0.9), c2 = Float(1 - 0.999)  // 1 - beta formed in Double, then rounded
            let l2: Float = decoupled ? 0 : 0.05, decay: Float = decoupled ? Float(1 - 1e-2 * 0.1) : 1
            for i in 0..<count {
                let gi = g[i] + l2 * p[i]
                m[i] = b1 * m[i] + c1 * gi
                v[i] = b2 * v[i] + c2 * gi * gi
                p[i] = p[i] * decay - stepSize * m[i] / (v[i].squareRoot() / bc2Root + eps)
            }
            let got = Array(UnsafeBufferPointer(start: store.value(slot), count: count))
            #expect(got == p, "step \(step), count \(count), decoupled \(decoupled)")
        }
    }
}

/// Adam on the worker pool: the same bits as the per-element formula at every thread count, with
/// the update split into ranges of one entry upwards.
@Suite struct AdamThreadCountTests {
    @Test func everyThreadCountMatchesTheScalarFormula() {
        withThreadCounts([1, 2, 3, 4]) { _ in
            for (count, decoupled) in [(21, false), (1001, true), (5, true)] {
                AdamLanesTests().floatLanesMatchTheScalarFormula(count: count, decoupled: decoupled)
            }
        }
    }
}
