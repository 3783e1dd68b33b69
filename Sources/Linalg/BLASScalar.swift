// One protocol over Float and Double for the BLAS routines the library uses (CBLAS, row-major).
// Reference: the CBLAS interface of OpenBLAS (cblas.h).
import COpenBLAS
import RealModule

/// Whether a BLAS operand is used as stored or transposed.
public enum Transpose: Sendable {
    case noTranspose
    case transpose

    @inlinable var cblas: CBLAS_TRANSPOSE { self == .noTranspose ? CblasNoTrans : CblasTrans }
}

/// A floating-point scalar with BLAS kernels: `Float` (training) and `Double` (gradient checks).
///
/// All matrices are row-major; leading dimensions count elements between consecutive rows.
public protocol BLASScalar: BinaryFloatingPoint, Real, SIMDScalar, Sendable, Codable
where Self.RawSignificand: FixedWidthInteger {
    /// e^x in each of 8 lanes, for the vectorized row kernels (softmax, cross-entropy).
    /// Float: a polynomial accurate to a few ulp (see `Float.exponential`); Double: libm per lane.
    static func exponential(_ x: SIMD8<Self>) -> SIMD8<Self>

    /// C = alpha * op(A) * op(B) + beta * C, with op(A) m x k, op(B) k x n, C m x n.
    static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// y = alpha * op(A) * x + beta * y, with A m x n as stored.
    static func gemv(
        _ transA: Transpose, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int)
    /// y += alpha * x.
    static func axpy(n: Int, alpha: Self, x: UnsafePointer<Self>, incx: Int, y: UnsafeMutablePointer<Self>, incy: Int)
    /// x . y.
    static func dot(n: Int, x: UnsafePointer<Self>, incx: Int, y: UnsafePointer<Self>, incy: Int) -> Self
    /// x *= alpha.
    static func scal(n: Int, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int)

    // MARK: Element kernels. Float's conformance runs concrete SIMD8<Float> code or the C kernels of
    // CSparseKernels (generic SIMD masks and selects are not lowered to vector instructions, and a
    // scalar loop does not vectorize); Double's runs the plain loops. The generic entry points
    // (`Kernels`, `CSRMatrix`, the optimizers and the moduli penalty) call these.

    /// x = max(x, 0) in place (a NaN stays NaN, -0 stays -0); see `Kernels.reluInPlace`.
    static func reluInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)
    /// `d[i] = h[i] > 0 ? g[i] + o[i] : 0`, or `g[i]` alone when `o` is nil; see `Kernels.reluBackward`.
    static func reluBackward(
        output h: UnsafePointer<Self>, gradient g: UnsafePointer<Self>, extra o: UnsafePointer<Self>?,
        into d: UnsafeMutablePointer<Self>, count: Int)
    /// `y[c * yStride + r] = x[r * xStride + c]`; see `Kernels.transpose`.
    static func transpose(
        _ x: UnsafePointer<Self>, rows: Int, columns: Int, xStride: Int,
        into y: UnsafeMutablePointer<Self>, yStride: Int)
    /// The largest of `count >= 1` values; see `Kernels.maximum`.
    static func largest(_ x: UnsafePointer<Self>, count: Int) -> Self

    /// One Adam update of `count` entries (PyTorch's formula, 1 - beta rounded from Double):
    /// `g' = g + l2 p`, `m = b1 m + c1 g'`, `v = b2 v + c2 g'^2`,
    /// `p = p decay - stepSize m / (sqrt(v) / bc2Root + eps)`.
    static func adamUpdate(
        parameters p: UnsafeMutablePointer<Self>, gradients g: UnsafeMutablePointer<Self>,
        firstMoments m: UnsafeMutablePointer<Self>, secondMoments v: UnsafeMutablePointer<Self>,
        count: Int, l2: Self, b1: Self, b2: Self, c1: Self, c2: Self, stepSize: Self,
        bc2Root: Self, eps: Self, decay: Self)

    /// `sum_k r_k |w_k|^p` (p = 1 or 2), summed in the scalar type over chunks of 1024 entries and
    /// across chunks in Double (the moduli penalty of one block).
    static func weightedPowerSum(_ w: UnsafePointer<Self>, weights r: UnsafePointer<Self>, count: Int, power: Int) -> Double
    /// `weightedPowerSum`, adding `scale` times its derivative in w into `gradient`
    /// (p = 1: `scale r sign(w)`, sign(0) = 0; p = 2: `scale 2 r w`).
    static func weightedPowerSumAddingGradient(
        _ w: UnsafePointer<Self>, gradient: UnsafeMutablePointer<Self>,
        weights r: UnsafePointer<Self>, count: Int, scale: Self,
        power: Int
    ) -> Double
    /// `a_k += scale |w_k|^p` in Double (p = 1 or 2).
    static func accumulatePowers(
        _ w: UnsafePointer<Self>, into a: UnsafeMutablePointer<Double>, count: Int,
        scale: Double, power: Int)
    /// `dest[k] = Self(source[k])`.
    static func convert(_ source: UnsafePointer<Double>, into dest: UnsafeMutablePointer<Self>, count: Int)

    /// `y[i] (+)= (A x)[i]` for the rows i in `rows` of a CSR matrix; see `CSRMatrix.multiply`.
    static func csrMultiply(
        _ a: CSRMatrix<Self>, rows: Range<Int>, _ x: UnsafePointer<Self>, into y: UnsafeMutablePointer<Self>,
        accumulate: Bool)
    /// `y[i, 0..<width] (+)= (A x[:, 0..<width])[i]` for the rows i in `rows`, with leading
    /// dimensions ldx, ldy (the gather tile of the CSR products on columns and rows).
    static func csrGatherTile(
        _ a: CSRMatrix<Self>, rows: Range<Int>, _ x: UnsafePointer<Self>, ldx: Int, width: Int,
        into y: UnsafeMutablePointer<Self>, ldy: Int, accumulate: Bool)
    /// The CSR SDDMM; see `CSRMatrix.addSampledProduct`.
    static func csrAddSampledProduct(
        _ a: CSRMatrix<Self>, _ left: UnsafePointer<Self>, _ right: UnsafePointer<Self>,
        count: Int, into g: UnsafeMutablePointer<Self>, ldg: Int,
        workspace: UnsafeMutablePointer<Self>?)
    /// `count` rows of x from row r0 transposed into a `width x ldOut` tile (lanes `count..<ldOut`
    /// already zero); see `SparseSupport.transposeTile`.
    static func transposeTile(
        _ x: UnsafePointer<Self>, ldx: Int, from r0: Int, count: Int, width: Int,
        into out: UnsafeMutablePointer<Self>, ldOut: Int)
    /// A tile written back in row layout; see `SparseSupport.addTransposedTile`.
    static func addTransposedTile(
        _ t: UnsafePointer<Self>, ldt: Int, count: Int, width: Int,
        into y: UnsafeMutablePointer<Self>, ldy: Int, from r0: Int, accumulate: Bool)
}

extension Float: BLASScalar {
    @inlinable public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        GEMMBlocks.run(transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) { m, n, a, b, c in
            cblas_sgemm(
                CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
    @inlinable public static func gemv(
        _ transA: Transpose, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
    ) {
        GEMMBlocks.runGEMV(transA, m: m, n: n, a: a, lda: lda, x: x, incx: incx, y: y, incy: incy) { m, n, a, x, y in
            cblas_sgemv(CblasRowMajor, transA.cblas, Int32(m), Int32(n), alpha, a, Int32(lda), x, Int32(incx), beta, y, Int32(incy))
        }
    }
    @inlinable public static func axpy(n: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int, y: UnsafeMutablePointer<Float>, incy: Int)
    {
        cblas_saxpy(Int32(n), alpha, x, Int32(incx), y, Int32(incy))
    }
    @inlinable public static func dot(n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int) -> Float {
        cblas_sdot(Int32(n), x, Int32(incx), y, Int32(incy))
    }
    @inlinable public static func scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int) {
        cblas_sscal(Int32(n), alpha, x, Int32(incx))
    }
}

extension Double: BLASScalar {
    @inlinable public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        GEMMBlocks.run(transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) { m, n, a, b, c in
            cblas_dgemm(
                CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
    @inlinable public static func gemv(
        _ transA: Transpose, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        GEMMBlocks.runGEMV(transA, m: m, n: n, a: a, lda: lda, x: x, incx: incx, y: y, incy: incy) { m, n, a, x, y in
            cblas_dgemv(CblasRowMajor, transA.cblas, Int32(m), Int32(n), alpha, a, Int32(lda), x, Int32(incx), beta, y, Int32(incy))
        }
    }
    @inlinable public static func axpy(
        n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int, y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        cblas_daxpy(Int32(n), alpha, x, Int32(incx), y, Int32(incy))
    }
    @inlinable public static func dot(n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int) -> Double {
        cblas_ddot(Int32(n), x, Int32(incx), y, Int32(incy))
    }
    @inlinable public static func scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int) {
        cblas_dscal(Int32(n), alpha, x, Int32(incx))
    }
}

/// Controls OpenBLAS's own thread pool. Training keeps it at one thread (`ThreadSetup`): the
/// package splits large products over its worker pool itself (`GEMMBlocks`), so that results do
/// not depend on the thread count.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every later call.
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
    /// The number of threads OpenBLAS currently uses.
    public static var count: Int { Int(openblas_get_num_threads()) }
}

/// Which of OpenBLAS's CPU-specific kernels this process runs.
///
/// Debian's OpenBLAS is built with `DYNAMIC_ARCH`: at load it reads the CPU's model and picks
/// kernels for it. A CPU it does not recognise (a virtual machine reporting a generic "Intel(R)
/// Xeon(R) Processor" model, say) gets the generic `Prescott` kernels (SSE3): on the benchmark
/// machine, an AVX-512 Xeon, sgemm then runs at about 29 GFLOP/s instead of 140 GFLOP/s with the
/// `SkylakeX` kernels (BENCHMARKS.md). OpenBLAS decides when the library loads, before any code of
/// the program runs, from the environment variable `OPENBLAS_CORETYPE`; `ProcessSetup` re-executes
/// the command-line tool with the variable set when `betterCoreType` names a better choice.
public enum BLASKernels {
    /// The kernel family OpenBLAS chose at load (e.g. "Prescott", "Haswell", "SkylakeX", "Zen").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The kernels to ask for instead of `current`, or nil to keep them: only when OpenBLAS fell
    /// back to its generic `Prescott` kernels although the CPU has AVX-512 (F, CD, BW, DQ, VL:
    /// `SkylakeX`) or AVX2 with FMA (`Haswell`). `cpuFlags` are the flags of /proc/cpuinfo, which
    /// Linux lists only when the kernel also saves the registers they use.
    public static func betterCoreType(current: String, cpuFlags: Set<String>) -> String? {
        guard current.lowercased() == "prescott" else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The flags of the first processor in `cpuinfo` (the text of /proc/cpuinfo); empty when
    /// there is no `flags` line.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].filter({ !$0.isWhitespace }) == "flags" else { continue }
            return Set(parts[1].split(separator: " ").map(String.init))
        }
        return []
    }
}

extension BLASScalar {
    /// `C = alpha op(A) op(B) + beta C` computed as a sum of products over slices of the inner
    /// dimension k (`kSlice` rows of op(A)^T / op(B) each; the first slice applies `beta`, the
    /// rest accumulate). For the weight-gradient products `dW += dY^T X`, whose k is the number of
    /// rows of a whole sequence (T * B, e.g. 10,000) while m and n are layer widths: OpenBLAS 0.3.21
    /// on the benchmark machine (AMD EPYC, Zen) runs 256 x 256 x 10,000 at about 10 GFLOP/s as one
    /// call and at about 30 GFLOP/s in slices of 128 (see BENCHMARKS.md). Results differ from one
    /// call only by rounding (a different summation order).
    @inlinable
    public static func gemmSlicedK(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, kSlice: Int = 128
    ) {
        guard k > 2 * kSlice else {
            gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        var k0 = 0
        while k0 < k {
            let kc = Swift.min(kSlice, k - k0)
            // Start of slice k0 in op(A) (m x k) and op(B) (k x n) for row-major storage.
            let aSlice = transA == .noTranspose ? a + k0 : a + k0 * lda
            let bSlice = transB == .noTranspose ? b + k0 * ldb : b + k0
            gemm(
                transA, transB, m: m, n: n, k: kc, alpha: alpha, a: aSlice, lda: lda, b: bSlice, ldb: ldb,
                beta: k0 == 0 ? beta : 1, c: c, ldc: ldc)
            k0 += kc
        }
    }
}
