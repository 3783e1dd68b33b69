// The sparse model file: a safetensors file in which every pruned tensor is stored in CSR form under
// PyTorch's names for the parts of a torch.sparse_csr_tensor, so that a 90%-sparse model file is
// several times smaller than the dense one and loads in PyTorch with a few lines (Tools/).
import Foundation
import Linalg

/// Encoding and checked decoding of sparse model files.
///
/// Layout: a pruned 2-D tensor `name` (rows x columns) is stored as three tensors,
/// `name.crow_indices` (I32, rows + 1 entries, from 0 to the kept count, non-decreasing),
/// `name.col_indices` (I32, the kept entries' columns, increasing within a row) and `name.values`
/// (F32), exactly the arguments of `torch.sparse_csr_tensor(crow, col, values, size)`; every other
/// tensor is stored dense under its own name. Metadata: `format` = `moduli-sparse-csr-2`,
/// `sparse_shapes` = a JSON object of each sparse tensor's `[rows, columns]`, and optionally
/// `neuron_order` = a JSON array: the file's hidden unit k is unit `order[k]` of the trained
/// model (`ParameterStore.permuteHiddenUnits`). A checksum of the whole file is always written
/// (`SafeTensors`); format 1, written by earlier versions, has the same layout with a checksum of
/// the data section only.
public enum SparseModelFile {
    /// The `format` metadata value this version writes.
    public static let format = "moduli-sparse-csr-2"
    /// The formats `load` reads.
    public static let readableFormats: Set<String> = ["moduli-sparse-csr-1", "moduli-sparse-csr-2"]
    /// The metadata key of the hidden units' order.
    public static let orderKey = "neuron_order"

    /// The file's bytes: `sparse` slots of `store` in CSR form (the entries their mask keeps, or
    /// the non-zero entries of a slot without a mask), every other slot dense.
    public static func encode(_ store: ParameterStore<Float>, sparse: [ParameterSlot], order: [Int]? = nil,
                              metadata: [String: String] = [:]) throws -> Data {
        let sparseSet = Set(sparse.map(\.index))
        var tensors: [NamedTensor] = [], dtypes: [String: SafeTensorsDType] = [:], shapes: [String: [Int]] = [:]
        for s in store.slots {
            let info = store.info(s)
            let values = UnsafeBufferPointer(start: store.value(s), count: info.count)
            guard sparseSet.contains(s.index) else {
                tensors.append(NamedTensor(name: info.name, shape: info.shape, scalars: values.map(Double.init)))
                continue
            }
            precondition(info.shape.count == 2, "SparseModelFile: \(info.name) is not a matrix")
            let mask = store.isMasked[s.index] ? UnsafeBufferPointer(start: store.mask(s), count: info.count) : nil
            var crow: [Double] = [0], col: [Double] = [], kept: [Double] = []
            for r in 0..<info.rows {
                for c in 0..<info.columns {
                    let k = r * info.columns + c
                    if mask.map({ $0[k] != 0 }) ?? (values[k] != 0) {
                        col.append(Double(c)); kept.append(Double(values[k]))
                    }
                }
                crow.append(Double(col.count))
            }
            tensors += [NamedTensor(name: info.name + ".crow_indices", shape: [crow.count], scalars: crow),
                        NamedTensor(name: info.name + ".col_indices", shape: [col.count], scalars: col),
                        NamedTensor(name: info.name + ".values", shape: [kept.count], scalars: kept)]
            dtypes[info.name + ".crow_indices"] = .i32
            dtypes[info.name + ".col_indices"] = .i32
            shapes[info.name] = info.shape
        }
        var meta = metadata
        meta["format"] = format
        meta["sparse_shapes"] = String(decoding: try JSONSerialization.data(withJSONObject: shapes, options: [.sortedKeys]), as: UTF8.self)
        if let order { meta[orderKey] = "[" + order.map(String.init).joined(separator: ",") + "]" }
        return try SafeTensors.encode(tensors, dtype: .f32, dtypes: dtypes, metadata: meta, checksum: true)
    }

    /// Whether `metadata` (of a decoded safetensors file) marks a sparse model file.
    public static func isSparse(_ metadata: [String: String]) -> Bool { metadata["format"].map(readableFormats.contains) ?? false }

    /// Loads a decoded sparse model file into `store`: every tensor of the store must be present,
    /// dense with its shape or in CSR form with a valid structure (see the type's description),
    /// with finite values; nothing else may be in the file. Pruned tensors get a mask of their
    /// stored entries. Returns the hidden units' order of the file, if it has one (checked to be a
    /// permutation of 0 ..< `hiddenSize`). Every failure is a `SafeTensorsError` saying what is wrong.
    public static func load(_ tensors: [NamedTensor], metadata: [String: String], into store: ParameterStore<Float>,
                            hiddenSize: Int) throws -> [Int]? {
        func fail(_ why: String) -> SafeTensorsError { SafeTensorsError(description: why) }
        guard isSparse(metadata) else { throw fail("it is not a sparse model file (format \(metadata["format"] ?? "missing"), expected \(format))") }
        var byName: [String: NamedTensor] = [:]
        for t in tensors { byName[t.name] = t }
        var used = Set<String>()
        for s in store.slots {
            let info = store.info(s)
            if let dense = byName[info.name] {
                guard dense.shape == info.shape else { throw fail("\(info.name) has shape \(dense.shape), the model's has \(info.shape)") }
                try copy(dense.scalars, name: info.name, into: store.value(s))
                used.insert(info.name)
                continue
            }
            let parts = [".crow_indices", ".col_indices", ".values"].map { info.name + $0 }
            guard let crow = byName[parts[0]], let col = byName[parts[1]], let kept = byName[parts[2]] else {
                throw fail("it has no tensor \(info.name), dense or in CSR form (\(parts.joined(separator: ", ")))")
            }
            guard info.shape.count == 2 else { throw fail("\(info.name) is stored in CSR form, but the model's is not a matrix (shape \(info.shape))") }
            let rows = info.rows, columns = info.columns
            guard crow.shape == [rows + 1] else { throw fail("\(parts[0]) has shape \(crow.shape); \(info.name) has \(rows) rows, so it needs [\(rows + 1)]") }
            guard col.shape.count == 1, kept.shape == col.shape else {
                throw fail("\(parts[1]) (shape \(col.shape)) and \(parts[2]) (shape \(kept.shape)) must be vectors of one length")
            }
            let count = col.shape[0]
            var offsets: [Int] = []
            for x in crow.scalars {
                guard let i = Int(exactly: x) else { throw fail("\(parts[0]) holds \(x), which is not a row offset") }
                offsets.append(i)
            }
            guard offsets.first == 0, offsets.last == count else {
                throw fail("\(parts[0]) must run from 0 to the \(count) stored entries, runs from \(offsets.first ?? -1) to \(offsets.last ?? -1)")
            }
            let value = store.value(s), mask = store.mask(s)
            value.update(repeating: 0, count: info.count)
            mask.update(repeating: 0, count: info.count)
            for r in 0..<rows {
                let begin = offsets[r], end = offsets[r + 1]
                guard begin <= end, end <= count else { throw fail("\(parts[0]) is not non-decreasing within 0...\(count) at row \(r) (\(begin) then \(end))") }
                var last = -1
                for k in begin..<end {
                    guard let c = Int(exactly: col.scalars[k]), c >= 0, c < columns, c > last else {
                        throw fail("\(parts[1]) holds column \(col.scalars[k]) in row \(r); columns must be integers in 0..<\(columns), increasing within a row")
                    }
                    last = c
                    let x = kept.scalars[k]
                    guard x.isFinite else { throw fail("\(parts[2]) holds \(x) at entry \(k)") }
                    value[r * columns + c] = Float(x)
                    mask[r * columns + c] = 1
                }
            }
            store.enableMask(s)
            used.formUnion(parts)
        }
        if let extra = tensors.first(where: { !used.contains($0.name) }) {
            throw fail("it holds a tensor \(extra.name) that this model does not have")
        }
        guard let text = metadata[orderKey] else { return nil }
        guard let order = try? JSONDecoder().decode([Int].self, from: Data(text.utf8)),
              order.count == hiddenSize, Set(order) == Set(0..<hiddenSize) else {
            throw fail("its \(orderKey) is not a permutation of the model's \(hiddenSize) hidden units")
        }
        return order
    }

    /// Copies finite values into a store's buffer.
    private static func copy(_ scalars: [Double], name: String, into p: UnsafeMutablePointer<Float>) throws {
        for (k, x) in scalars.enumerated() {
            guard x.isFinite else { throw SafeTensorsError(description: "\(name) holds \(x) at element \(k)") }
            p[k] = Float(x)
        }
    }
}
