// The compute operations on an NVIDIA GPU: cuBLAS for GEMM, run-time compiled kernels for the rest,
// device memory allocated once. Every library is opened with dlopen when the backend is made, so
// the package builds and runs without CUDA; without a GPU or a library, making one throws an error
// naming what was looked for. References: CUDA driver API, cuBLAS and NVRTC documentation.
import Linalg
import Synchronization

/// `ComputeBackend` on one CUDA device.
///
/// Buffers are device memory (`cuMemAlloc`, freed with the backend). Operations run in order on
/// the device's default stream and return before the device finishes; `download` and
/// `synchronize()` wait. Kernels are compiled by NVRTC on first use (to CUBIN for the device's
/// architecture when NVRTC knows it, else to PTX for the newest architecture it knows, which the
/// driver compiles), cached for the process and loaded once per backend. The kernels are built
/// with `--fmad=false`, so elementwise results round like the CPU backend's; GEMM runs in full
/// FP32 (no TF32) unless `setTF32(true)`.
public final class CUDABackend: ComputeBackend {
    public typealias Scalar = Float
    public let name: String
    /// Buffers are device memory.
    public var isHostMemory: Bool { false }
    /// The GPU's name ("NVIDIA H200").
    public let deviceName: String
    /// The device's compute capability, e.g. (9, 0).
    public let computeCapability: (major: Int, minor: Int)
    /// Streaming multiprocessors.
    public let multiprocessors: Int
    /// Device memory in bytes.
    public let totalMemory: Int
    /// The driver's CUDA version, e.g. 13000 for 13.0.
    public let driverVersion: Int
    /// cuBLAS's version, e.g. 130100.
    public let cublasVersion: Int
    /// NVRTC's version.
    public let nvrtcVersion: (major: Int, minor: Int)
    /// What the kernels are compiled for: "sm_90" (CUBIN) or "compute_XX" (PTX).
    public let architecture: String
    /// The library files in use (driver, cuBLAS, NVRTC), as opened.
    public let libraryPaths: [String]

    private let driver: CUDADriver
    private let cublas: CUBLAS
    private let nvrtc: NVRTC
    private let context: OpaquePointer?
    private let blas: OpaquePointer?
    private let deviceOrdinal: Int32
    private var allocations: [UInt64] = []
    private var modules: [OpaquePointer?] = []
    private var functions: [String: OpaquePointer?] = [:]
    /// Each loaded entry point's parameters (from its C signature), which every launch must match.
    private var signatures: [String: [KernelParameter]] = [:]
    /// Kernel arguments: 32 slots of 8 bytes and the pointers to them, reused by every launch.
    private let argumentSlots: UnsafeMutableRawPointer
    private let argumentPointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Device scratch: partial sums of the reductions (1024 doubles) and the 256-bin histogram.
    private var partials: ComputeBuffer<Float>!
    private var histogram: ComputeBuffer<Float>!
    /// Per-row results of the losses (Double losses, then flags), grown on demand.
    private var rowResults: ComputeBuffer<Float>?
    private let hostHistogram: UnsafeMutablePointer<Float>
    private var checks: BufferChecks<Float> { BufferChecks(owner: UInt(bitPattern: ObjectIdentifier(self)), backend: name) }

    /// Compiled kernels of this process, by source, architecture and NVRTC version.
    private static let compiled = Mutex<[String: CompiledKernel]>([:])
    /// The most blocks a reduction uses (the size of `partials` in doubles).
    private static let maxReductionBlocks = 1024

    /// Opens the driver, cuBLAS and NVRTC (default locations: `CUDALibraryLocations`) and makes a
    /// backend on device `device`. Throws `ComputeError.libraryNotFound` (every file tried, what to
    /// install), `.noDevice`, or the failing call's `.driver` / `.cublas` error.
    public init(
        device: Int = 0, driverCandidates: [String]? = nil, cublasCandidates: [String]? = nil,
        nvrtcCandidates: [String]? = nil
    ) throws {
        let driver = try CUDADriver(candidates: driverCandidates)
        let status = driver.cuInit(0)
        if status == 100 {  // CUDA_ERROR_NO_DEVICE
            throw ComputeError.noDevice(
                "the driver (\(driver.library.path)) reports no CUDA-capable device (cuInit: CUDA_ERROR_NO_DEVICE); "
                    + "check nvidia-smi and that the GPU is visible here (CUDA_VISIBLE_DEVICES, container --gpus)")
        }
        try driver.check(status, "cuInit(0)")
        var version: Int32 = 0, count: Int32 = 0
        try driver.check(driver.cuDriverGetVersion(&version), "cuDriverGetVersion")
        try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard device >= 0 && device < Int(count) else {
            throw ComputeError.noDevice("device \(device) asked for, the driver sees \(count) device(s)")
        }
        var handle: Int32 = 0
        try driver.check(driver.cuDeviceGet(&handle, Int32(device)), "cuDeviceGet(\(device))")
        var nameBytes = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&nameBytes, 255, handle), "cuDeviceGetName")
        var major: Int32 = 0, minor: Int32 = 0, sms: Int32 = 0, memory = 0
        try driver.check(driver.cuDeviceGetAttribute(&major, CUDADriver.computeCapabilityMajor, handle), "cuDeviceGetAttribute(major)")
        try driver.check(driver.cuDeviceGetAttribute(&minor, CUDADriver.computeCapabilityMinor, handle), "cuDeviceGetAttribute(minor)")
        try driver.check(driver.cuDeviceGetAttribute(&sms, CUDADriver.multiprocessorCount, handle), "cuDeviceGetAttribute(SMs)")
        try driver.check(driver.cuDeviceTotalMem(&memory, handle), "cuDeviceTotalMem")
        let driverMajor = Int(version) / 1000
        let cublas = try CUBLAS(candidates: cublasCandidates ?? CUDALibraryLocations.cublas(driverMajor: driverMajor))
        let nvrtc = try NVRTC(candidates: nvrtcCandidates ?? CUDALibraryLocations.nvrtc(driverMajor: driverMajor), driverMajor: driverMajor)

        var context: OpaquePointer? = nil
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain(\(device))")
        var blas: OpaquePointer? = nil
        do {
            try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
            try cublas.check(cublas.create(&blas), "cublasCreate (\(cublas.library.path))")
        } catch {
            _ = driver.cuDevicePrimaryCtxRelease(handle)
            throw error
        }
        var blasVersion: Int32 = 0
        _ = cublas.getVersion(blas, &blasVersion)
        _ = cublas.setMathMode(blas, CUBLAS.defaultMath)

        let capability = Int(major) * 10 + Int(minor)
        let archs = nvrtc.supportedArchitectures()
        if archs.isEmpty || archs.contains(capability) {
            architecture = "sm_\(capability)"
        } else if let best = archs.filter({ $0 <= capability }).max() {
            architecture = "compute_\(best)"
        } else {
            _ = cublas.destroy(blas)
            _ = driver.cuDevicePrimaryCtxRelease(handle)
            throw ComputeError.noDevice(
                "NVRTC \(nvrtc.version.major).\(nvrtc.version.minor) (\(nvrtc.library.path)) compiles for "
                    + "architectures \(archs), none at or below this GPU's \(capability): install an NVRTC that supports it")
        }
        self.driver = driver
        self.cublas = cublas
        self.nvrtc = nvrtc
        self.context = context
        self.blas = blas
        self.deviceOrdinal = handle
        deviceName = String(decoding: nameBytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        computeCapability = (Int(major), Int(minor))
        multiprocessors = Int(sms)
        totalMemory = memory
        driverVersion = Int(version)
        cublasVersion = Int(blasVersion)
        nvrtcVersion = nvrtc.version
        libraryPaths = [
            driver.library.file(holding: "cuInit"), cublas.library.file(holding: "cublasCreate_v2"),
            nvrtc.library.file(holding: "nvrtcVersion")
        ]
        name = "cuda:\(device) \(deviceName)"
        argumentSlots = UnsafeMutableRawPointer.allocate(byteCount: 32 * 8, alignment: 16)
        argumentPointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 32)
        for i in 0..<32 { argumentPointers[i] = argumentSlots + 8 * i }
        hostHistogram = UnsafeMutablePointer<Float>.allocate(capacity: 256)
        partials = try allocate(count: 2 * CUDABackend.maxReductionBlocks)
        histogram = try allocate(count: 256)
    }

    deinit {
        _ = driver.cuCtxSetCurrent(context)
        _ = driver.cuCtxSynchronize()
        for a in allocations { _ = driver.cuMemFree(a) }
        for m in modules { _ = driver.cuModuleUnload(m) }
        _ = cublas.destroy(blas)
        _ = driver.cuDevicePrimaryCtxRelease(deviceOrdinal)
        argumentSlots.deallocate()
        argumentPointers.deallocate()
        hostHistogram.deallocate()
    }

    /// Makes this backend's context current on the calling thread (cheap; done by every call).
    private func activate() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Whether GEMM may use TF32 tensor cores (10-bit mantissa inputs): faster, less exact.
    /// Off by default, as PyTorch's `torch.backends.cuda.matmul.allow_tf32`.
    public func setTF32(_ enabled: Bool) throws {
        try cublas.check(cublas.setMathMode(blas, enabled ? CUBLAS.tf32Math : CUBLAS.defaultMath), "cublasSetMathMode")
    }

    // MARK: Kernels

    /// A kernel argument, stored in an 8-byte slot.
    private enum Argument {
        case buffer(ComputeBuffer<Float>?)
        case int64(Int)
        case int32(Int32)
        case uint32(UInt32)
        case float(Float)
        case double(Double)

        /// The parameter type this argument fills.
        var kind: KernelParameter {
            switch self {
            case .buffer: return .pointer
            case .int64: return .int64
            case .int32: return .int32
            case .uint32: return .uint32
            case .float: return .float
            case .double: return .double
            }
        }
    }

    /// The entry point `entry` of `source`, compiling and loading the source on first use.
    private func function(_ source: CUDAKernelSource, _ entry: String) throws -> OpaquePointer? {
        if let f = functions[entry] { return f }
        let key = "\(source.name)|\(architecture)|\(nvrtcVersion.major).\(nvrtcVersion.minor)"
        let cached = CUDABackend.compiled.withLock { $0[key] }
        let kernel: CompiledKernel
        if let cached {
            kernel = cached
        } else {
            kernel = try nvrtc.compile(source.source, name: source.name, options: CUDAKernelSource.options(architecture: architecture))
            CUDABackend.compiled.withLock { $0[key] = kernel }
        }
        var module: OpaquePointer? = nil
        var loaded = false
        if let cubin = kernel.cubin {
            loaded = cubin.withUnsafeBytes { driver.cuModuleLoadData(&module, $0.baseAddress) } == 0
        }
        if !loaded {
            guard !kernel.ptx.isEmpty else {
                throw ComputeError.driver(
                    call: "cuModuleLoadData(\(source.name), CUBIN for \(architecture))", code: -1,
                    name: "no PTX to fall back on", message: "the CUBIN did not load and NVRTC gave no PTX")
            }
            let status = kernel.ptx.withUnsafeBytes { driver.cuModuleLoadData(&module, $0.baseAddress) }
            try driver.check(
                status,
                "cuModuleLoadData(\(source.name), PTX for \(architecture) from NVRTC "
                    + "\(nvrtcVersion.major).\(nvrtcVersion.minor); a driver older than NVRTC cannot load its PTX: "
                    + "use an NVRTC no newer than the driver's CUDA \(driverVersion / 1000).\(driverVersion % 1000 / 10))")
        }
        modules.append(module)
        for name in source.entryPoints {
            var f: OpaquePointer? = nil
            try driver.check(driver.cuModuleGetFunction(&f, module, name), "cuModuleGetFunction(\(name))")
            functions[name] = f
            signatures[name] = source.parameters(of: name)
        }
        guard let f = functions[entry] else {
            throw ComputeError.invalidArgument("kernel source \(source.name) has no entry point \(entry)")
        }
        return f
    }

    /// Launches `entry` of `source` on a `grid` of `block`-thread blocks.
    private func launch(
        _ source: CUDAKernelSource, _ entry: String, grid: Int, block: (Int, Int) = (256, 1),
        _ arguments: [Argument]
    ) throws {
        guard grid > 0 else { return }
        let f = try function(source, entry)
        let expected = signatures[entry] ?? []
        guard arguments.count <= 32, arguments.count == expected.count, zip(arguments, expected).allSatisfy({ $0.kind == $1 }) else {
            throw ComputeError.invalidArgument(
                "launch of \(entry) passes (\(arguments.map(\.kind.rawValue).joined(separator: ", "))), "
                    + "the kernel takes (\(expected.map(\.rawValue).joined(separator: ", ")))")
        }
        for (i, a) in arguments.enumerated() {
            let slot = argumentSlots + 8 * i
            switch a {
            case .buffer(let b): slot.storeBytes(of: b?.address ?? 0, as: UInt64.self)
            case .int64(let v): slot.storeBytes(of: Int64(v), as: Int64.self)
            case .int32(let v): slot.storeBytes(of: v, as: Int32.self)
            case .uint32(let v): slot.storeBytes(of: v, as: UInt32.self)
            case .float(let v): slot.storeBytes(of: v, as: Float.self)
            case .double(let v): slot.storeBytes(of: v, as: Double.self)
            }
        }
        try driver.check(
            driver.cuLaunchKernel(
                f, UInt32(min(grid, Int(Int32.max))), 1, 1, UInt32(block.0), UInt32(block.1), 1, 0,
                nil, argumentPointers, nil),
            "cuLaunchKernel(\(entry), grid \(grid), block \(block.0)x\(block.1))")
    }

    /// Blocks of 256 threads for a grid-stride loop over n elements.
    private func blocks(_ n: Int, max: Int = 8192) -> Int { Swift.min((n + 255) / 256, max) }

    // MARK: Memory

    public func allocate(count: Int) throws -> ComputeBuffer<Float> {
        guard count >= 0, count <= Int.max / 8 else {
            throw ComputeError.invalidArgument("allocate: cannot allocate \(count) elements")
        }
        try activate()
        var address: UInt64 = 0
        try driver.check(driver.cuMemAlloc(&address, max(count, 1) * 4), "cuMemAlloc(\(max(count, 1) * 4) bytes)")
        allocations.append(address)
        return ComputeBuffer(owner: checks.owner, address: address, count: count)
    }

    public func release(_ buffer: ComputeBuffer<Float>) throws {
        guard buffer.owner == checks.owner, let k = allocations.firstIndex(of: buffer.address) else {
            throw ComputeError.invalidArgument("release: the buffer is not an allocation of this backend")
        }
        try activate()
        try driver.check(driver.cuMemFree(allocations.remove(at: k)), "cuMemFree")
    }

    public func upload(_ source: UnsafeBufferPointer<Float>, to destination: ComputeBuffer<Float>) throws {
        try checks.need(destination, "destination", count: source.count, "upload")
        guard source.count > 0 else { return }
        try activate()
        try driver.check(driver.cuMemcpyHtoD(destination.address, source.baseAddress, source.count * 4), "cuMemcpyHtoD")
    }

    public func download(_ source: ComputeBuffer<Float>, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try checks.need(source, "source", count: destination.count, "download")
        try activate()
        guard destination.count > 0 else { return try synchronize() }
        try driver.check(driver.cuMemcpyDtoH(destination.baseAddress, source.address, destination.count * 4), "cuMemcpyDtoH")
    }

    public func copy(_ source: ComputeBuffer<Float>, to destination: ComputeBuffer<Float>) throws {
        try checks.copy(source, to: destination)
        guard source.count > 0, source.address != destination.address else { return }
        let (s, d, bytes) = (source.address, destination.address, UInt64(source.count) * 4)
        guard s + bytes <= d || d + bytes <= s else {
            throw ComputeError.invalidArgument("copy: source and destination overlap")
        }
        try activate()
        try driver.check(driver.cuMemcpyDtoD(d, s, Int(bytes)), "cuMemcpyDtoD")
    }

    public func fill(_ buffer: ComputeBuffer<Float>, with value: Float) throws {
        try checks.own(buffer, "buffer", "fill")
        guard buffer.count > 0 else { return }
        try activate()
        try driver.check(driver.cuMemsetD32(buffer.address, value.bitPattern, buffer.count), "cuMemsetD32")
    }

    public func synchronize() throws {
        try activate()
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
    }

    // MARK: Dense algebra

    public func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
        a: ComputeBuffer<Float>, lda: Int, b: ComputeBuffer<Float>, ldb: Int, beta: Float, c: ComputeBuffer<Float>, ldc: Int
    ) throws {
        try checks.gemm(transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        guard m > 0 && n > 0 else { return }
        try activate()
        // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the same buffers with
        // the operands swapped and the same transpose flags.
        var alpha = alpha, beta = beta
        let opA = transA == .noTranspose ? CUBLAS.opN : CUBLAS.opT, opB = transB == .noTranspose ? CUBLAS.opN : CUBLAS.opT
        try cublas.check(
            cublas.sgemm(
                blas, opB, opA, Int32(n), Int32(m), Int32(k), &alpha,
                UnsafeRawPointer(bitPattern: UInt(b.address)), Int32(ldb),
                UnsafeRawPointer(bitPattern: UInt(a.address)), Int32(lda), &beta,
                UnsafeMutableRawPointer(bitPattern: UInt(c.address)), Int32(ldc)),
            "cublasSgemm(\(transA), \(transB), m \(m), n \(n), k \(k))")
    }

    public func addTransposedProduct(
        m: Int, n: Int, k: Int, a: ComputeBuffer<Float>, lda: Int, b: ComputeBuffer<Float>, ldb: Int, c: ComputeBuffer<Float>, ldc: Int
    ) throws {
        try checks.addTransposedProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        guard k > 0 else { return }  // C += nothing (cuBLAS would scale C by beta = 1)
        try gemm(.transpose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
    }

    public func transpose(_ x: ComputeBuffer<Float>, rows: Int, columns: Int, into y: ComputeBuffer<Float>) throws {
        guard try checks.transpose(x, rows: rows, columns: columns, into: y) > 0 else { return }
        try activate()
        let tiles = ((rows + 31) / 32) * ((columns + 31) / 32)
        try launch(.transpose, "moduli_transpose", grid: tiles, block: (32, 8), [.buffer(x), .buffer(y), .int64(rows), .int64(columns)])
    }

    public func addRowVectors(
        _ y: ComputeBuffer<Float>, rows: Int, columns: Int, _ u: ComputeBuffer<Float>, _ v: ComputeBuffer<Float>
    ) throws {
        let count = try checks.addRowVectors(y, rows: rows, columns: columns, u, v)
        try activate()
        try launch(
            .addRowVectors, "moduli_add_row_vectors", grid: blocks(count),
            [.buffer(y), .buffer(u), .buffer(v), .int64(rows), .int64(columns)])
    }

    public func gatherRows(
        _ table: ComputeBuffer<Float>, rows: Int, columns: Int, indices: ComputeBuffer<Float>, count: Int,
        into y: ComputeBuffer<Float>
    ) throws {
        let n = try checks.rows("gatherRows", table: table, rows: rows, columns: columns, indices: indices, count: count, other: y, "y")
        try activate()
        try launch(
            .rows, "moduli_gather_rows", grid: blocks(n),
            [.buffer(table), .buffer(indices), .buffer(y), .int64(rows), .int64(columns), .int64(count)])
    }

    public func scatterAddRows(
        _ x: ComputeBuffer<Float>, indices: ComputeBuffer<Float>, count: Int, into table: ComputeBuffer<Float>, rows: Int,
        columns: Int
    ) throws {
        _ = try checks.rows("scatterAddRows", table: table, rows: rows, columns: columns, indices: indices, count: count, other: x, "x")
        try activate()
        try launch(
            .rows, "moduli_scatter_add_rows", grid: blocks(columns),
            [.buffer(x), .buffer(indices), .buffer(table), .int64(rows), .int64(columns), .int64(count)])
    }

    public func addRowVector(_ y: ComputeBuffer<Float>, rows: Int, columns: Int, _ v: ComputeBuffer<Float>) throws {
        let count = try checks.addRowVector(y, rows: rows, columns: columns, v)
        try activate()
        try launch(.addRowVector, "moduli_add_row_vector", grid: blocks(count), [.buffer(y), .buffer(v), .int64(rows), .int64(columns)])
    }

    public func addColumnSums(_ x: ComputeBuffer<Float>, rows: Int, columns: Int, into out: ComputeBuffer<Float>) throws {
        _ = try checks.addColumnSums(x, rows: rows, columns: columns, into: out)
        try activate()
        try launch(
            .addColumnSums, "moduli_add_column_sums", grid: (columns + 31) / 32, block: (32, 8),
            [.buffer(x), .buffer(out), .int64(rows), .int64(columns)])
    }

    public func axpy(alpha: Float, _ x: ComputeBuffer<Float>, _ y: ComputeBuffer<Float>) throws {
        try checks.axpy(x, y)
        try activate()
        try launch(.axpy, "moduli_axpy", grid: blocks(x.count), [.buffer(y), .buffer(x), .float(alpha), .int64(x.count)])
    }

    public func scale(_ x: ComputeBuffer<Float>, by factor: Float) throws {
        try checks.own(x, "x", "scale")
        try activate()
        try launch(.scale, "moduli_scale", grid: blocks(x.count), [.buffer(x), .float(factor), .int64(x.count)])
    }

    public func multiplyByMask(_ x: ComputeBuffer<Float>, mask: ComputeBuffer<Float>) throws {
        try checks.multiplyByMask(x, mask: mask)
        try activate()
        try launch(.multiplyByMask, "moduli_multiply_by_mask", grid: blocks(x.count), [.buffer(x), .buffer(mask), .int64(x.count)])
    }

    // MARK: Recurrent cells

    public func elmanForward(_ activation: CellActivation, _ x: ComputeBuffer<Float>) throws {
        try checks.own(x, "x", "elmanForward")
        try activate()
        try launch(
            .elmanForward, "moduli_elman_forward", grid: blocks(x.count),
            [.buffer(x), .int64(x.count), .int32(activation == .relu ? 1 : 0)])
    }

    public func elmanBackward(
        _ activation: CellActivation, output h: ComputeBuffer<Float>, gradient g: ComputeBuffer<Float>,
        extra o: ComputeBuffer<Float>?, into d: ComputeBuffer<Float>
    ) throws {
        let n = try checks.elmanBackward(output: h, gradient: g, extra: o, into: d)
        try activate()
        try launch(
            .elmanBackward, "moduli_elman_backward", grid: blocks(n),
            [.buffer(h), .buffer(g), .buffer(o), .buffer(d), .int64(n), .int32(activation == .relu ? 1 : 0)])
    }

    public func lstmForward(
        gates: ComputeBuffer<Float>, cellPrevious: ComputeBuffer<Float>, cell: ComputeBuffer<Float>, hidden: ComputeBuffer<Float>,
        batch: Int, hiddenSize h: Int
    ) throws {
        let bh = try checks.lstmForward(
            gates: gates, cellPrevious: cellPrevious, cell: cell, hidden: hidden, batch: batch,
            hiddenSize: h)
        try activate()
        try launch(
            .lstmForward, "moduli_lstm_forward", grid: blocks(bh),
            [.buffer(gates), .buffer(cellPrevious), .buffer(cell), .buffer(hidden), .int64(batch), .int64(h)])
    }

    public func lstmBackward(
        gates: ComputeBuffer<Float>, cellPrevious: ComputeBuffer<Float>, cell: ComputeBuffer<Float>, dOutput: ComputeBuffer<Float>?,
        dHidden: ComputeBuffer<Float>, dCell: ComputeBuffer<Float>, dGates: ComputeBuffer<Float>, batch: Int, hiddenSize h: Int
    ) throws {
        let bh = try checks.lstmBackward(
            gates: gates, cellPrevious: cellPrevious, cell: cell, dOutput: dOutput, dHidden: dHidden,
            dCell: dCell, dGates: dGates, batch: batch, hiddenSize: h)
        try activate()
        try launch(
            .lstmBackward, "moduli_lstm_backward", grid: blocks(bh),
            [
                .buffer(gates), .buffer(cellPrevious), .buffer(cell), .buffer(dOutput), .buffer(dHidden), .buffer(dCell),
                .buffer(dGates), .int64(batch), .int64(h)
            ])
    }

    public func gruForward(
        gates: ComputeBuffer<Float>, recurrent: ComputeBuffer<Float>, hiddenPrevious: ComputeBuffer<Float>, hidden: ComputeBuffer<Float>,
        recurrentN: ComputeBuffer<Float>, batch: Int, hiddenSize h: Int
    ) throws {
        let bh = try checks.gruForward(
            gates: gates, recurrent: recurrent, hiddenPrevious: hiddenPrevious, hidden: hidden,
            recurrentN: recurrentN, batch: batch, hiddenSize: h)
        try activate()
        try launch(
            .gruForward, "moduli_gru_forward", grid: blocks(bh),
            [
                .buffer(gates), .buffer(recurrent), .buffer(hiddenPrevious), .buffer(hidden), .buffer(recurrentN),
                .int64(batch), .int64(h)
            ])
    }

    public func gruBackward(
        gates: ComputeBuffer<Float>, hiddenPrevious: ComputeBuffer<Float>, recurrentN: ComputeBuffer<Float>, dOutput: ComputeBuffer<Float>?,
        dHidden: ComputeBuffer<Float>, dPre: ComputeBuffer<Float>, dRecurrent: ComputeBuffer<Float>, batch: Int, hiddenSize h: Int
    ) throws {
        let bh = try checks.gruBackward(
            gates: gates, hiddenPrevious: hiddenPrevious, recurrentN: recurrentN, dOutput: dOutput,
            dHidden: dHidden, dPre: dPre, dRecurrent: dRecurrent, batch: batch, hiddenSize: h)
        try activate()
        try launch(
            .gruBackward, "moduli_gru_backward", grid: blocks(bh),
            [
                .buffer(gates), .buffer(hiddenPrevious), .buffer(recurrentN), .buffer(dOutput), .buffer(dHidden),
                .buffer(dPre), .buffer(dRecurrent), .int64(batch), .int64(h)
            ])
    }

    // MARK: Losses

    /// At least `count` elements of device scratch for per-row results (grown, never shrunk; its
    /// contents do not outlive one operation).
    private func rowScratch(_ count: Int) throws -> ComputeBuffer<Float> {
        if let rows = rowResults, rows.count >= count { return rows }
        if let old = rowResults {
            try driver.check(driver.cuMemFree(old.address), "cuMemFree")
            allocations.removeAll { $0 == old.address }
        }
        rowResults = try allocate(count: max(count, 4096))
        return rowResults!
    }

    /// The per-row Double losses (at the start of `scratch`) added in row order on the host, and,
    /// with `flags`, the number of per-row flags (after the losses) that are 1.
    private func hostRowSums(_ scratch: ComputeBuffer<Float>, rows: Int, flags: Bool) throws -> (Double, Int) {
        var raw = [Float](repeating: 0, count: (flags ? 3 : 2) * rows)
        try raw.withUnsafeMutableBufferPointer { try download(scratch, into: $0) }
        return raw.withUnsafeBytes { bytes in
            var total = 0.0, ones = 0
            for r in 0..<rows { total += bytes.loadUnaligned(fromByteOffset: 8 * r, as: Double.self) }
            if flags { for r in 0..<rows where raw[2 * rows + r] == 1 { ones += 1 } }
            return (total, ones)
        }
    }

    public func crossEntropy(
        logits: ComputeBuffer<Float>, targets: ComputeBuffer<Float>, rows: Int, classes: Int, scale: Float,
        gradient: ComputeBuffer<Float>?
    ) throws -> (loss: Double, correct: Int) {
        _ = try checks.rowLoss(
            "crossEntropy", logits: logits, targets: targets, softTargets: false, rows: rows, classes: classes, gradient: gradient,
            int32Classes: true)
        guard rows > 0 else { return (0, 0) }
        try activate()
        let scratch = try rowScratch(3 * rows)
        try launch(
            .crossEntropy, "moduli_cross_entropy", grid: min(rows, 65535),
            [
                .buffer(logits), .buffer(targets), .buffer(scratch), .buffer(try scratch.slice(from: 2 * rows, count: rows)),
                .buffer(gradient), .int64(rows), .int32(Int32(classes)), .float(scale)
            ])
        let (loss, correct) = try hostRowSums(scratch, rows: rows, flags: true)
        return (loss, correct)
    }

    public func softCrossEntropy(
        logits: ComputeBuffer<Float>, targets: ComputeBuffer<Float>, rows: Int, classes: Int, scale: Float,
        gradient: ComputeBuffer<Float>?
    ) throws -> Double {
        _ = try checks.rowLoss(
            "softCrossEntropy", logits: logits, targets: targets, softTargets: true, rows: rows, classes: classes, gradient: gradient,
            int32Classes: true)
        guard rows > 0 else { return 0 }
        try activate()
        let scratch = try rowScratch(2 * rows)
        try launch(
            .softCrossEntropy, "moduli_soft_cross_entropy", grid: min(rows, 65535),
            [.buffer(logits), .buffer(targets), .buffer(scratch), .buffer(gradient), .int64(rows), .int32(Int32(classes)), .float(scale)])
        return try hostRowSums(scratch, rows: rows, flags: false).0
    }

    public func squaredError(
        prediction: ComputeBuffer<Float>, target: ComputeBuffer<Float>, scale: Float, gradient: ComputeBuffer<Float>?
    ) throws -> Double {
        try checks.squaredError(prediction: prediction, target: target, gradient: gradient)
        guard prediction.count > 0 else { return 0 }
        try activate()
        let grid = blocks(prediction.count, max: CUDABackend.maxReductionBlocks)
        try launch(
            .squaredError, "moduli_squared_error", grid: grid,
            [.buffer(prediction), .buffer(target), .buffer(gradient), .int64(prediction.count), .float(scale), .buffer(partials)])
        return try hostSum(partialBlocks: grid, factor: 1)
    }

    // MARK: Reductions

    /// factor * (the Double partial sums of the first `partialBlocks` blocks in `partials`), summed
    /// on the host in block order (waits for the kernels that wrote them).
    private func hostSum(partialBlocks: Int, factor: Double) throws -> Double {
        var raw = [Float](repeating: 0, count: 2 * partialBlocks)
        try raw.withUnsafeMutableBufferPointer { try download(partials, into: $0) }
        return raw.withUnsafeBytes { bytes in
            var s = 0.0
            for i in 0..<partialBlocks { s += bytes.loadUnaligned(fromByteOffset: 8 * i, as: Double.self) }
            return s * factor
        }
    }

    private func reduce(_ x: ComputeBuffer<Float>, squares: Bool, _ op: String) throws -> Double {
        try checks.reduction(x, op)
        guard x.count > 0 else { return 0 }
        try activate()
        let grid = blocks(x.count, max: CUDABackend.maxReductionBlocks)
        try launch(.reduce, "moduli_partial_sums", grid: grid, [.buffer(x), .int64(x.count), .int32(squares ? 1 : 0), .buffer(partials)])
        return try hostSum(partialBlocks: grid, factor: 1)
    }

    public func sum(_ x: ComputeBuffer<Float>) throws -> Double {
        try reduce(x, squares: false, "sum")
    }

    public func sumOfSquares(_ x: ComputeBuffer<Float>) throws -> Double {
        try reduce(x, squares: true, "sumOfSquares")
    }

    // MARK: Optimizers

    public func sgdStep(
        parameters: ComputeBuffer<Float>, gradients: ComputeBuffer<Float>, momentumBuffer: ComputeBuffer<Float>?,
        settings: SGDSettings, firstStep: Bool
    ) throws {
        let (n, momentum) = try checks.sgdStep(
            parameters: parameters, gradients: gradients, momentumBuffer: momentumBuffer,
            settings: settings)
        try activate()
        try launch(
            .sgdStep, "moduli_sgd_step", grid: blocks(n),
            [
                .buffer(parameters), .buffer(gradients), .buffer(momentum), .int64(n),
                .float(Float(settings.learningRate)), .float(Float(settings.weightDecay)), .float(Float(settings.momentum)),
                .float(Float(1 - settings.dampening)), .int32(settings.nesterov ? 1 : 0), .int32(firstStep ? 1 : 0)
            ])
    }

    public func adamStep(
        parameters: ComputeBuffer<Float>, gradients: ComputeBuffer<Float>, firstMoment: ComputeBuffer<Float>,
        secondMoment: ComputeBuffer<Float>, settings: AdamSettings, step: Int
    ) throws {
        let n = try checks.adamStep(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment,
            secondMoment: secondMoment, step: step)
        let k = settings.constants(step: step, as: Float.self)
        try activate()
        try launch(
            .adamStep, "moduli_adam_step", grid: blocks(n),
            [
                .buffer(parameters), .buffer(gradients), .buffer(firstMoment), .buffer(secondMoment), .int64(n),
                .float(k.l2), .float(k.decay), .float(k.b1), .float(k.b2), .float(k.c1), .float(k.c2), .float(k.stepSize),
                .float(k.bc2Root), .float(k.eps)
            ])
    }

    // MARK: Moduli regularization and pruning

    public func moduliPenalty(
        weights: ComputeBuffer<Float>, coefficients: ComputeBuffer<Float>, gates: Int, hiddenSize h: Int,
        lambda: Double, power: Int, gradient: ComputeBuffer<Float>?
    ) throws -> Double {
        let (hh, count) = try checks.moduliPenalty(
            weights: weights, coefficients: coefficients, gates: gates, hiddenSize: h, power: power, gradient: gradient)
        let scale = count == 0 ? 0 : lambda / Double(count)
        try activate()
        let grid = blocks(count, max: CUDABackend.maxReductionBlocks)
        try launch(
            .moduliPenalty, "moduli_penalty", grid: grid,
            [
                .buffer(weights), .buffer(coefficients), .buffer(gradient), .int64(count), .int64(max(hh, 1)), .int32(Int32(power)),
                .float(Float(scale)), .buffer(partials)
            ])
        return try hostSum(partialBlocks: grid, factor: scale)
    }

    public func kthSmallestMagnitude(of tensors: [ComputeBuffer<Float>], k: Int) throws -> Float {
        let op = "kthSmallestMagnitude"
        _ = try checks.kthSmallestMagnitude(of: tensors, k: k)
        try activate()
        // Radix select on the bit patterns of |w| (ordered like the magnitudes), 8 bits a pass from
        // the top: count the entries in each bin of the next 8 bits among those whose higher bits
        // match the prefix found so far, then step into the bin that holds the k-th.
        var prefix: UInt32 = 0, mask: UInt32 = 0, remaining = UInt64(k)
        for shift in stride(from: 24, through: 0, by: -8) {
            try fill(histogram, with: 0)
            for t in tensors where t.count > 0 {
                try launch(
                    .magnitudeHistogram, "moduli_magnitude_histogram", grid: blocks(t.count),
                    [.buffer(t), .int64(t.count), .uint32(prefix), .uint32(mask), .int32(Int32(shift)), .buffer(histogram)])
            }
            try download(histogram, into: UnsafeMutableBufferPointer(start: hostHistogram, count: 256))
            var bin = 0
            while bin < 256 {
                let n = UInt64(hostHistogram[bin].bitPattern)
                if remaining <= n { break }
                remaining -= n
                bin += 1
            }
            guard bin < 256 else {
                throw ComputeError.invalidArgument("\(op): the histogram counted fewer than k entries (tensors changed during the call?)")
            }
            prefix |= UInt32(bin) << UInt32(shift)
            mask |= 0xff << UInt32(shift)
        }
        return Float(bitPattern: prefix)
    }
}
