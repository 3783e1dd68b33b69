// The JSON form of persistence diagrams that `moduli topology --json` writes and reports read:
// {"diagrams": [{"dimension": 0, "pairs": [[birth, death], ...]}, ...]}, death null for a class that
// never dies.
import Foundation

/// Reads and writes persistence diagrams as JSON.
public enum DiagramFile {
    /// The largest diagram file `decode` accepts (a few million pairs).
    public static let maximumBytes = 256 << 20

    /// The JSON text of `diagrams`: one object per diagram in the given order, each pair
    /// `[birth, death]` with `death` null for a class that never dies; numbers in the shortest form
    /// that reads back to the same Double.
    public static func encode(_ diagrams: [PersistenceDiagram]) -> Data {
        var text = "{\"diagrams\": ["
        for (k, d) in diagrams.enumerated() {
            text += (k == 0 ? "" : ", ") + "{\"dimension\": \(d.dimension), \"pairs\": ["
            text += d.pairs.map { "[\(number($0.birth)), \($0.death.map(number) ?? "null")]" }.joined(separator: ", ")
            text += "]}"
        }
        text += "]}\n"
        return Data(text.utf8)
    }

    /// Diagrams from the JSON of `encode`. Every problem is a `DiagramFileError` naming the diagram
    /// and pair: not that shape, a dimension below 0 or repeated, a pair that is not two numbers, a
    /// birth that is not finite, a death below its birth.
    public static func decode(_ data: Data) throws -> [PersistenceDiagram] {
        guard data.count <= maximumBytes else {
            throw DiagramFileError("it has \(data.count) bytes, more than the \(maximumBytes) a diagram file may have")
        }
        struct File: Decodable { let diagrams: [Diagram] }
        struct Diagram: Decodable { let dimension: Int; let pairs: [[Double?]] }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw DiagramFileError("it is not {\"diagrams\": [{\"dimension\": D, \"pairs\": [[birth, death], ...]}, ...]} (\(error))")
        }
        var seen = Set<Int>()
        return try file.diagrams.map { d in
            guard d.dimension >= 0 else { throw DiagramFileError("a diagram has dimension \(d.dimension)") }
            guard seen.insert(d.dimension).inserted else { throw DiagramFileError("dimension \(d.dimension) appears twice") }
            return PersistenceDiagram(
                dimension: d.dimension,
                pairs: try d.pairs.enumerated().map { k, p in
                    guard p.count == 2, let birth = p[0], birth.isFinite else {
                        throw DiagramFileError("pair \(k) of dimension \(d.dimension) is not [birth, death] with a finite birth")
                    }
                    if let death = p[1], !(death >= birth) {
                        throw DiagramFileError("pair \(k) of dimension \(d.dimension) dies at \(death), before its birth \(birth)")
                    }
                    return PersistencePair(birth: birth, death: p[1])
                })
        }
    }

    private static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
}

/// A diagram file that cannot be read; the message says why.
public struct DiagramFileError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the file.
    public let description: String
    init(_ description: String) { self.description = description }
}
