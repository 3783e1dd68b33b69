// Gradual magnitude pruning: exact pooled and per-tensor sparsity (with ties), growing masks,
// masked weights staying 0 under Adam, schedules, sparsity reports. Reference: docs/method.md section 3.
import Foundation
import Linalg
import NN
import Testing
@testable import Sparsity

@Suite struct PruningTests {
    /// Three tensors of 10, 20 and 30 entries with many equal magnitudes (values k / 4, both signs).
    func tiedStore(seed: UInt64) -> (ParameterStore<Float>, [ParameterSlot]) {
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Float>()
        let shapes = [[2, 5], [4, 5], [30]]
        let slots = shapes.enumerated().map { k, shape in
            store.add("t\(k)", shape: shape) { Float(rng.integer(below: 5)) / 4 * (rng.uniform() < 0.5 ? -1 : 1) }
        }
        return (store, slots)
    }

    func prunedCount(_ store: ParameterStore<Float>, _ slots: [ParameterSlot]) -> Int {
        slots.reduce(0) { $0 + mask(store, $1).filter { $0 == 0 }.count }
    }

    @Test func pooledSparsityIsExactWithTies() {
        for target in [0.0, 0.1, 0.25, 0.5, 0.55, 0.9, 1.0] {
            let (store, slots) = tiedStore(seed: 1)
            let before = slots.map { values(store, $0) }
            GradualMagnitudePruner.prune(slots, toSparsity: target, in: store)
            let k = Int((target * 60).rounded())
            #expect(prunedCount(store, slots) == k, "target \(target), seed 1")
            #expect(GradualMagnitudePruner.sparsity(of: slots, in: store) == Double(k) / 60)
            // One threshold: every pruned magnitude <= every surviving magnitude, and the tie rule
            // (tensor order, then index) decides among equal magnitudes at the threshold.
            var pruned: [(Double, Int, Int)] = [], kept: [(Double, Int, Int)] = []
            for (t, slot) in slots.enumerated() {
                let m = mask(store, slot), w = values(store, slot)
                for i in m.indices {
                    if m[i] == 0 {
                        pruned.append((abs(before[t][i]), t, i))
                        #expect(w[i] == 0)
                    } else {
                        kept.append((abs(before[t][i]), t, i))
                        #expect(w[i] == before[t][i])
                    }
                }
            }
            if let worst = pruned.max(by: { $0 < $1 }), let best = kept.min(by: { $0 < $1 }) {
                #expect(worst < best, "order (|w|, tensor, index): pruned \(worst) vs kept \(best), target \(target)")
            }
            for slot in slots where k > 0 { #expect(store.isMasked[slot.index]) }
        }
    }

    @Test func masksOnlyGrowAndAlreadyPrunedCount() {
        let (store, slots) = tiedStore(seed: 2)
        var rng = SeededGenerator(seed: 3)
        var previous = slots.map { mask(store, $0) }
        for target in [0.2, 0.4, 0.3, 0.6, 0.6, 0.9] {
            // Weights change between events (as in training), even to larger magnitudes.
            for slot in slots {
                let w = store.value(slot), m = store.mask(slot)
                for i in 0..<store.info(slot).count { w[i] = m[i] * Float(rng.normal()) }
            }
            GradualMagnitudePruner.prune(slots, toSparsity: target, in: store)
            let now = slots.map { mask(store, $0) }
            for (a, b) in zip(previous, now) {
                #expect(zip(a, b).allSatisfy { !($0 == 0 && $1 != 0) }, "a pruned entry came back, target \(target)")
            }
            let expected = max(Int((target * 60).rounded()), previous.joined().filter { $0 == 0 }.count)
            #expect(prunedCount(store, slots) == expected, "target \(target), seed 2")
            previous = now
        }
    }

    @Test func perTensorTargetsHitEachTensorExactly() {
        let (store, slots) = tiedStore(seed: 4)
        let pruner = GradualMagnitudePruner(
            slots: slots, schedule: .linear(target: 0.8, epochs: 5),
            tensorTargets: [0.5, 0.8, 0.3])
        #expect(pruner.prune(atEvent: 0, in: store) == nil)
        for e in 1...4 {
            let event = try! #require(pruner.prune(atEvent: e, in: store))
            let fraction = Double(e) / 4
            for (t, slot) in slots.enumerated() {
                let n = store.info(slot).count
                let expected = Int(([0.5, 0.8, 0.3][t] * fraction * Double(n)).rounded())
                #expect(mask(store, slot).filter { $0 == 0 }.count == expected, "tensor \(t) event \(e), seed 4")
            }
            #expect(event.tensorTargets?.count == 3)
        }
    }

    @Test func maskedWeightsStayZeroUnderAdam() {
        var rng = SeededGenerator(seed: 5)
        let store = ParameterStore<Float>()
        let w = store.add("w", shape: [8, 8]) { Float(rng.normal()) }
        let b = store.add("b", shape: [8]) { Float(rng.normal()) }
        GradualMagnitudePruner.prune([w], toSparsity: 0.75, in: store)
        let pruned = mask(store, w).indices.filter { mask(store, w)[$0] == 0 }
        #expect(pruned.count == 48)
        var adam = Adam<Float>.adamW(learningRate: 0.1, weightDecay: 0.01)
        for _ in 0..<200 {
            store.zeroGradients()
            for i in 0..<store.totalCount { store.gradients[i] = Float(rng.normal()) + 1 }
            adam.step(store)
        }
        let v = values(store, w)
        #expect(pruned.allSatisfy { v[$0] == 0 }, "masked weights exactly 0 after 200 Adam steps, seed 5")
        #expect(values(store, b).allSatisfy { $0 != 0 }, "biases are not pruned")
    }

    @Test func linearScheduleIsThePapers() {
        let schedule = PruningSchedule.linear(target: 0.9, epochs: 30)
        #expect(schedule.target(atEvent: 0) == nil)
        #expect(schedule.target(atEvent: 1) == 0.9 / 29)
        #expect(schedule.target(atEvent: 29) == 0.9)
        #expect(schedule.target(atEvent: 30) == nil)
        #expect(schedule.finalTarget == 0.9 && schedule.lastEvent == 29)
        checkMonotoneAndEnding(schedule, events: 40)
    }

    @Test func cubicScheduleIsZhuAndGupta() {
        let schedule = PruningSchedule.cubic(initial: 0.1, final: 0.95, start: 100, interval: 10, steps: 20)
        #expect(schedule.target(atEvent: 99) == nil)
        #expect(schedule.target(atEvent: 105) == nil)
        #expect(schedule.target(atEvent: 100) == 0.1)
        let t = 150.0, expected = 0.95 + (0.1 - 0.95) * pow(1 - (t - 100) / (20 * 10), 3)
        #expect(abs(schedule.target(atEvent: 150)! - expected) < 1e-15)
        #expect(schedule.target(atEvent: 300) == 0.95)
        #expect(schedule.target(atEvent: 310) == nil)
        checkMonotoneAndEnding(schedule, events: 400)
    }

    @Test func tableScheduleAndCodable() throws {
        let schedule = PruningSchedule(events: 6) { $0 % 2 == 1 ? Double($0) / 10 : nil }
        #expect(schedule.target(atEvent: 0) == nil && schedule.target(atEvent: 3) == 0.3)
        #expect(schedule.finalTarget == 0.5 && schedule.lastEvent == 5)
        checkMonotoneAndEnding(schedule, events: 8)
        for s in [schedule, .linear(target: 0.9, epochs: 15), .cubic(initial: 0, final: 0.9, start: 0, interval: 1, steps: 5), .none] {
            #expect(try JSONDecoder().decode(PruningSchedule.self, from: JSONEncoder().encode(s)) == s)
        }
        let store = ParameterStore<Float>()
        let slot = store.add("w", shape: [3])
        let pruner = GradualMagnitudePruner(slots: [slot], schedule: schedule, tensorTargets: [0.5])
        #expect(try JSONDecoder().decode(GradualMagnitudePruner.self, from: JSONEncoder().encode(pruner)) == pruner)
    }

    func checkMonotoneAndEnding(_ schedule: PruningSchedule, events: Int) {
        let targets = (0..<events).compactMap { schedule.target(atEvent: $0) }
        #expect(zip(targets, targets.dropFirst()).allSatisfy { $0 <= $1 }, "monotone: \(schedule)")
        #expect(targets.last == schedule.finalTarget, "ends at the target: \(schedule)")
    }

    @Test func gradualPruningReachesTheTargetAtTheLastEpoch() {
        var rng = SeededGenerator(seed: 6)
        let store = ParameterStore<Float>()
        let slots = [store.add("a", shape: [50, 40]) { Float(rng.normal()) }, store.add("b", shape: [37]) { Float(rng.normal()) }]
        let pruner = GradualMagnitudePruner(slots: slots, schedule: .linear(target: 0.9, epochs: 10))
        var achieved: [Double] = []
        for e in 0..<12 {
            if let event = pruner.prune(atEvent: e, in: store) { achieved.append(event.achieved) }
        }
        #expect(achieved.count == 9)
        #expect(achieved.last == Double(Int((0.9 * 2037).rounded())) / 2037, "seed 6")
        #expect(zip(achieved, achieved.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func sparsityReportCountsMasksZerosAndSmallWeights() throws {
        let store = ParameterStore<Float>()
        let ih = store.add("rnn.weight_ih_l0", shape: [4, 2]) { 0.5 }
        var k = 0
        let hh = store.add("rnn.weight_hh_l0", shape: [4, 4]) {
            k += 1; return k <= 6 ? 0.0005 : 1
        }
        GradualMagnitudePruner.prune([hh], toSparsity: 0.25, in: store)  // prunes 4 of the 6 small ones
        let report = SparsityReport(store: store, slots: [ih, hh], recurrentSlots: [hh])
        #expect(report.tensors.map(\.name) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"])
        #expect(report.tensors[1].pruned == 4 && report.tensors[1].zeros == 4 && report.tensors[1].small == 6)
        #expect(report.recurrent.sparsity == 0.25 && report.recurrentSmallCount == 6)
        #expect(report.pooled.count == 24 && report.pooled.pruned == 4 && abs(report.pooled.sparsity - 4.0 / 24) < 1e-15)
        #expect(report.tensors[0].sparsity == 0 && report.tensors[0].small == 0)
        #expect(try JSONDecoder().decode(SparsityReport.self, from: JSONEncoder().encode(report)) == report)
    }

}
