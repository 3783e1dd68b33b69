// Checks one backend against another, operation by operation, on the same seeded random inputs,
// and times GEMM at given shapes: the correctness and speed checks of a GPU machine
// (moduli-gpu-check runs them for CUDABackend against CPUBackend).
import Linalg

/// The outcome of one operation on two backends.
public struct OperationComparison: Sendable {
    /// The operation and case ("gemm NT 200x4096x4096", "lstmBackward dGates").
    public let operation: String
    /// max_i |test_i - reference_i| / max(max_i |reference_i|, 1e-30): the largest error relative
    /// to the reference tensor's largest magnitude (0 when both agree exactly; NaN on both sides
    /// at the same place counts as agreement, on one side only as infinity).
    public let error: Double
    /// The largest error accepted.
    public let tolerance: Double
    /// Whether `error <= tolerance`.
    public var passed: Bool { error <= tolerance }

    /// A comparison's result.
    public init(operation: String, error: Double, tolerance: Double) {
        self.operation = operation; self.error = error; self.tolerance = tolerance
    }
}

/// The time of one GEMM shape.
public struct GEMMTiming: Sendable {
    /// The shape's name ("W_hh step forward").
    public let name: String
    public let transA: Transpose, transB: Transpose
    public let m: Int, n: Int, k: Int
    /// Whether TF32 tensor cores were allowed.
    public let tf32: Bool
    /// Mean milliseconds per product over the timed repeats.
    public let milliseconds: Double
    /// 2 m n k / time, in TFLOP/s.
    public var teraflops: Double { 2 * Double(m) * Double(n) * Double(k) / (milliseconds * 1e-3) / 1e12 }
}

/// A GEMM shape to time.
public struct GEMMShape: Sendable {
    public let name: String
    public let transA: Transpose, transB: Transpose
    public let m: Int, n: Int, k: Int
    /// How many times the shape occurs in one training step.
    public let perStep: Int

    public init(_ name: String, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, perStep: Int) {
        self.name = name; self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k; self.perStep = perStep
    }

    /// The GEMMs of one training step of the navigation paper preset (docs/method.md section 4: B 200,
    /// T 50, Ng = H 4096, Np 512; BPTT as cuDNN does it: the input projections of all steps in one GEMM): per step of the 50, the
    /// forward product h W_hh^T and the backward product dPre W_hh; once per sequence, the
    /// decoder over all T B rows, its two gradients, and the W_hh gradient over all steps.
    public static func navigationPaperPreset(batch b: Int = 200, steps t: Int = 50, hidden h: Int = 4096, cells np: Int = 512)
        -> [GEMMShape]
    {
        [
            GEMMShape("W_hh step forward  h W_hh^T", .noTranspose, .transpose, m: b, n: h, k: h, perStep: t),
            GEMMShape("W_hh step backward dPre W_hh", .noTranspose, .noTranspose, m: b, n: h, k: h, perStep: t),
            GEMMShape("W_hh gradient      dPre^T H", .transpose, .noTranspose, m: h, n: h, k: t * b, perStep: 1),
            GEMMShape("decoder forward    H W_dec^T", .noTranspose, .transpose, m: t * b, n: np, k: h, perStep: 1),
            GEMMShape("decoder backward   dY W_dec", .noTranspose, .noTranspose, m: t * b, n: h, k: np, perStep: 1),
            GEMMShape("decoder gradient   dY^T H", .transpose, .noTranspose, m: np, n: h, k: t * b, perStep: 1),
            GEMMShape("encoder forward    P W_enc^T", .noTranspose, .transpose, m: b, n: h, k: np, perStep: 1)
        ]
    }
}

/// Operation-by-operation comparison of two backends, and GEMM timing.
public enum BackendCheck {
    /// Sizes of the comparison cases.
    public struct Sizes: Sendable {
        public var batch: Int, hidden: Int, classes: Int, rows: Int, gemm: (m: Int, n: Int, k: Int)
        /// Quick: seconds on a CPU.
        public static let small = Sizes(batch: 7, hidden: 13, classes: 37, rows: 11, gemm: (23, 17, 19))
        /// The navigation preset's widths (B 200, H 4096, Np 512) for elementwise steps and rows,
        /// and 200 x 1024 x 4096 GEMMs.
        public static let paper = Sizes(batch: 200, hidden: 4096, classes: 512, rows: 2000, gemm: (200, 1024, 4096))
    }

    /// The largest error relative to the reference's largest magnitude (see `OperationComparison`).
    public static func relativeError(_ test: [Float], _ reference: [Float]) -> Double {
        guard test.count == reference.count else { return .infinity }
        var scale = 0.0, worst = 0.0
        for r in reference where r.isFinite { scale = max(scale, abs(Double(r))) }
        scale = max(scale, 1e-30)
        for (a, r) in zip(test, reference) {
            if a.isNaN && r.isNaN { continue }
            if a == r { continue }  // equal infinities too
            let e = abs(Double(a) - Double(r)) / scale
            worst = e.isNaN ? .infinity : max(worst, e)
        }
        return worst
    }

    /// One comparison case: host inputs by name, the operation, and the buffers to compare.
    struct Case {
        let name: String
        let inputs: [(String, [Float])]
        let compared: [String]
        let tolerance: Double
        let run: (any ComputeBackend<Float>, [String: ComputeBuffer<Float>]) throws -> Void
    }

    /// Runs every operation of `ComputeBackend` on `test` and on `reference` with the same
    /// inputs (drawn from `seed`) and compares the results. `progress` gets each result as it comes.
    public static func compare(
        _ test: any ComputeBackend<Float>, against reference: any ComputeBackend<Float>, sizes: Sizes, seed: UInt64,
        progress: (OperationComparison) -> Void = { _ in }
    ) throws -> [OperationComparison] {
        var results = [OperationComparison]()
        for c in cases(sizes: sizes, seed: seed) {
            var outputs = [[[Float]]]()
            for backend in [test, reference] {
                var buffers = [String: ComputeBuffer<Float>]()
                for (name, values) in c.inputs { buffers[name] = try backend.buffer(values) }
                try c.run(backend, buffers)
                outputs.append(
                    try c.compared.map { name in
                        guard let b = buffers[name] else {
                            throw ComputeError.invalidArgument("check case \(c.name) has no buffer \(name)")
                        }
                        return try backend.download(b)
                    })
            }
            for (i, name) in c.compared.enumerated() {
                let r = OperationComparison(
                    operation: c.compared.count > 1 ? "\(c.name) \(name)" : c.name,
                    error: relativeError(outputs[0][i], outputs[1][i]), tolerance: c.tolerance)
                progress(r)
                results.append(r)
            }
        }
        return results
    }

    /// The cases: every operation, with and without its optional buffers.
    static func cases(sizes s: Sizes, seed: UInt64) -> [Case] {
        var rng = SeededGenerator(seed: seed)
        func u(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] { (0..<n).map { _ in Float(rng.uniform(lo, hi)) } }
        func zeros(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }
        let (b, h, c, rows) = (s.batch, s.hidden, s.classes, s.rows)
        let bh = b * h
        var cases = [Case]()
        // Memory.
        let memory = u(bh)
        cases.append(
            Case(name: "upload/copy/fill/download", inputs: [("x", memory), ("y", zeros(bh + 5))], compared: ["y"], tolerance: 0) { k, x in
                try k.copy(x["x"]!, to: x["y"]!)
                try k.fill(try x["y"]!.slice(from: bh, count: 5), with: 3.5)
            })
        // GEMM, all transposes, padded leading dimensions, alpha and beta.
        let (m, n, kk) = s.gemm
        for (ta, tb) in [
            (Transpose.noTranspose, Transpose.noTranspose), (.transpose, .noTranspose), (.noTranspose, .transpose), (.transpose, .transpose)
        ] {
            let (ar, ac) = ta == .noTranspose ? (m, kk) : (kk, m), (br, bc) = tb == .noTranspose ? (kk, n) : (n, kk)
            let label = "gemm \(ta == .noTranspose ? "N" : "T")\(tb == .noTranspose ? "N" : "T") \(m)x\(n)x\(kk)"
            cases.append(
                Case(
                    name: label, inputs: [("a", u(ar * (ac + 1))), ("b", u(br * (bc + 3))), ("c", u(m * (n + 2)))],
                    compared: ["c"], tolerance: 1e-5
                ) { k, x in
                    try k.gemm(
                        ta, tb, m: m, n: n, k: kk, alpha: 0.5, a: x["a"]!, lda: ac + 1, b: x["b"]!, ldb: bc + 3, beta: 0.25,
                        c: x["c"]!, ldc: n + 2)
                })
        }
        // Rows and elementwise.
        cases.append(
            Case(name: "addRowVector", inputs: [("y", u(rows * c)), ("v", u(c))], compared: ["y"], tolerance: 1e-6) { k, x in
                try k.addRowVector(x["y"]!, rows: rows, columns: c, x["v"]!)
            })
        cases.append(
            Case(name: "addRowVectors", inputs: [("y", u(rows * c)), ("u", u(c)), ("v", u(c))], compared: ["y"], tolerance: 1e-6) { k, x in
                try k.addRowVectors(x["y"]!, rows: rows, columns: c, x["u"]!, x["v"]!)
            })
        let indices = (0..<rows).map { Float(($0 * 7 + 3) % c) }
        cases.append(
            Case(name: "gatherRows", inputs: [("t", u(c * b)), ("i", indices), ("y", zeros(rows * b))], compared: ["y"], tolerance: 0) {
                k, x in
                try k.gatherRows(x["t"]!, rows: c, columns: b, indices: x["i"]!, count: rows, into: x["y"]!)
            })
        cases.append(
            Case(name: "scatterAddRows", inputs: [("x", u(rows * b)), ("i", indices), ("t", u(c * b))], compared: ["t"], tolerance: 0) {
                k, x in
                try k.scatterAddRows(x["x"]!, indices: x["i"]!, count: rows, into: x["t"]!, rows: c, columns: b)
            })
        cases.append(
            Case(name: "transpose", inputs: [("x", u(rows * c)), ("y", zeros(rows * c))], compared: ["y"], tolerance: 0) { k, x in
                try k.transpose(x["x"]!, rows: rows, columns: c, into: x["y"]!)
            })
        cases.append(
            Case(
                name: "addTransposedProduct \(m)x\(n)x\(rows)",
                inputs: [("a", u(rows * (m + 1))), ("b", u(rows * (n + 3))), ("c", u(m * (n + 2)))],
                compared: ["c"], tolerance: 1e-5
            ) { k, x in
                try k.addTransposedProduct(m: m, n: n, k: rows, a: x["a"]!, lda: m + 1, b: x["b"]!, ldb: n + 3, c: x["c"]!, ldc: n + 2)
            })
        cases.append(
            Case(name: "addColumnSums", inputs: [("x", u(rows * c)), ("o", u(c))], compared: ["o"], tolerance: 1e-5) { k, x in
                try k.addColumnSums(x["x"]!, rows: rows, columns: c, into: x["o"]!)
            })
        cases.append(
            Case(name: "axpy", inputs: [("x", u(bh)), ("y", u(bh))], compared: ["y"], tolerance: 1e-6) { k, x in
                try k.axpy(alpha: -0.75, x["x"]!, x["y"]!)
            })
        cases.append(Case(name: "scale", inputs: [("x", u(bh))], compared: ["x"], tolerance: 0) { k, x in try k.scale(x["x"]!, by: 0.3) })
        cases.append(
            Case(name: "multiplyByMask", inputs: [("x", u(bh)), ("m", u(bh).map { $0 < 0 ? 0 : 1 })], compared: ["x"], tolerance: 0) {
                k, x in
                try k.multiplyByMask(x["x"]!, mask: x["m"]!)
            })
        // Cells.
        for act in CellActivation.allCases {
            cases.append(
                Case(name: "elmanForward \(act)", inputs: [("x", u(bh, -3, 3))], compared: ["x"], tolerance: 1e-6) { k, x in
                    try k.elmanForward(act, x["x"]!)
                })
            for extra in [true, false] {
                cases.append(
                    Case(
                        name: "elmanBackward \(act)\(extra ? "" : " without extra")",
                        inputs: [("h", u(bh)), ("g", u(bh)), ("o", u(bh)), ("d", zeros(bh))], compared: ["d"], tolerance: 1e-6
                    ) { k, x in
                        try k.elmanBackward(act, output: x["h"]!, gradient: x["g"]!, extra: extra ? x["o"]! : nil, into: x["d"]!)
                    })
            }
        }
        cases.append(
            Case(
                name: "lstmForward", inputs: [("a", u(4 * bh, -3, 3)), ("cp", u(bh)), ("c", zeros(bh)), ("h", zeros(bh))],
                compared: ["a", "c", "h"], tolerance: 1e-6
            ) { k, x in
                try k.lstmForward(gates: x["a"]!, cellPrevious: x["cp"]!, cell: x["c"]!, hidden: x["h"]!, batch: b, hiddenSize: h)
            })
        cases.append(
            Case(
                name: "lstmBackward",
                inputs: [
                    ("a", u(4 * bh, -3, 3)), ("cp", u(bh)), ("c", zeros(bh)), ("h", zeros(bh)),
                    ("do", u(bh)), ("dh", u(bh)), ("dc", u(bh)), ("da", zeros(4 * bh))
                ],
                compared: ["da", "dc"], tolerance: 1e-6
            ) { k, x in
                try k.lstmForward(gates: x["a"]!, cellPrevious: x["cp"]!, cell: x["c"]!, hidden: x["h"]!, batch: b, hiddenSize: h)
                try k.lstmBackward(
                    gates: x["a"]!, cellPrevious: x["cp"]!, cell: x["c"]!, dOutput: x["do"]!, dHidden: x["dh"]!,
                    dCell: x["dc"]!, dGates: x["da"]!, batch: b, hiddenSize: h)
            })
        cases.append(
            Case(
                name: "gruForward",
                inputs: [
                    ("a", u(3 * bh, -2, 2)), ("q", u(3 * bh, -2, 2)), ("hp", u(bh)), ("h", zeros(bh)),
                    ("qn", zeros(bh))
                ], compared: ["a", "h", "qn"], tolerance: 1e-6
            ) { k, x in
                try k.gruForward(
                    gates: x["a"]!, recurrent: x["q"]!, hiddenPrevious: x["hp"]!, hidden: x["h"]!, recurrentN: x["qn"]!,
                    batch: b, hiddenSize: h)
            })
        cases.append(
            Case(
                name: "gruBackward",
                inputs: [
                    ("a", u(3 * bh, -2, 2)), ("q", u(3 * bh, -2, 2)), ("hp", u(bh)), ("h", zeros(bh)),
                    ("qn", zeros(bh)), ("dh", u(bh)), ("dp", zeros(3 * bh)), ("dq", zeros(3 * bh))
                ],
                compared: ["dp", "dq", "dh"], tolerance: 1e-6
            ) { k, x in
                try k.gruForward(
                    gates: x["a"]!, recurrent: x["q"]!, hiddenPrevious: x["hp"]!, hidden: x["h"]!, recurrentN: x["qn"]!,
                    batch: b, hiddenSize: h)
                try k.gruBackward(
                    gates: x["a"]!, hiddenPrevious: x["hp"]!, recurrentN: x["qn"]!, dOutput: nil, dHidden: x["dh"]!,
                    dPre: x["dp"]!, dRecurrent: x["dq"]!, batch: b, hiddenSize: h)
            })
        // Losses: the Double results, rounded to Float, join the compared tensors. A target that
        // is not a class gives NaN on both backends.
        var targets = (0..<rows).map { _ in Float(rng.integer(below: c)) }
        for invalid in [false, true] {
            if invalid { targets[rows - 1] = -1 }
            cases.append(
                Case(
                    name: "crossEntropy\(invalid ? " (a target outside the classes)" : "")",
                    inputs: [("x", u(rows * c, -5, 5)), ("t", targets), ("d", zeros(rows * c)), ("r", [0, 0])],
                    compared: ["r", "d"], tolerance: 1e-5
                ) { k, x in
                    let (loss, correct) = try k.crossEntropy(
                        logits: x["x"]!, targets: x["t"]!, rows: rows, classes: c, scale: 1 / Float(rows), gradient: x["d"]!)
                    try k.upload([Float(loss), Float(correct)], to: x["r"]!)
                })
        }
        cases.append(
            Case(
                name: "softCrossEntropy",
                inputs: [("x", u(rows * c, -5, 5)), ("p", u(rows * c, 0, 1)), ("d", zeros(rows * c)), ("r", [0])],
                compared: ["r", "d"], tolerance: 1e-5
            ) { k, x in
                let loss = try k.softCrossEntropy(
                    logits: x["x"]!, targets: x["p"]!, rows: rows, classes: c, scale: 1 / Float(rows), gradient: x["d"]!)
                try k.upload([Float(loss)], to: x["r"]!)
            })
        cases.append(
            Case(
                name: "squaredError", inputs: [("p", u(bh)), ("t", u(bh)), ("d", zeros(bh)), ("r", [0])], compared: ["r", "d"],
                tolerance: 1e-6
            ) { k, x in
                try k.upload(
                    [Float(try k.squaredError(prediction: x["p"]!, target: x["t"]!, scale: 2 / Float(bh), gradient: x["d"]!))], to: x["r"]!)
            })
        // Reductions.
        cases.append(
            Case(name: "sum, sumOfSquares", inputs: [("x", u(4 * bh + 3)), ("r", [0, 0])], compared: ["r"], tolerance: 1e-6) { k, x in
                // The Double results, rounded to Float, join the compared tensors.
                try k.upload([Float(try k.sum(x["x"]!)), Float(try k.sumOfSquares(x["x"]!))], to: x["r"]!)
            })
        // Optimizers: three steps each.
        let grads = [u(bh), u(bh), u(bh)]
        for settings in [
            SGDSettings(learningRate: 0.1, weightDecay: 0.01),
            SGDSettings(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
            SGDSettings(learningRate: 0.05, momentum: 0.8, nesterov: true)
        ] {
            let label = settings.momentum == 0 ? "sgdStep" : (settings.nesterov ? "sgdStep nesterov" : "sgdStep momentum")
            cases.append(
                Case(name: label, inputs: [("p", u(bh)), ("g", zeros(bh)), ("buf", zeros(bh))], compared: ["p", "buf"], tolerance: 1e-6) {
                    k, x in
                    for (i, g) in grads.enumerated() {
                        try k.upload(g, to: x["g"]!)
                        try k.sgdStep(
                            parameters: x["p"]!, gradients: x["g"]!, momentumBuffer: x["buf"]!, settings: settings, firstStep: i == 0)
                    }
                })
        }
        for settings in [AdamSettings(learningRate: 1e-3, weightDecay: 0.01), AdamSettings.adamW(learningRate: 1e-3, weightDecay: 0.01)] {
            cases.append(
                Case(
                    name: settings.decoupled ? "adamStep AdamW" : "adamStep Adam",
                    inputs: [("p", u(bh)), ("g", zeros(bh)), ("m", zeros(bh)), ("v", zeros(bh))],
                    compared: ["p", "m", "v"], tolerance: 1e-6
                ) { k, x in
                    for (i, g) in grads.enumerated() {
                        try k.upload(g, to: x["g"]!)
                        try k.adamStep(
                            parameters: x["p"]!, gradients: x["g"]!, firstMoment: x["m"]!, secondMoment: x["v"]!, settings: settings,
                            step: i + 1)
                    }
                })
        }
        // Penalty: Elman L1 and LSTM L2, value and gradient.
        for (gates, power) in [(1, 1), (4, 2)] {
            let count = gates * h * h
            cases.append(
                Case(
                    name: "moduliPenalty G\(gates) p\(power)",
                    inputs: [("w", u(count)), ("r", u(h * h, 0, 81)), ("v", [0]), ("d", u(count))],
                    compared: ["v", "d"], tolerance: 1e-5
                ) { k, x in
                    let value = try k.moduliPenalty(
                        weights: x["w"]!, coefficients: x["r"]!, gates: gates, hiddenSize: h, lambda: 0.1, power: power,
                        gradient: x["d"]!)
                    try k.upload([Float(value)], to: x["v"]!)
                })
        }
        // Pruning thresholds over three pooled tensors (zeros and ties included), exact.
        var pooled = [u(bh), u(3 * h), u(2 * bh + 1)]
        for i in stride(from: 0, to: bh, by: 7) { pooled[0][i] = 0 }
        pooled[2][5] = -pooled[1][2]
        let total = pooled.reduce(0) { $0 + $1.count }
        cases.append(
            Case(
                name: "kthSmallestMagnitude", inputs: [("a", pooled[0]), ("b", pooled[1]), ("c", pooled[2]), ("out", zeros(5))],
                compared: ["out"], tolerance: 0
            ) { k, x in
                let ks = [1, total / 10, total / 2, (total * 9) / 10, total]
                let values = try ks.map { try k.kthSmallestMagnitude(of: [x["a"]!, x["b"]!, x["c"]!], k: max($0, 1)) }
                try k.upload(values, to: x["out"]!)
            })
        return cases
    }

    /// Times each shape on `backend`: `warmup` untimed products, then `repeats` timed ones
    /// between two synchronizations (wall clock).
    public static func timeGEMM(
        _ backend: any ComputeBackend<Float>, shapes: [GEMMShape], tf32: Bool, repeats: Int = 10, warmup: Int = 2,
        seed: UInt64 = 7
    ) throws -> [GEMMTiming] {
        var rng = SeededGenerator(seed: seed)
        var timings = [GEMMTiming]()
        for s in shapes {
            let (ar, ac) = s.transA == .noTranspose ? (s.m, s.k) : (s.k, s.m)
            let (br, bc) = s.transB == .noTranspose ? (s.k, s.n) : (s.n, s.k)
            let a = try backend.buffer((0..<(ar * ac)).map { _ in Float(rng.uniform(-1, 1)) })
            let b = try backend.buffer((0..<(br * bc)).map { _ in Float(rng.uniform(-1, 1)) })
            let c = try backend.allocate(count: s.m * s.n)
            func run() throws {
                try backend.gemm(
                    s.transA, s.transB, m: s.m, n: s.n, k: s.k, alpha: 1, a: a, lda: ac, b: b, ldb: bc, beta: 0, c: c, ldc: s.n)
            }
            for _ in 0..<warmup { try run() }
            try backend.synchronize()
            let start = MonotonicClock.seconds()
            for _ in 0..<repeats { try run() }
            try backend.synchronize()
            let seconds = MonotonicClock.seconds() - start
            timings.append(
                GEMMTiming(
                    name: s.name, transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, tf32: tf32,
                    milliseconds: seconds * 1e3 / Double(max(repeats, 1))))
        }
        return timings
    }
}
