// `moduli topology`: Vietoris-Rips persistent homology of a point cloud, a distance matrix, or a
// run's hidden states or neuron positions. Reference: docs/cli.md ("moduli topology").
import Foundation
import Formats
import Geometry
import Linalg
import Sparsity
import Topology

/// Where the points of a persistence computation come from.
public enum TopologyInput: Sendable, Equatable {
    /// A `.npy` file of points, one per row (float32 or float64): Euclidean distances.
    case points(String)
    /// A `.npy` file of a square distance matrix (float32 or float64).
    case distances(String)
    /// A run's hidden states over its task's evaluation inputs (one point per time step and
    /// sequence, the hidden units as coordinates): Euclidean distances.
    case hiddenStates(run: String)
    /// A run's neuron positions (positions.npy, the final ones of a learned embedding) with the
    /// geodesic distance of its moduli space.
    case positions(run: String)
}

/// What `moduli topology` computes.
public struct TopologyRequest: Sendable {
    /// The points.
    public var input: TopologyInput
    /// The highest homology dimension (0 to 3).
    public var maxDimension = 1
    /// The prime p of the coefficients Z/p.
    public var coefficients = 2
    /// The largest distance of the filtration (nil: none).
    public var threshold: Double?
    /// Max-min landmarks to keep (nil: every point).
    public var landmarks: Int?
    /// Project the points onto their top principal components first (nil: no projection).
    public var pca: Int?
    /// The most hidden states read from a run (the first ones, in evaluation order).
    public var maximumStates = TopologyInspection.defaultMaximumStates

    /// A request for `input` with the defaults.
    public init(input: TopologyInput) { self.input = input }
}

/// What `moduli topology` found.
public struct TopologyResult: Sendable {
    /// The diagrams, dimension 0 up to the maximum.
    public var diagrams: [PersistenceDiagram]
    /// What the cloud was, in words (e.g. "20000 hidden states (256 units) of runs/x").
    public var source: String
    /// Points in the input, and the points the diagrams are of (the landmarks, when sampled).
    public var inputCount: Int, usedCount: Int
    /// The covering radius of the landmarks (nil without sampling).
    public var coveringRadius: Double?
    /// The fraction of the total variance the PCA projection keeps (nil without it).
    public var explainedVariance: Double?
    /// The metric, in words.
    public var metric: String
}

/// Loads the points, samples landmarks, projects, and computes Vietoris-Rips persistence.
public enum TopologyInspection {
    /// The default number of landmarks for a run's hidden states.
    public static let defaultHiddenLandmarks = 500
    /// The default number of hidden states read from a run.
    public static let defaultMaximumStates = 20_000
    /// The largest `.npy` file read (points or distances).
    public static let maximumFileBytes = 1 << 31

    /// Computes the diagrams `request` asks for. Every bad input is an `ExperimentError` that names
    /// the option or file and what to do.
    public static func compute(_ request: TopologyRequest) throws -> TopologyResult {
        try validate(request)
        let options = RipsOptions(maxDimension: request.maxDimension, prime: request.coefficients, threshold: request.threshold)
        var cloud: [[Double]]
        var source: String, metric = "Euclidean"
        var space: (any ModuliSpace)?
        switch request.input {
        case .distances(let path):
            guard request.pca == nil else {
                throw ExperimentError("--pca needs coordinates: a distance matrix has none. Give the points with --points, or drop --pca.")
            }
            let array = try readArray(path, what: "--distances")
            guard array.rows == array.columns, array.rows >= 1 else {
                throw ExperimentError(
                    """
                    \(path) holds a \(array.rows) x \(array.columns) matrix: --distances needs a square matrix of pairwise distances \
                    (n x n, n >= 1).
                    """
                )
            }
            let n = array.rows
            // The whole matrix is checked (square, finite, non-negative, symmetric, zero diagonal)
            // before landmarks are chosen from it.
            let full = try topology(path) { try DistanceMatrix(count: n, entries: array.values) }
            var matrix = full, radius: Double?
            if let wanted = request.landmarks, wanted < n {
                let selection = try topology { try Landmarks.maxMin(count: wanted, of: n) { full[$0, $1] } }
                let indices = selection.indices
                matrix = try topology(path) { try DistanceMatrix(count: indices.count) { full[indices[$0], indices[$1]] } }
                radius = selection.coveringRadius
            }
            let diagrams = try topology { try VietorisRips.diagrams(matrix, options: options) }
            return TopologyResult(
                diagrams: diagrams, source: "the \(n) x \(n) distance matrix \(path)", inputCount: n,
                usedCount: matrix.count, coveringRadius: radius, explainedVariance: nil, metric: "the given distances")
        case .points(let path):
            let array = try readArray(path, what: "--points")
            guard array.rows >= 1, array.columns >= 1 else {
                throw ExperimentError(
                    """
                    \(path) holds a \(array.rows) x \(array.columns) array: --points needs at least one point (a row) of at least one \
                    coordinate.
                    """
                )
            }
            cloud = (0..<array.rows).map { Array(array.values[($0 * array.columns)..<(($0 + 1) * array.columns)]) }
            source = "\(array.rows) points in R^\(array.columns) from \(path)"
        case .hiddenStates(let run):
            let task = try TaskRegistry.task(ofRunAt: run)
            let states = try task.hiddenStates(runAt: run, maximumRows: request.maximumStates)
            guard states.rows >= 1 else {
                throw ExperimentError("\(run): its \(task.name) task gave no hidden states over its evaluation inputs.")
            }
            try requireMemory(
                Double(states.rows) * Double(states.columns) * 12, what: "\(states.rows) hidden states of \(states.columns) units",
                reduce: "--max-states")
            cloud = (0..<states.rows).map { r in (0..<states.columns).map { Double(states.scalars[r * states.columns + $0]) } }
            source = "\(states.rows) hidden states (\(states.columns) units) of the \(task.name) run \(run)"
        case .positions(let run):
            let task = try TaskRegistry.task(ofRunAt: run)
            guard let embedding = try task.embedding(runAt: run) else {
                throw ExperimentError(
                    """
                    \(run) was trained without a geometric regularizer: its neurons have no positions. Use --source hidden, or a run \
                    trained with --moduli.
                    """
                )
            }
            guard request.pca == nil else {
                throw ExperimentError(
                    """
                    --pca applies to Euclidean clouds; the positions of \(run) are points of the \(embedding.space.name) space, \
                    measured with its own metric. Drop --pca.
                    """
                )
            }
            cloud = (0..<embedding.count).map(embedding.position)
            space = embedding.space
            metric = "the geodesic distance of the \(embedding.space.name) space"
            source = "the \(embedding.count) neuron positions on the \(embedding.space.name) space of \(run)"
        }
        try topology("the points") { try PointCloud.validate(cloud) }
        let inputCount = cloud.count
        var explained: Double?
        if let k = request.pca {
            guard k <= cloud[0].count else {
                throw ExperimentError(
                    """
                    --pca \(k) asks for more dimensions than the \(cloud[0].count) coordinates of the points: choose at most \
                    \(cloud[0].count).
                    """
                )
            }
            let pca = try topology { try PrincipalComponents(points: cloud, count: k) }
            cloud = try topology { try pca.project(cloud) }
            explained = pca.totalVariance > 0 ? pca.variances.reduce(0, +) / pca.totalVariance : 1
            source += ", projected onto its top \(k) principal components"
        }
        var radius: Double?
        if let wanted = request.landmarks, wanted < cloud.count {
            let points = cloud
            let selection: LandmarkSelection
            if let space {
                selection = try topology {
                    try Landmarks.maxMin(count: wanted, of: points.count) { space.distance(points[$0], points[$1]) }
                }
            } else {
                selection = try topology { try Landmarks.maxMin(points, count: wanted) }
            }
            cloud = selection.indices.map { points[$0] }
            radius = selection.coveringRadius
        }
        try requireDistanceMemory(cloud.count)
        let points = cloud
        let matrix = try topology {
            if let space { return try DistanceMatrix(count: points.count) { space.distance(points[$0], points[$1]) } }
            return try DistanceMatrix(points: points)
        }
        let diagrams = try topology { try VietorisRips.diagrams(matrix, options: options) }
        return TopologyResult(
            diagrams: diagrams, source: source, inputCount: inputCount, usedCount: cloud.count,
            coveringRadius: radius, explainedVariance: explained, metric: metric)
    }

    /// The diagrams as JSON, exactly `{"diagrams": [{"dimension": 0, "pairs": [[birth, death], ...]}, ...]}`
    /// with `death` null for a class that never dies; pairs sorted by birth, then death (never last).
    public static func json(_ diagrams: [PersistenceDiagram]) throws -> Data {
        DiagramFile.encode(
            diagrams.map { d in
                PersistenceDiagram(
                    dimension: d.dimension,
                    pairs: d.pairs.sorted { ($0.birth, $0.death ?? .infinity) < ($1.birth, $1.death ?? .infinity) })
            })
    }

    /// Checks the options before any file is read; errors name the option.
    static func validate(_ r: TopologyRequest) throws {
        try require(
            (0...RipsOptions.largestDimension).contains(r.maxDimension),
            "--max-dim must be between 0 and \(RipsOptions.largestDimension), got \(r.maxDimension).")
        try require(
            r.coefficients >= 2 && r.coefficients <= RipsOptions.largestPrime && RipsOptions.isPrime(r.coefficients),
            """
            --coefficients must be a prime number (2, 3, 5, ...; at most \(RipsOptions.largestPrime)), got \(r.coefficients): \
            homology is computed over the field Z/p.
            """
        )
        if let t = r.threshold { try require(t.isFinite && t >= 0, "--threshold must be a non-negative finite distance, got \(t).") }
        if let l = r.landmarks { try require(l >= 1 && l <= 1_000_000, "--landmarks must be between 1 and 1000000, got \(l).") }
        if let k = r.pca {
            try require(
                k >= 1 && k <= PrincipalComponents.maximumCoordinates,
                "--pca must be between 1 and \(PrincipalComponents.maximumCoordinates), got \(k).")
        }
        try require(
            r.maximumStates >= 1 && r.maximumStates <= 10_000_000, "--max-states must be between 1 and 10000000, got \(r.maximumStates).")
    }

    /// The array of a `.npy` file of at most `maximumFileBytes`; errors name the file and option.
    static func readArray(_ path: String, what: String) throws -> NPYFile.DoubleArray {
        let data = try RunDirectory.readFile(
            atPath: path, maximumBytes: maximumFileBytes,
            hint: "\(what) names a .npy file (NumPy: numpy.save(path, array)).")
        // The Doubles take up to twice the file's float32 bytes, next to the file's bytes.
        try requireMemory(
            3 * Double(data.count), what: "Reading \(path)", reduce: "the file (fewer points, or landmarks chosen before saving)")
        do { return try NPYFile.decodeDoubles(data) } catch {
            throw ExperimentError("\(path) cannot be read as \(what): \(error). Save a 2-D float32 or float64 array with numpy.save.")
        }
    }

    /// The distances of `n` points take about `12 n^2` bytes: the stored lower triangle (`4 n^2`)
    /// and the full square copy the reduction reads from dimension 1 on (`8 n^2`).
    static func requireDistanceMemory(_ n: Int) throws {
        try requireMemory(12 * Double(n) * Double(n), what: "The distance matrix of \(n) points", reduce: "the points with --landmarks")
    }

    /// Runs `body`, turning a `TopologyError` into an `ExperimentError` (prefixed by `context`).
    static func topology<T>(_ context: String? = nil, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as TopologyError {
            throw ExperimentError(context.map { "\($0): \(e.description)" } ?? e.description)
        }
    }
}
