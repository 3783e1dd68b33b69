// The CPU backend against naive Double loops, operation by operation, on seeded random inputs
// at sizes with and without SIMD tails.
import Foundation
import Testing
import Linalg
import Compute

@Suite struct CPUBackendTests {
    let cpu = CPUBackend()

    /// Memory round trips: upload, download, copy, fill, slices and a workspace's pieces.
    @Test func memoryRoundTrips() throws {
        var rng = SeededGenerator(seed: 1)
        let values = rng.floats(100)
        let a = try cpu.buffer(values)
        #expect(try cpu.download(a) == values)
        let b = try cpu.allocate(count: 120)
        try cpu.copy(a, to: b)
        #expect(Array(try cpu.download(b).prefix(100)) == values)
        try cpu.fill(try b.slice(from: 100, count: 20), with: 7)
        #expect(try cpu.download(b).suffix(20).allSatisfy { $0 == 7 })
        #expect(try cpu.download(try a.slice(from: 10, count: 5)) == Array(values[10..<15]))
        var ws = try cpu.makeWorkspace(count: 256)
        let p1 = try ws.take(10), p2 = try ws.take(100)
        #expect(p2.address - p1.address == UInt64(2 * Workspace<Float>.alignment * 4))  // aligned, after a gap
        try cpu.fill(p1, with: 1); try cpu.fill(p2, with: 2)
        #expect(try cpu.download(p1).allSatisfy { $0 == 1 } && cpu.download(p2).allSatisfy { $0 == 2 })
        #expect(throws: ComputeError.self) { _ = try ws.take(200) }
        ws.reset()
        #expect(try ws.take(200).count == 200 && ws.highWater == 2 * Workspace<Float>.alignment + 100)  // the most in use: p2's end
    }

    /// `release` frees an allocation once; a slice, a buffer over host memory and another
    /// backend's buffer are refused.
    @Test func releaseFreesWholeAllocationsOnly() throws {
        let backend = CPUBackend<Float>(), other = CPUBackend<Float>()
        let a = try backend.allocate(count: 50), b = try backend.allocate(count: 10)
        #expect(throws: ComputeError.self) { try backend.release(try a.slice(from: 1, count: 5)) }
        #expect(throws: ComputeError.self) { try other.release(a) }
        let host: [Float] = [1, 2, 3]
        try host.withUnsafeBufferPointer { p in
            #expect(throws: ComputeError.self) { try backend.release(backend.buffer(over: p)) }
        }
        try backend.release(a)
        #expect(throws: ComputeError.self) { try backend.release(a) }
        try backend.fill(b, with: 4)
        #expect(try backend.download(b) == Array(repeating: 4, count: 10))
    }

    /// `startPage()`: the next piece starts at the next 4 KB from the workspace's start, without a
    /// gap, whatever was taken before; the pieces after it keep their spacing.
    @Test func aPageStartMakesTheLayoutAfterItIndependentOfWhatCameBefore() throws {
        let page = Workspace<Float>.pageElements
        #expect(page == 1024 && Workspace<Double>.pageElements == 512)
        var offsets: [[UInt64]] = []
        for before in [0, 1, 700, 1000, 3000] {
            var ws = try cpu.makeWorkspace(count: 6 * page)
            if before > 0 { _ = try cpu.upload([Float](repeating: 1, count: before), into: &ws) }
            try ws.startPage()
            let a = try ws.take(300), b = try ws.take(page)
            let base = ws.storage.address
            offsets.append([a.address - base, b.address - base])
        }
        let expected: [[UInt64]] = [
            [0, 384 * 4], [1 * 4096, 4096 + 384 * 4], [1 * 4096, 4096 + 384 * 4], [1 * 4096, 4096 + 384 * 4],
            [3 * 4096, 3 * 4096 + 384 * 4]
        ]
        #expect(offsets == expected, "\(offsets)")
        // Modulo 4 KB every layout is the same.
        #expect(Set(offsets.map { $0.map { $0 % 4096 } }).count == 1)
        var small = try cpu.makeWorkspace(count: 100)
        _ = try small.take(50)
        #expect(throws: ComputeError.self) { try small.startPage() }
    }

    /// GEMM in all four transpose combinations, with padded leading dimensions, alpha and beta.
    @Test(arguments: [
        (Transpose.noTranspose, Transpose.noTranspose), (.transpose, .noTranspose),
        (.noTranspose, .transpose), (.transpose, .transpose)
    ])
    func gemmMatchesTripleLoop(_ ta: Transpose, _ tb: Transpose) throws {
        var rng = SeededGenerator(seed: 2)
        let m = 13, n = 9, k = 17
        let (ar, ac) = ta == .noTranspose ? (m, k) : (k, m)
        let (br, bc) = tb == .noTranspose ? (k, n) : (n, k)
        let lda = ac + 3, ldb = bc + 1, ldc = n + 2
        let a = rng.floats(ar * lda), b = rng.floats(br * ldb), c = rng.floats(m * ldc)
        let (pa, pb, pc) = (try cpu.buffer(a), try cpu.buffer(b), try cpu.buffer(c))
        try cpu.gemm(ta, tb, m: m, n: n, k: k, alpha: 0.75, a: pa, lda: lda, b: pb, ldb: ldb, beta: -0.5, c: pc, ldc: ldc)
        var expected = c.doubles
        Reference.gemm(
            ta, tb, m: m, n: n, k: k, alpha: 0.75, a: a.doubles, lda: lda, b: b.doubles, ldb: ldb,
            beta: -0.5, c: &expected, ldc: ldc)
        expectClose(try cpu.download(pc), expected, tolerance: 1e-5, "gemm \(ta) \(tb) seed 2")
    }

    /// Bias broadcast, column sums, axpy, scale and masking.
    @Test func rowAndElementwiseOperations() throws {
        var rng = SeededGenerator(seed: 3)
        let rows = 7, cols = 19
        let y = rng.floats(rows * cols), v = rng.floats(cols), out0 = rng.floats(cols)
        let (py, pv, po) = (try cpu.buffer(y), try cpu.buffer(v), try cpu.buffer(out0))
        try cpu.addRowVector(py, rows: rows, columns: cols, pv)
        expectClose(try cpu.download(py), (0..<(rows * cols)).map { Double(y[$0]) + Double(v[$0 % cols]) }, tolerance: 1e-6, "addRowVector")
        try cpu.addColumnSums(try cpu.buffer(y), rows: rows, columns: cols, into: po)
        expectClose(
            try cpu.download(po), (0..<cols).map { c in Double(out0[c]) + (0..<rows).reduce(0) { $0 + Double(y[$1 * cols + c]) } },
            tolerance: 1e-6, "addColumnSums")
        let x = rng.floats(37), z = rng.floats(37)
        let (px, pz) = (try cpu.buffer(x), try cpu.buffer(z))
        try cpu.axpy(alpha: -1.5, px, pz)
        expectClose(try cpu.download(pz), (0..<37).map { Double(z[$0]) - 1.5 * Double(x[$0]) }, tolerance: 1e-6, "axpy")
        try cpu.scale(px, by: 0.25)
        expectClose(try cpu.download(px), x.map { Double($0) * 0.25 }, tolerance: 0, "scale")
        let mask: [Float] = (0..<37).map { $0 % 3 == 0 ? 0 : 1 }
        try cpu.multiplyByMask(pz, mask: try cpu.buffer(mask))
        let masked = try cpu.download(pz)
        #expect((0..<37).allSatisfy { mask[$0] == 0 ? masked[$0] == 0 : masked[$0] != 0 })
    }

    /// The layers' data movement: two biases in one pass, the transposition of a step's states
    /// (sizes with and without whole 4 x 4 tiles), and the weight gradient's product over a long k
    /// (more than two slices of 128 rows, and a short one).
    @Test(arguments: [(7, 19, 300), (8, 12, 20)])
    func layerOperations(rows: Int, columns: Int, k: Int) throws {
        var rng = SeededGenerator(seed: 13)
        let y = rng.floats(rows * columns), u = rng.floats(columns), v = rng.floats(columns)
        let py = try cpu.buffer(y)
        try cpu.addRowVectors(py, rows: rows, columns: columns, try cpu.buffer(u), try cpu.buffer(v))
        expectClose(
            try cpu.download(py), (0..<(rows * columns)).map { Double(y[$0]) + Double(u[$0 % columns]) + Double(v[$0 % columns]) },
            tolerance: 1e-6, "addRowVectors")
        let t = try cpu.allocate(count: rows * columns)
        try cpu.transpose(try cpu.buffer(y), rows: rows, columns: columns, into: t)
        let transposed = try cpu.download(t)
        #expect((0..<rows).allSatisfy { r in (0..<columns).allSatisfy { c in transposed[c * rows + r] == y[r * columns + c] } })
        let (m, n, lda, ldb, ldc) = (rows, columns, rows + 2, columns + 1, columns + 3)
        let a = rng.floats(k * lda), b = rng.floats(k * ldb), c = rng.floats(m * ldc)
        let pc = try cpu.buffer(c)
        try cpu.addTransposedProduct(m: m, n: n, k: k, a: try cpu.buffer(a), lda: lda, b: try cpu.buffer(b), ldb: ldb, c: pc, ldc: ldc)
        var expected = c.doubles
        Reference.gemm(
            .transpose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: a.doubles, lda: lda, b: b.doubles, ldb: ldb, beta: 1, c: &expected,
            ldc: ldc)
        expectClose(try cpu.download(pc), expected, tolerance: 1e-5, "addTransposedProduct k \(k)")
    }

    /// Embedding rows against plain loops: a gather (an index outside the table gives NaN) and a
    /// scatter-add where repeated indices add up in order (one outside the table is skipped).
    @Test func embeddingRows() throws {
        var rng = SeededGenerator(seed: 17)
        let (rows, columns) = (6, 9)
        let table = rng.floats(rows * columns), x = rng.floats(5 * columns)
        let indices: [Float] = [4, 0, 4, 7, 2]  // 7 is not a row
        let y = try cpu.allocate(count: 5 * columns)
        try cpu.gatherRows(try cpu.buffer(table), rows: rows, columns: columns, indices: try cpu.buffer(indices), count: 5, into: y)
        let gathered = try cpu.download(y)
        for (n, i) in indices.enumerated() {
            let row = Array(gathered[(n * columns)..<((n + 1) * columns)])
            if Int(i) < rows {
                #expect(row == Array(table[(Int(i) * columns)..<((Int(i) + 1) * columns)]), "gathered row \(n)")
            } else {
                #expect(row.allSatisfy { $0.isNaN }, "row \(n) of index \(i) outside the table")
            }
        }
        let t = try cpu.buffer(table)
        try cpu.scatterAddRows(try cpu.buffer(x), indices: try cpu.buffer(indices), count: 5, into: t, rows: rows, columns: columns)
        var expected = table
        for (n, i) in indices.enumerated() where Int(i) < rows {
            for j in 0..<columns { expected[Int(i) * columns + j] += x[n * columns + j] }
        }
        let added = try cpu.download(t)
        #expect(added == expected)
        #expect(throws: ComputeError.self) {
            try cpu.gatherRows(try cpu.buffer(table), rows: rows, columns: columns, indices: try cpu.buffer(indices), count: 6, into: y)
        }
    }

    /// The Elman activations in place.
    @Test(arguments: CellActivation.allCases)
    func elmanForward(_ activation: CellActivation) throws {
        var rng = SeededGenerator(seed: 4)
        let x = rng.floats(45, -3, 3)
        let p = try cpu.buffer(x)
        try cpu.elmanForward(activation, p)
        expectClose(
            try cpu.download(p), x.map { activation == .tanh ? tanh(Double($0)) : max(Double($0), 0) },
            tolerance: 1e-6, "elmanForward \(activation)")
    }

    /// The LSTM step: gates, cell and hidden state.
    @Test func lstmForward() throws {
        var rng = SeededGenerator(seed: 5)
        let batch = 3, h = 5
        let a = rng.floats(batch * 4 * h, -3, 3), cPrev = rng.floats(batch * h)
        let (pa, pcp) = (try cpu.buffer(a), try cpu.buffer(cPrev))
        let (pc, ph) = (try cpu.allocate(count: batch * h), try cpu.allocate(count: batch * h))
        try cpu.lstmForward(gates: pa, cellPrevious: pcp, cell: pc, hidden: ph, batch: batch, hiddenSize: h)
        let ref = Reference.lstm(a: a.doubles, cPrev: cPrev.doubles, batch: batch, h: h)
        expectClose(try cpu.download(pa), ref.gates, tolerance: 1e-6, "LSTM gates")
        expectClose(try cpu.download(pc), ref.c, tolerance: 1e-6, "LSTM cell")
        expectClose(try cpu.download(ph), ref.h, tolerance: 1e-6, "LSTM hidden")
    }

    /// The GRU step: gates, hidden state and the kept recurrent n projection.
    @Test func gruForward() throws {
        var rng = SeededGenerator(seed: 6)
        let batch = 4, h = 3
        let a = rng.floats(batch * 3 * h, -2, 2), q = rng.floats(batch * 3 * h, -2, 2), hPrev = rng.floats(batch * h)
        let (pa, pq, php) = (try cpu.buffer(a), try cpu.buffer(q), try cpu.buffer(hPrev))
        let (ph, pn) = (try cpu.allocate(count: batch * h), try cpu.allocate(count: batch * h))
        try cpu.gruForward(gates: pa, recurrent: pq, hiddenPrevious: php, hidden: ph, recurrentN: pn, batch: batch, hiddenSize: h)
        let ref = Reference.gru(a: a.doubles, q: q.doubles, hPrev: hPrev.doubles, batch: batch, h: h)
        expectClose(try cpu.download(pa), ref.gates, tolerance: 1e-6, "GRU gates")
        expectClose(try cpu.download(ph), ref.h, tolerance: 1e-6, "GRU hidden")
        expectClose(try cpu.download(pn), (0..<(batch * h)).map { Double(q[($0 / h) * 3 * h + 2 * h + $0 % h]) }, tolerance: 0, "GRU q_n")
    }

    /// Cross-entropy: the loss summed over rows and the rows whose first largest logit is the
    /// target (ties resolve to the first index), and a NaN loss for a target that is not a class.
    @Test(arguments: [5, 8, 37])
    func crossEntropy(classes c: Int) throws {
        var rng = SeededGenerator(seed: UInt64(7 + c))
        let rows = 6
        var x = rng.floats(rows * c, -4, 4)
        x[2 * c + 1] = 9; x[2 * c + 3] = 9  // a tie in row 2: the first index wins
        var t = (0..<rows).map { _ in Float(rng.integer(below: c)) }
        t[2] = 3  // the tie's second index: not counted correct
        t[4] = Float(Array(x[(4 * c)..<(5 * c)]).firstIndex(of: x[(4 * c)..<(5 * c)].max()!)!)  // correct
        let xd = x.doubles
        let expected = (0..<rows).reduce(0.0) { $0 + Reference.crossEntropy(xd[($1 * c)..<(($1 + 1) * c)], target: Int(t[$1])) }
        let correct = (0..<rows).filter { r in
            let row = Array(x[(r * c)..<((r + 1) * c)])
            return row.firstIndex(of: row.max()!) == Int(t[r])
        }.count
        let (loss, found) = try cpu.crossEntropy(
            logits: try cpu.buffer(x), targets: try cpu.buffer(t), rows: rows, classes: c, scale: 1, gradient: nil)
        expectClose([Float(loss)], [expected], tolerance: 1e-5, "cross-entropy summed over rows, \(c) classes")
        #expect(found == correct && found >= 1, "\(found) rows correct, expected \(correct)")
        t[5] = Float(c)  // not a class
        let d = try cpu.allocate(count: rows * c)
        let (invalid, _) = try cpu.crossEntropy(
            logits: try cpu.buffer(x), targets: try cpu.buffer(t), rows: rows, classes: c, scale: 1, gradient: d)
        #expect(invalid.isNaN)
        #expect(try cpu.download(d).suffix(c).allSatisfy { $0.isNaN })
    }

    /// Soft-target cross-entropy summed over rows (targets that do not sum to 1 included).
    @Test(arguments: [3, 8, 21])
    func softCrossEntropy(classes c: Int) throws {
        var rng = SeededGenerator(seed: UInt64(20 + c))
        let rows = 5
        let x = rng.floats(rows * c, -4, 4), p = rng.floats(rows * c, 0, 1)
        let loss = try cpu.softCrossEntropy(
            logits: try cpu.buffer(x), targets: try cpu.buffer(p), rows: rows, classes: c, scale: 1, gradient: nil)
        let xd = x.doubles, pd = p.doubles
        let expected = (0..<rows).reduce(0.0) {
            $0 + Reference.softCrossEntropy(xd[($1 * c)..<(($1 + 1) * c)], pd[($1 * c)..<(($1 + 1) * c)])
        }
        expectClose([Float(loss)], [expected], tolerance: 1e-5, "soft cross-entropy, \(c) classes")
    }

    /// Squared errors summed in Double, and their gradient scale (p - t).
    @Test func squaredError() throws {
        var rng = SeededGenerator(seed: 29)
        let p = rng.floats(37), t = rng.floats(37)
        let d = try cpu.allocate(count: 37)
        let sum = try cpu.squaredError(prediction: try cpu.buffer(p), target: try cpu.buffer(t), scale: 0.5, gradient: d)
        expectClose(
            [Float(sum)], [zip(p, t).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }], tolerance: 1e-6,
            "sum")
        expectClose(try cpu.download(d), zip(p, t).map { 0.5 * (Double($0) - Double($1)) }, tolerance: 1e-6, "gradient")
    }

    /// Sums and sums of squares, returned in Double.
    @Test func reductions() throws {
        var rng = SeededGenerator(seed: 30)
        let x = rng.floats(1001, -2, 2)
        let px = try cpu.buffer(x)
        let sum = try cpu.sum(px), squares = try cpu.sumOfSquares(px)
        #expect(abs(sum - x.doubles.reduce(0, +)) <= 1e-12, "sum \(sum)")
        #expect(abs(squares - x.doubles.reduce(0) { $0 + $1 * $1 }) <= 1e-9, "sum of squares \(squares)")
        #expect(try cpu.sum(try cpu.allocate(count: 0)) == 0)
    }

    /// SGD (plain, momentum with dampening, Nesterov, weight decay) over three steps.
    @Test(arguments: [
        SGDSettings(learningRate: 0.1), SGDSettings(learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01),
        SGDSettings(learningRate: 0.05, momentum: 0.8, weightDecay: 0.02, nesterov: true)
    ])
    func sgdMatchesPyTorchFormula(_ s: SGDSettings) throws {
        var rng = SeededGenerator(seed: 31)
        let n = 29
        var p = rng.floats(n).doubles, buf = [Double](repeating: 0, count: n)
        let pp = try cpu.buffer(p.map(Float.init)), pg = try cpu.allocate(count: n), pb = try cpu.allocate(count: n)
        for step in 0..<3 {
            let g = rng.floats(n)
            try cpu.upload(g, to: pg)
            try cpu.sgdStep(parameters: pp, gradients: pg, momentumBuffer: s.momentum == 0 ? nil : pb, settings: s, firstStep: step == 0)
            for i in 0..<n {
                let gi = Double(g[i]) + s.weightDecay * p[i]
                if s.momentum == 0 { p[i] -= s.learningRate * gi; continue }
                buf[i] = step == 0 ? gi : s.momentum * buf[i] + (1 - s.dampening) * gi
                p[i] -= s.learningRate * (s.nesterov ? gi + s.momentum * buf[i] : buf[i])
            }
        }
        expectClose(try cpu.download(pp), p, tolerance: 1e-6, "SGD \(s)")
    }

    /// Adam and AdamW over four steps, bias corrections included.
    @Test(arguments: [AdamSettings(learningRate: 0.01, weightDecay: 0.05), AdamSettings.adamW(learningRate: 0.01, weightDecay: 0.1)])
    func adamMatchesPyTorchFormula(_ s: AdamSettings) throws {
        var rng = SeededGenerator(seed: 32)
        let n = 23
        var p = rng.floats(n).doubles, m = [Double](repeating: 0, count: n), v = m
        let pp = try cpu.buffer(p.map(Float.init)), pg = try cpu.allocate(count: n)
        let pm = try cpu.buffer([Float](repeating: 0, count: n)), pv = try cpu.buffer([Float](repeating: 0, count: n))
        for t in 1...4 {
            let g = rng.floats(n)
            try cpu.upload(g, to: pg)
            try cpu.adamStep(parameters: pp, gradients: pg, firstMoment: pm, secondMoment: pv, settings: s, step: t)
            let bc1 = 1 - pow(s.beta1, Double(t)), bc2 = 1 - pow(s.beta2, Double(t))
            for i in 0..<n {
                var gi = Double(g[i])
                if s.decoupled { p[i] *= 1 - s.learningRate * s.weightDecay } else { gi += s.weightDecay * p[i] }
                m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi
                v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                p[i] -= s.learningRate / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + s.epsilon)
            }
        }
        expectClose(try cpu.download(pp), p, tolerance: 1e-6, "\(s.decoupled ? "AdamW" : "Adam") parameters")
        expectClose(try cpu.download(pm), m, tolerance: 1e-6, "first moment")
        expectClose(try cpu.download(pv), v, tolerance: 1e-6, "second moment")
    }

    /// The penalty's value for p = 1 and 2 and G = 1, 3, 4 gate blocks.
    @Test(arguments: [(1, 1), (2, 1), (3, 2), (4, 1)])
    func penaltyValue(gates: Int, power: Int) throws {
        var rng = SeededGenerator(seed: UInt64(40 + gates * 2 + power))
        let h = 6
        let w = rng.floats(gates * h * h), r = rng.floats(h * h, 0, 80)
        let value = try cpu.moduliPenalty(
            weights: try cpu.buffer(w), coefficients: try cpu.buffer(r), gates: gates, hiddenSize: h,
            lambda: 0.1, power: power, gradient: nil)
        let expected = Reference.penalty(w: w.doubles, r: r.doubles, gates: gates, h: h, lambda: 0.1, power: power)
        #expect(abs(value - expected) <= 1e-6 * max(1, abs(expected)), "penalty G \(gates) p \(power): \(value) vs \(expected)")
    }

    /// The k-th smallest magnitude over pooled tensors, against a sort, for every k; with ties,
    /// zeros (pruned entries) and tensors of different sizes.
    @Test func kthSmallestMagnitudeMatchesSort() throws {
        var rng = SeededGenerator(seed: 50)
        var a = rng.floats(40), b = rng.floats(3), c = rng.floats(61)
        a[3] = 0; a[7] = 0; c[10] = -a[5]; c[11] = a[5]; b[1] = -0.0
        let tensors = [try cpu.buffer(a), try cpu.buffer(b), try cpu.buffer(c)]
        let sorted = (a + b + c).map { abs($0) }.sorted()
        for k in 1...sorted.count {
            let got = try cpu.kthSmallestMagnitude(of: tensors, k: k)
            #expect(got == sorted[k - 1], "k = \(k): \(got) vs \(sorted[k - 1])")
        }
        #expect(throws: ComputeError.self) { _ = try cpu.kthSmallestMagnitude(of: tensors, k: 0) }
        #expect(throws: ComputeError.self) { _ = try cpu.kthSmallestMagnitude(of: tensors, k: sorted.count + 1) }
    }
}
