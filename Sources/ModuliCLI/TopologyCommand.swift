// `moduli topology`: persistent homology (Vietoris-Rips barcodes) of a point cloud, a distance
// matrix, or a run's hidden states or neuron positions. Reference: docs/cli.md.
import ArgumentParser
import Experiments
import Foundation
import Topology

/// Where a run's point cloud comes from.
enum TopologySourceName: String, ExpressibleByArgument, CaseIterable {
    case hidden, positions
}

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract:
            """
            Persistent homology (Vietoris-Rips barcodes) of a point cloud, a distance matrix, or a run's hidden states or neuron \
            positions.
            """,
        discussion: """
            Input: --points FILE.npy (rows are points, float32 or float64; Euclidean distances), \
            --distances FILE.npy (a square matrix of pairwise distances), or a run directory with \
            --source: 'hidden' is the trained model's hidden states over its task's evaluation inputs \
            (navigation: the fixed evaluation trajectories; language: the test text; adding: the test \
            sequences), one point per time step and sequence with the hidden units as coordinates, \
            Euclidean distances, the first --max-states of them, and --landmarks 500 unless given; \
            'positions' is the neuron positions (positions.npy, the final ones of a learned \
            geometry), measured with the geodesic distance of the run's moduli space.
            --pca K projects the points onto their top K principal components first; --landmarks N \
            then keeps N points by max-min sampling (from point 0) and reports their covering radius.
            Prints the 5 longest bars of each dimension; --json prints \
            {"diagrams": [{"dimension": 0, "pairs": [[birth, death], ...]}, ...]} instead (death null \
            for a class that never dies), --out FILE writes that JSON to FILE.
            Examples: moduli topology --points torus.npy --max-dim 2
                      moduli topology runs/nav-torus --source hidden --pca 10 --json --out bars.json
            """)

    @Argument(help: "A finished run directory (with --source).") var runDirectory: String?
    @Option(help: "hidden (the hidden states over the task's evaluation inputs) or positions (the neuron positions).")
    var source: TopologySourceName?
    @Option(help: "A .npy file of points, one per row (float32 or float64).") var points: String?
    @Option(help: "A .npy file of a square matrix of pairwise distances (float32 or float64).") var distances: String?
    @Option(name: .customLong("max-dim"), help: "The highest homology dimension, 0 to 3.") var maxDim = 1
    @Option(help: "The prime p of the coefficients Z/p.") var coefficients = 2
    @Option(help: "Only distances up to this value enter the filtration (classes alive there never die).") var threshold: Double?
    @Option(
        help: "Keep this many points by max-min sampling first (default for --source hidden: \(TopologyInspection.defaultHiddenLandmarks))."
    )
    var landmarks: Int?
    @Option(help: "Project the points onto their top K principal components first.") var pca: Int?
    @Option(name: .customLong("max-states"), help: "With --source hidden: read at most this many hidden states (the first ones).")
    var maxStates = TopologyInspection.defaultMaximumStates
    @Flag(help: "Print the diagrams as JSON.") var json = false
    @Option(help: "Write the diagrams as JSON to this file (atomically).") var out: String?

    func validate() throws {
        let given = [runDirectory != nil, points != nil, distances != nil].filter { $0 }.count
        if given != 1 {
            throw ValidationError(
                "Give exactly one input: --points FILE.npy, --distances FILE.npy, or a run directory with --source hidden|positions.")
        }
        if runDirectory != nil && source == nil {
            throw ValidationError("A run directory needs --source hidden (its hidden states) or --source positions (its neuron positions).")
        }
        if runDirectory == nil && source != nil { throw ValidationError("--source applies to a run directory.") }
        if let out, out.isEmpty { throw ValidationError("--out names an empty path: give a file name.") }
    }

    func request() -> TopologyRequest {
        let input: TopologyInput
        if let points {
            input = .points(points)
        } else if let distances {
            input = .distances(distances)
        } else if source == .hidden {
            input = .hiddenStates(run: runDirectory ?? "")
        } else {
            input = .positions(run: runDirectory ?? "")
        }
        var r = TopologyRequest(input: input)
        r.maxDimension = maxDim; r.coefficients = coefficients; r.threshold = threshold; r.pca = pca
        r.landmarks = landmarks ?? (source == .hidden ? TopologyInspection.defaultHiddenLandmarks : nil)
        r.maximumStates = maxStates
        return r
    }

    func run() throws {
        let result = try TopologyInspection.compute(request())
        if json || out != nil {
            let data = try TopologyInspection.json(result.diagrams)
            if let out {
                try RunDirectory.writeAtomically(data, to: URL(fileURLWithPath: out))
            } else {
                FileHandle.standardOutput.write(data)
            }
            if json { return }
        }
        print(Self.table(result, coefficients: coefficients, longest: 5))
        if let out { print("JSON written to \(out)") }
    }

    /// The diagrams as a short table: per dimension the number of bars and the `longest` longest.
    static func table(_ r: TopologyResult, coefficients: Int, longest: Int) -> String {
        var lines = ["Vietoris-Rips persistence of \(r.source); metric: \(r.metric); coefficients Z/\(coefficients)"]
        if let v = r.explainedVariance { lines.append(String(format: "  PCA keeps %.1f%% of the variance", 100 * v)) }
        if let radius = r.coveringRadius {
            lines.append(String(format: "  %d landmarks of %d points (max-min), covering radius %.6g", r.usedCount, r.inputCount, radius))
        }
        func number(_ x: Double?) -> String { x.map { String(format: "%.6g", $0) } ?? "never" }
        for d in r.diagrams {
            let essential = d.pairs.filter { $0.death == nil }.count
            let bars = d.pairs.count == 1 ? "bar" : "bars"
            let never = essential > 0 ? " (\(essential) never dying)" : ""
            lines.append("H\(d.dimension): \(d.pairs.count) \(bars)\(never)\(d.pairs.isEmpty ? "" : "; the longest:")")
            for p in d.byPersistence.prefix(longest) {
                lines.append(
                    "  [" + number(p.birth) + ", " + number(p.death) + ")  length " + (p.death == nil ? "inf" : number(p.persistence)))
            }
        }
        return lines.joined(separator: "\n")
    }
}
