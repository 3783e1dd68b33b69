// The kernel variants behind the design choices of Sources/CSparseKernels (BENCHMARKS.md, "Aligned
// workspace ..."), timed against each other and against OpenBLAS on random CSR matrices, one thread:
//   1. the row-layout product (tiles of 32 samples in, gather, tiles out) with its workspace at a
//      64-byte boundary and 16 or 32 bytes past one;
//   2. the batch-1 product: scalar gathers in C, the 16-lane AVX-512 gather, the 8-lane AVX2 gather
//      (the kernel moduli runs);
//   3. the weight gradient (SDDMM): tiles of 32/128/256 rows one entry at a time, four entries at a
//      time in one pass over the columns, and four at a time in blocks of 1024 columns (moduli's).
// Every variant's result is checked against OpenBLAS (the largest absolute difference is printed).
//
// Build and run (x86-64 with AVX-512; OPENBLAS_CORETYPE=SkylakeX picks OpenBLAS's AVX-512 kernels):
//   clang -O2 -o /tmp/bench_sparse_variants Tools/bench_sparse_variants.c -ISources/CSparseKernels/include \
//         -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -lm
//   OPENBLAS_CORETYPE=SkylakeX /tmp/bench_sparse_variants [H] [density] [sddmm rows]   (default 1024 0.1 10000)
#include "../Sources/CSparseKernels/CSparseKernels.c"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

static int H = 1024, N = 10000, B = 200;
static double density = 0.1;
static int32_t *ro, *ci;
static float *v, *W, *X, *Y, *Yref, *L, *R, *G, *Gref, *xv, *yv, *yvref;
static char *wsBase;
static float *ws;
static int param;  // the variant's parameter (offset, tile)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static unsigned long long state = 88172645463325252ULL;
static double uniform(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (state >> 11) * (1.0 / 9007199254740992.0);
}
/// Best of 9 rounds of at least 30 ms each, in milliseconds per call.
static double timeit(void (*f)(void)) {
    double best = 1e30;
    for (int r = 0; r < 9; r++) {
        double t0 = now(), t;
        int calls = 0;
        do { f(); calls++; } while ((t = now() - t0) < 0.03);
        if (t / calls < best) best = t / calls;
    }
    return best * 1e3;
}
static double maxdiff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

// 1. Row layout, workspace at 64-byte boundary + `param` bytes.
static void rows_dense(void) { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, H, 1, X, H, W, H, 0, Y, H); }
static void rows_tiles(void) {
    float *xt = (float *)(wsBase + param), *yt = xt + (size_t)H * 32;
    for (int b0 = 0; b0 < B; b0 += 32) {
        int n = B - b0 < 32 ? B - b0 : 32, l = (n + 7) / 8 * 8;
        if (n < l) for (int c = 0; c < H; c++) memset(xt + (size_t)c * l + n, 0, (size_t)(l - n) * 4);
        moduli_transpose_f32(X + (size_t)b0 * H, H, n, H, xt, l, 0, 1);
        moduli_csr_gather_f32(H, ro, ci, v, xt, l, l, yt, l, 0, 2);
        moduli_transpose_f32(yt, l, H, n, Y + (size_t)b0 * H, H, 0, 1);
    }
}

// 2. Batch 1.
static void one_dense(void) { cblas_sgemv(CblasRowMajor, CblasNoTrans, H, H, 1, W, H, xv, 1, 0, yv, 1); }
static void one_scalar(void) { multiply_portable(H, ro, ci, v, xv, yv, 0); }
__attribute__((target("avx512f"))) static void one_gather16(void) {
    for (int i = 0; i < H; i++) {
        __m512 a = _mm512_setzero_ps();
        int k = ro[i], e = ro[i + 1];
        for (; k + 16 <= e; k += 16)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(v + k), _mm512_i32gather_ps(_mm512_loadu_si512(ci + k), xv, 4), a);
        if (k < e) {
            __mmask16 m = (__mmask16)((1u << (e - k)) - 1);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + k),
                                _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, ci + k), xv, 4), a);
        }
        yv[i] = _mm512_reduce_add_ps(a);
    }
}
static void one_gather8(void) { moduli_csr_multiply_f32(H, ro, ci, v, xv, yv, 0, 2); }

// 3. SDDMM over N rows.
static void sd_dense(void) {
    for (int r0 = 0; r0 < N; r0 += 128) {
        int n = N - r0 < 128 ? N - r0 : 128;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, n, 1, L + (size_t)r0 * H, H, R + (size_t)r0 * H, H, 1, G, H);
    }
}
/// Tiles of `param` rows; `mode` 0: one entry at a time, one pass; 1: four at a time, one pass;
/// 2: moduli's kernel (four at a time, blocks of 1024 columns).
static int mode;
__attribute__((target("avx512f"))) static void sd_tiles(void) {
    int T = param;
    float *lt = ws, *rt = ws + (size_t)H * T;
    for (int r0 = 0; r0 < N; r0 += T) {
        int n = N - r0 < T ? N - r0 : T;
        if (n < T) for (int c = 0; c < H; c++) { memset(lt + (size_t)c * T + n, 0, (size_t)(T - n) * 4); memset(rt + (size_t)c * T + n, 0, (size_t)(T - n) * 4); }
        moduli_transpose_f32(L + (size_t)r0 * H, H, n, H, lt, T, 0, 1);
        moduli_transpose_f32(R + (size_t)r0 * H, H, n, H, rt, T, 0, 1);
        if (mode == 2) { moduli_csr_sddmm_f32(H, H, ro, ci, lt, rt, T, G, 2); continue; }  // sums per stored entry, in G
        for (int i = 0; i < H; i++) {
            if (mode == 1) { sddmm_row_avx512(lt + (size_t)i * T, ci, ro[i], ro[i + 1], rt, T, G); continue; }  // per stored entry
            for (int k = ro[i]; k < ro[i + 1]; k++) {
                const float *p = rt + (size_t)ci[k] * T, *li = lt + (size_t)i * T;
                __m512 a = _mm512_setzero_ps();
                for (int t = 0; t < T; t += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(li + t), _mm512_loadu_ps(p + t), a);
                G[(size_t)i * H + ci[k]] += _mm512_reduce_add_ps(a);
            }
        }
    }
}
/// The SDDMM's result at the kept entries against the dense product's (modes 1 and 2 hold one sum
/// per stored entry, at G[k]).
static double sd_check(void) {
    double m = 0;
    for (int i = 0; i < H; i++)
        for (int k = ro[i]; k < ro[i + 1]; k++) {
            const double got = mode ? G[k] : G[(size_t)i * H + ci[k]];
            m = fmax(m, fabs(got - Gref[(size_t)i * H + ci[k]]));
        }
    return m;
}

int main(int argc, char **argv) {
    if (argc > 1) H = atoi(argv[1]);
    if (argc > 2) density = atof(argv[2]);
    if (argc > 3) N = atoi(argv[3]);
    if (H < 16 || H > 8192 || density <= 0 || density > 1 || N < 1 || N > 100000) {
        fprintf(stderr, "usage: %s [H 16-8192] [density in (0, 1]] [sddmm rows 1-100000]\n", argv[0]);
        return 2;
    }
    if (moduli_sparse_cpu_level() < 2) { fprintf(stderr, "this benchmark needs AVX-512\n"); return 2; }
    openblas_set_num_threads(1);
    W = calloc((size_t)H * H, 4); ro = malloc((size_t)(H + 1) * 4); ci = malloc((size_t)H * H * 4); v = malloc((size_t)H * H * 4);
    int nnz = 0;
    for (int i = 0; i < H; i++) {
        ro[i] = nnz;
        for (int j = 0; j < H; j++)
            if (uniform() < density) { float w = (float)(uniform() - 0.5); W[(size_t)i * H + j] = w; ci[nnz] = j; v[nnz] = w; nnz++; }
    }
    ro[H] = nnz;
    X = malloc((size_t)B * H * 4); Y = malloc((size_t)B * H * 4); Yref = malloc((size_t)B * H * 4);
    xv = malloc((size_t)H * 4); yv = malloc((size_t)H * 4); yvref = malloc((size_t)H * 4);
    L = malloc((size_t)N * H * 4); R = malloc((size_t)N * H * 4); G = malloc((size_t)H * H * 4); Gref = calloc((size_t)H * H, 4);
    wsBase = aligned_alloc(64, (size_t)H * 2 * 256 * 4 + 128);
    ws = (float *)wsBase;
    if (!W || !ro || !ci || !v || !X || !Y || !Yref || !xv || !yv || !yvref || !L || !R || !G || !Gref || !wsBase) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)B * H; i++) X[i] = (float)(uniform() - 0.5);
    for (int i = 0; i < H; i++) xv[i] = (float)(uniform() - 0.5);
    for (size_t i = 0; i < (size_t)N * H; i++) { L[i] = (float)(uniform() - 0.5); R[i] = (float)(uniform() - 0.5); }
    printf("H %d, density %.3f (%d kept), one thread\n", H, density, nnz);

    rows_dense(); memcpy(Yref, Y, (size_t)B * H * 4);
    double d = timeit(rows_dense);
    printf("1. Y = X W^T, batch %d: OpenBLAS %.3f ms\n", B, d);
    for (param = 0; param <= 32; param += 16) {
        rows_tiles();
        double e = maxdiff(Y, Yref, (size_t)B * H), t = timeit(rows_tiles);
        printf("   workspace at 64-byte boundary + %2d bytes: %.3f ms (%.2fx OpenBLAS), max |diff| %.1e\n", param, t, d / t, e);
    }

    one_dense(); memcpy(yvref, yv, (size_t)H * 4);
    d = timeit(one_dense);
    printf("2. y = W x: OpenBLAS %.4f ms\n", d);
    struct { const char *name; void (*f)(void); } ones[] = {
        {"scalar gathers (C)", one_scalar}, {"16-lane AVX-512 gather", one_gather16}, {"8-lane AVX2 gather (moduli)", one_gather8}};
    for (int q = 0; q < 3; q++) {
        ones[q].f();
        double e = maxdiff(yv, yvref, (size_t)H), t = timeit(ones[q].f);
        printf("   %-28s %.4f ms (%.2fx OpenBLAS), max |diff| %.1e\n", ones[q].name, t, d / t, e);
    }

    memset(G, 0, (size_t)H * H * 4); sd_dense(); memcpy(Gref, G, (size_t)H * H * 4);
    d = timeit(sd_dense);
    printf("3. dW at the kept entries, %d rows: OpenBLAS (full product, 128-row slices) %.1f ms\n", N, d);
    struct { int mode, tile; const char *name; } sds[] = {
        {0, 32, "32-row tiles, one entry at a time"}, {1, 128, "128-row tiles, four at a time, one pass"},
        {1, 256, "256-row tiles, four at a time, one pass"}, {2, 256, "256-row tiles, 1024-column blocks (moduli)"}};
    for (int q = 0; q < 4; q++) {
        mode = sds[q].mode; param = sds[q].tile;
        memset(G, 0, (size_t)H * H * 4); sd_tiles();
        double e = sd_check(), t = timeit(sd_tiles);
        printf("   %-44s %.1f ms (%.2fx OpenBLAS), max |diff| %.1e\n", sds[q].name, t, d / t, e);
    }
    return 0;
}
