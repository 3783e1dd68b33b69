// Float CSR gather kernels at three vector widths (see include/CSparseKernels.h).
#include "CSparseKernels.h"

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
