// NVRTC, CUDA's run-time compiler, reached through dlopen: CUDA C source to PTX (and to CUBIN for
// a real GPU architecture). It needs no GPU. Reference: the NVRTC documentation (nvrtc.h).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The compiled form of one kernel source.
public struct CompiledKernel: Sendable {
    /// PTX assembly (NUL-terminated, as cuModuleLoadData takes it); empty when NVRTC gave none.
    public let ptx: [UInt8]
    /// CUBIN machine code when the options named a real architecture (`-arch=sm_XX`), else nil.
    public let cubin: [UInt8]?
    /// The compiler's log (warnings), possibly empty.
    public let log: String

    /// The PTX as text (without the terminating NUL).
    public var ptxText: String { String(decoding: ptx.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The NVRTC library: compiles CUDA C source strings.
public final class NVRTC: @unchecked Sendable {
    typealias Result = Int32
    typealias Program = OpaquePointer?
    private let createProgram:
        @convention(c) (
            UnsafeMutablePointer<Program>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
        ) -> Result
    private let compileProgram: @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    private let destroyProgram: @convention(c) (UnsafeMutablePointer<Program>) -> Result
    private let getLogSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Result
    private let getLog: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Result
    private let getPTXSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Result
    private let getPTX: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Result
    private let getCUBINSize: (@convention(c) (Program, UnsafeMutablePointer<Int>) -> Result)?
    private let getCUBIN: (@convention(c) (Program, UnsafeMutablePointer<CChar>) -> Result)?
    private let errorString: @convention(c) (Result) -> UnsafePointer<CChar>?
    private let numSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Result)?
    private let supportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>) -> Result)?

    /// The library that was opened.
    public let library: DynamicLibrary
    /// NVRTC's version (major, minor).
    public let version: (major: Int, minor: Int)

    /// Opens NVRTC from `candidates` (by default `CUDALibraryLocations.nvrtc`). Throws
    /// `ComputeError.libraryNotFound` naming every file tried and how to install it.
    public init(candidates: [String]? = nil, driverMajor: Int? = nil) throws {
        let library = try DynamicLibrary.open(
            name: "NVRTC (libnvrtc)", candidates: candidates ?? CUDALibraryLocations.nvrtc(driverMajor: driverMajor),
            remedy: CUDALibraryLocations.nvrtcRemedy)
        self.library = library
        createProgram = try library.function("nvrtcCreateProgram")
        compileProgram = try library.function("nvrtcCompileProgram")
        destroyProgram = try library.function("nvrtcDestroyProgram")
        getLogSize = try library.function("nvrtcGetProgramLogSize")
        getLog = try library.function("nvrtcGetProgramLog")
        getPTXSize = try library.function("nvrtcGetPTXSize")
        getPTX = try library.function("nvrtcGetPTX")
        getCUBINSize = library.optionalFunction("nvrtcGetCUBINSize")
        getCUBIN = library.optionalFunction("nvrtcGetCUBIN")
        errorString = try library.function("nvrtcGetErrorString")
        numSupportedArchs = library.optionalFunction("nvrtcGetNumSupportedArchs")
        supportedArchs = library.optionalFunction("nvrtcGetSupportedArchs")
        let versionFunction: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Result = try library.function(
            "nvrtcVersion")
        var major: Int32 = 0, minor: Int32 = 0
        let status = versionFunction(&major, &minor)
        guard status == 0 else {
            throw ComputeError.nvrtc(call: "nvrtcVersion", code: status, message: Self.message(errorString, status), log: "")
        }
        version = (Int(major), Int(minor))
    }

    private static func message(_ f: @convention(c) (Int32) -> UnsafePointer<CChar>?, _ code: Int32) -> String {
        f(code).map { String(cString: $0) } ?? "NVRTC error \(code)"
    }

    private func check(_ status: Result, _ call: String, log: String = "") throws {
        guard status == 0 else {
            throw ComputeError.nvrtc(call: call, code: status, message: Self.message(errorString, status), log: log)
        }
    }

    /// The GPU architectures this NVRTC compiles for (e.g. [75, 80, 86, 89, 90, ...]); empty
    /// when the library does not say (before CUDA 11.2).
    public func supportedArchitectures() -> [Int] {
        guard let numSupportedArchs, let supportedArchs else { return [] }
        var n: Int32 = 0
        guard numSupportedArchs(&n) == 0, n > 0 else { return [] }
        var archs = [Int32](repeating: 0, count: Int(n))
        guard supportedArchs(&archs) == 0 else { return [] }
        return archs.map(Int.init)
    }

    /// Compiles `source` (program `name`, for messages) with `options` (e.g.
    /// `["--gpu-architecture=compute_80", "--fmad=false"]`). Throws `ComputeError.nvrtc` with the
    /// compiler's log when compilation fails.
    public func compile(_ source: String, name: String, options: [String]) throws -> CompiledKernel {
        var program: Program = nil
        try check(createProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram(\(name))")
        defer { _ = destroyProgram(&program) }
        let cOptions: [UnsafeMutablePointer<CChar>?] = options.map { strdup($0) }
        defer { for option in cOptions { free(option) } }
        let status = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            compileProgram(program, Int32(options.count), $0.baseAddress)
        }
        let log = programLog(program)
        try check(status, "nvrtcCompileProgram(\(name), options \(options.joined(separator: " ")))", log: log)
        var ptx = [UInt8]()
        var ptxSize = 0
        if getPTXSize(program, &ptxSize) == 0, ptxSize > 0 {
            var bytes = [CChar](repeating: 0, count: ptxSize)
            try check(getPTX(program, &bytes), "nvrtcGetPTX(\(name))")
            ptx = bytes.map { UInt8(bitPattern: $0) }
        }
        var cubin: [UInt8]? = nil
        if options.contains(where: { $0.contains("sm_") }), let getCUBINSize, let getCUBIN {
            var size = 0
            try check(getCUBINSize(program, &size), "nvrtcGetCUBINSize(\(name))")
            if size > 0 {
                var bytes = [CChar](repeating: 0, count: size)
                try check(getCUBIN(program, &bytes), "nvrtcGetCUBIN(\(name))")
                cubin = bytes.map { UInt8(bitPattern: $0) }
            }
        }
        guard !ptx.isEmpty || cubin != nil else {
            throw ComputeError.nvrtc(call: "nvrtcGetPTX(\(name))", code: -1, message: "the compiler produced no code", log: log)
        }
        return CompiledKernel(ptx: ptx, cubin: cubin, log: log)
    }

    private func programLog(_ program: Program) -> String {
        var size = 0
        guard getLogSize(program, &size) == 0, size > 1 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        guard getLog(program, &bytes) == 0 else { return "" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
