// Keeping a subset of hidden units: the compact tensors hold exactly the kept entries, dead units are
// found, and dropping them leaves the network's outputs unchanged (the compact model's own forward).
import Foundation
import Linalg
import Testing
@testable import NN

@Suite struct HiddenUnitSelectionTests {
    /// A recurrent network with a linear read-out of every step, in Double.
    struct Model {
        let net: RecurrentNetwork
        let head: Linear
        let store: ParameterStore<Double>
        var axes: [HiddenUnitAxis] { net.hiddenUnitAxes + [HiddenUnitAxis(slot: head.weight, dimension: 1)] }

        init(kind: CellKind, hiddenSize: Int, layers: Int = 1, bias: Bool = true, seed: UInt64) {
            var rng = SeededGenerator(seed: seed)
            store = ParameterStore<Double>()
            net = RecurrentNetwork(
                kind: kind, inputSize: 3, hiddenSize: hiddenSize, layerCount: layers, bias: bias, in: store, rng: &rng)
            head = Linear(inputSize: hiddenSize, outputSize: 2, name: "fc", in: store, rng: &rng)
        }

        /// The read-out `(T * B) x 2` of every step.
        func outputs(_ x: Matrix<Double>, batch: Int) -> Matrix<Double> {
            head.forward(net.forward(x, batch: batch, store).last!.output, store)
        }

        /// Copies the tensors of `other` (same names and shapes) into this model's store.
        func load(_ other: ParameterStore<Double>) {
            for s in store.slots {
                let name = store.info(s).name
                guard let t = other.slot(named: name) else {
                    Issue.record("\(name) is missing from the compact store")
                    continue
                }
                #expect(other.info(t).shape == store.info(s).shape, "\(name)")
                store.setValue(s, other.matrix(t))
            }
        }
    }

    /// Zeroes the entries of `unit` along every axis of the given dimension.
    static func zero(unit: Int, dimension: Int, hiddenSize h: Int, axes: [HiddenUnitAxis], in store: ParameterStore<Double>) {
        for axis in axes where axis.dimension == dimension {
            let info = store.info(axis.slot), w = store.value(axis.slot)
            for b in 0..<axis.blocks {
                let index = b * h + unit
                if dimension == 0 {
                    for c in 0..<info.columns { w[index * info.columns + c] = 0 }
                } else {
                    for r in 0..<info.rows { w[r * info.columns + index] = 0 }
                }
            }
        }
    }

    /// Unit 1 is read by nothing, unit 4 driven by nothing; unit 3 loses only its W_hh column (still
    /// read by the head). Both dead units are found, and the model without them gives the same outputs.
    @Test(arguments: CellKind.allCases)
    func droppingDeadUnitsKeepsTheOutputs(kind: CellKind) throws {
        let h = 6, batch = 4, steps = 5
        let model = Model(kind: kind, hiddenSize: h, seed: 11)
        let w = model.store.value(model.net.layers[0].weightHH)
        for r in 0..<(kind.gateCount * h) { w[r * h + 3] = 0 }
        Self.zero(unit: 1, dimension: 1, hiddenSize: h, axes: model.axes, in: model.store)
        Self.zero(unit: 4, dimension: 0, hiddenSize: h, axes: model.axes, in: model.store)
        #expect(model.store.deadHiddenUnits(of: h, along: model.axes) == [1, 4], "\(kind)")

        var rng = SeededGenerator(seed: 12)
        let x: Matrix<Double> = rng.normalMatrix(rows: steps * batch, columns: 3)
        let expected = model.outputs(x, batch: batch)
        let kept = [0, 2, 3, 5]
        let compact = model.store.selectingHiddenUnits(kept, of: h, along: model.axes)
        let small = Model(kind: kind, hiddenSize: kept.count, seed: 99)
        small.load(compact)
        let got = small.outputs(x, batch: batch)
        #expect(got.maxAbsDifference(expected) <= 1e-12, "\(kind): \(got.maxAbsDifference(expected))")
    }

    /// Every compact entry is the original entry at the kept indices (gate blocks alike), for a
    /// stack of two layers; masks are carried and stay in force.
    @Test func compactTensorsHoldTheKeptEntries() throws {
        let h = 5, kept = [0, 2, 3]
        let model = Model(kind: .lstm, hiddenSize: h, layers: 2, seed: 3)
        let pruned = model.net.layers[1].weightIH
        let mask = model.store.mask(pruned)
        for i in 0..<model.store.info(pruned).count where i % 3 == 0 { mask[i] = 0 }
        model.store.enableMask(pruned)
        let compact = model.store.selectingHiddenUnits(kept, of: h, along: model.axes)
        let k = kept.count
        for layer in model.net.layers {
            for slot in [layer.weightIH, layer.weightHH] {
                let name = model.store.info(slot).name
                let original = model.store.matrix(slot)
                let t = try #require(compact.slot(named: name))
                let selected = compact.matrix(t)
                let takesColumns = slot == layer.weightHH || layer.inputSize == h
                #expect(selected.rows == 4 * k && selected.columns == (takesColumns ? k : original.columns), "\(name)")
                for r in 0..<selected.rows {
                    for c in 0..<selected.columns {
                        let oldRow = (r / k) * h + kept[r % k], oldColumn = takesColumns ? kept[c] : c
                        #expect(selected[r, c] == original[oldRow, oldColumn], "\(name)[\(r), \(c)]")
                    }
                }
            }
            for bias in [layer.biasIH, layer.biasHH].compactMap({ $0 }) {
                let original = model.store.matrix(bias)
                let selected = compact.matrix(try #require(compact.slot(named: model.store.info(bias).name)))
                for r in 0..<(4 * k) { #expect(selected.scalars[r] == original.scalars[(r / k) * h + kept[r % k]]) }
            }
        }
        let t = try #require(compact.slot(named: model.store.info(pruned).name))
        #expect(compact.isMasked[t.index])
        let originalMask = Matrix(
            rows: 4 * h, columns: h, scalars: Array(UnsafeBufferPointer(start: mask, count: model.store.info(pruned).count)))
        let compactMask = compact.mask(t)
        for r in 0..<(4 * k) {
            for c in 0..<k { #expect(compactMask[r * k + c] == originalMask[(r / k) * h + kept[r % k], kept[c]]) }
        }
        let head = compact.matrix(try #require(compact.slot(named: "fc.weight")))
        #expect(head.rows == 2 && head.columns == k)
    }

    /// A unit with some nonzero entry on both sides is alive, whatever else is zero.
    @Test func liveUnitsAreNotDead() {
        let h = 4
        let model = Model(kind: .gru, hiddenSize: h, bias: false, seed: 5)
        #expect(model.store.deadHiddenUnits(of: h, along: model.axes).isEmpty)
        // Only W_ih's rows of unit 2 zero: W_hh still drives it.
        let w = model.store.value(model.net.layers[0].weightIH)
        for b in 0..<3 { for c in 0..<3 { w[(b * h + 2) * 3 + c] = 0 } }
        #expect(model.store.deadHiddenUnits(of: h, along: model.axes).isEmpty)
    }
}
