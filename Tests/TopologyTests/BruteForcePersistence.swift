// A test oracle: Vietoris-Rips persistence by the textbook algorithm (Edelsbrunner, Letscher and
// Zomorodian 2002; Zomorodian and Carlsson 2005): list every simplex, sort the filtration, build the
// full boundary matrix over Z/p and reduce it column by column (homology, no shortcuts).
import Topology

/// Persistence diagrams computed the slow, obvious way, for small point counts.
enum BruteForcePersistence {
    /// Diagrams of dimensions `0...maxDimension` of the Rips filtration of `d` (simplices of up to
    /// `maxDimension + 2` vertices, diameter <= `threshold`), with Z/`prime` coefficients; pairs of
    /// zero persistence omitted, essential classes with death nil.
    static func diagrams(
        _ d: DistanceMatrix, maxDimension: Int, prime: Int,
        threshold: Double = .infinity
    ) -> [PersistenceDiagram] {
        let n = d.count
        // Every simplex as an ascending vertex list, with its diameter.
        var simplices: [(vertices: [Int], diameter: Double)] = []
        func extend(_ s: [Int], _ diameter: Double) {
            if diameter > threshold { return }
            simplices.append((s, diameter))
            if s.count == maxDimension + 2 { return }
            for v in (s.last! + 1)..<max(n, s.last! + 1) {
                var dv = diameter
                for u in s { dv = max(dv, d[u, v]) }
                extend(s + [v], dv)
            }
        }
        for v in 0..<n { extend([v], 0) }
        // A filtration: by diameter, then dimension (faces first), then anything.
        simplices.sort { ($0.diameter, $0.vertices.count) < ($1.diameter, $1.vertices.count) }
        var position = [[Int]: Int]()
        for (i, s) in simplices.enumerated() { position[s.vertices] = i }
        // Columns: sparse boundaries {row: coefficient}, reduced left to right.
        var columns: [[Int: Int]] = simplices.map { s in
            var col = [Int: Int]()
            if s.vertices.count > 1 {
                for r in 0..<s.vertices.count {
                    var face = s.vertices
                    face.remove(at: r)
                    col[position[face]!] = r % 2 == 0 ? 1 : prime - 1
                }
            }
            return col
        }
        func inverse(_ a: Int) -> Int {
            var x = 1
            for _ in 0..<(prime - 2) { x = x * a % prime }
            return x
        }
        var lowOwner = [Int: Int]()  // pivot row -> column
        var paired = Set<Int>()
        var diagrams = (0...maxDimension).map { PersistenceDiagram(dimension: $0, pairs: []) }
        for j in 0..<columns.count {
            while let low = columns[j].keys.max(), let k = lowOwner[low] {
                let factor = (prime - columns[j][low]! * inverse(columns[k][low]!) % prime) % prime
                for (row, c) in columns[k] {
                    let v = ((columns[j][row] ?? 0) + factor * c) % prime
                    columns[j][row] = v == 0 ? nil : v
                }
            }
            if let low = columns[j].keys.max() {
                lowOwner[low] = j
                paired.insert(low); paired.insert(j)
                let dim = simplices[low].vertices.count - 1
                let birth = simplices[low].diameter, death = simplices[j].diameter
                if dim <= maxDimension && death > birth {
                    diagrams[dim].pairs.append(PersistencePair(birth: birth, death: death))
                }
            }
        }
        for (i, s) in simplices.enumerated() where !paired.contains(i) {
            let dim = s.vertices.count - 1
            if dim <= maxDimension { diagrams[dim].pairs.append(PersistencePair(birth: s.diameter, death: nil)) }
        }
        return diagrams
    }
}
