// Reading and writing the safetensors format, so that models load in PyTorch unchanged.
// Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Reference: the safetensors format specification.
// The header is read by the package's one JSON reader (`OrderedJSON`) under this format's limits.
import Foundation

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

/// The element type of a tensor in a file. Integer tensors (indices of a sparse tensor) are read
/// into Double exactly: I64 values beyond 2^53 are refused.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f64 = "F64"
    case i32 = "I32"
    case i64 = "I64"

    /// Bytes per element.
    public var width: Int { self == .f32 || self == .i32 ? 4 : 8 }
}

/// Errors reading a safetensors file.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, in words.
    public let description: String
    /// An error with a message.
    public init(description: String) { self.description = description }
}

/// Encoding and decoding of safetensors files.
///
/// `decode` treats its input as untrusted: every malformed header, shape or offset is a
/// `SafeTensorsError`, never a crash, and the tensors must tile the data section exactly.
///
/// Checksums. `encode(..., checksum: true)` stores in the metadata `checksum` =
/// "fnv1a64-file:<16 lowercase hex digits>": the 64-bit FNV-1a hash (offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3, each byte XORed in, then multiplied) of every byte of
/// the file, from the 8-byte length to the last data byte, with the 16 hex digits of the checksum
/// itself read as the ASCII digit '0'. The header is compact JSON, so it holds the checksum as the
/// exact bytes `"checksum":"fnv1a64-file:` followed by the digits and `"`; a checker finds that
/// sequence (exactly once) in the header, zeroes the 16 digits and hashes the whole file, e.g. in
/// Python (Tools/verify_checksum.py does this):
///
///     raw = open(path, "rb").read(); n = int.from_bytes(raw[:8], "little")
///     stored = json.loads(raw[8:8 + n])["__metadata__"]["checksum"]
///     marker = b'"checksum":"' + stored.encode() + b'"'; at = raw.index(marker, 8, 8 + n)
///     digits = at + len(marker) - 17; blank = raw[:digits] + b"0" * 16 + raw[digits + 16:]
///     h = 0xcbf29ce484222325
///     for b in blank: h = ((h ^ b) * 0x100000001b3) % 2**64
///     assert stored == "fnv1a64-file:%016x" % h
///
/// So every byte of the header (dtypes, shapes, offsets, metadata such as a trainer state) and of
/// the data is covered, and the file stays a plain safetensors file that any reader loads. Files of
/// earlier moduli versions carry "fnv1a64:<hex>", the same hash of the data section alone; `decode`
/// still verifies those, and `checksumCoverage` tells callers which kind a file had.
public enum SafeTensors {
    /// The metadata key under which `encode(..., checksum: true)` stores the file's hash.
    public static let checksumKey = "checksum"
    /// The largest header `decode` accepts, in bytes (the reference implementation's limit).
    public static let maximumHeaderLength = 100_000_000
    /// The most tensors `decode` accepts in one file.
    public static let maximumTensorCount = 1_000_000
    /// How `decode` reads the header: arrays and objects nested at most 16 deep, at most
    /// `maximumHeaderLength` bytes, no byte-order mark.
    public static let headerLimits = OrderedJSON.Limits(maximumDepth: 16, maximumBytes: maximumHeaderLength, allowsByteOrderMark: false)

    /// What a file's checksum covers.
    public enum ChecksumCoverage: Sendable, Equatable {
        /// No checksum.
        case none
        /// The data section only ("fnv1a64:", as earlier versions wrote it): the header is unchecked.
        case dataOnly
        /// Every byte of the file ("fnv1a64-file:").
        case wholeFile
    }

    /// What the checksum in `metadata` (of a file `decode` accepted, so verified) covers.
    public static func checksumCoverage(_ metadata: [String: String]) -> ChecksumCoverage {
        guard let stored = metadata[checksumKey] else { return .none }
        return stored.hasPrefix(fileHashPrefix) ? .wholeFile : .dataOnly
    }

    /// The bytes of a safetensors file holding `tensors` (in order) with string `metadata`.
    /// With `checksum`, the metadata also holds `checksum`, the hash of the whole file (see the
    /// type's description), which `decode` verifies. `dtypes` gives some tensors another element
    /// type than `dtype` (the indices of sparse tensors as I32 or I64: their values must be
    /// integers in range).
    public static func encode(
        _ tensors: [NamedTensor], dtype: SafeTensorsDType = .f32, dtypes: [String: SafeTensorsDType] = [:],
        metadata: [String: String] = [:], checksum: Bool = false
    ) throws -> Data {
        try encode(tensors, dtype: dtype, dtypes: dtypes, metadata: metadata, coverage: checksum ? .wholeFile : .none)
    }

    /// `encode` with a checksum of the given coverage (tests write the data-only checksum of
    /// earlier versions with `.dataOnly`).
    package static func encode(
        _ tensors: [NamedTensor], dtype: SafeTensorsDType = .f32, dtypes: [String: SafeTensorsDType] = [:],
        metadata: [String: String] = [:], coverage: ChecksumCoverage
    ) throws -> Data {
        var body = Data(capacity: tensors.reduce(0) { $0 + $1.scalars.count * (dtypes[$1.name] ?? dtype).width })
        var entries: [String: Any] = [:]
        for t in tensors {
            guard entries[t.name] == nil, t.name != "__metadata__" else {
                throw SafeTensorsError(description: "Cannot write two tensors named \(t.name) into one safetensors file")
            }
            let type = dtypes[t.name] ?? dtype
            let begin = body.count
            func integers<I: FixedWidthInteger>(_: I.Type) throws -> [I] {
                try t.scalars.map { x in
                    guard let i = I(exactly: x) else {
                        throw SafeTensorsError(description: "Tensor \(t.name) holds \(x), which is not an \(type.rawValue) integer")
                    }
                    return i.littleEndian
                }
            }
            switch type {
            case .f32:
                let v = t.scalars.map { Float($0).bitPattern.littleEndian }
                v.withUnsafeBytes { body.append(contentsOf: $0) }
            case .f64:
                let v = t.scalars.map { $0.bitPattern.littleEndian }
                v.withUnsafeBytes { body.append(contentsOf: $0) }
            case .i32:
                try integers(Int32.self).withUnsafeBytes { body.append(contentsOf: $0) }
            case .i64:
                try integers(Int64.self).withUnsafeBytes { body.append(contentsOf: $0) }
            }
            entries[t.name] = ["dtype": type.rawValue, "shape": t.shape, "data_offsets": [begin, body.count]] as [String: Any]
        }
        var meta = metadata
        switch coverage {
        case .none: meta[checksumKey] = nil
        case .dataOnly: meta[checksumKey] = dataHashPrefix + hexDigits(fnv1a64(body))
        case .wholeFile: meta[checksumKey] = fileHashPrefix + String(repeating: "0", count: 16)
        }
        if !meta.isEmpty { entries["__metadata__"] = meta }
        var json = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
        var data = Data(capacity: 8 + json.count + body.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(body)
        if coverage == .wholeFile {
            let marker = checksumMarker(meta[checksumKey] ?? "")
            guard let digits = uniqueDigitsOffset(of: marker, in: data, headerEnd: 8 + json.count) else {
                throw SafeTensorsError(
                    description:
                        "Cannot write the checksum: the header does not hold it as \(String(decoding: marker, as: UTF8.self)) exactly once")
            }
            let text = Array(hexDigits(fileHash(data, digitsAt: digits)).utf8)
            for k in 0..<16 { data[data.startIndex + digits + k] = text[k] }
        }
        return data
    }

    /// The tensors (sorted by data offset) and metadata of a safetensors file's bytes.
    ///
    /// Checks: the header length fits the file; the header is one strict JSON object (`OrderedJSON`
    /// within `headerLimits`: no key twice in any object, no number beyond a Double, a syntax
    /// error placed by its byte in the file, line, column and key); `__metadata__` maps strings to
    /// strings; every tensor has a supported dtype, a shape of non-negative integers whose byte
    /// size does not overflow, and `data_offsets` [begin, end] with begin <= end spanning exactly
    /// that size; the tensors, in offset order, tile the data section from its first byte to its
    /// last with neither gap nor overlap; a `checksum` in the metadata matches the data section.
    public static func decode(_ data: Data) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        try decode(data, maximumTensorCount: maximumTensorCount)
    }

    /// `decode` with another limit on the number of tensors (tests use a small one).
    package static func decode(_ data: Data, maximumTensorCount: Int) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        func fail(_ why: String) -> SafeTensorsError { SafeTensorsError(description: "Not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw fail("shorter than 8 bytes") }
        let start = data.startIndex
        var headerLength: UInt64 = 0
        for k in 0..<8 { headerLength |= UInt64(data[start + k]) << (8 * UInt64(k)) }
        guard headerLength <= UInt64(maximumHeaderLength) else {
            throw fail("header length \(headerLength) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) exceeds the \(data.count - 8) bytes after the length field")
        }
        let headerEnd = start + 8 + Int(headerLength)
        let header: OrderedJSON.Located
        do {
            header = try OrderedJSON.parseLocating(data[(start + 8)..<headerEnd], limits: headerLimits, placingKeys: false)
        } catch let e as OrderedJSON.SyntaxError {
            throw fail(
                "header: \(e.what), at byte \(8 + e.offset) of the file (line \(e.line), column \(e.column) of the header"
                    + (e.keyPath.isEmpty ? ")" : ", in \(e.keyPath))"))
        }
        guard case .object(let fields) = header.value else { throw fail("the header is not a JSON object") }
        // Shapes and offsets are read from their digits, exactly (a Double holds integers only to
        // 2^53); `first` is the index in `header.numbers` (file order) of the first number of `value`.
        func nonNegativeIntegers(_ value: OrderedJSON, first: Int) -> [Int]? {
            guard case .array(let items) = value else { return nil }
            var out: [Int] = []
            for (k, item) in items.enumerated() {
                guard case .number = item, header.numbers.indices.contains(first + k) else { return nil }
                let bytes = header.numbers[first + k].bytes
                guard
                    let n = OrderedJSON.integer(literal: ArraySlice(data[(start + 8 + bytes.lowerBound)..<(start + 8 + bytes.upperBound)])),
                    n >= 0
                else { return nil }
                out.append(n)
            }
            return out
        }

        var metadata: [String: String] = [:]
        for (name, value) in fields where name == "__metadata__" {
            guard case .object(let pairs) = value else { throw fail("__metadata__ is not an object of strings") }
            for (key, v) in pairs {
                guard case .string(let text) = v else { throw fail("metadata \(key) is not a string") }
                metadata[key] = text
            }
        }
        // The checksum first: a damaged file is called damaged, whatever else its damage breaks.
        if let stored = metadata[checksumKey] {
            try verifyChecksum(stored, of: data, headerEnd: headerEnd - start)
        }
        struct Entry { let name: String; let shape: [Int]; let count: Int; let type: SafeTensorsDType; let begin: Int; let end: Int }
        var entries: [Entry] = []
        var next = 0  // the index in `header.numbers` of the next number the walk meets
        for (name, value) in fields {
            if name == "__metadata__" { next += value.numberCount; continue }
            guard entries.count < maximumTensorCount else { throw fail("more than \(maximumTensorCount) tensors") }
            guard case .object(let entry) = value else { throw fail("entry \(name) is not an object") }
            var dtype: String?, shape: [Int]?, offsets: [Int]?
            for (key, v) in entry {
                defer { next += v.numberCount }
                switch key {
                case "dtype":
                    guard case .string(let s) = v else { throw fail("tensor \(name): dtype is not a string") }
                    dtype = s
                case "shape":
                    guard let dims = nonNegativeIntegers(v, first: next) else {
                        throw fail("tensor \(name): shape is not a list of non-negative integers")
                    }
                    shape = dims
                case "data_offsets":
                    guard let o = nonNegativeIntegers(v, first: next), o.count == 2 else {
                        throw fail("tensor \(name): data_offsets is not two non-negative integers")
                    }
                    offsets = o
                default:
                    throw fail("tensor \(name) has an unknown field \(key)")
                }
            }
            guard let dtype, let shape, let offsets else { throw fail("entry \(name) lacks dtype, shape or data_offsets") }
            guard let type = SafeTensorsDType(rawValue: dtype) else {
                throw fail("tensor \(name) has unsupported dtype \(dtype) (F32, F64, I32 and I64 are read)")
            }
            let width = type.width
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(name): shape \(shape) has too many elements") }
                count = p
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow else { throw fail("tensor \(name): shape \(shape) has too many bytes") }
            guard offsets[0] <= offsets[1] else { throw fail("tensor \(name): data_offsets \(offsets) run backwards") }
            guard offsets[1] - offsets[0] == bytes else {
                throw fail(
                    """
                    tensor \(name): data_offsets \(offsets) span \(offsets[1] - offsets[0]) bytes, its shape \(shape) of \(dtype) \
                    needs \(bytes)
                    """
                )
            }
            entries.append(Entry(name: name, shape: shape, count: count, type: type, begin: offsets[0], end: offsets[1]))
        }
        // The tensors must tile the data section: sorted by offset, each starts where the last ended.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let bodyLength = data.endIndex - headerEnd
        var expected = 0
        for e in entries {
            guard e.begin == expected else {
                throw fail(
                    e.begin < expected
                        ? "tensor \(e.name) overlaps the tensor before it (data_offsets start at \(e.begin), previous ends at \(expected))"
                        : "a gap of \(e.begin - expected) bytes before tensor \(e.name)")
            }
            expected = e.end
        }
        guard expected == bodyLength else {
            throw fail(
                expected > bodyLength
                    ? "the tensors need \(expected) bytes of data, the file has \(bodyLength) (truncated?)"
                    : "\(bodyLength - expected) bytes of data after the last tensor")
        }
        let body = data[headerEnd...]
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(entries.count)
        try body.withUnsafeBytes { raw in
            for e in entries {
                var scalars = [Double](repeating: 0, count: e.count)
                for i in 0..<e.count {
                    let at = e.begin + e.type.width * i
                    switch e.type {
                    case .f32:
                        scalars[i] = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                    case .f64:
                        scalars[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                    case .i32:
                        scalars[i] = Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                    case .i64:
                        let v = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                        guard v.magnitude <= 1 << 53 else {
                            throw fail("tensor \(e.name) holds the integer \(v), beyond the 2^53 this reader keeps exactly")
                        }
                        scalars[i] = Double(v)
                    }
                }
                tensors.append(NamedTensor(name: e.name, shape: e.shape, scalars: scalars))
            }
        }
        return (tensors, metadata)
    }

    /// The prefix of a checksum over the whole file.
    static let fileHashPrefix = "fnv1a64-file:"
    /// The prefix of a checksum over the data section alone (files of earlier versions).
    static let dataHashPrefix = "fnv1a64:"

    /// Checks `stored` (the metadata's checksum) against `data`, a whole file whose header ends
    /// at offset `headerEnd`.
    private static func verifyChecksum(_ stored: String, of data: Data, headerEnd: Int) throws {
        func damaged(_ computed: String) -> SafeTensorsError {
            SafeTensorsError(
                description:
                    """
                    the file does not match its checksum (stored \(stored), computed \(computed)): it was changed or damaged after it \
                    was written
                    """
            )
        }
        func hasHexDigits(after prefix: String) -> Bool {
            let digits = stored.utf8.dropFirst(prefix.utf8.count)
            return digits.count == 16 && digits.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }
        if stored.hasPrefix(fileHashPrefix) {
            guard hasHexDigits(after: fileHashPrefix) else {
                throw SafeTensorsError(
                    description:
                        """
                        Not a valid safetensors file: its checksum \(stored) is not \(fileHashPrefix) and 16 hex digits; the file was \
                        changed after it was written
                        """
                )
            }
            guard let digits = uniqueDigitsOffset(of: checksumMarker(stored), in: data, headerEnd: headerEnd) else {
                throw SafeTensorsError(
                    description:
                        """
                        Not a valid safetensors file: its header does not hold the checksum \(stored) in the compact form it was \
                        written in; the file was changed after it was written
                        """
                )
            }
            let computed = fileHashPrefix + hexDigits(fileHash(data, digitsAt: digits))
            guard computed == stored else { throw damaged(computed) }
        } else if stored.hasPrefix(dataHashPrefix), hasHexDigits(after: dataHashPrefix) {
            let computed = dataHashPrefix + hexDigits(fnv1a64(data[(data.startIndex + headerEnd)...]))
            guard computed == stored else { throw damaged(computed) }
        } else {
            throw SafeTensorsError(
                description: "Not a valid safetensors file: unknown checksum \(stored); the file was changed after it was written")
        }
    }

    /// The bytes `"checksum":"<stored>"`, as compact JSON writes the checksum member.
    private static func checksumMarker(_ stored: String) -> [UInt8] {
        Array("\"\(checksumKey)\":\"\(stored)\"".utf8)
    }

    /// The offset (from `data.startIndex`) of the 16 hex digits of the checksum member `marker`,
    /// when `marker` occurs exactly once between offset 8 and `headerEnd`; else nil.
    private static func uniqueDigitsOffset(of marker: [UInt8], in data: Data, headerEnd: Int) -> Int? {
        guard marker.count >= 17, headerEnd <= data.count else { return nil }
        var found: Int?, repeated = false
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var at = 8
            while at + marker.count <= headerEnd && !repeated {
                if bytes[at] == marker[0] {
                    var k = 1
                    while k < marker.count && bytes[at + k] == marker[k] { k += 1 }
                    if k == marker.count {
                        if found != nil { repeated = true }
                        found = at + marker.count - 17
                    }
                }
                at += 1
            }
        }
        return repeated ? nil : found
    }

    /// FNV-1a 64 of `data` with the 16 bytes at offset `digits` read as ASCII '0'.
    private static func fileHash(_ data: Data, digitsAt digits: Int) -> UInt64 {
        let s = data.startIndex
        var h = fnv1a64(data[s..<(s + digits)])
        for _ in 0..<16 { h = (h ^ 0x30) &* fnvPrime }
        return fnv1a64(data[(s + digits + 16)...], continuing: h)
    }

    static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a, 64 bits, of `bytes` (continuing from `h`). Every change of a single byte changes
    /// the hash (each step is a bijection of the running value).
    static func fnv1a64<Bytes: DataProtocol>(_ bytes: Bytes, continuing h: UInt64 = fnvOffsetBasis) -> UInt64 {
        var h = h
        for region in bytes.regions {
            region.withUnsafeBytes { raw in
                for b in raw { h = (h ^ UInt64(b)) &* fnvPrime }
            }
        }
        return h
    }

    /// `h` as 16 lowercase hex digits.
    private static func hexDigits(_ h: UInt64) -> String {
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
