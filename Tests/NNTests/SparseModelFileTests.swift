// The sparse model file: CSR tensors round-trip to the dense values and masks, and every malformed
// or mismatched file is an error that says what is wrong, never a crash.
import Foundation
import Testing
import Linalg
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

    /// Each change of a valid file's tensors or metadata, and the words its error must contain.
    @Test func malformedFilesAreErrors() throws {
        let (a, sparse) = Self.store()
        let (good, meta) = try Self.decoded(try SparseModelFile.encode(a, sparse: sparse, order: [0, 1, 2, 3, 4]))
        func changed(_ name: String, _ scalars: [Double], shape: [Int]? = nil) -> [NamedTensor] {
            good.map { $0.name == name ? NamedTensor(name: name, shape: shape ?? [scalars.count], scalars: scalars) : $0 }
        }
        let cases: [([NamedTensor], [String: String], String)] = [
            (changed("w.crow_indices", [0, 2, 1, 5, 5, 7]), meta, "non-decreasing"),
            (changed("w.crow_indices", [0, 9, 5, 5, 5, 7]), meta, "non-decreasing"),
            (changed("w.crow_indices", [0, 2, 5, 5, 5, 6]), meta, "run from 0"),
            (changed("w.crow_indices", [0, 2, 5, 5, 7]), meta, "needs [6]"),
            (changed("w.crow_indices", [0, 2.5, 5, 5, 5, 7]), meta, "row offset"),
            (changed("w.crow_indices", [0, 1e300, 5, 5, 5, 7]), meta, "row offset"),
            (changed("w.col_indices", [0, 3, 1, 2, 4, 0, 3]), meta, "0..<4"),
            (changed("w.col_indices", [0, 3, 2, 1, 3, 0, 3]), meta, "increasing"),
            (changed("w.col_indices", [0, -1, 1, 2, 3, 0, 3]), meta, "0..<4"),
            (changed("w.col_indices", [0, 0.5, 1, 2, 3, 0, 3]), meta, "integers"),
            (changed("w.values", [1, 2, 3]), meta, "one length"),
            (changed("w.values", [1, 2, 3, .nan, 5, 6, 7]), meta, "nan"),
            (changed("b", [1, 2, 3]), meta, "shape"),
            (good.filter { $0.name != "w.values" }, meta, "no tensor w"),
            (good + [NamedTensor(name: "x", shape: [1], scalars: [0])], meta, "does not have"),
            (good, meta.merging(["neuron_order": "[0,1,1,3,4]"]) { $1 }, "permutation"),
            (good, meta.merging(["neuron_order": "[0,1,2]"]) { $1 }, "permutation"),
            (good, meta.merging(["format": "other"]) { $1 }, "not a sparse model file"),
        ]
        for (tensors, metadata, words) in cases {
            let (b, _) = Self.store()
            #expect { try SparseModelFile.load(tensors, metadata: metadata, into: b, hiddenSize: 5) } throws: { error in
                let text = (error as? SafeTensorsError)?.description ?? "\(error)"
                return text.contains(words) || { Issue.record("\(words): \(text)"); return true }()
            }
        }
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
