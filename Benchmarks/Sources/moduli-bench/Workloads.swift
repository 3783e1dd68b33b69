// The benchmarked training steps: the adding problem's step (AddingModel) and a navigation-shaped
// step built from NN layers, plus a large sgemm that measures the machine's peak.
import Experiments
import Linalg
import NN

/// A benchmark: one call of `step()` is one timed unit.
protocol Workload {
    /// Short name shown in the table and passed to the PyTorch peer (`adding`, `nav256`, ...).
    var name: String { get }
    /// Floating-point operations of one call (GEMMs only, 2 per multiply-add); nil when not counted.
    var flops: Double? { get }
    /// One timed unit of work.
    mutating func step()
}

/// The adding problem's training step (docs/method.md section 6): Elman ReLU with bias, I 2, H 128,
/// B 32, T 50, Linear(128 -> 1) on the last state, MSE, clip 0.5, Adam lr 1e-4. The batch is drawn
/// once (data generation is not timed, as in the PyTorch peer).
struct AddingWorkload: Workload {
    let name = "adding"
    let flops: Double? = nil
    let store = ParameterStore<Float>()
    let model: AddingModel
    let batch: AddingBatch
    var optimizer = Adam<Float>(learningRate: 1e-4)
    /// The loss of the last step (kept so that the work cannot be optimized away).
    var lastLoss = 0.0

    init(hiddenSize: Int = 128, batch: Int = 32, length: Int = 50) {
        var rng = SeededGenerator(seed: 0)
        model = AddingModel(kind: .rnnReLU, hiddenSize: hiddenSize, layers: 1, bias: true, store: store, rng: &rng)
        self.batch = AddingProblem.batch(length: length, batch: batch, rng: &rng)
    }

    mutating func step() {
        store.zeroGradients()
        lastLoss = model.lossAndGradients(batch, store)
        clipGradientNorm(store, maxNorm: 0.5)
        optimizer.step(store)
    }
}

/// A navigation-shaped training step (docs/method.md section 4): h0 = encoder(place code) with
/// Linear(N -> H, no bias); ReLU Elman without bias, I 2; Linear(H -> N, no bias) on every step's
/// hidden state; soft-target cross-entropy against a fixed random soft target; AdamW lr 1e-4,
/// weight decay 0.01. N = 512, B = 200, T = 50.
struct NavigationWorkload: Workload {
    let name: String
    let flops: Double?
    let hiddenSize: Int, batch: Int, length: Int, places: Int
    let store = ParameterStore<Float>()
    let encoder: Linear
    let rnn: RecurrentNetwork
    let decoder: Linear
    var optimizer = Adam<Float>.adamW(learningRate: 1e-4, weightDecay: 0.01)
    /// Velocities, `(T * B) x 2`.
    let velocity: Matrix<Float>
    /// Place code of the start positions, `B x N`.
    let start: Matrix<Float>
    /// Soft targets, `(T * B) x N`, rows summing to 1.
    let target: Matrix<Float>
    /// dLoss/dLogits, `(T * B) x N`, allocated once and overwritten every step.
    var dLogits: Matrix<Float>
    /// The loss of the last step.
    var lastLoss = 0.0

    init(hiddenSize: Int, batch: Int = 200, length: Int = 50, places: Int = 512) {
        self.hiddenSize = hiddenSize; self.batch = batch; self.length = length; self.places = places
        name = "nav\(hiddenSize)"
        flops = NavigationWorkload.flops(hiddenSize: hiddenSize, batch: batch, length: length, places: places)
        var rng = SeededGenerator(seed: 0)
        encoder = Linear(inputSize: places, outputSize: hiddenSize, bias: false, name: "encoder", in: store, rng: &rng)
        rnn = RecurrentNetwork(
            kind: .rnnReLU, inputSize: 2, hiddenSize: hiddenSize, bias: false, name: "rnn",
            in: store, rng: &rng)
        decoder = Linear(inputSize: hiddenSize, outputSize: places, bias: false, name: "decoder", in: store, rng: &rng)
        velocity = rng.normalMatrix(rows: length * batch, columns: 2, std: 0.02)
        start = NavigationWorkload.softmaxRows(rng.normalMatrix(rows: batch, columns: places))
        target = NavigationWorkload.softmaxRows(rng.normalMatrix(rows: length * batch, columns: places))
        dLogits = Matrix(rows: length * batch, columns: places)
    }

    /// GEMM flops of one step: forward encoder, input projection, recurrence and decoder; backward
    /// decoder (dW, dX), recurrence (dh, dW_hh), dW_ih and the encoder's dW.
    static func flops(hiddenSize h: Int, batch b: Int, length t: Int, places n: Int, inputs i: Int = 2) -> Double {
        let (h, b, t, n, i) = (Double(h), Double(b), Double(t), Double(n), Double(i))
        let forward = 2 * b * n * h + 2 * t * b * i * h + 2 * t * b * h * h + 2 * t * b * h * n
        let backward = 4 * t * b * h * n + 4 * t * b * h * h + 2 * t * b * i * h + 2 * b * n * h
        return forward + backward
    }

    static func softmaxRows(_ x: Matrix<Float>) -> Matrix<Float> {
        var y = x
        for r in 0..<x.rows {
            let row = x.row(r), m = row.max()!
            let e = row.map { Float.exp($0 - m) }, z = e.reduce(0, +)
            for c in 0..<x.columns { y[r, c] = e[c] / z }
        }
        return y
    }

    mutating func step() {
        store.zeroGradients()
        let h0 = encoder.forward(start, store)
        let caches = rnn.forward(velocity, batch: batch, initial: [RecurrentState(hidden: h0)], store)
        let outputs = caches[0].output
        let logits = decoder.forward(outputs, store)
        let loss = SoftCrossEntropy.lossAndGradient(logits: logits, targets: target, into: &dLogits)
        let dOutputs = decoder.backward(input: outputs, dOutput: dLogits, store)
        let (_, dInitial) = rnn.backward(caches, dOutput: dOutputs, store)
        encoder.backward(input: start, dOutput: dInitial[0].hidden, store, needInputGradient: false)
        optimizer.step(store)
        lastLoss = loss
    }
}

/// C = A B for two `n x n` matrices through OpenBLAS sgemm: the machine's measured peak.
struct PeakWorkload: Workload {
    let name = "peak"
    let flops: Double?
    let n: Int
    let a: Matrix<Float>, b: Matrix<Float>
    var c: Matrix<Float>

    init(size: Int) {
        n = size
        flops = 2 * Double(size) * Double(size) * Double(size)
        var rng = SeededGenerator(seed: 1)
        a = rng.normalMatrix(rows: size, columns: size)
        b = rng.normalMatrix(rows: size, columns: size)
        c = Matrix(rows: size, columns: size)
    }

    mutating func step() {
        let n = n
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Float.gemm(
                        .noTranspose, .noTranspose, m: n, n: n, k: n, alpha: 1, a: pa.baseAddress!, lda: n,
                        b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }
}
