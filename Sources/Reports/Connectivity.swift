// What survived pruning in W_hh, seen through the geometry: the kept/pruned pattern with neurons in
// manifold order, and the kept fraction against the manifold distance between the two neurons.
// A random mask of the same sparsity keeps the same fraction at every distance (a flat line).
import Experiments
import Foundation
import Geometry
import Linalg
import NN

/// The recurrent weight's survivors of a run, with the geometry that explains them when there is one.
public struct Connectivity: Sendable {
    /// H, the hidden size.
    public let hiddenSize: Int
    /// kept[i * H + j]: whether W_hh[i][j] (post-synaptic i, pre-synaptic j) is non-zero.
    public let kept: [Bool]
    /// The tensor the pattern was read from (`rnn.weight_hh_l0`).
    public let tensorName: String
    /// The space of the run's regularizer, when it has one and it is known.
    public let space: (any ModuliSpace)?
    /// Row (post-synaptic) positions, H x coordinateCount, from positions.npy.
    public let rowPositions: Matrix<Float>?
    /// Column (pre-synaptic) positions: column_positions.npy when the run has them, else the row positions.
    public let columnPositions: Matrix<Float>?
    /// Why there is no geometry, when there is none.
    public let geometryNote: String?

    /// Fraction of all H^2 entries kept.
    public var keptFraction: Double { kept.isEmpty ? 0 : Double(kept.lazy.filter { $0 }.count) / Double(kept.count) }

    /// Reads W_hh from the run's model.safetensors and the positions and space of its regularizer.
    public init(run: ReportRun) throws {
        let modelURL = run.file("model.safetensors")
        guard FileManager.default.fileExists(atPath: modelURL.path) else {
            throw ExperimentError("\(run.path) has no model.safetensors")
        }
        let tensors = try ModelFiles.read(
            modelURL.path, maximumBytes: ReportRun.tensorBytes, missingHint: "",
            remedy: "Restore it from a copy, or train the run again: moduli train --config \(run.path)/config.json --out NEW_DIRECTORY."
        ).tensors
        let recurrent = tensors.filter { $0.name.contains("weight_hh") && $0.shape.count == 2 && $0.shape[0] == $0.shape[1] }
            .sorted { $0.name < $1.name }
        guard let w = recurrent.first else {
            throw ExperimentError("\(modelURL.path) holds no square recurrent weight (weight_hh_l0)")
        }
        hiddenSize = w.shape[0]
        tensorName = w.name
        kept = w.scalars.map { $0 != 0 }
        var note: String?
        var space: (any ModuliSpace)?
        var rows: Matrix<Float>?, columns: Matrix<Float>?
        switch run.regularizer.kind {
        case .none: note = "the run has no regularizer, so its neurons have no positions"
        case .standard: note = "the run's regularizer (plain L1/L2) has no neuron positions"
        case .geometric(let name):
            do {
                let s = try ModuliSpaces.named(name)
                if let p = try run.matrix("positions.npy") {
                    if p.rows == hiddenSize && p.columns == s.coordinateCount {
                        space = s; rows = p
                        columns = try run.matrix("column_positions.npy") ?? p
                        if let c = columns, c.rows != hiddenSize || c.columns != s.coordinateCount { columns = p }
                    } else {
                        note =
                            """
                            positions.npy has shape \(p.rows) x \(p.columns); \(name) with H = \(hiddenSize) needs \(hiddenSize) x \
                            \(s.coordinateCount)
                            """
                    }
                } else {
                    note = "the run directory has no positions.npy"
                }
            } catch {
                note = "this version does not know the space of the run: \(error)"
            }
        }
        self.space = space; rowPositions = rows; columnPositions = columns; geometryNote = note
    }

    /// A pattern from its parts (tests and callers that hold W_hh already).
    init(kept: [Bool], hiddenSize: Int, space: (any ModuliSpace)?, rowPositions: Matrix<Float>?, columnPositions: Matrix<Float>?) {
        self.kept = kept; self.hiddenSize = hiddenSize; tensorName = "weight_hh"; self.space = space
        self.rowPositions = rowPositions; self.columnPositions = columnPositions
        geometryNote = space == nil ? "no positions" : nil
    }

    /// Row and column orders: neurons along the space, or index order without geometry.
    public var orders: (rows: [Int], columns: [Int]) {
        guard let space, let r = rowPositions, let c = columnPositions else { return (Array(0..<hiddenSize), Array(0..<hiddenSize)) }
        return (NeuronOrder.order(space: space, positions: r), NeuronOrder.order(space: space, positions: c))
    }

    /// The pattern in manifold order, pooled into at most `maxCells` x `maxCells` cells: the kept
    /// fraction of each cell, row-major (rows = post-synaptic neurons), and the side in cells.
    public func pattern(maxCells: Int = 256) -> (cells: Int, fractions: [Double]) {
        let h = hiddenSize, n = min(h, max(1, maxCells))
        let (rowOrder, columnOrder) = orders
        var keptCount = [Int](repeating: 0, count: n * n), total = [Int](repeating: 0, count: n * n)
        let rowCell = (0..<h).map { $0 * n / h }
        for (ri, i) in rowOrder.enumerated() {
            let a = rowCell[ri]
            for (cj, j) in columnOrder.enumerated() {
                let k = a * n + rowCell[cj]
                total[k] += 1
                if kept[i * h + j] { keptCount[k] += 1 }
            }
        }
        return (n, zip(keptCount, total).map { $1 > 0 ? Double($0) / Double($1) : 0 })
    }

    /// The kept fraction over all pairs of a profile: what a random mask of equal sparsity keeps in every bin.
    public static func overallFraction(_ bins: [DistanceBin]) -> Double {
        let pairs = bins.map(\.pairs).reduce(0, +)
        return pairs > 0 ? Double(bins.map(\.kept).reduce(0, +)) / Double(pairs) : .nan
    }

    /// One bin of the distance profile.
    public struct DistanceBin: Sendable, Equatable {
        /// The bin's distance range [lower, upper).
        public var lower: Double, upper: Double
        /// Weight entries whose two neurons lie at a distance in the bin, and how many of them are kept.
        public var pairs: Int, kept: Int
        /// kept / pairs (NaN for an empty bin).
        public var fraction: Double { pairs > 0 ? Double(kept) / Double(pairs) : .nan }
    }

    /// The kept fraction of W_hh per bin of manifold distance d(x_i, y_j), `binCount` equal bins
    /// from 0 to the largest distance, over every entry whose two neurons are distinct: the
    /// diagonal (self-connections, at distance 0) is left out unless rows and columns have
    /// positions of their own (`changeEmbed`). Distances are recomputed from the positions with
    /// the space of the run's config.json. Nil without geometry.
    public func distanceProfile(binCount: Int = 20) -> [DistanceBin]? {
        guard let space, let r = rowPositions, let c = columnPositions, binCount > 0 else { return nil }
        let h = hiddenSize, k = space.coordinateCount
        let rows = r.scalars.map(Double.init), columns = c.scalars.map(Double.init)
        var distances = [Double](repeating: 0, count: h * h)
        rows.withUnsafeBufferPointer { pr in
            columns.withUnsafeBufferPointer { pc in
                distances.withUnsafeMutableBufferPointer { pd in
                    for i in 0..<h {
                        space.distances(
                            from: pr.baseAddress! + i * k, to: pc.baseAddress!, stride: k, count: h, into: pd.baseAddress! + i * h)
                    }
                }
            }
        }
        let largest = distances.filter(\.isFinite).max() ?? 0
        let top = largest > 0 ? largest : 1
        let width = top / Double(binCount)
        var bins = (0..<binCount).map { DistanceBin(lower: Double($0) * width, upper: Double($0 + 1) * width, pairs: 0, kept: 0) }
        let skipDiagonal = r == c
        for (e, d) in distances.enumerated() where d.isFinite && !(skipDiagonal && e / h == e % h) {
            let b = min(binCount - 1, max(0, Int(d / width)))
            bins[b].pairs += 1
            if kept[e] { bins[b].kept += 1 }
        }
        return bins
    }
}
