// Learned geometry: neuron positions as trainable parameters in the model's store, with the
// regularizer's gradient through invert, permute, the inhibitor and the distance. Reference: docs/method.md 2.3.
import Geometry
import Linalg
import NN

/// Neuron positions learned end to end (docs/method.md 2.3): an `H x coordinateCount` slot in the same
/// `ParameterStore` as the weights, so the model's optimizer updates them.
///
/// Backward of `R = invert(permute(f(D)))` with `A = dPenalty/dR`:
/// ```
/// invert  R = max(P) - P:  dP = -A, plus sum(A) at the argmax of P (first maximum; like autograd)
/// permute P[k] = F[pi(k)]: dF[pi(k)] = dP[k]
/// f       F = f(D):        dD = f'(D) * dF
/// d       D[i][j] = d(x_i, y_j): dx_i += sum_j dD[i][j] grad_a d(x_i, y_j),
///                              dy_j += sum_i dD[i][j] grad_a d(y_j, x_i)     (y = x unless changeEmbed)
/// ```
/// The diagonal d(x, x) = 0 contributes nothing (subgradient 0; f'(0) = 0 for every inhibitor), so
/// coincident points never give NaN. After every optimizer step `project(in:)` maps the positions
/// back onto the space in place: the optimizer keeps tracking the same slot (unlike the authors'
/// bug 3 of docs/method.md section 7). Weight decay of the optimizer applies to this slot like any other.
public struct LearnedEmbedding: Sendable {
    /// Store name of the (row) positions.
    public static let positionsName = "moduli.positions"
    /// Store name of the column positions (only with `changeEmbed`).
    public static let columnPositionsName = "moduli.column_positions"

    /// The moduli space.
    public let space: any ModuliSpace
    /// N: number of neurons (the hidden size).
    public let count: Int
    /// The slot of the (row) positions, shape `[N, coordinateCount]`.
    public let positionsSlot: ParameterSlot
    /// The slot of the column positions with `changeEmbed`, else nil.
    public let columnPositionsSlot: ParameterSlot?
    /// Every slot of the learned positions (rows, then columns with changeEmbed).
    public var slots: [ParameterSlot] { [positionsSlot] + (columnPositionsSlot.map { [$0] } ?? []) }

    let inhibitor: Inhibitor
    let invert: Bool
    let permutation: [Int]?
    /// R from the last `computeCoefficients`, N * N.
    private(set) var coefficients: [Double]
    /// The embeddings of the last `computeCoefficients`.
    private var rows: NeuronEmbedding
    private var columns: NeuronEmbedding?
    /// f'(D) of the last `computeCoefficients`, N * N.
    private var slopes: [Double]
    /// Argmax of P (before inversion) at the last `computeCoefficients`.
    private var argmax = 0
    /// N * N work buffers.
    private var work: [Double]
    private var dDistances: Matrix<Double>

    /// Registers the positions in `store` (or reuses slots already registered under the same
    /// names with the right shape, keeping their values, e.g. when resuming), initialised from
    /// `rows` (and `columns`).
    init<S: BLASScalar>(
        rows: NeuronEmbedding, columns: NeuronEmbedding?, inhibitor: Inhibitor, invert: Bool,
        permutation: [Int]?, in store: ParameterStore<S>
    ) throws {
        let n = rows.count
        space = rows.space
        count = n
        self.inhibitor = inhibitor
        self.invert = invert
        self.permutation = permutation
        positionsSlot = try Self.register(Self.positionsName, rows.positions, in: store)
        columnPositionsSlot = try columns.map { try Self.register(Self.columnPositionsName, $0.positions, in: store) }
        self.rows = rows
        self.columns = columns
        coefficients = [Double](repeating: 0, count: n * n)
        slopes = [Double](repeating: 0, count: n * n)
        work = [Double](repeating: 0, count: permutation == nil ? 0 : n * n)
        dDistances = Matrix(rows: n, columns: n)
    }

    private static func register<S: BLASScalar>(
        _ name: String, _ positions: Matrix<Double>,
        in store: ParameterStore<S>
    ) throws -> ParameterSlot {
        let shape = [positions.rows, positions.columns]
        if let existing = store.slot(named: name) {
            guard store.info(existing).shape == shape else {
                throw RegularizerError.positionsShape(expected: shape, got: store.info(existing).shape)
            }
            return existing
        }
        let slot = store.add(name, shape: shape)
        let p = store.value(slot)
        for i in 0..<positions.count { p[i] = S(positions.scalars[i]) }
        return slot
    }

    /// The current (row) positions in the store, `N x coordinateCount`.
    public func positions<S: BLASScalar>(in store: ParameterStore<S>) -> Matrix<Double> {
        Self.read(positionsSlot, store)
    }

    /// The current column positions in the store (nil without `changeEmbed`).
    public func columnPositions<S: BLASScalar>(in store: ParameterStore<S>) -> Matrix<Double>? {
        columnPositionsSlot.map { Self.read($0, store) }
    }

    /// Maps every stored point back onto the space with `space.project` (torus: wrap into
    /// [0, side); sphere: re-normalise). Call after each optimizer step.
    public func project<S: BLASScalar>(in store: ParameterStore<S>) {
        let k = space.coordinateCount
        var point = [Double](repeating: 0, count: k)
        for slot in [positionsSlot] + (columnPositionsSlot.map { [$0] } ?? []) {
            let p = store.value(slot)
            point.withUnsafeMutableBufferPointer { q in
                for i in 0..<count {
                    for c in 0..<k { q[c] = Double(p[i * k + c]) }
                    space.project(q.baseAddress!)
                    for c in 0..<k { p[i * k + c] = S(q[c]) }
                }
            }
            store.valuesDidChange(slot)
        }
    }

    private static func read<S: BLASScalar>(_ slot: ParameterSlot, _ store: ParameterStore<S>) -> Matrix<Double> {
        let info = store.info(slot), p = store.value(slot)
        return Matrix(rows: info.rows, columns: info.columns) { r, c in Double(p[r * info.columns + c]) }
    }

    /// R = invert(permute(f(D))) from the positions now in the store, into `coefficients`, and
    /// f'(D) into `slopes` for the backward pass. With shared positions D is symmetric, so f and
    /// f' are evaluated once per unordered pair. Allocates the N x N distance matrix (through
    /// `NeuronEmbedding`).
    mutating func computeCoefficients<S: BLASScalar>(from store: ParameterStore<S>) {
        rows = NeuronEmbedding(space: space, positions: positions(in: store))
        columns = columnPositions(in: store).map { NeuronEmbedding(space: space, positions: $0) }
        let distances = columns.map { rows.distances(to: $0) } ?? rows.distanceMatrix()
        let f = inhibitor, n = count, symmetric = columns == nil, permutation = self.permutation
        distances.withUnsafeBufferPointer { d in
            slopes.withUnsafeMutableBufferPointer { fp in
                coefficients.withUnsafeMutableBufferPointer { r in
                    work.withUnsafeMutableBufferPointer { w in
                        // F = f(D) goes to `work` when a permutation follows, else straight into R.
                        let fv = permutation == nil ? r.baseAddress! : w.baseAddress!
                        if symmetric {
                            for i in 0..<n {
                                let (v, s) = f.valueAndDerivative(d[i * n + i])
                                fv[i * n + i] = v; fp[i * n + i] = s
                                for j in (i + 1)..<n {
                                    let (v, s) = f.valueAndDerivative(d[i * n + j])
                                    fv[i * n + j] = v; fv[j * n + i] = v
                                    fp[i * n + j] = s; fp[j * n + i] = s
                                }
                            }
                        } else {
                            for i in 0..<(n * n) { (fv[i], fp[i]) = f.valueAndDerivative(d[i]) }
                        }
                        if let permutation {
                            for i in 0..<(n * n) { r[i] = w[permutation[i]] }
                        }
                    }
                }
            }
        }
        if invert { argmax = CoefficientMath.invert(&coefficients) }
    }

    /// Adds dPenalty/dPositions into the store's gradients, given `dCoefficients` = dPenalty/dR
    /// (N * N) at the R of the last `computeCoefficients`.
    mutating func addPositionGradients<S: BLASScalar>(dCoefficients: [Double], into store: ParameterStore<S>) {
        let n = count * count, perm = permutation, inverted = invert, top = argmax
        // dF, then dD = f'(D) dF, into dDistances.
        dCoefficients.withUnsafeBufferPointer { a in
            slopes.withUnsafeBufferPointer { fp in
                dDistances.withUnsafeMutableBufferPointer { g in
                    work.withUnsafeMutableBufferPointer { scatter in
                        var total = 0.0
                        if inverted { for i in 0..<n { total += a[i] } }
                        // dP[k] = (inverted ? -A[k] + [k == argmax] sum(A) : A[k]).
                        @inline(__always) func dP(_ k: Int) -> Double {
                            inverted ? (k == top ? total - a[k] : -a[k]) : a[k]
                        }
                        if let perm {
                            for k in 0..<n { scatter[perm[k]] = dP(k) }
                            for i in 0..<n { g[i] = fp[i] * scatter[i] }
                        } else {
                            for i in 0..<n { g[i] = fp[i] * dP(i) }
                        }
                    }
                }
            }
        }
        let k = space.coordinateCount
        var dRows = Matrix<Double>(rows: count, columns: k)
        if let columns {
            var dColumns = Matrix<Double>(rows: count, columns: k)
            Self.crossBackward(rows: rows, columns: columns, dDistances: dDistances, dRows: &dRows, dColumns: &dColumns)
            Self.add(dColumns, to: columnPositionsSlot!, in: store)
        } else {
            rows.distanceMatrixBackward(dDistances, into: &dRows)
        }
        Self.add(dRows, to: positionsSlot, in: store)
    }

    /// Backward of `D = rows.distances(to: columns)`: dx_i += sum_j G_ij grad_a d(x_i, y_j),
    /// dy_j += sum_i G_ij grad_a d(y_j, x_i).
    private static func crossBackward(
        rows: NeuronEmbedding, columns: NeuronEmbedding, dDistances: Matrix<Double>,
        dRows: inout Matrix<Double>, dColumns: inout Matrix<Double>
    ) {
        let n = rows.count, k = rows.space.coordinateCount, s = rows.space
        var column = [Double](repeating: 0, count: n)
        rows.positions.withUnsafeBufferPointer { px in
            columns.positions.withUnsafeBufferPointer { py in
                dDistances.withUnsafeBufferPointer { g in
                    dRows.withUnsafeMutableBufferPointer { dx in
                        for i in 0..<n {
                            s.accumulateDistanceGradients(
                                from: px.baseAddress! + i * k, to: py.baseAddress!, stride: k,
                                count: n, weights: g.baseAddress! + i * n,
                                into: dx.baseAddress! + i * k)
                        }
                    }
                    dColumns.withUnsafeMutableBufferPointer { dy in
                        column.withUnsafeMutableBufferPointer { w in
                            for j in 0..<n {
                                for i in 0..<n { w[i] = g[i * n + j] }
                                s.accumulateDistanceGradients(
                                    from: py.baseAddress! + j * k, to: px.baseAddress!, stride: k,
                                    count: n, weights: w.baseAddress!,
                                    into: dy.baseAddress! + j * k)
                            }
                        }
                    }
                }
            }
        }
    }

    private static func add<S: BLASScalar>(_ m: Matrix<Double>, to slot: ParameterSlot, in store: ParameterStore<S>) {
        let g = store.gradient(slot)
        for i in 0..<m.count { g[i] += S(m.scalars[i]) }
    }
}
