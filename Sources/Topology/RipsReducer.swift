// Persistent cohomology of a Vietoris-Rips filtration with clearing, an implicit coboundary and
// apparent and emergent pairs: the method of Bauer, "Ripser: efficient computation of Vietoris-Rips
// persistence barcodes" (J. Appl. Comput. Topol. 5, 2021), written afresh for this module.

/// A simplex of the filtration: its diameter and its index in the combinatorial numbering.
struct FilteredSimplex {
    /// The largest distance between two of its vertices (its filtration value).
    var diameter: Double
    /// Its index in the combinatorial number system (`SimplexNumbering`).
    var index: Int
}

/// The reduction engine for one distance matrix: enumerates cofacets and facets on the fly from the
/// combinatorial numbering, and reduces the coboundary matrix of each dimension column by column.
///
/// Conventions. The forward filtration orders the simplices of one dimension by (diameter
/// ascending, index descending); cohomology reduces columns in the reverse order (diameter
/// descending, index ascending). The pivot of a coboundary column is its entry earliest in the
/// forward filtration (`EntryHeap`'s top). A reduced column of the d-simplex s with pivot t gives
/// the pair [diam s, diam t) of H_d; a column reducing to zero gives [diam s, nil). Coefficients of
/// the coboundary: the cofacet obtained by inserting vertex j into s has coefficient (-1)^k, k the
/// number of vertices of s below j (the sign of s in the boundary of the cofacet).
///
/// Holds raw pointers into storage its caller keeps alive for the reducer's lifetime.
struct RipsReducer {
    /// The number of points.
    let n: Int
    /// The prime p of the coefficients.
    let prime: Int
    /// The bit width of p - 1: entries pack `index << shift | coefficient`.
    let shift: Int
    /// Only simplices of diameter <= threshold exist.
    let threshold: Double
    /// The full distance matrix, row-major (n x n): scanning the candidate vertices j of a
    /// cofacet reads a row contiguously, where the triangle would jump a row per step.
    let dist: UnsafePointer<Double>
    /// C(j, k) at k * (n + 1) + j.
    let binom: UnsafePointer<Int>
    /// Multiplicative inverses mod p (index 0 unused).
    let inverse: [Int]
    /// Vertex buffers: blocks of 8 (0: facet in `zeroApparentFacet`, 8: cofacet in
    /// `zeroApparentCofacet`, 16: coboundary enumeration, 24 and 32: column assembly, 40: decoding,
    /// 48: the emergent-pair check).
    let scratch: UnsafeMutablePointer<Int>

    /// The working coboundary of the column being reduced.
    var coboundary = EntryHeap()
    /// The working column of the reduction matrix (the simplices added, without the column's own).
    var reduction = EntryHeap()
    /// Cofacets gathered before they go into the heap (so the emergent-pair shortcut can skip it).
    var cofacets: [RipsEntry] = []

    /// The distance between vertices i and j.
    @inline(__always) func distance(_ i: Int, _ j: Int) -> Double { dist[i &* n &+ j] }

    /// The diameter of the cofacet that adds vertex `j` to the simplex of diameter `diameter` with
    /// vertices `vertices[0...d]`: the largest of `diameter` and the distances from `j` to them.
    @inline(__always) func cofacetDiameter(_ diameter: Double, vertices v: UnsafeMutablePointer<Int>, dimension d: Int, adding j: Int)
        -> Double
    {
        var cd = diameter
        var t = 0
        while t <= d {
            let x = distance(v[t], j)
            if x > cd { cd = x }
            t &+= 1
        }
        return cd
    }

    /// C(j, k).
    @inline(__always) func C(_ j: Int, _ k: Int) -> Int { binom[k &* (n &+ 1) &+ j] }

    /// Writes the vertices of the `d`-simplex `index` to `out`, largest first.
    @inline(__always) func decode(_ index: Int, _ d: Int, into out: UnsafeMutablePointer<Int>) {
        var rest = index
        var top = n
        var r = d
        while r >= 0 {
            let k = r &+ 1
            var lo = r, hi = top &- 1
            while lo < hi {
                let mid = (lo &+ hi &+ 1) >> 1
                if C(mid, k) <= rest { lo = mid } else { hi = mid &- 1 }
            }
            out[d &- r] = lo
            rest &-= C(lo, k)
            top = lo
            r &-= 1
        }
    }

    // MARK: Apparent pairs

    /// The cofacet of the `d`-simplex with vertices `v` (largest first), index `index` and diameter
    /// `diameter` that is earliest in the filtration if it has the same diameter (the pivot of the
    /// unreduced coboundary when that pivot has zero persistence); -1 otherwise. `added` receives
    /// the vertex inserted.
    @inline(__always) func zeroPivotCofacet(
        _ index: Int, _ diameter: Double, _ d: Int,
        _ v: UnsafeMutablePointer<Int>, added: inout Int
    ) -> Int {
        // j runs down from n - 1; `next` is the position in v of the next vertex of the simplex.
        var below = index, above = 0, j = n &- 1, k = d &+ 1, next = 0
        while j >= 0 {
            if next <= d && j == v[next] {
                below &-= C(j, k); above &+= C(j, k &+ 1); k &-= 1; next &+= 1; j &-= 1
                continue
            }
            var within = true
            var t = 0
            while t <= d {
                if distance(v[t], j) > diameter { within = false; break }
                t &+= 1
            }
            if within { added = j; return above &+ C(j, k &+ 1) &+ below }
            j &-= 1
        }
        return -1
    }

    /// The facet of the `d`-simplex with vertices `w` (largest first) and diameter `diameter` that
    /// is latest in the filtration if it has the same diameter; -1 otherwise. `removed` receives
    /// the position in `w` of the vertex left out, `sign` its coefficient in the boundary,
    /// (-1)^r for the removed vertex of ascending rank r, as 1 or p - 1.
    @inline(__always) func zeroPivotFacet(
        _ diameter: Double, _ d: Int, _ w: UnsafeMutablePointer<Int>,
        removed: inout Int, sign: inout Int
    ) -> Int {
        // Removing a larger vertex gives a smaller index: remove w[0] first, then w[1], ...
        var q = 0
        while q <= d {
            var equal = false
            var a = 0
            search: while a <= d {
                if a != q {
                    var b = a &+ 1
                    while b <= d {
                        if b != q && distance(w[a], w[b]) >= diameter { equal = true; break search }
                        b &+= 1
                    }
                }
                a &+= 1
            }
            if equal {
                var index = 0
                var t = 0
                while t <= d {
                    if t != q {
                        // ascending rank of w[t] in the facet
                        let rank = t < q ? d &- t &- 1 : d &- t
                        index &+= C(w[t], rank &+ 1)
                    }
                    t &+= 1
                }
                removed = q
                sign = ((d &- q) & 1) == 1 ? prime &- 1 : 1
                return index
            }
            q &+= 1
        }
        return -1
    }

    /// The d-simplex paired with the (d+1)-simplex `index` (vertices `w`, largest first, diameter
    /// `diameter`) in a zero apparent pair (it is the latest facet of that simplex, which is its
    /// earliest cofacet), with its coefficient in the simplex's boundary; nil when there is none.
    func zeroApparentFacet(
        _ index: Int, _ diameter: Double, _ dt: Int,
        vertices w: UnsafeMutablePointer<Int>
    ) -> (index: Int, sign: Int)? {
        var sign = 1, removed = 0
        let facet = zeroPivotFacet(diameter, dt, w, removed: &removed, sign: &sign)
        if facet < 0 { return nil }
        let v = scratch  // the facet's vertices: w without w[removed]
        var t = 0, u = 0
        while t <= dt {
            if t != removed { v[u] = w[t]; u &+= 1 }
            t &+= 1
        }
        var added = 0
        return zeroPivotCofacet(facet, diameter, dt &- 1, v, added: &added) == index ? (facet, sign) : nil
    }

    /// `zeroApparentFacet` for a simplex given by its index alone.
    func zeroApparentFacet(_ index: Int, _ diameter: Double, _ dt: Int) -> (index: Int, sign: Int)? {
        let w = scratch + 40
        decode(index, dt, into: w)
        return zeroApparentFacet(index, diameter, dt, vertices: w)
    }

    /// The (d+1)-simplex paired with the d-simplex `index` (vertices `v`, largest first, diameter
    /// `diameter`) in a zero apparent pair; -1 when there is none.
    func zeroApparentCofacet(
        _ index: Int, _ diameter: Double, _ d: Int,
        vertices v: UnsafeMutablePointer<Int>
    ) -> Int {
        var added = 0
        let cofacet = zeroPivotCofacet(index, diameter, d, v, added: &added)
        if cofacet < 0 { return -1 }
        let w = scratch + 8  // the cofacet's vertices: v with `added` inserted, largest first
        var t = 0, u = 0
        while t <= d && v[t] > added { w[u] = v[t]; u &+= 1; t &+= 1 }
        w[u] = added; u &+= 1
        while t <= d { w[u] = v[t]; u &+= 1; t &+= 1 }
        var sign = 1, removed = 0
        return zeroPivotFacet(diameter, d &+ 1, w, removed: &removed, sign: &sign) == index ? cofacet : -1
    }

    // MARK: Coboundaries

    /// Adds `coefficient` times the `d`-simplex (`index`, `diameter`) to the working reduction
    /// column and `coefficient` times its coboundary (cofacets within the threshold) to the working
    /// coboundary.
    mutating func addSimplexCoboundary(_ index: Int, _ diameter: Double, _ coefficient: Int, _ d: Int) {
        reduction.push(RipsEntry(diameter: diameter, index: index, coefficient: coefficient, shift: shift))
        let v = scratch + 16
        decode(index, d, into: v)
        let negated = prime &- coefficient
        var below = index, above = 0, j = n &- 1, k = d &+ 1, next = 0
        while j >= 0 {
            if next <= d && j == v[next] {  // a vertex of the simplex: skip it
                below &-= C(j, k); above &+= C(j, k &+ 1); k &-= 1; next &+= 1; j &-= 1
                continue
            }
            let cd = cofacetDiameter(diameter, vertices: v, dimension: d, adding: j)
            if cd <= threshold {
                coboundary.push(
                    RipsEntry(
                        diameter: cd, index: above &+ C(j, k &+ 1) &+ below,
                        coefficient: (k & 1) == 1 ? negated : coefficient, shift: shift))
            }
            j &-= 1
        }
    }

    /// Fills the working coboundary with the coboundary of column `column` (a `d`-simplex) and
    /// returns its pivot; returns early, with the heap left empty, when the column's first cofacet
    /// of equal diameter is no other column's pivot nor in an apparent pair (an emergent pair: that
    /// cofacet is the pivot and the column needs no reduction).
    mutating func initialPivot(_ column: FilteredSimplex, _ d: Int, _ pivots: PivotMap) -> RipsEntry? {
        cofacets.removeAll(keepingCapacity: true)
        let v = scratch + 16
        decode(column.index, d, into: v)
        var checkEmergent = true
        var below = column.index, above = 0, j = n &- 1, k = d &+ 1, next = 0
        while j >= 0 {
            if next <= d && j == v[next] {  // a vertex of the simplex: skip it
                below &-= C(j, k); above &+= C(j, k &+ 1); k &-= 1; next &+= 1; j &-= 1
                continue
            }
            let cd = cofacetDiameter(column.diameter, vertices: v, dimension: d, adding: j)
            if cd <= threshold {
                let e = RipsEntry(
                    diameter: cd, index: above &+ C(j, k &+ 1) &+ below,
                    coefficient: (k & 1) == 1 ? prime &- 1 : 1, shift: shift)
                if checkEmergent && cd == column.diameter {
                    let cofacet = e.index(shift)
                    if !pivots.contains(cofacet) {
                        let w = scratch + 48  // the cofacet's vertices: v with j inserted
                        var t = 0, u = 0
                        while t <= d && v[t] > j { w[u] = v[t]; u &+= 1; t &+= 1 }
                        w[u] = j; u &+= 1
                        while t <= d { w[u] = v[t]; u &+= 1; t &+= 1 }
                        if zeroApparentFacet(cofacet, cd, d &+ 1, vertices: w) == nil { return e }
                    }
                    checkEmergent = false
                }
                cofacets.append(e)
            }
            j &-= 1
        }
        for e in cofacets { coboundary.push(e) }
        return coboundary.pivot(prime: prime, shift: shift)
    }

    // MARK: Reduction

    /// Reduces the coboundary columns of the `d`-simplices `columns` (in reduction order: diameter
    /// descending, index ascending), appending the pairs of positive persistence and the essential
    /// classes of H_d to `pairs`; returns the pivots ((d+1)-simplices that are deaths), which the
    /// next dimension skips (clearing).
    mutating func reduce(
        _ columns: [FilteredSimplex], dimension d: Int,
        pairs: inout [PersistencePair]
    ) -> PivotMap {
        var pivots = PivotMap(expected: columns.count)
        var offsets = [Int]()
        offsets.reserveCapacity(columns.count + 1)
        offsets.append(0)
        var stored = [RipsEntry]()
        for ci in 0..<columns.count {
            let column = columns[ci]
            coboundary.removeAll()
            reduction.removeAll()
            var pivot = initialPivot(column, d, pivots)
            while true {
                guard let p = pivot else {
                    pairs.append(PersistencePair(birth: column.diameter, death: nil))
                    break
                }
                let pivotIndex = p.index(shift), pivotCoefficient = p.coefficient(shift)
                if let (other, otherCoefficient) = pivots.find(pivotIndex) {
                    // Cancel the pivot: add -c/c' times the reduced column with the same pivot.
                    let factor = (prime &- pivotCoefficient &* inverse[otherCoefficient] % prime) % prime
                    let added = columns[other]
                    addSimplexCoboundary(added.index, added.diameter, factor, d)
                    var t = offsets[other]
                    let end = offsets[other &+ 1]
                    while t < end {
                        let e = stored[t]
                        addSimplexCoboundary(e.index(shift), e.diameter, e.coefficient(shift) &* factor % prime, d)
                        t &+= 1
                    }
                    pivot = coboundary.pivot(prime: prime, shift: shift)
                } else if let (facet, sign) = zeroApparentFacet(pivotIndex, p.diameter, d &+ 1) {
                    // The pivot is the apparent cofacet of a skipped column, whose coboundary has
                    // this pivot with coefficient `sign` = +-1: add -c * sign times it.
                    let factor = sign == 1 ? prime &- pivotCoefficient : pivotCoefficient
                    addSimplexCoboundary(facet, p.diameter, factor, d)
                    pivot = coboundary.pivot(prime: prime, shift: shift)
                } else {
                    if p.diameter > column.diameter {
                        pairs.append(PersistencePair(birth: column.diameter, death: p.diameter))
                    }
                    pivots.insert(pivotIndex, column: ci, coefficient: pivotCoefficient)
                    while let e = reduction.popPivot(prime: prime, shift: shift) { stored.append(e) }
                    break
                }
            }
            offsets.append(stored.count)
        }
        return pivots
    }

    // MARK: Columns

    /// The (d+1)-simplices within the threshold, from the `d`-simplices `simplices`: as columns to
    /// reduce (those neither a pivot of dimension d, cleared, nor in a zero apparent pair), sorted
    /// in reduction order, and, when `keepAll`, all of them (the next dimension's `simplices`).
    func cofacetColumns(
        of simplices: [FilteredSimplex], dimension d: Int, pivots: PivotMap,
        keepAll: Bool
    ) -> (columns: [FilteredSimplex], all: [FilteredSimplex]) {
        var columns = [FilteredSimplex]()
        var all = [FilteredSimplex]()
        let v = scratch + 24, w = scratch + 32
        for s in simplices {
            decode(s.index, d, into: v)
            for t in 0...d { w[t &+ 1] = v[t] }
            var j = v[0] &+ 1
            while j < n {
                let cd = cofacetDiameter(s.diameter, vertices: v, dimension: d, adding: j)
                if cd <= threshold {
                    let index = s.index &+ C(j, d &+ 2)
                    if keepAll { all.append(FilteredSimplex(diameter: cd, index: index)) }
                    w[0] = j  // the cofacet's vertices: j, then those of s
                    if !pivots.contains(index) && zeroApparentFacet(index, cd, d &+ 1, vertices: w) == nil
                        && zeroApparentCofacet(index, cd, d &+ 1, vertices: w) < 0
                    {
                        columns.append(FilteredSimplex(diameter: cd, index: index))
                    }
                }
                j &+= 1
            }
        }
        columns.sort { $0.diameter > $1.diameter || ($0.diameter == $1.diameter && $0.index < $1.index) }
        return (columns, all)
    }
}
