// What the moduli process does before anything else: standard streams that exist, and no death
// by SIGPIPE when its output goes to a pipe that closes early (`moduli ... | head -1`).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide setup for the command-line tool.
public enum ProcessSetup {
    /// Opens /dev/null onto each of the file descriptors 0, 1 and 2 that is closed (so that the
    /// first file the program opens never becomes its stderr, as with `moduli ... 2>&-`), and
    /// ignores SIGPIPE, so that writing to a closed pipe fails with EPIPE instead of killing the
    /// process. Call it first thing in `main`.
    public static func prepareStandardStreams() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                _ = close(opened)
            }
        }
        _ = signal(SIGPIPE, SIG_IGN)
    }
}
