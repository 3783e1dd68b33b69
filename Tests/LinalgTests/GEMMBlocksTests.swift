// Dense products cut into blocks on the worker pool (`GEMMBlocks`): the same bits at 1, 2 and 3
// threads, for every transpose and both split directions, and the values of naive Double loops.
import Testing
import Linalg
import _TestSupport

@Suite(.serialized) struct GEMMBlocksTests {
    /// Row-major `op(X)[r, c]` of a matrix stored `rows x columns` (as stored) with leading dimension `ld`.
    static func element(_ x: [Float], _ t: Transpose, _ r: Int, _ c: Int, ld: Int) -> Double {
        Double(t == .noTranspose ? x[r * ld + c] : x[c * ld + r])
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float(rng.uniform(-1, 1)) }
    }

    /// Shapes that split by rows (m >= n), by columns, and one too small to split.
    static let shapes: [(m: Int, n: Int, k: Int)] = [(700, 200, 40), (90, 520, 100), (150, 170, 20)]

    @Test(arguments: [Transpose.noTranspose, .transpose], [Transpose.noTranspose, .transpose])
    func gemmIsTheSameAtEveryThreadCountAndMatchesNaiveLoops(transA: Transpose, transB: Transpose) {
        BLASThreads.set(1)
        for (m, n, k) in Self.shapes {
            let lda = (transA == .noTranspose ? k : m) + 3, ldb = (transB == .noTranspose ? n : k) + 5, ldc = n + 2
            let a = Self.values((transA == .noTranspose ? m : k) * lda, seed: 1)
            let b = Self.values((transB == .noTranspose ? k : n) * ldb, seed: 2)
            let c0 = Self.values(m * ldc, seed: 3)
            var results: [[Float]] = []
            withThreadCounts([1, 2, 3], chunk: 0) { _ in
                var c = c0
                Float.gemm(transA, transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: &c, ldc: ldc)
                results.append(c)
            }
            #expect(results.allSatisfy { $0 == results[0] }, "m \(m) n \(n) k \(k) \(transA) \(transB): thread counts differ")
            var worst = 0.0
            for r in 0..<m {
                for col in 0..<n {
                    var sum = 0.0
                    for p in 0..<k { sum += Self.element(a, transA, r, p, ld: lda) * Self.element(b, transB, p, col, ld: ldb) }
                    let expected = 0.5 * sum + 2 * Double(c0[r * ldc + col])
                    worst = max(worst, abs(Double(results[0][r * ldc + col]) - expected))
                }
            }
            #expect(worst < 1e-4, "m \(m) n \(n) k \(k) \(transA) \(transB): off by \(worst)")
            // Past the n columns of each row (the leading dimension's padding), C is untouched.
            #expect((0..<m).allSatisfy { r in (n..<ldc).allSatisfy { results[0][r * ldc + $0] == c0[r * ldc + $0] } })
        }
    }

    @Test(arguments: [Transpose.noTranspose, .transpose])
    func gemvIsTheSameAtEveryThreadCountAndMatchesNaiveLoops(transA: Transpose) {
        BLASThreads.set(1)
        let m = 1500, n = 900, lda = n + 1
        let a = Self.values(m * lda, seed: 4)
        let outputs = transA == .noTranspose ? m : n, inputs = transA == .noTranspose ? n : m
        let x = Self.values(inputs, seed: 5), y0 = Self.values(outputs, seed: 6)
        var results: [[Float]] = []
        withThreadCounts([1, 2, 3], chunk: 0) { _ in
            var y = y0
            Float.gemv(transA, m: m, n: n, alpha: 1, a: a, lda: lda, x: x, incx: 1, beta: -1, y: &y, incy: 1)
            results.append(y)
        }
        #expect(results.allSatisfy { $0 == results[0] }, "\(transA): thread counts differ")
        var worst = 0.0
        for i in 0..<outputs {
            var sum = 0.0
            for j in 0..<inputs { sum += Double(transA == .noTranspose ? a[i * lda + j] : a[j * lda + i]) * Double(x[j]) }
            worst = max(worst, abs(Double(results[0][i]) - (sum - Double(y0[i]))))
        }
        #expect(worst < 1e-4, "\(transA): off by \(worst)")
    }

    /// The product where OpenBLAS's own threads change the bits (the small language model's dX = dY W:
    /// 700 x 200, k = 18,328, differed in 76,172 of 140,000 entries between 1 and 2 OpenBLAS threads):
    /// through `Float.gemm` with OpenBLAS at one thread, the same bits on 1, 2 and 3 pool threads.
    @Test func aLongReductionIsTheSameAtEveryThreadCount() {
        BLASThreads.set(1)
        let m = 700, n = 200, k = 18_328
        let a = Self.values(m * k, seed: 7), b = Self.values(k * n, seed: 8)
        var results: [[Float]] = []
        withThreadCounts([1, 2, 3], chunk: 0) { _ in
            var c = [Float](repeating: 0, count: m * n)
            Float.gemm(.noTranspose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: &c, ldc: n)
            results.append(c)
        }
        #expect(results.allSatisfy { $0 == results[0] })
        // A few entries against Double sums.
        for (r, col) in [(0, 0), (349, 101), (699, 199)] {
            let expected = (0..<k).reduce(0.0) { $0 + Double(a[r * k + $1]) * Double(b[$1 * n + col]) }
            #expect(abs(Double(results[0][r * n + col]) - expected) < 1e-2, "entry (\(r), \(col))")
        }
    }
}
