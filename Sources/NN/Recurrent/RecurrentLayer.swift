// What every recurrent layer (Elman, LSTM, GRU) provides: a whole-sequence forward pass that
// keeps what backpropagation through time needs, and the matching backward pass.
// Layout: sequences are time-major, row t * B + b of a (T * B) x F matrix is sample b at step t.
import Compute
import Linalg

/// The state a recurrent layer carries between steps: h, and c for an LSTM. Each is `B x H`.
public struct RecurrentState<Scalar: BLASScalar>: Sendable, Equatable {
    /// Hidden state h, `B x H`.
    public var hidden: Matrix<Scalar>
    /// Cell state c of an LSTM, `B x H`; nil for Elman and GRU layers.
    public var cell: Matrix<Scalar>?

    /// A state from its parts.
    public init(hidden: Matrix<Scalar>, cell: Matrix<Scalar>? = nil) {
        self.hidden = hidden
        self.cell = cell
    }

    /// The zero state for `batch` samples.
    public static func zeros(batch: Int, hiddenSize: Int, withCell: Bool) -> RecurrentState {
        RecurrentState(
            hidden: Matrix(rows: batch, columns: hiddenSize),
            cell: withCell ? Matrix(rows: batch, columns: hiddenSize) : nil)
    }
}

/// What a layer's forward pass keeps for its backward pass.
public struct RecurrentCache<Scalar: BLASScalar>: Sendable {
    /// Steps T.
    public let steps: Int
    /// Batch B.
    public let batch: Int
    /// The layer input, `(T * B) x I`.
    public var input: Matrix<Scalar>
    /// h_0 ... h_T, `((T + 1) * B) x H`; rows 0..<B are the initial state.
    public var hidden: Matrix<Scalar>
    /// c_0 ... c_T of an LSTM, same layout as `hidden`.
    public var cell: Matrix<Scalar>?
    /// Per-step gate activations, `(T * B) x (G * H)` (layer-specific meaning).
    public var gates: Matrix<Scalar>
    /// Any further per-step values a layer needs (GRU: W_hn h + b_hn), `(T * B) x H`.
    public var extra: Matrix<Scalar>?

    /// Creates a cache (used by the layers).
    public init(
        steps: Int, batch: Int, input: Matrix<Scalar>, hidden: Matrix<Scalar>,
        cell: Matrix<Scalar>? = nil, gates: Matrix<Scalar>, extra: Matrix<Scalar>? = nil
    ) {
        self.steps = steps; self.batch = batch; self.input = input; self.hidden = hidden
        self.cell = cell; self.gates = gates; self.extra = extra
    }

    /// h_1 ... h_T, `(T * B) x H`. (Inlinable, as `final`: a caller in another module would
    /// otherwise copy the elements through value witnesses, one call each.)
    @inlinable public var output: Matrix<Scalar> {
        let h = hidden.columns
        return Matrix(rows: steps * batch, columns: h, scalars: Array(hidden.scalars[(batch * h)...]))
    }

    /// The state after the last step.
    @inlinable public var final: RecurrentState<Scalar> {
        let h = hidden.columns, start = steps * batch * h, end = start + batch * h
        return RecurrentState(
            hidden: Matrix(rows: batch, columns: h, scalars: Array(hidden.scalars[start..<end])),
            cell: cell.map { Matrix(rows: batch, columns: h, scalars: Array($0.scalars[start..<end])) })
    }
}

/// A layer's state on a backend: h (`B x H`) and, for an LSTM, c.
public struct StateBuffers<Scalar: BLASScalar>: Sendable {
    /// Hidden state h, `B x H`.
    public var hidden: ComputeBuffer<Scalar>
    /// Cell state c of an LSTM, `B x H`; nil for Elman and GRU layers.
    public var cell: ComputeBuffer<Scalar>?

    /// A state from its parts.
    public init(hidden: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>? = nil) {
        self.hidden = hidden
        self.cell = cell
    }
}

/// What a layer's forward pass on a backend keeps for its backward pass, in the backend's memory
/// (the layout of `RecurrentCache`).
public struct CacheBuffers<Scalar: BLASScalar>: Sendable {
    /// Steps T.
    public let steps: Int
    /// Batch B.
    public let batch: Int
    /// Hidden units H.
    public let hiddenSize: Int
    /// The layer input, `(T * B) x I`.
    public let input: ComputeBuffer<Scalar>
    /// h_0 ... h_T, `((T + 1) * B) x H`.
    public let hidden: ComputeBuffer<Scalar>
    /// c_0 ... c_T of an LSTM.
    public let cell: ComputeBuffer<Scalar>?
    /// Per-step gate activations, `(T * B) x (G * H)` (none for an Elman layer).
    public let gates: ComputeBuffer<Scalar>?
    /// Further per-step values (GRU: W_hn h + b_hn), `(T * B) x H`.
    public let extra: ComputeBuffer<Scalar>?

    /// A cache from its parts (made by the layers).
    public init(
        steps: Int, batch: Int, hiddenSize: Int, input: ComputeBuffer<Scalar>, hidden: ComputeBuffer<Scalar>,
        cell: ComputeBuffer<Scalar>? = nil, gates: ComputeBuffer<Scalar>? = nil, extra: ComputeBuffer<Scalar>? = nil
    ) {
        self.steps = steps; self.batch = batch; self.hiddenSize = hiddenSize; self.input = input; self.hidden = hidden
        self.cell = cell; self.gates = gates; self.extra = extra
    }

    /// h_1 ... h_T, `(T * B) x H` (a view, no copy).
    public func output() throws -> ComputeBuffer<Scalar> {
        try hidden.slice(from: batch * hiddenSize, count: steps * batch * hiddenSize)
    }

    /// The state after the last step (views, no copy).
    public func final() throws -> StateBuffers<Scalar> {
        let bh = batch * hiddenSize
        return StateBuffers(
            hidden: try hidden.slice(from: steps * bh, count: bh), cell: try cell.map { try $0.slice(from: steps * bh, count: bh) })
    }
}

/// One recurrent layer over a whole sequence, PyTorch parameter names and gate order.
///
/// A layer is found by its conformance, not by its type: `RecurrentNetwork` calls `forward` and
/// `backward` through the protocol, so a layer defined in any module runs its own code. The two
/// requirements are generic over the scalar; an implementation whose element loops matter should
/// mark them `@_specialize(where S == Float)` and `@_specialize(where S == Double)`: a call
/// through the protocol then reaches the specialized body (the specialized copy is chosen at run
/// time inside the generic entry point). Every product with W_hh goes through the given
/// `RecurrentProduct`.
public protocol RecurrentLayer: Sendable {
    /// Input features I.
    var inputSize: Int { get }
    /// Hidden units H.
    var hiddenSize: Int { get }
    /// Number of gate blocks G stacked in W_ih and W_hh (Elman 1, GRU 3, LSTM 4).
    var gateCount: Int { get }
    /// Whether the layer carries a cell state (LSTM).
    var hasCellState: Bool { get }
    /// `(G * H) x I`, `weight_ih_l<k>`.
    var weightIH: ParameterSlot { get }
    /// `(G * H) x H`, `weight_hh_l<k>`: the matrix the moduli regularizer acts on.
    var weightHH: ParameterSlot { get }
    /// `G * H`, `bias_ih_l<k>`.
    var biasIH: ParameterSlot? { get }
    /// `G * H`, `bias_hh_l<k>`.
    var biasHH: ParameterSlot? { get }

    /// Runs T steps over `input` (`(T * B) x I`) from `initial`; keeps what backward needs. Every
    /// W_hh product goes through `product`.
    func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>, _ store: ParameterStore<S>,
        product: any RecurrentProduct
    ) -> RecurrentCache<S>

    /// Backpropagation through time. `dOutput` is dLoss/dh_t for t = 1 ... T (`(T * B) x H`), or an
    /// empty matrix (0 rows) when no step's output has a gradient (a read-out of the final state
    /// only); `dFinal` an extra gradient on the final state (nil for none). Adds parameter gradients into
    /// the store; returns dLoss/dInput (empty when not needed) and dLoss/d(initial state). Every
    /// W_hh product goes through `product`.
    func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool, product: any RecurrentProduct
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
}

/// The passes of a recurrent layer on a compute backend, with their memory taken from a
/// `Workspace` (allocated once; `workspaceCount` says how large). Elman, LSTM and GRU layers have
/// them; a layer type defined elsewhere runs on matrices only unless it conforms too.
public protocol BackendRecurrentLayer: RecurrentLayer {
    /// Elements of workspace that `forward(on:...)` and `backward(on:...)` together take for T =
    /// `steps` steps of `batch` samples (alignment padding included).
    func workspaceCount(steps: Int, batch: Int) -> Int

    /// Runs T steps over `input` (`(T * B) x I`) from `initial`; keeps what backward needs.
    func forward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ input: ComputeBuffer<Backend.Scalar>, steps: Int, batch: Int,
        initial: StateBuffers<Backend.Scalar>, workspace: inout Workspace<Backend.Scalar>, product: any RecurrentProduct
    ) throws -> CacheBuffers<Backend.Scalar>

    /// Backpropagation through time, as `backward(_:dOutput:dFinal:_:needInputGradient:product:)`:
    /// `dOutput` (`(T * B) x H`) nil when no step's output has a gradient, `dFinal` nil for none.
    /// Adds parameter gradients into `parameters`; returns dLoss/dInput (nil unless
    /// `needInputGradient`) and dLoss/d(initial state).
    func backward<Backend: ComputeBackend>(
        on parameters: ParameterBuffers<Backend>, _ cache: CacheBuffers<Backend.Scalar>, dOutput: ComputeBuffer<Backend.Scalar>?,
        dFinal: StateBuffers<Backend.Scalar>?, workspace: inout Workspace<Backend.Scalar>, needInputGradient: Bool,
        product: any RecurrentProduct
    ) throws -> (dInput: ComputeBuffer<Backend.Scalar>?, dInitial: StateBuffers<Backend.Scalar>)
}

extension BackendRecurrentLayer {
    /// A state gradient taken from `workspace`: a copy of `given` (h, and c when `withCell`), or zeros.
    static func stateGradient<Backend: ComputeBackend>(
        _ given: StateBuffers<Backend.Scalar>?, count: Int, withCell: Bool, workspace: inout Workspace<Backend.Scalar>,
        on backend: Backend
    ) throws -> StateBuffers<Backend.Scalar> {
        func piece(_ source: ComputeBuffer<Backend.Scalar>?) throws -> ComputeBuffer<Backend.Scalar> {
            let b = try workspace.take(count)
            if let source { try backend.copy(source.slice(from: 0, count: count), to: b) } else { try backend.fill(b, with: 0) }
            return b
        }
        return StateBuffers(hidden: try piece(given?.hidden), cell: withCell ? try piece(given?.cell) : nil)
    }
}

extension RecurrentLayer {
    /// The forward pass with the dense product (`DenseWeightProduct`).
    @inlinable
    public func forward<S: BLASScalar>(
        _ input: Matrix<S>, batch: Int, initial: RecurrentState<S>,
        _ store: ParameterStore<S>
    ) -> RecurrentCache<S> {
        forward(input, batch: batch, initial: initial, store, product: DenseWeightProduct(for: self))
    }

    /// The backward pass with the dense product (`DenseWeightProduct`).
    @inlinable
    public func backward<S: BLASScalar>(
        _ cache: RecurrentCache<S>, dOutput: Matrix<S>, dFinal: RecurrentState<S>?,
        _ store: ParameterStore<S>, needInputGradient: Bool
    )
        -> (dInput: Matrix<S>, dInitial: RecurrentState<S>)
    {
        backward(
            cache, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: needInputGradient,
            product: DenseWeightProduct(for: self))
    }

    /// Stops with a message unless `product` multiplies by this layer's W_hh with its shape.
    func checkProduct(_ product: any RecurrentProduct) {
        precondition(
            product.multiplies(weightHH, outputs: gateCount * hiddenSize, inputs: hiddenSize),
            "Recurrent product for slot \(product.weightHH.index) (\(product.outputs) x \(product.hiddenSize)) "
                + "does not match the layer's W_hh (slot \(weightHH.index), \(gateCount * hiddenSize) x \(hiddenSize))")
    }
}

/// Registers the four PyTorch-named tensors of recurrent layer `layer` with PyTorch's default
/// initialisation U(-1/sqrt(H), 1/sqrt(H)).
func registerRecurrentWeights<S: BLASScalar>(
    name: String, layer: Int, gates: Int, inputSize: Int, hiddenSize: Int, bias: Bool,
    store: ParameterStore<S>, rng: inout SeededGenerator
) -> (ih: ParameterSlot, hh: ParameterSlot, bih: ParameterSlot?, bhh: ParameterSlot?) {
    let initial = Initialization.pytorchDefault(fanIn: hiddenSize)
    let prefix = name.isEmpty ? "" : name + "."
    let ih = store.add("\(prefix)weight_ih_l\(layer)", shape: [gates * hiddenSize, inputSize], initial, rng: &rng)
    let hh = store.add("\(prefix)weight_hh_l\(layer)", shape: [gates * hiddenSize, hiddenSize], initial, rng: &rng)
    let bih = bias ? store.add("\(prefix)bias_ih_l\(layer)", shape: [gates * hiddenSize], initial, rng: &rng) : nil
    let bhh = bias ? store.add("\(prefix)bias_hh_l\(layer)", shape: [gates * hiddenSize], initial, rng: &rng) : nil
    return (ih, hh, bih, bhh)
}

/// Shared steps of every layer's BPTT: the input projection for all steps as one GEMM
/// (`pre = X W_ih^T + b_ih`, `(T * B) x (G * H)`), and after the loop the weight gradients as one
/// product each. Written once on the backend; the `Matrix` forms (for the layers whose steps still
/// run on host pointers) run them on the CPU backend.
enum RecurrentKernels {
    /// Writes `pre = X W_ih^T (+ b_ih) (+ b_hh)` for all `rows` rows (`rows x outputs`; the biases
    /// are added left to right, as a step that adds b_hh to the projection would).
    static func inputProjection<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, rows: Int, columns: Int, weightIH: ParameterSlot, biasIH: ParameterSlot?,
        biasHH: ParameterSlot?, outputs: Int, into pre: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>
    ) throws {
        let backend = parameters.backend
        try backend.gemm(
            .noTranspose, .transpose, m: rows, n: outputs, k: columns, alpha: 1, a: x, lda: columns,
            b: parameters.value(weightIH), ldb: columns, beta: 0, c: pre, ldc: outputs)
        switch (biasIH, biasHH) {
        case let (bih?, bhh?): try backend.addRowVectors(pre, rows: rows, columns: outputs, parameters.value(bih), parameters.value(bhh))
        case let (bih?, nil): try backend.addRowVector(pre, rows: rows, columns: outputs, parameters.value(bih))
        case let (nil, bhh?): try backend.addRowVector(pre, rows: rows, columns: outputs, parameters.value(bhh))
        case (nil, nil): break
        }
    }

    /// `dW_ih += dPre^T X`, `db_ih += colsum(dPre)`, then `dX = dPre W_ih` when `dX` is given
    /// (`dPre` `rows x outputs`, X and dX `rows x columns`).
    static func inputProjectionBackward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, rows: Int, columns: Int, dPre: ComputeBuffer<Backend.Scalar>, outputs: Int,
        weightIH: ParameterSlot, biasIH: ParameterSlot?, dInput dX: ComputeBuffer<Backend.Scalar>?,
        _ parameters: ParameterBuffers<Backend>
    ) throws {
        let backend = parameters.backend
        try backend.addTransposedProduct(
            m: outputs, n: columns, k: rows, a: dPre, lda: outputs, b: x, ldb: columns, c: parameters.gradient(weightIH), ldc: columns)
        if let biasIH { try backend.addColumnSums(dPre, rows: rows, columns: outputs, into: parameters.gradient(biasIH)) }
        if let dX {
            try backend.gemm(
                .noTranspose, .noTranspose, m: rows, n: columns, k: outputs, alpha: 1, a: dPre, lda: outputs,
                b: parameters.value(weightIH), ldb: columns, beta: 0, c: dX, ldc: columns)
        }
    }

    /// `dW_hh += dHH^T [h_0 ... h_{T-1}]` over all `rows` = T B rows through `product`, then
    /// `db_hh += colsum(dHH)` (`dHH` `rows x (G * H)`, `hidden` from h_0 on).
    static func recurrentWeightGradient<Backend: ComputeBackend>(
        hidden: ComputeBuffer<Backend.Scalar>, dHH: ComputeBuffer<Backend.Scalar>, rows: Int,
        product: any RecurrentProduct, biasHH: ParameterSlot?, _ parameters: ParameterBuffers<Backend>
    ) throws {
        try product.accumulateWeightGradient(dHH, input: hidden, rows: rows, parameters)
        if let biasHH { try parameters.backend.addColumnSums(dHH, rows: rows, columns: product.outputs, into: parameters.gradient(biasHH)) }
    }

    // MARK: On matrices, on the CPU backend

    /// pre = X W_ih^T (+ b_ih), all steps at once.
    static func inputProjection<S: BLASScalar>(
        _ x: Matrix<S>, weightIH: ParameterSlot, biasIH: ParameterSlot?,
        outputs: Int, _ store: ParameterStore<S>
    ) -> Matrix<S> {
        let cpu = CPUBackend(S.self)
        return Matrix<S>(rows: x.rows, columns: outputs) { pre in
            x.withUnsafeBufferPointer { px in
                onHost("input projection") {
                    try inputProjection(
                        cpu.buffer(over: px), rows: x.rows, columns: x.columns, weightIH: weightIH, biasIH: biasIH, biasHH: nil,
                        outputs: outputs, into: cpu.buffer(at: pre, count: x.rows * outputs), store.buffers(on: cpu))
                }
            }
        }
    }

    /// dW_ih += dPre^T X, db_ih += colsum(dPre); returns dX = dPre W_ih when asked.
    static func inputProjectionBackward<S: BLASScalar>(
        _ x: Matrix<S>, dPre: Matrix<S>, weightIH: ParameterSlot,
        biasIH: ParameterSlot?, _ store: ParameterStore<S>,
        needInputGradient: Bool
    ) -> Matrix<S> {
        let cpu = CPUBackend(S.self)
        var dX = Matrix<S>(rows: needInputGradient ? x.rows : 0, columns: x.columns)
        x.withUnsafeBufferPointer { px in
            dPre.withUnsafeBufferPointer { pd in
                dX.withUnsafeMutableBufferPointer { pdx in
                    onHost("input projection backward") {
                        try inputProjectionBackward(
                            cpu.buffer(over: px), rows: x.rows, columns: x.columns, dPre: cpu.buffer(over: pd), outputs: dPre.columns,
                            weightIH: weightIH, biasIH: biasIH, dInput: needInputGradient ? cpu.buffer(over: pdx) : nil,
                            store.buffers(on: cpu))
                    }
                }
            }
        }
        return dX
    }

    /// dW_hh += dHH^T [h_0 ... h_{T-1}] over all steps through `product`, then
    /// db_hh += colsum(dHH) (`dHH` is `(T * B) x (G * H)`).
    static func recurrentWeightGradient<S: BLASScalar>(
        hidden: Matrix<S>, dHH: Matrix<S>, steps: Int, batch: Int,
        product: any RecurrentProduct, biasHH: ParameterSlot?,
        _ store: ParameterStore<S>
    ) {
        let cpu = CPUBackend(S.self), n = steps * batch
        hidden.withUnsafeBufferPointer { ph in
            dHH.withUnsafeBufferPointer { pd in
                onHost("recurrent weight gradient") {
                    try recurrentWeightGradient(
                        hidden: cpu.buffer(at: ph.baseAddress!, count: n * hidden.columns), dHH: cpu.buffer(over: pd), rows: n,
                        product: product, biasHH: biasHH, store.buffers(on: cpu))
                }
            }
        }
    }
}
