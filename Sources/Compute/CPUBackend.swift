// The compute operations on the CPU: OpenBLAS (`Float.gemm`, axpy, scal) and the Linalg kernels that
// the NN module's layers and optimizers and the Sparsity module's regularizer and pruner run too,
// so each formula is written once for the CPU. The reference that the CUDA backend is checked against.
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
        Float.axpy(n: x.count, alpha: alpha, x: pointer(x), incx: 1, y: pointer(y), incy: 1)
    }

    public func scale(_ x: ComputeBuffer, by factor: Float) throws {
        try checks.own(x, "x", "scale")
        Float.scal(n: x.count, alpha: factor, x: pointer(x), incx: 1)
    }

    public func multiplyByMask(_ x: ComputeBuffer, mask: ComputeBuffer) throws {
        try checks.multiplyByMask(x, mask: mask)
        Kernels.multiplyInPlace(pointer(x), by: pointer(mask), count: x.count)
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
        Kernels.lstmCellForward(
            gates: pointer(gates), cellPrevious: pointer(cellPrevious), cell: pointer(cell), hidden: pointer(hidden),
            batch: batch, hiddenSize: h)
    }

    public func lstmBackward(
        gates: ComputeBuffer, cellPrevious: ComputeBuffer, cell: ComputeBuffer, dOutput: ComputeBuffer?,
        dHidden: ComputeBuffer, dCell: ComputeBuffer, dGates: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.lstmBackward(
            gates: gates, cellPrevious: cellPrevious, cell: cell, dOutput: dOutput, dHidden: dHidden,
            dCell: dCell, dGates: dGates, batch: batch, hiddenSize: h)
        Kernels.lstmCellBackward(
            gates: pointer(gates), cellPrevious: pointer(cellPrevious), cell: pointer(cell),
            dOutput: dOutput.map { UnsafePointer(pointer($0)) }, dHidden: pointer(dHidden), dCell: pointer(dCell),
            dGates: pointer(dGates), batch: batch, hiddenSize: h)
    }

    public func gruForward(
        gates: ComputeBuffer, recurrent: ComputeBuffer, hiddenPrevious: ComputeBuffer, hidden: ComputeBuffer,
        recurrentN: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.gruForward(
            gates: gates, recurrent: recurrent, hiddenPrevious: hiddenPrevious, hidden: hidden,
            recurrentN: recurrentN, batch: batch, hiddenSize: h)
        Kernels.gruCellForward(
            gates: pointer(gates), recurrent: pointer(recurrent), hiddenPrevious: pointer(hiddenPrevious),
            hidden: pointer(hidden), recurrentN: pointer(recurrentN), batch: batch, hiddenSize: h)
    }

    public func gruBackward(
        gates: ComputeBuffer, hiddenPrevious: ComputeBuffer, recurrentN: ComputeBuffer, dOutput: ComputeBuffer?,
        dHidden: ComputeBuffer, dPre: ComputeBuffer, dRecurrent: ComputeBuffer, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.gruBackward(
            gates: gates, hiddenPrevious: hiddenPrevious, recurrentN: recurrentN, dOutput: dOutput,
            dHidden: dHidden, dPre: dPre, dRecurrent: dRecurrent, batch: batch, hiddenSize: h)
        Kernels.gruCellBackward(
            gates: pointer(gates), hiddenPrevious: pointer(hiddenPrevious), recurrentN: pointer(recurrentN),
            dOutput: dOutput.map { UnsafePointer(pointer($0)) }, dHidden: pointer(dHidden), dPre: pointer(dPre),
            dRecurrent: pointer(dRecurrent), batch: batch, hiddenSize: h)
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
        Kernels.sgdUpdate(
            parameters: pointer(parameters), gradients: pointer(gradients), momentumBuffer: momentum.map { pointer($0) },
            count: n, learningRate: Float(settings.learningRate), weightDecay: Float(settings.weightDecay),
            momentum: Float(settings.momentum), oneMinusDampening: Float(1 - settings.dampening),
            nesterov: settings.nesterov, firstStep: firstStep)
    }

    public func adamStep(
        parameters: ComputeBuffer, gradients: ComputeBuffer, firstMoment: ComputeBuffer,
        secondMoment: ComputeBuffer, settings: AdamSettings, step: Int
    ) throws {
        let n = try checks.adamStep(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment,
            secondMoment: secondMoment, step: step)
        let k = settings.constants(step: step)
        Float.adamUpdate(
            parameters: pointer(parameters), gradients: pointer(gradients), firstMoments: pointer(firstMoment),
            secondMoments: pointer(secondMoment), count: n, l2: k.l2, b1: k.b1, b2: k.b2, c1: k.c1, c2: k.c2,
            stepSize: k.stepSize, bc2Root: k.bc2Root, eps: k.eps, decay: k.decay)
    }

    // MARK: Moduli regularization and pruning

    public func moduliPenalty(
        weights: ComputeBuffer, coefficients: ComputeBuffer, gates: Int, hiddenSize h: Int,
        lambda: Float, power: Int, value: ComputeBuffer, accumulate: Bool, gradient: ComputeBuffer?
    ) throws {
        let (hh, count) = try checks.moduliPenalty(
            weights: weights, coefficients: coefficients, gates: gates, hiddenSize: h,
            power: power, value: value, gradient: gradient)
        let w = pointer(weights), r = UnsafePointer(pointer(coefficients)), d = gradient.map { pointer($0) }
        let scale = count == 0 ? 0 : Double(lambda) / Double(count)
        var s = 0.0
        for g in 0..<gates {
            let wb = UnsafePointer(w + g * hh)
            if let d {
                s += PenaltyKernel.valueAndGradient(w: wb, gradient: d + g * hh, r: r, count: hh, scale: scale, power: power)
            } else {
                s += PenaltyKernel.value(w: wb, r: r, count: hh, power: power)
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
        return Float(bitPattern: OrderStatistics.select(&bits, k - 1))
    }
}
