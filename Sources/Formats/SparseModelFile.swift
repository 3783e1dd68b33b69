// The sparse model file: a safetensors file in which every pruned tensor is stored in CSR form under
// PyTorch's names for the parts of a torch.sparse_csr_tensor, so that a 90%-sparse model file is
// several times smaller than the dense one and loads in PyTorch with a few lines (Tools/).
import Foundation

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
///
/// This type holds the format; NN binds it to a `ParameterStore` (`encode(_:sparse:order:metadata:)`
/// and `load(_:metadata:into:hiddenSize:)`).
public enum SparseModelFile {
    /// The `format` metadata value this version writes.
    public static let format = "moduli-sparse-csr-2"
    /// The formats `load` reads.
    public static let readableFormats: Set<String> = ["moduli-sparse-csr-1", "moduli-sparse-csr-2"]
    /// The metadata key of the hidden units' order.
    public static let orderKey = "neuron_order"

    /// A matrix in CSR form: row r's entries are `rowOffsets[r] ..< rowOffsets[r + 1]` of
    /// `columnIndices` and `values`, columns increasing within a row.
    public struct CSRMatrix: Sendable, Equatable {
        /// The tensor's name (its parts are `name.crow_indices`, `name.col_indices`, `name.values`).
        public var name: String
        /// Rows and columns of the dense matrix.
        public var rows: Int, columns: Int
        /// rows + 1 offsets, from 0 to the stored count, non-decreasing.
        public var rowOffsets: [Int]
        /// The stored entries' columns.
        public var columnIndices: [Int]
        /// The stored entries' values.
        public var values: [Double]

        /// A matrix from its parts (`decode` checks the parts of a file; these are trusted).
        public init(name: String, rows: Int, columns: Int, rowOffsets: [Int], columnIndices: [Int], values: [Double]) {
            self.name = name; self.rows = rows; self.columns = columns
            self.rowOffsets = rowOffsets; self.columnIndices = columnIndices; self.values = values
        }

        /// The entries of the row-major `rows` x `columns` matrix `dense` whose index `keeps` accepts.
        public init(name: String, rows: Int, columns: Int, dense: UnsafeBufferPointer<Float>, keeps: (Int) -> Bool) {
            precondition(dense.count == rows * columns, "CSRMatrix \(name): \(dense.count) values for \(rows) x \(columns)")
            var offsets = [0], columnIndices: [Int] = [], values: [Double] = []
            for r in 0..<rows {
                for c in 0..<columns where keeps(r * columns + c) {
                    columnIndices.append(c); values.append(Double(dense[r * columns + c]))
                }
                offsets.append(columnIndices.count)
            }
            self.init(name: name, rows: rows, columns: columns, rowOffsets: offsets, columnIndices: columnIndices, values: values)
        }
    }

    /// One tensor of a model in the file: dense under its name, or a matrix in CSR form.
    public enum Tensor: Sendable, Equatable {
        case dense(NamedTensor)
        case csr(CSRMatrix)
    }

    /// The file's bytes: `tensors` in order (each CSR matrix as its three parts), with `metadata`,
    /// the hidden units' `order` if given, and a checksum of the whole file.
    public static func encode(_ tensors: [Tensor], order: [Int]? = nil, metadata: [String: String] = [:]) throws -> Data {
        var named: [NamedTensor] = [], dtypes: [String: SafeTensorsDType] = [:], shapes: [String: [Int]] = [:]
        for t in tensors {
            switch t {
            case .dense(let d):
                named.append(d)
            case .csr(let m):
                let parts = parts(of: m.name)
                named += [
                    NamedTensor(name: parts.crow, shape: [m.rowOffsets.count], scalars: m.rowOffsets.map(Double.init)),
                    NamedTensor(name: parts.col, shape: [m.columnIndices.count], scalars: m.columnIndices.map(Double.init)),
                    NamedTensor(name: parts.values, shape: [m.values.count], scalars: m.values)
                ]
                dtypes[parts.crow] = .i32
                dtypes[parts.col] = .i32
                shapes[m.name] = [m.rows, m.columns]
            }
        }
        var meta = metadata
        meta["format"] = format
        meta["sparse_shapes"] = String(decoding: try JSONSerialization.data(withJSONObject: shapes, options: [.sortedKeys]), as: UTF8.self)
        if let order { meta[orderKey] = "[" + order.map(String.init).joined(separator: ",") + "]" }
        return try SafeTensors.encode(named, dtype: .f32, dtypes: dtypes, metadata: meta, checksum: true)
    }

    /// The names of a CSR matrix's three parts.
    public static func parts(of name: String) -> (crow: String, col: String, values: String) {
        (name + ".crow_indices", name + ".col_indices", name + ".values")
    }

    /// Whether `metadata` (of a decoded safetensors file) marks a sparse model file.
    public static func isSparse(_ metadata: [String: String]) -> Bool { metadata["format"].map(readableFormats.contains) ?? false }

    /// The tensors of a decoded sparse model file for a model whose tensors are `model` (names and
    /// shapes, in order), one for each: dense with its shape or in CSR form with a valid structure
    /// (see the type's description), with finite values; nothing else may be in the file. Also
    /// the hidden units' order of the file, if it has one (checked to be a permutation of
    /// 0 ..< `hiddenSize`). Every failure is a `SafeTensorsError` saying what is wrong.
    public static func decode(
        _ tensors: [NamedTensor], metadata: [String: String], model: [(name: String, shape: [Int])],
        hiddenSize: Int
    ) throws -> (tensors: [Tensor], order: [Int]?) {
        func fail(_ why: String) -> SafeTensorsError { SafeTensorsError(description: why) }
        guard isSparse(metadata) else {
            throw fail("it is not a sparse model file (format \(metadata["format"] ?? "missing"), expected \(format))")
        }
        var byName: [String: NamedTensor] = [:]
        for t in tensors { byName[t.name] = t }
        var used = Set<String>()
        var out: [Tensor] = []
        for (name, shape) in model {
            if let dense = byName[name] {
                guard dense.shape == shape else { throw fail("\(name) has shape \(dense.shape), the model's has \(shape)") }
                for (k, x) in dense.scalars.enumerated() where !x.isFinite { throw fail("\(name) holds \(x) at element \(k)") }
                out.append(.dense(dense))
                used.insert(name)
                continue
            }
            let names = parts(of: name), partList = [names.crow, names.col, names.values]
            guard let crow = byName[names.crow], let col = byName[names.col], let kept = byName[names.values] else {
                throw fail("it has no tensor \(name), dense or in CSR form (\(partList.joined(separator: ", ")))")
            }
            guard shape.count == 2 else { throw fail("\(name) is stored in CSR form, but the model's is not a matrix (shape \(shape))") }
            let rows = shape[0], columns = shape[1]
            guard crow.shape == [rows + 1] else {
                throw fail("\(names.crow) has shape \(crow.shape); \(name) has \(rows) rows, so it needs [\(rows + 1)]")
            }
            guard col.shape.count == 1, kept.shape == col.shape else {
                throw fail("\(names.col) (shape \(col.shape)) and \(names.values) (shape \(kept.shape)) must be vectors of one length")
            }
            let count = col.shape[0]
            var offsets: [Int] = []
            for x in crow.scalars {
                guard let i = Int(exactly: x) else { throw fail("\(names.crow) holds \(x), which is not a row offset") }
                offsets.append(i)
            }
            guard offsets.first == 0, offsets.last == count else {
                throw fail(
                    """
                    \(names.crow) must run from 0 to the \(count) stored entries, runs from \(offsets.first ?? -1) to \
                    \(offsets.last ?? -1)
                    """
                )
            }
            var columnIndices = [Int](repeating: 0, count: count)
            for r in 0..<rows {
                let begin = offsets[r], end = offsets[r + 1]
                guard begin <= end, end <= count else {
                    throw fail("\(names.crow) is not non-decreasing within 0...\(count) at row \(r) (\(begin) then \(end))")
                }
                var last = -1
                for k in begin..<end {
                    guard let c = Int(exactly: col.scalars[k]), c >= 0, c < columns, c > last else {
                        throw fail(
                            """
                            \(names.col) holds column \(col.scalars[k]) in row \(r); columns must be integers in 0..<\(columns), \
                            increasing within a row
                            """
                        )
                    }
                    last = c
                    let x = kept.scalars[k]
                    guard x.isFinite else { throw fail("\(names.values) holds \(x) at entry \(k)") }
                    columnIndices[k] = c
                }
            }
            out.append(
                .csr(
                    CSRMatrix(
                        name: name, rows: rows, columns: columns, rowOffsets: offsets, columnIndices: columnIndices, values: kept.scalars)))
            used.formUnion(partList)
        }
        if let extra = tensors.first(where: { !used.contains($0.name) }) {
            throw fail("it holds a tensor \(extra.name) that this model does not have")
        }
        guard let text = metadata[orderKey] else { return (out, nil) }
        guard let order = try? JSONDecoder().decode([Int].self, from: Data(text.utf8)),
            order.count == hiddenSize, Set(order) == Set(0..<hiddenSize)
        else {
            throw fail("its \(orderKey) is not a permutation of the model's \(hiddenSize) hidden units")
        }
        return (out, order)
    }
}
