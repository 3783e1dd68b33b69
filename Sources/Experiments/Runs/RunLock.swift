// An exclusive lock on a run directory, so that two moduli processes never write into one run.
// flock(2) on the directory itself: the kernel drops it when the process ends, however it ends,
// and no lock file is left behind.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Holds an exclusive flock(2) on a directory until `release()` or deinitialization.
///
/// flock belongs to the open file description, so a second `RunLock` on the same directory
/// conflicts even within one process.
final class RunLock: @unchecked Sendable {
    /// The locked directory.
    let path: String
    private var descriptor: Int32
    private let guardian = NSLock()

    /// How long a lock held elsewhere is retried before it counts as taken: `attempts` tries,
    /// `pause` microseconds apart (one second in all). A lock this process has just released can
    /// look held for a moment: a child process that another thread is starting holds a copy of
    /// every descriptor from fork until exec, where O_CLOEXEC closes it, and the lock with it.
    static let contention: (attempts: Int, pause: useconds_t) = (40, 25_000)

    /// Locks `path` (a directory), waiting at most `contention` for a holder to let go. Throws
    /// when another process (or another open of this process) still holds the lock. On a file
    /// system without flock support the directory is used unlocked (nothing else can be done there).
    init(directory path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw ExperimentError("Cannot open the output directory \(path): \(FileIO.errorText(e)). Choose a readable and writable --out.")
        }
        var attempts = 1
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            if e == EWOULDBLOCK && attempts < Self.contention.attempts {
                attempts += 1
                usleep(Self.contention.pause)
                continue
            }
            if e == EWOULDBLOCK {
                close(fd)
                throw ExperimentError(
                    """
                    Another moduli process is using the run directory \(path). Wait for it to finish (or stop it), or choose another \
                    --out.
                    """
                )
            }
            if e == ENOLCK || e == EOPNOTSUPP || e == ENOTSUP || e == EINVAL { break }
            close(fd)
            throw ExperimentError("Cannot lock the run directory \(path): \(FileIO.errorText(e)). Choose another --out.")
        }
        descriptor = fd
    }

    /// Releases the lock now (idempotent).
    func release() {
        guardian.lock()
        defer { guardian.unlock() }
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    /// Whether the lock is still held by this value.
    var isHeld: Bool {
        guardian.lock()
        defer { guardian.unlock() }
        return descriptor >= 0
    }

    deinit { if descriptor >= 0 { close(descriptor) } }
}
