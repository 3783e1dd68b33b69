// Neuron elimination by linear dependence: a hidden unit whose activations are (nearly) a linear
// combination of other units' is removed and its outgoing weights folded into theirs. Reference:
// Shah, Olivier, Raj, "Exploiting Non-Linear Redundancy for Neural Model Compression", arXiv
// 2005.14070; docs/method.md "Neuron elimination".
import Linalg
import NN

/// A hidden unit's activations regressed on other units' over a batch of hidden states:
/// a_unit ~ sum_k coefficients[k] a_{others[k]} + intercept, by least squares.
public struct LinearDependence: Sendable, Equatable {
    /// The unit regressed.
    public var unit: Int
    /// The units it is regressed on, in increasing order.
    public var others: [Int]
    /// One coefficient per entry of `others`.
    public var coefficients: [Double]
    /// The constant term (0 for a regression without intercept).
    public var intercept: Double
    /// ||a_unit - fit|| / ||a_unit|| (0 for a unit whose activations are all zero).
    public var relativeResidual: Double

    /// A dependence from its parts.
    public init(unit: Int, others: [Int], coefficients: [Double], intercept: Double, relativeResidual: Double) {
        self.unit = unit; self.others = others; self.coefficients = coefficients; self.intercept = intercept
        self.relativeResidual = relativeResidual
    }
}

/// A weight that reads the hidden units through its columns: W `rows x (blocks * H)`, with the bias
/// (one entry per row) that takes the intercept of a folded unit.
public struct HiddenUnitConsumer: Sendable, Equatable {
    /// The weight (W_hh, the next layer's W_ih, a decoder's or head's weight).
    public var weight: ParameterSlot
    /// Blocks of H columns (1 for every consumer of the networks here).
    public var blocks: Int
    /// The bias added to W's product: for W_hh the layer's `bias_hh` (for a GRU it sits inside r *
    /// (W_hn h + b_hn), where the hidden state's contribution is), for a next layer's W_ih its
    /// `bias_ih`, for a linear layer its bias; nil where there is none.
    public var bias: ParameterSlot?

    /// A consumer from its parts.
    public init(weight: ParameterSlot, blocks: Int = 1, bias: ParameterSlot?) {
        self.weight = weight; self.blocks = blocks; self.bias = bias
    }
}

/// What `NeuronElimination.eliminate` did: the units it folded, in order, and why it stopped.
public struct EliminationOutcome: Sendable, Equatable {
    /// Why the elimination stopped before the tolerance did.
    public enum Stop: String, Sendable, Equatable, Codable {
        /// The states after a fold (or before any) were not all finite.
        case nonFiniteStates
        /// A fold moved the remaining units' states too far from where they were at the start.
        case drift
    }

    /// The folded dependences in the order the units were removed.
    public var removed: [LinearDependence] = []
    /// The relative change of the remaining units' states after the last kept fold (0 without one).
    public var drift = 0.0
    /// Why the elimination stopped early; nil when no unit was left within the tolerance.
    public var stop: Stop?
    /// The fold that was undone when `stop` is set after a fold.
    public var undone: LinearDependence?
}

/// Regression, fold and the elimination loop.
///
/// What the fold preserves: the consumers of hidden unit j read a_j only through W[:, j]; replacing
/// a_j by sum_k c_k a_k + c_0 gives W[:, k] += c_k W[:, j] and bias += c_0 W[:, j], after which
/// W[:, j] is zero and unit j is dead (`ParameterStore.deadHiddenUnits`). The network's function is
/// unchanged exactly where the dependence is exact on every state a consumer reads: every h_t
/// consumed by W_hh (including the initial state h0) and by the read-out. For an LSTM the consumers
/// of h_j are W_hh's columns (all four gate blocks) and the read-out; the cell state c_j is internal
/// to unit j and goes with it. For a GRU h_j also enters its own update z * h_{t-1}, but that is
/// unit j's own row, which goes with it.
public enum NeuronElimination {
    /// The regression of `unit` on `others` (columns of `states`, `N x H`): least squares in Double
    /// (Householder QR with column pivoting on columns scaled to unit norm; a regressor within
    /// `rankTolerance` of the span of the ones before it gets coefficient 0), with a constant term
    /// when `intercept`.
    public static func dependence(
        of unit: Int, on others: [Int], states: Matrix<Double>, intercept: Bool, rankTolerance: Double = 1e-10
    ) -> LinearDependence {
        let n = states.rows
        var columns = others.map { k in (0..<n).map { states[$0, k] } }
        if intercept { columns.append([Double](repeating: 1, count: n)) }
        let target = (0..<n).map { states[$0, unit] }
        let (x, residual) = leastSquares(columns: columns, rows: n, target: target, rankTolerance: rankTolerance)
        let norm = (target.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return LinearDependence(
            unit: unit, others: others, coefficients: Array(x.prefix(others.count)),
            intercept: intercept ? x[others.count] : 0, relativeResidual: norm > 0 ? residual / norm : 0)
    }

    /// The regression of every unit of `units` on the other units of `units` (columns of `states`,
    /// `N x H`), all at once from the Gram matrix: with the columns scaled to unit norm, G = A^T A
    /// (one BLAS product) and M = (G + ridge I)^-1 (Cholesky), unit j's coefficients are
    /// c_k = -M_kj / M_jj, the least-squares solution with a tiny ridge penalty `ridge ||c||^2` that
    /// makes it unique where the other units are themselves dependent (it is then the fit of least
    /// norm; the fitted values are those of least squares), and its residual is
    /// ||a_j - A c||^2 = g_jj - 2 c^T g_j + c^T G c. O(N K^2 + K^3) for all K units together. Residuals
    /// below about 1e-8 are at the rounding floor of this form; `dependence(of:on:states:intercept:)`
    /// solves one regression by QR to full precision.
    public static func dependences(
        states: Matrix<Double>, units: [Int], intercept: Bool, ridge: Double = 1e-12
    ) -> [LinearDependence] {
        let n = units.count + (intercept ? 1 : 0), rows = states.rows
        var a = Matrix<Double>(rows: rows, columns: n)
        for r in 0..<rows {
            for (c, unit) in units.enumerated() { a[r, c] = states[r, unit] }
            if intercept { a[r, n - 1] = 1 }
        }
        var norms = [Double](repeating: 0, count: n)
        for r in 0..<rows { for c in 0..<n { norms[c] += a[r, c] * a[r, c] } }
        norms = norms.map { $0.squareRoot() }
        for r in 0..<rows { for c in 0..<n where norms[c] > 0 { a[r, c] /= norms[c] } }
        let g = Matrix.product(a, .transpose, a, .noTranspose)
        let m = inverseOfPositiveDefinite(g, ridge: ridge)
        return units.indices.map { j in
            var others = units
            others.remove(at: j)
            guard norms[j] > 0 else {  // silent on these states: nothing to fold
                return LinearDependence(
                    unit: units[j], others: others, coefficients: [Double](repeating: 0, count: others.count), intercept: 0,
                    relativeResidual: 0)
            }
            // Scaled coefficients over all n columns (0 at j and at zero columns).
            var c = [Double](repeating: 0, count: n)
            for k in 0..<n where k != j && norms[k] > 0 { c[k] = -m[k, j] / m[j, j] }
            var squared = g[j, j]
            for k in 0..<n where c[k] != 0 {
                var gc = 0.0
                for l in 0..<n where c[l] != 0 { gc += g[k, l] * c[l] }
                squared += c[k] * (gc - 2 * g[k, j])
            }
            // Back to the units' own scales: a_j ~ sum_k (c_k |a_j| / |a_k|) a_k.
            let scaled = (0..<n).map { k in norms[k] > 0 ? c[k] * norms[j] / norms[k] : 0 }
            var coefficients = scaled
            coefficients.remove(at: j)
            return LinearDependence(
                unit: units[j], others: others, coefficients: Array(coefficients.prefix(others.count)),
                intercept: intercept ? scaled[n - 1] : 0, relativeResidual: max(squared, 0).squareRoot())
        }
    }

    /// (G + ridge I)^-1 for a symmetric positive semi-definite G with unit diagonal, by Cholesky.
    static func inverseOfPositiveDefinite(_ g: Matrix<Double>, ridge: Double) -> Matrix<Double> {
        let n = g.rows
        var l = Matrix<Double>(rows: n, columns: n)
        for j in 0..<n {
            var d = g[j, j] + ridge
            for k in 0..<j { d -= l[j, k] * l[j, k] }
            l[j, j] = max(d, ridge).squareRoot()  // rounding can leave a dependent column's pivot at or below 0
            for i in (j + 1)..<max(j + 1, n) {
                var s = g[i, j]
                for k in 0..<j { s -= l[i, k] * l[j, k] }
                l[i, j] = s / l[j, j]
            }
        }
        // Columns of L^-1, then M = L^-T L^-1.
        var inverse = Matrix<Double>(rows: n, columns: n)
        for c in 0..<n {
            for i in c..<n {
                var s = i == c ? 1.0 : 0.0
                for k in c..<i { s -= l[i, k] * inverse[k, c] }
                inverse[i, c] = s / l[i, i]
            }
        }
        return Matrix.product(inverse, .transpose, inverse, .noTranspose)
    }

    /// Folds unit `d.unit` into the units `d.others` in every consumer: W[:, b H + k] += c_k W[:, b H +
    /// j] for every block b, bias += c_0 W[:, b H + j] (where `d.intercept` is not 0: every consumer
    /// then needs a bias), then W[:, b H + j] = 0. Arithmetic in Double. In a masked weight, the
    /// entries the fold makes nonzero join the mask; the store records the change of the weights'
    /// values and masks (products refresh themselves from the versions).
    public static func fold<S: BLASScalar>(
        _ d: LinearDependence, into consumers: [HiddenUnitConsumer], hiddenSize: Int, store: ParameterStore<S>
    ) {
        for consumer in consumers {
            let info = store.info(consumer.weight), w = store.value(consumer.weight), mask = store.mask(consumer.weight)
            precondition(
                info.shape.count == 2 && info.columns == consumer.blocks * hiddenSize,
                "fold: \(info.name) \(info.shape) has no \(consumer.blocks) x \(hiddenSize) hidden-unit columns")
            precondition(d.intercept == 0 || consumer.bias != nil, "fold: \(info.name) has no bias to take the intercept")
            let bias = consumer.bias.map { store.value($0) }
            let masked = store.isMasked[consumer.weight.index]
            for b in 0..<consumer.blocks {
                let j = b * hiddenSize + d.unit
                for r in 0..<info.rows {
                    let wj = Double(w[r * info.columns + j])
                    guard wj != 0 else { continue }
                    for (k, c) in zip(d.others, d.coefficients) where c != 0 {
                        let index = r * info.columns + b * hiddenSize + k
                        w[index] = S(Double(w[index]) + c * wj)
                        if masked && w[index] != 0 { mask[index] = 1 }
                    }
                    if let bias, d.intercept != 0 { bias[r] = S(Double(bias[r]) + d.intercept * wj) }
                    w[r * info.columns + j] = 0
                }
            }
            store.maskDidChange(consumer.weight)
            if let slot = consumer.bias { store.valuesDidChange(slot) }
        }
    }

    /// The smallest bound `eliminate` puts on the drift: Float hidden states carry relative rounding near
    /// 1e-7, so even an exact fold moves them by about that much.
    public static let driftFloor = 1e-4

    /// Removes hidden units one at a time: regresses every unit of `units` on the others over
    /// `states(store)` (`N x H`, recomputed after every fold; no rows: nothing is removed), folds the
    /// unit with the smallest relative residual at or below `tolerance` into the others (`fold`),
    /// drops it from the active units, and repeats until no unit is within the tolerance or one unit
    /// is left.
    ///
    /// Each fold is judged by the states it leaves: it is undone, and the elimination stops, when
    /// they are not all finite or when the remaining units' states have moved from where they were
    /// before the first fold by more than `max(maximumDrift, driftFloor)` relative (Frobenius norm
    /// over the rows and the remaining units). Every single fold is within the tolerance, but their
    /// errors add up through the recurrence: without this bound one event can fold a hundred units,
    /// each fitted on states the previous folds had already changed, into a network that no longer
    /// computes what it did. nil: no bound.
    ///
    /// The removed units are dead afterwards (their consumer columns are zero), and the store keeps
    /// its size, so a trainer can call this on its live store between steps and either keep training
    /// (the zero columns stay zero under a mask) or select the kept units
    /// (`ParameterStore.selectingHiddenUnits`). Folds and undos bump the store's versions of the
    /// weights they change, so the model's products refresh themselves.
    public static func eliminate<S: BLASScalar>(
        store: ParameterStore<S>, consumers: [HiddenUnitConsumer], hiddenSize: Int, units: [Int],
        tolerance: Double, intercept: Bool, maximumDrift: Double? = nil, states: (ParameterStore<S>) -> Matrix<Double>
    ) -> EliminationOutcome {
        var active = units.sorted()
        var outcome = EliminationOutcome()
        guard active.count > 1 else { return outcome }
        let start = states(store)
        guard start.rows > 0 else { return outcome }  // no data: nothing can be shown dependent
        guard start.isFinite else { outcome.stop = .nonFiniteStates; return outcome }
        var current = start
        while active.count > 1 {
            let candidates = dependences(states: current, units: active, intercept: intercept)
            guard let best = candidates.min(by: { $0.relativeResidual < $1.relativeResidual }),
                best.relativeResidual <= tolerance
            else { break }
            let saved = ConsumerSnapshot(consumers, in: store)
            fold(best, into: consumers, hiddenSize: hiddenSize, store: store)
            let remaining = active.filter { $0 != best.unit }
            let next = states(store)
            let drift = next.isFinite ? relativeChange(from: start, to: next, columns: remaining) : .nan
            let stop: EliminationOutcome.Stop? =
                !next.isFinite ? .nonFiniteStates : maximumDrift.map { drift > max($0, driftFloor) } == true ? .drift : nil
            if let stop {
                saved.restore(in: store)
                outcome.stop = stop; outcome.undone = best
                break
            }
            active = remaining
            outcome.removed.append(best)
            outcome.drift = drift
            current = next
        }
        return outcome
    }

    /// ||after[:, columns] - before[:, columns]||_F / ||before[:, columns]||_F (0 when both are zero).
    static func relativeChange(from before: Matrix<Double>, to after: Matrix<Double>, columns: [Int]) -> Double {
        var change = 0.0, norm = 0.0
        for r in 0..<before.rows {
            for c in columns {
                let d = after[r, c] - before[r, c]
                change += d * d; norm += before[r, c] * before[r, c]
            }
        }
        return norm > 0 ? (change / norm).squareRoot() : (change > 0 ? .infinity : 0)
    }

    /// The values and masks of the consumers' weights and biases, to undo a fold.
    private struct ConsumerSnapshot<S: BLASScalar> {
        var saved: [(slot: ParameterSlot, values: [S], mask: [S])] = []

        init(_ consumers: [HiddenUnitConsumer], in store: ParameterStore<S>) {
            let slots = consumers.flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) }
            for slot in slots where !saved.contains(where: { $0.slot == slot }) {
                let n = store.info(slot).count
                saved.append(
                    (
                        slot, Array(UnsafeBufferPointer(start: store.value(slot), count: n)),
                        Array(UnsafeBufferPointer(start: store.mask(slot), count: n))
                    ))
            }
        }

        func restore(in store: ParameterStore<S>) {
            for (slot, values, mask) in saved {
                store.value(slot).update(from: values, count: values.count)
                store.mask(slot).update(from: mask, count: mask.count)
                store.maskDidChange(slot)
            }
        }
    }

    // MARK: Least squares

    /// Least squares min ||target - A x|| for A given by `columns` (each of length `rows`), by
    /// Householder QR with column pivoting on unit-norm columns; returns x and the residual norm.
    /// Zero columns, and columns within `rankTolerance` (relative) of the span of the ones chosen
    /// before them, get coefficient 0.
    static func leastSquares(columns: [[Double]], rows: Int, target: [Double], rankTolerance: Double) -> (x: [Double], residual: Double) {
        let n = columns.count
        var x = [Double](repeating: 0, count: n)
        var b = target
        let scales = columns.map { ($0.reduce(0) { $0 + $1 * $1 }).squareRoot() }
        var a: [[Double]] = [], order: [Int] = []
        for (c, s) in scales.enumerated() where s > 0 {
            a.append(columns[c].map { $0 / s }); order.append(c)
        }
        var rank = 0
        var reflections: [[Double]] = []
        while rank < min(rows, a.count) {
            // The column farthest from the span of those chosen (its norm below row `rank`).
            var best = rank, bestNorm = -1.0
            for c in rank..<a.count {
                let norm = a[c][rank...].reduce(0) { $0 + $1 * $1 }
                if norm > bestNorm { best = c; bestNorm = norm }
            }
            guard bestNorm.squareRoot() > rankTolerance else { break }
            a.swapAt(rank, best); order.swapAt(rank, best)
            let v = householder(&a[rank], from: rank)
            for c in (rank + 1)..<max(rank + 1, a.count) { reflect(&a[c], by: v, from: rank) }
            reflect(&b, by: v, from: rank)
            reflections.append(v)
            rank += 1
        }
        // Back substitution R[0..<rank, 0..<rank] y = (Q^T b)[0..<rank].
        var y = [Double](repeating: 0, count: rank)
        for i in stride(from: rank - 1, through: 0, by: -1) {
            var s = b[i]
            for k in (i + 1)..<max(i + 1, rank) { s -= a[k][i] * y[k] }
            y[i] = s / a[i][i]
        }
        for i in 0..<rank { x[order[i]] = y[i] / scales[order[i]] }
        let residual = (b[rank...].reduce(0) { $0 + $1 * $1 }).squareRoot()
        return (x, residual)
    }

    /// Turns `column[k...]` into (alpha, 0, ..., 0) by the reflection I - 2 v v^T / (v^T v) and
    /// returns v (entries from k on); v is empty when the part is already zero.
    private static func householder(_ column: inout [Double], from k: Int) -> [Double] {
        let norm = (column[k...].reduce(0) { $0 + $1 * $1 }).squareRoot()
        guard norm > 0 else { return [] }
        let alpha = column[k] > 0 ? -norm : norm
        var v = Array(column[k...])
        v[0] -= alpha
        column[k] = alpha
        for i in (k + 1)..<column.count { column[i] = 0 }
        return v
    }

    /// Applies the reflection of `householder` (vector `v`, entries from k on) to `column`.
    private static func reflect(_ column: inout [Double], by v: [Double], from k: Int) {
        guard !v.isEmpty else { return }
        let vv = v.reduce(0) { $0 + $1 * $1 }
        guard vv > 0 else { return }
        var dot = 0.0
        for i in v.indices { dot += v[i] * column[k + i] }
        let f = 2 * dot / vv
        for i in v.indices { column[k + i] -= f * v[i] }
    }
}

extension Matrix where Scalar == Double {
    /// Whether every entry is finite.
    fileprivate var isFinite: Bool { scalars.allSatisfy(\.isFinite) }
}
