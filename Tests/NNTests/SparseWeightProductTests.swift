// The sparse weight product against the dense GEMMs: a pruned network gives the same outputs,
// input and state gradients and kept W_hh gradients with CSR and block-sparse W_hh, in both
// layouts, for every cell kind, in Float and Double, and a pruned Linear layer the same outputs
// and gradients; weight and mask changes are followed.
import Testing
import Linalg
@testable import NN

@Suite struct SparseWeightProductTests {
    /// One forward and backward pass: top outputs, dInput, dInitial and every gradient (W_hh's
    /// masked, as the optimizer does before using it).
    static func pass<S: BLASScalar>(
        _ net: RecurrentNetwork, _ store: ParameterStore<S>, x: Matrix<S>, batch: Int,
        h0: [RecurrentState<S>], w: Matrix<S>
    ) -> [[Double]] {
        store.zeroGradients()
        let caches = net.forward(x, batch: batch, initial: h0, store)
        let (dx, d0) = net.backward(caches, dOutput: w, dFinal: nil, store, needInputGradient: true)
        store.maskGradients()
        let parts =
            [caches.last!.output.scalars, dx.scalars] + d0.map { $0.hidden.scalars + ($0.cell?.scalars ?? []) }
            + store.slots.map { store.gradientMatrix($0).scalars }
        return parts.map { $0.map(Double.init) }
    }

    /// Largest |a - b| / max(1, |a|) over every part.
    static func difference(_ a: [[Double]], _ b: [[Double]]) -> Double {
        guard a.count == b.count else { return .infinity }
        var worst = 0.0
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return .infinity }
            for (u, v) in zip(x, y) {
                let e: Double = abs(u - v) / max(1, abs(u))
                if !(e <= worst) { worst = e }
            }
        }
        return worst
    }

    /// Prunes W_hh of every layer at random (about `fraction` of the entries) and puts the mask in force.
    static func prune<S: BLASScalar>(
        _ net: RecurrentNetwork, _ store: ParameterStore<S>, fraction: Double,
        rng: inout SeededGenerator
    ) {
        for slot in net.recurrentWeights {
            let m = store.mask(slot)
            for j in 0..<store.info(slot).count where m[j] != 0 && rng.uniform() < fraction { m[j] = 0 }
            store.enableMask(slot)
        }
    }

    func check<S: BLASScalar>(_: S.Type, kind: CellKind, format: SparseWeightProduct.Format, batch: Int, seed: UInt64) {
        let (i, h, t, layers) = (3, 11, 4, 2)
        let tolerance = S.self == Float.self ? 2e-5 : 1e-12
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<S>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: layers, in: store, rng: &rng)
        Self.prune(net, store, fraction: 0.7, rng: &rng)
        let x: Matrix<S> = rng.normalMatrix(rows: t * batch, columns: i)
        var h0 = net.zeroState(batch: batch, as: S.self)
        for k in h0.indices {
            h0[k].hidden = rng.normalMatrix(rows: batch, columns: h, std: 0.5)
            if h0[k].cell != nil { h0[k].cell = rng.normalMatrix(rows: batch, columns: h, std: 0.5) }
        }
        let w: Matrix<S> = rng.normalMatrix(rows: t * batch, columns: h)
        let tag = "\(S.self) \(kind) \(format) batch \(batch) seed \(seed)"

        // The same layers under a network of its own: copies of one network share their products.
        let denseNet = RecurrentNetwork(kind: kind, layers: net.layers)
        var products: [SparseWeightProduct] = []
        net.replaceProducts { layer in
            let p = SparseWeightProduct(for: layer, format: format, denseAboveDensity: 1)
            products.append(p)
            return p
        }
        #expect(products.allSatisfy { !$0.runsDense(in: store) }, "\(tag): fell back to dense")
        var diff = Self.difference(
            Self.pass(denseNet, store, x: x, batch: batch, h0: h0, w: w),
            Self.pass(net, store, x: x, batch: batch, h0: h0, w: w))
        #expect(diff < tolerance, "\(tag): sparse differs from dense by \(diff)")

        // New values at the same mask (applyMask records the change): one refresh at the next
        // use, no new pattern.
        for slot in net.recurrentWeights {
            let v = store.value(slot)
            for j in 0..<store.info(slot).count { v[j] = S(rng.normal(std: 0.4)) }
            store.applyMask(slot)
        }
        diff = Self.difference(
            Self.pass(denseNet, store, x: x, batch: batch, h0: h0, w: w),
            Self.pass(net, store, x: x, batch: batch, h0: h0, w: w))
        #expect(diff < tolerance, "\(tag): after a weight change, sparse differs from dense by \(diff)")
        #expect(products.map(\.counts) == Array(repeating: .init(patternBuilds: 1, valueRefreshes: 1), count: layers), "\(tag)")

        // A pruning event: a new pattern at the next use.
        Self.prune(net, store, fraction: 0.5, rng: &rng)
        diff = Self.difference(
            Self.pass(denseNet, store, x: x, batch: batch, h0: h0, w: w),
            Self.pass(net, store, x: x, batch: batch, h0: h0, w: w))
        #expect(diff < tolerance, "\(tag): after pruning, sparse differs from dense by \(diff)")
        #expect(products.map(\.counts.patternBuilds) == Array(repeating: 2, count: layers), "\(tag)")
    }

    /// Elman in both layouts (batch 5: transposed states; batch 70: rows), CSR and blocks, Float and Double.
    @Test(arguments: [CellKind.rnnTanh, .rnnReLU], [5, 70])
    func elmanMatchesDense(kind: CellKind, batch: Int) {
        for format in [SparseWeightProduct.Format.csr, .block(rows: 1, columns: 8), .block(rows: 4, columns: 4)] {
            check(Double.self, kind: kind, format: format, batch: batch, seed: 800)
            check(Float.self, kind: kind, format: format, batch: batch, seed: 801)
        }
    }

    /// LSTM and GRU (rows layout, gate blocks in W_hh, GRU's accumulating backward product).
    @Test(arguments: [CellKind.lstm, .gru])
    func gatedCellsMatchDense(kind: CellKind) {
        check(Double.self, kind: kind, format: .csr, batch: 3, seed: 810)
        check(Float.self, kind: kind, format: .defaultBlock, batch: 3, seed: 811)
    }

    /// Every writer of the store records its change: the versions of the tensors it wrote move,
    /// and the sparse products follow without being told. After an Adam step, an SGD step, a
    /// load, a value copy, setValue, a re-draw and a renumbering of the hidden units, the sparse
    /// network gives the dense network's results.
    @Test func everyWriterReachesTheProducts() throws {
        var rng = SeededGenerator(seed: 815)
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .lstm, inputSize: 3, hiddenSize: 9, in: store, rng: &rng)
        Self.prune(net, store, fraction: 0.6, rng: &rng)
        let denseNet = RecurrentNetwork(kind: .lstm, layers: net.layers)
        net.replaceProducts { SparseWeightProduct(for: $0, format: .csr, denseAboveDensity: 1) }
        let x: Matrix<Float> = rng.normalMatrix(rows: 4 * 3, columns: 3)
        let w: Matrix<Float> = rng.normalMatrix(rows: 4 * 3, columns: 9)
        let h0 = net.zeroState(batch: 3, as: Float.self)
        let whh = net.recurrentWeights[0]
        let other = store.copy()
        for s in other.slots { other.reinitialize(s, .uniform(bound: 0.5), rng: &rng) }
        other.applyMasks()
        var adam = Adam<Float>(learningRate: 0.05)
        var sgd = SGD<Float>(learningRate: 0.1, momentum: 0.9)
        let all = store.slots
        let writers: [(String, [ParameterSlot], () throws -> Void)] = [
            ("Adam step", all, { adam.step(store) }),
            ("SGD step", all, { sgd.step(store) }),
            ("load", all, { try store.load(other.namedValues()) }),
            ("setValue", [whh], { store.setValue(whh, Matrix(rows: 36, columns: 9, scalars: other.matrix(whh).scalars.map { -$0 })) }),
            ("copyValues", all, { store.copyValues(from: other) }),
            (
                "reinitialize", [whh],
                {
                    store.reinitialize(whh, .uniform(bound: 0.3), rng: &rng); store.applyMask(whh)
                }
            ),
            ("permuteHiddenUnits", [whh], { store.permuteHiddenUnits(Array((0..<9).reversed()), along: net.hiddenUnitAxes) })
        ]
        var last = Self.pass(net, store, x: x, batch: 3, h0: h0, w: w)
        for (name, written, write) in writers {
            let before = all.map { store.valueVersion($0) }
            try write()
            for (s, version) in zip(all, before) where written.contains(s) {
                #expect(store.valueVersion(s) != version, "\(name): the version of \(store.info(s).name) did not move")
            }
            let sparse = Self.pass(net, store, x: x, batch: 3, h0: h0, w: w)
            let dense = Self.pass(denseNet, store, x: x, batch: 3, h0: h0, w: w)
            #expect(Self.difference(dense, sparse) < 2e-5, "after \(name)")
            #expect(Self.difference(last, sparse) > 1e-4, "\(name) changed nothing the test can see")
            last = sparse
        }
        let maskVersion = store.maskVersion(whh)
        Self.prune(net, store, fraction: 0.3, rng: &rng)
        #expect(store.maskVersion(whh) != maskVersion, "enableMask: the mask version did not move")
    }

    /// A version is never seen twice: two stores built the same way, one after the other (the
    /// second may take the first's freed address), give their tensors different versions, so a
    /// product keyed by a store's identity cannot take one for the other.
    @Test func versionsAreUniqueAcrossStores() {
        func build() -> (UInt64, UInt64) {
            let store = ParameterStore<Float>()
            let slot = store.add("w", shape: [3, 3])
            return (store.valueVersion(slot), store.maskVersion(slot))
        }
        let first = build(), second = build()
        #expect(first.0 != second.0 && first.1 != second.1)
    }

    /// No mask in force, or a mask keeping more than `denseAboveDensity`: the dense GEMMs run,
    /// with the dense results to the bit.
    @Test func denseFallback() {
        var rng = SeededGenerator(seed: 820)
        let store = ParameterStore<Float>()
        let net = RecurrentNetwork(kind: .rnnTanh, inputSize: 2, hiddenSize: 7, in: store, rng: &rng)
        let x: Matrix<Float> = rng.normalMatrix(rows: 3 * 4, columns: 2)
        let w: Matrix<Float> = rng.normalMatrix(rows: 3 * 4, columns: 7)
        let h0 = net.zeroState(batch: 4, as: Float.self)
        let denseNet = RecurrentNetwork(kind: .rnnTanh, layers: net.layers)
        var product: SparseWeightProduct?
        net.replaceProducts { layer in
            let p = SparseWeightProduct(for: layer, format: .csr, denseAboveDensity: 0.5)
            product = p
            return p
        }
        #expect(product?.runsDense(in: store) == true)
        #expect(Self.pass(denseNet, store, x: x, batch: 4, h0: h0, w: w) == Self.pass(net, store, x: x, batch: 4, h0: h0, w: w))
        Self.prune(net, store, fraction: 0.2, rng: &rng)
        #expect(product?.runsDense(in: store) == true)
        Self.prune(net, store, fraction: 0.9, rng: &rng)
        #expect(product?.runsDense(in: store) == false)
    }
}

/// A pruned `Linear` layer on sparse kernels against the same layer on GEMMs: outputs, input
/// gradient, kept weight gradients and bias gradient, for one row (the batch-1 kernels) and many
/// (the tiled row-layout kernels), CSR and blocks, Float and Double; value changes and a pruning
/// event are followed, and copies of the layer share the switch.
@Suite struct SparseLinearTests {
    /// Forward and backward on `layer`: y, dX, and every gradient with the mask applied.
    static func pass<S: BLASScalar>(_ layer: Linear, _ store: ParameterStore<S>, x: Matrix<S>, dY: Matrix<S>) -> [[Double]] {
        store.zeroGradients()
        let y = layer.forward(x, store)
        let dx = layer.backward(input: x, dOutput: dY, store)
        store.maskGradients()
        return ([y.scalars, dx.scalars] + store.slots.map { store.gradientMatrix($0).scalars }).map { $0.map(Double.init) }
    }

    static func prune<S: BLASScalar>(_ slot: ParameterSlot, _ store: ParameterStore<S>, fraction: Double, rng: inout SeededGenerator) {
        let m = store.mask(slot)
        for j in 0..<store.info(slot).count where m[j] != 0 && rng.uniform() < fraction { m[j] = 0 }
        store.enableMask(slot)
        store.applyMask(slot)
    }

    func check<S: BLASScalar>(_: S.Type, format: SparseWeightProduct.Format, rows: Int, bias: Bool, seed: UInt64) {
        let (inputs, outputs) = (13, 21)
        let tolerance = S.self == Float.self ? 2e-5 : 1e-12
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<S>()
        let layer = Linear(inputSize: inputs, outputSize: outputs, bias: bias, name: "decoder", in: store, rng: &rng)
        Self.prune(layer.weight, store, fraction: 0.8, rng: &rng)
        let x: Matrix<S> = rng.normalMatrix(rows: rows, columns: inputs)
        let dY: Matrix<S> = rng.normalMatrix(rows: rows, columns: outputs)
        let tag = "\(S.self) \(format) rows \(rows) bias \(bias) seed \(seed)"

        let dense = Self.pass(layer, store, x: x, dY: dY)
        let copy = layer  // made before the switch: shares it
        let product = SparseWeightProduct(
            weight: layer.weight, outputs: outputs, inputs: inputs, format: format,
            denseAboveDensity: 1)
        layer.replaceProduct(product)
        #expect((copy.product as? SparseWeightProduct) === product, "\(tag): a copy of the layer does not see the switch")
        #expect(!product.runsDense(in: store), "\(tag): fell back to dense")
        var diff = SparseWeightProductTests.difference(dense, Self.pass(copy, store, x: x, dY: dY))
        #expect(diff < tolerance, "\(tag): sparse differs from dense by \(diff)")

        // New values at the same mask, then a pruning event.
        for phase in ["new values", "pruning"] {
            if phase == "pruning" {
                Self.prune(layer.weight, store, fraction: 0.5, rng: &rng)
            } else {
                let v = store.value(layer.weight)
                for j in 0..<store.info(layer.weight).count { v[j] = S(rng.normal(std: 0.4)) }
                store.applyMask(layer.weight)
            }
            layer.replaceProduct(DenseWeightProduct(for: layer))
            let want = Self.pass(layer, store, x: x, dY: dY)
            layer.replaceProduct(product)
            diff = SparseWeightProductTests.difference(want, Self.pass(layer, store, x: x, dY: dY))
            #expect(diff < tolerance, "\(tag): after \(phase), sparse differs from dense by \(diff)")
        }
        #expect(product.counts == .init(patternBuilds: 2, valueRefreshes: 1), "\(tag): \(product.counts)")
    }

    @Test(arguments: [1, 37])
    func matchesDense(rows: Int) {
        for format in [SparseWeightProduct.Format.csr, .defaultBlock] {
            for bias in [true, false] {
                check(Double.self, format: format, rows: rows, bias: bias, seed: 830)
                check(Float.self, format: format, rows: rows, bias: bias, seed: 831)
            }
        }
    }

    /// The trainer's rule: a product keeps the GEMMs (bit for bit) while the weight is unmasked or
    /// denser than its threshold.
    @Test func denseUntilSparseEnough() {
        var rng = SeededGenerator(seed: 840)
        let store = ParameterStore<Float>()
        let layer = Linear(inputSize: 9, outputSize: 6, name: "encoder", in: store, rng: &rng)
        let x: Matrix<Float> = rng.normalMatrix(rows: 40, columns: 9)
        let dY: Matrix<Float> = rng.normalMatrix(rows: 40, columns: 6)
        let before = Self.pass(layer, store, x: x, dY: dY)
        let product = SparseWeightProduct(weight: layer.weight, outputs: 6, inputs: 9, denseAboveDensity: 0.5)
        layer.replaceProduct(product)
        #expect(product.runsDense(in: store))
        #expect(Self.pass(layer, store, x: x, dY: dY) == before)
        Self.prune(layer.weight, store, fraction: 0.9, rng: &rng)
        #expect(!product.runsDense(in: store))
    }
}
