// An order of the neurons along the moduli space, so that neurons close on the manifold get close
// indices and a geometrically sparse W_hh becomes nearly block-banded (for block-sparse kernels).
// Reference: the Hilbert curve (D. Hilbert, 1891), index computed bit by bit from the top level.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Linalg

/// Orders of an embedding's neurons that keep neighbours on the space near each other in index.
///
/// `order(_:)` returns a permutation `p` of `0 ..< N`: new index k holds old neuron `p[k]`. It is
/// deterministic (ties broken by the old index) and chooses by space:
/// - circle: by angle `atan2(y, x)`, a 1-D order along the circle;
/// - 2-D flat torus, Klein bottle and 2-D Euclidean space: along a Hilbert curve over the
///   bounding box of the coordinates (2^16 cells a side), i.e. over the fundamental square;
/// - every other space (spheres, higher tori, products, R^n): a greedy nearest-neighbour chain under
///   the space's own distance, started at neuron 0 (O(N^2) distances; 4096 neurons take well under a second).
public enum NeuronOrdering {
    /// How an order was made.
    public enum Method: String, Sendable {
        /// By angle on a circle.
        case angle
        /// Along a Hilbert curve over two coordinates.
        case hilbert
        /// A greedy nearest-neighbour chain under the space's distance.
        case greedyChain
    }

    /// The method `order(_:)` uses for `space`.
    public static func method(for space: any ModuliSpace) -> Method {
        switch space {
        case is Circle: return .angle
        case let t as FlatTorus where t.dimension == 2: return .hilbert
        case is KleinBottle: return .hilbert
        case let e as EuclideanSpace where e.dimension == 2: return .hilbert
        default: return .greedyChain
        }
    }

    /// A permutation of the neurons that puts neurons close on the space close in index order.
    public static func order(_ embedding: NeuronEmbedding) -> [Int] {
        let p = embedding.positions
        switch method(for: embedding.space) {
        case .angle:
            let angles = (0..<p.rows).map { atan2(p[$0, 1], p[$0, 0]) }
            return (0..<p.rows).sorted { (angles[$0], $0) < (angles[$1], $1) }
        case .hilbert:
            return hilbertOrder(x: (0..<p.rows).map { p[$0, 0] }, y: (0..<p.rows).map { p[$0, 1] })
        case .greedyChain:
            return greedyChain(embedding)
        }
    }

    /// Points sorted along a Hilbert curve over their bounding box (2^16 cells a side); ties by index.
    public static func hilbertOrder(x: [Double], y: [Double]) -> [Int] {
        precondition(x.count == y.count, "hilbertOrder: \(x.count) x values, \(y.count) y values")
        let bits = 16, side = 1 << bits
        func cells(_ v: [Double]) -> [Int] {
            let lo = v.min() ?? 0, hi = v.max() ?? 0, width = hi - lo
            return v.map { width > 0 ? min(side - 1, max(0, Int(($0 - lo) / width * Double(side)))) : 0 }
        }
        let cx = cells(x), cy = cells(y)
        let keys = (0..<x.count).map { hilbertIndex(x: cx[$0], y: cy[$0], bits: bits) }
        return (0..<x.count).sorted { (keys[$0], $0) < (keys[$1], $1) }
    }

    /// Position of cell (x, y) along the Hilbert curve that fills a `2^bits x 2^bits` grid:
    /// from the top level down, each quadrant adds its rank (0 to 3) times the quadrant size, and
    /// the coordinates are reflected and swapped into the quadrant's own orientation.
    public static func hilbertIndex(x: Int, y: Int, bits: Int) -> Int {
        var x = x, y = y, d = 0
        let n = 1 << bits
        var s = n >> 1
        while s > 0 {
            let rx = (x & s) != 0 ? 1 : 0, ry = (y & s) != 0 ? 1 : 0
            d += s * s * ((3 * rx) ^ ry)
            if ry == 0 {
                if rx == 1 { x = n - 1 - x; y = n - 1 - y }
                swap(&x, &y)
            }
            s >>= 1
        }
        return d
    }

    /// A greedy chain: start at neuron 0, then repeatedly move to the nearest unvisited neuron
    /// (the lowest index among equally near ones).
    public static func greedyChain(_ embedding: NeuronEmbedding) -> [Int] {
        let n = embedding.count, k = embedding.space.coordinateCount, space = embedding.space
        guard n > 0 else { return [] }
        var order = [0], visited = [Bool](repeating: false, count: n)
        visited[0] = true
        var distances = [Double](repeating: 0, count: n)
        embedding.positions.withUnsafeBufferPointer { pp in
            let p = pp.baseAddress!
            var current = 0
            for _ in 1..<n {
                distances.withUnsafeMutableBufferPointer {
                    space.distances(from: p + current * k, to: p, stride: k, count: n, into: $0.baseAddress!)
                }
                var best = -1, bestDistance = Double.infinity
                for j in 0..<n where !visited[j] && (best < 0 || distances[j] < bestDistance) {
                    best = j; bestDistance = distances[j]
                }
                visited[best] = true
                order.append(best)
                current = best
            }
        }
        return order
    }

    /// The inverse permutation: `inverse[p[k]] = k` (old index to new index).
    public static func inverse(_ p: [Int]) -> [Int] {
        var q = [Int](repeating: 0, count: p.count)
        for (k, old) in p.enumerated() { q[old] = k }
        return q
    }

    /// A recurrent weight `(G * H) x H` with its neurons renumbered by `order` (new k = old `order[k]`):
    /// `out[g * H + a, b] = m[g * H + order[a], order[b]]` for every gate block g.
    public static func permuted<S: BLASScalar>(_ m: Matrix<S>, by order: [Int]) -> Matrix<S> {
        let h = m.columns
        precondition(
            order.count == h && m.rows % h == 0,
            "permuted: order of \(order.count) neurons for a \(m.rows) x \(m.columns) matrix")
        return Matrix(rows: m.rows, columns: h) { r, c in m[(r / h) * h + order[r % h], order[c]] }
    }
}
