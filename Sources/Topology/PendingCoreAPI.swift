// Placeholder for the persistence API of branch topo-core (removed when it is merged): the same
// signatures, with dimension 0 only, so that the command and its inputs build and test meanwhile.

/// A problem with the input of a topology computation.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public let description: String
    /// An error saying `description`.
    public init(description: String) { self.description = description }
}

/// A symmetric matrix of pairwise distances.
public struct DistanceMatrix: Sendable {
    /// The number of points.
    public let count: Int
    private let entries: [Double]
    /// Euclidean distances of points.
    public init(points: [[Double]]) throws {
        try PointCloud.validate(points)
        try self.init(count: points.count) { PointCloud.euclidean(points[$0], points[$1]) }
    }
    /// A full `count x count` row-major matrix.
    public init(count: Int, entries: [Double]) throws {
        guard count >= 1, entries.count == count * count else { throw TopologyError(description: "not a square matrix") }
        self.count = count; self.entries = entries
    }
    /// Distances from a function.
    public init(count: Int, distance: (Int, Int) -> Double) throws {
        guard count >= 1 else { throw TopologyError(description: "empty") }
        var e = [Double](repeating: 0, count: count * count)
        for i in 0..<count { for j in 0..<count where i != j { e[i * count + j] = distance(i, j) } }
        self.count = count; entries = e
    }
    /// The distance between points i and j.
    public subscript(i: Int, j: Int) -> Double { entries[i * count + j] }
}

/// Options of a Vietoris-Rips computation.
public struct RipsOptions: Sendable {
    /// Highest homology dimension.
    public var maxDimension: Int
    /// Prime of the coefficients.
    public var prime: Int
    /// Largest filtration value, nil for none.
    public var threshold: Double?
    /// Options from their parts.
    public init(maxDimension: Int = 1, prime: Int = 2, threshold: Double? = nil) {
        self.maxDimension = maxDimension; self.prime = prime; self.threshold = threshold
    }
}

/// Vietoris-Rips persistence (placeholder: dimension 0 by Kruskal's algorithm).
public enum VietorisRips {
    /// The diagrams of dimensions 0 through `options.maxDimension`.
    public static func diagrams(_ distances: DistanceMatrix, options: RipsOptions) throws -> [PersistenceDiagram] {
        guard options.maxDimension == 0 else { throw TopologyError(description: "dimensions above 0 are not built yet") }
        let n = distances.count
        var edges: [(Double, Int, Int)] = []
        for i in 0..<n { for j in (i + 1)..<n where options.threshold.map({ distances[i, j] <= $0 }) ?? true { edges.append((distances[i, j], i, j)) } }
        edges.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        var parent = Array(0..<n)
        func find(_ x: Int) -> Int { var x = x; while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }; return x }
        var pairs: [PersistencePair] = []
        for (d, i, j) in edges {
            let a = find(i), b = find(j)
            if a != b { parent[max(a, b)] = min(a, b); if d > 0 { pairs.append(PersistencePair(birth: 0, death: d)) } }
        }
        for i in 0..<n where find(i) == i { pairs.append(PersistencePair(birth: 0, death: nil)) }
        return [PersistenceDiagram(dimension: 0, pairs: pairs)]
    }
}
