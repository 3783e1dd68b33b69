// Neuron elimination: the regression against the normal equations solved directly, the fold against
// its formula, and units built as exact combinations of others removed with the network's outputs
// unchanged (the smaller model's own forward against the original's).
import Foundation
import Linalg
import NN
import Testing
@testable import Sparsity

@Suite struct NeuronEliminationTests {
    // MARK: Oracle

    /// Least squares by the normal equations (X^T X) c = X^T y, solved by Gaussian elimination with
    /// partial pivoting; returns c and ||y - X c|| / ||y||.
    static func normalEquations(_ x: [[Double]], _ y: [Double]) -> (c: [Double], relativeResidual: Double) {
        let n = x.count, rows = y.count
        var a = (0..<n).map { i in (0..<n).map { j in (0..<rows).reduce(0.0) { $0 + x[i][$1] * x[j][$1] } } }
        var b = (0..<n).map { i in (0..<rows).reduce(0.0) { $0 + x[i][$1] * y[$1] } }
        for k in 0..<n {
            let p = (k..<n).max { abs(a[$0][k]) < abs(a[$1][k]) }!
            a.swapAt(k, p); b.swapAt(k, p)
            for i in (k + 1)..<max(k + 1, n) {
                let f = a[i][k] / a[k][k]
                for j in k..<n { a[i][j] -= f * a[k][j] }
                b[i] -= f * b[k]
            }
        }
        var c = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            c[i] = (b[i] - ((i + 1)..<max(i + 1, n)).reduce(0.0) { $0 + a[i][$1] * c[$1] }) / a[i][i]
        }
        let residual = (0..<rows).reduce(0.0) { s, r in
            let e = y[r] - (0..<n).reduce(0.0) { $0 + c[$1] * x[$1][r] }
            return s + e * e
        }
        return (c, (residual / y.reduce(0) { $0 + $1 * $1 }).squareRoot())
    }

    /// Column `k` of `m`.
    static func column(_ m: Matrix<Double>, _ k: Int) -> [Double] { (0..<m.rows).map { m[$0, k] } }

    /// The regression of one unit on the others, with and without intercept, direct (QR) and all
    /// units at once (Gram matrix), against the normal equations.
    @Test(arguments: [false, true])
    func regressionMatchesTheNormalEquations(intercept: Bool) {
        var rng = SeededGenerator(seed: 21)
        let n = 40, h = 6, unit = 2
        var states: Matrix<Double> = rng.normalMatrix(rows: n, columns: h)
        for r in 0..<n {  // unit 2 near 0.7 a_0 - 1.3 a_4 + 0.5, plus noise
            states[r, unit] = 0.7 * states[r, 0] - 1.3 * states[r, 4] + (intercept ? 0.5 : 0) + 0.1 * rng.normal()
        }
        let others = [0, 1, 3, 4, 5]
        var regressors = others.map { Self.column(states, $0) }
        if intercept { regressors.append([Double](repeating: 1, count: n)) }
        let oracle = Self.normalEquations(regressors, Self.column(states, unit))
        let direct = NeuronElimination.dependence(of: unit, on: others, states: states, intercept: intercept)
        let all = NeuronElimination.dependences(states: states, units: Array(0..<h), intercept: intercept)
        let reduced = all[unit]
        for d in [direct, reduced] {
            #expect(d.unit == unit && d.others == others)
            for (got, want) in zip(d.coefficients + (intercept ? [d.intercept] : []), oracle.c) {
                #expect(abs(got - want) <= 1e-9 * max(1, abs(want)), "\(got) against \(want)")
            }
            #expect(abs(d.relativeResidual - oracle.relativeResidual) <= 1e-9, "\(d.relativeResidual) against \(oracle.relativeResidual)")
            if !intercept { #expect(d.intercept == 0) }
        }
        #expect(oracle.relativeResidual > 0.01 && oracle.relativeResidual < 0.5)
        // Every other unit's regression from the Gram matrix agrees with the normal equations too.
        for j in 0..<h {
            var x = (0..<h).filter { $0 != j }.map { Self.column(states, $0) }
            if intercept { x.append([Double](repeating: 1, count: n)) }
            let o = Self.normalEquations(x, Self.column(states, j))
            #expect(abs(all[j].relativeResidual - o.relativeResidual) <= 1e-9, "unit \(j)")
        }
    }

    /// Regressors with an exact duplicate: the residual is that of the regression without it, and
    /// the fitted values are the same.
    @Test func duplicateRegressorsGiveTheSameFit() {
        var rng = SeededGenerator(seed: 22)
        let n = 30
        var states: Matrix<Double> = rng.normalMatrix(rows: n, columns: 5)
        for r in 0..<n {
            states[r, 3] = states[r, 1]  // a duplicate of unit 1
            states[r, 4] = 2 * states[r, 0] + states[r, 2] + 0.05 * rng.normal()
        }
        let d = NeuronElimination.dependence(of: 4, on: [0, 1, 2, 3], states: states, intercept: false)
        let oracle = Self.normalEquations([0, 1, 2].map { Self.column(states, $0) }, Self.column(states, 4))
        #expect(abs(d.relativeResidual - oracle.relativeResidual) <= 1e-9)
        for r in 0..<n {
            let fit = zip(d.others, d.coefficients).reduce(0.0) { $0 + $1.1 * states[r, $1.0] }
            let want = (0..<3).reduce(0.0) { $0 + oracle.c[$1] * states[r, $1] }
            #expect(abs(fit - want) <= 1e-9)
        }
    }

    /// The fold against its formula on a small consumer and bias.
    @Test func foldMovesTheColumnIntoTheOthers() {
        let store = ParameterStore<Double>()
        var rng = SeededGenerator(seed: 23)
        let w = store.add("w", shape: [3, 4]) { rng.normal() }
        let bias = store.add("b", shape: [3]) { rng.normal() }
        let before = store.matrix(w), biasBefore = store.matrix(bias)
        let d = LinearDependence(unit: 1, others: [0, 2, 3], coefficients: [0.5, -2, 0.25], intercept: 0.75, relativeResidual: 0)
        NeuronElimination.fold(d, into: [HiddenUnitConsumer(weight: w, bias: bias)], hiddenSize: 4, store: store)
        let after = store.matrix(w), biasAfter = store.matrix(bias)
        for r in 0..<3 {
            #expect(after[r, 1] == 0)
            for (k, c) in zip([0, 2, 3], [0.5, -2, 0.25]) { #expect(abs(after[r, k] - (before[r, k] + c * before[r, 1])) <= 1e-15) }
            #expect(abs(biasAfter.scalars[r] - (biasBefore.scalars[r] + 0.75 * before[r, 1])) <= 1e-15)
        }
    }

    // MARK: Exact dependences in whole networks

    /// How a unit is made an exact combination of others.
    enum Construction: String, CaseIterable, CustomTestStringConvertible {
        /// Navigation-like: h0 = encoder(start), ReLU without bias, decoder; nonnegative weights and
        /// inputs keep every pre-activation >= 0, where ReLU is linear: unit 5 = 0.6 unit 1 + 0.4 unit 3
        /// by its rows (encoder, W_ih, W_hh).
        case reluCombination
        /// tanh with bias: unit 4 = -unit 2 (its rows and biases negated; tanh is odd).
        case tanhNegation
        /// LSTM with bias: unit 3 = unit 0 (its rows in every gate block and its biases copied), so
        /// h_3 = h_0 at every step: the dependence is on h.
        case lstmDuplicate
        /// GRU with bias: unit 3 = unit 0, as for the LSTM.
        case gruDuplicate

        var testDescription: String { rawValue }
        var kind: CellKind {
            switch self {
            case .reluCombination: .rnnReLU
            case .tanhNegation: .rnnTanh
            case .lstmDuplicate: .lstm
            case .gruDuplicate: .gru
            }
        }
        var bias: Bool { self != .reluCombination }
        /// (unit, [(source unit, coefficient)]).
        var combination: (unit: Int, of: [(Int, Double)]) {
            switch self {
            case .reluCombination: (5, [(1, 0.6), (3, 0.4)])
            case .tanhNegation: (4, [(2, -1)])
            case .lstmDuplicate, .gruDuplicate: (3, [(0, 1)])
            }
        }
    }

    /// A network with an optional encoder of the initial state and a read-out of every step.
    struct Model {
        static let (inputs, placeCells, batch, steps) = (2, 4, 6, 5)
        let encoder: Linear?
        let net: RecurrentNetwork
        let decoder: Linear
        let store: ParameterStore<Double>

        init(_ c: Construction, hiddenSize h: Int, seed: UInt64) {
            var rng = SeededGenerator(seed: seed)
            store = ParameterStore<Double>()
            let navigation = c == .reluCombination
            encoder =
                navigation ? Linear(inputSize: Self.placeCells, outputSize: h, bias: false, name: "encoder", in: store, rng: &rng) : nil
            net = RecurrentNetwork(kind: c.kind, inputSize: Self.inputs, hiddenSize: h, bias: c.bias, in: store, rng: &rng)
            decoder = Linear(inputSize: h, outputSize: 3, bias: c.bias, name: "decoder", in: store, rng: &rng)
        }

        var axes: [HiddenUnitAxis] {
            net.hiddenUnitAxes + [HiddenUnitAxis(slot: decoder.weight, dimension: 1)]
                + (encoder.map { [HiddenUnitAxis(slot: $0.weight, dimension: 0)] } ?? [])
        }
        var consumers: [HiddenUnitConsumer] {
            [
                HiddenUnitConsumer(weight: net.layers[0].weightHH, bias: net.layers[0].biasHH),
                HiddenUnitConsumer(weight: decoder.weight, bias: decoder.bias)
            ]
        }

        /// The initial state and the hidden states after every step.
        func run(start: Matrix<Double>, x: Matrix<Double>, _ s: ParameterStore<Double>) -> (h0: Matrix<Double>, states: Matrix<Double>) {
            let h0 = encoder.map { $0.forward(start, s) } ?? Matrix(rows: Self.batch, columns: net.hiddenSize)
            let states = net.forward(
                x, batch: Self.batch,
                initial: [
                    RecurrentState(hidden: h0, cell: net.layers[0].hasCellState ? Matrix(rows: Self.batch, columns: net.hiddenSize) : nil)
                ], s)[0].output
            return (h0, states)
        }

        /// Decoder outputs of every step.
        func outputs(start: Matrix<Double>, x: Matrix<Double>) -> Matrix<Double> {
            decoder.forward(run(start: start, x: x, store).states, store)
        }

        /// Every state a consumer reads: h0 (W_hh at the first step) above the states after each step.
        func consumedStates(start: Matrix<Double>, x: Matrix<Double>, _ s: ParameterStore<Double>) -> Matrix<Double> {
            let (h0, states) = run(start: start, x: x, s)
            return Matrix(rows: h0.rows + states.rows, columns: h0.columns, scalars: h0.scalars + states.scalars)
        }
    }

    /// Sets unit `c.combination.unit`'s rows (every gate block of W_ih, W_hh, the biases, the
    /// encoder) to the combination of the source units' rows.
    static func build(_ c: Construction, _ model: Model, hiddenSize h: Int) {
        let (unit, sources) = c.combination
        for axis in model.axes where axis.dimension == 0 {
            let info = model.store.info(axis.slot), w = model.store.value(axis.slot)
            for b in 0..<axis.blocks {
                for col in 0..<info.columns {
                    w[(b * h + unit) * info.columns + col] = sources.reduce(0.0) { $0 + $1.1 * w[(b * h + $1.0) * info.columns + col] }
                }
            }
        }
    }

    @Test(arguments: Construction.allCases)
    func exactCombinationIsRemovedWithOutputsUnchanged(construction c: Construction) throws {
        let h = 6
        let model = Model(c, hiddenSize: h, seed: 31)
        var rng = SeededGenerator(seed: 32)
        var start: Matrix<Double> = rng.normalMatrix(rows: Model.batch, columns: Model.placeCells)
        var x: Matrix<Double> = rng.normalMatrix(rows: Model.steps * Model.batch, columns: Model.inputs)
        if c == .reluCombination {  // the linear regime of ReLU: nonnegative weights and inputs
            for axis in model.axes where axis.dimension == 0 {
                let w = model.store.value(axis.slot)
                for i in 0..<model.store.info(axis.slot).count { w[i] = abs(w[i]) * 0.5 }
            }
            start = rng.uniformMatrix(rows: Model.batch, columns: Model.placeCells, low: 0, high: 1)
            x = rng.uniformMatrix(rows: Model.steps * Model.batch, columns: Model.inputs, low: 0, high: 1)
        }
        Self.build(c, model, hiddenSize: h)
        let expected = model.outputs(start: start, x: x)
        let consumed = model.consumedStates(start: start, x: x, model.store)
        let (unit, sources) = c.combination
        for r in 0..<consumed.rows {  // the construction holds on every consumed state
            let combination = sources.reduce(0.0) { $0 + $1.1 * consumed[r, $1.0] }
            #expect(abs(consumed[r, unit] - combination) <= 1e-12)
        }

        let removed = NeuronElimination.eliminate(
            store: model.store, consumers: model.consumers, hiddenSize: h, units: Array(0..<h), tolerance: 1e-6,
            intercept: c.bias, states: { model.consumedStates(start: start, x: x, $0) }
        ).removed
        try #require(removed.count == 1, "\(c): removed \(removed.map(\.unit))")
        let group = Set([unit] + sources.map(\.0))
        #expect(group.contains(removed[0].unit), "\(c): removed unit \(removed[0].unit), not one of \(group.sorted())")
        #expect(removed[0].relativeResidual <= 1e-6)  // the rounding floor of the Gram form
        #expect(model.store.deadHiddenUnits(of: h, along: model.axes) == [removed[0].unit])
        // The full-size model after the fold computes the same outputs.
        #expect(model.outputs(start: start, x: x).maxAbsDifference(expected) <= 1e-10, "\(c): after the fold")

        // The smaller model of hidden size 5, run by its own forward.
        let kept = (0..<h).filter { $0 != removed[0].unit }
        let compact = model.store.selectingHiddenUnits(kept, of: h, along: model.axes)
        let small = Model(c, hiddenSize: kept.count, seed: 77)
        for s in small.store.slots {
            let t = try #require(compact.slot(named: small.store.info(s).name))
            #expect(compact.info(t).shape == small.store.info(s).shape)
            small.store.setValue(s, compact.matrix(t))
        }
        let got = small.outputs(start: start, x: x)
        #expect(got.maxAbsDifference(expected) <= 1e-10, "\(c): \(got.maxAbsDifference(expected))")
    }

    /// A model without dependent units keeps them all below the smallest residual.
    @Test func independentUnitsStay() {
        let h = 5
        let model = Model(.tanhNegation, hiddenSize: h, seed: 41)
        var rng = SeededGenerator(seed: 42)
        let start: Matrix<Double> = rng.normalMatrix(rows: Model.batch, columns: Model.placeCells)
        let x: Matrix<Double> = rng.normalMatrix(rows: Model.steps * Model.batch, columns: Model.inputs)
        let all = NeuronElimination.dependences(
            states: model.consumedStates(start: start, x: x, model.store), units: Array(0..<h), intercept: true)
        let smallest = all.map(\.relativeResidual).min() ?? 0
        let removed = NeuronElimination.eliminate(
            store: model.store, consumers: model.consumers, hiddenSize: h, units: Array(0..<h), tolerance: smallest * 0.99,
            intercept: true, states: { model.consumedStates(start: start, x: x, $0) }
        ).removed
        #expect(removed.isEmpty && smallest > 1e-3, "smallest residual \(smallest)")
    }

    /// The drift bound: on a model whose units are far from independent at a large tolerance, the
    /// elimination without a bound folds units whose errors move the remaining states by more than
    /// a tight bound; with that bound the fold that crosses it is undone, the kept folds stay within
    /// it, and the outcome names the stop. The store afterwards equals a fresh model with the kept
    /// folds alone applied (the undone fold left no trace in values or masks).
    @Test func foldsThatMoveTheStatesTooFarAreUndone() throws {
        let h = 6, bound = 0.05
        var rng = SeededGenerator(seed: 42)
        let start: Matrix<Double> = rng.normalMatrix(rows: Model.batch, columns: Model.placeCells)
        let x: Matrix<Double> = rng.normalMatrix(rows: Model.steps * Model.batch, columns: Model.inputs)
        func fresh() -> Model { Model(.tanhNegation, hiddenSize: h, seed: 41) }
        func eliminate(_ m: Model, maximumDrift: Double?) -> EliminationOutcome {
            NeuronElimination.eliminate(
                store: m.store, consumers: m.consumers, hiddenSize: h, units: Array(0..<h), tolerance: 0.99, intercept: true,
                maximumDrift: maximumDrift, states: { m.consumedStates(start: start, x: x, $0) })
        }
        let unbounded = eliminate(fresh(), maximumDrift: nil)
        try #require(unbounded.stop == nil && unbounded.drift > bound, "unbounded drift \(unbounded.drift)")

        let model = fresh()
        let initial = model.consumedStates(start: start, x: x, model.store)
        let outcome = eliminate(model, maximumDrift: bound)
        try #require(outcome.stop == .drift, "stop \(String(describing: outcome.stop))")
        let undone = try #require(outcome.undone)
        #expect(outcome.removed.count < unbounded.removed.count && outcome.drift <= bound)
        #expect(!outcome.removed.contains { $0.unit == undone.unit })
        let remaining = (0..<h).filter { u in !outcome.removed.contains { $0.unit == u } }
        let after = model.consumedStates(start: start, x: x, model.store)
        #expect(abs(NeuronElimination.relativeChange(from: initial, to: after, columns: remaining) - outcome.drift) <= 1e-12)

        let replay = fresh()
        for d in outcome.removed { NeuronElimination.fold(d, into: replay.consumers, hiddenSize: h, store: replay.store) }
        #expect(replay.store.values.elementsEqual(model.store.values) && replay.store.masks.elementsEqual(model.store.masks))
    }

    /// States that stop being finite after a fold (an overflow in the folded weights) undo it and stop;
    /// states not finite from the start remove nothing.
    @Test func nonFiniteStatesStopTheElimination() throws {
        let h = 6
        var rng = SeededGenerator(seed: 42)
        let start: Matrix<Double> = rng.normalMatrix(rows: Model.batch, columns: Model.placeCells)
        let x: Matrix<Double> = rng.normalMatrix(rows: Model.steps * Model.batch, columns: Model.inputs)
        for poisonFrom in [1, 2] {
            let model = Model(.tanhNegation, hiddenSize: h, seed: 41)
            let original = Array(model.store.values)
            var calls = 0
            let outcome = NeuronElimination.eliminate(
                store: model.store, consumers: model.consumers, hiddenSize: h, units: Array(0..<h), tolerance: 0.99,
                intercept: true,
                states: { s in
                    calls += 1
                    var m = model.consumedStates(start: start, x: x, s)
                    if calls >= poisonFrom { m[0, 0] = .nan }
                    return m
                })
            #expect(outcome.stop == .nonFiniteStates && outcome.removed.isEmpty, "poisoned from call \(poisonFrom)")
            #expect((outcome.undone == nil) == (poisonFrom == 1))
            #expect(Array(model.store.values) == original)
        }
    }
}
