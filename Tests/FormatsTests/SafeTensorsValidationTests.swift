// safetensors files from an untrusted source: every malformed header, shape, offset or byte is a
// SafeTensorsError (never a crash), and a checksum catches flipped bits in the tensor data.
import Foundation
import Testing
import Linalg
@testable import Formats

@Suite struct SafeTensorsValidationTests {
    /// A file from a header text (padded to 8 bytes) and raw data bytes.
    static func file(_ header: String, body: [UInt8] = [], length: UInt64? = nil) -> Data {
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: json)
        data.append(contentsOf: body)
        return data
    }

    static func rejects(_ data: Data, mentioning words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafeTensors.decode(data)
            Issue.record("accepted a malformed file (expected an error mentioning \(words))", sourceLocation: sourceLocation)
        } catch let e as SafeTensorsError {
            #expect(e.description.contains(words), "\(e.description)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("threw \(type(of: error)), not SafeTensorsError: \(error)", sourceLocation: sourceLocation)
        }
    }

    static func tensor(_ name: String, _ dtype: String = "F32", shape: String, offsets: String) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    @Test func wellFormedFilesStillDecode() throws {
        // Zero-size tensors share an offset; F64 next to F32; metadata of strings.
        let header =
            "{"
            + [
                Self.tensor("e", shape: "[0,3]", offsets: "[0,0]"), Self.tensor("a", shape: "[2]", offsets: "[0,8]"),
                Self.tensor("b", "F64", shape: "[1]", offsets: "[8,16]"), "\"__metadata__\":{\"k\":\"v\"}"
            ]
            .joined(separator: ",") + "}"
        var body: [UInt8] = []
        for x: Float in [1.5, -2] { withUnsafeBytes(of: x.bitPattern.littleEndian) { body += $0 } }
        withUnsafeBytes(of: (0.25 as Double).bitPattern.littleEndian) { body += $0 }
        let (tensors, metadata) = try SafeTensors.decode(Self.file(header, body: body))
        #expect(metadata == ["k": "v"])
        #expect(tensors.map(\.name) == ["e", "a", "b"])
        #expect(tensors.map(\.scalars) == [[], [1.5, -2], [0.25]])
    }

    @Test func safetensorsRoundTripsFloatAndDouble() throws {
        let tensors = [
            NamedTensor(name: "a.weight", shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-8, -7]),
            NamedTensor(name: "a.bias", shape: [3], scalars: [0.25, 0.5, 0.75])
        ]
        for dtype in [SafeTensorsDType.f32, .f64] {
            let data = try SafeTensors.encode(tensors, dtype: dtype, metadata: ["k": "v"])
            // Header length is little-endian and the header is padded to 8 bytes.
            let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(n % 8 == 0)
            let (back, meta) = try SafeTensors.decode(data)
            #expect(meta == ["k": "v"])
            #expect(back.map(\.name) == ["a.weight", "a.bias"])
            for (x, y) in zip(back, tensors) {
                #expect(x.shape == y.shape)
                #expect(x.scalars == (dtype == .f32 ? y.scalars.map { Double(Float($0)) } : y.scalars))
            }
        }
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(Data([1, 2, 3])) }
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(Data([255, 0, 0, 0, 0, 0, 0, 0, 123])) }
    }

    @Test func badShapesAreRejected() {
        let body = [UInt8](repeating: 0, count: 8)
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[-2]", offsets: "[0,8]") + "}", body: body), mentioning: "shape")
        Self.rejects(
            Self.file("{" + Self.tensor("a", shape: "[4611686018427387904,4]", offsets: "[0,8]") + "}", body: body), mentioning: "too many")
        Self.rejects(
            Self.file("{" + Self.tensor("a", shape: "[2305843009213693952]", offsets: "[0,8]") + "}", body: body),
            mentioning: "too many bytes")
        Self.rejects(
            Self.file("{" + Self.tensor("a", shape: "[99999999999999999999999]", offsets: "[0,8]") + "}", body: body), mentioning: "shape")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[1.5]", offsets: "[0,8]") + "}", body: body), mentioning: "shape")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[true]", offsets: "[0,8]") + "}", body: body), mentioning: "shape")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "2", offsets: "[0,8]") + "}", body: body), mentioning: "shape")
        Self.rejects(Self.file("{" + Self.tensor("a", "BF16", shape: "[4]", offsets: "[0,8]") + "}", body: body), mentioning: "dtype")
        let huge = withUnsafeBytes(of: (Int64(1) << 60).littleEndian) { Array($0) }
        Self.rejects(Self.file("{" + Self.tensor("a", "I64", shape: "[1]", offsets: "[0,8]") + "}", body: huge), mentioning: "2^53")
    }

    /// Integer tensors (sparse indices) round-trip exactly; a value that is no integer of the type is refused.
    @Test func integerTensorsRoundTrip() throws {
        let tensors = [
            NamedTensor(name: "w.values", shape: [3], scalars: [0.5, -1.25, 3]),
            NamedTensor(name: "w.col_indices", shape: [3], scalars: [0, 7, -2_147_483_648]),
            NamedTensor(name: "w.crow_indices", shape: [2], scalars: [0, 9_007_199_254_740_992])
        ]
        let data = try SafeTensors.encode(tensors, dtypes: ["w.col_indices": .i32, "w.crow_indices": .i64], checksum: true)
        let back = try SafeTensors.decode(data).tensors
        #expect(Set(back.map(\.name)) == Set(tensors.map(\.name)))
        for t in tensors { #expect(back.first { $0.name == t.name } == t) }
        let header = String(decoding: data[8..<(8 + Int(data[0]) + Int(data[1]) << 8)], as: UTF8.self)
        #expect(header.contains("\"I32\"") && header.contains("\"I64\""), "\(header)")
        #expect(throws: SafeTensorsError.self) {
            try SafeTensors.encode([NamedTensor(name: "i", shape: [1], scalars: [0.5])], dtypes: ["i": .i32])
        }
        #expect(throws: SafeTensorsError.self) {
            try SafeTensors.encode([NamedTensor(name: "i", shape: [1], scalars: [4_294_967_296])], dtypes: ["i": .i32])
        }
    }

    @Test func badOffsetsAreRejected() {
        let b8 = [UInt8](repeating: 0, count: 8), b12 = [UInt8](repeating: 0, count: 12)
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[2]", offsets: "[8,0]") + "}", body: b8), mentioning: "backwards")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[2]", offsets: "[-8,0]") + "}", body: b8), mentioning: "data_offsets")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[2]", offsets: "[0,4]") + "}", body: b8), mentioning: "span")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[2]", offsets: "[0,8,9]") + "}", body: b8), mentioning: "data_offsets")
        // Overlap, gap, bytes left over, data cut short.
        Self.rejects(
            Self.file(
                "{" + Self.tensor("a", shape: "[2]", offsets: "[0,8]") + "," + Self.tensor("b", shape: "[2]", offsets: "[4,12]") + "}",
                body: b12),
            mentioning: "overlaps")
        Self.rejects(
            Self.file(
                "{" + Self.tensor("a", shape: "[1]", offsets: "[0,4]") + "," + Self.tensor("b", shape: "[1]", offsets: "[8,12]") + "}",
                body: b12),
            mentioning: "gap")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[1]", offsets: "[0,4]") + "}", body: b8), mentioning: "after the last tensor")
        Self.rejects(Self.file("{" + Self.tensor("a", shape: "[2]", offsets: "[0,8]") + "}", body: [0, 0, 0, 0]), mentioning: "truncated")
        Self.rejects(
            Self.file("{" + Self.tensor("a", shape: "[1]", offsets: "[4611686018427387904,4611686018427387908]") + "}", body: b8),
            mentioning: "gap")
    }

    @Test func badHeadersAreRejected() {
        let b8 = [UInt8](repeating: 0, count: 8)
        let a = Self.tensor("a", shape: "[2]", offsets: "[0,8]")
        Self.rejects(Self.file("{" + a + "," + a + "}", body: b8), mentioning: "twice")
        Self.rejects(Self.file("{" + a + ",\"__metadata__\":{\"k\":1}}", body: b8), mentioning: "metadata")
        Self.rejects(Self.file("{" + a + ",\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", body: b8), mentioning: "twice")
        Self.rejects(Self.file("{" + a + ",\"__metadata__\":[\"k\"]}", body: b8), mentioning: "metadata")
        Self.rejects(Self.file("[1,2]", body: b8), mentioning: "not a JSON object")
        Self.rejects(Self.file("{" + a, body: b8), mentioning: "header")
        Self.rejects(Self.file("{" + a + "} x", body: b8), mentioning: "after the JSON value")
        Self.rejects(Self.file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", body: b8), mentioning: "lacks")
        Self.rejects(
            Self.file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", body: b8), mentioning: "unknown field"
        )
        Self.rejects(Self.file(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)), mentioning: "nested")
        // Header length beyond the file, beyond the limit, beyond Int.
        Self.rejects(Self.file("{}", length: 64), mentioning: "exceeds")
        Self.rejects(Self.file("{}", length: UInt64(SafeTensors.maximumHeaderLength) + 1), mentioning: "limit")
        Self.rejects(Self.file("{}", length: UInt64.max), mentioning: "limit")
        // A name that is not UTF-8.
        var bad = Self.file("{\"aX\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", body: b8)
        let x = bad.firstIndex(of: UInt8(ascii: "X"))!
        bad[x] = 0xFF
        Self.rejects(bad, mentioning: "UTF-8")
    }

    /// The message of decoding `data`, which must be refused.
    static func message(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do { _ = try SafeTensors.decode(data) } catch { return "\(error)" }
        Issue.record("accepted a malformed file", sourceLocation: sourceLocation)
        return ""
    }

    /// The header is read by the strict JSON reader: a key twice in any object, nesting beyond
    /// `headerLimits`, a number beyond a Double and a byte-order mark are refused, each error
    /// placed by its byte in the file, line, column and key; shapes and offsets are exact integers.
    @Test func theHeaderIsReadStrictlyAndErrorsSayWhere() throws {
        let b8 = [UInt8](repeating: 0, count: 8)
        // A key twice inside a tensor's entry (the reader of earlier versions refused only names).
        let twice = #"{"a":{"dtype":"F32","shape":[2],"dtype":"F32","data_offsets":[0,8]}}"#
        let shape = try #require(twice.range(of: "[2],"))
        let second = try #require(twice.range(of: #""dtype""#, range: shape.upperBound..<twice.endIndex))
        let at = 8 + twice.utf8.distance(from: twice.startIndex, to: second.lowerBound)
        let m = Self.message(Self.file(twice, body: b8))
        #expect(
            m.contains(#"the key "dtype" appears twice"#) && m.contains("at byte \(at) of the file") && m.contains("in a.dtype"), "\(m)")
        // Nesting: the outer object and 15 arrays are 16 levels, read (and refused as metadata); 17 are not read.
        let deep15 = #"{"__metadata__":"# + String(repeating: "[", count: 15) + String(repeating: "]", count: 15) + "}"
        let deep16 = #"{"__metadata__":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}"
        #expect(Self.message(Self.file(deep15)).contains("__metadata__ is not an object of strings"))
        let nested = Self.message(Self.file(deep16))
        #expect(nested.contains("nested more than 16 levels deep") && nested.contains("at byte \(8 + 16 + 15) of the file"), "\(nested)")
        // A number beyond a Double, named by its key.
        let huge = Self.message(Self.file("{" + Self.tensor("a", shape: "[1e400]", offsets: "[0,8]") + "}", body: b8))
        #expect(huge.contains("the number 1e400 does not fit a Double") && huge.contains("in a.shape[0]"), "\(huge)")
        // 2^53 + 1 elements: read exactly (as a Double it would be 2^53, and the offsets would disagree).
        let exact = Self.message(
            Self.file("{" + Self.tensor("a", shape: "[9007199254740993]", offsets: "[0,36028797018963972]") + "}", body: b8))
        #expect(exact.contains("the tensors need 36028797018963972 bytes of data"), "\(exact)")
        // An integer written with a fraction or an exponent is no shape.
        #expect(
            Self.message(Self.file("{" + Self.tensor("a", shape: "[2.0]", offsets: "[0,8]") + "}", body: b8)).contains(
                "shape is not a list"))
        #expect(
            Self.message(Self.file("{" + Self.tensor("a", shape: "[2e0]", offsets: "[0,8]") + "}", body: b8)).contains(
                "shape is not a list"))
        // A byte-order mark is no JSON (config files may have one; safetensors headers may not).
        var bom = Self.file("\u{FEFF}{" + Self.tensor("a", shape: "[2]", offsets: "[0,8]") + "}", body: b8)
        #expect(bom[8..<11] == Data([0xEF, 0xBB, 0xBF]))
        #expect(Self.message(bom).contains("at byte 8 of the file"))
        bom.replaceSubrange(8..<11, with: [0x20, 0x20, 0x20])
        #expect(try SafeTensors.decode(bom).tensors.map(\.name) == ["a"])
        // Lines and columns of a header written over several lines.
        let lines = Self.message(Self.file("{\n  \"a\": tru}", body: b8))
        #expect(lines.contains("line 2, column 8 of the header, in a") && lines.contains("at byte 17 of the file"), "\(lines)")
    }

    @Test func tooManyTensorsAreRejected() throws {
        let header = "{" + (0..<5).map { Self.tensor("t\($0)", shape: "[0]", offsets: "[0,0]") }.joined(separator: ",") + "}"
        #expect(try SafeTensors.decode(Self.file(header), maximumTensorCount: 5).tensors.count == 5)
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(Self.file(header), maximumTensorCount: 4) }
    }

    @Test func aChecksumCatchesEveryFlippedBitOfTheData() throws {
        let tensors = [
            NamedTensor(name: "w", shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]), NamedTensor(name: "b", shape: [2], scalars: [-1, 0.5])
        ]
        let data = try SafeTensors.encode(tensors, metadata: ["k": "v"], checksum: true)
        let (back, meta) = try SafeTensors.decode(data)
        #expect(back.map(\.scalars) == tensors.map(\.scalars))
        #expect(meta["k"] == "v" && meta[SafeTensors.checksumKey]?.hasPrefix("fnv1a64-file:") == true)
        let bodyStart = data.count - 8 * 4
        for byte in bodyStart..<data.count {
            for bit in 0..<8 {
                var flipped = data
                flipped[byte] ^= UInt8(1 << bit)
                Self.rejects(flipped, mentioning: "checksum")
            }
        }
        // Without a checksum the same flip goes unnoticed: the format alone cannot tell.
        var plain = try SafeTensors.encode(tensors)
        plain[plain.count - 1] ^= 1
        #expect(throws: Never.self) { try SafeTensors.decode(plain) }
    }

    @Test func encodingRefusesDuplicateNames() {
        let t = NamedTensor(name: "a", shape: [1], scalars: [1])
        #expect(throws: SafeTensorsError.self) { try SafeTensors.encode([t, t]) }
    }

    /// Random damage to a valid file (flipped bytes in header and data, cuts, splices) must give
    /// a SafeTensorsError or a decoded file, never a crash. Seed 7.
    @Test func randomDamageNeverCrashes() throws {
        let tensors = [
            NamedTensor(name: "rnn.weight_hh_l0", shape: [4, 4], scalars: (0..<16).map(Double.init)),
            NamedTensor(name: "fc.bias", shape: [1], scalars: [3])
        ]
        let good = try SafeTensors.encode(tensors, metadata: ["state": "{\"step\":3}"])
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<3000 {
            var d = good
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    d[Int.random(in: 0..<d.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:
                d = d.prefix(Int.random(in: 0..<d.count, using: &rng))
            case 2:
                // Replace a digit of the header with another character of JSON.
                let i = Int.random(in: 8..<min(d.count, 8 + 200), using: &rng)
                d[i] = Array("0123456789-.e[]{},\"".utf8).randomElement(using: &rng)!
            default:
                d.append(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            do { _ = try SafeTensors.decode(d) } catch is SafeTensorsError {} catch {
                Issue.record("threw \(type(of: error)): \(error)")
            }
        }
    }
}
