// The errors of the compute backends: bad arguments, and every failure of the CUDA libraries with
// the call, the library's own error name and text, and what to do about it.

/// Why a compute operation or a backend's set-up failed.
public enum ComputeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Sizes, strides or buffers that do not fit the operation.
    case invalidArgument(String)
    /// A shared library was not found: every file and folder tried, and what to install.
    case libraryNotFound(library: String, tried: [String], remedy: String)
    /// A library was found but lacks a function the backend needs.
    case missingSymbol(library: String, path: String, symbol: String)
    /// A CUDA driver API call failed: the call, CUresult code, its name and description.
    case driver(call: String, code: Int32, name: String, message: String)
    /// A cuBLAS call failed: the call, cublasStatus_t code, its name and description.
    case cublas(call: String, code: Int32, name: String, message: String)
    /// An NVRTC call failed; for a compilation, `log` is the compiler's log.
    case nvrtc(call: String, code: Int32, message: String, log: String)
    /// The driver works but there is no usable GPU.
    case noDevice(String)

    public var description: String {
        switch self {
        case .invalidArgument(let text):
            return "invalid argument: \(text)"
        case let .libraryNotFound(library, tried, remedy):
            return "\(library) was not found. Tried, in order:\n" + tried.map { "  \($0)" }.joined(separator: "\n")
                + "\n\(remedy)"
        case let .missingSymbol(library, path, symbol):
            return "\(library) at \(path) has no function \(symbol): the library is too old for this program; "
                + "install a newer one (CUDA 11 or later)"
        case let .driver(call, code, name, message):
            return "CUDA driver call \(call) failed: \(name) (\(code)): \(message)"
        case let .cublas(call, code, name, message):
            return "cuBLAS call \(call) failed: \(name) (\(code)): \(message)"
        case let .nvrtc(call, code, message, log):
            return "NVRTC call \(call) failed: \(message) (\(code))" + (log.isEmpty ? "" : "\ncompiler log:\n\(log)")
        case .noDevice(let text):
            return "no usable GPU: \(text)"
        }
    }
}
