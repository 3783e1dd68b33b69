// Neurons ordered by their position on the moduli space (Geometry's NeuronOrdering), so that a
// sparsity pattern drawn in that order shows the geometry, and a 2-D chart of the space for
// scatter plots of the positions.
import Foundation
import Geometry
import Linalg

/// Orders neurons along their moduli space and draws their positions in two dimensions.
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
            return Chart(
                points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "x (unit circle)", yLabel: "y (unit circle)",
                xRange: -1.1...1.1, yRange: -1.1...1.1, description: "the unit vectors on the circle")
        case let s as Sphere where s.dimension == 2:
            return Chart(
                points: (0..<n).map { (atan2(p($0, 1), p($0, 0)), p($0, 2)) }, xLabel: "longitude atan2(y, x) (rad)",
                yLabel: "z (unit sphere)", xRange: -Double.pi...Double.pi, yRange: -1...1,
                description: "longitude against height (equal-area projection of the sphere)")
        case let t as FlatTorus:
            return Chart(
                points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "coordinate 1", yLabel: "coordinate 2",
                xRange: 0...t.side, yRange: 0...t.side,
                description: t.dimension == 2 ? "the fundamental square of the torus" : "the first two of \(t.dimension) torus coordinates")
        case let kb as KleinBottle:
            return Chart(
                points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "x", yLabel: "y",
                xRange: 0...kb.side, yRange: 0...kb.side, description: "the fundamental square of the Klein bottle")
        default:
            return Chart(
                points: (0..<n).map { (p($0, 0), p($0, 1)) }, xLabel: "coordinate 1", yLabel: "coordinate 2",
                xRange: nil, yRange: nil, description: "the first two coordinates")
        }
    }

    /// A permutation of 0..<N: the neurons in order along the space, by Geometry's
    /// `NeuronOrdering` (angle on the circle, a Hilbert curve on 2-D flat spaces, a greedy
    /// nearest-neighbour chain elsewhere), so reports draw W_hh in the order the sparse kernels use.
    public static func order(space: any ModuliSpace, positions: Matrix<Float>) -> [Int] {
        guard positions.columns == space.coordinateCount, positions.rows > 0 else { return Array(0..<positions.rows) }
        return NeuronOrdering.order(NeuronEmbedding(space: space, positions: positions.converted(to: Double.self)))
    }

    /// How `order` orders the neurons of `space`, in words.
    public static func describe(_ space: any ModuliSpace) -> String {
        switch NeuronOrdering.method(for: space) {
        case .angle: return "by angle on the circle"
        case .hilbert: return "along a Hilbert curve over the fundamental square"
        case .greedyChain: return "along a greedy nearest-neighbour chain under the \(space.name)'s distance"
        }
    }
}
