// Reading and writing the safetensors format, so that models load in PyTorch unchanged.
// Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Reference: the safetensors format specification.
import Foundation
import Linalg

/// One tensor read from or written to a safetensors file.
public struct NamedTensor: Sendable, Equatable {
    /// Tensor name (PyTorch state_dict key).
    public var name: String
    /// Shape.
    public var shape: [Int]
    /// Elements in row-major order, widened to Double (F32 and F64 files both read exactly).
    public var scalars: [Double]

    /// A tensor from its parts.
    public init(name: String, shape: [Int], scalars: [Double]) {
        precondition(shape.reduce(1, *) == scalars.count, "Tensor \(name): shape \(shape) does not match \(scalars.count) elements")
        self.name = name; self.shape = shape; self.scalars = scalars
    }
}

/// The element type written to a file.
public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32"
    case f64 = "F64"
}

/// Errors reading a safetensors file.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Encoding and decoding of safetensors files.
public enum SafeTensors {
    /// The bytes of a safetensors file holding `tensors` (in order) with string `metadata`.
    public static func encode(_ tensors: [NamedTensor], dtype: SafeTensorsDType = .f32, metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let width = dtype == .f32 ? 4 : 8
        for t in tensors {
            let bytes = t.scalars.count * width
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for t in tensors {
            switch dtype {
            case .f32:
                let v = t.scalars.map { Float($0).bitPattern.littleEndian }
                v.withUnsafeBytes { data.append(contentsOf: $0) }
            case .f64:
                let v = t.scalars.map { $0.bitPattern.littleEndian }
                v.withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// The tensors (sorted by data offset) and metadata of a safetensors file's bytes.
    public static func decode(_ data: Data) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        func fail(_ why: String) -> SafeTensorsError { SafeTensorsError(description: "Not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw fail("shorter than 8 bytes") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("header length \(headerLength) exceeds the file") }
        let start = data.startIndex
        let headerData = data[(start + 8)..<(start + 8 + Int(headerLength))]
        guard let header = try JSONSerialization.jsonObject(with: headerData) as? [String: Any] else { throw fail("header is not a JSON object") }
        let body = start + 8 + Int(headerLength)
        var metadata: [String: String] = [:]
        var found: [(Int, NamedTensor)] = []
        for (name, value) in header {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("entry \(name) lacks dtype, shape or data_offsets") }
            let count = shape.reduce(1, *)
            let width: Int
            switch dtype { case "F32": width = 4; case "F64": width = 8; default: throw fail("tensor \(name) has unsupported dtype \(dtype)") }
            guard offsets[1] - offsets[0] == count * width, offsets[0] >= 0, body + offsets[1] <= data.endIndex
            else { throw fail("tensor \(name) has inconsistent offsets") }
            let bytes = data[(body + offsets[0])..<(body + offsets[1])]
            var scalars = [Double](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    if width == 4 {
                        scalars[i] = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                    } else {
                        scalars[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                    }
                }
            }
            found.append((offsets[0], NamedTensor(name: name, shape: shape, scalars: scalars)))
        }
        return (found.sorted { $0.0 < $1.0 }.map(\.1), metadata)
    }
}

extension ParameterStore {
    /// Every tensor's values under its PyTorch name (a `state_dict`).
    public func namedValues() -> [NamedTensor] {
        slots.map { s in
            NamedTensor(name: info(s).name, shape: info(s).shape,
                        scalars: UnsafeBufferPointer(start: value(s), count: info(s).count).map(Double.init))
        }
    }

    /// Loads values by name; every tensor of the store must be present with the same shape.
    public func load(_ tensors: [NamedTensor]) throws {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for s in slots {
            let i = info(s)
            guard let t = byName[i.name] else { throw SafeTensorsError(description: "The file has no tensor \(i.name)") }
            guard t.shape == i.shape else { throw SafeTensorsError(description: "Tensor \(i.name) has shape \(t.shape) in the file, \(i.shape) in the model") }
            let p = value(s)
            for k in 0..<i.count { p[k] = Scalar(t.scalars[k]) }
        }
    }
}
