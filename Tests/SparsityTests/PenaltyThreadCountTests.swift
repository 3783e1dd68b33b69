// The moduli penalty's kernels on the worker pool: value, gradient and dPenalty/dR at 1, 2, 3 and
// 4 threads give the same bits as one call of the scalar type's kernel over the whole block.
import Linalg
import Testing
import _TestSupport
@testable import Sparsity

@Suite struct PenaltyThreadCountTests {
    func check<S: BLASScalar>(_: S.Type, count: Int, power: Int) {
        var rng = SeededGenerator(seed: 4000 + UInt64(count + power))
        let w: [S] = (0..<count).map { _ in rng.integer(below: 6) == 0 ? 0 : S(rng.normal()) }
        let r: [S] = (0..<count).map { _ in S(rng.uniform(0, 80)) }
        let g0: [S] = (0..<count).map { _ in S(rng.normal()) }
        let label = "\(S.self) count \(count) p = \(power)"
        // The oracle: the kernels called once on the whole block, on one thread.
        let value = S.weightedPowerSum(w, weights: r, count: count, power: power)
        var g = g0
        let step = S.weightedPowerSumAddingGradient(w, gradient: &g, weights: r, count: count, scale: S(0.37), power: power)
        var a = [Double](repeating: 0.5, count: count)
        S.accumulatePowers(w, into: &a, count: count, scale: 0.37, power: power)
        withThreadCounts([1, 2, 3, 4]) { n in
            let v = PenaltyKernel.value(w: w, r: r, count: count, power: power)
            #expect(v.bitPattern == value.bitPattern, "\(label) threads \(n): value \(v), want \(value)")
            var gn = g0
            let s = PenaltyKernel.valueAndGradient(w: w, gradient: &gn, r: r, count: count, scale: 0.37, power: power)
            #expect(s.bitPattern == step.bitPattern, "\(label) threads \(n): valueAndGradient \(s), want \(step)")
            #expect(gn == g, "\(label) threads \(n): gradient differs")
            var an = [Double](repeating: 0.5, count: count)
            PenaltyKernel.accumulateMagnitudes(w: w, into: &an, count: count, scale: 0.37, power: power)
            #expect(an == a, "\(label) threads \(n): accumulateMagnitudes differs")
        }
    }

    @Test(arguments: [1, 2])
    func everyThreadCountGivesTheKernelsBits(power: Int) {
        for count in [5, 1024, 17 * 1024 + 5, 40_003] {
            check(Float.self, count: count, power: power)
            check(Double.self, count: count, power: power)
        }
    }
}
