// Float CSR kernels compiled for AVX2/FMA and AVX-512 and chosen at run time, so that a package
// built for baseline x86-64 still runs the sparse products at the vector width of the CPU.
#ifndef MODULI_CSPARSEKERNELS_H
#define MODULI_CSPARSEKERNELS_H

#include <stdint.h>

/// The widest kernels this CPU and operating system run: 0 portable C, 1 AVX2 with FMA,
/// 2 AVX-512F (CPUID and XGETBV, so registers the kernel does not save are never used).
int moduli_sparse_cpu_level(void);

/// y[i][0..<width] (+)= sum over stored (i, k) of v * x[k][0..<width], for the CSR matrix
/// (row_offsets, column_indices, values) with `rows` rows; x and y row-major with leading
/// dimensions ldx and ldy. `level` chooses the kernels (at most moduli_sparse_cpu_level()).
void moduli_csr_gather_f32(int64_t rows, const int32_t *row_offsets, const int32_t *column_indices,
                           const float *values, const float *x, int64_t ldx, int64_t width,
                           float *y, int64_t ldy, int accumulate, int level);

/// y[i] (+)= sum over stored (i, k) of v * x[k]: the batch-1 product (x gathered eight entries at a
/// time at `level` 1 or more).
void moduli_csr_multiply_f32(int64_t rows, const int32_t *row_offsets, const int32_t *column_indices,
                             const float *values, const float *x, float *y, int accumulate, int level);

/// entries[k] += sum over t < ld of lt[i * ld + t] * rt[j * ld + t] for every stored entry k = (i, j)
/// of the `rows x columns` matrix (k its position in `column_indices`, so that `entries` holds one
/// sum per stored entry and the dense gradient is not touched per tile): the SDDMM on tiles already
/// transposed (lanes past the tile's rows must hold zeros). AVX-512 runs when ld is a multiple of 16, AVX2 when a multiple of 8 (both in
/// blocks of 1024 columns); otherwise portable C.
void moduli_csr_sddmm_f32(int64_t rows, int64_t columns, const int32_t *row_offsets, const int32_t *column_indices,
                          const float *lt, const float *rt, int64_t ld, float *entries, int level);

/// dst[j * ldd + i] (+)= src[i * lds + j] for i in 0..<rows, j in 0..<columns: a transpose, in
/// 8 x 8 AVX blocks at `level` 1 or more.
void moduli_transpose_f32(const float *src, int64_t lds, int64_t rows, int64_t columns,
                          float *dst, int64_t ldd, int accumulate, int level);

/// The calling thread's floating-point control bits that decide subnormals: x86 MXCSR's
/// flush-to-zero (bit 15) and denormals-are-zero (bit 6), AArch64 FPCR's FZ (bit 24); 0 elsewhere.
uint32_t moduli_subnormal_mode(void);

/// Sets the bits of `moduli_subnormal_mode` on the calling thread (others unchanged).
void moduli_set_subnormal_mode(uint32_t mode);

/// The bits that flush subnormal results to zero and read subnormal inputs as zero on this CPU.
uint32_t moduli_flush_subnormals_mode(void);

/// A hint to the CPU inside a spin-wait loop (x86 PAUSE, ARM YIELD): the waiting thread yields
/// execution resources to its sibling hyperthread and leaves the loop without a memory-order stall.
static inline void moduli_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#endif
