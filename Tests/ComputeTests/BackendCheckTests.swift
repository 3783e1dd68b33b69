// The GPU check's machinery, run here on two CPU backends: every case runs, identical backends
// agree exactly, the error measure catches a planted difference, and the report is valid JSON.
import Foundation
import Testing
import Linalg
import Compute

@Suite struct BackendCheckTests {
    /// Two CPU backends agree exactly on every case (the cases run without argument errors and
    /// cover every operation of the protocol).
    @Test func identicalBackendsAgreeOnEveryOperation() throws {
        let results = try BackendCheck.compare(CPUBackend(), against: CPUBackend(), sizes: .small, seed: 3)
        #expect(results.count >= 40, "\(results.count) comparisons")
        for r in results { #expect(r.error == 0, "\(r.operation): \(r.error)") }
        let names = Set(results.map { $0.operation.split(separator: " ").first.map(String.init) ?? "" })
        for op in [
            "gemm", "addRowVector", "addColumnSums", "axpy", "scale", "multiplyByMask", "elmanForward", "elmanBackward",
            "lstmForward", "lstmBackward", "gruForward", "gruBackward", "crossEntropy", "softCrossEntropy", "squaredError",
            "transpose", "addRowVectors", "addTransposedProduct", "gatherRows", "scatterAddRows", "sum,", "sgdStep", "adamStep",
            "moduliPenalty", "kthSmallestMagnitude", "upload/copy/fill/download"
        ] {
            #expect(names.contains(op), "no comparison of \(op)")
        }
    }

    /// The error is relative to the reference's largest magnitude; NaN matches only NaN.
    @Test func relativeErrorMeasuresTheWholeTensor() {
        #expect(BackendCheck.relativeError([1, 2, 4], [1, 2, 4]) == 0)
        #expect(abs(BackendCheck.relativeError([1, 2.5, 4], [1, 2, 4]) - 0.125) < 1e-12)
        #expect(BackendCheck.relativeError([.nan, 1], [.nan, 1]) == 0)
        #expect(BackendCheck.relativeError([.nan, 1], [0, 1]) == .infinity)
        #expect(BackendCheck.relativeError([1], [1, 2]) == .infinity)
    }

    /// GEMM timing runs and the report carries the step's FLOPs; the JSON parses.
    @Test func reportIsValidJSON() throws {
        let shapes = GEMMShape.navigationPaperPreset(batch: 3, steps: 2, hidden: 8, cells: 5)
        let timings = try BackendCheck.timeGEMM(CPUBackend(), shapes: shapes, tf32: false, repeats: 2, warmup: 1)
        #expect(timings.count == shapes.count && timings.allSatisfy { $0.milliseconds > 0 })
        let report = GPUCheckReport(
            status: "passed", environment: [("device", "cpu \"test\"\n")],
            comparisons: [OperationComparison(operation: "gemm", error: 1e-7, tolerance: 1e-5)],
            timings: timings, stepShapes: shapes)
        // 2 * (2 steps * 2 products * 3*8*8 + 8*8*6 + 6*5*8 + 6*8*5 + 5*8*6 + 3*8*5)
        let products: Int = 2 * 2 * 3 * 8 * 8 + 8 * 8 * 6 + 6 * 5 * 8 + 6 * 8 * 5 + 5 * 8 * 6 + 3 * 8 * 5
        #expect(report.stepFLOPs == 2 * Double(products))
        let object = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any]
        #expect(object?["status"] as? String == "passed")
        #expect((object?["environment"] as? [String: String])?["device"] == "cpu \"test\"\n")
        #expect((object?["gemm"] as? [Any])?.count == shapes.count)
        #expect(report.text.contains("GEMM FLOPs per training step"))
        let empty =
            try JSONSerialization.jsonObject(with: Data(GPUCheckReport(status: "error", error: "no GPU").json.utf8)) as? [String: Any]
        #expect(empty?["error"] as? String == "no GPU" && empty?["stepGemmMillisecondsFP32"] is NSNull)
    }

    /// The navigation paper preset's GEMMs come to about 1.13 TFLOP per step.
    @Test func paperPresetFLOPsPerStep() {
        let report = GPUCheckReport(status: "passed", stepShapes: GEMMShape.navigationPaperPreset())
        let recurrent: Int = 2 * 50 * 200 * 4096 * 4096 + 4096 * 4096 * 10000
        let decoder: Int = 3 * 10000 * 512 * 4096 + 200 * 4096 * 512
        let expected = 2 * Double(recurrent + decoder)
        #expect(report.stepFLOPs == expected)
        #expect(abs(report.stepFLOPs / 1e12 - 1.13) < 0.01)
    }
}
