// One pool of worker threads per process for the kernels' loops: the sparse products, the
// elementwise and row kernels, the optimizers and the penalty split their work into contiguous
// chunks, and the calling thread runs chunks beside the workers. Deterministic by construction:
// a chunk is a fixed range of outputs that one thread computes in the loop's own order, so the
// result does not depend on which thread ran it or on how many threads there are.
import CSparseKernels
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's worker pool: `setThreadCount(n)` sizes it (n - 1 workers; the caller is the n-th
/// thread), `forEachChunk` runs a loop's chunks on it.
///
/// - Results: every kernel that runs on the pool gives bit-identical results for every thread
///   count. A chunk is a range of outputs computed by one thread in the serial loop's order;
///   reductions sum fixed chunks whose boundaries do not depend on the thread count
///   (`chunkResults`) and combine the partial results in chunk order on the caller.
/// - Small work: a loop with fewer than two chunks of `minimumChunk` runs on the caller alone.
/// - Nesting and concurrency: while one call runs on the pool, any other call (a chunk body that
///   calls a parallel kernel, or another thread of the program) runs its loop on its own thread,
///   serially; nothing waits for the pool.
/// - Waiting: between calls a worker spins for `spinNanoseconds` (so that the 50 small products of a
///   training step find it awake), then sleeps on a condition variable, so that it does not hold a
///   core while another program (or OpenBLAS with threads of its own, outside training) runs. The caller claims every chunk no worker
///   has claimed yet, so a sleeping worker never delays a call; it only leaves its share to others.
public enum Parallel {
    /// Upper bound of `setThreadCount`.
    public static let maximumThreadCount = 256

    /// How long an idle worker spins before it sleeps: 50 microseconds, several times the gap
    /// between two kernel calls of a training step and a small fraction of one GEMM call.
    public static let spinNanoseconds = 50_000

    /// The least number of entries an elementwise loop (an activation, an optimizer update, a
    /// mask, a column sum) hands to one thread: about 20 microseconds of streaming, enough to pay
    /// for waking a worker that went to sleep between the small kernels of a small step (at 16,384
    /// the adding model's K 27 step took 0.6 ms at 2 threads against 0.4 at 1, its bias gradients'
    /// column sums waking the worker each time; at 65,536 both take 0.4 ms, and the pruned Ng 1024
    /// navigation step is unchanged: docs/decisions.md 32, BENCHMARKS.md).
    public static let minimumElementwiseChunk = 65536

    /// Whether the calling thread flushes subnormal results to zero and reads subnormal inputs as
    /// zero (x86 FTZ and DAZ, AArch64 FZ). Weights that shrink geometrically (a strong proximal
    /// step, a decaying state) reach Float's subnormal range, where x86 arithmetic runs through
    /// microcode: a navigation run whose weights went there trained at 4 steps/s against 22
    /// (docs/decisions.md 37); training and step timing run inside `withSubnormalsFlushed`.
    /// Workers take the calling thread's mode with each call, so a result does not depend on which
    /// thread computed it.
    public static var flushesSubnormals: Bool { canFlushSubnormals && moduli_subnormal_mode() == moduli_flush_subnormals_mode() }

    /// Whether this CPU has a mode that flushes subnormals (x86-64 and AArch64 do).
    public static var canFlushSubnormals: Bool { moduli_flush_subnormals_mode() != 0 }

    /// Sets `flushesSubnormals` for the calling thread.
    public static func setFlushesSubnormals(_ on: Bool) { moduli_set_subnormal_mode(on ? moduli_flush_subnormals_mode() : 0) }

    /// Runs `body` with the calling thread (and so every pool call it makes) flushing subnormals,
    /// then gives the thread its mode back, so that code after it (a caller's own arithmetic, the
    /// next test on a test runner's thread) computes as before.
    public static func withSubnormalsFlushed<R>(_ body: () throws -> R) rethrows -> R {
        let saved = moduli_subnormal_mode()
        setFlushesSubnormals(true)
        defer { moduli_set_subnormal_mode(saved) }
        return try body()
    }

    /// Sets the number of threads the pool runs loops on (the caller and `count - 1` workers),
    /// clamped to 1 ... `maximumThreadCount`. Waits for a call in progress to finish.
    public static func setThreadCount(_ count: Int) { WorkerPool.shared.resize(max(1, min(count, maximumThreadCount))) }

    /// The number of threads the pool runs loops on (1 until `setThreadCount` is called).
    public static var threadCount: Int { WorkerPool.shared.threads.load(ordering: .relaxed) }

    /// Chunks per thread of a large loop: threads claim chunks as they come free, so that a thread
    /// on a slower core takes fewer of them. On this project's 2-core VM, of two copies of the same
    /// single-threaded step side by side, the slower took 2-34% longer than one alone, and with one
    /// chunk per thread every call waited for the slow core (docs/decisions.md 36).
    public static let chunksPerThread = 4

    /// Splits `0..<count` into contiguous ranges of at least `minimumChunk`, at most
    /// `perThread` per thread, and runs `body` once on each, on the caller and the workers, each
    /// thread claiming the next range when it is done with one; returns when every range is done.
    /// With one range (small `count`, one thread, or a call already on the pool) `body(0..<count)`
    /// runs on the caller. Ranges are in increasing order and cover `0..<count` exactly once;
    /// count 0 calls nothing.
    public static func forEachChunk(
        count: Int, minimumChunk: Int, perThread: Int = chunksPerThread, _ body: (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let threads = threadCount
        let forced = WorkerPool.shared.minimumChunkOverride.load(ordering: .relaxed)
        let minimum = forced > 0 ? forced : minimumChunk
        let chunks = threads <= 1 ? 1 : min(threads * max(1, perThread), count / max(1, minimum), WorkerPool.maximumChunks)
        if chunks <= 1 { body(0..<count); return }
        WorkerPool.shared.run(count: count, chunks: chunks, body)
    }

    /// The results of `partial` on the fixed chunks `0..<chunk`, `chunk..<2 chunk`, ... of
    /// `0..<count` (the last one shorter), in chunk order, computed on the pool when there are at
    /// least `minimumChunks` chunks. The boundaries do not depend on the thread count, so a sum of
    /// the results in this order is the same for every thread count.
    public static func chunkResults<R>(
        count: Int, chunk: Int, minimumChunks: Int = 2, _ partial: (Range<Int>) -> R
    ) -> [R] {
        guard count > 0 else { return [] }
        let size = max(1, chunk), n = (count + size - 1) / size
        if n < max(2, minimumChunks) || threadCount <= 1 {
            return (0..<n).map { partial(($0 * size)..<min(count, ($0 + 1) * size)) }
        }
        return [R](unsafeUninitializedCapacity: n) { buffer, initialized in
            let base = buffer.baseAddress!
            forEachChunk(count: n, minimumChunk: 1) { range in
                for c in range { (base + c).initialize(to: partial((c * size)..<min(count, (c + 1) * size))) }
            }
            initialized = n
        }
    }

    /// Test support: holds the pool at `count` threads until `unpinThreadCount()`, whatever
    /// `setThreadCount` is called with meanwhile (a trainer of another test in the same process),
    /// so that a test can check the pool's split at the sizes it chose.
    package static func pinThreadCount(_ count: Int) {
        WorkerPool.shared.resize(0, pin: max(1, min(count, maximumThreadCount)))
    }

    /// Ends `pinThreadCount`: the pool takes the size `setThreadCount` asked for last.
    package static func unpinThreadCount() { WorkerPool.shared.resize(0, pin: 0) }

    /// Test support: replaces every call's `minimumChunk` by `chunk` (0 restores them), so that
    /// small test problems split over the threads.
    package static func setMinimumChunkOverride(_ chunk: Int) {
        WorkerPool.shared.minimumChunkOverride.store(max(0, chunk), ordering: .relaxed)
    }

    /// The round trip of one `forEachChunk` call with an empty body on every thread, in
    /// nanoseconds (the median of `repeats` calls): the overhead a parallel loop must outweigh.
    public static func measureDispatchNanoseconds(repeats: Int = 2001) -> Int {
        var times = [Int]()
        times.reserveCapacity(repeats)
        let threads = threadCount
        for _ in 0..<repeats {
            let start = WorkerPool.nanoseconds()
            forEachChunk(count: threads, minimumChunk: 1) { _ in }
            times.append(WorkerPool.nanoseconds() - start)
        }
        times.sort()
        return times[times.count / 2]
    }
}

/// The threads behind `Parallel`. One job at a time: `busy` admits one caller; the job's
/// descriptor (a pointer to the caller's `Job`) and its state word are published together, and
/// workers and the caller claim chunk indices from the state word with a compare-and-swap.
///
/// The state word packs the job's generation (high 32 bits), its number of chunks (16 bits) and the
/// next unclaimed chunk (16 bits). A claim succeeds only while the generation is the one the
/// claimer read the descriptor under and chunks remain, so a worker that wakes late never runs a
/// chunk of a finished job; the caller returns only when `done` counts every chunk.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()
    /// The most chunks of one job (the 16 bits of the state word, with room to spare).
    static let maximumChunks = 4096

    struct Job {
        let count: Int
        let chunks: Int
        let body: (Range<Int>) -> Void
        /// The caller's subnormal mode (`Parallel.flushesSubnormals`), which every chunk runs under.
        let subnormalMode: UInt32
    }

    /// Chunk `index` of `chunks` contiguous ranges covering `0..<count`.
    static func range(_ index: Int, count: Int, chunks: Int) -> Range<Int> {
        (index * count / chunks)..<((index + 1) * count / chunks)
    }

    let threads = Atomic<Int>(1)
    let minimumChunkOverride = Atomic<Int>(0)
    private let state = Atomic<UInt64>(0)
    private let job = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    /// Workers with an index at or above this leave their loop.
    private let active = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// The workers' threads; changed only by `resize` while it holds `busy`.
    private var workers: [pthread_t] = []

    private init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    static func nanoseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    private static func generation(_ s: UInt64) -> UInt64 { s >> 32 }
    private static func chunkCount(_ s: UInt64) -> Int { Int((s >> 16) & 0xFFFF) }
    private static func nextChunk(_ s: UInt64) -> Int { Int(s & 0xFFFF) }

    /// Takes the pool for one job or a resize: false when another call holds it.
    private func acquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    /// The size `setThreadCount` asked for last, and the size a test pinned (0: none); both
    /// read and written only while `busy` is held.
    private var requested = 1
    private var pinned = 0

    /// Sizes the pool to `n` threads, or, with `pin`, holds it at `pin` threads until a call with
    /// `pin: 0` (meanwhile `setThreadCount` only records its size, applied when the pin ends).
    func resize(_ n: Int, pin: Int? = nil) {
        while !acquire() { moduli_spin_pause() }
        defer { busy.store(false, ordering: .releasing) }
        if let pin { pinned = pin } else { requested = n }
        let wanted = (pinned > 0 ? pinned : requested) - 1
        if wanted < workers.count {
            active.store(wanted, ordering: .sequentiallyConsistent)
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
            for t in workers[wanted...] { pthread_join(t, nil) }
            workers.removeLast(workers.count - wanted)
        } else if wanted > workers.count {
            active.store(wanted, ordering: .sequentiallyConsistent)
            for index in workers.count..<wanted {
                let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
                var thread = pthread_t()
                let rc = pthread_create(
                    &thread, nil,
                    { raw in
                        let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                        context.pool.workerLoop(index: context.index)
                        return nil
                    }, context)
                guard rc == 0 else {
                    // No more threads: run with the ones there are.
                    Unmanaged<WorkerContext>.fromOpaque(context).release()
                    active.store(workers.count, ordering: .sequentiallyConsistent)
                    break
                }
                workers.append(thread)
            }
        }
        threads.store(workers.count + 1, ordering: .relaxed)
    }

    /// Runs `chunks` (2 or more) chunks of `0..<count` on the caller and the workers.
    func run(count: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
        guard acquire() else {
            // The pool is taken (a nested call, or another thread's): the same ranges, one after
            // another on the caller, so a call's ranges never depend on what else runs.
            for index in 0..<chunks { body(Self.range(index, count: count, chunks: chunks)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var descriptor = Job(count: count, chunks: chunks, body: body, subnormalMode: moduli_subnormal_mode())
            withUnsafeMutablePointer(to: &descriptor) { pointer in
                let previous = state.load(ordering: .relaxed)
                let g = (Self.generation(previous) &+ 1) & 0xFFFF_FFFF
                done.store(0, ordering: .relaxed)
                job.store(Int(bitPattern: pointer), ordering: .releasing)
                state.store(g << 32 | UInt64(chunks) << 16, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex)
                    pthread_cond_broadcast(condition)
                    pthread_mutex_unlock(mutex)
                }
                runChunks(generation: g)
                // The workers' last chunks: spin, yielding the core now and then in case a worker
                // was descheduled (a busy machine).
                var spins = 0
                while done.load(ordering: .acquiring) < chunks {
                    moduli_spin_pause()
                    spins += 1
                    if spins & 1023 == 0 { sched_yield() }
                }
            }
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims and runs chunks of the job of generation `g` until none is left.
    private func runChunks(generation g: UInt64) {
        while true {
            let s = state.load(ordering: .acquiring)
            let next = Self.nextChunk(s), chunks = Self.chunkCount(s)
            guard Self.generation(s) == g, next < chunks else { return }
            let address = job.load(ordering: .acquiring)
            guard state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            // The claim succeeded under generation g, so the job is not finished and `address` is its descriptor.
            guard let pointer = UnsafePointer<Job>(bitPattern: address) else { return }
            Self.runChunk(pointer, next, chunks)
            done.add(1, ordering: .releasing)
        }
    }

    /// Chunk `index` of the job at `pointer`; a function of its own, so that every reference it
    /// takes to the job's closure is released before the chunk is counted as done.
    @inline(never)
    private static func runChunk(_ pointer: UnsafePointer<Job>, _ index: Int, _ chunks: Int) {
        let mode = pointer.pointee.subnormalMode
        if moduli_subnormal_mode() != mode { moduli_set_subnormal_mode(mode) }
        pointer.pointee.body(Self.range(index, count: pointer.pointee.count, chunks: pointer.pointee.chunks))
    }

    private func workerLoop(index: Int) {
        var seen = Self.generation(state.load(ordering: .acquiring))
        while true {
            // Spin for a new job, then sleep until one comes or the worker is told to leave.
            let start = Self.nanoseconds()
            var s = state.load(ordering: .acquiring)
            var spins = 0
            while Self.generation(s) == seen && index < active.load(ordering: .relaxed) {
                moduli_spin_pause()
                spins += 1
                if spins & 31 == 0 && Self.nanoseconds() - start > Parallel.spinNanoseconds { break }
                s = state.load(ordering: .acquiring)
            }
            if Self.generation(s) == seen {
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                s = state.load(ordering: .sequentiallyConsistent)
                while Self.generation(s) == seen && index < active.load(ordering: .sequentiallyConsistent) {
                    pthread_cond_wait(condition, mutex)
                    s = state.load(ordering: .sequentiallyConsistent)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            if index >= active.load(ordering: .sequentiallyConsistent) { return }
            seen = Self.generation(s)
            runChunks(generation: seen)
        }
    }
}

/// What a worker thread starts with.
private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
