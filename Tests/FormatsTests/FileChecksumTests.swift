// The checksum of a safetensors file covers every byte, header and data: a change anywhere is
// caught before a value is used, and the hash is the one the documentation describes.
import Foundation
import Testing
import _TestSupport
@testable import Formats

@Suite struct FileChecksumTests {
    static let tensors = [
        NamedTensor(name: "w", shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]),
        NamedTensor(name: "b", shape: [2], scalars: [-1, 0.5])
    ]

    /// The documented algorithm, written out here: FNV-1a 64 of the whole file with the checksum's
    /// 16 hex digits read as '0'.
    static func documentedChecksum(_ data: Data) throws -> String {
        let bytes = [UInt8](data)
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let stored = try #require((header["__metadata__"] as? [String: String])?["checksum"])
        let marker = Array("\"checksum\":\"\(stored)\"".utf8)
        let at = try #require((8...(8 + n - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
        var blank = bytes
        let digits = at + marker.count - 17
        for k in digits..<(digits + 16) { blank[k] = UInt8(ascii: "0") }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in blank { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(h, radix: 16)
        #expect(stored.hasPrefix("fnv1a64-file:"))
        return "fnv1a64-file:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    @Test func theChecksumIsTheDocumentedHashOfTheWholeFile() throws {
        let data = try SafeTensors.encode(Self.tensors, metadata: ["state": "{\"learningRate\":0.125}"], checksum: true)
        let (back, meta) = try SafeTensors.decode(data)
        #expect(back.map(\.scalars) == Self.tensors.map(\.scalars))
        #expect(meta[SafeTensors.checksumKey] == (try Self.documentedChecksum(data)))
        #expect(SafeTensors.checksumCoverage(meta) == .wholeFile)
    }

    @Test func everyChangedByteOfHeaderOrDataIsCaught() throws {
        let data = try SafeTensors.encode(Self.tensors, metadata: ["state": "{\"learningRate\":0.125,\"rng\":[1,2]}"], checksum: true)
        for offset in 0..<data.count {
            for flip: UInt8 in [0x01, 0x80] {
                var changed = data
                changed[offset] ^= flip
                guard let (_, meta) = try? SafeTensors.decode(changed) else { continue }  // refused: caught
                // Decoded: only when the change removed the checksum key itself, which a reader of
                // this version's files refuses (their format needs one).
                #expect(SafeTensors.checksumCoverage(meta) == .none, "a change at byte \(offset) went unnoticed")
                #expect(meta.keys.contains { $0 != "state" && $0 != SafeTensors.checksumKey }, "byte \(offset)")
            }
        }
    }

    @Test func aDtypeChangedFromF32ToI32IsCaught() throws {
        let data = try SafeTensors.encode(Self.tensors, metadata: ["format": "moduli-model-1"], checksum: true)
        let edited = ByteEdits.replacing("\"dtype\":\"F32\"", with: "\"dtype\":\"I32\"", in: data)
        #expect(edited.count == data.count && edited != data)
        #expect { try SafeTensors.decode(edited) } throws: { ($0 as? SafeTensorsError)?.description.contains("checksum") == true }
    }

    @Test func aChecksumOverTheDataOnlyIsStillVerified() throws {
        let data = try SafeTensors.encode(Self.tensors, coverage: .dataOnly)
        let (_, meta) = try SafeTensors.decode(data)
        #expect(SafeTensors.checksumCoverage(meta) == .dataOnly && meta[SafeTensors.checksumKey]?.hasPrefix("fnv1a64:") == true)
        var damaged = data
        damaged[damaged.count - 1] ^= 1
        #expect(throws: SafeTensorsError.self) { try SafeTensors.decode(damaged) }
    }
}
