// A minimal PNG encoder for the report's raster figures (sparsity patterns, firing maps): 8-bit
// grey or RGB, filter 0, a zlib stream compressed with DEFLATE's fixed Huffman codes and a greedy
// LZ77 matcher. References: the PNG specification (ISO/IEC 15948), RFC 1950 (zlib), RFC 1951 (DEFLATE).
import Foundation

/// An 8-bit image encoded as PNG bytes.
public struct PNGImage: Sendable {
    /// Width and height in pixels.
    public let width: Int, height: Int
    /// 1 (grey) or 3 (RGB) bytes per pixel.
    public let channels: Int
    /// Row-major pixels, `height * width * channels` bytes.
    public let pixels: [UInt8]

    /// An image from its pixels; nil when the sizes do not match or are not positive.
    public init?(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else { return nil }
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// The PNG file's bytes: signature, IHDR, one IDAT, IEND.
    public func encoded() -> Data {
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.appendBigEndian(UInt32(width)); header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, channels == 1 ? 0 : 2, 0, 0, 0])  // depth 8, grey/RGB, deflate, filter 0, no interlace
        PNGImage.appendChunk("IHDR", header, to: &png)
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        let stride = width * channels
        for r in 0..<height {
            raw.append(0)  // filter type 0 (None)
            raw.append(contentsOf: pixels[(r * stride)..<((r + 1) * stride)])
        }
        PNGImage.appendChunk("IDAT", PNGImage.zlib(raw), to: &png)
        PNGImage.appendChunk("IEND", Data(), to: &png)
        return png
    }

    /// Appends a chunk: length, type, data, CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: Data, to png: inout Data) {
        png.appendBigEndian(UInt32(data.count))
        let typed = Data(type.utf8) + data
        png.append(typed)
        png.appendBigEndian(crc32(typed))
    }

    /// CRC-32 (polynomial 0xEDB88320, reflected), as PNG chunks use.
    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Adler-32 of the uncompressed bytes, as the zlib trailer holds.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for chunk in stride(from: 0, to: bytes.count, by: 5552) {
            for x in bytes[chunk..<min(chunk + 5552, bytes.count)] { a += UInt32(x); b += a }
            a %= 65521; b %= 65521
        }
        return b << 16 | a
    }

    // MARK: DEFLATE with fixed Huffman codes (RFC 1951 section 3.2.6)

    /// Base lengths of the length codes 257...285 and their extra bits.
    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
        67, 83, 99, 115, 131, 163, 195, 227, 258
    ]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    /// Base distances of the distance codes 0...29 and their extra bits.
    static let distanceExtra: [Int] = [0, 0, 0, 0] + (4..<30).map { $0 / 2 - 1 }
    static let distanceBase: [Int] = {
        var base = [1, 2, 3, 4]
        for c in 4..<30 { base.append(base[c - 1] + (1 << distanceExtra[c - 1])) }
        return base
    }()

    /// A zlib stream (header, one final fixed-Huffman DEFLATE block, Adler-32) of `bytes`.
    static func zlib(_ bytes: [UInt8]) -> Data {
        var w = BitWriter()
        w.bytes = [0x78, 0x01]  // deflate, 32 KiB window, no dictionary, fastest (header check: 0x7801 % 31 == 0)
        w.write(1, bits: 1)  // BFINAL
        w.write(1, bits: 2)  // BTYPE = 01, fixed Huffman codes
        let n = bytes.count, window = 32_768, minMatch = 3, maxMatch = 258
        var head = [Int](repeating: -1, count: 1 << 15)
        var previous = [Int](repeating: -1, count: n)
        func hash(_ i: Int) -> Int { (Int(bytes[i]) << 10 ^ Int(bytes[i + 1]) << 5 ^ Int(bytes[i + 2])) & 0x7FFF }
        func insert(_ i: Int) {
            guard i + 2 < n else { return }
            let h = hash(i)
            previous[i] = head[h]; head[h] = i
        }
        var i = 0
        while i < n {
            var bestLength = 0, bestDistance = 0
            if i + minMatch <= n {
                var candidate = head[hash(i)], tries = 0
                while candidate >= 0 && i - candidate <= window && tries < 32 {
                    var l = 0
                    let limit = min(maxMatch, n - i)
                    while l < limit && bytes[candidate + l] == bytes[i + l] { l += 1 }
                    if l > bestLength { bestLength = l; bestDistance = i - candidate; if l == limit { break } }
                    candidate = previous[candidate]; tries += 1
                }
            }
            if bestLength >= minMatch {
                w.writeLength(bestLength)
                w.writeDistance(bestDistance)
                for k in i..<(i + bestLength) { insert(k) }
                i += bestLength
            } else {
                w.writeLiteral(Int(bytes[i]))
                insert(i)
                i += 1
            }
        }
        w.writeLiteral(256)  // end of block
        w.flush()
        var data = Data(w.bytes)
        data.appendBigEndian(adler32(bytes))
        return data
    }

    /// Bits written least significant first, Huffman codes most significant first (RFC 1951 3.1.1).
    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var count = 0

        mutating func write(_ value: Int, bits: Int) {
            buffer |= UInt32(value) << UInt32(count)
            count += bits
            while count >= 8 { bytes.append(UInt8(buffer & 0xFF)); buffer >>= 8; count -= 8 }
        }

        /// A Huffman code of `length` bits, most significant bit first.
        mutating func writeCode(_ code: Int, length: Int) {
            var reversed = 0
            for k in 0..<length where code & (1 << k) != 0 { reversed |= 1 << (length - 1 - k) }
            write(reversed, bits: length)
        }

        /// A literal/length symbol 0...287 in the fixed code.
        mutating func writeLiteral(_ symbol: Int) {
            switch symbol {
            case 0...143: writeCode(0x30 + symbol, length: 8)
            case 144...255: writeCode(0x190 + symbol - 144, length: 9)
            case 256...279: writeCode(symbol - 256, length: 7)
            default: writeCode(0xC0 + symbol - 280, length: 8)
            }
        }

        mutating func writeLength(_ length: Int) {
            var c = PNGImage.lengthBase.count - 1
            while PNGImage.lengthBase[c] > length { c -= 1 }
            writeLiteral(257 + c)
            if PNGImage.lengthExtra[c] > 0 { write(length - PNGImage.lengthBase[c], bits: PNGImage.lengthExtra[c]) }
        }

        mutating func writeDistance(_ distance: Int) {
            var c = PNGImage.distanceBase.count - 1
            while PNGImage.distanceBase[c] > distance { c -= 1 }
            writeCode(c, length: 5)
            if PNGImage.distanceExtra[c] > 0 { write(distance - PNGImage.distanceBase[c], bits: PNGImage.distanceExtra[c]) }
        }

        mutating func flush() {
            if count > 0 { bytes.append(UInt8(buffer & 0xFF)); buffer = 0; count = 0 }
        }
    }
}

extension Data {
    /// Appends a UInt32 in network byte order.
    mutating func appendBigEndian(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
