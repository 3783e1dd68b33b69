// Runs test code on the worker pool at given thread counts, one test at a time.
import Linalg
import Synchronization

/// Held while a test runs code at chosen thread counts, so that two such tests never change the
/// pool's size under each other.
private let threadCountLock = Mutex(())

/// Runs `body` at each thread count with every loop split into chunks of `chunk` (0: the loops'
/// own minimum chunks; 1 makes small test problems use every thread), the pool pinned at that size
/// so that trainers of other tests cannot resize it meanwhile; afterwards the pin ends and the
/// loops' own chunks return. Other tests may run meanwhile; the pool's results do not depend on
/// the thread count, so they stay right.
public func withThreadCounts(_ counts: [Int], chunk: Int = 1, _ body: (Int) -> Void) {
    threadCountLock.withLock { _ in
        Parallel.setMinimumChunkOverride(chunk)
        defer {
            Parallel.unpinThreadCount()
            Parallel.setMinimumChunkOverride(0)
        }
        for n in counts {
            Parallel.pinThreadCount(n)
            body(n)
        }
    }
}
