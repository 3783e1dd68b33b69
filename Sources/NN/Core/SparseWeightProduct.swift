// The products of a pruned weight matrix through a CSR or block-sparse copy at its mask's pattern:
// a recurrent layer's W_hh or a Linear layer's W (the WeightProduct seam, WeightProduct.swift).
// Kernels in Linalg/Sparse.
import Compute
import Foundation
import Linalg

/// Products with a weight W (`outputs x inputs`, row-major in the store) on a compressed copy: the
/// kept entries of its mask, in CSR (`.csr`) or block-sparse (`.block`) form. As a
/// `RecurrentProduct` W is a recurrent layer's W_hh (`outputs` = G * H, `inputs` = H); a pruned
/// `Linear` layer runs the three products on rows (`y (+)= x W^T`, `dx (+)= dy W`, `dW += dy^T x`
/// at the kept entries).
///
/// - CSR keeps a second CSR copy of W^T (the same kept entries, column by column), so that the
///   backward products gather like the forward ones instead of scattering into the output
///   (H 512, 85% sparse, batch 200: 0.84x dense OpenBLAS scattering).
/// - Pattern: the entries the slot's mask keeps (mask != 0), kept zeros included, so that an
///   optimizer step only changes values. While no mask is in force on the slot, or while the mask
///   keeps more than `denseAboveDensity` of the entries, the product runs the dense GEMMs of
///   `DenseWeightProduct` instead (a sparse kernel is slower than OpenBLAS there).
/// - The copy follows the store's versions of the weight (`ParameterStore.valueVersion`,
///   `maskVersion`): before a product, it re-gathers the values at the same pattern when the value
///   version moved, and rebuilds the pattern when the mask version moved. Nobody needs to tell it
///   that the weights changed. Debug builds check on every use that the copy holds the store's
///   values, which catches a writer that forgot to bump the version.
/// - The weight gradient is the SDDMM at the pattern: entries outside it keep their old gradient
///   (the seam allows this; the optimizer masks them). The block format also writes the padding
///   entries of its blocks.
/// - The compressed copy is made for the store it was built from; a call with another store (or
///   another scalar type) rebuilds it from that store first.
///
/// Thread safety: the product is a class (it owns the compressed copy and a workspace), marked
/// `@unchecked Sendable` because every method holds `lock` while it reads or replaces them; calls
/// from several threads are serialized, not wrong.
public final class SparseWeightProduct: RecurrentProduct, @unchecked Sendable {
    /// The compressed form of W.
    public enum Format: Sendable, Equatable, CustomStringConvertible {
        /// Compressed sparse rows.
        case csr
        /// Dense `rows x columns` blocks (`columns` 4 or 8).
        case block(rows: Int, columns: Int)

        /// The block format with `BlockSparseMatrix.defaultBlockShape`.
        public static var defaultBlock: Format {
            let s = BlockSparseMatrix<Float>.defaultBlockShape
            return .block(rows: s.rows, columns: s.columns)
        }

        public var description: String {
            switch self {
            case .csr: "csr"
            case .block(let r, let c): "block \(r)x\(c)"
            }
        }
    }

    /// The weight's slot.
    public let weight: ParameterSlot
    /// Rows of W (G * H for W_hh).
    public let outputs: Int
    /// Columns of W (H for W_hh).
    public let inputs: Int
    /// The compressed form.
    public let format: Format
    /// Above this fraction of kept entries the dense GEMMs run instead of the sparse kernels.
    /// Default 0.2: on the benchmark machine (BENCHMARKS.md, "Sparse kernels"; AVX-512 OpenBLAS
    /// against 4-lane SSE kernels) CSR beats dense at 90% sparsity and loses at 50%, at batch 1
    /// and at batch 200.
    public let denseAboveDensity: Double

    private let lock = NSLock()
    /// A `SparseProductStorage<S>` for the scalar type `storageScalar`, or nil before the first build.
    private var storage: AnyObject?
    private var storageScalar: ObjectIdentifier?
    private var counters = Counters()

    /// How often the compressed copy was built and refreshed (for tests and diagnostics).
    public struct Counters: Sendable, Equatable {
        /// Patterns built (first use, a mask change, another store or scalar type).
        public var patternBuilds = 0
        /// Value refreshes at an unchanged pattern.
        public var valueRefreshes = 0
    }

    /// The products with the weight in slot `weight`, `outputs x inputs`.
    public init(
        weight: ParameterSlot, outputs: Int, inputs: Int, format: Format = .csr,
        denseAboveDensity: Double = 0.2
    ) {
        precondition(outputs > 0 && inputs > 0, "A sparse product needs a non-empty weight")
        if case .block(let r, let c) = format {
            precondition((c == 4 || c == 8) && (1...16).contains(r), "Block format \(r)x\(c): columns must be 4 or 8, rows 1 to 16")
        }
        self.weight = weight
        self.outputs = outputs
        self.inputs = inputs
        self.format = format
        self.denseAboveDensity = denseAboveDensity
    }

    /// The product with `layer`'s W_hh.
    public convenience init(for layer: some RecurrentLayer, format: Format = .csr, denseAboveDensity: Double = 0.2) {
        self.init(
            weight: layer.weightHH, outputs: layer.gateCount * layer.hiddenSize, inputs: layer.hiddenSize,
            format: format, denseAboveDensity: denseAboveDensity)
    }

    /// The product with `layer`'s weight.
    public convenience init(for layer: Linear, format: Format = .csr, denseAboveDensity: Double = 0.2) {
        self.init(
            weight: layer.weight, outputs: layer.outputSize, inputs: layer.inputSize, format: format,
            denseAboveDensity: denseAboveDensity)
    }

    /// Build and refresh counts so far.
    public var counts: Counters { lock.withLock { counters } }

    /// Whether the products currently run the dense GEMMs (no mask in force, or too dense), as of
    /// the last build for `store`.
    public func runsDense<S: BLASScalar>(in store: ParameterStore<S>) -> Bool {
        let offset = store.info(weight).offset
        return lock.withLock { current(store, values: store.value(weight) - offset, masks: store.mask(weight) - offset).dense }
    }

    /// The same layout rule as the dense product (transposed states for a batch of at most 64):
    /// the sparse kernels run on either layout, and a layer may fall back to the dense GEMMs.
    public func prefersTransposedStates(batch: Int, on backend: some ComputeBackend) -> Bool {
        DenseWeightProduct.prefersTransposedStates(batch: batch)
    }

    // MARK: Products

    /// `y (B x outputs) = x (B x inputs) W^T`, or `+=` when `accumulate` (a linear layer overwrites:
    /// no pass to clear y first).
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, batch: Int, into y: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try lock.withLock {
            let s = try current(parameters, (x, batch * inputs), (y, batch * outputs))
            if s.dense { return try dense.forward(x, batch: batch, into: y, accumulate: accumulate, parameters) }
            s.matrix?.forward(host(x), batch: batch, into: host(y), accumulate: accumulate, workspace: s.workspace)
        }
    }

    /// `preT (outputs x B) += W hT (inputs x B)`.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func forwardTransposed<Backend: ComputeBackend>(
        _ hiddenT: ComputeBuffer<Backend.Scalar>, batch: Int, addingTo preT: ComputeBuffer<Backend.Scalar>,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try lock.withLock {
            let s = try current(parameters, (hiddenT, batch * inputs), (preT, batch * outputs))
            if s.dense { return try dense.forwardTransposed(hiddenT, batch: batch, addingTo: preT, parameters) }
            s.matrix?.forwardTransposed(host(hiddenT), batch: batch, addingTo: host(preT))
        }
    }

    /// `dx (B x inputs) (+)= dy (B x outputs) W`.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, batch: Int, into dx: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try lock.withLock {
            let s = try current(parameters, (dy, batch * outputs), (dx, batch * inputs))
            if s.dense { return try dense.backward(dy, batch: batch, into: dx, accumulate: accumulate, parameters) }
            s.matrix?.backward(host(dy), batch: batch, into: host(dx), accumulate: accumulate, workspace: s.workspace)
        }
    }

    /// `dHiddenT (inputs x B) (+)= W^T dPreT (outputs x B)`.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func backwardTransposed<Backend: ComputeBackend>(
        _ dPreT: ComputeBuffer<Backend.Scalar>, batch: Int, into dHiddenT: ComputeBuffer<Backend.Scalar>, accumulate: Bool,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try lock.withLock {
            let s = try current(parameters, (dPreT, batch * outputs), (dHiddenT, batch * inputs))
            if s.dense { return try dense.backwardTransposed(dPreT, batch: batch, into: dHiddenT, accumulate: accumulate, parameters) }
            s.matrix?.backwardTransposed(host(dPreT), batch: batch, into: host(dHiddenT), accumulate: accumulate)
        }
    }

    /// `dW[kept] += (dy^T x)[kept]` (`rows` rows each; for W_hh the steps' dPre and h_0 ... h_{T-1}): the SDDMM at the pattern.
    @_specialize(where Backend == CPUBackend<Float>)  // the CPU path, called through the protocol
    @_specialize(where Backend == CPUBackend<Double>)
    public func accumulateWeightGradient<Backend: ComputeBackend>(
        _ dy: ComputeBuffer<Backend.Scalar>, input x: ComputeBuffer<Backend.Scalar>, rows: Int,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        try lock.withLock {
            let s = try current(parameters, (dy, rows * outputs), (x, rows * inputs))
            if s.dense { return try dense.accumulateWeightGradient(dy, input: x, rows: rows, parameters) }
            let gradient = try parameters.gradient(weight)
            s.matrix?.addSampledProduct(host(dy), host(x), count: rows, into: host(gradient), ldg: inputs, workspace: s.workspace)
        }
    }

    // MARK: The compressed copy

    /// The host pointer of a buffer in host memory (checked by `current`).
    @inline(__always)
    private func host<S: BLASScalar>(_ buffer: ComputeBuffer<S>) -> UnsafeMutablePointer<S> {
        UnsafeMutablePointer<S>(bitPattern: UInt(buffer.address)).unsafelyUnwrapped
    }

    /// The copy for `parameters`, after checking that its backend's buffers are host memory (the
    /// sparse kernels read and write them directly) and that each operand holds the elements its
    /// shape needs. Call with `lock` held.
    @inline(__always)
    private func current<Backend: ComputeBackend>(
        _ parameters: ParameterBuffers<Backend>, _ a: (ComputeBuffer<Backend.Scalar>, Int), _ b: (ComputeBuffer<Backend.Scalar>, Int)
    ) throws -> SparseProductStorage<Backend.Scalar> {
        guard parameters.backend.isHostMemory else {
            throw ComputeError.invalidArgument(
                "the sparse products of \(parameters.store.info(weight).name) run on host memory, not on \(parameters.backend.name): "
                    + "use the dense kernels there (--recurrent-kernels dense)")
        }
        guard a.0.count >= a.1 && b.0.count >= b.1 else {
            throw ComputeError.invalidArgument(
                "sparse product with \(parameters.store.info(weight).name): the operands have \(a.0.count) and \(b.0.count) "
                    + "elements, need \(a.1) and \(b.1)")
        }
        return current(parameters.store, values: UnsafePointer(host(parameters.values)), masks: UnsafePointer(host(parameters.masks)))
    }

    /// The dense GEMMs, for the fallback.
    private var dense: DenseWeightProduct { DenseWeightProduct(weight: weight, outputs: outputs, inputs: inputs) }

    /// The copy for `store`, up to date with the weight's versions there: the values re-gathered
    /// if they changed, the pattern rebuilt if the mask changed or the copy was made for another
    /// store or scalar type. `values` and `masks` hold the store's tensors (its own memory, or a
    /// copy laid out like it). Call with `lock` held.
    @inline(__always)
    private func current<S: BLASScalar>(
        _ store: ParameterStore<S>, values: UnsafePointer<S>, masks: UnsafePointer<S>
    ) -> SparseProductStorage<S> {
        let offset = store.info(weight).offset
        if storageScalar == ObjectIdentifier(S.self), let any = storage {
            let s = unsafeDowncast(any, to: SparseProductStorage<S>.self)
            if s.store == ObjectIdentifier(store), s.maskVersion == store.maskVersion(weight) {
                let version = store.valueVersion(weight)
                if s.valueVersion != version {
                    if !s.dense { s.refresh(from: values + offset) }
                    s.valueVersion = version
                    counters.valueRefreshes += 1
                }
                #if DEBUG
                    s.checkValues(against: values + offset, weight: store.info(weight).name)
                #endif
                return s
            }
        }
        return build(store, values: values + offset, mask: masks + offset)
    }

    /// Builds the copy from the store's values and mask. Call with `lock` held.
    @discardableResult
    private func build<S: BLASScalar>(
        _ store: ParameterStore<S>, values v: UnsafePointer<S>, mask m: UnsafePointer<S>
    ) -> SparseProductStorage<S> {
        let total = outputs * inputs
        let masked = store.isMasked[weight.index]
        let dense = !masked || Double(keptCount(mask: m)) > denseAboveDensity * Double(total)
        let s = SparseProductStorage<S>(
            store: ObjectIdentifier(store), maskVersion: store.maskVersion(weight), valueVersion: store.valueVersion(weight),
            dense: dense)
        if !dense {
            let compressed: any CompressedWeight<S> =
                switch format {
                case .csr:
                    CSRWeight(
                        matrix: CSRMatrix(rows: outputs, columns: inputs, dense: v, mask: m),
                        transposed: CSRMatrix(rows: inputs, columns: outputs, dense: v, mask: m, rowStride: 1, columnStride: inputs))
                case .block(let r, let c):
                    BlockSparseMatrix(rows: outputs, columns: inputs, dense: v, mask: m, blockRows: r, blockColumns: c)
                }
            s.matrix = compressed
            s.allocateWorkspace(compressed.workspaceCount)
        }
        storage = s
        storageScalar = ObjectIdentifier(S.self)
        counters.patternBuilds += 1
        return s
    }

    /// The entries the weight's mask keeps (one pass over the mask, in chunks on the worker pool).
    private func keptCount<S: BLASScalar>(mask m: UnsafePointer<S>) -> Int {
        let parts = Parallel.chunkResults(count: outputs * inputs, chunk: 1 << 16) { range -> Int in
            var kept = 0
            for i in range where m[i] != 0 { kept += 1 }
            return kept
        }
        return parts.reduce(0, +)
    }
}

/// The compressed W of a sparse product, whatever its format: the products the seam needs, the
/// refresh of its values at the same pattern, and the values it holds. `SparseWeightProduct` calls
/// these without knowing the format; a new format (or a device copy) conforms once.
protocol CompressedWeight<Scalar> {
    associatedtype Scalar: BLASScalar
    /// Scalars of workspace the products need.
    var workspaceCount: Int { get }
    /// The stored values, in the format's order (for the debug check of `SparseProductStorage`).
    var storedValues: [Scalar] { get }
    /// `y (B x outputs) = x (B x inputs) W^T`, or `+=` with `accumulate`.
    func forward(
        _ x: UnsafePointer<Scalar>, batch: Int, into y: UnsafeMutablePointer<Scalar>, accumulate: Bool,
        workspace: UnsafeMutablePointer<Scalar>?)
    /// `yT (outputs x B) += W xT (inputs x B)`.
    func forwardTransposed(_ xT: UnsafePointer<Scalar>, batch: Int, addingTo yT: UnsafeMutablePointer<Scalar>)
    /// `dx (B x inputs) = dy (B x outputs) W`, or `+=` with `accumulate`.
    func backward(
        _ dy: UnsafePointer<Scalar>, batch: Int, into dx: UnsafeMutablePointer<Scalar>, accumulate: Bool,
        workspace: UnsafeMutablePointer<Scalar>?)
    /// `dxT (inputs x B) = W^T dyT (outputs x B)`, or `+=` with `accumulate`.
    func backwardTransposed(_ dyT: UnsafePointer<Scalar>, batch: Int, into dxT: UnsafeMutablePointer<Scalar>, accumulate: Bool)
    /// `g[kept] += (dy^T x)[kept]` over `count` rows of dy (`B x outputs`) and x (`B x inputs`),
    /// g with row stride `ldg`: the SDDMM at the pattern.
    func addSampledProduct(
        _ dy: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>, count: Int, into g: UnsafeMutablePointer<Scalar>,
        ldg: Int, workspace: UnsafeMutablePointer<Scalar>?)
    /// Re-reads every kept value from the dense row-major W.
    mutating func refreshValues(from dense: UnsafePointer<Scalar>)
}

/// CSR W with a second CSR copy of W^T at the same kept entries, so that the backward products
/// gather like the forward ones instead of scattering.
struct CSRWeight<Scalar: BLASScalar>: CompressedWeight {
    var matrix: CSRMatrix<Scalar>
    var transposed: CSRMatrix<Scalar>

    var workspaceCount: Int { max(matrix.workspaceCount, transposed.workspaceCount) }
    var storedValues: [Scalar] { matrix.values + transposed.values }

    func forward(
        _ x: UnsafePointer<Scalar>, batch: Int, into y: UnsafeMutablePointer<Scalar>, accumulate: Bool,
        workspace: UnsafeMutablePointer<Scalar>?
    ) {
        matrix.multiplyRows(x, batch: batch, into: y, accumulate: accumulate, workspace: workspace)
    }

    func forwardTransposed(_ xT: UnsafePointer<Scalar>, batch: Int, addingTo yT: UnsafeMutablePointer<Scalar>) {
        matrix.multiplyColumns(xT, batch: batch, into: yT, accumulate: true)
    }

    func backward(
        _ dy: UnsafePointer<Scalar>, batch: Int, into dx: UnsafeMutablePointer<Scalar>, accumulate: Bool,
        workspace: UnsafeMutablePointer<Scalar>?
    ) {
        transposed.multiplyRows(dy, batch: batch, into: dx, accumulate: accumulate, workspace: workspace)
    }

    func backwardTransposed(_ dyT: UnsafePointer<Scalar>, batch: Int, into dxT: UnsafeMutablePointer<Scalar>, accumulate: Bool) {
        transposed.multiplyColumns(dyT, batch: batch, into: dxT, accumulate: accumulate)
    }

    func addSampledProduct(
        _ dy: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>, count: Int, into g: UnsafeMutablePointer<Scalar>,
        ldg: Int, workspace: UnsafeMutablePointer<Scalar>?
    ) {
        matrix.addSampledProduct(dy, x, count: count, into: g, ldg: ldg, workspace: workspace)
    }

    mutating func refreshValues(from dense: UnsafePointer<Scalar>) {
        matrix.refreshValues(from: dense)
        transposed.refreshValues(from: dense)
    }
}

extension BlockSparseMatrix: CompressedWeight {
    var storedValues: [S] { values }

    func forward(
        _ x: UnsafePointer<S>, batch: Int, into y: UnsafeMutablePointer<S>, accumulate: Bool, workspace: UnsafeMutablePointer<S>?
    ) {
        multiplyRows(x, batch: batch, into: y, accumulate: accumulate, workspace: workspace)
    }

    func forwardTransposed(_ xT: UnsafePointer<S>, batch: Int, addingTo yT: UnsafeMutablePointer<S>) {
        multiplyColumns(xT, batch: batch, into: yT, accumulate: true)
    }

    func backward(
        _ dy: UnsafePointer<S>, batch: Int, into dx: UnsafeMutablePointer<S>, accumulate: Bool, workspace: UnsafeMutablePointer<S>?
    ) {
        multiplyTransposedRows(dy, batch: batch, into: dx, accumulate: accumulate, workspace: workspace)
    }

    func backwardTransposed(_ dyT: UnsafePointer<S>, batch: Int, into dxT: UnsafeMutablePointer<S>, accumulate: Bool) {
        multiplyTransposedColumns(dyT, batch: batch, into: dxT, accumulate: accumulate)
    }
}

/// The compressed W of one scalar type, its workspace and what it was built from.
final class SparseProductStorage<S: BLASScalar> {
    let store: ObjectIdentifier
    /// The store's mask version of W that the pattern was built at.
    let maskVersion: UInt64
    /// The store's value version of W that the values were gathered at.
    var valueVersion: UInt64
    /// Whether the products run the dense GEMMs instead.
    let dense: Bool
    /// The compressed W (nil while the products run dense).
    var matrix: (any CompressedWeight<S>)?
    private(set) var workspace: UnsafeMutablePointer<S>?

    init(store: ObjectIdentifier, maskVersion: UInt64, valueVersion: UInt64, dense: Bool) {
        self.store = store
        self.maskVersion = maskVersion
        self.valueVersion = valueVersion
        self.dense = dense
    }

    /// Stops with a message naming the weight when the compressed values differ from the store's:
    /// a write to the store that did not bump the weight's value version (debug builds only).
    func checkValues(against values: UnsafePointer<S>, weight: String) {
        guard let matrix else { return }
        var copy = matrix
        copy.refreshValues(from: values)
        let fresh = copy.storedValues.elementsEqual(matrix.storedValues) { $0 == $1 || ($0.isNaN && $1.isNaN) }
        precondition(fresh, "The sparse copy of \(weight) is stale: a write to it did not call ParameterStore.valuesDidChange")
    }

    deinit { workspace?.deallocate() }

    func allocateWorkspace(_ count: Int) {
        workspace?.deallocate()
        workspace = .allocate(capacity: max(1, count))
    }

    /// Re-gathers the values at the same pattern (in place: the storage holds the only reference).
    func refresh(from values: UnsafePointer<S>) {
        matrix?.refreshValues(from: values)
    }
}
