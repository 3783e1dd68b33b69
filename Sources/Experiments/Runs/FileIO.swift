// Plain POSIX file operations for run directories: writes that report errors (a full disk, a
// lost mount) as messages naming the file, instead of trapping as FileHandle.write does.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// POSIX file helpers whose failures come back as `ExperimentError`s naming the path.
enum FileIO {
    /// The text of an errno value ("No space left on device").
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// What to do after a failed write, by errno.
    static func advice(_ code: Int32) -> String {
        switch code {
        case EFBIG:
            return
                """
                The file would pass the process's file-size limit (`ulimit -f`, now \(fileSizeLimitText())) or the largest file the \
                file system allows: raise the limit (ulimit -f unlimited) or choose another --out, and try again.
                """
        case ENOSPC, EDQUOT: return "Free disk space (or choose another --out) and try again."
        case ELOOP: return "moduli never writes through a symbolic link: replace the link with a regular file (or remove it) and try again."
        case EACCES, EPERM, EROFS: return "Make the directory writable or choose another --out."
        default: return "Check the disk and the directory, then try again."
        }
    }

    /// The soft RLIMIT_FSIZE in words ("unlimited", "32768 bytes").
    static func fileSizeLimitText() -> String {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return "unlimited" }
        return "\(limit.rlim_cur) bytes"
    }

    /// Opens `path`, retrying on EINTR; returns the descriptor or throws naming the path. Every
    /// open for writing should pass O_NOFOLLOW: a symbolic link at `path` is then refused (ELOOP)
    /// with a message saying that the file is a link and what to do.
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o666, purpose: String) throws -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let e = errno
            if e == EINTR { continue }
            if e == ELOOP, flags & O_NOFOLLOW != 0, isSymbolicLink(path) {
                throw ExperimentError("Cannot \(purpose) \(path): it is a symbolic link. \(advice(ELOOP))")
            }
            throw ExperimentError("Cannot \(purpose) \(path): \(errorText(e)). \(advice(e))")
        }
    }

    /// Whether `path` itself (not what it points to) is a symbolic link.
    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Refuses a symbolic link at `path`, a file that is about to be appended to, cut or read back
    /// to be rewritten; `role` names the file in the message ("the metrics log").
    static func refuseSymbolicLink(_ path: String, role: String) throws {
        guard isSymbolicLink(path) else { return }
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { " (to \($0))" } ?? ""
        throw ExperimentError(
            "Cannot write \(role) \(path): it is a symbolic link\(target), and moduli never writes through a link. "
                + "Remove the link (rm \(path)) or put the file itself in its place, and run the command again.")
    }

    /// A suffix no other process can predict: 16 hexadecimal digits from the system's random source.
    static func unpredictableSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Creates a new temporary file for `destination` in its directory, named
    /// `.NAME.tmp-PID-RANDOM`, with O_CREAT | O_EXCL | O_NOFOLLOW: never an existing file and never
    /// through a link planted at the name (another name is drawn then). Returns the descriptor and
    /// the path.
    static func createTemporary(for destination: URL) throws -> (descriptor: Int32, path: String) {
        let directory = destination.deletingLastPathComponent()
        for _ in 0..<64 {
            let path = directory.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())-\(unpredictableSuffix())").path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
            if fd >= 0 { return (fd, path) }
            let e = errno
            if e == EEXIST || e == EINTR || e == ELOOP { continue }
            throw ExperimentError(
                "Cannot write \(destination.path) (creating a temporary file in \(directory.path)): \(errorText(e)). \(advice(e))")
        }
        throw ExperimentError(
            """
            Cannot write \(destination.path): 64 temporary names in \(directory.path) were all taken. Remove the files named \
            .\(destination.lastPathComponent).tmp-* there and try again.
            """
        )
    }

    /// Writes every byte of `bytes` to `fd`, retrying on EINTR and after short writes.
    /// Returns 0, or the errno of the failed write.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard var p = bytes.baseAddress else { return 0 }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, p, min(left, 1 << 30))
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return e
            }
            if n == 0 { return EIO }
            p += n
            left -= n
        }
        return 0
    }

    /// Writes `data` to `fd`; returns 0 or the errno of the failure.
    static func writeAll(_ fd: Int32, _ data: Data) -> Int32 {
        data.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Closes `fd`, ignoring EINTR (the descriptor is released either way on Linux).
    @discardableResult
    static func closeFile(_ fd: Int32) -> Int32 {
        close(fd) == 0 ? 0 : (errno == EINTR ? 0 : errno)
    }

    /// Flushes a directory's entries (a rename inside it) to disk; best effort.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }

    /// The bytes of the regular file at `path` (at most `maximumBytes` when given), or an error that
    /// names it and says why it cannot be read.
    static func readFile(_ path: String, hint: String, maximumBytes: Int? = nil) throws -> Data {
        var info = stat()
        if stat(path, &info) != 0 {
            let e = errno
            if e == ENOENT { throw ExperimentError("Cannot read \(path): the file does not exist. \(hint)") }
            throw ExperimentError("Cannot read \(path): \(errorText(e)). \(hint)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ExperimentError("Cannot read \(path): it is not a regular file. \(hint)")
        }
        if let maximumBytes, Int(info.st_size) > maximumBytes {
            throw ExperimentError(
                "Cannot read \(path): it has \(info.st_size) bytes, more than the \(maximumBytes) such a file can have. \(hint)")
        }
        let fd = try openFile(path, O_RDONLY, purpose: "read")
        defer { closeFile(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            if n == 0 { return data }
            let e = errno
            if e == EINTR { continue }
            throw ExperimentError("Cannot read \(path): \(errorText(e)). \(hint)")
        }
    }
}
