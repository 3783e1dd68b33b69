// The moduli penalty over one H x H block of a recurrent weight, on the worker pool: the value
// `sum R |w|^p`, its gradient and dPenalty/dR, from the element kernels of TrainingKernels.swift.
// The regularizer (Sparsity) and the CPU compute backend both sum blocks through these, in the same
// chunks and order, so they agree to the bit.

/// The per-step loops over one H x H block: the element kernels of the scalar type
/// (`BLASScalar.weightedPowerSum` and its companions; Float runs eight SIMD lanes, Double the
/// plain loops).
///
/// p = 1: value `sum R |w|`, gradient `g += scale * R * sign(w)` (sign(0) = 0);
/// p = 2: value `sum R w^2`, gradient `g += scale * 2 R w`. Values are summed in the
/// scalar type over chunks of 1024 and across chunks in Double.
@usableFromInline package enum PenaltyKernel {
    /// Chunks of `penaltyChunk` entries below which a block stays on the calling thread (16,384
    /// entries, several microseconds).
    @usableFromInline package static let minimumChunks = 16

    /// The end of the part of a block that the kernels sum in chunks of `penaltyChunk` from its
    /// start: Float's kernels run 8 lanes to the last multiple of 8 and add the rest as one tail
    /// sum; Double's sum every chunk through to the end.
    @inlinable package static func chunkedEnd<S: BLASScalar>(_: S.Type, count: Int) -> Int {
        S.self == Float.self ? count - count % 8 : count
    }

    /// `part` on the chunks of `penaltyChunk` entries up to `chunkedEnd` (on the worker pool) and
    /// on the tail, added in order from 0: the kernels' own order of additions, so the sum is the
    /// same as one call over the block, for every thread count.
    @inlinable package static func sumInChunks<S: BLASScalar>(_: S.Type, count: Int, _ part: (Int, Int) -> Double) -> Double {
        let end = chunkedEnd(S.self, count: count)
        let parts = Parallel.chunkResults(count: end, chunk: penaltyChunk, minimumChunks: minimumChunks) {
            part($0.lowerBound, $0.count)
        }
        var total = 0.0
        for p in parts { total += p }
        if end < count { total += part(end, count - end) }
        return total
    }

    /// sum_k R_k |w_k|^p for one block.
    @inlinable package static func value<S: BLASScalar>(w: UnsafePointer<S>, r: UnsafePointer<S>, count: Int, power: Int) -> Double {
        sumInChunks(S.self, count: count) { at, n in S.weightedPowerSum(w + at, weights: r + at, count: n, power: power) }
    }

    /// sum_k R_k |w_k|^p for one block, adding `scale * d/dw` of it into `gradient`.
    @inlinable package static func valueAndGradient<S: BLASScalar>(
        w: UnsafePointer<S>, gradient: UnsafeMutablePointer<S>, r: UnsafePointer<S>,
        count: Int, scale: Double, power: Int
    ) -> Double {
        sumInChunks(S.self, count: count) { at, n in
            S.weightedPowerSumAddingGradient(w + at, gradient: gradient + at, weights: r + at, count: n, scale: S(scale), power: power)
        }
    }

    /// a_k += scale * |w_k|^p (dPenalty/dR, for learned positions), in ranges on the worker pool.
    @inlinable package static func accumulateMagnitudes<S: BLASScalar>(
        w: UnsafePointer<S>, into a: UnsafeMutablePointer<Double>,
        count: Int, scale: Double, power: Int
    ) {
        Parallel.forEachChunk(count: count, minimumChunk: minimumChunks * penaltyChunk) { r in
            S.accumulatePowers(w + r.lowerBound, into: a + r.lowerBound, count: r.count, scale: scale, power: power)
        }
    }

    /// dest[k] = S(source[k]) (R's training copy).
    @inlinable package static func convert<S: BLASScalar>(_ source: UnsafePointer<Double>, into dest: UnsafeMutablePointer<S>, count: Int) {
        S.convert(source, into: dest, count: count)
    }
}
