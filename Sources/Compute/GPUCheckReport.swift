// The report of a GPU check (moduli-gpu-check): the device and libraries, every operation's
// comparison with the CPU backend, and the GEMM rates with the navigation paper preset's GEMM time
// per training step, as JSON and as text. Written without Foundation so that the static check
// binary stays small.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import Linalg

/// Everything one GPU check found.
public struct GPUCheckReport: Sendable {
    /// "passed", "failed" (some comparison over tolerance) or "error" (no GPU, a library missing, a CUDA error).
    public var status: String
    /// The device and libraries (name, compute capability, driver, cuBLAS, NVRTC, files), or the error.
    public var environment: [(String, String)]
    /// Every operation's comparison with the reference backend.
    public var comparisons: [OperationComparison]
    /// GEMM timings (FP32, and TF32 when measured).
    public var timings: [GEMMTiming]
    /// The GEMM shapes of one step, for the FLOPs per step.
    public var stepShapes: [GEMMShape]
    /// The error that stopped the check, if any.
    public var error: String?

    public init(
        status: String, environment: [(String, String)] = [], comparisons: [OperationComparison] = [],
        timings: [GEMMTiming] = [], stepShapes: [GEMMShape] = [], error: String? = nil
    ) {
        self.status = status; self.environment = environment; self.comparisons = comparisons
        self.timings = timings; self.stepShapes = stepShapes; self.error = error
    }

    /// FLOPs of the GEMMs of one training step (sum of 2 m n k times each shape's count).
    public var stepFLOPs: Double {
        stepShapes.reduce(0) { $0 + 2 * Double($1.m) * Double($1.n) * Double($1.k) * Double($1.perStep) }
    }

    /// Milliseconds the GEMMs of one step take at the measured rates (FP32 or TF32), nil when a
    /// shape was not timed.
    public func stepMilliseconds(tf32: Bool) -> Double? {
        guard !stepShapes.isEmpty else { return nil }
        var total = 0.0
        for s in stepShapes {
            guard let t = timings.first(where: { $0.name == s.name && $0.tf32 == tf32 }) else { return nil }
            total += t.milliseconds * Double(s.perStep)
        }
        return total
    }

    private static func op(_ t: Transpose) -> String { t == .noTranspose ? "N" : "T" }

    /// The report as text.
    public var text: String {
        var s = "moduli GPU check: \(status)\n"
        if let error { s += "\nerror:\n\(error)\n" }
        if !environment.isEmpty {
            s += "\nenvironment\n"
            for (k, v) in environment { s += "  \(k.padding(18)) \(v)\n" }
        }
        if !comparisons.isEmpty {
            let failed = comparisons.filter { !$0.passed }.count
            s += "\ncorrectness: CUDA against the CPU backend, \(comparisons.count) results, \(failed) over tolerance\n"
            s += "  error = max|cuda - cpu| / max|cpu| over the whole tensor\n"
            for c in comparisons {
                s +=
                    """
                      \(c.passed ? "ok  " : "FAIL") \(c.operation.padding(44)) error \(Self.format(c.error, 3).padding(10)) tolerance \
                    \(Self.format(c.tolerance, 1))\n
                    """
            }
        }
        if !timings.isEmpty {
            s += "\nGEMM (cuBLAS, row-major, mean of the timed repeats)\n"
            for t in timings {
                let shape = "\(Self.op(t.transA))\(Self.op(t.transB)) \(t.m)x\(t.n)x\(t.k)"
                s +=
                    """
                      \(t.name.padding(30)) \(shape.padding(20)) \(t.tf32 ? "TF32" : "FP32")  \
                    \(Self.fixed(t.milliseconds, 3).padding(9)) ms  \(Self.fixed(t.teraflops, 1)) TFLOP/s\n
                    """
            }
        }
        if !stepShapes.isEmpty {
            s +=
                """
                \nnavigation paper preset (B 200, T 50, H 4096, Np 512): GEMM FLOPs per training step \
                \(Self.fixed(stepFLOPs / 1e12, 3)) TFLOP\n
                """
            for tf32 in [false, true] {
                if let ms = stepMilliseconds(tf32: tf32) {
                    s +=
                        """
                          GEMM time per step at the measured \(tf32 ? "TF32" : "FP32") rates: \(Self.fixed(ms, 2)) ms \
                        (\(Self.fixed(stepFLOPs / (ms * 1e-3) / 1e12, 1)) TFLOP/s)\n
                        """
                }
            }
        }
        return s
    }

    /// The report as JSON.
    public var json: String {
        var s = "{\n  \"status\": \(Self.quote(status)),\n"
        s += "  \"error\": \(error.map(Self.quote) ?? "null"),\n"
        s += "  \"environment\": {" + environment.map { "\(Self.quote($0.0)): \(Self.quote($0.1))" }.joined(separator: ", ") + "},\n"
        func list(_ items: [String]) -> String { items.isEmpty ? "[]" : "[\n" + items.joined(separator: ",\n") + "\n  ]" }
        s +=
            "  \"comparisons\": "
            + list(
                comparisons.map {
                    """
                        {\"operation\": \(Self.quote($0.operation)), \"error\": \(Self.number($0.error)), \"tolerance\": \
                    \(Self.number($0.tolerance)), \"passed\": \($0.passed)}
                    """
                }) + ",\n"
        s +=
            "  \"gemm\": "
            + list(
                timings.map {
                    """
                        {\"name\": \(Self.quote($0.name)), \"op\": \"\(Self.op($0.transA))\(Self.op($0.transB))\", \"m\": \($0.m), \
                    \"n\": \($0.n), \"k\": \($0.k), 
                    """
                        + """
                        \"tf32\": \($0.tf32), \"milliseconds\": \(Self.number($0.milliseconds)), \"tflops\": \
                        \(Self.number($0.teraflops))}
                        """
                }) + ",\n"
        s += "  \"stepGemmFlops\": \(Self.number(stepFLOPs)),\n"
        s += "  \"stepGemmMillisecondsFP32\": \(stepMilliseconds(tf32: false).map(Self.number) ?? "null"),\n"
        s += "  \"stepGemmMillisecondsTF32\": \(stepMilliseconds(tf32: true).map(Self.number) ?? "null")\n}\n"
        return s
    }

    /// Writes report.json and report.txt into `folder` (created if missing). Throws
    /// `ComputeError.invalidArgument` naming the file that could not be written.
    public func write(to folder: String) throws {
        _ = mkdir(folder, 0o755)
        for (name, content) in [("report.json", json), ("report.txt", text)] {
            let path = folder + "/" + name
            guard let f = fopen(path, "w") else {
                throw ComputeError.invalidArgument("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            let bytes = Array(content.utf8)
            let written = fwrite(bytes, 1, bytes.count, f)
            fclose(f)
            guard written == bytes.count else { throw ComputeError.invalidArgument("cannot write \(path): short write") }
        }
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// A JSON number (null for NaN and infinities, which JSON lacks).
    static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    /// x with `digits` significant digits in scientific notation ("1.23e-05"), "0" for 0.
    static func format(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : "inf" }
        guard x != 0 else { return "0" }
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([Int32(digits - 1), x]) { vsnprintf(&buffer, 64, "%.*e", $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// x with `decimals` digits after the point.
    static func fixed(_ x: Double, _ decimals: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([Int32(decimals), x]) { vsnprintf(&buffer, 64, "%.*f", $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    /// The string padded with spaces (or `with`) on the right to `width` characters.
    func padding(_ width: Int, with pad: Character = " ") -> String {
        count >= width ? self : self + String(repeating: pad, count: width - count)
    }
}
