// Without a GPU: making a CUDA backend fails with an error that names every file and folder tried
// and what to install; the search lists cover drivers, toolkits and NVIDIA's wheels.
import Foundation
import Testing
import Compute

@Suite struct CUDALibraryTests {
    /// On a machine without the NVIDIA driver (this project's CI), CUDABackend() names
    /// libcuda.so.1, the folders it looked in, and the driver to install. On a machine with a
    /// driver it either works or reports the missing device or library.
    @Test func backendWithoutDriverNamesWhatWasTried() throws {
        let error: ComputeError
        do {
            let backend = try CUDABackend()
            try Test.cancel("a GPU is present (\(backend.name)): the no-driver message is checked with fake paths only")
        } catch let e as ComputeError {
            error = e
        }
        guard case let .libraryNotFound(library, tried, remedy) = error else {
            try Test.cancel("the CUDA driver is present here; CUDABackend() failed with: \(error)")
        }
        if !library.contains("libcuda") {
            try Test.cancel("the CUDA driver is present here; another library is missing: \(error)")
        }
        #expect(tried.contains { $0.hasPrefix("libcuda.so.1 (dynamic linker search") }, "tried: \(tried)")
        #expect(tried.contains("/usr/local/nvidia/lib64/libcuda.so.1: no such file"), "tried: \(tried)")
        #expect(tried.contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1: no such file"), "tried: \(tried)")
        #expect(remedy.contains("NVIDIA GPU driver") && remedy.contains(CUDALibraryLocations.driverVariable))
        let text = error.description
        #expect(text.hasPrefix("the CUDA driver library (libcuda.so.1) was not found. Tried, in order:"))
        #expect(tried.allSatisfy { text.contains("\n  \($0)") }, "every candidate is listed on its own line")
    }

    /// A missing file, a file that is not a library and a bare name each appear with their reason.
    @Test func everyCandidateIsReportedWithItsReason() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-cuda-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let fake = folder.appendingPathComponent("libcuda.so.1").path
        try "not a library".write(toFile: fake, atomically: true, encoding: .utf8)
        let missing = folder.appendingPathComponent("absent/libcuda.so.1").path
        do {
            _ = try CUDABackend(driverCandidates: [missing, fake, "libmoduli-no-such-library.so.1"])
            Issue.record("a backend was made from fake libraries")
        } catch let ComputeError.libraryNotFound(library, tried, _) {
            #expect(library.contains("libcuda.so.1"))
            #expect(tried.count == 3)
            #expect(tried[0] == "\(missing): no such file")
            #expect(tried[1].hasPrefix("\(fake): ") && tried[1].count > fake.count + 2, "the loader's reason: \(tried[1])")
            #expect(tried[2].hasPrefix("libmoduli-no-such-library.so.1 (dynamic linker search"))
        }
    }

    /// The search lists: the driver's folders, the versions of cuBLAS and NVRTC with the driver's
    /// major version first, toolkit folders, and wheel folders under site-packages.
    @Test func searchListsCoverDriversToolkitsAndWheels() {
        let driver = CUDALibraryLocations.driver(systemSearch: false)
        #expect(driver.contains("/usr/local/nvidia/lib64/libcuda.so.1") && driver.contains("/usr/lib64/libcuda.so.1"))
        #expect(!driver.contains("libcuda.so.1"), "no bare name without the system search")
        let site = "/tmp/site-packages-for-test"
        let nvrtc = CUDALibraryLocations.nvrtc(driverMajor: 12, extraSitePackages: [site])
        #expect(nvrtc.first == "libnvrtc.so.12" || CUDALibraryLocations.environment(CUDALibraryLocations.nvrtcVariable) != nil)
        #expect(nvrtc.contains("/usr/local/cuda/lib64/libnvrtc.so.13"))
        #expect(nvrtc.contains("\(site)/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"))
        #expect(nvrtc.contains("\(site)/nvidia/cu13/lib/libnvrtc.so.13"))
        #expect(nvrtc.contains("libnvrtc.so.11.2"))
        let cublas = CUDALibraryLocations.cublas(driverMajor: 13, extraSitePackages: [site])
        #expect(cublas.contains("\(site)/nvidia/cublas/lib/libcublas.so.12") && cublas.contains("\(site)/nvidia/cu13/lib/libcublas.so.13"))
        let bare = cublas.filter { !$0.contains("/") }
        #expect(bare == ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"], "bare names: \(bare)")
    }
}
