// NVRTC compiles every kernel source of the CUDA backend, without a GPU. The library comes from
// the CUDA toolkit or NVIDIA's wheel (`make test-deps` installs nvidia-cuda-nvrtc-cu12 into
// .venv-nvrtc and sets MODULI_NVRTC_PATH); where none can be had the tests say why and skip,
// unless MODULI_REQUIRE_NVRTC=1, where that is a failure.
import Foundation
import Testing
import Compute

/// NVRTC for the tests: MODULI_NVRTC_PATH, the usual locations, and this checkout's .venv-nvrtc.
enum TestNVRTC {
    /// The repository's root, from this file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The library, or why it could not be opened.
    static let loaded: Result<NVRTC, ComputeError> = {
        let extra = [repositoryRoot + "/.venv-nvrtc/lib/python3*/site-packages"]
        do { return .success(try NVRTC(candidates: CUDALibraryLocations.nvrtc(driverMajor: nil, extraSitePackages: extra))) } catch let e
            as ComputeError
        { return .failure(e) } catch { return .failure(.invalidArgument("\(error)")) }
    }()

    /// The library; where it cannot be opened the test is skipped with the reason (the test
    /// framework's own cancellation, shown as such), or fails when MODULI_REQUIRE_NVRTC=1.
    static func library() throws -> NVRTC {
        switch loaded {
        case .success(let nvrtc): return nvrtc
        case .failure(let error):
            if ProcessInfo.processInfo.environment["MODULI_REQUIRE_NVRTC"] == "1" {
                Issue.record("NVRTC is required (MODULI_REQUIRE_NVRTC=1) but could not be opened: \(error)")
                throw error
            }
            try Test.cancel("NVRTC could not be opened (run `make test-deps`): \(error)")
        }
    }
}

/// The .param types of `entry` in PTX text, in order.
func ptxParameterTypes(_ ptx: String, _ entry: String) -> [String] {
    guard let start = ptx.range(of: ".entry \(entry)("), let end = ptx[start.upperBound...].firstIndex(of: ")") else { return [] }
    return ptx[start.upperBound..<end].split(separator: "\n").compactMap { line in
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
        guard words.count >= 2, words[0] == ".param" else { return nil }
        return String(words[1])
    }
}

@Suite struct NVRTCTests {
    /// Every kernel source compiles to PTX for compute_80 (an architecture NVRTC 11.1 to 13 all
    /// support), and the PTX defines each of the source's entry points.
    @Test func everyKernelCompilesToPTX() throws {
        let nvrtc = try TestNVRTC.library()
        var compiled = 0
        for kernel in CUDAKernelSource.all {
            let result = try nvrtc.compile(kernel.source, name: kernel.name, options: CUDAKernelSource.options(architecture: "compute_80"))
            let ptx = result.ptxText
            #expect(ptx.contains(".target sm_80"), "\(kernel.name): PTX for another target")
            for entry in kernel.entryPoints {
                #expect(ptx.contains(".entry \(entry)("), "\(kernel.name): PTX lacks the entry point \(entry)")
                // The parameter list the backend checks its launches against is the PTX's.
                let declared = kernel.parameters(of: entry)
                #expect(declared != nil, "\(entry): its C signature did not parse")
                #expect(declared?.map(\.ptxType) == ptxParameterTypes(ptx, entry), "\(entry): parameters differ from the PTX's")
            }
            #expect(result.log.isEmpty || !result.log.contains("warning"), "\(kernel.name) compiles with warnings:\n\(result.log)")
            compiled += 1
        }
        #expect(compiled == CUDAKernelSource.all.count)
        print(
            "ComputeTests: NVRTC \(nvrtc.version.major).\(nvrtc.version.minor) (\(nvrtc.library.path)) compiled "
                + "\(compiled) kernel sources to PTX")
    }

    /// Every source also compiles to machine code for the H100/H200 (sm_90), what the backend
    /// loads on such a GPU, when this NVRTC supports that architecture.
    @Test func everyKernelCompilesToCUBINForHopper() throws {
        let nvrtc = try TestNVRTC.library()
        let archs = nvrtc.supportedArchitectures()
        guard archs.isEmpty || archs.contains(90) else {
            try Test.cancel("NVRTC \(nvrtc.version) does not compile for sm_90 (it supports \(archs))")
        }
        for kernel in CUDAKernelSource.all {
            let result = try nvrtc.compile(kernel.source, name: kernel.name, options: CUDAKernelSource.options(architecture: "sm_90"))
            let elfMagic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
            #expect(result.cubin.map { Array($0.prefix(4)) == elfMagic } ?? false, "\(kernel.name): no sm_90 CUBIN")
        }
    }

    /// A source with an error fails with NVRTC's log, naming the line.
    @Test func compileErrorsCarryTheLog() throws {
        let nvrtc = try TestNVRTC.library()
        let broken = CUDAKernelSource.prelude + "extern \"C\" __global__ void k(float* x) { x[0] = undefined_name; }\n"
        do {
            _ = try nvrtc.compile(broken, name: "broken", options: CUDAKernelSource.options(architecture: "compute_80"))
            Issue.record("a broken source compiled")
        } catch let ComputeError.nvrtc(call, _, message, log) {
            #expect(call.hasPrefix("nvrtcCompileProgram(broken"))
            #expect(message.contains("COMPILATION"), "message: \(message)")
            #expect(log.contains("undefined_name"), "log: \(log)")
        }
    }
}
