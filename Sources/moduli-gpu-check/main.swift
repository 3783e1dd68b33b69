// moduli-gpu-check: on a machine with an NVIDIA GPU, runs every compute operation on the CUDA
// backend and on the CPU backend with the same random inputs and compares them, times cuBLAS
// GEMM at the navigation paper preset's shapes, and writes report.json and report.txt. Built as a
// static binary (`make static`) so the GPU machine needs no Swift toolchain (docs/gpu.md).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import Compute

let usage = """
    usage: moduli-gpu-check --out DIR [--quick] [--device N] [--repeats N] [--seed N] [--no-timing]

      --out DIR     write report.json and report.txt there (created if missing)
      --quick       small sizes (seconds); default: the paper preset's widths (B 200, H 4096, Np 512)
      --device N    CUDA device ordinal (default 0)
      --repeats N   timed repeats per GEMM shape (default 10)
      --seed N      seed of the random inputs (default 1)
      --no-timing   skip the GEMM timing

    Exit status: 0 every operation within tolerance, 1 some over tolerance, 2 no GPU, a CUDA library
    missing or a CUDA error (the report says which), 64 bad arguments.
    """

/// Prints to standard error.
func warn(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// The parsed command line.
struct Options {
    var out: String?
    var quick = false
    var device = 0
    var repeats = 10
    var seed: UInt64 = 1
    var timing = true

    init(_ arguments: [String]) throws {
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw ComputeError.invalidArgument("\(flag) needs a value") }
            return arguments[i]
        }
        func integer(_ flag: String) throws -> Int {
            let text = try value(flag)
            guard let v = Int(text), v >= 0 else { throw ComputeError.invalidArgument("\(flag) takes a non-negative integer, got \(text)") }
            return v
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--out": out = try value("--out")
            case "--quick": quick = true
            case "--device": device = try integer("--device")
            case "--repeats": repeats = max(1, try integer("--repeats"))
            case "--seed": seed = UInt64(try integer("--seed"))
            case "--no-timing": timing = false
            case "--help", "-h": print(usage); exit(0)
            default: throw ComputeError.invalidArgument("unknown option \(arguments[i])")
            }
            i += 1
        }
    }
}

func run() -> Int32 {
    let options: Options
    do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
        warn("moduli-gpu-check: \(error)\n\n\(usage)")
        return 64
    }
    var report = GPUCheckReport(status: "error")
    func finish(_ code: Int32) -> Int32 {
        if let out = options.out {
            do { try report.write(to: out) } catch {
                warn("moduli-gpu-check: \(error)")
                return code == 0 ? 2 : code
            }
        }
        return code
    }
    let cuda: CUDABackend
    do { cuda = try CUDABackend(device: options.device) } catch {
        report.error = "\(error)"
        warn("moduli-gpu-check: cannot use the GPU:\n\(error)")
        return finish(2)
    }
    report.environment = [
        ("device", cuda.name), ("computeCapability", "\(cuda.computeCapability.major).\(cuda.computeCapability.minor)"),
        ("multiprocessors", "\(cuda.multiprocessors)"), ("memoryGiB", "\(cuda.totalMemory >> 30)"),
        ("driverCUDA", "\(cuda.driverVersion / 1000).\(cuda.driverVersion % 1000 / 10)"), ("cublas", "\(cuda.cublasVersion)"),
        ("nvrtc", "\(cuda.nvrtcVersion.major).\(cuda.nvrtcVersion.minor)"), ("kernels", cuda.architecture),
        ("libraries", cuda.libraryPaths.joined(separator: ", ")), ("sizes", options.quick ? "quick" : "paper preset widths"),
        ("seed", "\(options.seed)")
    ]
    print(
        """
        moduli-gpu-check on \(cuda.name) (compute \(cuda.computeCapability.major).\(cuda.computeCapability.minor), kernels \
        \(cuda.architecture))
        """
    )
    do {
        let cpu = CPUBackend()
        let start = MonotonicClock.seconds()
        report.comparisons = try BackendCheck.compare(cuda, against: cpu, sizes: options.quick ? .small : .paper, seed: options.seed) { c in
            print("  \(c.passed ? "ok  " : "FAIL") \(c.operation): error \(c.error) (tolerance \(c.tolerance))")
            fflush(nil)
        }
        fflush(nil)
        print("comparisons took \(Int(MonotonicClock.seconds() - start)) s")
        if options.timing {
            let shapes =
                options.quick
                ? GEMMShape.navigationPaperPreset(batch: 20, steps: 5, hidden: 512, cells: 64)
                : GEMMShape.navigationPaperPreset()
            report.stepShapes = shapes
            for tf32 in [false, true] {
                try cuda.setTF32(tf32)
                report.timings += try BackendCheck.timeGEMM(cuda, shapes: shapes, tf32: tf32, repeats: options.repeats)
            }
            try cuda.setTF32(false)
        }
    } catch {
        report.error = "\(error)"
        print(report.text)
        return finish(2)
    }
    report.status = report.comparisons.allSatisfy(\.passed) ? "passed" : "failed"
    print(report.text)
    return finish(report.status == "passed" ? 0 : 1)
}

exit(run())
