// Bad arguments are errors that say what is wrong, never traps: sizes, foreign buffers,
// too-small buffers, options out of range.
import Testing
import Linalg
import Compute

@Suite struct ArgumentTests {
    /// The message of the error `body` throws (empty if it throws none or another kind).
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as ComputeError { return e.description } catch { return "" }
        return ""
    }

    @Test func badArgumentsThrowWithMessages() throws {
        let cpu = CPUBackend(), other = CPUBackend()
        let a = try cpu.allocate(count: 12), small = try cpu.allocate(count: 3), foreign = try other.allocate(count: 12)
        let b16 = try cpu.allocate(count: 16)
        #expect(
            message {
                try cpu.gemm(
                    .noTranspose, .noTranspose, m: 3, n: 4, k: 4, alpha: 1, a: a, lda: 4, b: b16, ldb: 4,
                    beta: 0, c: small, ldc: 4)
            }.contains("C (3 x 4, leading dimension 4) needs 12"))
        #expect(
            message {
                try cpu.gemm(
                    .noTranspose, .noTranspose, m: 2, n: 2, k: 3, alpha: 1, a: a, lda: 2, b: a, ldb: 2,
                    beta: 0, c: a, ldc: 2)
            }.contains("leading dimension of A is 2, must be at least 3"))
        #expect(
            message {
                try cpu.gemm(
                    .noTranspose, .noTranspose, m: -1, n: 2, k: 3, alpha: 1, a: a, lda: 3, b: a, ldb: 2,
                    beta: 0, c: a, ldc: 2)
            }.contains("m is -1"))
        #expect(message { try cpu.axpy(alpha: 1, foreign, a) }.contains("belongs to another backend"))
        #expect(
            message { try cpu.lstmForward(gates: a, cellPrevious: a, cell: a, hidden: a, batch: 1, hiddenSize: 4) }
                .contains("gates has 12 elements, needs 16"))
        #expect(
            message { try cpu.lstmForward(gates: a, cellPrevious: a, cell: a, hidden: a, batch: Int.max, hiddenSize: 4) }
                .contains("overflow"))
        #expect(
            message {
                try cpu.moduliPenalty(
                    weights: a, coefficients: a, gates: 1, hiddenSize: 2, lambda: 1, power: 3, gradient: nil)
            }.contains("power is 3"))
        #expect(
            message {
                try cpu.adamStep(
                    parameters: a, gradients: a, firstMoment: a, secondMoment: a,
                    settings: AdamSettings(), step: 0)
            }.contains("step is 0"))
        #expect(
            message {
                try cpu.sgdStep(
                    parameters: a, gradients: a, momentumBuffer: nil,
                    settings: SGDSettings(learningRate: 0.1, momentum: 0.9), firstStep: true)
            }
            .contains("needs a momentum buffer"))
        #expect(message { _ = try a.slice(from: 10, count: 3) }.contains("outside a buffer of 12"))
        #expect(message { _ = try cpu.allocate(count: -1) }.contains("cannot allocate"))
        #expect(message { try cpu.upload([Float](repeating: 0, count: 4), to: small) }.contains("needs 4"))
    }
}
