// The parameters of each hidden unit as a group (HiddenUnitGroups): norms, scaling and removal
// against naive loops over every entry of every tensor, and the claim that a unit with zero own
// parameters can be removed without changing a network's outputs.
import Foundation
import Linalg
import NN
import Testing

@Suite struct HiddenUnitGroupsTests {
    /// A network of `kind` with `layers` layers and a linear head reading the hidden units, its axes
    /// (the network's and the head's columns), in Double with seeded random weights.
    static func model(_ kind: CellKind, layers: Int = 2, hidden: Int = 5, seed: UInt64 = 7) -> (
        store: ParameterStore<Double>, network: RecurrentNetwork, head: Linear, axes: [HiddenUnitAxis]
    ) {
        let store = ParameterStore<Double>()
        var rng = SeededGenerator(seed: seed)
        let network = RecurrentNetwork(kind: kind, inputSize: 3, hiddenSize: hidden, layerCount: layers, in: store, rng: &rng)
        let head = Linear(inputSize: hidden, outputSize: 2, name: "head", in: store, rng: &rng)
        return (store, network, head, network.hiddenUnitAxes + [HiddenUnitAxis(slot: head.weight, dimension: 1)])
    }

    /// Whether entry (r, c) of `slot` is on an axis of unit `j` (`rowOnly`: on a row axis of j, or
    /// on a column axis of j in a tensor without a row axis), straight from the list of axes.
    static func belongs(
        _ j: Int, _ slot: ParameterSlot, _ r: Int, _ c: Int, axes: [HiddenUnitAxis], hidden: Int, owned: Bool
    ) -> Bool {
        let mine = axes.filter { $0.slot == slot }
        let hasRow = mine.contains { $0.dimension == 0 }
        let onRow = mine.contains { $0.dimension == 0 && r % hidden == j }
        let onColumn = mine.contains { $0.dimension == 1 && c % hidden == j }
        return owned ? onRow || !hasRow && onColumn : onRow || onColumn
    }

    /// Every unit's sum of squares, naively: every entry of every tensor on an axis, tested for
    /// membership of every unit.
    static func naiveNorms(_ store: ParameterStore<Double>, axes: [HiddenUnitAxis], hidden: Int, owned: Bool) -> [Double] {
        let slots = Array(Set(axes.map(\.slot))).sorted { $0.index < $1.index }
        return (0..<hidden).map { j in
            var sum = 0.0
            for s in slots {
                let info = store.info(s), v = store.value(s)
                for r in 0..<info.rows {
                    for c in 0..<info.columns where belongs(j, s, r, c, axes: axes, hidden: hidden, owned: owned) {
                        sum += v[r * info.columns + c] * v[r * info.columns + c]
                    }
                }
            }
            return sum.squareRoot()
        }
    }

    @Test(arguments: [CellKind.rnnTanh, .lstm, .gru])
    func normsMatchNaiveLoops(kind: CellKind) throws {
        let (store, _, _, axes) = Self.model(kind)
        let groups = try HiddenUnitGroups(axes: axes, hiddenSize: 5, in: store)
        for (part, owned) in [(HiddenUnitGroups.Part.whole, false), (.owned, true)] {
            let got = groups.norms(part, in: store)
            let want = Self.naiveNorms(store, axes: axes, hidden: 5, owned: owned)
            for j in 0..<5 {
                #expect(abs(got[j] - want[j]) <= 1e-12 * max(1, want[j]), "\(kind) \(part) unit \(j): \(got[j]) vs \(want[j])")
            }
        }
        // The owned parts are disjoint and cover every entry on the axes: their squares add up to the tensors'.
        let total = Set(axes.map(\.slot)).reduce(0.0) { sum, s in
            sum + (0..<store.info(s).count).reduce(0.0) { $0 + store.value(s)[$1] * store.value(s)[$1] }
        }
        let owned = groups.norms(.owned, in: store).reduce(0) { $0 + $1 * $1 }
        #expect(abs(owned - total) <= 1e-12 * total, "\(kind): owned parts hold \(owned) of \(total)")
        // W_hh(j, j) counts once in the whole group: the whole groups hold less than rows plus columns.
        let whole = groups.norms(.whole, in: store).reduce(0) { $0 + $1 * $1 }
        #expect(whole > owned && whole < 2 * total)
    }

    @Test func scalingTouchesExactlyTheOwnedParts() throws {
        let (store, _, _, axes) = Self.model(.lstm)
        let groups = try HiddenUnitGroups(axes: axes, hiddenSize: 5, in: store)
        let before = store.copy()
        let factors = [0.5, 1, 0, 2, 0.25]
        groups.scaleOwned(by: factors, in: store)
        for s in store.slots {
            let info = store.info(s)
            for r in 0..<info.rows {
                for c in 0..<info.columns {
                    let owners = (0..<5).filter { Self.belongs($0, s, r, c, axes: axes, hidden: 5, owned: true) }
                    #expect(owners.count <= 1, "\(info.name)[\(r), \(c)] is owned by \(owners)")
                    let want = before.value(s)[r * info.columns + c] * (owners.first.map { factors[$0] } ?? 1)
                    #expect(store.value(s)[r * info.columns + c] == want, "\(info.name)[\(r), \(c)]")
                }
            }
        }
    }

    @Test func removingZeroesWholeGroupsInValuesAndMasks() throws {
        let (store, _, _, axes) = Self.model(.gru)
        let groups = try HiddenUnitGroups(axes: axes, hiddenSize: 5, in: store)
        let before = store.copy()
        groups.remove([1, 3], in: store)
        for s in Set(axes.map(\.slot)) {
            let info = store.info(s)
            #expect(store.isMasked[s.index], "\(info.name): mask not in force")
            for r in 0..<info.rows {
                for c in 0..<info.columns {
                    let k = r * info.columns + c
                    let gone = [1, 3].contains { Self.belongs($0, s, r, c, axes: axes, hidden: 5, owned: false) }
                    #expect(store.value(s)[k] == (gone ? 0 : before.value(s)[k]), "\(info.name)[\(r), \(c)]")
                    #expect(store.mask(s)[k] == (gone ? 0 : 1), "\(info.name)[\(r), \(c)] mask")
                }
            }
        }
        let norms = groups.norms(.whole, in: store)
        #expect(norms[1] == 0 && norms[3] == 0 && norms[0] > 0)
        #expect(groups.nonZeroUnits(in: store) == 3)
    }

    /// A unit whose owned part is zero computes 0 at every step: removing its columns as well
    /// (the whole group) leaves the outputs of the network and head unchanged, for every cell.
    @Test(arguments: [CellKind.rnnTanh, .rnnReLU, .lstm, .gru])
    func aUnitWithZeroOwnPartsCanBeRemoved(kind: CellKind) throws {
        let (store, network, head, axes) = Self.model(kind, seed: 11)
        let groups = try HiddenUnitGroups(axes: axes, hiddenSize: 5, in: store)
        groups.scaleOwned(by: [1, 0, 1, 1, 0], in: store)
        #expect(groups.nonZeroUnits(in: store) == 3)
        var rng = SeededGenerator(seed: 3)
        let (steps, batch) = (6, 4)
        let input = Matrix<Double>(rows: steps * batch, columns: 3, scalars: (0..<(steps * batch * 3)).map { _ in rng.uniform() * 2 - 1 })
        func outputs() -> Matrix<Double> {
            return head.forward(network.forward(input, batch: batch, store).last!.output, store)
        }
        let kept = outputs()
        #expect(groups.norms(.whole, in: store)[1] > 0, "the columns of unit 1 are still there")
        groups.remove([1, 4], in: store)
        let removed = outputs()
        for k in 0..<kept.count { #expect(abs(kept.scalars[k] - removed.scalars[k]) <= 1e-12, "\(kind): output \(k) changed") }
    }

    @Test func axesThatDoNotFitAreRefused() throws {
        let (store, network, _, _) = Self.model(.lstm)
        #expect(throws: HiddenUnitGroupsError.self) {
            try HiddenUnitGroups(axes: network.hiddenUnitAxes, hiddenSize: 4, in: store)
        }
        let w = network.layers[0].weightHH
        #expect(throws: HiddenUnitGroupsError.self) {
            try HiddenUnitGroups(
                axes: [HiddenUnitAxis(slot: w, dimension: 1), HiddenUnitAxis(slot: w, dimension: 1)], hiddenSize: 5, in: store)
        }
    }
}
