// Vietoris-Rips persistence barcodes: H_0 by union-find over the edges (Kruskal), H_d for d >= 1 by
// persistent cohomology with clearing (de Silva, Morozov, Vejdemo-Johansson 2011; Chen and Kerber
// 2011) over an implicit coboundary with apparent and emergent pairs (Bauer, Ripser, 2021).

/// Persistence diagrams of the Vietoris-Rips filtration of a finite metric space: the simplex with
/// vertices S enters at diameter `max_{i,j in S} d(i, j)`.
public enum VietorisRips {
    /// The diagrams of dimensions `0...options.maxDimension`, in that order, with coefficients in
    /// Z/`options.prime`. Pairs of zero persistence (death == birth) are omitted, as ripser omits
    /// them; H_0 classes are born at 0, and without a threshold H_0 has exactly one class with death
    /// nil. With a threshold, only simplices of diameter <= threshold exist and the classes alive
    /// there have death nil. Throws `TopologyError` for invalid options or too many points for the
    /// simplex numbering (`C(count, maxDimension + 2)` must fit in an Int).
    public static func diagrams(_ distances: DistanceMatrix, options: RipsOptions) throws -> [PersistenceDiagram] {
        try options.validate()
        let n = distances.count
        guard n >= 1 else { throw TopologyError("the distance matrix is empty: give at least one point") }
        let top = options.maxDimension
        let numbering = try SimplexNumbering(vertexCount: n, largestK: top + 2)
        // Heap entries pack a simplex index and a coefficient: index << shift | coefficient.
        let shift = Int.bitWidth - (options.prime - 1).leadingZeroBitCount
        guard numbering.binomial(n, top + 2) <= Int.max >> shift else {
            throw TopologyError(
                """
                \(n) points are too many for dimension \(top) with Z/\(options.prime) coefficients: the simplex numbering needs \
                C(\(n), \(top + 2)) < 2^\(63 - shift); use fewer points (landmarks) or a lower maxDimension
                """
            )
        }
        let threshold = min(options.threshold ?? .infinity, enclosingRadius(distances))
        let p = options.prime
        var inverse = [Int](repeating: 0, count: p)
        inverse[1] = 1
        if p > 2 { for a in 2..<p { inverse[a] = (p - (p / a) * inverse[p % a] % p) % p } }

        // The full square matrix for the reduction (its rows are read contiguously): n^2 doubles,
        // needed from dimension 1 on.
        let (squareCount, overflow) = n.multipliedReportingOverflow(by: n)
        guard !overflow else {
            throw TopologyError("\(n) points are too many for a distance matrix: use fewer points (landmarks)")
        }
        var square = [Double](repeating: 0, count: top >= 1 ? squareCount : 0)
        if top >= 1 {
            var t = 0
            for i in 1..<max(n, 1) {
                for j in 0..<i {
                    square[i * n + j] = distances.lower[t]
                    square[j * n + i] = distances.lower[t]
                    t += 1
                }
            }
        }
        var result = [PersistenceDiagram]()
        square.withUnsafeBufferPointer { full in
            distances.lower.withUnsafeBufferPointer { dist in
                numbering.table.withUnsafeBufferPointer { binom in
                    let scratch = UnsafeMutablePointer<Int>.allocate(capacity: 64)
                    scratch.initialize(repeating: 0, count: 64)
                    let none = UnsafeMutablePointer<Double>.allocate(capacity: 1)  // one point: no distances
                    none.initialize(to: 0)
                    let noTable = UnsafeMutablePointer<Int>.allocate(capacity: 1)
                    noTable.initialize(to: 0)
                    defer { scratch.deallocate(); none.deallocate(); noTable.deallocate() }
                    var reducer = RipsReducer(
                        n: n, prime: p, shift: shift, threshold: threshold, dist: full.baseAddress ?? UnsafePointer(none),
                        binom: binom.baseAddress ?? UnsafePointer(noTable), inverse: inverse, scratch: scratch)

                    // H_0: Kruskal over the edges in filtration order (diameter ascending, index descending).
                    var edges = [FilteredSimplex]()
                    var k = 0
                    for i in 1..<max(n, 1) {
                        for _ in 0..<i {
                            if dist[k] <= threshold { edges.append(FilteredSimplex(diameter: dist[k], index: k)) }
                            k += 1
                        }
                    }
                    var ascending = edges
                    ascending.sort { $0.diameter < $1.diameter || ($0.diameter == $1.diameter && $0.index > $1.index) }
                    var components = UnionFind(count: n)
                    var pairs0 = [PersistencePair]()
                    var columns = [FilteredSimplex]()
                    for e in ascending {
                        let i = numbering.largestVertex(e.index, k: 2, below: n)
                        let j = e.index - numbering.binomial(i, 2)
                        if components.union(i, j) {
                            if e.diameter > 0 { pairs0.append(PersistencePair(birth: 0, death: e.diameter)) }
                        } else if top >= 1 {
                            scratch[56] = i; scratch[57] = j  // the edge's vertices, largest first
                            if reducer.zeroApparentCofacet(e.index, e.diameter, 1, vertices: scratch + 56) < 0 {
                                columns.append(e)
                            }
                        }
                    }
                    for v in 0..<n where components.find(v) == v { pairs0.append(PersistencePair(birth: 0, death: nil)) }
                    result.append(PersistenceDiagram(dimension: 0, pairs: pairs0))
                    ascending = []
                    columns.reverse()

                    // H_d, d >= 1: reduce, then the (d+1)-simplices not cleared are the next columns.
                    var simplices = edges
                    edges = []
                    if top >= 1 {
                        for d in 1...top {
                            var pairs = [PersistencePair]()
                            let pivots = reducer.reduce(columns, dimension: d, pairs: &pairs)
                            result.append(PersistenceDiagram(dimension: d, pairs: pairs))
                            if d < top {
                                let next = reducer.cofacetColumns(
                                    of: simplices, dimension: d, pivots: pivots,
                                    keepAll: d + 1 < top)
                                columns = next.columns
                                simplices = next.all
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// The enclosing radius `min_i max_j d(i, j)`: from there on the Rips complex is a cone (on the
    /// minimizing point), so every class of dimension >= 1 is dead and H_0 is one class; simplices
    /// beyond it change no diagram.
    static func enclosingRadius(_ distances: DistanceMatrix) -> Double {
        let n = distances.count
        if n < 2 { return 0 }
        var farthest = [Double](repeating: 0, count: n)
        var k = 0
        for i in 1..<n {
            for j in 0..<i {
                let d = distances.lower[k]
                if d > farthest[i] { farthest[i] = d }
                if d > farthest[j] { farthest[j] = d }
                k += 1
            }
        }
        return farthest.min() ?? 0
    }
}
