// `--recurrent-kernels auto`: at every pruning event (and at the start of the lottery phase), each
// pruned weight gets the sparse kernels or the dense GEMMs, whichever multiplies its current mask
// faster at the step's rows and the run's thread count. The choice is recorded (metrics.jsonl and
// the checkpoint) and a resumed run reuses it: dense and sparse products round differently, so a
// run's bits follow its recorded choices, never a new measurement.
import Compute
import Foundation
import Linalg
import NN

/// The kernels chosen for one pruned weight's products.
public struct KernelDecision: Codable, Sendable, Equatable {
    /// The weight's name in the store (`rnn.weight_hh_l0`).
    public var weight: String
    /// True: the sparse kernels (CSR at the mask's pattern); false: the dense GEMMs.
    public var sparse: Bool
    /// The fraction of the weight's entries its mask keeps (1 without a mask).
    public var density: Double
    /// Milliseconds of the dense and the sparse forward and backward products, when they were
    /// timed (nil: decided without timing, `KernelChoice.decide`).
    public var denseMilliseconds: Double?
    public var sparseMilliseconds: Double?
    /// The threads the products were timed at.
    public var threads: Int

    /// A decision from its parts.
    public init(
        weight: String, sparse: Bool, density: Double, denseMilliseconds: Double? = nil, sparseMilliseconds: Double? = nil,
        threads: Int
    ) {
        self.weight = weight; self.sparse = sparse; self.density = density
        self.denseMilliseconds = denseMilliseconds; self.sparseMilliseconds = sparseMilliseconds; self.threads = threads
    }
}

/// A kernel-choice line of metrics.jsonl (`"kind": "kernels"`): the decisions made at a step.
public struct KernelRecord: Codable, Sendable, Equatable {
    /// Always "kernels".
    public var kind = "kernels"
    /// Steps over all phases when the decisions were made (before that step's update).
    public var step: Int
    /// 0 = main training, 1 = lottery-ticket retraining.
    public var phase: Int
    /// One decision per pruned weight.
    public var decisions: [KernelDecision]
}

/// How `--recurrent-kernels auto` decides between the sparse kernels and the dense GEMMs.
public enum KernelChoice {
    /// Above this fraction of kept entries a weight stays dense without timing: a CSR product
    /// does about twice the work of a dense one per kept entry, so it cannot win there.
    public static let timedBelowDensity = 0.5
    /// Weights with fewer entries than this are decided without timing (sparse at most
    /// `untimedSparseDensity` kept): their products take microseconds, too little to time
    /// reliably or to matter, and the choice then stays the same on every machine.
    public static let timedFromEntries = 1 << 16
    /// The kept fraction at which an untimed weight switches to the sparse kernels.
    public static let untimedSparseDensity = 0.2
    /// Timed repetitions of each product (the fastest counts), after one untimed.
    public static let repetitions = 5

    /// The decision for a weight `outputs x inputs` keeping `density` of its entries, from the
    /// milliseconds of its dense and sparse products (`time`, called only when the weight is
    /// timed: at most `timedBelowDensity` kept, at least `timedFromEntries` entries).
    static func decide(
        weight: String, density: Double, entries: Int, threads: Int, time: () -> (dense: Double, sparse: Double)
    ) -> KernelDecision {
        if density > timedBelowDensity { return KernelDecision(weight: weight, sparse: false, density: density, threads: threads) }
        if entries < timedFromEntries {
            return KernelDecision(weight: weight, sparse: density <= untimedSparseDensity, density: density, threads: threads)
        }
        let (dense, sparse) = time()
        return KernelDecision(
            weight: weight, sparse: sparse < dense, density: density, denseMilliseconds: dense, sparseMilliseconds: sparse,
            threads: threads)
    }

    /// The fastest of `repetitions` forward-and-backward passes of `product` over `rows` rows
    /// (transposed states when `transposed`, as a recurrent layer runs them at that batch), in
    /// milliseconds. Inputs are fixed values; the store is only read.
    static func milliseconds(
        _ product: any RecurrentProduct, rows: Int, transposed: Bool, _ store: ParameterStore<Float>
    ) -> Double {
        let inputs = product.hiddenSize, outputs = product.outputs
        var x = [Float](repeating: 0, count: rows * inputs), dy = [Float](repeating: 0, count: rows * outputs)
        for i in x.indices { x[i] = Float((i * 7919) % 97) / 97 - 0.5 }
        for i in dy.indices { dy[i] = Float((i * 104_729) % 89) / 89 - 0.5 }
        let cpu = CPUBackend()
        let parameters = store.buffers(on: cpu)
        var best = Double.infinity
        do {
            let (xb, dyb) = (try cpu.buffer(x), try cpu.buffer(dy))
            let (yb, dxb) = (try cpu.allocate(count: rows * outputs), try cpu.allocate(count: rows * inputs))
            for k in 0...repetitions {
                let start = DispatchTime.now().uptimeNanoseconds
                if transposed {
                    try product.forwardTransposed(xb, batch: rows, addingTo: yb, parameters)
                    try product.backwardTransposed(dyb, batch: rows, into: dxb, accumulate: false, parameters)
                } else {
                    try product.forward(xb, batch: rows, into: yb, accumulate: true, parameters)
                    try product.backward(dyb, batch: rows, into: dxb, accumulate: false, parameters)
                }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if k > 0 { best = min(best, ms) }
            }
        } catch { preconditionFailure("timing the kernels of \(store.info(product.weight).name): \(error)") }
        return best
    }
}

extension ParameterRoles {
    /// A pruned weight whose products the kernels run: its slot, shape, the rows of a step's
    /// products and whether it is a recurrent weight (transposed states at small batches).
    struct KernelWeight {
        var slot: ParameterSlot, outputs: Int, inputs: Int, rows: Int, recurrent: Bool
    }

    /// The pruned weights of the networks' layers and of the linear layers.
    var kernelWeights: [KernelWeight] {
        let prunedSlots = Set(pruned)
        var weights: [KernelWeight] = []
        for network in networks {
            for layer in network.layers where prunedSlots.contains(layer.weightHH) {
                weights.append(
                    KernelWeight(
                        slot: layer.weightHH, outputs: layer.gateCount * layer.hiddenSize, inputs: layer.hiddenSize, rows: batch,
                        recurrent: true))
            }
        }
        for linear in linears where prunedSlots.contains(linear.weight) {
            weights.append(
                KernelWeight(slot: linear.weight, outputs: linear.outputSize, inputs: linear.inputSize, rows: linearRows, recurrent: false))
        }
        return weights
    }

    /// Decides the kernels of every pruned weight under its current mask (`KernelChoice.decide`),
    /// timing the products at `threads` threads (the run's, set already).
    func decideKernels(in store: ParameterStore<Float>, threads: Int) -> [KernelDecision] {
        kernelWeights.map { w in
            let entries = w.outputs * w.inputs
            var density = 1.0
            if store.isMasked[w.slot.index] {
                let mask = UnsafeBufferPointer(start: store.mask(w.slot), count: entries)
                density = Double(mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) / Double(max(1, entries))
            }
            return KernelChoice.decide(weight: store.info(w.slot).name, density: density, entries: entries, threads: threads) {
                let transposed = w.recurrent && DenseWeightProduct.prefersTransposedStates(batch: w.rows)
                let dense = DenseWeightProduct(weight: w.slot, outputs: w.outputs, inputs: w.inputs)
                let sparse = SparseWeightProduct(weight: w.slot, outputs: w.outputs, inputs: w.inputs, denseAboveDensity: 1)
                return (
                    KernelChoice.milliseconds(dense, rows: w.rows, transposed: transposed, store),
                    KernelChoice.milliseconds(sparse, rows: w.rows, transposed: transposed, store)
                )
            }
        }
    }

    /// Runs every pruned weight's products on the kernels `decisions` name (by weight name; a
    /// weight without a decision runs the dense GEMMs) and tells the products the current weights.
    func applyKernels(_ decisions: [KernelDecision], in store: ParameterStore<Float>) {
        let sparseWeights = Set(decisions.filter(\.sparse).map(\.weight))
        let prunedSlots = Set(pruned)
        func isSparse(_ slot: ParameterSlot) -> Bool { prunedSlots.contains(slot) && sparseWeights.contains(store.info(slot).name) }
        for network in networks {
            network.replaceProducts { layer -> any RecurrentProduct in
                if isSparse(layer.weightHH) { return SparseWeightProduct(for: layer, denseAboveDensity: 1) }
                return DenseWeightProduct(for: layer)
            }
        }
        for linear in linears where prunedSlots.contains(linear.weight) {
            linear.replaceProduct(
                isSparse(linear.weight) ? SparseWeightProduct(for: linear, denseAboveDensity: 1) : DenseWeightProduct(for: linear))
        }
    }

    /// The kernels each pruned weight's products run now: its name and "sparse" or "dense".
    func kernelChoices(in store: ParameterStore<Float>) -> [String: String] {
        let prunedSlots = Set(pruned)
        var choices: [String: String] = [:]
        func record(_ product: any WeightProduct) {
            let sparse = (product as? SparseWeightProduct).map { !$0.runsDense(in: store) } ?? false
            choices[store.info(product.weight).name] = sparse ? "sparse" : "dense"
        }
        for network in networks {
            for product in network.products where prunedSlots.contains(product.weight) { record(product) }
        }
        for linear in linears where prunedSlots.contains(linear.weight) { record(linear.product) }
        return choices
    }
}
