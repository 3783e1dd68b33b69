// The small set of operations of a training step, behind one protocol generic over the scalar, so
// that the CPU (OpenBLAS; Float and Double) and a GPU (CUDA; Float) implement the same set. The NN
// module's optimizers and clipping and the Sparsity module's penalty run on them; the layers do
// not yet (they call the same Linalg kernels directly). Formulas follow PyTorch: torch.nn.RNN/LSTM/GRU,
// CrossEntropyLoss, torch.optim.SGD/Adam/AdamW; the penalty is docs/method.md section 2, the pruning
// threshold section 3.
import Linalg
import RealModule

/// The nonlinearity of an Elman step.
public enum CellActivation: String, Sendable, Codable, CaseIterable {
    /// h = tanh(a).
    case tanh
    /// h = max(a, 0).
    case relu
}

/// Settings of one SGD step (PyTorch `torch.optim.SGD`).
public struct SGDSettings: Sendable, Equatable {
    public var learningRate: Double
    /// Momentum factor; 0 is plain SGD (no momentum buffer is read or written).
    public var momentum: Double
    /// Dampening of the momentum.
    public var dampening: Double
    /// L2 penalty added to the gradient.
    public var weightDecay: Double
    /// Nesterov momentum.
    public var nesterov: Bool

    /// PyTorch's defaults except the learning rate, which PyTorch requires.
    public init(
        learningRate: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0,
        nesterov: Bool = false
    ) {
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov
    }
}

/// Settings of one Adam or AdamW step (PyTorch `torch.optim.Adam`, `torch.optim.AdamW`).
public struct AdamSettings: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    /// Added to the denominator.
    public var epsilon: Double
    /// L2 (Adam) or decoupled (AdamW) weight decay.
    public var weightDecay: Double
    /// Whether weight decay is decoupled (AdamW).
    public var decoupled: Bool

    /// PyTorch `Adam` defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
    public init(
        learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0, decoupled: Bool = false
    ) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.decoupled = decoupled
    }

    /// PyTorch `AdamW` defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public static func adamW(learningRate: Double = 1e-3, weightDecay: Double = 0.01) -> AdamSettings {
        AdamSettings(learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
    }

    /// The constants of step `t` (1-based) in the scalar `S`, each formed in Double and rounded once:
    /// `(l2, decay, b1, b2, c1 = 1 - b1, c2 = 1 - b2, stepSize = lr / (1 - b1^t), bc2Root =
    /// sqrt(1 - b2^t), eps)`. 1 - beta is formed in Double as PyTorch does: in Float, 1 - Float(0.999)
    /// is 1.3e-5 short of 0.001, which made every Float update 6.4e-6 (relative) too large.
    public func constants<S: BLASScalar>(step t: Int, as: S.Type = S.self) -> AdamConstants<S> {
        let bc1 = 1 - Double.pow(beta1, t), bc2 = 1 - Double.pow(beta2, t)
        return AdamConstants(
            l2: decoupled ? 0 : S(weightDecay), decay: decoupled ? S(1 - learningRate * weightDecay) : 1,
            b1: S(beta1), b2: S(beta2), c1: S(1 - beta1), c2: S(1 - beta2),
            stepSize: S(learningRate / bc1), bc2Root: S(bc2.squareRoot()), eps: S(epsilon))
    }
}

/// The constants of one Adam step in one scalar type (see `AdamSettings.constants(step:as:)`).
public struct AdamConstants<S: BLASScalar>: Sendable, Equatable {
    public var l2, decay, b1, b2, c1, c2, stepSize, bc2Root, eps: S
}

/// A set of operations on buffers of one scalar type in one backend's memory.
///
/// Conventions: matrices are row-major; `B` batch, `H` hidden units, `G` gate blocks; the LSTM
/// gate order is i, f, g, o and the GRU order r, z, n (PyTorch's). Per-row results (losses, argmax)
/// stay in the backend's memory; the sums a training step logs and decides on (the gradient
/// norm, the penalty) come back to the host in Double, a few bytes per step. Operations may run
/// asynchronously on a device; `download`, `synchronize()` and the sums wait for all earlier work. Every operation checks its
/// arguments and throws `ComputeError.invalidArgument` instead of trapping; a device error is
/// thrown by the call that sees it.
public protocol ComputeBackend<Scalar>: AnyObject {
    /// The element type of every buffer and operation: Float on every backend, Double on the CPU
    /// (where the layers' gradient checks run).
    associatedtype Scalar: BLASScalar

    /// A short name for reports ("cpu", "cuda:0 NVIDIA H200").
    var name: String { get }
    /// Whether a buffer's address is a host pointer (the CPU backend): only there can host
    /// kernels (the CPU's sparse products) read and write the buffers directly.
    var isHostMemory: Bool { get }

    // MARK: Memory

    /// `count` elements of fresh memory, alive as long as the backend (contents unspecified) or
    /// until `release`.
    func allocate(count: Int) throws -> ComputeBuffer<Scalar>
    /// Frees the memory of `buffer`, which `allocate` returned (the whole allocation, not a slice);
    /// no buffer into it may be used afterwards. Throws for any other buffer.
    func release(_ buffer: ComputeBuffer<Scalar>) throws
    /// Copies `source.count` host values into the first elements of `destination`.
    func upload(_ source: UnsafeBufferPointer<Scalar>, to destination: ComputeBuffer<Scalar>) throws
    /// Copies the first `destination.count` elements of `source` to the host (waits for earlier work).
    func download(_ source: ComputeBuffer<Scalar>, into destination: UnsafeMutableBufferPointer<Scalar>) throws
    /// Copies all of `source` into the first elements of `destination`.
    func copy(_ source: ComputeBuffer<Scalar>, to destination: ComputeBuffer<Scalar>) throws
    /// Sets every element of `buffer` to `value`.
    func fill(_ buffer: ComputeBuffer<Scalar>, with value: Scalar) throws
    /// Waits until all earlier operations have finished.
    func synchronize() throws

    // MARK: Dense algebra

    /// `C = alpha op(A) op(B) + beta C`, op(A) `m x k`, op(B) `k x n`, C `m x n`, row-major with
    /// leading dimensions `lda`, `ldb`, `ldc` (elements between rows as stored).
    func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Scalar,
        a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int, beta: Scalar, c: ComputeBuffer<Scalar>, ldc: Int) throws
    /// `C += A^T B` with A `k x m` (leading dimension `lda`), B `k x n` (`ldb`), C `m x n` (`ldc`):
    /// a weight gradient `dW += dY^T X` summed over the k = T * B rows of a sequence. The CPU sums
    /// slices of k in turn (OpenBLAS is about 3x faster so on a long k), which rounds differently
    /// from one `gemm`.
    func addTransposedProduct(
        m: Int, n: Int, k: Int, a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int,
        c: ComputeBuffer<Scalar>, ldc: Int) throws
    /// `y = x^T`: x `rows x columns`, y `columns x rows`, both contiguous (a step's states between
    /// the `B x H` rows and the `H x B` layout).
    func transpose(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into y: ComputeBuffer<Scalar>) throws
    /// `y[r, :] += v` for every row r of the `rows x columns` matrix y (a bias).
    func addRowVector(_ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ v: ComputeBuffer<Scalar>) throws
    /// `y[r, :] += u + v` for every row r, added left to right (`(y + u) + v`): a recurrent layer's
    /// two biases in one pass.
    func addRowVectors(_ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ u: ComputeBuffer<Scalar>, _ v: ComputeBuffer<Scalar>) throws
    /// `y[n, :] = table[i_n, :]` for the `count` indices `i_n` in `indices` (stored as scalars, exact
    /// below 2^24 in Float), `table` `rows x columns`, y `count x columns`: an embedding lookup. An
    /// index that is not a row of the table gives a row of NaN.
    func gatherRows(
        _ table: ComputeBuffer<Scalar>, rows: Int, columns: Int, indices: ComputeBuffer<Scalar>, count: Int,
        into y: ComputeBuffer<Scalar>) throws
    /// `table[i_n, :] += x[n, :]` for n = 0 ..< `count` in that order (repeated indices add up in
    /// the order of n), x `count x columns`: an embedding's weight gradient. An index that is not a
    /// row of the table is skipped.
    func scatterAddRows(
        _ x: ComputeBuffer<Scalar>, indices: ComputeBuffer<Scalar>, count: Int, into table: ComputeBuffer<Scalar>, rows: Int,
        columns: Int) throws
    /// `out[c] += sum_r x[r, c]` (a bias gradient).
    func addColumnSums(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into out: ComputeBuffer<Scalar>) throws
    /// `y += alpha x` over `x.count` elements.
    func axpy(alpha: Scalar, _ x: ComputeBuffer<Scalar>, _ y: ComputeBuffer<Scalar>) throws
    /// `x *= factor` (gradient clipping).
    func scale(_ x: ComputeBuffer<Scalar>, by factor: Scalar) throws
    /// `x *= mask` elementwise: a pruning mask of 0 and 1 (pruned weights, their gradients and
    /// moments) or a dropout mask of 0 and 1 / (1 - p).
    func multiplyByMask(_ x: ComputeBuffer<Scalar>, mask: ComputeBuffer<Scalar>) throws

    // MARK: Recurrent cells (elementwise steps; the products go through gemm)

    /// The Elman step's activation in place: `x = act(x)`, x the pre-activation
    /// `W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`.
    func elmanForward(_ activation: CellActivation, _ x: ComputeBuffer<Scalar>) throws
    /// The Elman step's backward: `d = act'(h) (g + o)` (or `act'(h) g` without o), h the step's output.
    func elmanBackward(
        _ activation: CellActivation, output h: ComputeBuffer<Scalar>, gradient g: ComputeBuffer<Scalar>,
        extra o: ComputeBuffer<Scalar>?, into d: ComputeBuffer<Scalar>) throws
    /// The LSTM step: `gates` (B x 4H) holds the pre-activations a and is overwritten with
    /// [σ(a_i) σ(a_f) tanh(a_g) σ(a_o)]; `c = f c_prev + i g`, `h = o tanh(c)` (B x H each).
    func lstmForward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, hidden: ComputeBuffer<Scalar>,
        batch: Int, hiddenSize: Int) throws
    /// The LSTM step's backward, with `dhT = dHidden + dOutput` (dOutput may be nil):
    /// `dc = dCell + dhT o (1 - tanh²c)`; writes the pre-activation gradients
    /// `dGates = [dc g i(1-i), dc c_prev f(1-f), dc i (1-g²), dhT tanh(c) o(1-o)]` and
    /// `dCell = dc f` (the carry to step t-1). `dHidden` is only read.
    func lstmBackward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dCell: ComputeBuffer<Scalar>, dGates: ComputeBuffer<Scalar>, batch: Int, hiddenSize: Int) throws
    /// The GRU step: `gates` (B x 3H) holds the input side `W_i x + b_i` and is overwritten with
    /// [r z n]; `recurrent` (B x 3H) is `W_hh h_prev + b_hh`. `r = σ(a_r + q_r)`,
    /// `z = σ(a_z + q_z)`, `n = tanh(a_n + r q_n)`, `h = (1 - z) n + z h_prev`; `recurrentN`
    /// (B x H) keeps q_n for the backward step.
    func gruForward(
        gates: ComputeBuffer<Scalar>, recurrent: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>,
        hidden: ComputeBuffer<Scalar>,
        recurrentN: ComputeBuffer<Scalar>, batch: Int, hiddenSize: Int) throws
    /// The GRU step's backward, with `dhT = dHidden + dOutput`: `da_n = dhT (1-z)(1-n²)`,
    /// `da_z = dhT (h_prev - n) z(1-z)`, `da_r = da_n q_n r(1-r)`; writes `dPre = [da_r da_z da_n]`,
    /// `dRecurrent = [da_r da_z da_n r]` and `dHidden = dhT z` (the direct carry to step t-1,
    /// to which the caller adds `dRecurrent W_hh`).
    func gruBackward(
        gates: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>, recurrentN: ComputeBuffer<Scalar>,
        dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dPre: ComputeBuffer<Scalar>, dRecurrent: ComputeBuffer<Scalar>, batch: Int, hiddenSize: Int) throws

    // MARK: Losses

    /// Cross-entropy of each row of `logits` (rows x classes) against the class index in
    /// `targets[r]` (stored as a scalar, exact below 2^24 in Float): the row's loss
    /// `logsumexp(x_r) - x_r[t]` in Double, and, when given, `gradient = scale (softmax(x) -
    /// onehot(t))`. Returns to the host (waiting for earlier work) the row losses added in row
    /// order in Double, and the number of rows whose first largest logit is the target. A target
    /// that is not an index in `0 ..< classes` gives a NaN loss and a NaN gradient row.
    func crossEntropy(
        logits: ComputeBuffer<Scalar>, targets: ComputeBuffer<Scalar>, rows: Int, classes: Int, scale: Scalar,
        gradient: ComputeBuffer<Scalar>?
    ) throws -> (loss: Double, correct: Int)
    /// Cross-entropy of each row of `logits` against soft targets p (rows x classes): the row's
    /// loss `-sum_c p[c] log softmax(x)[c]` in Double and, when given, `gradient = scale (sum_c p[c]
    /// softmax(x) - p)`. Returns to the host the row losses added in row order in Double.
    func softCrossEntropy(
        logits: ComputeBuffer<Scalar>, targets: ComputeBuffer<Scalar>, rows: Int, classes: Int, scale: Scalar,
        gradient: ComputeBuffer<Scalar>?
    ) throws -> Double
    /// `sum_i (prediction_i - target_i)^2` in Double, returned to the host, and, when given,
    /// `gradient = scale (prediction - target)` (the mean squared error's, with scale 2 / n).
    func squaredError(
        prediction: ComputeBuffer<Scalar>, target: ComputeBuffer<Scalar>, scale: Scalar, gradient: ComputeBuffer<Scalar>?
    ) throws -> Double

    // MARK: Reductions

    /// `sum_i x_i`, accumulated in Double and returned to the host (waits for earlier work).
    func sum(_ x: ComputeBuffer<Scalar>) throws -> Double
    /// `sum_i x_i^2`, accumulated in Double and returned to the host (waits for earlier work): the
    /// gradient norm that clipping needs.
    func sumOfSquares(_ x: ComputeBuffer<Scalar>) throws -> Double

    // MARK: Optimizers

    /// One SGD step over `parameters.count` entries (PyTorch's formula):
    /// `g' = g + wd p`; with momentum `buf = first ? g' : mu buf + (1 - dampening) g'` and
    /// `p -= lr (nesterov ? g' + mu buf : buf)`; without, `p -= lr g'`.
    func sgdStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, momentumBuffer: ComputeBuffer<Scalar>?,
        settings: SGDSettings, firstStep: Bool) throws
    /// One Adam/AdamW step `t` (1-based) over `parameters.count` entries with the constants of
    /// `AdamSettings.constants(step:)`: `g' = g + l2 p`, `m = b1 m + c1 g'`, `v = b2 v + c2 g'^2`,
    /// `p = p decay - stepSize m / (sqrt(v) / bc2Root + eps)`.
    func adamStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, firstMoment: ComputeBuffer<Scalar>,
        secondMoment: ComputeBuffer<Scalar>, settings: AdamSettings, step: Int) throws

    // MARK: Moduli regularization and pruning

    /// The moduli penalty of one recurrent weight `W` (`(G H) x H`, G gate blocks stacked) with
    /// the coefficients R (`H x H`, used for every block):
    /// `lambda / (G H H) * sum_{g,i,j} R[i][j] |W[g H + i][j]|^p`, accumulated in Double and
    /// returned to the host (waits for earlier work), and, when `gradient` is given,
    /// `gradient += lambda / (G H H) * R p |W|^(p-1) sign(W)` (0 at W = 0). p is 1 or 2. For an
    /// Elman layer (G = 1) this is the paper's `lambda * mean(R |W|^p)`; for G > 1 the mean runs
    /// over all G H H entries (docs/decisions.md, 12).
    /// `lambda` is a host constant in Double: `lambda / (G H H)` is formed in Double (and rounded once
    /// where a kernel runs in Float), as the Sparsity module's regularizer forms it.
    func moduliPenalty(
        weights: ComputeBuffer<Scalar>, coefficients: ComputeBuffer<Scalar>, gates: Int, hiddenSize: Int,
        lambda: Double, power: Int, gradient: ComputeBuffer<Scalar>?
    ) throws -> Double
    /// The k-th smallest magnitude |w| (k counted from 1) over all elements of the pooled
    /// `tensors`: the global magnitude-pruning threshold. Zeros count (already pruned entries);
    /// NaN magnitudes sort after every number.
    func kthSmallestMagnitude(of tensors: [ComputeBuffer<Scalar>], k: Int) throws -> Scalar
}

extension ComputeBackend {
    /// Copies host values into `destination`.
    public func upload(_ values: [Scalar], to destination: ComputeBuffer<Scalar>) throws {
        try values.withUnsafeBufferPointer { try upload($0, to: destination) }
    }

    /// A fresh buffer holding `values`.
    public func buffer(_ values: [Scalar]) throws -> ComputeBuffer<Scalar> {
        let b = try allocate(count: values.count)
        try upload(values, to: b)
        return b
    }

    /// The elements of `source`, as an array (allocates: for evaluations, tests and reports, not
    /// per step). Inlinable, so that a caller in another module fills the array with specialized
    /// code rather than element by element through the generic type's witnesses.
    @inlinable public func download(_ source: ComputeBuffer<Scalar>) throws -> [Scalar] {
        try [Scalar](unsafeUninitializedCapacity: source.count) { out, initialized in
            try download(source, into: out)
            initialized = source.count
        }
    }

    /// A workspace of `count` elements (one allocation, see `Workspace`).
    public func makeWorkspace(count: Int) throws -> Workspace<Scalar> {
        Workspace(storage: try allocate(count: count))
    }

    /// A piece of `workspace` (in this backend's memory) holding a copy of `values`: how a step's
    /// inputs, made on the host, reach the backend.
    @inlinable public func upload(_ values: [Scalar], into workspace: inout Workspace<Scalar>) throws -> ComputeBuffer<Scalar> {
        let b = try workspace.take(values.count)
        try values.withUnsafeBufferPointer { try upload($0, to: b) }
        return b
    }
}
