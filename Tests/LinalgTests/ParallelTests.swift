// The worker pool: every chunk runs exactly once, nested calls run on the caller, fixed-chunk
// reductions do not depend on the thread count; and the sparse kernels on the pool give the same
// bits at 1, 2, 3 and 4 threads and match the naive loops.
import Synchronization
import Testing
import Linalg
import _TestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite(.serialized) struct ParallelTests {
    @Test func everyChunkRunsExactlyOnceInOrder() {
        withThreadCounts([1, 2, 3, 4], chunk: 0) { n in
            for count in [0, 1, 2, 3, 5, 64, 1000, 12345] {
                for minimum in [1, 7, 1000] {
                    for perThread in [1, Parallel.chunksPerThread] {
                        let hits = Mutex([Int](repeating: 0, count: count))
                        let ranges = Mutex<[Range<Int>]>([])
                        let before = Parallel.threadCount
                        Parallel.forEachChunk(count: count, minimumChunk: minimum, perThread: perThread) { r in
                            hits.withLock { for i in r { $0[i] += 1 } }
                            ranges.withLock { $0.append(r) }
                        }
                        let once = hits.withLock { $0.allSatisfy { $0 == 1 } }
                        #expect(once, "threads \(n) count \(count) minimum \(minimum): an index ran other than once")
                        let sorted = ranges.withLock { $0.sorted { $0.lowerBound < $1.lowerBound } }
                        let expected = count == 0 ? 0 : before == 1 ? 1 : max(1, min(before * perThread, count / minimum))
                        #expect(
                            before == n && sorted.count == expected,
                            "threads \(before) count \(count) minimum \(minimum) per thread \(perThread): \(sorted.count) chunks")
                        #expect(sorted.allSatisfy { !$0.isEmpty }, "an empty chunk ran")
                        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                    }
                }
            }
        }
    }

    @Test(.enabled(if: Parallel.canFlushSubnormals, "this CPU has no flush-to-zero mode"))
    func workersRunUnderTheCallersSubnormalMode() throws {
        let before = Parallel.flushesSubnormals
        defer { Parallel.setFlushesSubnormals(before) }
        // 1e-30 x 1e-10 is subnormal in Float: zero under flush-to-zero, about 1e-40 otherwise.
        let tiny = [Float](repeating: 1e-30, count: 64), scale = Float(1e-10)
        withThreadCounts([1, 3], chunk: 0) { n in
            for flush in [true, false, true] {
                Parallel.setFlushesSubnormals(flush)
                #expect(Parallel.flushesSubnormals == flush)
                let caller = pthread_self()
                let onWorkers = Atomic<Int>(0), wrong = Atomic<Int>(0)
                for _ in 0..<200 {
                    Parallel.forEachChunk(count: tiny.count, minimumChunk: 1) { r in
                        if pthread_equal(pthread_self(), caller) == 0 { onWorkers.add(1, ordering: .relaxed) }
                        for i in r {
                            let p = tiny[i] * scale
                            if flush ? p != 0 : !(p > 0 && p < Float.leastNormalMagnitude) { wrong.add(1, ordering: .relaxed) }
                        }
                        usleep(20)  // so that the workers take chunks too
                    }
                }
                #expect(wrong.load(ordering: .relaxed) == 0, "threads \(n), flush \(flush): a product in the wrong mode")
                #expect(n == 1 || onWorkers.load(ordering: .relaxed) > 0, "threads \(n): no chunk ran on a worker")
            }
        }
    }

    @Test func everyWorkerTakesPartInSomeCall() {
        // The workers claim chunks: over many calls some chunk runs on a thread other than the caller's.
        withThreadCounts([2, 4], chunk: 0) { n in
            let caller = pthread_self()
            let others = Atomic<Int>(0)
            for _ in 0..<500 {
                Parallel.forEachChunk(count: n, minimumChunk: 1) { _ in
                    if pthread_equal(pthread_self(), caller) == 0 { others.add(1, ordering: .relaxed) }
                    usleep(20)
                }
            }
            #expect(others.load(ordering: .relaxed) > 0, "threads \(n): no chunk ran on a worker")
        }
    }

    @Test func nestedCallsRunOnTheCaller() {
        withThreadCounts([2, 3]) { n in
            let total = 97, inner = 31
            let hits = Mutex([Int](repeating: 0, count: total * inner))
            Parallel.forEachChunk(count: total, minimumChunk: 1) { outer in
                for i in outer {
                    Parallel.forEachChunk(count: inner, minimumChunk: 1) { r in
                        hits.withLock { for j in r { $0[i * inner + j] += 1 } }
                    }
                }
            }
            #expect(hits.withLock { $0.allSatisfy { $0 == 1 } }, "threads \(n): a nested index ran other than once")
        }
    }

    @Test func fixedChunkSumsAreTheSameForEveryThreadCount() {
        var rng = SeededGenerator(seed: 19)
        let x: [Float] = (0..<100_003).map { _ in Float(rng.normal()) * 1e3 }
        var sums = [Float]()
        withThreadCounts([1, 2, 3, 4]) { _ in
            let partial = Parallel.chunkResults(count: x.count, chunk: 1000) { r in r.reduce(Float(0)) { $0 + x[$1] } }
            #expect(partial.count == 101)
            sums.append(partial.reduce(0, +))
        }
        // The oracle: the same fixed chunks summed serially.
        let want = stride(from: 0, to: x.count, by: 1000).map { x[$0..<min(x.count, $0 + 1000)].reduce(Float(0), +) }.reduce(0, +)
        #expect(sums.allSatisfy { $0.bitPattern == want.bitPattern }, "sums \(sums), want \(want)")
    }

    @Test func dispatchRoundTripIsMeasured() {
        withThreadCounts([2], chunk: 0) { _ in
            let ns = Parallel.measureDispatchNanoseconds(repeats: 201)
            #expect(ns > 0 && ns < 10_000_000, "round trip \(ns) ns")
        }
    }
}

@Suite(.serialized) struct ParallelSparseKernelTests {
    /// Every output of every kernel of `format` on one problem, as bit patterns.
    static func outputs(format: SparseFormat, rows: Int, columns: Int) -> [[UInt32]] {
        let (values, mask): (Matrix<Float>, Matrix<Float>) = SparseKernelTests.problem(rows: rows, columns: columns, sparsity: 0.7, seed: 5)
        let a = SparseUnderTest(format, dense: values, mask: mask)
        var rng = SeededGenerator(seed: 6)
        var results = [[UInt32]]()
        for batch in [1, 5, 40, 300] {
            for kind in Kernel.allCases {
                let transposedOp = kind == .transposedColumns || kind == .transposedRows
                let (m, k) = transposedOp ? (columns, rows) : (rows, columns)
                let x: Matrix<Float> = rng.normalMatrix(rows: k * batch, columns: 1)
                for accumulate in [false, true] {
                    var y: Matrix<Float> = rng.normalMatrix(rows: m * batch, columns: 1)
                    x.withUnsafeBufferPointer { px in
                        y.withUnsafeMutableBufferPointer {
                            a.run(kind, px.baseAddress!, batch: batch, $0.baseAddress!, accumulate: accumulate)
                        }
                    }
                    results.append(y.scalars.map(\.bitPattern))
                }
            }
        }
        for count in [3, 300] {
            let l: Matrix<Float> = rng.normalMatrix(rows: count, columns: rows)
            let r: Matrix<Float> = rng.normalMatrix(rows: count, columns: columns)
            var g: Matrix<Float> = rng.normalMatrix(rows: rows, columns: columns)
            l.withUnsafeBufferPointer { pl in
                r.withUnsafeBufferPointer { pr in
                    g.withUnsafeMutableBufferPointer {
                        a.sddmm(pl.baseAddress!, pr.baseAddress!, count: count, $0.baseAddress!, ldg: columns)
                    }
                }
            }
            results.append(g.scalars.map(\.bitPattern))
        }
        var refreshed = a
        let changed: Matrix<Float> = rng.normalMatrix(rows: rows, columns: columns)
        refreshed.refresh(changed)
        results.append(refreshed.dense.scalars.map(\.bitPattern))
        return results
    }

    @Test(arguments: SparseKernelTests.formats)
    func everyThreadCountGivesTheSameBits(format: SparseFormat) {
        var reference = [[UInt32]]()
        withThreadCounts([1, 2, 3, 4]) { n in
            let got = Self.outputs(format: format, rows: 83, columns: 67)
            if n == 1 { reference = got; return }
            for (index, (g, w)) in zip(got, reference).enumerated() {
                let first = g.indices.first { $0 >= w.count || g[$0] != w[$0] }
                #expect(
                    g.count == w.count && first == nil, "\(format) threads \(n): output \(index) differs from 1 thread at \(first ?? -1)")
            }
        }
    }

    @Test(arguments: SparseKernelTests.formats)
    func kernelsOnThreeThreadsMatchNaiveLoops(format: SparseFormat) {
        withThreadCounts([3]) { _ in
            for (rows, columns) in [(13, 11), (40, 24)] {
                SparseKernelTests().checkKernels(Float.self, format: format, rows: rows, columns: columns, sparsity: 0.5, seed: 11)
                SparseKernelTests().checkKernels(Double.self, format: format, rows: rows, columns: columns, sparsity: 0.9, seed: 12)
            }
        }
    }
}

@Suite struct ParallelElementKernelTests {
    /// The element and row kernels on the pool against their loops written out here, bit for bit,
    /// at 1 to 4 threads; the sum of squares against the same fixed chunks summed serially.
    @Test func elementKernelsMatchTheirLoopsAtEveryThreadCount() {
        var rng = SeededGenerator(seed: 23)
        let rows = 37, columns = 29, n = rows * columns
        let x: [Float] = (0..<n).map { _ in Float(rng.normal()) }
        let g: [Float] = (0..<n).map { _ in Float(rng.normal()) }
        let o: [Float] = (0..<n).map { _ in Float(rng.normal()) }
        let v: [Float] = (0..<columns).map { _ in Float(rng.normal()) }
        let reluWant = x.map { $0 < 0 ? 0 : $0 }
        let reluBackWant = (0..<n).map { reluWant[$0] > 0 ? g[$0] + o[$0] : 0 }
        let tanhBackWant = (0..<n).map { g[$0] * (1 - x[$0] * x[$0]) }
        let rowWant = (0..<n).map { x[$0] + v[$0 % columns] }
        var columnWant = v
        for r in 0..<rows { for c in 0..<columns { columnWant[c] += x[r * columns + c] } }
        let big: [Float] = (0..<50_001).map { _ in Float(rng.normal()) }
        var squaresWant = 0.0
        for start in stride(from: 0, to: big.count, by: Kernels.sumOfSquaresChunk) {
            var s = 0.0
            for i in start..<min(big.count, start + Kernels.sumOfSquaresChunk) { s += Double(big[i]) * Double(big[i]) }
            squaresWant += s
        }
        withThreadCounts([1, 2, 3, 4]) { t in
            var relu = x
            Kernels.reluInPlace(&relu, count: n)
            #expect(relu == reluWant, "threads \(t): reluInPlace")
            var d = [Float](repeating: .nan, count: n)
            Kernels.reluBackward(output: reluWant, gradient: g, extra: o, into: &d, count: n)
            #expect(d == reluBackWant, "threads \(t): reluBackward")
            Kernels.tanhBackward(output: x, gradient: g, extra: nil, into: &d, count: n)
            #expect(d == tanhBackWant, "threads \(t): tanhBackward")
            var y = x
            Kernels.addRowVector(&y, rows: rows, columns: columns, v)
            #expect(y == rowWant, "threads \(t): addRowVector")
            var sums = v
            Kernels.addColumnSums(x, rows: rows, columns: columns, into: &sums)
            #expect(sums == columnWant, "threads \(t): addColumnSums")
            let squares = Kernels.sumOfSquares(big, count: big.count)
            #expect(squares.bitPattern == squaresWant.bitPattern, "threads \(t): sumOfSquares \(squares), want \(squaresWant)")
        }
    }
}
