// Neurons ordered by their position on the moduli space, so that a sparsity pattern drawn in that
// order shows the geometry: by angle on the circle, along a Hilbert curve through a 2-D chart of
// the space otherwise. Also the 2-D chart itself, for scatter plots of the positions.
import Foundation
import Geometry
import Linalg

/// Orders neurons along their moduli space.
public enum NeuronOrder {
    /// A 2-D picture of positions on a space: coordinates per neuron and the axis labels.
    public struct Chart: Sendable {
        /// (u, v) per neuron.
        public var points: [(x: Double, y: Double)]
        /// Axis labels with units.
        public var xLabel: String, yLabel: String
        /// The chart's fixed extent, when the space has one (the torus's square, the circle's disc).
        public var xRange: ClosedRange<Double>?, yRange: ClosedRange<Double>?
        /// How the chart was made, in words.
        public var description: String
    }

    /// The 2-D chart of `positions` (N x coordinateCount) on `space`:
    /// - circle: the unit vectors themselves (x, y);
    /// - sphere S^2: longitude atan2(y, x) against z (equal-area cylindrical projection);
    /// - torus, Klein bottle: the fundamental square [0, L)^2;
    /// - anything else: the first two coordinates.
    public static func chart(space: any ModuliSpace, positions: Matrix<Float>) -> Chart {
        let n = positions.rows, k = positions.columns
        func p(_ i: Int, _ c: Int) -> Double { c < k ? Double(positions[i, c]) : 0 }
        switch space {
        case is Circle:
            return Chart(points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "x (unit circle)", yLabel: "y (unit circle)",
                         xRange: -1.1...1.1, yRange: -1.1...1.1, description: "the unit vectors on the circle")
        case let s as Sphere where s.dimension == 2:
            return Chart(points: (0..<n).map { (atan2(p($0, 1), p($0, 0)), p($0, 2)) }, xLabel: "longitude atan2(y, x) (rad)",
                         yLabel: "z (unit sphere)", xRange: -Double.pi...Double.pi, yRange: -1...1,
                         description: "longitude against height (equal-area projection of the sphere)")
        case let t as FlatTorus:
            return Chart(points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "coordinate 1", yLabel: "coordinate 2",
                         xRange: 0...t.side, yRange: 0...t.side,
                         description: t.dimension == 2 ? "the fundamental square of the torus" : "the first two of \(t.dimension) torus coordinates")
        case let kb as KleinBottle:
            return Chart(points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "x", yLabel: "y",
                         xRange: 0...kb.side, yRange: 0...kb.side, description: "the fundamental square of the Klein bottle")
        default:
            return Chart(points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "coordinate 1", yLabel: "coordinate 2",
                         xRange: nil, yRange: nil, description: "the first two coordinates")
        }
    }

    /// A permutation of 0..<N: the neurons in order along the space. Circle: by angle from -pi.
    /// Otherwise by the index of each neuron's chart point on a Hilbert curve of 1024 x 1024 cells
    /// over the chart's extent (neighbours on the curve are neighbours in the chart). Ties keep
    /// index order.
    public static func order(space: any ModuliSpace, positions: Matrix<Float>) -> [Int] {
        let c = chart(space: space, positions: positions)
        if space is Circle {
            let angles = c.points.map { atan2($0.y, $0.x) }
            return angles.indices.sorted { (angles[$0], $0) < (angles[$1], $1) }
        }
        return hilbertOrder(c.points, xRange: c.xRange, yRange: c.yRange)
    }

    /// The indices of `points` sorted by their Hilbert-curve index over the given (or the points') extent.
    public static func hilbertOrder(_ points: [(x: Double, y: Double)], xRange: ClosedRange<Double>? = nil,
                                    yRange: ClosedRange<Double>? = nil) -> [Int] {
        let side = 1024
        func extent(_ v: [Double], _ fixed: ClosedRange<Double>?) -> (Double, Double) {
            if let fixed { return (fixed.lowerBound, fixed.upperBound) }
            let finite = v.filter(\.isFinite)
            return (finite.min() ?? 0, finite.max() ?? 1)
        }
        let (x0, x1) = extent(points.map(\.x), xRange), (y0, y1) = extent(points.map(\.y), yRange)
        func cell(_ v: Double, _ lo: Double, _ hi: Double) -> Int {
            guard v.isFinite, hi > lo else { return 0 }
            return min(side - 1, max(0, Int((v - lo) / (hi - lo) * Double(side))))
        }
        let keys = points.map { hilbertIndex(side: side, x: cell($0.x, x0, x1), y: cell($0.y, y0, y1)) }
        return keys.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
    }

    /// The position of cell (x, y) along the Hilbert curve filling a `side` x `side` grid (side a power of 2).
    static func hilbertIndex(side: Int, x: Int, y: Int) -> Int {
        var x = x, y = y, d = 0, s = side / 2
        while s > 0 {
            let rx = (x & s) > 0 ? 1 : 0, ry = (y & s) > 0 ? 1 : 0
            d += s * s * ((3 * rx) ^ ry)
            if ry == 0 {  // rotate the quadrant so that the curve's pieces join
                if rx == 1 { x = side - 1 - x; y = side - 1 - y }
                swap(&x, &y)
            }
            s /= 2
        }
        return d
    }
}
