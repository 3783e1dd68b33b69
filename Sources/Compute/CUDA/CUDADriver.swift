// The CUDA driver API and cuBLAS, reached through dlopen: the functions the CUDA backend calls,
// as C function types, with every status checked and turned into an error that names the call,
// the library's error name and its description. References: cuda.h and cublas_api.h (CUDA 12/13).

/// The CUDA driver API functions the backend uses (`_v2` names where cuda.h maps to them).
final class CUDADriver: @unchecked Sendable {
    typealias Status = Int32
    typealias Handle = OpaquePointer?
    let library: DynamicLibrary
    let cuInit: @convention(c) (UInt32) -> Status
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Status
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Status
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Status
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Status
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Status
    let cuDevicePrimaryCtxRelease: @convention(c) (Int32) -> Status
    let cuCtxSetCurrent: @convention(c) (Handle) -> Status
    let cuCtxSynchronize: @convention(c) () -> Status
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Status
    let cuMemFree: @convention(c) (UInt64) -> Status
    let cuMemcpyHtoD: @convention(c) (UInt64, UnsafeRawPointer?, Int) -> Status
    let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int) -> Status
    let cuMemcpyDtoD: @convention(c) (UInt64, UInt64, Int) -> Status
    let cuMemsetD32: @convention(c) (UInt64, UInt32, Int) -> Status
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer?) -> Status
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Status
    let cuModuleUnload: @convention(c) (Handle) -> Status
    let cuLaunchKernel:
        @convention(c) (
            Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
            UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        ) -> Status
    let cuGetErrorName: @convention(c) (Status, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Status
    let cuGetErrorString: @convention(c) (Status, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Status

    /// Opens the driver library from `candidates` (by default `CUDALibraryLocations.driver()`).
    init(candidates: [String]? = nil) throws {
        let l = try DynamicLibrary.open(
            name: "the CUDA driver library (libcuda.so.1)",
            candidates: candidates ?? CUDALibraryLocations.driver(),
            remedy: CUDALibraryLocations.driverRemedy)
        library = l
        cuInit = try l.function("cuInit")
        cuDriverGetVersion = try l.function("cuDriverGetVersion")
        cuDeviceGetCount = try l.function("cuDeviceGetCount")
        cuDeviceGet = try l.function("cuDeviceGet")
        cuDeviceGetName = try l.function("cuDeviceGetName")
        cuDeviceGetAttribute = try l.function("cuDeviceGetAttribute")
        cuDeviceTotalMem = try l.function("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try l.function("cuDevicePrimaryCtxRetain")
        cuDevicePrimaryCtxRelease = try l.function("cuDevicePrimaryCtxRelease_v2")
        cuCtxSetCurrent = try l.function("cuCtxSetCurrent")
        cuCtxSynchronize = try l.function("cuCtxSynchronize")
        cuMemAlloc = try l.function("cuMemAlloc_v2")
        cuMemFree = try l.function("cuMemFree_v2")
        cuMemcpyHtoD = try l.function("cuMemcpyHtoD_v2")
        cuMemcpyDtoH = try l.function("cuMemcpyDtoH_v2")
        cuMemcpyDtoD = try l.function("cuMemcpyDtoD_v2")
        cuMemsetD32 = try l.function("cuMemsetD32_v2")
        cuModuleLoadData = try l.function("cuModuleLoadData")
        cuModuleGetFunction = try l.function("cuModuleGetFunction")
        cuModuleUnload = try l.function("cuModuleUnload")
        cuLaunchKernel = try l.function("cuLaunchKernel")
        cuGetErrorName = try l.function("cuGetErrorName")
        cuGetErrorString = try l.function("cuGetErrorString")
    }

    /// Throws `ComputeError.driver` unless `status` is CUDA_SUCCESS.
    func check(_ status: Status, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        var name: UnsafePointer<CChar>? = nil, text: UnsafePointer<CChar>? = nil
        _ = cuGetErrorName(status, &name)
        _ = cuGetErrorString(status, &text)
        throw ComputeError.driver(
            call: call(), code: status, name: name.map { String(cString: $0) } ?? "CUresult \(status)",
            message: text.map { String(cString: $0) } ?? "unknown error")
    }

    /// CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR / MULTIPROCESSOR_COUNT.
    static let computeCapabilityMajor: Int32 = 75, computeCapabilityMinor: Int32 = 76, multiprocessorCount: Int32 = 16
}

/// The cuBLAS functions the backend uses.
final class CUBLAS: @unchecked Sendable {
    typealias Status = Int32
    typealias Handle = OpaquePointer?
    let library: DynamicLibrary
    let create: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    let destroy: @convention(c) (Handle) -> Status
    let getVersion: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Status
    let setMathMode: @convention(c) (Handle, Int32) -> Status
    let sgemm:
        @convention(c) (
            Handle, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UnsafeRawPointer?, Int32,
            UnsafeRawPointer?, Int32, UnsafePointer<Float>, UnsafeMutableRawPointer?, Int32
        ) -> Status
    let statusName: (@convention(c) (Status) -> UnsafePointer<CChar>?)?
    let statusString: (@convention(c) (Status) -> UnsafePointer<CChar>?)?

    /// Opens cuBLAS (libcublasLt from the same folder first) from `candidates`.
    init(candidates: [String]) throws {
        let l = try DynamicLibrary.open(
            name: "cuBLAS (libcublas)", candidates: candidates, remedy: CUDALibraryLocations.cublasRemedy,
            preload: { path in
                // libcublas.so.N needs libcublasLt.so.N from its own folder.
                let file = path.split(separator: "/").last.map(String.init) ?? ""
                return file.hasPrefix("libcublas") ? ["libcublasLt" + file.dropFirst("libcublas".count)] : []
            })
        library = l
        create = try l.function("cublasCreate_v2")
        destroy = try l.function("cublasDestroy_v2")
        getVersion = try l.function("cublasGetVersion_v2")
        setMathMode = try l.function("cublasSetMathMode")
        sgemm = try l.function("cublasSgemm_v2")
        statusName = l.optionalFunction("cublasGetStatusName")
        statusString = l.optionalFunction("cublasGetStatusString")
    }

    /// Throws `ComputeError.cublas` unless `status` is CUBLAS_STATUS_SUCCESS.
    func check(_ status: Status, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        let names: [Int32: String] = [
            1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
            7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
            11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
            14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED"
        ]
        throw ComputeError.cublas(
            call: call(), code: status,
            name: statusName?(status).map { String(cString: $0) } ?? names[status] ?? "cublasStatus_t \(status)",
            message: statusString?(status).map { String(cString: $0) } ?? "see cublas_api.h")
    }

    /// cublasOperation_t: CUBLAS_OP_N, CUBLAS_OP_T.
    static let opN: Int32 = 0, opT: Int32 = 1
    /// cublasMath_t: CUBLAS_DEFAULT_MATH (full FP32), CUBLAS_TF32_TENSOR_OP_MATH.
    static let defaultMath: Int32 = 0, tf32Math: Int32 = 3
}
