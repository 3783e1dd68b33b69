// The compute operations on the CPU: OpenBLAS GEMM (`Float.gemm`), the Linalg kernels, and plain
// loops with the same formulas as the NN module's layers and optimizers. The reference that the
// CUDA backend is checked against.
import Linalg
import RealModule

/// `ComputeBackend` in host memory: buffers are host pointers, every operation runs at once on
/// the calling thread (large GEMMs in blocks on the worker pool, `GEMMBlocks`).
public final class CPUBackend: ComputeBackend {
    public let name = "cpu"
    private var allocations: [UnsafeMutablePointer<Float>] = []
    private var checks: BufferChecks { BufferChecks(owner: UInt(bitPattern: ObjectIdentifier(self)), backend: name) }

    /// A backend with no memory yet.
    public init() {}

    deinit {
        for p in allocations { p.deallocate() }
    }

    /// The host pointer of a buffer of this backend.
    @inline(__always)
    private func pointer(_ b: ComputeBuffer) -> UnsafeMutablePointer<Float> {
        // A buffer's address is never 0: every allocation has at least one element.
        UnsafeMutablePointer<Float>(bitPattern: UInt(b.address)).unsafelyUnwrapped
    }

    // MARK: Memory

    public func allocate(count: Int) throws -> ComputeBuffer {
        guard count >= 0, count <= Int.max / 8 else {
            throw ComputeError.invalidArgument("allocate: cannot allocate \(count) elements")
        }
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        allocations.append(p)
        return ComputeBuffer(owner: checks.owner, address: UInt64(UInt(bitPattern: p)), count: count)
    }

    public func upload(_ source: UnsafeBufferPointer<Float>, to destination: ComputeBuffer) throws {
        try checks.need(destination, "destination", count: source.count, "upload")
        guard let base = source.baseAddress, source.count > 0 else { return }
        pointer(destination).update(from: base, count: source.count)
    }

    public func download(_ source: ComputeBuffer, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try checks.need(source, "source", count: destination.count, "download")
        guard let base = destination.baseAddress, destination.count > 0 else { return }
        base.update(from: pointer(source), count: destination.count)
    }

    public func copy(_ source: ComputeBuffer, to destination: ComputeBuffer) throws {
        try checks.copy(source, to: destination)
        pointer(destination).update(from: pointer(source), count: source.count)  // memmove semantics
    }

    public func fill(_ buffer: ComputeBuffer, with value: Float) throws {
        try checks.own(buffer, "buffer", "fill")
        pointer(buffer).update(repeating: value, count: buffer.count)
    }

    public func synchronize() throws {}

    // MARK: Dense algebra

    public func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
        a: ComputeBuffer, lda: Int, b: ComputeBuffer, ldb: Int, beta: Float, c: ComputeBuffer, ldc: Int
    ) throws {
        try checks.gemm(transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        guard m > 0 && n > 0 else { return }
        if k == 0 {  // C = beta C (BLAS leaves this case to the implementation's care)
            let pc = pointer(c)
            for r in 0..<m { for j in 0..<n { pc[r * ldc + j] = beta == 0 ? 0 : beta * pc[r * ldc + j] } }
            return
        }
        Float.gemm(
            transA, transB, m: m, n: n, k: k, alpha: alpha, a: pointer(a), lda: lda, b: pointer(b), ldb: ldb,
            beta: beta, c: pointer(c), ldc: ldc)
    }

    public func addRowVector(_ y: ComputeBuffer, rows: Int, columns: Int, _ v: ComputeBuffer) throws {
        _ = try checks.addRowVector(y, rows: rows, columns: columns, v)
        Kernels.addRowVector(pointer(y), rows: rows, columns: columns, pointer(v))
    }

    public func addColumnSums(_ x: ComputeBuffer, rows: Int, columns: Int, into out: ComputeBuffer) throws {
        _ = try checks.addColumnSums(x, rows: rows, columns: columns, into: out)
        Kernels.addColumnSums(pointer(x), rows: rows, columns: columns, into: pointer(out))
    }

    public func axpy(alpha: Float, _ x: ComputeBuffer, _ y: ComputeBuffer) throws {
        try checks.axpy(x, y)
        let px = pointer(x), py = pointer(y)
        for i in 0..<x.count { py[i] += alpha * px[i] }
    }

    public func scale(_ x: ComputeBuffer, by factor: Float) throws {
        try checks.own(x, "x", "scale")
        let p = pointer(x)
        for i in 0..<x.count { p[i] *= factor }
    }

    public func multiplyByMask(_ x: ComputeBuffer, mask: ComputeBuffer) throws {
        try checks.multiplyByMask(x, mask: mask)
        let p = pointer(x), m = pointer(mask)
        for i in 0..<x.count { p[i] *= m[i] }
    }

    // MARK: Recurrent cells

    public func elmanForward(_ activation: CellActivation, _ x: ComputeBuffer) throws {
        try checks.own(x, "x", "elmanForward")
        switch activation {
        case .relu: Kernels.reluInPlace(pointer(x), count: x.count)
        case .tanh: Kernels.tanhInPlace(pointer(x), count: x.count)
        }
    }

    public func elmanBackward(
        _ activation: CellActivation, output h: ComputeBuffer, gradient g: ComputeBuffer,
        extra o: ComputeBuffer?, into d: ComputeBuffer
    ) throws {
        let n = try checks.elmanBackward(output: h, gradient: g, extra: o, into: d)
        let po = o.map { UnsafePointer(pointer($0)) }
        switch activation {
        case .relu: Kernels.reluBackward(output: pointer(h), gradient: pointer(g), extra: po, into: pointer(d), count: n)
        case .tanh: Kernels.tanhBackward(output: pointer(h), gradient: pointer(g), extra: po, into: pointer(d), count: n)
        }
    }

    public func lstmForward(
        gates: ComputeBuffer, cellPrevious: ComputeBuffer, cell: ComputeBuffer, hidden: ComputeBuffer,
        batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.lstmForward(gates: gates, cellPrevious: cellPrevious, cell: cell, hidden: hidden, batch: batch, hiddenSize: h)
        let a = pointer(gates), cPrev = pointer(cellPrevious), cCur = pointer(cell), hCur = pointer(hidden)
        for n in 0..<batch {
            let row = a + n * 4 * h, off = n * h
            for j in 0..<h {
                let ig = Kernels.sigmoid(row[j]), fg = Kernels.sigmoid(row[h + j])
                let gg = Float.tanh(row[2 * h + j]), og = Kernels.sigmoid(row[3 * h + j])
                row[j] = ig; row[h + j] = fg; row[2 * h + j] = gg; row[3 * h + j] = og
                let c = fg * cPrev[off + j] + ig * gg
                cCur[off + j] = c
                hCur[off + j] = og * Float.tanh(c)
            }
        }
    }

    public func lstmBackward(
        gates: ComputeBuffer, cellPrevious: ComputeBuffer, cell: ComputeBuffer, dOutput: ComputeBuffer?,
        dHidden: ComputeBuffer, dCell: ComputeBuffer, dGates: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.lstmBackward(
            gates: gates, cellPrevious: cellPrevious, cell: cell, dOutput: dOutput, dHidden: dHidden,
            dCell: dCell, dGates: dGates, batch: batch, hiddenSize: h)
        let g = pointer(gates), cPrev = pointer(cellPrevious), cCur = pointer(cell), dh = pointer(dHidden)
        let dc = pointer(dCell), da = pointer(dGates), dout = dOutput.map { pointer($0) }
        for n in 0..<batch {
            let row = g + n * 4 * h, drow = da + n * 4 * h, off = n * h
            for j in 0..<h {
                let ig = row[j], fg = row[h + j], gg = row[2 * h + j], og = row[3 * h + j]
                let tc = Float.tanh(cCur[off + j])
                let dhT = dh[off + j] + (dout?[off + j] ?? 0)
                let dcT = dc[off + j] + dhT * og * (1 - tc * tc)
                drow[j] = dcT * gg * ig * (1 - ig)
                drow[h + j] = dcT * cPrev[off + j] * fg * (1 - fg)
                drow[2 * h + j] = dcT * ig * (1 - gg * gg)
                drow[3 * h + j] = dhT * tc * og * (1 - og)
                dc[off + j] = dcT * fg
            }
        }
    }

    public func gruForward(
        gates: ComputeBuffer, recurrent: ComputeBuffer, hiddenPrevious: ComputeBuffer, hidden: ComputeBuffer,
        recurrentN: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.gruForward(
            gates: gates, recurrent: recurrent, hiddenPrevious: hiddenPrevious, hidden: hidden,
            recurrentN: recurrentN, batch: batch, hiddenSize: h)
        let a = pointer(gates), q = pointer(recurrent), hPrev = pointer(hiddenPrevious), hCur = pointer(hidden)
        let hn = pointer(recurrentN)
        for n in 0..<batch {
            let row = a + n * 3 * h, qrow = q + n * 3 * h, off = n * h
            for j in 0..<h {
                let r = Kernels.sigmoid(row[j] + qrow[j])
                let z = Kernels.sigmoid(row[h + j] + qrow[h + j])
                let qn = qrow[2 * h + j]
                let nn = Float.tanh(row[2 * h + j] + r * qn)
                row[j] = r; row[h + j] = z; row[2 * h + j] = nn
                hn[off + j] = qn
                hCur[off + j] = (1 - z) * nn + z * hPrev[off + j]
            }
        }
    }

    public func gruBackward(
        gates: ComputeBuffer, hiddenPrevious: ComputeBuffer, recurrentN: ComputeBuffer, dOutput: ComputeBuffer?,
        dHidden: ComputeBuffer, dPre: ComputeBuffer, dRecurrent: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.gruBackward(
            gates: gates, hiddenPrevious: hiddenPrevious, recurrentN: recurrentN, dOutput: dOutput,
            dHidden: dHidden, dPre: dPre, dRecurrent: dRecurrent, batch: batch, hiddenSize: h)
        let g = pointer(gates), hPrev = pointer(hiddenPrevious), hn = pointer(recurrentN), dh = pointer(dHidden)
        let dp = pointer(dPre), dq = pointer(dRecurrent), dout = dOutput.map { pointer($0) }
        for n in 0..<batch {
            let row = g + n * 3 * h, prow = dp + n * 3 * h, qrow = dq + n * 3 * h, off = n * h
            for j in 0..<h {
                let r = row[j], z = row[h + j], nn = row[2 * h + j]
                let dhT = dh[off + j] + (dout?[off + j] ?? 0)
                let dan = dhT * (1 - z) * (1 - nn * nn)
                let daz = dhT * (hPrev[off + j] - nn) * z * (1 - z)
                let dar = dan * hn[off + j] * r * (1 - r)
                prow[j] = dar; prow[h + j] = daz; prow[2 * h + j] = dan
                qrow[j] = dar; qrow[h + j] = daz; qrow[2 * h + j] = dan * r
                dh[off + j] = dhT * z
            }
        }
    }

    // MARK: Losses

    public func crossEntropyRows(
        logits: ComputeBuffer, targets: ComputeBuffer, rows: Int, classes: Int, scale: Float,
        losses: ComputeBuffer, argmax: ComputeBuffer?, gradient: ComputeBuffer?
    ) throws {
        _ = try checks.crossEntropyRows(
            logits: logits, targets: targets, rows: rows, classes: classes, losses: losses,
            argmax: argmax, gradient: gradient, int32Classes: false)
        let x = pointer(logits), t = pointer(targets), l = pointer(losses)
        let am = argmax.map { pointer($0) }, d = gradient.map { pointer($0) }
        for r in 0..<rows {
            let row = x + r * classes, drow = d.map { $0 + r * classes }
            let target = t[r]
            if target >= 0, target < Float(classes), target.rounded(.towardZero) == target {
                let (loss, best) = Kernels.crossEntropyRow(row, count: classes, target: Int(target), gradient: drow, scale: scale)
                l[r] = Float(loss)
                am?[r] = Float(best)
            } else {
                l[r] = .nan
                drow?.update(repeating: .nan, count: classes)
                am?[r] = Float(Kernels.argmax(row, count: classes))
            }
        }
    }

    public func softCrossEntropyRows(
        logits: ComputeBuffer, targets: ComputeBuffer, rows: Int, classes: Int, scale: Float,
        losses: ComputeBuffer, gradient: ComputeBuffer?
    ) throws {
        _ = try checks.softCrossEntropyRows(
            logits: logits, targets: targets, rows: rows, classes: classes, losses: losses,
            gradient: gradient, int32Classes: false)
        let x = pointer(logits), p = pointer(targets), l = pointer(losses), d = gradient.map { pointer($0) }
        for r in 0..<rows {
            l[r] = Float(
                Kernels.softCrossEntropyRow(
                    x + r * classes, p + r * classes, count: classes,
                    gradient: d.map { $0 + r * classes }, scale: scale))
        }
    }

    // MARK: Reductions

    public func sum(_ x: ComputeBuffer, into result: ComputeBuffer, accumulate: Bool) throws {
        try checks.reduction(x, into: result, "sum")
        let p = pointer(x)
        var s = 0.0
        for i in 0..<x.count { s += Double(p[i]) }
        let out = pointer(result)
        out[0] = accumulate ? Float(Double(out[0]) + s) : Float(s)
    }

    public func sumOfSquares(_ x: ComputeBuffer, into result: ComputeBuffer, accumulate: Bool) throws {
        try checks.reduction(x, into: result, "sumOfSquares")
        let s = Kernels.sumOfSquares(UnsafePointer(pointer(x)), count: x.count)
        let out = pointer(result)
        out[0] = accumulate ? Float(Double(out[0]) + s) : Float(s)
    }

    // MARK: Optimizers

    public func sgdStep(
        parameters: ComputeBuffer, gradients: ComputeBuffer, momentumBuffer: ComputeBuffer?,
        settings: SGDSettings, firstStep: Bool
    ) throws {
        let (n, momentum) = try checks.sgdStep(
            parameters: parameters, gradients: gradients, momentumBuffer: momentumBuffer,
            settings: settings)
        let p = pointer(parameters), g = pointer(gradients)
        let lr = Float(settings.learningRate), wd = Float(settings.weightDecay)
        guard let momentum else {  // momentum 0: no buffer
            for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            return
        }
        let b = pointer(momentum), mu = Float(settings.momentum), damp = Float(1 - settings.dampening)
        let nesterov = settings.nesterov
        for i in 0..<n {
            let gi = g[i] + wd * p[i]
            b[i] = firstStep ? gi : mu * b[i] + damp * gi
            p[i] -= lr * (nesterov ? gi + mu * b[i] : b[i])
        }
    }

    public func adamStep(
        parameters: ComputeBuffer, gradients: ComputeBuffer, firstMoment: ComputeBuffer,
        secondMoment: ComputeBuffer, settings: AdamSettings, step: Int
    ) throws {
        let n = try checks.adamStep(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment,
            secondMoment: secondMoment, step: step)
        let k = settings.constants(step: step)
        let p = pointer(parameters), g = pointer(gradients), m = pointer(firstMoment), v = pointer(secondMoment)
        for i in 0..<n {
            let gi = g[i] + k.l2 * p[i]
            let mi = k.b1 * m[i] + k.c1 * gi
            let vi = k.b2 * v[i] + k.c2 * gi * gi
            m[i] = mi; v[i] = vi
            p[i] = p[i] * k.decay - k.stepSize * mi / (vi.squareRoot() / k.bc2Root + k.eps)
        }
    }

    // MARK: Moduli regularization and pruning

    public func moduliPenalty(
        weights: ComputeBuffer, coefficients: ComputeBuffer, gates: Int, hiddenSize h: Int,
        lambda: Float, power: Int, value: ComputeBuffer, accumulate: Bool, gradient: ComputeBuffer?
    ) throws {
        let (hh, count) = try checks.moduliPenalty(
            weights: weights, coefficients: coefficients, gates: gates, hiddenSize: h,
            power: power, value: value, gradient: gradient)
        let w = pointer(weights), r = pointer(coefficients), d = gradient.map { pointer($0) }
        let scale = count == 0 ? 0 : Double(lambda) / Double(count), gscale = Float(scale)
        var s = 0.0
        for g in 0..<gates {
            let wb = w + g * hh, db = d.map { $0 + g * hh }
            for i in 0..<hh {
                let wi = wb[i], a = abs(wi)
                s += Double(r[i]) * (power == 1 ? Double(a) : Double(a) * Double(a))
                if let db {
                    let slope: Float = power == 1 ? (wi > 0 ? 1 : (wi < 0 ? -1 : 0)) : 2 * wi
                    db[i] += gscale * r[i] * slope
                }
            }
        }
        let out = pointer(value)
        out[0] = accumulate ? Float(Double(out[0]) + scale * s) : Float(scale * s)
    }

    public func kthSmallestMagnitude(of tensors: [ComputeBuffer], k: Int) throws -> Float {
        let total = try checks.kthSmallestMagnitude(of: tensors, k: k)
        // |w| as bit patterns: for non-negative floats (and NaN after infinity) their order is the
        // order of the unsigned integers, the same order the CUDA radix select uses.
        var bits = [UInt32]()
        bits.reserveCapacity(total)
        for t in tensors {
            let p = pointer(t)
            for i in 0..<t.count { bits.append(p[i].bitPattern & 0x7fff_ffff) }
        }
        return Float(bitPattern: Selection.select(&bits, k - 1))
    }
}

/// Order statistics on the host.
enum Selection {
    /// The element that would be at index `k` of `values` sorted ascending (reorders `values`):
    /// quickselect with a median-of-three pivot, then insertion sort on small ranges.
    static func select(_ values: inout [UInt32], _ k: Int) -> UInt32 {
        var lo = 0, hi = values.count - 1
        while hi - lo > 16 {
            let mid = lo + (hi - lo) / 2
            if values[mid] < values[lo] { values.swapAt(mid, lo) }
            if values[hi] < values[lo] { values.swapAt(hi, lo) }
            if values[hi] < values[mid] { values.swapAt(hi, mid) }
            let pivot = values[mid]
            var i = lo, j = hi
            while i <= j {  // Hoare partition: [lo, j] <= pivot <= [i, hi]
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return values[k] }
        }
        if lo < hi {
            for a in (lo + 1)...hi {
                let v = values[a]
                var b = a - 1
                while b >= lo && values[b] > v { values[b + 1] = values[b]; b -= 1 }
                values[b + 1] = v
            }
        }
        return values[k]
    }
}
