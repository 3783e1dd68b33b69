// Float CSR kernels at three vector widths, and the threads' subnormal mode (see include/CSparseKernels.h).
#include "CSparseKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define MODULI_X86 1
#endif

int moduli_sparse_cpu_level(void) {
#ifdef MODULI_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;  // SSE and AVX state saved by the OS
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (!avx2) return 0;
    if (avx512f && (lo & 0xE0) == 0xE0) return 2;  // opmask and ZMM state saved too
    return 1;
#else
    return 0;
#endif
}

static void gather_portable(int64_t rows, const int32_t *ro, const int32_t *ci, const float *v, const float *x,
                            int64_t ldx, int64_t width, float *y, int64_t ldy, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        float *yr = y + i * ldy;
        if (!accumulate) for (int64_t b = 0; b < width; b++) yr[b] = 0;
        for (int32_t k = ro[i]; k < ro[i + 1]; k++) {
            const float w = v[k], *xr = x + (int64_t)ci[k] * ldx;
            for (int64_t b = 0; b < width; b++) yr[b] += w * xr[b];
        }
    }
}

#ifdef MODULI_X86
__attribute__((target("avx2,fma")))
static void gather_avx2(int64_t rows, const int32_t *ro, const int32_t *ci, const float *v, const float *x,
                        int64_t ldx, int64_t width, float *y, int64_t ldy, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        float *yr = y + i * ldy;
        const int32_t start = ro[i], end = ro[i + 1];
        int64_t b = 0;
        for (; b + 32 <= width; b += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            if (accumulate) {
                a0 = _mm256_loadu_ps(yr + b); a1 = _mm256_loadu_ps(yr + b + 8);
                a2 = _mm256_loadu_ps(yr + b + 16); a3 = _mm256_loadu_ps(yr + b + 24);
            }
            for (int32_t k = start; k < end; k++) {
                const __m256 w = _mm256_broadcast_ss(v + k);
                const float *p = x + (int64_t)ci[k] * ldx + b;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 8), a1);
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 16), a2);
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 24), a3);
            }
            _mm256_storeu_ps(yr + b, a0); _mm256_storeu_ps(yr + b + 8, a1);
            _mm256_storeu_ps(yr + b + 16, a2); _mm256_storeu_ps(yr + b + 24, a3);
        }
        for (; b + 8 <= width; b += 8) {
            __m256 a0 = accumulate ? _mm256_loadu_ps(yr + b) : _mm256_setzero_ps();
            for (int32_t k = start; k < end; k++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(v + k), _mm256_loadu_ps(x + (int64_t)ci[k] * ldx + b), a0);
            _mm256_storeu_ps(yr + b, a0);
        }
        for (; b < width; b++) {
            float s = accumulate ? yr[b] : 0;
            for (int32_t k = start; k < end; k++) s += v[k] * x[(int64_t)ci[k] * ldx + b];
            yr[b] = s;
        }
    }
}

__attribute__((target("avx512f")))
static void gather_avx512(int64_t rows, const int32_t *ro, const int32_t *ci, const float *v, const float *x,
                          int64_t ldx, int64_t width, float *y, int64_t ldy, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        float *yr = y + i * ldy;
        const int32_t start = ro[i], end = ro[i + 1];
        int64_t b = 0;
        for (; b + 64 <= width; b += 64) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            if (accumulate) {
                a0 = _mm512_loadu_ps(yr + b); a1 = _mm512_loadu_ps(yr + b + 16);
                a2 = _mm512_loadu_ps(yr + b + 32); a3 = _mm512_loadu_ps(yr + b + 48);
            }
            for (int32_t k = start; k < end; k++) {
                const __m512 w = _mm512_set1_ps(v[k]);
                const float *p = x + (int64_t)ci[k] * ldx + b;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p + 16), a1);
                a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p + 32), a2);
                a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p + 48), a3);
            }
            _mm512_storeu_ps(yr + b, a0); _mm512_storeu_ps(yr + b + 16, a1);
            _mm512_storeu_ps(yr + b + 32, a2); _mm512_storeu_ps(yr + b + 48, a3);
        }
        for (; b + 32 <= width; b += 32) {  // a tile of 32 samples in one pass over the row
            __m512 a0 = accumulate ? _mm512_loadu_ps(yr + b) : _mm512_setzero_ps();
            __m512 a1 = accumulate ? _mm512_loadu_ps(yr + b + 16) : _mm512_setzero_ps();
            for (int32_t k = start; k < end; k++) {
                const __m512 w = _mm512_set1_ps(v[k]);
                const float *p = x + (int64_t)ci[k] * ldx + b;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(p + 16), a1);
            }
            _mm512_storeu_ps(yr + b, a0); _mm512_storeu_ps(yr + b + 16, a1);
        }
        for (; b + 16 <= width; b += 16) {
            __m512 a0 = accumulate ? _mm512_loadu_ps(yr + b) : _mm512_setzero_ps();
            for (int32_t k = start; k < end; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(v[k]), _mm512_loadu_ps(x + (int64_t)ci[k] * ldx + b), a0);
            _mm512_storeu_ps(yr + b, a0);
        }
        if (b < width) {
            const __mmask16 m = (__mmask16)((1u << (width - b)) - 1u);
            __m512 a0 = accumulate ? _mm512_maskz_loadu_ps(m, yr + b) : _mm512_setzero_ps();
            for (int32_t k = start; k < end; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(v[k]), _mm512_maskz_loadu_ps(m, x + (int64_t)ci[k] * ldx + b), a0);
            _mm512_mask_storeu_ps(yr + b, m, a0);
        }
    }
}
#endif

void moduli_csr_gather_f32(int64_t rows, const int32_t *row_offsets, const int32_t *column_indices,
                           const float *values, const float *x, int64_t ldx, int64_t width,
                           float *y, int64_t ldy, int accumulate, int level) {
#ifdef MODULI_X86
    if (level >= 2) { gather_avx512(rows, row_offsets, column_indices, values, x, ldx, width, y, ldy, accumulate); return; }
    if (level == 1) { gather_avx2(rows, row_offsets, column_indices, values, x, ldx, width, y, ldy, accumulate); return; }
#endif
    (void)level;
    gather_portable(rows, row_offsets, column_indices, values, x, ldx, width, y, ldy, accumulate);
}

static void multiply_portable(int64_t rows, const int32_t *ro, const int32_t *ci, const float *v, const float *x,
                              float *y, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int32_t k = ro[i];
        const int32_t end = ro[i + 1];
        for (; k + 4 <= end; k += 4) {
            s0 += v[k] * x[ci[k]]; s1 += v[k + 1] * x[ci[k + 1]];
            s2 += v[k + 2] * x[ci[k + 2]]; s3 += v[k + 3] * x[ci[k + 3]];
        }
        for (; k < end; k++) s0 += v[k] * x[ci[k]];
        const float s = (s0 + s1) + (s2 + s3);
        y[i] = accumulate ? y[i] + s : s;
    }
}

#ifdef MODULI_X86
/// The sum of the eight lanes.
__attribute__((target("avx2")))
static inline float hsum256(__m256 a) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/// Eight entries of x gathered by one instruction, two independent accumulators. The 8-lane gather
/// measured faster than the 16-lane AVX-512 one on the kernel's shapes (H 256-4096, 90-99.5% sparse),
/// so both levels run it.
__attribute__((target("avx2,fma")))
static void multiply_avx2(int64_t rows, const int32_t *ro, const int32_t *ci, const float *v, const float *x,
                          float *y, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        __m256 a = _mm256_setzero_ps(), b = a;
        int32_t k = ro[i];
        const int32_t end = ro[i + 1];
        for (; k + 16 <= end; k += 16) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(v + k), _mm256_i32gather_ps(x, _mm256_loadu_si256((const __m256i *)(ci + k)), 4), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(v + k + 8),
                                _mm256_i32gather_ps(x, _mm256_loadu_si256((const __m256i *)(ci + k + 8)), 4), b);
        }
        if (k + 8 <= end) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(v + k), _mm256_i32gather_ps(x, _mm256_loadu_si256((const __m256i *)(ci + k)), 4), a);
            k += 8;
        }
        float s = hsum256(_mm256_add_ps(a, b));
        for (; k < end; k++) s += v[k] * x[ci[k]];
        y[i] = accumulate ? y[i] + s : s;
    }
}
#endif

void moduli_csr_multiply_f32(int64_t rows, const int32_t *row_offsets, const int32_t *column_indices,
                             const float *values, const float *x, float *y, int accumulate, int level) {
#ifdef MODULI_X86
    if (level >= 1) { multiply_avx2(rows, row_offsets, column_indices, values, x, y, accumulate); return; }
#endif
    (void)level;
    multiply_portable(rows, row_offsets, column_indices, values, x, y, accumulate);
}

static void sddmm_portable(int64_t rows, const int32_t *ro, const int32_t *ci, const float *lt, const float *rt,
                           int64_t ld, float *entries) {
    for (int64_t i = 0; i < rows; i++) {
        const float *li = lt + i * ld;
        for (int32_t k = ro[i]; k < ro[i + 1]; k++) {
            const float *rj = rt + (int64_t)ci[k] * ld;
            float s0 = 0, s1 = 0;
            int64_t t = 0;
            for (; t + 2 <= ld; t += 2) { s0 += li[t] * rj[t]; s1 += li[t + 1] * rj[t + 1]; }
            if (t < ld) s0 += li[t] * rj[t];
            entries[k] += s0 + s1;
        }
    }
}

#ifdef MODULI_X86
/// Stored entries k..<end of one row (its tile row `li`; sums added to `entries[k]`): four at a time,
/// the tile row loaded once per step for all four, four independent dot products.
__attribute__((target("avx2,fma")))
static inline void sddmm_row_avx2(const float *li, const int32_t *ci, int32_t k, int32_t end, const float *rt,
                                  int64_t ld, float *entries) {
    for (; k + 4 <= end; k += 4) {
        const float *p0 = rt + (int64_t)ci[k] * ld, *p1 = rt + (int64_t)ci[k + 1] * ld;
        const float *p2 = rt + (int64_t)ci[k + 2] * ld, *p3 = rt + (int64_t)ci[k + 3] * ld;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t t = 0; t < ld; t += 8) {
            const __m256 l = _mm256_loadu_ps(li + t);
            a0 = _mm256_fmadd_ps(l, _mm256_loadu_ps(p0 + t), a0);
            a1 = _mm256_fmadd_ps(l, _mm256_loadu_ps(p1 + t), a1);
            a2 = _mm256_fmadd_ps(l, _mm256_loadu_ps(p2 + t), a2);
            a3 = _mm256_fmadd_ps(l, _mm256_loadu_ps(p3 + t), a3);
        }
        entries[k] += hsum256(a0); entries[k + 1] += hsum256(a1);
        entries[k + 2] += hsum256(a2); entries[k + 3] += hsum256(a3);
    }
    for (; k < end; k++) {
        const float *p = rt + (int64_t)ci[k] * ld;
        __m256 a = _mm256_setzero_ps();
        for (int64_t t = 0; t < ld; t += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(li + t), _mm256_loadu_ps(p + t), a);
        entries[k] += hsum256(a);
    }
}

__attribute__((target("avx512f")))
static inline void sddmm_row_avx512(const float *li, const int32_t *ci, int32_t k, int32_t end, const float *rt,
                                    int64_t ld, float *entries) {
    for (; k + 4 <= end; k += 4) {
        const float *p0 = rt + (int64_t)ci[k] * ld, *p1 = rt + (int64_t)ci[k + 1] * ld;
        const float *p2 = rt + (int64_t)ci[k + 2] * ld, *p3 = rt + (int64_t)ci[k + 3] * ld;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t t = 0; t < ld; t += 16) {
            const __m512 l = _mm512_loadu_ps(li + t);
            a0 = _mm512_fmadd_ps(l, _mm512_loadu_ps(p0 + t), a0);
            a1 = _mm512_fmadd_ps(l, _mm512_loadu_ps(p1 + t), a1);
            a2 = _mm512_fmadd_ps(l, _mm512_loadu_ps(p2 + t), a2);
            a3 = _mm512_fmadd_ps(l, _mm512_loadu_ps(p3 + t), a3);
        }
        entries[k] += _mm512_reduce_add_ps(a0); entries[k + 1] += _mm512_reduce_add_ps(a1);
        entries[k + 2] += _mm512_reduce_add_ps(a2); entries[k + 3] += _mm512_reduce_add_ps(a3);
    }
    for (; k < end; k++) {
        const float *p = rt + (int64_t)ci[k] * ld;
        __m512 a = _mm512_setzero_ps();
        for (int64_t t = 0; t < ld; t += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(li + t), _mm512_loadu_ps(p + t), a);
        entries[k] += _mm512_reduce_add_ps(a);
    }
}

/// Columns per block of the vector SDDMM: the rows of `rt` that one block of columns touches
/// (1024 x ld floats) stay in L2 while every row of the matrix passes over its entries in the
/// block (Tools/bench_sparse_variants.c, H 4096, 90%, 1,000 rows: 118 ms against 237 ms in one pass
/// over the columns).
#define SDDMM_COLUMN_BLOCK 1024

static void sddmm_vector(int64_t rows, int64_t columns, const int32_t *ro, const int32_t *ci, const float *lt,
                         const float *rt, int64_t ld, float *entries, int wide) {
    // Each row's next entry; without it (small matrices, or no memory) one pass over all columns.
    int32_t *cursor = columns > SDDMM_COLUMN_BLOCK ? malloc((size_t)rows * sizeof(int32_t)) : NULL;
    const int64_t block = cursor ? SDDMM_COLUMN_BLOCK : columns;
    if (cursor) memcpy(cursor, ro, (size_t)rows * sizeof(int32_t));
    for (int64_t j0 = 0; j0 < columns; j0 += block) {
        const int64_t j1 = j0 + block;
        for (int64_t i = 0; i < rows; i++) {
            const int32_t start = cursor ? cursor[i] : ro[i], end = ro[i + 1];
            int32_t stop = start;
            while (stop < end && ci[stop] < j1) stop++;
            if (wide) sddmm_row_avx512(lt + i * ld, ci, start, stop, rt, ld, entries);
            else sddmm_row_avx2(lt + i * ld, ci, start, stop, rt, ld, entries);
            if (cursor) cursor[i] = stop;
        }
    }
    free(cursor);
}
#endif

void moduli_csr_sddmm_f32(int64_t rows, int64_t columns, const int32_t *row_offsets, const int32_t *column_indices,
                          const float *lt, const float *rt, int64_t ld, float *entries, int level) {
#ifdef MODULI_X86
    if (level >= 2 && ld % 16 == 0) { sddmm_vector(rows, columns, row_offsets, column_indices, lt, rt, ld, entries, 1); return; }
    if (level >= 1 && ld % 8 == 0) { sddmm_vector(rows, columns, row_offsets, column_indices, lt, rt, ld, entries, 0); return; }
#endif
    (void)level; (void)columns;
    sddmm_portable(rows, row_offsets, column_indices, lt, rt, ld, entries);
}

static void transpose_portable(const float *src, int64_t lds, int64_t rows, int64_t columns, float *dst, int64_t ldd,
                               int accumulate) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < columns; j++) {
            float *d = dst + j * ldd + i;
            *d = accumulate ? *d + src[i * lds + j] : src[i * lds + j];
        }
}

#ifdef MODULI_X86
/// The 8 x 8 block at src (rows i..i+8, columns j..j+8) transposed into dst.
__attribute__((target("avx2")))
static inline void transpose8x8(const float *src, int64_t lds, float *dst, int64_t ldd, int accumulate) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds),
           r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    // Interleave pairs of rows, then pairs of pairs, then the 128-bit halves.
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    __m256 o[8] = {_mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                   _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                   _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                   _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
    for (int k = 0; k < 8; k++) {
        float *d = dst + k * ldd;
        _mm256_storeu_ps(d, accumulate ? _mm256_add_ps(_mm256_loadu_ps(d), o[k]) : o[k]);
    }
}

__attribute__((target("avx2")))
static void transpose_avx2(const float *src, int64_t lds, int64_t rows, int64_t columns, float *dst, int64_t ldd,
                           int accumulate) {
    const int64_t r8 = rows / 8 * 8, c8 = columns / 8 * 8;
    for (int64_t i = 0; i < r8; i += 8)
        for (int64_t j = 0; j < c8; j += 8) transpose8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd, accumulate);
    // The edges: columns past the last full block for every row, rows past it for the full columns.
    if (c8 < columns) transpose_portable(src + c8, lds, rows, columns - c8, dst + c8 * ldd, ldd, accumulate);
    if (r8 < rows) transpose_portable(src + r8 * lds, lds, rows - r8, c8, dst + r8, ldd, accumulate);
}
#endif

void moduli_transpose_f32(const float *src, int64_t lds, int64_t rows, int64_t columns,
                          float *dst, int64_t ldd, int accumulate, int level) {
#ifdef MODULI_X86
    if (level >= 1) { transpose_avx2(src, lds, rows, columns, dst, ldd, accumulate); return; }
#endif
    (void)level;
    transpose_portable(src, lds, rows, columns, dst, ldd, accumulate);
}

#if defined(__x86_64__) || defined(__i386__)
#define SUBNORMAL_BITS 0x8040u  // MXCSR: FTZ (bit 15) and DAZ (bit 6)
uint32_t moduli_subnormal_mode(void) { return _mm_getcsr() & SUBNORMAL_BITS; }
void moduli_set_subnormal_mode(uint32_t mode) { _mm_setcsr((_mm_getcsr() & ~SUBNORMAL_BITS) | (mode & SUBNORMAL_BITS)); }
uint32_t moduli_flush_subnormals_mode(void) { return SUBNORMAL_BITS; }
#elif defined(__aarch64__)
#define SUBNORMAL_BITS (1u << 24)  // FPCR: FZ
uint32_t moduli_subnormal_mode(void) {
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (uint32_t)fpcr & SUBNORMAL_BITS;
}
void moduli_set_subnormal_mode(uint32_t mode) {
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = (fpcr & ~(uint64_t)SUBNORMAL_BITS) | (mode & SUBNORMAL_BITS);
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
uint32_t moduli_flush_subnormals_mode(void) { return SUBNORMAL_BITS; }
#else
uint32_t moduli_subnormal_mode(void) { return 0; }
void moduli_set_subnormal_mode(uint32_t mode) { (void)mode; }
uint32_t moduli_flush_subnormals_mode(void) { return 0; }
#endif
