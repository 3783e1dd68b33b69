// Float against Double for every layer, loss, optimizer and clipping, in every code path that
// Float takes at run time (SIMD ReLU forward/backward, the transposed and row-form Elman steps,
// SIMD row broadcasts and column sums, the softmax row kernels, Adam's 8 lanes). The same seeded
// values feed both precisions: weights and inputs are drawn in Double and rounded to Float first,
// so the two runs differ only in arithmetic precision. Outputs and every gradient are compared
// as whole tensors.
import Foundation
import Testing
import Linalg
@testable import NN

// MARK: Shared helpers of the Float oracles (also used by FloatReferenceTests and TrajectoryReferenceTests)

/// Whole-tensor comparison for Float results against a Double oracle.
enum FloatOracle {
    /// The largest `|a - b| / (|b| + floor * max|b|)` over two whole tensors, with its index: relative
    /// for entries of the tensor's own size, absolute (against `floor` times the largest entry)
    /// for entries near 0, where Float rounding of sums with cancellation is absolute.
    static func error(_ a: [Double], _ b: [Double], floor: Double = 1e-2) -> (error: Double, at: Int) {
        precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
        let scale = Swift.max(b.map(Swift.abs).max() ?? 0, 1e-30)
        var worst = (error: 0.0, at: -1)
        for i in a.indices {
            let d = Swift.abs(a[i] - b[i]), e = d == 0 ? 0 : d / (Swift.abs(b[i]) + floor * scale)
            if !(e <= worst.error) { worst = (e.isNaN ? .infinity : e, i) }
        }
        return worst
    }

    /// Expects `a` (any precision) to equal the oracle `b` within `tolerance` (see `error`); the
    /// message names `what` (with the seed), the worst entry and both values there.
    static func expectClose<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
        _ a: [A], _ b: [B], tolerance: Double, floor: Double = 1e-2, _ what: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(a.count == b.count, "\(what()): \(a.count) elements, oracle \(b.count)", sourceLocation: sourceLocation)
        guard a.count == b.count, !a.isEmpty else { return }
        let ad = a.map { Double($0) }, bd = b.map { Double($0) }
        let e = error(ad, bd, floor: floor)
        #expect(
            e.error < tolerance,
            "\(what()): error \(e.error) at [\(e.at)] (\(ad[Swift.max(e.at, 0)]) vs \(bd[Swift.max(e.at, 0)])), tolerance \(tolerance)",
            sourceLocation: sourceLocation)
    }

    /// Rounds every value of a Double store to Float precision (in place) and returns a Float store
    /// with the same layout and those values, so both start from identical numbers.
    static func floatTwin(of store: ParameterStore<Double>) -> ParameterStore<Float> {
        let twin = ParameterStore<Float>()
        for info in store.infos { twin.add(info.name, shape: info.shape) }
        for i in 0..<store.totalCount {
            let f = Float(store.values[i])
            store.values[i] = Double(f)
            twin.values[i] = f
            let g = Float(store.gradients[i])
            store.gradients[i] = Double(g)
            twin.gradients[i] = g
        }
        return twin
    }

    /// A Double matrix whose entries are Float values (so that its Float conversion is exact).
    static func floatValued(_ m: Matrix<Double>) -> Matrix<Double> {
        Matrix(rows: m.rows, columns: m.columns, scalars: m.scalars.map { Double(Float($0)) })
    }

    /// A slot's gradient as an array.
    static func gradient<S: BLASScalar>(_ store: ParameterStore<S>, _ slot: ParameterSlot) -> [S] {
        Array(UnsafeBufferPointer(start: store.gradient(slot), count: store.info(slot).count))
    }

    /// A slot's values as an array.
    static func value<S: BLASScalar>(_ store: ParameterStore<S>, _ slot: ParameterSlot) -> [S] {
        Array(UnsafeBufferPointer(start: store.value(slot), count: store.info(slot).count))
    }
}

/// Float-valued random Double matrices (both precisions see the same numbers).
extension SeededGenerator {
    fileprivate mutating func floatNormal(rows: Int, columns: Int, std: Double = 1) -> Matrix<Double> {
        FloatOracle.floatValued(normalMatrix(rows: rows, columns: columns, std: std))
    }
    fileprivate mutating func floatUniform(rows: Int, columns: Int, low: Double, high: Double) -> Matrix<Double> {
        FloatOracle.floatValued(uniformMatrix(rows: rows, columns: columns, low: low, high: high))
    }
}

// MARK: Recurrent layers

/// One recurrent case: cell kind, layers, batch, whether dOutput is given (else empty, 0 rows),
/// whether dFinal is given (else nil).
fileprivate typealias RecurrentCase = (kind: CellKind, layers: Int, batch: Int, outputGradient: Bool, finalGradient: Bool)

/// Elman tanh and ReLU in both step layouts (batch 5: transposed states, 70: rows), with and
/// without dOutput and dFinal; two-layer stacks; LSTM and GRU the same way.
fileprivate let recurrentCases: [RecurrentCase] = {
    var cases: [RecurrentCase] = []
    for kind in CellKind.allCases {
        for batch in [5, 70] {
            for (o, f) in [(true, true), (false, true), (true, false)] {
                cases.append((kind, 1, batch, o, f))
            }
            cases.append((kind, 2, batch, true, true))
        }
    }
    return cases
}()

@Suite struct FloatPathTests {
    /// Tolerance for recurrent layers: Float rounding gives up to 1.6e-5 here (weight gradients
    /// summed over T * B = 280 rows with cancellation); the deliberate kernel breaks gave 18 to 360.
    static let recurrentTolerance = 1e-4

    @Test(arguments: recurrentCases)
    func recurrentFloatMatchesDouble(kind: CellKind, layers: Int, batch b: Int, outputGradient: Bool, finalGradient: Bool) {
        let (i, h, t) = (3, 11, 4)
        let seed = 2000 + UInt64(CellKind.allCases.firstIndex(of: kind)! * 100 + layers * 10 + b)
        let isElman = kind == .rnnTanh || kind == .rnnReLU
        let layout = isElman ? (ElmanLayer.stepsOnTransposedStates(batch: b) ? " (transposed step)" : " (row-form step)") : ""
        let label = "\(kind.rawValue) layers \(layers) batch \(b)\(layout) dOutput \(outputGradient) dFinal \(finalGradient), seed \(seed)"
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: layers, name: "rnn", in: store, rng: &rng)
        let storeF = FloatOracle.floatTwin(of: store)
        let withCell = kind == .lstm
        let x = rng.floatNormal(rows: t * b, columns: i)
        let initial = (0..<layers).map { _ in
            RecurrentState(
                hidden: rng.floatNormal(rows: b, columns: h, std: 0.5),
                cell: withCell ? rng.floatNormal(rows: b, columns: h, std: 0.5) : nil)
        }
        let dOutput = outputGradient ? rng.floatNormal(rows: t * b, columns: h) : Matrix<Double>(rows: 0, columns: h)
        let dFinal: [RecurrentState<Double>]? =
            finalGradient
            ? (0..<layers).map { _ in
                RecurrentState(
                    hidden: rng.floatNormal(rows: b, columns: h),
                    cell: withCell ? rng.floatNormal(rows: b, columns: h) : nil)
            } : nil
        func toFloat(_ s: RecurrentState<Double>) -> RecurrentState<Float> {
            RecurrentState(hidden: s.hidden.converted(), cell: s.cell.map { $0.converted() })
        }

        store.zeroGradients(); storeF.zeroGradients()
        let caches = net.forward(x, batch: b, initial: initial, store)
        let cachesF = net.forward(x.converted(to: Float.self), batch: b, initial: initial.map(toFloat), storeF)
        let back = net.backward(caches, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: true)
        let backF = net.backward(
            cachesF, dOutput: dOutput.converted(), dFinal: dFinal?.map(toFloat), storeF,
            needInputGradient: true)

        let tol = Self.recurrentTolerance
        FloatOracle.expectClose(cachesF.last!.output.scalars, caches.last!.output.scalars, tolerance: tol, "\(label): output")
        for k in 0..<layers {
            FloatOracle.expectClose(
                cachesF[k].hidden.scalars, caches[k].hidden.scalars, tolerance: tol, "\(label): h_0...h_T of layer \(k)")
            if withCell {
                FloatOracle.expectClose(
                    cachesF[k].cell?.scalars ?? [], caches[k].cell?.scalars ?? [], tolerance: tol, "\(label): c of layer \(k)")
            }
            FloatOracle.expectClose(
                backF.dInitial[k].hidden.scalars, back.dInitial[k].hidden.scalars, tolerance: tol,
                "\(label): dh_0 of layer \(k)")
            if withCell {
                FloatOracle.expectClose(
                    backF.dInitial[k].cell?.scalars ?? [], back.dInitial[k].cell?.scalars ?? [], tolerance: tol,
                    "\(label): dc_0 of layer \(k)")
            }
        }
        FloatOracle.expectClose(backF.dInput.scalars, back.dInput.scalars, tolerance: tol, "\(label): dInput")
        for slot in store.slots {
            FloatOracle.expectClose(
                FloatOracle.gradient(storeF, slot), FloatOracle.gradient(store, slot), tolerance: tol,
                "\(label): d \(store.info(slot).name)")
        }
        // The gradients are not all zero (a case that tests nothing would pass the comparisons), and
        // ReLU layers have units at exactly 0, where the backward mask decides.
        #expect(storeF.gradients.contains { $0 != 0 } && backF.dInput.scalars.contains { $0 != 0 }, "\(label): zero gradients")
        #expect(
            kind != .rnnReLU || cachesF.allSatisfy { $0.output.scalars.contains(0) && $0.output.scalars.contains { $0 > 0 } },
            "\(label): no ReLU unit at 0")
    }

    // MARK: Linear and Embedding

    /// Linear forward and backward (accumulating into non-zero gradients) at widths with SIMD tails.
    @Test(arguments: [(5, true), (70, true), (5, false), (70, false)])
    func linearFloatMatchesDouble(rows n: Int, bias: Bool) {
        let (i, o) = (13, 9)
        let seed = 2500 + UInt64(n) + (bias ? 1000 : 0)
        let label = "Linear rows \(n) bias \(bias), seed \(seed)"
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let layer = Linear(inputSize: i, outputSize: o, bias: bias, name: "fc", in: store, rng: &rng)
        for k in 0..<store.totalCount { store.gradients[k] = rng.normal() }
        let storeF = FloatOracle.floatTwin(of: store)
        let x = rng.floatNormal(rows: n, columns: i), dy = rng.floatNormal(rows: n, columns: o)
        let y = layer.forward(x, store), yF = layer.forward(x.converted(to: Float.self), storeF)
        FloatOracle.expectClose(yF.scalars, y.scalars, tolerance: 3e-5, "\(label): output")
        let dx = layer.backward(input: x, dOutput: dy, store)
        let dxF = layer.backward(input: x.converted(to: Float.self), dOutput: dy.converted(), storeF)
        FloatOracle.expectClose(dxF.scalars, dx.scalars, tolerance: 3e-5, "\(label): dInput")
        for slot in store.slots {
            FloatOracle.expectClose(
                FloatOracle.gradient(storeF, slot), FloatOracle.gradient(store, slot), tolerance: 3e-5,
                "\(label): d \(store.info(slot).name)")
        }
    }

    /// Embedding lookup (exact) and scatter-add backward with repeated indices.
    @Test func embeddingFloatMatchesDouble() {
        let seed: UInt64 = 2600
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let layer = Embedding(vocabularySize: 7, embeddingSize: 13, name: "embedding", in: store, rng: &rng)
        let storeF = FloatOracle.floatTwin(of: store)
        let indices = (0..<20).map { _ in rng.integer(below: 7) }
        let y = layer.forward(indices, store), yF = layer.forward(indices, storeF)
        #expect(yF.scalars.map(Double.init) == y.scalars, "Embedding forward, seed \(seed)")
        let dy = rng.floatNormal(rows: 20, columns: 13)
        layer.backward(indices: indices, dOutput: dy, store)
        layer.backward(indices: indices, dOutput: dy.converted(to: Float.self), storeF)
        FloatOracle.expectClose(
            FloatOracle.gradient(storeF, layer.weight), FloatOracle.gradient(store, layer.weight),
            tolerance: 2e-6, "Embedding dWeight, seed \(seed)")
    }

    // MARK: Losses

    /// MSE, cross-entropy and soft cross-entropy (every entry point) at row widths that are and are
    /// not multiples of 8, logits with std 3. Both precisions run the same generic SIMD8 row
    /// kernels, so besides Float against Double each result is also checked against the naive
    /// formulas in Double (log-sum-exp with libm), which share no code with the kernels.
    @Test(arguments: [1, 5, 8, 12, 13, 16, 37])
    func lossesFloatMatchDouble(width c: Int) {
        let n = 7, seed = 2700 + UInt64(c)
        var rng = SeededGenerator(seed: seed)
        let x = rng.floatNormal(rows: n, columns: c, std: 3), y = rng.floatNormal(rows: n, columns: c)
        let p = rng.floatUniform(rows: n, columns: c, low: 0, high: 1)
        let targets = (0..<n).map { _ in rng.integer(below: c) }
        let xf: Matrix<Float> = x.converted(), yf: Matrix<Float> = y.converted(), pf: Matrix<Float> = p.converted()
        func expectLoss(_ a: Double, _ b: Double, _ what: String) {
            #expect(abs(a - b) < 1e-5 * max(1, abs(b)), "\(what) width \(c), seed \(seed): Float \(a), Double \(b)")
        }

        // Naive oracles, row by row in Double.
        var naiveCE = 0.0, naiveSoft = 0.0
        var naiveDCE = [Double](), naiveDSoft = [Double]()
        for r in 0..<n {
            let row = x.row(r), lse = log(row.map { exp($0) }.reduce(0, +)), mass = p.row(r).reduce(0, +)
            naiveCE += (lse - row[targets[r]]) / Double(n)
            naiveSoft += zip(p.row(r), row).reduce(0) { $0 - $1.0 * ($1.1 - lse) } / Double(n)
            for j in 0..<c {
                let softmax = exp(row[j] - lse)
                naiveDCE.append((softmax - (j == targets[r] ? 1 : 0)) / Double(n))
                naiveDSoft.append((mass * softmax - p[r, j]) / Double(n))
            }
        }
        let naiveMSE = zip(x.scalars, y.scalars).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(n * c)
        let naiveDMSE = zip(x.scalars, y.scalars).map { 2 * ($0 - $1) / Double(n * c) }

        let mse = MeanSquaredError.lossAndGradient(prediction: x, target: y)
        let mseF = MeanSquaredError.lossAndGradient(prediction: xf, target: yf)
        expectLoss(mseF.loss, mse.loss, "MSE loss")
        FloatOracle.expectClose(mseF.dPrediction.scalars, mse.dPrediction.scalars, tolerance: 1e-6, "MSE gradient width \(c), seed \(seed)")
        expectLoss(mse.loss, naiveMSE, "MSE loss (Double) against the naive formula")
        FloatOracle.expectClose(
            mseF.dPrediction.scalars, naiveDMSE, tolerance: 1e-6, "MSE gradient against the naive formula, width \(c), seed \(seed)")

        let ce = CrossEntropy.lossAndGradient(logits: x, targets: targets)
        let ceF = CrossEntropy.lossAndGradient(logits: xf, targets: targets)
        expectLoss(ceF.loss, ce.loss, "CrossEntropy loss")
        FloatOracle.expectClose(ceF.dLogits.scalars, ce.dLogits.scalars, tolerance: 1e-5, "CrossEntropy gradient width \(c), seed \(seed)")
        expectLoss(ce.loss, naiveCE, "CrossEntropy loss (Double) against the naive formula")
        expectLoss(ceF.loss, naiveCE, "CrossEntropy loss (Float) against the naive formula")
        FloatOracle.expectClose(
            ce.dLogits.scalars, naiveDCE, tolerance: 1e-9,
            "CrossEntropy gradient (Double) against the naive formula, width \(c), seed \(seed)")
        FloatOracle.expectClose(
            ceF.dLogits.scalars, naiveDCE, tolerance: 1e-5,
            "CrossEntropy gradient (Float) against the naive formula, width \(c), seed \(seed)")
        let evaluated = CrossEntropy.evaluate(logits: xf, targets: targets)
        var into = Matrix<Float>(rows: n, columns: c, repeating: .nan)
        let intoResult = CrossEntropy.lossAndGradient(logits: xf, targets: targets, into: &into)
        let doubleCorrect = CrossEntropy.evaluate(logits: x, targets: targets).correct
        #expect(
            evaluated.loss == ceF.loss && intoResult.loss == ceF.loss && into == ceF.dLogits
                && evaluated.correct == doubleCorrect && intoResult.correct == doubleCorrect
                && CrossEntropy.correctPredictions(logits: xf, targets: targets) == doubleCorrect,
            "CrossEntropy entry points width \(c), seed \(seed)")

        let soft = SoftCrossEntropy.lossAndGradient(logits: x, targets: p)
        let softF = SoftCrossEntropy.lossAndGradient(logits: xf, targets: pf)
        expectLoss(softF.loss, soft.loss, "SoftCrossEntropy loss")
        FloatOracle.expectClose(
            softF.dLogits.scalars, soft.dLogits.scalars, tolerance: 1e-5,
            "SoftCrossEntropy gradient width \(c), seed \(seed)")
        expectLoss(soft.loss, naiveSoft, "SoftCrossEntropy loss (Double) against the naive formula")
        expectLoss(softF.loss, naiveSoft, "SoftCrossEntropy loss (Float) against the naive formula")
        FloatOracle.expectClose(
            soft.dLogits.scalars, naiveDSoft, tolerance: 1e-9,
            "SoftCrossEntropy gradient (Double) against the naive formula, width \(c), seed \(seed)")
        FloatOracle.expectClose(
            softF.dLogits.scalars, naiveDSoft, tolerance: 1e-5,
            "SoftCrossEntropy gradient (Float) against the naive formula, width \(c), seed \(seed)")
        var softInto = Matrix<Float>(rows: n, columns: c, repeating: .nan)
        let softIntoLoss = SoftCrossEntropy.lossAndGradient(logits: xf, targets: pf, into: &softInto)
        #expect(
            SoftCrossEntropy.loss(logits: xf, targets: pf) == softF.loss && softIntoLoss == softF.loss && softInto == softF.dLogits,
            "SoftCrossEntropy entry points width \(c), seed \(seed)")
    }

    // MARK: Optimizers and clipping

    enum OptimizerKind: String, CaseIterable, Sendable {
        case sgd, sgdWeightDecay, sgdMomentum, sgdMomentumDampening, sgdNesterov, adam, adamL2, adamW
    }

    /// The optimizer of `kind` with every hyperparameter rounded to a Float value (`f`), so that
    /// the Double run sees the numbers the Float run sees (`1 - beta2` then agrees too), and with
    /// `groups` as its parameter groups.
    func makeOptimizer<S: BLASScalar>(_ kind: OptimizerKind, _: S.Type, groups: [ParameterGroup]) -> any Optimizer<S> {
        func f(_ x: Double) -> Double { Double(Float(x)) }
        func sgd(_ o: SGD<S>) -> SGD<S> { var o = o; o.parameterGroups = groups; return o }
        func adam(_ o: Adam<S>) -> Adam<S> { var o = o; o.parameterGroups = groups; return o }
        switch kind {
        case .sgd: return sgd(SGD<S>(learningRate: f(0.1)))
        case .sgdWeightDecay: return sgd(SGD<S>(learningRate: f(0.1), weightDecay: f(0.05)))
        case .sgdMomentum: return sgd(SGD<S>(learningRate: f(0.1), momentum: f(0.9)))
        case .sgdMomentumDampening:
            return sgd(SGD<S>(learningRate: f(0.05), momentum: f(0.8), dampening: f(0.3), weightDecay: f(0.01)))
        case .sgdNesterov: return sgd(SGD<S>(learningRate: f(0.1), momentum: f(0.9), weightDecay: f(0.02), nesterov: true))
        case .adam: return adam(Adam<S>(learningRate: f(0.05), betas: (f(0.9), f(0.999))))
        case .adamL2: return adam(Adam<S>(learningRate: f(0.05), betas: (f(0.8), f(0.99)), epsilon: f(1e-6), weightDecay: f(0.1)))
        case .adamW:
            return adam(Adam<S>.adamW(learningRate: f(0.05), betas: (f(0.85), f(0.995)), epsilon: f(1e-8), weightDecay: f(0.3)))
        }
    }

    /// Store layouts (three tensors w, b, c) and whether b forms a parameter group of its own
    /// (weight decay 0.2, so the update runs in three ranges). Sizes: 7 (below Adam's 8 lanes),
    /// 8 (one lane group; with the group: ranges 4, 1, 3, all scalar), 21, 37 and 56 (lanes and
    /// tails, per range when grouped).
    static let optimizerLayouts: [([[Int]], Bool)] = [
        ([[2, 2], [1], [2]], false), ([[2, 2], [1], [3]], false), ([[2, 2], [1], [3]], true),
        ([[2, 4], [8], [5]], false), ([[2, 4], [8], [5]], true), ([[2, 5], [11], [16]], true),
        ([[3, 9], [10], [19]], false), ([[3, 9], [10], [19]], true)
    ]

    /// Every optimizer in Float against Double over 8 steps; from step 4 on, every third entry of
    /// w is pruned (masks). Values and moment buffers are compared after every step.
    @Test(arguments: OptimizerKind.allCases, optimizerLayouts)
    func optimizerFloatMatchesDouble(kind: OptimizerKind, layout: ([[Int]], Bool)) {
        let (shapes, grouped) = layout
        let count = shapes.map { $0.reduce(1, *) }.reduce(0, +)
        let seed = 2800 + UInt64(count)
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        let w = store.add("w", shape: shapes[0], .uniform(bound: 1), rng: &rng)
        let b = store.add("b", shape: shapes[1], .uniform(bound: 1), rng: &rng)
        store.add("c", shape: shapes[2], .uniform(bound: 1), rng: &rng)
        let storeF = FloatOracle.floatTwin(of: store)
        let groups = grouped ? [ParameterGroup(slots: [b], weightDecay: Double(Float(0.2)))] : []
        var opt = makeOptimizer(kind, Double.self, groups: groups), optF = makeOptimizer(kind, Float.self, groups: groups)
        for step in 1...8 {
            if step == 4 {
                for k in stride(from: 0, to: store.info(w).count, by: 3) { store.mask(w)[k] = 0; storeF.mask(w)[k] = 0 }
                store.enableMask(w); storeF.enableMask(w)
            }
            for k in 0..<count {
                let g = Double(Float(rng.normal()))
                store.gradients[k] = g; storeF.gradients[k] = Float(g)
            }
            opt.step(store); optF.step(storeF)
            let label = "\(kind.rawValue) size \(count) \(grouped ? "with" : "without") a parameter group, step \(step), seed \(seed)"
            FloatOracle.expectClose(Array(storeF.values), Array(store.values), tolerance: 1e-5, label)
            if step >= 4 {
                let pruned = stride(from: 0, to: store.info(w).count, by: 3).map { storeF.value(w)[$0] }
                #expect(pruned.allSatisfy { $0 == 0 }, "\(label): pruned values \(pruned)")
            }
            let state = opt.state, stateF = optF.state
            #expect(state.stepCount == stateF.stepCount && Set(state.buffers.keys) == Set(stateF.buffers.keys), "\(label): state")
            for (name, buffer) in state.buffers {
                FloatOracle.expectClose(stateF.buffers[name] ?? [], buffer, tolerance: 1e-5, "\(label): \(name)")
            }
        }
    }

    /// clip_grad_norm_ in Float against Double, clipping and not clipping.
    @Test(arguments: [0.5, 1e3])
    func clippingFloatMatchesDouble(maxNorm: Double) {
        let seed: UInt64 = 2900
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Double>()
        store.add("w", shape: [4, 7]); store.add("b", shape: [9])
        for k in 0..<store.totalCount { store.gradients[k] = rng.normal() }
        let storeF = FloatOracle.floatTwin(of: store)
        let norm = clipGradientNorm(store, maxNorm: maxNorm), normF = clipGradientNorm(storeF, maxNorm: maxNorm)
        #expect(abs(normF - norm) < 1e-12 * norm, "clip norm \(maxNorm), seed \(seed): Float \(normF), Double \(norm)")
        FloatOracle.expectClose(Array(storeF.gradients), Array(store.gradients), tolerance: 1e-6, "clip \(maxNorm), seed \(seed)")
        #expect((norm > maxNorm) == (maxNorm == 0.5), "the clipping case clips and the other does not, seed \(seed)")
    }
}
