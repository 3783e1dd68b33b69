// The report's parts on their own: PNG bytes against a naive inflater, the neuron order, seed
// grouping by name, axis ticks, escaping.
import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing
import Geometry
import Linalg
@testable import Reports

/// A naive DEFLATE decoder for stored and fixed-Huffman blocks (RFC 1951), bit by bit: the oracle
/// for the encoder.
struct NaiveInflater {
    let bytes: [UInt8]
    var bit = 0

    mutating func read(_ n: Int) -> Int {
        var v = 0
        for k in 0..<n { v |= Int((bytes[bit >> 3] >> UInt8(bit & 7)) & 1) << k; bit += 1 }
        return v
    }

    /// A Huffman code of the fixed literal/length alphabet, read most significant bit first.
    mutating func literal() -> Int {
        var code = 0
        for length in 1...9 {
            code = code << 1 | read(1)
            switch length {
            case 7 where code <= 0b0010111: return 256 + code
            case 8 where code >= 0b00110000 && code <= 0b10111111: return code - 0b00110000
            case 8 where code >= 0b11000000 && code <= 0b11000111: return 280 + code - 0b11000000
            case 9 where code >= 0b110010000: return 144 + code - 0b110010000
            default: continue
            }
        }
        return -1
    }

    static func inflate(_ zlib: [UInt8]) -> [UInt8]? {
        var r = NaiveInflater(bytes: Array(zlib.dropFirst(2)))
        var out: [UInt8] = []
        let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        let distBase = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
            16385, 24577
        ]
        let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
        var final = 0
        repeat {
            final = r.read(1)
            guard r.read(2) == 1 else { return nil }  // only fixed blocks are written
            while true {
                let s = r.literal()
                if s < 0 { return nil }
                if s < 256 { out.append(UInt8(s)); continue }
                if s == 256 { break }
                let length = lengthBase[s - 257] + r.read(lengthExtra[s - 257])
                var dcode = 0
                for _ in 0..<5 { dcode = dcode << 1 | r.read(1) }
                let distance = distBase[dcode] + r.read(distExtra[dcode])
                guard distance <= out.count else { return nil }
                for _ in 0..<length { out.append(out[out.count - distance]) }
            }
        } while final == 0
        return out
    }
}

@Suite struct ReportPartsTests {
    func chunks(_ png: Data) -> [(type: String, data: [UInt8], crc: UInt32)] {
        let b = [UInt8](png)
        var at = 8, out: [(String, [UInt8], UInt32)] = []
        while at + 12 <= b.count {
            let n = Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
            let type = String(decoding: b[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = Array(b[(at + 8)..<(at + 8 + n)])
            let c = b[(at + 8 + n)..<(at + 12 + n)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            out.append((type, data, c)); at += 12 + n
        }
        return out
    }

    @Test(arguments: [(7, 5, 1), (33, 20, 3), (256, 256, 1)])
    func pngRowsInflateBackToThePixels(width: Int, height: Int, channels: Int) throws {
        var rng = SeededGenerator(seed: 5)
        // Mostly runs (as masks are), some noise.
        let pixels = (0..<(width * height * channels)).map { k -> UInt8 in
            Double.random(in: 0..<1, using: &rng) < 0.1 ? UInt8.random(in: 0...255, using: &rng) : UInt8((k / 97) % 2 * 255)
        }
        let image = try #require(PNGImage(width: width, height: height, channels: channels, pixels: pixels))
        let parts = chunks(image.encoded())
        #expect(parts.map(\.type) == ["IHDR", "IDAT", "IEND"])
        for p in parts { #expect(PNGImage.crc32(Data(p.type.utf8) + Data(p.data)) == p.crc) }
        #expect(PNGImage.crc32(Data("IEND".utf8)) == 0xAE42_6082, "the well-known CRC of an empty IEND")
        let raw = try #require(NaiveInflater.inflate(parts[1].data))
        var expected: [UInt8] = []
        for r in 0..<height { expected.append(0); expected += pixels[(r * width * channels)..<((r + 1) * width * channels)] }
        #expect(raw == expected)
        let trailer = parts[1].data.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(trailer == PNGImage.adler32(expected))
        #expect(PNGImage(width: 0, height: 1, channels: 1, pixels: []) == nil)
        #expect(PNGImage(width: 2, height: 2, channels: 1, pixels: [1, 2, 3]) == nil)
    }

    @Test func circleNeuronsAreOrderedByAngle() {
        let angles = [2.0, -1.0, 0.5, 3.0, -3.0]
        let positions = Matrix<Float>(rows: 5, columns: 2, scalars: angles.flatMap { [Float(cos($0)), Float(sin($0))] })
        #expect(NeuronOrder.order(space: Circle(scale: 5), positions: positions) == [4, 1, 2, 0, 3])
        let torus = Matrix<Float>(rows: 3, columns: 2, scalars: [9, 9, 0.1, 0.1, 0.2, 0.1])
        let order = NeuronOrder.order(space: FlatTorus(dimension: 2, side: 10), positions: torus)
        #expect(Set(order) == [0, 1, 2] && order.firstIndex(of: 1)! < order.firstIndex(of: 0)!)
    }

    @Test func patternsPoolIntoCellsOfKeptFractions() {
        // 8 x 8, index order, pooled into 4 x 4 cells of 2 x 2 weights: cell (a, b) keeps (a + b) % 5 of 4.
        let h = 8
        var kept = [Bool](repeating: false, count: h * h)
        for a in 0..<4 {
            for b in 0..<4 {
                let entries = [(0, 0), (0, 1), (1, 0), (1, 1)].prefix((a + b) % 5)
                for (i, j) in entries { kept[(2 * a + i) * h + 2 * b + j] = true }
            }
        }
        let c = Connectivity(kept: kept, hiddenSize: h, space: nil, rowPositions: nil, columnPositions: nil)
        let (cells, fractions) = c.pattern(maxCells: 4)
        #expect(cells == 4)
        let expected: [Double] = (0..<16).map { (k: Int) -> Double in Double((k / 4 + k % 4) % 5) / 4 }
        #expect(fractions == expected)
        let binary: [Double] = kept.map { $0 ? 1.0 : 0.0 }
        #expect(c.pattern(maxCells: 256).fractions == binary, "one cell per weight up to 256")
        #expect(c.distanceProfile() == nil)
    }

    @Test func aRingMaskKeepsOnlyTheNearestDistance() throws {
        // 12 neurons evenly on the circle (shuffled indices), each connected to its two neighbours:
        // every kept pair lies at one angle step, so one bin holds all of them at fraction 1.
        let n = 12, shuffled = [5, 0, 7, 3, 11, 1, 9, 2, 10, 4, 8, 6]
        var scalars = [Float](repeating: 0, count: 2 * n)
        for (k, i) in shuffled.enumerated() {
            let angle = 2 * Double.pi * Double(k) / Double(n)
            scalars[2 * i] = Float(cos(angle)); scalars[2 * i + 1] = Float(sin(angle))
        }
        let positions = Matrix<Float>(rows: n, columns: 2, scalars: scalars)
        var kept = [Bool](repeating: false, count: n * n)
        for k in 0..<n {
            kept[shuffled[k] * n + shuffled[(k + 1) % n]] = true
            kept[shuffled[(k + 1) % n] * n + shuffled[k]] = true
        }
        let c = Connectivity(kept: kept, hiddenSize: n, space: Circle(scale: 5), rowPositions: positions, columnPositions: positions)
        let bins = try #require(c.distanceProfile(binCount: 4))  // bin 0: [0, 3.93) holds only the step 2.62
        #expect(bins.map(\.pairs).reduce(0, +) == n * n - n && bins.map(\.kept).reduce(0, +) == 2 * n)
        let step = 5 * 2 * Double.pi / Double(n)
        let nearest = try #require(bins.firstIndex { $0.lower <= step && step < $0.upper })
        #expect(bins[nearest].fraction == 1 && bins[nearest].pairs == 2 * n)
        #expect(bins.enumerated().allSatisfy { $0.offset == nearest || $0.element.kept == 0 })
        #expect(abs(Connectivity.overallFraction(bins) - 2.0 / Double(n - 1)) < 1e-15)
        // In manifold order the ring is a band: every kept entry sits next to the diagonal (or in a corner).
        let (cells, fractions) = c.pattern()
        for i in 0..<cells {
            for j in 0..<cells where fractions[i * cells + j] > 0 {
                #expect([1, n - 1].contains(abs(i - j)), "kept entry at (\(i), \(j)) in manifold order")
            }
        }
    }

    @Test func seedSuffixesGroupRuns() {
        #expect(RunGroup.configurationName("torus-s0") == "torus")
        #expect(RunGroup.configurationName("torus-square-s12") == "torus-square")
        #expect(RunGroup.configurationName("strength-matched-s2") == "strength-matched")
        for same in ["torus", "s0", "torus-s", "torus-sx", "torus-s1a", "-s1"] { #expect(RunGroup.configurationName(same) == same) }
        let s = RunGroup.Statistic(values: [1, 2, 3, 4])
        #expect(s.mean == 2.5 && abs(s.standardDeviation! - (5.0 / 3).squareRoot()) < 1e-15)
        #expect(RunGroup.Statistic(values: [7]).standardDeviation == nil && RunGroup.format(.init(values: [7])) == "7")
        #expect(RunGroup.format(.init(values: [])) == "-")
    }

    @Test func ticksAreRoundAndInsideTheRange() {
        #expect(SVGChart.ticks(0...4500) == [0, 1000, 2000, 3000, 4000])
        #expect(SVGChart.ticks(0.2...0.93) == [0.2, 0.4, 0.6, 0.8])
        #expect(SVGChart.ticks(-1.1...1.1) == [-1, -0.5, 0, 0.5, 1])
        #expect(SVGChart.ticks(5...5) == [5])
        #expect(SVGChart.tickLabel(0.05, step: 0.05) == "0.05" && SVGChart.tickLabel(1500, step: 500) == "1500")
    }

    @Test func textIsEscapedForEveryFormat() {
        #expect(HTMLText.escape("<a & \"b\" 'c'>") == "&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;")
        #expect(
            HTMLText.csvField("a,b") == "\"a,b\"" && HTMLText.csvField("say \"x\"") == "\"say \"\"x\"\"\""
                && HTMLText.csvField("plain") == "plain")
        #expect(HTMLText.markdownTable(header: ["a|b"], rows: [["1"]]) == "| a\\|b |\n|---|\n| 1 |\n")
        var chart = SVGChart(title: "<t>", xLabel: "x & y", yLabel: "z")
        chart.layers = [.line(name: "\"run\"", color: "#000000", points: [(0, 1), (1, .nan), (2, 3)], dash: 0, width: 1)]
        #expect(ReportPage.parse(Data(chart.render().utf8)) != nil)
    }
}
