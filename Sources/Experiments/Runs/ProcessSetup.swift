// What the moduli process does before anything else: standard streams that exist, no death by
// SIGPIPE when its output goes to a pipe that closes early (`moduli ... | head -1`), and freed
// buffers kept for the next training step, and OpenBLAS kernels that fit the CPU.
import Foundation
import Linalg
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
    /// process, and SIGXFSZ, so that a write past the file-size limit (`ulimit -f`) fails with
    /// EFBIG and becomes a message naming the file instead of killing the process. Call it first
    /// thing in `main`.
    public static func prepareStandardStreams() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                _ = close(opened)
            }
        }
        _ = signal(SIGPIPE, SIG_IGN)
        _ = signal(SIGXFSZ, SIG_IGN)
    }

    /// The environment variable `moduli sweep` sets for its runs: the sweep's process id.
    public static let sweepParentVariable = "MODULI_SWEEP_PARENT"

    /// In a run that `moduli sweep` started (`MODULI_SWEEP_PARENT` set to the sweep's process id):
    /// asks the kernel for SIGTERM when the sweep dies, however it dies (SIGKILL included), so the
    /// run stops at its next step with a checkpoint instead of training on as an orphan; when the
    /// sweep is already gone, requests the stop at once. Linux only; elsewhere nothing.
    public static func watchSweepParent() {
        guard let value = getenv(sweepParentVariable), let parent = pid_t(String(cString: value)) else { return }
        unsetenv(sweepParentVariable)
        #if os(Linux)
            StopRequest.installHandlers()  // before the signal can come
            let setParentDeathSignal: Int32 = 1  // PR_SET_PDEATHSIG of <linux/prctl.h>
            _ = linuxPrctl(setParentDeathSignal, UInt(SIGTERM), 0, 0, 0)
            // The sweep may have died before the request took effect: then no signal comes.
            if getppid() != parent { StopRequest.request(SIGTERM) }
        #endif
    }

    /// Re-executes the program with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to its generic
    /// kernels on a CPU that has better ones (`BLASKernels.betterCoreType`): about 3.5 times
    /// faster training on the benchmark machine. Does nothing when the variable is already set
    /// (the user's choice, or this process after the re-execution), when the program cannot be
    /// executed again, or off Linux. Call it before anything is printed or any thread starts;
    /// on success it does not return.
    public static func selectBLASKernels() {
        #if os(Linux)
            guard getenv("OPENBLAS_CORETYPE") == nil,
                let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let better = BLASKernels.betterCoreType(
                    current: BLASKernels.coreName,
                    cpuFlags: BLASKernels.cpuFlags(cpuinfo: cpuinfo))
            else { return }
            setenv("OPENBLAS_CORETYPE", better, 1)
            _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
            // Only reached when execv failed: go on with the kernels already loaded.
            unsetenv("OPENBLAS_CORETYPE")
        #endif
    }

    /// Keeps freed training buffers in the process instead of handing them back to the kernel
    /// after every step (glibc: mmap threshold 32 MiB, trim threshold 1 GiB). A training step
    /// allocates the same few megabytes each time; by default glibc returns them and the next step
    /// page-faults them in again (237,000 minor faults in 200 small-preset navigation steps, 13,700
    /// with this setting, and 4% less CPU time). No effect on other C libraries.
    public static func keepFreedMemory() {
        #if os(Linux) && canImport(Glibc)
            let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD of <malloc.h>
            _ = glibcMallopt(mmapThreshold, 32 << 20)
            _ = glibcMallopt(trimThreshold, 1 << 30)
        #endif
    }
}

#if os(Linux) && canImport(Glibc)
    /// glibc's `int mallopt(int param, int value)` (<malloc.h>, which the Glibc module does not import).
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

#if os(Linux)
    /// Linux's `int prctl(int option, ...)` with its five-argument form (variadic in C, so not imported).
    @_silgen_name("prctl")
    private func linuxPrctl(_ option: Int32, _ a2: UInt, _ a3: UInt, _ a4: UInt, _ a5: UInt) -> Int32
#endif
