// NumPy .npy files (format version 1.0) of float32 matrices: how R is written for inspection, and
// float32 or float64 matrices read as Doubles (point clouds, distance matrices).
// Reference: the NumPy format specification (numpy.lib.format, "NEP 1").
import Foundation
import Linalg

/// Reading and writing 2-D little-endian float32 arrays in NumPy's `.npy` format, version 1.0.
///
/// Layout: the 6 magic bytes `\x93NUMPY`, version bytes `1 0`, a little-endian UInt16 header
/// length, then an ASCII header `{'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }`
/// padded with spaces and ended by `\n` so that the data starts at a multiple of 64 bytes, then
/// the R * C float32 values in row-major (C) order. `numpy.load("R.npy")` reads it.
public enum NPYFile {
    /// Why a file could not be read.
    public struct FormatError: Error, CustomStringConvertible {
        /// What is wrong.
        public let description: String
    }

    /// The bytes of a `.npy` file holding `matrix` as float32.
    public static func encode<S: BLASScalar>(_ matrix: Matrix<S>) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(matrix.rows), \(matrix.columns)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        var bytes = [UInt8](repeating: 0, count: matrix.count * 4)
        for (i, v) in matrix.scalars.enumerated() {
            let bits = Float(v).bitPattern
            bytes[4 * i] = UInt8(bits & 0xFF)
            bytes[4 * i + 1] = UInt8((bits >> 8) & 0xFF)
            bytes[4 * i + 2] = UInt8((bits >> 16) & 0xFF)
            bytes[4 * i + 3] = UInt8(bits >> 24)
        }
        data.append(contentsOf: bytes)
        return data
    }

    /// Writes `matrix` as float32 to `url` (atomically).
    public static func write<S: BLASScalar>(_ matrix: Matrix<S>, to url: URL) throws {
        try encode(matrix).write(to: url, options: .atomic)
    }

    /// Decodes a 2-D little-endian float32 C-order `.npy` (version 1.0 or 2.0).
    public static func decode(_ data: Data) throws -> Matrix<Float> {
        let bytes = [UInt8](data)
        let layout = try parse(bytes, accepting: ["<f4"])
        var scalars = [Float](repeating: 0, count: layout.count)
        for i in 0..<layout.count {
            let o = layout.start + 4 * i
            let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            scalars[i] = Float(bitPattern: bits)
        }
        return Matrix(rows: layout.rows, columns: layout.columns, scalars: scalars)
    }

    /// A 2-D array of `.npy` data as Doubles.
    public struct DoubleArray: Sendable {
        /// Rows and columns of the array.
        public var rows: Int, columns: Int
        /// The entries, row-major.
        public var values: [Double]
        /// The stored type: `<f4` (float32) or `<f8` (float64).
        public var dtype: String
    }

    /// Decodes a 2-D little-endian float32 or float64 C-order `.npy` (version 1.0 or 2.0) as Doubles.
    public static func decodeDoubles(_ data: Data) throws -> DoubleArray {
        let bytes = [UInt8](data)
        let layout = try parse(bytes, accepting: ["<f4", "<f8"])
        var values = [Double](repeating: 0, count: layout.count)
        if layout.dtype == "<f4" {
            for i in 0..<layout.count {
                let o = layout.start + 4 * i
                let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                values[i] = Double(Float(bitPattern: bits))
            }
        } else {
            for i in 0..<layout.count {
                let o = layout.start + 8 * i
                var bits: UInt64 = 0
                for k in 0..<8 { bits |= UInt64(bytes[o + k]) << (8 * k) }
                values[i] = Double(bitPattern: bits)
            }
        }
        return DoubleArray(rows: layout.rows, columns: layout.columns, values: values, dtype: layout.dtype)
    }

    /// The header of a 2-D C-order `.npy` of one of the `accepted` dtypes, checked against the
    /// bytes the file has: its shape, dtype and where its data starts.
    private static func parse(_ bytes: [UInt8], accepting accepted: [String]) throws
        -> (rows: Int, columns: Int, count: Int, start: Int, dtype: String)
    {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw FormatError(description: "not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2:
            guard bytes.count >= 12 else { throw FormatError(description: "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default: throw FormatError(description: ".npy version \(major) is not supported")
        }
        guard bytes.count >= headerStart + headerLength,
            let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .ascii)
        else {
            throw FormatError(description: "truncated .npy header")
        }
        guard let dtype = accepted.first(where: { header.contains("'\($0)'") }) else {
            let names = accepted.map { "'\($0)'" + ($0 == "<f4" ? " (float32)" : " (float64)") }.joined(separator: " or ")
            throw FormatError(description: "only \(names) data is supported: \(header)")
        }
        guard header.contains("'fortran_order': False") else { throw FormatError(description: "only C order is supported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw FormatError(description: "no shape in .npy header: \(header)")
        }
        let shapeText = header[open.upperBound..<close]
        let parts = shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let dims = parts.compactMap { Int($0) }
        guard dims.count == parts.count, dims.count == 2 else {
            throw FormatError(description: "expected a 2-D array, got shape (\(shapeText))")
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw FormatError(description: "the shape (\(shapeText)) has a negative dimension") }
        // The declared size, in checked arithmetic, against the bytes the file has.
        let width = dtype == "<f8" ? 8 : 4, typeName = dtype == "<f8" ? "float64" : "float32"
        let start = headerStart + headerLength, dataBytes = bytes.count - start
        let (count, overflow) = dims[0].multipliedReportingOverflow(by: dims[1])
        let (needed, overflow2) = count.multipliedReportingOverflow(by: width)
        guard !overflow, !overflow2, needed == dataBytes else {
            throw FormatError(
                description:
                    """
                    its shape (\(dims[0]), \(dims[1])) needs \(overflow || overflow2 ? "more than \(Int.max)" : String(needed)) bytes \
                    of \(typeName) data, the file has \(dataBytes)
                    """
            )
        }
        return (dims[0], dims[1], count, start, dtype)
    }

    /// Reads a matrix written by `write` (or by NumPy as a 2-D float32 array) of at most
    /// `maximumBytes` (checked before reading).
    public static func read(from url: URL, maximumBytes: Int = 1 << 32) throws -> Matrix<Float> {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumBytes else {
            throw FormatError(description: "\(url.path) has \(size) bytes, more than the \(maximumBytes) read")
        }
        return try decode(Data(contentsOf: url))
    }
}
