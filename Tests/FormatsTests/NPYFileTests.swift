// NumPy .npy files: the bytes written are NumPy's format 1.0 exactly, float32 and float64 read
// back, and a shape that overflows or disagrees with the file's size is refused.
import Foundation
import Testing
import Linalg
import Formats

@Suite struct NPYFileTests {
    /// A .npy header with `shape` and `dataBytes` bytes of data.
    static func npy(shape: String, dataBytes: Int) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    @Test func npyShapesThatOverflowOrDisagreeWithTheFileAreRefused() throws {
        #expect(try NPYFile.decode(Self.npy(shape: "(2, 3)", dataBytes: 24)).count == 6)
        for (shape, bytes, words) in [
            ("(4611686018427387904, 4)", 16, "needs more than"), ("(2305843009213693952, 2)", 0, "needs more than"),
            ("(9223372036854775807, 9223372036854775807)", 0, "needs more than"), ("(-2, -3)", 24, "negative"),
            ("(2, 3)", 20, "needs 24 bytes"), ("(2, x)", 0, "2-D"), ("(6,)", 24, "2-D")
        ] {
            #expect { try NPYFile.decode(Self.npy(shape: shape, dataBytes: bytes)) } throws: {
                "\($0)".contains(words)
            }
        }
    }

    /// The bytes of a 2 x 3 matrix, written out by hand from the format's description: magic,
    /// version 1.0, header length 118 (little-endian), the header padded with spaces to a data
    /// start of 128, then the float32 values little-endian.
    @Test func theBytesAreNumPysFormat() throws {
        let m = Matrix<Double>(rows: 2, columns: 3, scalars: [1, -2, 0.5, 0, 3, 1e-3])
        let data = NPYFile.encode(m)
        var expected: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0]
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        expected += Array(header.utf8) + [UInt8](repeating: 0x20, count: 118 - 1 - header.utf8.count) + [0x0A]
        for x in m.scalars { withUnsafeBytes(of: Float(x).bitPattern.littleEndian) { expected += $0 } }
        #expect([UInt8](data) == expected)
        #expect(try NPYFile.decode(data).scalars == m.scalars.map(Float.init))
        let doubles = try NPYFile.decodeDoubles(data)
        #expect(
            doubles.rows == 2 && doubles.columns == 3 && doubles.dtype == "<f4" && doubles.values == m.scalars.map { Double(Float($0)) })
    }

    /// A float64 file (as NumPy writes one) reads as Doubles, exactly; `decode` (float32 only) refuses it.
    @Test func float64FilesReadAsDoubles() throws {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
        data.append(contentsOf: Array(header.utf8))
        for x in [0.1, -1e300] { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        let back = try NPYFile.decodeDoubles(data)
        #expect(back.values == [0.1, -1e300] && back.dtype == "<f8")
        #expect { try NPYFile.decode(data) } throws: { "\($0)".contains("'<f4' (float32)") }
    }
}
