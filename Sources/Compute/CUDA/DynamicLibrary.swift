// Loading shared libraries at run time (dlopen/dlsym), so that the package builds, tests and runs
// on machines without CUDA, and finds the CUDA libraries wherever a driver, a toolkit or a Python
// wheel put them. Reference: dlopen(3), ld.so(8).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A shared library opened with dlopen, kept open for the life of the process.
public final class DynamicLibrary: @unchecked Sendable {
    /// The handle dlopen returned.
    let handle: UnsafeMutableRawPointer
    /// The candidate that opened (a file name searched by the dynamic linker, or a path).
    public let path: String
    /// What the library is, for messages ("cuBLAS").
    public let name: String

    private init(handle: UnsafeMutableRawPointer, path: String, name: String) {
        self.handle = handle
        self.path = path
        self.name = name
    }

    /// Opens the first candidate that loads. A candidate with a "/" is a path, checked for
    /// existence first; a bare file name is searched by the dynamic linker (LD_LIBRARY_PATH, the
    /// ld.so cache, the default folders). Before a path `dir/libX.so.N`, each of `preload` (file
    /// names such as "libcublasLt.so.12") present in `dir` is opened globally, so that a library
    /// whose own search path does not name its folder still finds its dependencies.
    ///
    /// Throws `ComputeError.libraryNotFound` listing every candidate with why it failed, and
    /// `remedy` (what to install or set).
    public static func open(
        name: String, candidates: [String], remedy: String,
        preload: (String) -> [String] = { _ in [] }
    ) throws -> DynamicLibrary {
        var tried = [String]()
        var seen = Set<String>()
        for candidate in candidates where seen.insert(candidate).inserted {
            if candidate.contains("/") {
                guard access(candidate, F_OK) == 0 else {
                    tried.append("\(candidate): no such file")
                    continue
                }
                let folder = String(candidate[..<(candidate.lastIndex(of: "/") ?? candidate.startIndex)])
                for dependency in preload(candidate) {
                    let dependencyPath = folder + "/" + dependency
                    if access(dependencyPath, F_OK) == 0 { _ = dlopen(dependencyPath, RTLD_NOW | RTLD_GLOBAL) }
                }
            }
            _ = dlerror()
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_GLOBAL) {
                return DynamicLibrary(handle: handle, path: candidate, name: name)
            }
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            tried.append(
                candidate.contains("/")
                    ? "\(candidate): \(reason)"
                    : "\(candidate) (dynamic linker search: LD_LIBRARY_PATH, ld.so cache, default folders): \(reason)")
        }
        throw ComputeError.libraryNotFound(library: name, tried: tried, remedy: remedy)
    }

    /// The file that holds `symbol` of this library, as the dynamic linker loaded it (dladdr,
    /// looked up at run time since the Glibc module does not export it), or the candidate that
    /// opened when it does not say.
    public func file(holding symbol: String) -> String {
        typealias Dladdr = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32
        guard let address = dlsym(handle, symbol), let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "dladdr") else { return path }
        // Dl_info: four pointers, the first the file name.
        let info = UnsafeMutableRawPointer.allocate(byteCount: 4 * MemoryLayout<UInt>.size, alignment: MemoryLayout<UInt>.alignment)
        defer { info.deallocate() }
        info.initializeMemory(as: UInt.self, repeating: 0, count: 4)
        guard unsafeBitCast(f, to: Dladdr.self)(address, info) != 0,
            let name = info.load(as: UnsafePointer<CChar>?.self)
        else { return path }
        return String(cString: name)
    }

    /// The function `symbol` as the C function type `T`. Throws `ComputeError.missingSymbol`.
    public func function<T>(_ symbol: String, as type: T.Type = T.self) throws -> T {
        guard let f = optionalFunction(symbol, as: type) else {
            throw ComputeError.missingSymbol(library: name, path: path, symbol: symbol)
        }
        return f
    }

    /// The function `symbol` as `T`, or nil when the library lacks it.
    public func optionalFunction<T>(_ symbol: String, as type: T.Type = T.self) -> T? {
        guard let address = dlsym(handle, symbol) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// Where the CUDA libraries are looked for, in order. Every list starts with the file or folder
/// named by the library's environment variable, then the bare file names (the dynamic linker's
/// own search), then the folders of drivers, toolkits and Python wheels.
public enum CUDALibraryLocations {
    /// The environment variables read (besides CUDA_HOME, CUDA_PATH, VIRTUAL_ENV and HOME).
    public static let driverVariable = "MODULI_CUDA_DRIVER"
    /// A file or folder with libcublas.
    public static let cublasVariable = "MODULI_CUBLAS_PATH"
    /// A file or folder with libnvrtc.
    public static let nvrtcVariable = "MODULI_NVRTC_PATH"

    /// The value of an environment variable, nil when unset or empty.
    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }

    /// Versioned file names, newest first, with the major version `preferred` (the driver's)
    /// moved to the front.
    static func names(_ stem: String, majors: [String], preferred: Int?) -> [String] {
        var ordered = majors
        if let preferred, let i = ordered.firstIndex(where: { $0 == String(preferred) || $0.hasPrefix("\(preferred).") }) {
            ordered.insert(ordered.remove(at: i), at: 0)
        }
        return ordered.map { "\(stem).so.\($0)" } + ["\(stem).so"]
    }

    /// `value` as candidates: a folder gives `folder/name` for every name, a file itself.
    static func expand(_ value: String, names: [String]) -> [String] {
        var isFolder = false
        var info = stat()
        if stat(value, &info) == 0 { isFolder = (info.st_mode & S_IFMT) == S_IFDIR }
        return isFolder ? names.map { value + "/" + $0 } : [value]
    }

    /// The folders matched by a glob pattern, sorted (none when nothing matches).
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { i in result.gl_pathv[i].map { String(cString: $0) } }.sorted()
    }

    /// Python site-packages folders that may hold NVIDIA's wheels: the active virtual
    /// environment, the user's, the system's, and environments under /opt (e.g. a PyTorch
    /// install), plus `extra`.
    static func sitePackages(extra: [String]) -> [String] {
        var patterns = extra
        if let venv = environment("VIRTUAL_ENV") { patterns.append("\(venv)/lib/python3*/site-packages") }
        if let home = environment("HOME") { patterns.append("\(home)/.local/lib/python3*/site-packages") }
        patterns += [
            "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
            "/usr/lib/python3/dist-packages", "/opt/*/lib/python3*/site-packages",
            "/opt/*/.venv/lib/python3*/site-packages", "/opt/conda/lib/python3*/site-packages",
            ".venv-nvrtc/lib/python3*/site-packages"
        ]
        return patterns.flatMap { $0.contains("*") ? glob($0) : [$0] }
    }

    /// Toolkit library folders: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda.
    static func toolkitFolders() -> [String] {
        var roots = [String]()
        if let home = environment("CUDA_HOME") { roots.append(home) }
        if let path = environment("CUDA_PATH") { roots.append(path) }
        roots.append("/usr/local/cuda")
        return roots.flatMap { ["\($0)/lib64", "\($0)/targets/x86_64-linux/lib", "\($0)/targets/sbsa-linux/lib"] }
    }

    /// Candidates for the driver library libcuda.so.1 (installed with the NVIDIA driver).
    public static func driver(systemSearch: Bool = true) -> [String] {
        let names = ["libcuda.so.1", "libcuda.so"]
        var c = environment(driverVariable).map { expand($0, names: names) } ?? []
        if systemSearch { c += names }
        for folder in [
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64",
            "/usr/local/nvidia/lib", "/usr/lib/wsl/lib", "/run/opengl-driver/lib"
        ] {
            c += names.map { "\(folder)/\($0)" }
        }
        return c
    }

    /// Candidates for cuBLAS (libcublas.so.13, .12, .11): toolkit folders and NVIDIA's wheels
    /// (nvidia/cu13/lib, nvidia/cublas/lib).
    public static func cublas(driverMajor: Int?, systemSearch: Bool = true, extraSitePackages: [String] = []) -> [String] {
        let names = names("libcublas", majors: ["13", "12", "11"], preferred: driverMajor)
        var c = environment(cublasVariable).map { expand($0, names: names) } ?? []
        if systemSearch { c += names }
        let folders =
            toolkitFolders() + ["/usr/lib/x86_64-linux-gnu", "/usr/lib64"]
            + sitePackages(extra: extraSitePackages).flatMap { ["\($0)/nvidia/cu13/lib", "\($0)/nvidia/cublas/lib"] }
        for folder in folders { c += names.map { "\(folder)/\($0)" } }
        return c
    }

    /// Candidates for NVRTC (libnvrtc.so.13, .12, .11.2, .11): toolkit folders and NVIDIA's
    /// wheels (nvidia/cu13/lib, nvidia/cuda_nvrtc/lib; `pip install nvidia-cuda-nvrtc-cu12`).
    public static func nvrtc(driverMajor: Int?, systemSearch: Bool = true, extraSitePackages: [String] = []) -> [String] {
        let names = names("libnvrtc", majors: ["13", "12", "11.2", "11"], preferred: driverMajor)
        var c = environment(nvrtcVariable).map { expand($0, names: names) } ?? []
        if systemSearch { c += names }
        let folders =
            toolkitFolders() + ["/usr/lib/x86_64-linux-gnu", "/usr/lib64"]
            + sitePackages(extra: extraSitePackages).flatMap { ["\($0)/nvidia/cu13/lib", "\($0)/nvidia/cuda_nvrtc/lib"] }
        for folder in folders { c += names.map { "\(folder)/\($0)" } }
        return c
    }

    /// What to install when the driver is missing.
    public static let driverRemedy = """
        The CUDA driver library comes with the NVIDIA GPU driver: install the driver (e.g. `apt-get install \
        nvidia-driver-580` or NVIDIA's .run installer), or, in a container, run it with the GPU exposed \
        (docker run --gpus all). If libcuda.so.1 is installed elsewhere, set \(driverVariable) to the file or its folder.
        """
    /// What to install when cuBLAS is missing.
    public static let cublasRemedy = """
        Install cuBLAS: the CUDA toolkit (e.g. `apt-get install libcublas-12-8` from NVIDIA's repository, found under \
        /usr/local/cuda/lib64), or the Python wheel (`pip install nvidia-cublas-cu12`, or nvidia-cublas for CUDA 13). \
        Set \(cublasVariable) to the library file or its folder if it is installed elsewhere.
        """
    /// What to install when NVRTC is missing.
    public static let nvrtcRemedy = """
        Install NVRTC: the CUDA toolkit (found under /usr/local/cuda/lib64), or the Python wheel \
        (`python3 -m venv .venv-nvrtc && .venv-nvrtc/bin/pip install nvidia-cuda-nvrtc-cu12`; `make test-deps` does \
        this). Set \(nvrtcVariable) to the library file or its folder if it is installed elsewhere.
        """
}
