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
        case ENOSPC, EDQUOT, EFBIG: return "Free disk space (or choose another --out) and try again."
        case EACCES, EPERM, EROFS: return "Make the directory writable or choose another --out."
        default: return "Check the disk and the directory, then try again."
        }
    }

    /// Opens `path`, retrying on EINTR; returns the descriptor or throws naming the path.
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o666, purpose: String) throws -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let e = errno
            if e == EINTR { continue }
            throw ExperimentError("Cannot \(purpose) \(path): \(errorText(e)). \(advice(e))")
        }
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
            throw ExperimentError("Cannot read \(path): it has \(info.st_size) bytes, more than the \(maximumBytes) such a file can have. \(hint)")
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
