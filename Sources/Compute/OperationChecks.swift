// The argument checks of each compute operation, in one place for every backend: a backend calls
// the function named after the operation before its own work, and gets back the sizes that work
// needs. The messages are the errors `ComputeBackend`'s callers see (ArgumentTests).
import Linalg

extension BufferChecks {
    // MARK: Memory

    /// `copy`: `source` is this backend's and `destination` holds at least as many elements.
    @inlinable func copy(_ source: ComputeBuffer<Scalar>, to destination: ComputeBuffer<Scalar>) throws {
        try own(source, "source", "copy")
        try need(destination, "destination", count: source.count, "copy")
    }

    // MARK: Dense algebra

    /// `gemm`: non-negative sizes with no overflow, every size and leading dimension a 32-bit
    /// BLAS argument, and A, B and C large enough for their (transposed) shapes.
    @inlinable func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int, c: ComputeBuffer<Scalar>, ldc: Int
    ) throws {
        let op = "gemm"
        _ = try sizes(op, ("m", m), ("n", n), ("k", k))
        try int32(op, ("m", m), ("n", n), ("k", k), ("lda", lda), ("ldb", ldb), ("ldc", ldc))
        try matrix(a, "A", rows: transA == .noTranspose ? m : k, columns: transA == .noTranspose ? k : m, ld: lda, op)
        try matrix(b, "B", rows: transB == .noTranspose ? k : n, columns: transB == .noTranspose ? n : k, ld: ldb, op)
        try matrix(c, "C", rows: m, columns: n, ld: ldc, op)
    }

    /// `addTransposedProduct`: `gemm`'s checks for `C += A^T B` (A `k x m`, B `k x n`).
    @inlinable func addTransposedProduct(
        m: Int, n: Int, k: Int, a: ComputeBuffer<Scalar>, lda: Int, b: ComputeBuffer<Scalar>, ldb: Int, c: ComputeBuffer<Scalar>, ldc: Int
    ) throws {
        try gemm(.transpose, .noTranspose, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }

    /// `transpose`: `x` and `y` each hold `rows x columns`, and are not the same memory. Returns
    /// `rows * columns`.
    @inlinable func transpose(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into y: ComputeBuffer<Scalar>) throws -> Int {
        let count = try sizes("transpose", ("rows", rows), ("columns", columns))
        try need(x, "x", count: count, "transpose")
        try need(y, "y", count: count, "transpose")
        let size = UInt64(MemoryLayout<Scalar>.stride * count)
        guard count == 0 || x.address + size <= y.address || y.address + size <= x.address else {
            throw ComputeError.invalidArgument("transpose: x and y overlap")
        }
        return count
    }

    /// `addRowVectors`: `y` holds `rows x columns`, `u` and `v` hold `columns`. Returns `rows * columns`.
    @inlinable func addRowVectors(
        _ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ u: ComputeBuffer<Scalar>, _ v: ComputeBuffer<Scalar>
    ) throws -> Int {
        let count = try sizes("addRowVectors", ("rows", rows), ("columns", columns))
        try need(y, "y", count: count, "addRowVectors")
        try need(u, "u", count: columns, "addRowVectors")
        try need(v, "v", count: columns, "addRowVectors")
        return count
    }

    /// `gatherRows` and `scatterAddRows`: `table` holds `rows x columns`, `indices` holds `count`,
    /// `rows` fits an index stored as a scalar (exact below 2^24 in Float), and `other` (the
    /// gathered or added rows) holds `count x columns`. Returns `count * columns`.
    @inlinable func rows(
        _ op: String, table: ComputeBuffer<Scalar>, rows: Int, columns: Int, indices: ComputeBuffer<Scalar>, count: Int,
        other: ComputeBuffer<Scalar>, _ otherName: String
    ) throws -> Int {
        let tableCount = try sizes(op, ("rows", rows), ("columns", columns))
        let n = try sizes(op, ("count", count), ("columns", columns))
        guard rows <= 1 << (Scalar.self == Float.self ? 24 : 53) else {
            throw ComputeError.invalidArgument("\(op): \(rows) rows cannot all be indexed by a \(Scalar.self)")
        }
        try need(table, "table", count: tableCount, op)
        try need(indices, "indices", count: count, op)
        try need(other, otherName, count: n, op)
        return n
    }

    /// `addRowVector`: `y` holds `rows x columns`, `v` holds `columns`. Returns `rows * columns`.
    @inlinable func addRowVector(_ y: ComputeBuffer<Scalar>, rows: Int, columns: Int, _ v: ComputeBuffer<Scalar>) throws -> Int {
        let count = try sizes("addRowVector", ("rows", rows), ("columns", columns))
        try need(y, "y", count: count, "addRowVector")
        try need(v, "v", count: columns, "addRowVector")
        return count
    }

    /// `addColumnSums`: `x` holds `rows x columns`, `out` holds `columns`. Returns `rows * columns`.
    @inlinable func addColumnSums(_ x: ComputeBuffer<Scalar>, rows: Int, columns: Int, into out: ComputeBuffer<Scalar>) throws -> Int {
        let count = try sizes("addColumnSums", ("rows", rows), ("columns", columns))
        try need(x, "x", count: count, "addColumnSums")
        try need(out, "out", count: columns, "addColumnSums")
        return count
    }

    /// `axpy`: `x` is this backend's and `y` holds at least as many elements.
    @inlinable func axpy(_ x: ComputeBuffer<Scalar>, _ y: ComputeBuffer<Scalar>) throws {
        try own(x, "x", "axpy")
        try need(y, "y", count: x.count, "axpy")
    }

    /// `multiplyByMask`: `x` is this backend's and `mask` holds at least as many elements.
    @inlinable func multiplyByMask(_ x: ComputeBuffer<Scalar>, mask: ComputeBuffer<Scalar>) throws {
        try own(x, "x", "multiplyByMask")
        try need(mask, "mask", count: x.count, "multiplyByMask")
    }

    // MARK: Recurrent cells

    /// `elmanBackward`: `gradient`, `extra` (when given) and `result` hold as many elements as
    /// `output`. Returns that count.
    @inlinable func elmanBackward(
        output h: ComputeBuffer<Scalar>, gradient g: ComputeBuffer<Scalar>, extra o: ComputeBuffer<Scalar>?,
        into d: ComputeBuffer<Scalar>
    ) throws -> Int {
        let op = "elmanBackward", n = h.count
        try own(h, "output", op)
        try need(g, "gradient", count: n, op)
        if let o { try need(o, "extra", count: n, op) }
        try need(d, "result", count: n, op)
        return n
    }

    /// The checks of a fused gate step `op` over `gates` gate blocks: `batch x hiddenSize` and `gates`
    /// times that without overflow; each of `gateBuffers` holds `gates * bh` elements, each of
    /// `rowBuffers` and `dOutput` (when given) `bh`, checked in that order. Returns
    /// `bh = batch * hiddenSize`.
    @inlinable func gateStep(
        _ op: String, batch: Int, hiddenSize h: Int, gates: Int, gateBuffers: [(ComputeBuffer<Scalar>, String)],
        rowBuffers: [(ComputeBuffer<Scalar>, String)], dOutput: ComputeBuffer<Scalar>? = nil
    ) throws -> Int {
        let bh = try sizes(op, ("batch", batch), ("hiddenSize", h))
        _ = try sizes(op, ("batch x hidden", bh), ("gates", gates))
        for (b, name) in gateBuffers { try need(b, name, count: gates * bh, op) }
        for (b, name) in rowBuffers { try need(b, name, count: bh, op) }
        if let dOutput { try need(dOutput, "dOutput", count: bh, op) }
        return bh
    }

    /// `lstmForward`: `gates` holds `4 bh`, the cell and hidden buffers `bh`
    /// (`bh = batch * hiddenSize`, returned).
    @inlinable func lstmForward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, hidden: ComputeBuffer<Scalar>,
        batch: Int, hiddenSize h: Int
    ) throws -> Int {
        try gateStep(
            "lstmForward", batch: batch, hiddenSize: h, gates: 4, gateBuffers: [(gates, "gates")],
            rowBuffers: [(cellPrevious, "cellPrevious"), (cell, "cell"), (hidden, "hidden")])
    }

    /// `lstmBackward`: `gates` and `dGates` hold `4 bh`, the cell, hidden and (when given) output
    /// gradients `bh` (`bh = batch * hiddenSize`, returned).
    @inlinable func lstmBackward(
        gates: ComputeBuffer<Scalar>, cellPrevious: ComputeBuffer<Scalar>, cell: ComputeBuffer<Scalar>, dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dCell: ComputeBuffer<Scalar>, dGates: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
    ) throws -> Int {
        try gateStep(
            "lstmBackward", batch: batch, hiddenSize: h, gates: 4, gateBuffers: [(gates, "gates"), (dGates, "dGates")],
            rowBuffers: [(cellPrevious, "cellPrevious"), (cell, "cell"), (dHidden, "dHidden"), (dCell, "dCell")],
            dOutput: dOutput)
    }

    /// `gruForward`: `gates` and `recurrent` hold `3 bh`, the hidden buffers and `recurrentN` `bh`
    /// (`bh = batch * hiddenSize`, returned).
    @inlinable func gruForward(
        gates: ComputeBuffer<Scalar>, recurrent: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>,
        hidden: ComputeBuffer<Scalar>,
        recurrentN: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
    ) throws -> Int {
        try gateStep(
            "gruForward", batch: batch, hiddenSize: h, gates: 3, gateBuffers: [(gates, "gates"), (recurrent, "recurrent")],
            rowBuffers: [(hiddenPrevious, "hiddenPrevious"), (hidden, "hidden"), (recurrentN, "recurrentN")])
    }

    /// `gruBackward`: `gates`, `dPre` and `dRecurrent` hold `3 bh`, the hidden buffers, `recurrentN`
    /// and (when given) `dOutput` `bh` (`bh = batch * hiddenSize`, returned).
    @inlinable func gruBackward(
        gates: ComputeBuffer<Scalar>, hiddenPrevious: ComputeBuffer<Scalar>, recurrentN: ComputeBuffer<Scalar>,
        dOutput: ComputeBuffer<Scalar>?,
        dHidden: ComputeBuffer<Scalar>, dPre: ComputeBuffer<Scalar>, dRecurrent: ComputeBuffer<Scalar>, batch: Int, hiddenSize h: Int
    ) throws -> Int {
        try gateStep(
            "gruBackward", batch: batch, hiddenSize: h, gates: 3,
            gateBuffers: [(gates, "gates"), (dPre, "dPre"), (dRecurrent, "dRecurrent")],
            rowBuffers: [(hiddenPrevious, "hiddenPrevious"), (recurrentN, "recurrentN"), (dHidden, "dHidden")],
            dOutput: dOutput)
    }

    // MARK: Losses

    /// The checks of a row loss `op`: `rows x classes` without overflow, classes positive unless
    /// there are no rows, and, when `int32Classes` (a kernel that takes classes as a 32-bit int),
    /// classes a 32-bit size; then `logits`, `targets` (`rows x classes` when `softTargets`, else
    /// `rows`), `losses` (`rows`), `argmax` (`rows`) and `gradient` (`rows x classes`), the last two
    /// when given. Returns `rows * classes`.
    /// `crossEntropy` and `softCrossEntropy`: `logits` and `gradient` (when given) hold
    /// `rows x classes`; `targets` holds `rows` class indices, or `rows x classes` soft targets.
    /// Returns `rows * classes`.
    @inlinable func rowLoss(
        _ op: String, logits: ComputeBuffer<Scalar>, targets: ComputeBuffer<Scalar>, softTargets: Bool, rows: Int, classes: Int,
        gradient: ComputeBuffer<Scalar>?, int32Classes: Bool
    ) throws -> Int {
        let count = try sizes(op, ("rows", rows), ("classes", classes))
        guard classes > 0 || rows == 0 else { throw ComputeError.invalidArgument("\(op): classes must be positive") }
        if int32Classes { try int32(op, ("classes", classes)) }
        try need(logits, "logits", count: count, op)
        try need(targets, "targets", count: softTargets ? count : rows, op)
        if let gradient { try need(gradient, "gradient", count: count, op) }
        return count
    }

    /// `squaredError`: `target` and `gradient` (when given) hold as many elements as `prediction`.
    @inlinable func squaredError(
        prediction: ComputeBuffer<Scalar>, target: ComputeBuffer<Scalar>, gradient: ComputeBuffer<Scalar>?
    ) throws {
        try own(prediction, "prediction", "squaredError")
        try need(target, "target", count: prediction.count, "squaredError")
        if let gradient { try need(gradient, "gradient", count: prediction.count, "squaredError") }
    }

    // MARK: Reductions

    /// `sum` and `sumOfSquares` (`op`): `x` is this backend's.
    @inlinable func reduction(_ x: ComputeBuffer<Scalar>, _ op: String) throws {
        try own(x, "x", op)
    }

    // MARK: Optimizers

    /// `sgdStep`: `gradients` holds as many elements as `parameters`, and so does a momentum buffer,
    /// which a non-zero momentum needs. Returns the element count and the momentum buffer to use
    /// (nil when the momentum is 0).
    @inlinable func sgdStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, momentumBuffer: ComputeBuffer<Scalar>?,
        settings: SGDSettings
    ) throws -> (count: Int, momentumBuffer: ComputeBuffer<Scalar>?) {
        let op = "sgdStep", n = parameters.count
        try own(parameters, "parameters", op)
        try need(gradients, "gradients", count: n, op)
        guard settings.momentum != 0 else { return (n, nil) }
        guard let momentumBuffer else {
            throw ComputeError.invalidArgument("\(op): momentum \(settings.momentum) needs a momentum buffer")
        }
        try need(momentumBuffer, "momentumBuffer", count: n, op)
        return (n, momentumBuffer)
    }

    /// `adamStep`: `step` counts from 1; the gradients and both moments hold as many elements as
    /// `parameters`. Returns that count.
    @inlinable func adamStep(
        parameters: ComputeBuffer<Scalar>, gradients: ComputeBuffer<Scalar>, firstMoment: ComputeBuffer<Scalar>,
        secondMoment: ComputeBuffer<Scalar>, step: Int
    ) throws -> Int {
        let op = "adamStep", n = parameters.count
        guard step >= 1 else { throw ComputeError.invalidArgument("\(op): step is \(step), counts from 1") }
        try own(parameters, "parameters", op)
        try need(gradients, "gradients", count: n, op)
        try need(firstMoment, "firstMoment", count: n, op)
        try need(secondMoment, "secondMoment", count: n, op)
        return n
    }

    // MARK: Moduli regularization and pruning

    /// `moduliPenalty`: power 1 or 2; `weights` and `gradient` (when given) hold `gates x hiddenSize^2`,
    /// `coefficients` `hiddenSize^2`. Returns `hiddenSize^2` and the weight count.
    @inlinable func moduliPenalty(
        weights: ComputeBuffer<Scalar>, coefficients: ComputeBuffer<Scalar>, gates: Int, hiddenSize h: Int,
        power: Int, gradient: ComputeBuffer<Scalar>?
    ) throws -> (hh: Int, count: Int) {
        let op = "moduliPenalty"
        let hh = try sizes(op, ("hiddenSize", h), ("hiddenSize", h))
        let count = try sizes(op, ("gates", gates), ("hiddenSize^2", hh))
        guard power == 1 || power == 2 else { throw ComputeError.invalidArgument("\(op): power is \(power), must be 1 or 2") }
        try need(weights, "weights", count: count, op)
        try need(coefficients, "coefficients", count: hh, op)
        if let gradient { try need(gradient, "gradient", count: count, op) }
        return (hh, count)
    }

    /// `kthSmallestMagnitude`: every tensor is this backend's and `k` is in 1 ... the pooled element
    /// count. Returns that count.
    @inlinable func kthSmallestMagnitude(of tensors: [ComputeBuffer<Scalar>], k: Int) throws -> Int {
        let op = "kthSmallestMagnitude"
        var total = 0
        for (i, t) in tensors.enumerated() {
            try own(t, "tensor \(i)", op)
            total += t.count
        }
        guard k >= 1 && k <= total else {
            throw ComputeError.invalidArgument("\(op): k is \(k), must be in 1 ... \(total) (the pooled element count)")
        }
        return total
    }
}
