// The sparse model file's format: pruned matrices as torch.sparse_csr_tensor parts (I32 offsets and
// columns, F32 values), and every malformed or mismatched file an error that says what is wrong,
// never a crash.
import Foundation
import Testing
import Linalg
@testable import Formats

@Suite struct SparseModelFileTests {
    /// A 5 x 4 matrix `w` (rows 2 and 3 empty) and a 1 x 3 `r` in CSR form, a dense bias `b`; the
    /// values are exact in Float.
    static let model: [(name: String, shape: [Int])] = [("w", [5, 4]), ("b", [5]), ("r", [1, 3])]
    static let tensors: [SparseModelFile.Tensor] = [
        .csr(
            .init(
                name: "w", rows: 5, columns: 4, rowOffsets: [0, 2, 5, 5, 5, 7], columnIndices: [0, 3, 1, 2, 3, 0, 3],
                values: [0.5, -1, 2, 0.25, -0.75, 3, 1.5])),
        .dense(NamedTensor(name: "b", shape: [5], scalars: [1, 2, 3, 4, 5])),
        .csr(.init(name: "r", rows: 1, columns: 3, rowOffsets: [0, 1], columnIndices: [1], values: [0.125]))
    ]

    static func decoded(_ data: Data) throws -> ([NamedTensor], [String: String]) {
        let d = try SafeTensors.decode(data)
        return (d.tensors, d.metadata)
    }

    @Test func theLayoutIsTorchsCSRAndReadsBack() throws {
        let data = try SparseModelFile.encode(Self.tensors, order: [2, 0, 1, 3, 4], metadata: ["task": "t"])
        let (tensors, metadata) = try Self.decoded(data)
        #expect(
            Set(tensors.map(\.name)) == ["w.crow_indices", "w.col_indices", "w.values", "b", "r.crow_indices", "r.col_indices", "r.values"])
        #expect(tensors.first { $0.name == "w.crow_indices" }?.scalars == [0, 2, 5, 5, 5, 7])
        #expect(tensors.first { $0.name == "w.col_indices" }?.scalars == [0, 3, 1, 2, 3, 0, 3])
        #expect(metadata["sparse_shapes"] == "{\"r\":[1,3],\"w\":[5,4]}" && metadata["format"] == "moduli-sparse-csr-2")
        #expect(
            metadata["neuron_order"] == "[2,0,1,3,4]" && metadata["task"] == "t" && SafeTensors.checksumCoverage(metadata) == .wholeFile)
        let headerLength = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16
        let header = String(decoding: data[8..<(8 + headerLength)], as: UTF8.self)
        #expect(
            header.contains(#""w.crow_indices":{"data_offsets":"#) && header.components(separatedBy: #""dtype":"I32""#).count == 5,
            "\(header)")
        let back = try SparseModelFile.decode(tensors, metadata: metadata, model: Self.model, hiddenSize: 5)
        #expect(back.tensors == Self.tensors && back.order == [2, 0, 1, 3, 4])
    }

    /// The file's bytes, written out by hand from the format's description: the header (compact
    /// JSON, keys sorted, padded with spaces to 8 bytes) and the parts in the model's order.
    @Test func theBytesAreTheDocumentedLayout() throws {
        let data = try SparseModelFile.encode(Self.tensors)
        let checksum = try #require(try SafeTensors.decode(data).metadata["checksum"])
        #expect(checksum == (try FileChecksumTests.documentedChecksum(data)))
        func entry(_ name: String, _ dtype: String, _ shape: Int, _ from: Int, _ to: Int) -> String {
            #""\#(name)":{"data_offsets":[\#(from),\#(to)],"dtype":"\#(dtype)","shape":[\#(shape)]}"#
        }
        var header =
            #"{"__metadata__":{"checksum":""# + checksum
            + #"","format":"moduli-sparse-csr-2","sparse_shapes":"{\"r\":[1,3],\"w\":[5,4]}"},"#
        header +=
            [
                entry("b", "F32", 5, 80, 100), entry("r.col_indices", "I32", 1, 108, 112), entry("r.crow_indices", "I32", 2, 100, 108),
                entry("r.values", "F32", 1, 112, 116), entry("w.col_indices", "I32", 7, 24, 52), entry("w.crow_indices", "I32", 6, 0, 24),
                entry("w.values", "F32", 7, 52, 80)
            ].joined(separator: ",") + "}"
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var expected: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { expected += $0 }
        expected += json
        func int32(_ xs: [Int32]) { for x in xs { withUnsafeBytes(of: x.littleEndian) { expected += $0 } } }
        func float(_ xs: [Float]) { for x in xs { withUnsafeBytes(of: x.bitPattern.littleEndian) { expected += $0 } } }
        int32([0, 2, 5, 5, 5, 7]); int32([0, 3, 1, 2, 3, 0, 3]); float([0.5, -1, 2, 0.25, -0.75, 3, 1.5])
        float([1, 2, 3, 4, 5])
        int32([0, 1]); int32([1]); float([0.125])
        #expect([UInt8](data) == expected, "\(String(decoding: data.prefix(8 + json.count), as: UTF8.self))")
    }

    /// A CSR matrix from a dense one keeps exactly the entries asked for, row by row.
    @Test func aCSRMatrixFromADenseOne() {
        let dense: [Float] = [1, 0, 2, 0, 0, 0, 3, 4]
        let m = dense.withUnsafeBufferPointer { SparseModelFile.CSRMatrix(name: "m", rows: 2, columns: 4, dense: $0) { dense[$0] != 0 } }
        #expect(m.rowOffsets == [0, 2, 4] && m.columnIndices == [0, 2, 2, 3] && m.values == [1, 2, 3, 4])
    }

    /// Each change of a valid file's tensors or metadata, and the words its error must contain.
    @Test func malformedFilesAreErrors() throws {
        let (good, meta) = try Self.decoded(try SparseModelFile.encode(Self.tensors, order: [0, 1, 2, 3, 4]))
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
            (changed("b", [1, 2, .infinity, 4, 5]), meta, "b holds inf at element 2"),
            (good.filter { $0.name != "w.values" }, meta, "no tensor w"),
            (good + [NamedTensor(name: "x", shape: [1], scalars: [0])], meta, "does not have"),
            (good, meta.merging(["neuron_order": "[0,1,1,3,4]"]) { $1 }, "permutation"),
            (good, meta.merging(["neuron_order": "[0,1,2]"]) { $1 }, "permutation"),
            (good, meta.merging(["format": "other"]) { $1 }, "not a sparse model file")
        ]
        for (tensors, metadata, words) in cases {
            #expect { try SparseModelFile.decode(tensors, metadata: metadata, model: Self.model, hiddenSize: 5) } throws: { error in
                let text = (error as? SafeTensorsError)?.description ?? "\(error)"
                return text.contains(words)
                    || {
                        Issue.record("\(words): \(text)"); return true
                    }()
            }
        }
        // A matrix of the model in CSR form for a model whose tensor is no matrix.
        #expect {
            try SparseModelFile.decode(good, metadata: meta, model: [("w", [20]), ("b", [5]), ("r", [1, 3])], hiddenSize: 5)
        } throws: {
            "\($0)".contains("not a matrix")
        }
    }
}
