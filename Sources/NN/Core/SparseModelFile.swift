// A parameter store as a sparse model file (`SparseModelFile`, Formats): pruned slots in CSR form,
// and loading such a file into a store with masks of the stored entries.
import Foundation
import Formats
import Linalg

extension SparseModelFile {
    /// The file's bytes: `sparse` slots of `store` in CSR form (the entries their mask keeps, or
    /// the non-zero entries of a slot without a mask), every other slot dense.
    public static func encode(
        _ store: ParameterStore<Float>, sparse: [ParameterSlot], order: [Int]? = nil,
        metadata: [String: String] = [:]
    ) throws -> Data {
        let sparseSet = Set(sparse.map(\.index))
        let tensors = store.slots.map { s -> Tensor in
            let info = store.info(s)
            let values = UnsafeBufferPointer(start: store.value(s), count: info.count)
            guard sparseSet.contains(s.index) else {
                return .dense(NamedTensor(name: info.name, shape: info.shape, scalars: values.map(Double.init)))
            }
            precondition(info.shape.count == 2, "SparseModelFile: \(info.name) is not a matrix")
            let mask = store.isMasked[s.index] ? UnsafeBufferPointer(start: store.mask(s), count: info.count) : nil
            return .csr(
                CSRMatrix(name: info.name, rows: info.rows, columns: info.columns, dense: values) { k in
                    mask.map { $0[k] != 0 } ?? (values[k] != 0)
                })
        }
        return try encode(tensors, order: order, metadata: metadata)
    }

    /// Loads a decoded sparse model file into `store`: every tensor of the store must be present,
    /// dense with its shape or in CSR form with a valid structure (`decode`), with finite values;
    /// nothing else may be in the file. Pruned tensors get a mask of their stored entries; the
    /// store is changed only when the whole file is valid. Returns the hidden units' order of the
    /// file, if it has one (checked to be a permutation of 0 ..< `hiddenSize`). Every failure is a
    /// `SafeTensorsError` saying what is wrong.
    public static func load(
        _ tensors: [NamedTensor], metadata: [String: String], into store: ParameterStore<Float>,
        hiddenSize: Int
    ) throws -> [Int]? {
        let model = store.slots.map { (name: store.info($0).name, shape: store.info($0).shape) }
        let decoded = try decode(tensors, metadata: metadata, model: model, hiddenSize: hiddenSize)
        for (s, tensor) in zip(store.slots, decoded.tensors) {
            let count = store.info(s).count, value = store.value(s)
            switch tensor {
            case .dense(let t):
                for k in 0..<count { value[k] = Float(t.scalars[k]) }
                store.valuesDidChange(s)
            case .csr(let m):
                let mask = store.mask(s)
                value.update(repeating: 0, count: count)
                mask.update(repeating: 0, count: count)
                for r in 0..<m.rows {
                    for k in m.rowOffsets[r]..<m.rowOffsets[r + 1] {
                        value[r * m.columns + m.columnIndices[k]] = Float(m.values[k])
                        mask[r * m.columns + m.columnIndices[k]] = 1
                    }
                }
                store.enableMask(s)
            }
        }
        return decoded.order
    }
}
