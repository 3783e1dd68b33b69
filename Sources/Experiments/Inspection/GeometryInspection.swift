// Inspecting a regularizer before training: R's statistics for a space, inhibitor and neuron
// count, and optionally the matrix and the positions as .npy files. Reference: docs/method.md 2.2.
import Foundation
import Formats
import Geometry
import Linalg
import NN
import Sparsity

/// What `moduli geometry` reports.
public struct GeometryInspectionResult: Codable, Sendable {
    /// The regularizer that was built.
    public var regularizer: RegularizerConfig
    /// Neurons H.
    public var neurons: Int
    /// Seed of the position draw (and permutation).
    public var seed: UInt64
    /// Statistics of R's H^2 entries.
    public var statistics: RegularizerStatistics
}

/// Builds R exactly as a training run with the same options and seed would, and summarizes it.
public enum GeometryInspection {
    /// The bytes `inspect` needs at its peak: with n = neurons^2, the distances and R in Double
    /// (16n), R in Float (4n) and the sorted copy behind the quantiles (8n) or the .npy file's bytes
    /// (4n), with a permutation and its gathered copy (16n), with learned positions their
    /// gradient buffer and a second copy of R (16n).
    public static func memoryEstimate(_ config: RegularizerConfig, neurons: Int, writingMatrix: Bool) -> Double {
        let n = Double(neurons) * Double(neurons)
        var perEntry = 16.0 + 4 + 8 + (writingMatrix ? 8 : 0)
        if config.permute { perEntry += 16 }
        if config.learnEmbedding { perEntry += 16 }
        return perEntry * n + 64 * Double(neurons)
    }

    /// Builds the regularizer for `neurons` neurons; writes R (`matrixPath`) and the positions
    /// (`positionsPath`) as float32 .npy files when asked, atomically.
    public static func inspect(
        _ config: RegularizerConfig, neurons: Int, seed: UInt64,
        matrixPath: String? = nil, positionsPath: String? = nil
    ) throws -> GeometryInspectionResult {
        guard neurons >= 1 && neurons <= 32_768 else {
            throw ExperimentError("--neurons must be between 1 and 32768 (R has neurons^2 entries), got \(neurons).")
        }
        guard config.kind != .none else {
            throw ExperimentError("--space none has no coefficient matrix R: name a moduli space or 'standard'.")
        }
        do { try config.validate() } catch { throw ExperimentError("\(error).") }
        if case .geometric(let name) = config.kind {
            do { _ = try ModuliSpaces.named(name) } catch { throw ExperimentError("--space: \(error)") }
        }
        try requireMemory(
            memoryEstimate(config, neurons: neurons, writingMatrix: matrixPath != nil),
            what: "R for \(neurons) neurons", reduce: "--neurons")
        var rng = SeededGenerator(seed: seed).derived(3)  // the stream a training run uses for its regularizer
        let store = ParameterStore<Float>()
        let regularizer: ModuliRegularizer<Float>
        do { regularizer = try ModuliRegularizer(config: config, hiddenSize: neurons, in: store, rng: &rng) } catch {
            throw ExperimentError("Cannot build the regularizer: \(error)")
        }
        guard let statistics = regularizer.statistics(), let r = regularizer.coefficients else {
            throw ExperimentError("This configuration has no coefficient matrix R.")
        }
        if let matrixPath {
            try RunDirectory.writeAtomically(NPYFile.encode(r), to: URL(fileURLWithPath: matrixPath))
        }
        if let positionsPath {
            guard let positions = regularizer.positions(in: store) else {
                throw ExperimentError("--positions: '\(config.space)' has no neuron positions.")
            }
            try RunDirectory.writeAtomically(NPYFile.encode(positions.rows), to: URL(fileURLWithPath: positionsPath))
        }
        return GeometryInspectionResult(regularizer: config, neurons: neurons, seed: seed, statistics: statistics)
    }
}
