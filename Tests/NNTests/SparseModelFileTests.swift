// A parameter store as a sparse model file: CSR tensors round-trip to the dense values and masks,
// and a file that is refused leaves the store as it was. (The format's own checks: FormatsTests.)
import Foundation
import Testing
import Linalg
import Formats
@testable import NN

@Suite struct SparseModelFileTests {
    /// A store with a pruned 5 x 4 matrix (rows 2 and 3 empty), a dense bias and a pruned 1 x 3 read-out.
    static func store() -> (ParameterStore<Float>, [ParameterSlot]) {
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 900)
        let w = store.add("w", shape: [5, 4]) { Float(rng.uniform() * 2 - 1) }
        _ = store.add("b", shape: [5]) { Float(rng.uniform()) }
        let r = store.add("r", shape: [1, 3]) { Float(rng.uniform() + 0.5) }
        for (slot, kept) in [(w, [0, 3, 5, 6, 7, 16, 19]), (r, [1])] {
            let m = store.mask(slot)
            for k in 0..<store.info(slot).count { m[k] = kept.contains(k) ? 1 : 0 }
            store.enableMask(slot)
        }
        return (store, [w, r])
    }

    static func decoded(_ data: Data) throws -> ([NamedTensor], [String: String]) {
        let d = try SafeTensors.decode(data)
        return (d.tensors, d.metadata)
    }

    @Test func roundTripKeepsValuesAndMasks() throws {
        let (a, sparse) = Self.store()
        let data = try SparseModelFile.encode(a, sparse: sparse, order: [2, 0, 1, 3, 4], metadata: ["task": "t"])
        let (tensors, metadata) = try Self.decoded(data)
        #expect(tensors.first { $0.name == "w.crow_indices" }?.scalars == [0, 2, 5, 5, 5, 7])
        #expect(tensors.first { $0.name == "w.col_indices" }?.scalars == [0, 3, 1, 2, 3, 0, 3])
        #expect(metadata["sparse_shapes"] == "{\"r\":[1,3],\"w\":[5,4]}")
        let (b, _) = Self.store()
        b.values.update(repeating: 7)
        let order = try SparseModelFile.load(tensors, metadata: metadata, into: b, hiddenSize: 5)
        #expect(order == [2, 0, 1, 3, 4])
        #expect(Array(a.values) == Array(b.values))
        #expect(Array(a.masks) == Array(b.masks))
        #expect(b.isMasked == [true, false, true])
    }

    /// A file refused for its last tensor changes nothing of the store.
    @Test func aRefusedFileLeavesTheStoreAsItWas() throws {
        let (a, sparse) = Self.store()
        let (good, meta) = try Self.decoded(try SparseModelFile.encode(a, sparse: sparse))
        let bad = good.map { $0.name == "r.values" ? NamedTensor(name: "r.values", shape: [1], scalars: [.nan]) : $0 }
        let (b, _) = Self.store()
        b.values.update(repeating: 7)
        let values = Array(b.values), masks = Array(b.masks)
        #expect { try SparseModelFile.load(bad, metadata: meta, into: b, hiddenSize: 5) } throws: { "\($0)".contains("r.values holds nan") }
        #expect(Array(b.values) == values && Array(b.masks) == masks)
    }

    /// A 90%-sparse 256 x 256 matrix: the CSR file is under a third of the dense one (8 bytes per
    /// kept weight against 4 per weight).
    @Test func aSparseFileIsSmaller() throws {
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 901)
        let w = store.add("w", shape: [256, 256]) { Float(rng.uniform()) }
        let m = store.mask(w)
        for k in 0..<(256 * 256) { m[k] = rng.uniform() < 0.1 ? 1 : 0 }
        store.enableMask(w)
        let sparse = try SparseModelFile.encode(store, sparse: [w]).count
        let dense = try SafeTensors.encode(store.namedValues(), checksum: true).count
        #expect(sparse * 3 < dense, "sparse \(sparse) bytes, dense \(dense)")
    }
}
