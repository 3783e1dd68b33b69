// The CUDA C sources of the CUDA backend's kernels, one per operation, compiled by NVRTC when
// first used. Every source is the prelude (shared device helpers) followed by its kernels. The
// formulas are those of CPUBackend, written in the same order of Float operations; with
// --fmad=false (no fused multiply-add) the optimizer updates and masks round exactly as on the CPU.

/// One kernel source: an operation's kernels.
public struct CUDAKernelSource: Sendable, Hashable {
    /// The operation, and the NVRTC program name.
    public let name: String
    /// The `extern "C"` entry points it defines.
    public let entryPoints: [String]
    /// The kernels' code (without the prelude).
    public let body: String

    /// The full source handed to NVRTC: the prelude, then the body.
    public var source: String { CUDAKernelSource.prelude + body }

    /// Device helpers every source includes: the grid-stride loop, a stable logistic function,
    /// and deterministic block reductions (warp shuffles, then one warp over the warp results;
    /// the result is broadcast to every thread). Blocks must be a multiple of 32 threads.
    public static let prelude = #"""
        // moduli compute kernels (Sources/Compute/CUDA/CUDAKernels.swift)
        typedef long long i64;
        #define MODULI_FOR_EACH(i, n) \
            for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)
        #define MODULI_NAN __int_as_float(0x7fc00000)
        #define MODULI_NEG_INF __int_as_float(0xff800000)

        __device__ __forceinline__ float moduli_sigmoid(float x) {
            if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
            const float e = expf(x);
            return e / (1.0f + e);
        }

        template <typename T> struct ModuliSum { __device__ static T apply(T a, T b) { return a + b; } };
        template <typename T> struct ModuliMax { __device__ static T apply(T a, T b) { return a > b ? a : b; } };
        template <typename T> struct ModuliMin { __device__ static T apply(T a, T b) { return a < b ? a : b; } };

        template <typename Op, typename T> __device__ T moduli_block_reduce(T v, T identity) {
            __shared__ T warpResults[32];
            __shared__ T total;
            for (int o = 16; o > 0; o >>= 1) v = Op::apply(v, __shfl_down_sync(0xffffffffu, v, o));
            const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
            __syncthreads();  // earlier readers of total are done
            if (lane == 0) warpResults[warp] = v;
            __syncthreads();
            if (warp == 0) {
                v = lane < warps ? warpResults[lane] : identity;
                for (int o = 16; o > 0; o >>= 1) v = Op::apply(v, __shfl_down_sync(0xffffffffu, v, o));
                if (lane == 0) total = v;
            }
            __syncthreads();
            return total;
        }

        """#

    /// y[r, c] += v[c].
    public static let addRowVector = CUDAKernelSource(
        name: "add_row_vector", entryPoints: ["moduli_add_row_vector"],
        body: #"""
            extern "C" __global__ void moduli_add_row_vector(float* y, const float* v, i64 rows, i64 columns) {
                MODULI_FOR_EACH(i, rows * columns) y[i] += v[i % columns];
            }
            """#)

    /// y[r, c] += u[c] + v[c], added left to right as on the CPU.
    public static let addRowVectors = CUDAKernelSource(
        name: "add_row_vectors", entryPoints: ["moduli_add_row_vectors"],
        body: #"""
            extern "C" __global__ void moduli_add_row_vectors(float* y, const float* u, const float* v, i64 rows, i64 columns) {
                MODULI_FOR_EACH(i, rows * columns) {
                    const i64 c = i % columns;
                    y[i] = y[i] + u[c] + v[c];
                }
            }
            """#)

    /// Embedding rows: the gather per element; the scatter-add one thread per column, walking the
    /// rows in order, so that repeated indices add up in the CPU's order (no atomics).
    public static let rows = CUDAKernelSource(
        name: "rows", entryPoints: ["moduli_gather_rows", "moduli_scatter_add_rows"],
        body: #"""
            __device__ __forceinline__ i64 moduli_row_index(float v, i64 rows) {
                if (!(v >= 0.0f && v < (float)rows)) return -1;
                const i64 i = (i64)v;
                return (float)i == v ? i : -1;
            }
            extern "C" __global__ void moduli_gather_rows(const float* table, const float* indices, float* y, i64 rows, i64 columns,
                                                          i64 count) {
                MODULI_FOR_EACH(k, count * columns) {
                    const i64 n = k / columns, j = k % columns, i = moduli_row_index(indices[n], rows);
                    y[k] = i < 0 ? MODULI_NAN : table[i * columns + j];
                }
            }
            extern "C" __global__ void moduli_scatter_add_rows(const float* x, const float* indices, float* table, i64 rows,
                                                               i64 columns, i64 count) {
                MODULI_FOR_EACH(j, columns) {
                    for (i64 n = 0; n < count; ++n) {
                        const i64 i = moduli_row_index(indices[n], rows);
                        if (i >= 0) table[i * columns + j] += x[n * columns + j];
                    }
                }
            }
            """#)

    /// y[c, r] = x[r, c] through 32 x 32 tiles in shared memory (padded against bank conflicts),
    /// so that both the reads and the writes are coalesced. Blocks of 32 x 8 threads.
    public static let transpose = CUDAKernelSource(
        name: "transpose", entryPoints: ["moduli_transpose"],
        body: #"""
            extern "C" __global__ void moduli_transpose(const float* x, float* y, i64 rows, i64 columns) {
                __shared__ float tile[32][33];
                const i64 tilesAcross = (columns + 31) / 32;
                const i64 r0 = (i64)(blockIdx.x / tilesAcross) * 32, c0 = (i64)(blockIdx.x % tilesAcross) * 32;
                for (int k = threadIdx.y; k < 32; k += 8) {
                    const i64 r = r0 + k, c = c0 + threadIdx.x;
                    if (r < rows && c < columns) tile[k][threadIdx.x] = x[r * columns + c];
                }
                __syncthreads();
                for (int k = threadIdx.y; k < 32; k += 8) {
                    const i64 c = c0 + k, r = r0 + threadIdx.x;
                    if (r < rows && c < columns) y[c * rows + r] = tile[threadIdx.x][k];
                }
            }
            """#)

    /// out[c] += sum_r x[r, c]: blocks of 32 columns x 8 row strides, summed in a fixed order.
    public static let addColumnSums = CUDAKernelSource(
        name: "add_column_sums", entryPoints: ["moduli_add_column_sums"],
        body: #"""
            extern "C" __global__ void moduli_add_column_sums(const float* x, float* out, i64 rows, i64 columns) {
                __shared__ float partial[8][33];
                const i64 c = (i64)blockIdx.x * 32 + threadIdx.x;
                float s = 0.0f;
                if (c < columns) for (i64 r = threadIdx.y; r < rows; r += 8) s += x[r * columns + c];
                partial[threadIdx.y][threadIdx.x] = s;
                __syncthreads();
                if (threadIdx.y == 0 && c < columns) {
                    float t = 0.0f;
                    for (int k = 0; k < 8; ++k) t += partial[k][threadIdx.x];
                    out[c] += t;
                }
            }
            """#)

    /// y += alpha x.
    public static let axpy = CUDAKernelSource(
        name: "axpy", entryPoints: ["moduli_axpy"],
        body: #"""
            extern "C" __global__ void moduli_axpy(float* y, const float* x, float alpha, i64 n) {
                MODULI_FOR_EACH(i, n) y[i] += alpha * x[i];
            }
            """#)

    /// x *= factor.
    public static let scale = CUDAKernelSource(
        name: "scale", entryPoints: ["moduli_scale"],
        body: #"""
            extern "C" __global__ void moduli_scale(float* x, float factor, i64 n) {
                MODULI_FOR_EACH(i, n) x[i] *= factor;
            }
            """#)

    /// x *= mask.
    public static let multiplyByMask = CUDAKernelSource(
        name: "multiply_by_mask", entryPoints: ["moduli_multiply_by_mask"],
        body: #"""
            extern "C" __global__ void moduli_multiply_by_mask(float* x, const float* mask, i64 n) {
                MODULI_FOR_EACH(i, n) x[i] *= mask[i];
            }
            """#)

    /// x = relu(x) (NaN and -0 kept) or tanh(x).
    public static let elmanForward = CUDAKernelSource(
        name: "elman_forward", entryPoints: ["moduli_elman_forward"],
        body: #"""
            extern "C" __global__ void moduli_elman_forward(float* x, i64 n, int relu) {
                MODULI_FOR_EACH(i, n) {
                    const float v = x[i];
                    x[i] = relu ? (v < 0.0f ? 0.0f : v) : tanhf(v);
                }
            }
            """#)

    /// d = relu'(h) (g + o) or (g + o)(1 - h^2); o may be null.
    public static let elmanBackward = CUDAKernelSource(
        name: "elman_backward", entryPoints: ["moduli_elman_backward"],
        body: #"""
            extern "C" __global__ void moduli_elman_backward(const float* h, const float* g, const float* o, float* d, i64 n, int relu) {
                MODULI_FOR_EACH(i, n) {
                    const float gi = o ? g[i] + o[i] : g[i];
                    d[i] = relu ? (h[i] > 0.0f ? gi : 0.0f) : gi * (1.0f - h[i] * h[i]);
                }
            }
            """#)

    /// The LSTM step, one thread per (sample, unit).
    public static let lstmForward = CUDAKernelSource(
        name: "lstm_forward", entryPoints: ["moduli_lstm_forward"],
        body: #"""
            extern "C" __global__ void moduli_lstm_forward(float* gates, const float* cPrev, float* c, float* h, i64 batch, i64 hidden) {
                MODULI_FOR_EACH(idx, batch * hidden) {
                    const i64 n = idx / hidden, j = idx % hidden;
                    float* row = gates + n * 4 * hidden;
                    const float ig = moduli_sigmoid(row[j]), fg = moduli_sigmoid(row[hidden + j]);
                    const float gg = tanhf(row[2 * hidden + j]), og = moduli_sigmoid(row[3 * hidden + j]);
                    row[j] = ig; row[hidden + j] = fg; row[2 * hidden + j] = gg; row[3 * hidden + j] = og;
                    const float cc = fg * cPrev[idx] + ig * gg;
                    c[idx] = cc;
                    h[idx] = og * tanhf(cc);
                }
            }
            """#)

    /// The LSTM step's backward; dOutput may be null.
    public static let lstmBackward = CUDAKernelSource(
        name: "lstm_backward", entryPoints: ["moduli_lstm_backward"],
        body: #"""
            extern "C" __global__ void moduli_lstm_backward(const float* gates, const float* cPrev, const float* c, const float* dOutput,
                                                            const float* dh, float* dc, float* dGates, i64 batch, i64 hidden) {
                MODULI_FOR_EACH(idx, batch * hidden) {
                    const i64 n = idx / hidden, j = idx % hidden;
                    const float* row = gates + n * 4 * hidden;
                    float* drow = dGates + n * 4 * hidden;
                    const float ig = row[j], fg = row[hidden + j], gg = row[2 * hidden + j], og = row[3 * hidden + j];
                    const float tc = tanhf(c[idx]);
                    const float dhT = dh[idx] + (dOutput ? dOutput[idx] : 0.0f);
                    const float dcT = dc[idx] + dhT * og * (1.0f - tc * tc);
                    drow[j] = dcT * gg * ig * (1.0f - ig);
                    drow[hidden + j] = dcT * cPrev[idx] * fg * (1.0f - fg);
                    drow[2 * hidden + j] = dcT * ig * (1.0f - gg * gg);
                    drow[3 * hidden + j] = dhT * tc * og * (1.0f - og);
                    dc[idx] = dcT * fg;
                }
            }
            """#)

    /// The GRU step, one thread per (sample, unit).
    public static let gruForward = CUDAKernelSource(
        name: "gru_forward", entryPoints: ["moduli_gru_forward"],
        body: #"""
            extern "C" __global__ void moduli_gru_forward(float* gates, const float* recurrent, const float* hPrev, float* h,
                                                          float* recurrentN, i64 batch, i64 hidden) {
                MODULI_FOR_EACH(idx, batch * hidden) {
                    const i64 n = idx / hidden, j = idx % hidden;
                    float* row = gates + n * 3 * hidden;
                    const float* q = recurrent + n * 3 * hidden;
                    const float r = moduli_sigmoid(row[j] + q[j]);
                    const float z = moduli_sigmoid(row[hidden + j] + q[hidden + j]);
                    const float qn = q[2 * hidden + j];
                    const float nn = tanhf(row[2 * hidden + j] + r * qn);
                    row[j] = r; row[hidden + j] = z; row[2 * hidden + j] = nn;
                    recurrentN[idx] = qn;
                    h[idx] = (1.0f - z) * nn + z * hPrev[idx];
                }
            }
            """#)

    /// The GRU step's backward; dOutput may be null.
    public static let gruBackward = CUDAKernelSource(
        name: "gru_backward", entryPoints: ["moduli_gru_backward"],
        body: #"""
            extern "C" __global__ void moduli_gru_backward(const float* gates, const float* hPrev, const float* recurrentN,
                                                           const float* dOutput, float* dh, float* dPre, float* dRecurrent,
                                                           i64 batch, i64 hidden) {
                MODULI_FOR_EACH(idx, batch * hidden) {
                    const i64 n = idx / hidden, j = idx % hidden;
                    const float* row = gates + n * 3 * hidden;
                    float* prow = dPre + n * 3 * hidden;
                    float* qrow = dRecurrent + n * 3 * hidden;
                    const float r = row[j], z = row[hidden + j], nn = row[2 * hidden + j];
                    const float dhT = dh[idx] + (dOutput ? dOutput[idx] : 0.0f);
                    const float dan = dhT * (1.0f - z) * (1.0f - nn * nn);
                    const float daz = dhT * (hPrev[idx] - nn) * z * (1.0f - z);
                    const float dar = dan * recurrentN[idx] * r * (1.0f - r);
                    prow[j] = dar; prow[hidden + j] = daz; prow[2 * hidden + j] = dan;
                    qrow[j] = dar; qrow[hidden + j] = daz; qrow[2 * hidden + j] = dan * r;
                    dh[idx] = dhT * z;
                }
            }
            """#)

    /// Cross-entropy rows, one block per row: each row's loss in Double and whether its first
    /// largest logit is the target (1 or 0); gradient may be null.
    public static let crossEntropy = CUDAKernelSource(
        name: "cross_entropy", entryPoints: ["moduli_cross_entropy"],
        body: #"""
            extern "C" __global__ void moduli_cross_entropy(const float* logits, const float* targets, double* losses, float* correct,
                                                            float* gradient, i64 rows, int classes, float scale) {
                for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* x = logits + r * classes;
                    float m = MODULI_NEG_INF;
                    for (int j = threadIdx.x; j < classes; j += blockDim.x) m = fmaxf(m, x[j]);
                    m = moduli_block_reduce<ModuliMax<float> >(m, MODULI_NEG_INF);
                    int first = classes;
                    for (int j = threadIdx.x; j < classes; j += blockDim.x) if (x[j] == m) { first = j; break; }
                    first = moduli_block_reduce<ModuliMin<int> >(first, classes);
                    float z = 0.0f;
                    for (int j = threadIdx.x; j < classes; j += blockDim.x) z += expf(x[j] - m);
                    z = moduli_block_reduce<ModuliSum<float> >(z, 0.0f);
                    const float t = targets[r];
                    const bool valid = t >= 0.0f && t < (float)classes && truncf(t) == t;
                    const int target = valid ? (int)t : 0;
                    if (threadIdx.x == 0) {
                        losses[r] = valid ? log((double)z) - (double)(x[target] - m) : (double)MODULI_NAN;
                        correct[r] = valid && first == target ? 1.0f : 0.0f;
                    }
                    if (gradient) {
                        float* d = gradient + r * classes;
                        const float k = scale / z;
                        for (int j = threadIdx.x; j < classes; j += blockDim.x) {
                            const float e = expf(x[j] - m) * k;
                            d[j] = valid ? (j == target ? e - scale : e) : MODULI_NAN;
                        }
                    }
                }
            }
            """#)

    /// Soft-target cross-entropy rows, one block per row, each row's loss in Double; gradient may be null.
    public static let softCrossEntropy = CUDAKernelSource(
        name: "soft_cross_entropy",
        entryPoints: ["moduli_soft_cross_entropy"],
        body: #"""
            extern "C" __global__ void moduli_soft_cross_entropy(const float* logits, const float* targets, double* losses,
                                                                 float* gradient, i64 rows, int classes, float scale) {
                for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
                    const float* x = logits + r * classes;
                    const float* p = targets + r * classes;
                    float m = MODULI_NEG_INF;
                    for (int j = threadIdx.x; j < classes; j += blockDim.x) m = fmaxf(m, x[j]);
                    m = moduli_block_reduce<ModuliMax<float> >(m, MODULI_NEG_INF);
                    float z = 0.0f, ps = 0.0f, mass = 0.0f;
                    for (int j = threadIdx.x; j < classes; j += blockDim.x) {
                        const float s = x[j] - m;
                        z += expf(s); ps += p[j] * s; mass += p[j];
                    }
                    z = moduli_block_reduce<ModuliSum<float> >(z, 0.0f);
                    ps = moduli_block_reduce<ModuliSum<float> >(ps, 0.0f);
                    mass = moduli_block_reduce<ModuliSum<float> >(mass, 0.0f);
                    if (threadIdx.x == 0) losses[r] = (double)mass * log((double)z) - (double)ps;
                    if (gradient) {
                        float* d = gradient + r * classes;
                        const float k = scale * mass / z;
                        for (int j = threadIdx.x; j < classes; j += blockDim.x) d[j] = expf(x[j] - m) * k - scale * p[j];
                    }
                }
            }
            """#)

    /// Squared errors: each block's partial sum in Double (added on the host in block order) and
    /// the gradient scale (p - t); gradient may be null.
    public static let squaredError = CUDAKernelSource(
        name: "squared_error", entryPoints: ["moduli_squared_error"],
        body: #"""
            extern "C" __global__ void moduli_squared_error(const float* p, const float* t, float* gradient, i64 n, float scale,
                                                            double* partials) {
                double s = 0.0;
                MODULI_FOR_EACH(i, n) {
                    const float e = p[i] - t[i];
                    s += (double)e * (double)e;
                    if (gradient) gradient[i] = scale * e;
                }
                s = moduli_block_reduce<ModuliSum<double> >(s, 0.0);
                if (threadIdx.x == 0) partials[blockIdx.x] = s;
            }
            """#)

    /// Sums in Double: each block writes one partial sum; the host adds the partials in block order
    /// (deterministic for a given size).
    public static let reduce = CUDAKernelSource(
        name: "reduce", entryPoints: ["moduli_partial_sums"],
        body: #"""
            extern "C" __global__ void moduli_partial_sums(const float* x, i64 n, int squares, double* partials) {
                double s = 0.0;
                MODULI_FOR_EACH(i, n) { const double v = x[i]; s += squares ? v * v : v; }
                s = moduli_block_reduce<ModuliSum<double> >(s, 0.0);
                if (threadIdx.x == 0) partials[blockIdx.x] = s;
            }
            """#)

    /// One SGD step; buffer is null without momentum.
    public static let sgdStep = CUDAKernelSource(
        name: "sgd_step", entryPoints: ["moduli_sgd_step"],
        body: #"""
            extern "C" __global__ void moduli_sgd_step(float* p, const float* g, float* buffer, i64 n, float lr, float wd, float mu,
                                                       float damp, int nesterov, int first) {
                MODULI_FOR_EACH(i, n) {
                    if (!buffer) { p[i] -= lr * (g[i] + wd * p[i]); continue; }
                    const float gi = g[i] + wd * p[i];
                    const float b = first ? gi : mu * buffer[i] + damp * gi;
                    buffer[i] = b;
                    p[i] -= lr * (nesterov ? gi + mu * b : b);
                }
            }
            """#)

    /// One Adam/AdamW step with the host-computed constants.
    public static let adamStep = CUDAKernelSource(
        name: "adam_step", entryPoints: ["moduli_adam_step"],
        body: #"""
            extern "C" __global__ void moduli_adam_step(float* p, const float* g, float* m, float* v, i64 n, float l2, float decay,
                                                        float b1, float b2, float c1, float c2, float stepSize, float bc2Root, float eps) {
                MODULI_FOR_EACH(i, n) {
                    const float pi = p[i];
                    const float gi = g[i] + l2 * pi;
                    const float mi = b1 * m[i] + c1 * gi;
                    const float vi = b2 * v[i] + c2 * gi * gi;
                    m[i] = mi; v[i] = vi;
                    p[i] = pi * decay - stepSize * mi / (sqrtf(vi) / bc2Root + eps);
                }
            }
            """#)

    /// The moduli penalty: per-block partial sums of R |W|^p (summed on the host) and,
    /// when gradient is not null, gradient += scale R p |W|^(p-1) sign(W). R is tiled over the
    /// gate blocks: entry i of W uses R[i mod H^2].
    public static let moduliPenalty = CUDAKernelSource(
        name: "moduli_penalty", entryPoints: ["moduli_penalty"],
        body: #"""
            extern "C" __global__ void moduli_penalty(const float* w, const float* r, float* gradient, i64 count, i64 hh, int power,
                                                      float scale, double* partials) {
                double s = 0.0;
                MODULI_FOR_EACH(i, count) {
                    const float wi = w[i], ri = r[i % hh], a = fabsf(wi);
                    s += (double)ri * (power == 1 ? (double)a : (double)a * (double)a);
                    if (gradient) {
                        const float slope = power == 1 ? (wi > 0.0f ? 1.0f : (wi < 0.0f ? -1.0f : 0.0f)) : 2.0f * wi;
                        gradient[i] += scale * ri * slope;
                    }
                }
                s = moduli_block_reduce<ModuliSum<double> >(s, 0.0);
                if (threadIdx.x == 0) partials[blockIdx.x] = s;
            }
            """#)

    /// One pass of the radix select for the pruning threshold: a 256-bin histogram of the next 8
    /// bits of |w|'s bit pattern over the entries whose higher bits equal `prefix`.
    public static let magnitudeHistogram = CUDAKernelSource(
        name: "magnitude_histogram", entryPoints: ["moduli_magnitude_histogram"],
        body: #"""
            extern "C" __global__ void moduli_magnitude_histogram(const float* x, i64 n, unsigned prefix, unsigned prefixMask, int shift,
                                                                  unsigned* histogram) {
                __shared__ unsigned local[256];
                for (int b = threadIdx.x; b < 256; b += blockDim.x) local[b] = 0u;
                __syncthreads();
                MODULI_FOR_EACH(i, n) {
                    const unsigned bits = __float_as_uint(x[i]) & 0x7fffffffu;
                    if ((bits & prefixMask) == prefix) atomicAdd(&local[(bits >> shift) & 255u], 1u);
                }
                __syncthreads();
                for (int b = threadIdx.x; b < 256; b += blockDim.x) if (local[b]) atomicAdd(&histogram[b], local[b]);
            }
            """#)

    /// Every kernel source of the backend.
    public static let all: [CUDAKernelSource] = [
        addRowVector, addRowVectors, transpose, rows, addColumnSums, axpy, scale, multiplyByMask, elmanForward, elmanBackward, lstmForward,
        lstmBackward,
        gruForward, gruBackward, crossEntropy, softCrossEntropy, squaredError, reduce, sgdStep, adamStep, moduliPenalty,
        magnitudeHistogram
    ]

    /// The NVRTC options of every compilation: no fused multiply-add (CPU rounding), and the
    /// architecture (`compute_XX` for PTX, `sm_XX` for CUBIN as well).
    public static func options(architecture: String) -> [String] {
        ["--gpu-architecture=\(architecture)", "--fmad=false", "--std=c++14"]
    }
}

/// The type of one kernel parameter, as the launch passes it.
public enum KernelParameter: String, Sendable, Equatable {
    case pointer, int64, int32, uint32, float, double

    /// The PTX parameter type NVRTC gives it (pointers and 64-bit integers are both .u64).
    public var ptxType: String {
        switch self {
        case .pointer, .int64: return ".u64"
        case .int32, .uint32: return ".u32"
        case .float: return ".f32"
        case .double: return ".f64"
        }
    }
}

extension CUDAKernelSource {
    /// The parameters of `entry` read from its C signature in `body` (`float*` and other pointers,
    /// `i64`, `int`, `unsigned`, `float`, `double`), or nil when the source has no such kernel or
    /// a parameter of another type. The CUDA backend checks every launch against this list.
    public func parameters(of entry: String) -> [KernelParameter]? {
        guard let start = body.firstRange(of: "void \(entry)(") else { return nil }
        guard let end = body[start.upperBound...].firstIndex(of: ")") else { return nil }
        let list = body[start.upperBound..<end].split(separator: ",").map { $0.split(whereSeparator: { $0 == " " || $0 == "\n" }) }
        var result = [KernelParameter]()
        for words in list {
            let type = words.dropLast().filter { $0 != "const" }.joined(separator: " ")
            switch type {
            case _ where type.hasSuffix("*"): result.append(.pointer)
            case "i64": result.append(.int64)
            case "int": result.append(.int32)
            case "unsigned": result.append(.uint32)
            case "float": result.append(.float)
            case "double": result.append(.double)
            default: return nil
            }
        }
        return result
    }
}
