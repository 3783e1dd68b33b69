// The compute operations on the CPU, in Scalar or Double: OpenBLAS (gemm, axpy, scal) and the Linalg
// kernels that the NN module's layers and optimizers and the Sparsity module's regularizer and
// pruner run too, so each formula is written once for the CPU. The reference that the CUDA backend
// is checked against; in Double, the oracle of the gradient checks.
import Foundation
import Linalg
import RealModule

/// `ComputeBackend` in host memory: buffers are host pointers, every operation runs at once on
/// the calling thread (large GEMMs in blocks on the worker pool, `GEMMBlocks`). `CPUBackend()` is
/// the Scalar backend; `CPUBackend<Double>()` runs the same kernels in Double.
public final class CPUBackend<Scalar: BLASScalar>: ComputeBackend {
    public let name: String
    /// Buffers are host memory.
    public var isHostMemory: Bool { true }
    private var allocations: [UnsafeMutablePointer<Scalar>] = []
    @usableFromInline var checks: BufferChecks<Scalar> { BufferChecks(owner: UInt(bitPattern: ObjectIdentifier(self)), backend: name) }

    /// A backend with no memory yet.
    public init() where Scalar == Float { name = "cpu" }

    /// A backend with no memory yet, in `scalar`.
    public init(_ scalar: Scalar.Type) { name = Scalar.self == Float.self ? "cpu" : "cpu (\(Scalar.self))" }

    deinit {
        for p in allocations { p.deallocate() }
    }

    /// The host pointer of a buffer of this backend.
    @usableFromInline @inline(__always)
    func pointer(_ b: ComputeBuffer<Scalar>) -> UnsafeMutablePointer<Scalar> {
        // A buffer's address is never 0: every allocation has at least one element.
        UnsafeMutablePointer<Scalar>(bitPattern: UInt(b.address)).unsafelyUnwrapped
    }

    // MARK: Memory

    public func allocate(count: Int) throws -> ComputeBuffer<Scalar> {
        guard count >= 0, count <= Int.max / 8 else {
            throw ComputeError.invalidArgument("allocate: cannot allocate \(count) elements")
        }
        let p = UnsafeMutablePointer<Scalar>.allocate(capacity: max(count, 1))
        // Zero bytes are the scalar 0 (IEEE floats): one memset, not a generic per-element loop.
        memset(p, 0, max(count, 1) * MemoryLayout<Scalar>.stride)
        allocations.append(p)
        return ComputeBuffer(owner: checks.owner, address: UInt64(UInt(bitPattern: p)), count: count)
    }

    public func release(_ buffer: ComputeBuffer<Scalar>) throws {
        guard buffer.owner == checks.owner, let k = allocations.firstIndex(where: { UInt64(UInt(bitPattern: $0)) == buffer.address })
        else { throw ComputeError.invalidArgument("release: the buffer is not an allocation of this backend") }
        allocations.remove(at: k).deallocate()
    }

    /// A buffer over host memory this backend did not allocate (a parameter store's tensors, an
    /// optimizer's moments), without a copy. The memory must stay allocated, and in place, while
    /// the buffer is used.
    public func buffer(wrapping memory: UnsafeMutableBufferPointer<Scalar>) throws -> ComputeBuffer<Scalar> {
        guard let base = memory.baseAddress, memory.count > 0 else { return try allocate(count: 0) }
        return ComputeBuffer(owner: checks.owner, address: UInt64(UInt(bitPattern: base)), count: memory.count)
    }

    /// A buffer over `count` elements of host memory at `pointer`, without a copy (a layer's
    /// matrices, for the operations of its steps). The memory must stay allocated while the buffer
    /// is used; an operation that writes the buffer writes that memory.
    @inlinable public func buffer(at pointer: UnsafePointer<Scalar>, count: Int) -> ComputeBuffer<Scalar> {
        ComputeBuffer(owner: checks.owner, address: UInt64(UInt(bitPattern: pointer)), count: count)
    }

    /// A buffer over host memory (a matrix's storage), without a copy; see `buffer(at:count:)`.
    @inlinable public func buffer(over memory: UnsafeBufferPointer<Scalar>) -> ComputeBuffer<Scalar> {
        // An empty buffer gets an aligned address that is never read (no operation touches 0 elements).
        buffer(at: memory.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Scalar>.alignment).unsafelyUnwrapped, count: memory.count)
    }

    /// A buffer over host memory, without a copy; see `buffer(at:count:)`.
    @inlinable public func buffer(over memory: UnsafeMutableBufferPointer<Scalar>) -> ComputeBuffer<Scalar> {
        buffer(over: UnsafeBufferPointer(memory))
    }

    @inlinable public func upload(_ source: UnsafeBufferPointer<Scalar>, to destination: ComputeBuffer<Scalar>) throws {
        try checks.need(destination, "destination", count: source.count, "upload")
        guard let base = source.baseAddress, source.count > 0 else { return }
        pointer(destination).update(from: base, count: source.count)
    }

    @inlinable public func download(_ source: ComputeBuffer<Scalar>, into destination: UnsafeMutableBufferPointer<Scalar>) throws {
        try checks.need(source, "source", count: destination.count, "download")
        guard let base = destination.baseAddress, destination.count > 0 else { return }
        base.update(from: pointer(source), count: destination.count)
    }

    @inlinable public func copy(_ source: ComputeBuffer<Scalar>, to destination: ComputeBuffer<Scalar>) throws {
        try checks.copy(source, to: destination)
        pointer(destination).update(from: pointer(source), count: source.count)  // memmove semantics
    }

    @inlinable public func fill(_ buffer: ComputeBuffer<Scalar>, with value: Scalar) throws {
        try checks.own(buffer, "buffer", "fill")
        pointer(buffer).update(repeating: value, count: buffer.count)
    }

    @inlinable public func synchronize() throws {}

    // MARK: Dense algebra

    @inlinable public func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Scalar,
        a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int, beta: Scalar, c: ComputeBuffer<Scalar>, ldc: Int
    ) throws {
        try checks.gemm(transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        guard m > 0 && n > 0 else { return }
        if k == 0 {  // C = beta C (BLAS leaves this case to the implementation's care)
            let pc = pointer(c)
            for r in 0..<m { for j in 0..<n { pc[r * ldc + j] = beta == 0 ? 0 : beta * pc[r * ldc + j] } }
            return
        }
        Scalar.gemm(
            transA, transB, m: m, n: n, k: k, alpha: alpha, a: pointer(a), lda: lda, b: pointer(b), ldb: ldb,
            beta: beta, c: pointer(c), ldc: ldc)
    }

    @inlinable public func addTransposedProduct(
        m: Int, n: Int, k: Int, a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int, c: ComputeBuffer<Scalar>, ldc: Int
    ) throws {
        try checks.addTransposedProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        guard m > 0 && n > 0 && k > 0 else { return }
        Scalar.gemmSlicedK(
            .transpose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: pointer(a), lda: lda, b: pointer(b), ldb: ldb,
            beta: 1, c: pointer(c), ldc: ldc)
    }

    @inlinable public func transpose(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into y: ComputeBuffer<Scalar>) throws {
        guard try checks.transpose(x, rows: rows, columns: columns, into: y) > 0 else { return }
        Kernels.transpose(pointer(x), rows: rows, columns: columns, xStride: columns, into: pointer(y), yStride: rows)
    }

    @inlinable public func addRowVectors(
        _ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ u: ComputeBuffer<Scalar>, _ v: ComputeBuffer<Scalar>
    ) throws {
        _ = try checks.addRowVectors(y, rows: rows, columns: columns, u, v)
        Kernels.addRowVectors(pointer(y), rows: rows, columns: columns, pointer(u), pointer(v))
    }

    @inlinable public func gatherRows(
        _ table: ComputeBuffer<Scalar>, rows: Int, columns: Int, indices: ComputeBuffer<Scalar>, count: Int,
        into y: ComputeBuffer<Scalar>
    ) throws {
        _ = try checks.rows("gatherRows", table: table, rows: rows, columns: columns, indices: indices, count: count, other: y, "y")
        let (t, ix, out) = (pointer(table), pointer(indices), pointer(y))
        for n in 0..<count {
            let row = out + n * columns
            if let i = Self.rowIndex(ix[n], rows: rows) {
                row.update(from: t + i * columns, count: columns)
            } else {
                row.update(repeating: .nan, count: columns)
            }
        }
    }

    @inlinable public func scatterAddRows(
        _ x: ComputeBuffer<Scalar>, indices: ComputeBuffer<Scalar>, count: Int, into table: ComputeBuffer<Scalar>, rows: Int,
        columns: Int
    ) throws {
        _ = try checks.rows("scatterAddRows", table: table, rows: rows, columns: columns, indices: indices, count: count, other: x, "x")
        let (t, ix, src) = (pointer(table), pointer(indices), pointer(x))
        for n in 0..<count {
            guard let i = Self.rowIndex(ix[n], rows: rows) else { continue }
            let from = src + n * columns, to = t + i * columns
            for j in 0..<columns { to[j] += from[j] }
        }
    }

    /// The row an index stored as a scalar names, or nil when it names none.
    @inlinable static func rowIndex(_ value: Scalar, rows: Int) -> Int? {
        guard value >= 0 && value < Scalar(rows), let i = Int(exactly: value) else { return nil }
        return i
    }

    @inlinable public func addRowVector(_ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ v: ComputeBuffer<Scalar>) throws {
        _ = try checks.addRowVector(y, rows: rows, columns: columns, v)
        Kernels.addRowVector(pointer(y), rows: rows, columns: columns, pointer(v))
    }

    @inlinable public func addColumnSums(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into out: ComputeBuffer<Scalar>) throws {
        _ = try checks.addColumnSums(x, rows: rows, columns: columns, into: out)
        Kernels.addColumnSums(pointer(x), rows: rows, columns: columns, into: pointer(out))
    }

    @inlinable public func axpy(alpha: Scalar, _ x: ComputeBuffer<Scalar>, _ y: ComputeBuffer<Scalar>) throws {
        try checks.axpy(x, y)
        Scalar.axpy(n: x.count, alpha: alpha, x: pointer(x), incx: 1, y: pointer(y), incy: 1)
    }

    @inlinable public func scale(_ x: ComputeBuffer<Scalar>, by factor: Scalar) throws {
        try checks.own(x, "x", "scale")
        Scalar.scal(n: x.count, alpha: factor, x: pointer(x), incx: 1)
    }

    @inlinable public func multiplyByMask(_ x: ComputeBuffer<Scalar>, mask: ComputeBuffer<Scalar>) throws {
        try checks.multiplyByMask(x, mask: mask)
        Kernels.multiplyInPlace(pointer(x), by: pointer(mask), count: x.count)
    }

    // MARK: Recurrent cells

    @inlinable public func elmanForward(_ activation: CellActivation, _ x: ComputeBuffer<Scalar>) throws {
        try checks.own(x, "x", "elmanForward")
        switch activation {
        case .relu: Kernels.reluInPlace(pointer(x), count: x.count)
        case .tanh: Kernels.tanhInPlace(pointer(x), count: x.count)
        }
    }

    @inlinable public func elmanBackward(
        _ activation: CellActivation, output h: ComputeBuffer<Scalar>, gradient g: ComputeBuffer<Scalar>,
        extra o: ComputeBuffer<Scalar>?, into d: ComputeBuffer<Scalar>
    ) throws {
        let n = try checks.elmanBackward(output: h, gradient: g, extra: o, into: d)
        let po = o.map { UnsafePointer(pointer($0)) }
        switch activation {
        case .relu: Kernels.reluBackward(output: pointer(h), gradient: pointer(g), extra: po, into: pointer(d), count: n)
        case .tanh: Kernels.tanhBackward(output: pointer(h), gradient: pointer(g), extra: po, into: pointer(d), count: n)
        }
    }

    @inlinable public func lstmForward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, hidden: ComputeBuffer<Scalar>,
        batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.lstmForward(gates: gates, cellPrevious: cellPrevious, cell: cell, hidden: hidden, batch: batch, hiddenSize: h)
        Kernels.lstmCellForward(
            gates: pointer(gates), cellPrevious: pointer(cellPrevious), cell: pointer(cell), hidden: pointer(hidden),
            batch: batch, hiddenSize: h)
    }

    @inlinable public func lstmBackward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dCell: ComputeBuffer<Scalar>, dGates: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.lstmBackward(
            gates: gates, cellPrevious: cellPrevious, cell: cell, dOutput: dOutput, dHidden: dHidden,
            dCell: dCell, dGates: dGates, batch: batch, hiddenSize: h)
        Kernels.lstmCellBackward(
            gates: pointer(gates), cellPrevious: pointer(cellPrevious), cell: pointer(cell),
            dOutput: dOutput.map { UnsafePointer(pointer($0)) }, dHidden: pointer(dHidden), dCell: pointer(dCell),
            dGates: pointer(dGates), batch: batch, hiddenSize: h)
    }

    @inlinable public func gruForward(
        gates: ComputeBuffer<Scalar>, recurrent: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>,
        hidden: ComputeBuffer<Scalar>,
        recurrentN: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
    ) throws {
        _ = try checks.gruForward(
            gates: gates, recurrent: recurrent, hiddenPrevious: hiddenPrevious, hidden: hidden,
            recurrentN: recurrentN, batch: batch, hiddenSize: h)
        Kernels.gruCellForward(
            gates: pointer(gates), recurrent: pointer(recurrent), hiddenPrevious: pointer(hiddenPrevious),
            hidden: pointer(hidden), recurrentN: pointer(recurrentN), batch: batch, hiddenSize: h)
    }

    @inlinable public func gruBackward(
        gates: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>, recurrentN: ComputeBuffer<Scalar>,
        dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dPre: ComputeBuffer<Scalar>, dRecurrent: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
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

    /// Rows on the worker pool, each loss in Double; the losses added in row order on this thread.
    @inlinable public func crossEntropy(
        logits: ComputeBuffer<Scalar>, targets: ComputeBuffer<Scalar>, rows: Int, classes: Int, scale: Scalar,
        gradient: ComputeBuffer<Scalar>?
    ) throws -> (loss: Double, correct: Int) {
        _ = try checks.rowLoss(
            "crossEntropy", logits: logits, targets: targets, softTargets: false, rows: rows, classes: classes, gradient: gradient,
            int32Classes: false)
        let x = pointer(logits), t = pointer(targets), d = gradient.map { pointer($0) }
        return withUnsafeTemporaryAllocation(of: (Double, Bool).self, capacity: max(1, rows)) { results in
            let l = results.baseAddress!
            Parallel.forEachChunk(count: rows, minimumChunk: max(1, Parallel.minimumElementwiseChunk / max(1, classes))) { range in
                for r in range {
                    let row = x + r * classes, drow = d.map { $0 + r * classes }
                    let target = t[r]
                    if target >= 0, target < Scalar(classes), target.rounded(.towardZero) == target {
                        let (loss, best) = Kernels.crossEntropyRow(row, count: classes, target: Int(target), gradient: drow, scale: scale)
                        (l + r).initialize(to: (loss, best == Int(target)))
                    } else {
                        drow?.update(repeating: .nan, count: classes)
                        (l + r).initialize(to: (.nan, false))
                    }
                }
            }
            var total = 0.0, correct = 0
            for r in 0..<rows {
                total += l[r].0
                if l[r].1 { correct += 1 }
            }
            return (total, correct)
        }
    }

    /// Rows on the worker pool, each loss in Double; the losses added in row order on this thread.
    @inlinable public func softCrossEntropy(
        logits: ComputeBuffer<Scalar>, targets: ComputeBuffer<Scalar>, rows: Int, classes: Int, scale: Scalar,
        gradient: ComputeBuffer<Scalar>?
    ) throws -> Double {
        _ = try checks.rowLoss(
            "softCrossEntropy", logits: logits, targets: targets, softTargets: true, rows: rows, classes: classes, gradient: gradient,
            int32Classes: false)
        let x = pointer(logits), p = pointer(targets), d = gradient.map { pointer($0) }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, rows)) { losses in
            let l = losses.baseAddress!
            Parallel.forEachChunk(count: rows, minimumChunk: max(1, Parallel.minimumElementwiseChunk / max(1, classes))) { range in
                for r in range {
                    l[r] = Kernels.softCrossEntropyRow(
                        x + r * classes, p + r * classes, count: classes, gradient: d.map { $0 + r * classes }, scale: scale)
                }
            }
            var total = 0.0
            for r in 0..<rows { total += l[r] }
            return total
        }
    }

    /// One pass on this thread, the sum in Double in element order.
    @inlinable public func squaredError(
        prediction: ComputeBuffer<Scalar>, target: ComputeBuffer<Scalar>, scale: Scalar, gradient: ComputeBuffer<Scalar>?
    ) throws -> Double {
        try checks.squaredError(prediction: prediction, target: target, gradient: gradient)
        let (p, t, d) = (pointer(prediction), pointer(target), gradient.map { pointer($0) })
        var sum = 0.0
        for i in 0..<prediction.count {
            let e = p[i] - t[i]
            sum += Double(e) * Double(e)
            d?[i] = scale * e
        }
        return sum
    }

    // MARK: Reductions

    @inlinable public func sum(_ x: ComputeBuffer<Scalar>) throws -> Double {
        try checks.reduction(x, "sum")
        let p = pointer(x)
        var s = 0.0
        for i in 0..<x.count { s += Double(p[i]) }
        return s
    }

    @inlinable public func sumOfSquares(_ x: ComputeBuffer<Scalar>) throws -> Double {
        try checks.reduction(x, "sumOfSquares")
        return Kernels.sumOfSquares(UnsafePointer(pointer(x)), count: x.count)
    }

    // MARK: Optimizers

    @inlinable public func sgdStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, momentumBuffer: ComputeBuffer<Scalar>?,
        settings: SGDSettings, firstStep: Bool
    ) throws {
        let (n, momentum) = try checks.sgdStep(
            parameters: parameters, gradients: gradients, momentumBuffer: momentumBuffer,
            settings: settings)
        Kernels.sgdUpdate(
            parameters: pointer(parameters), gradients: pointer(gradients), momentumBuffer: momentum.map { pointer($0) },
            count: n, learningRate: Scalar(settings.learningRate), weightDecay: Scalar(settings.weightDecay),
            momentum: Scalar(settings.momentum), oneMinusDampening: Scalar(1 - settings.dampening),
            nesterov: settings.nesterov, firstStep: firstStep)
    }

    @inlinable public func adamStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, firstMoment: ComputeBuffer<Scalar>,
        secondMoment: ComputeBuffer<Scalar>, settings: AdamSettings, step: Int
    ) throws {
        let n = try checks.adamStep(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment,
            secondMoment: secondMoment, step: step)
        let k = settings.constants(step: step, as: Scalar.self)
        let (p, g, m, v) = (pointer(parameters), pointer(gradients), pointer(firstMoment), pointer(secondMoment))
        // Ranges on the worker pool: each entry's update is the same wherever it runs.
        Parallel.forEachChunk(count: n, minimumChunk: Parallel.minimumElementwiseChunk) { r in
            let at = r.lowerBound
            Scalar.adamUpdate(
                parameters: p + at, gradients: g + at, firstMoments: m + at, secondMoments: v + at, count: r.count,
                l2: k.l2, b1: k.b1, b2: k.b2, c1: k.c1, c2: k.c2, stepSize: k.stepSize, bc2Root: k.bc2Root,
                eps: k.eps, decay: k.decay)
        }
    }

    // MARK: Moduli regularization and pruning

    @inlinable public func moduliPenalty(
        weights: ComputeBuffer<Scalar>, coefficients: ComputeBuffer<Scalar>, gates: Int, hiddenSize h: Int,
        lambda: Double, power: Int, gradient: ComputeBuffer<Scalar>?
    ) throws -> Double {
        let (hh, count) = try checks.moduliPenalty(
            weights: weights, coefficients: coefficients, gates: gates, hiddenSize: h, power: power, gradient: gradient)
        let w = pointer(weights), r = UnsafePointer(pointer(coefficients)), d = gradient.map { pointer($0) }
        let scale = count == 0 ? 0 : lambda / Double(count)
        var s = 0.0
        for g in 0..<gates {
            let wb = UnsafePointer(w + g * hh)
            if let d {
                s += PenaltyKernel.valueAndGradient(w: wb, gradient: d + g * hh, r: r, count: hh, scale: scale, power: power)
            } else {
                s += PenaltyKernel.value(w: wb, r: r, count: hh, power: power)
            }
        }
        return scale * s
    }

    @inlinable public func kthSmallestMagnitude(of tensors: [ComputeBuffer<Scalar>], k: Int) throws -> Scalar {
        let total = try checks.kthSmallestMagnitude(of: tensors, k: k)
        // |w| as bit patterns (exponent and significand, the sign dropped): for non-negative floats
        // (and NaN after infinity) their order is the order of the unsigned integers, the same
        // order the CUDA radix select uses.
        let significandBits = UInt64(Scalar.significandBitCount)
        var bits = [UInt64]()
        bits.reserveCapacity(total)
        for t in tensors {
            let p = pointer(t)
            for i in 0..<t.count {
                bits.append(UInt64(p[i].exponentBitPattern) << significandBits | UInt64(p[i].significandBitPattern))
            }
        }
        let selected = OrderStatistics.select(&bits, k - 1)
        return Scalar(
            sign: .plus, exponentBitPattern: Scalar.RawExponent(selected >> significandBits),
            significandBitPattern: Scalar.RawSignificand(selected & (1 << significandBits - 1)))
    }
}
