// The moduli regularizer: penalty = lambda * mean(R * |W_hh|^p) with R = post(f(D)) built from the
// neurons' positions on a moduli space, and its gradient. Reference: docs/method.md sections 2, 2.2, 2.3.
import Compute
import Foundation
import Formats
import Geometry
import Linalg
import NN

/// The moduli regularizer of docs/method.md section 2 for one model.
///
/// ```
/// D[i][j] = d_M(x_i, y_j)          H x H (y = x unless changeEmbed)
/// R       = invert(permute(f(D)))   in this order; invert: R = max(R) - R; permute: seeded shuffle
/// R       = mean(R) everywhere      when strengthMatched (after building the geometric R above)
/// R       = 1 everywhere            for `standard` (plain L1 / L2)
/// penalty = lambda * sum_layers mean_{g,i,j}( R[i][j] * |W_hh[g*H + i][j]|^p )
/// dW      = lambda / count * R * p |W|^(p-1) sign(W)      (subgradient 0 at W = 0)
/// ```
/// Gate tiling: an LSTM / GRU `W_hh` is `(G * H) x H`, G gate blocks of H rows stacked; R is used
/// for every block, and the mean is over all `count = G * H * H` entries of that layer's tiled
/// product (so for G = 1 it is the paper's mean over the H * H entries, and lambda means the same
/// per-entry strength for every cell kind). Several recurrent layers add their penalties.
///
/// Random draws from the run's generator, in this order: row positions (H points), column
/// positions (H points, only with `changeEmbed`), then the permutation of the H^2 entries (only
/// with `permute`: Fisher-Yates over the flat row-major R, `SeededGenerator.shuffle`).
///
/// Training calls `addGradients(weights:in:)` once per step after zeroing the gradients; it
/// allocates nothing for fixed positions. With learned positions (docs/method.md 2.3) it also recomputes
/// R from the positions in the store and adds their gradient; call `projectPositions(in:)` after
/// every optimizer step.
public struct ModuliRegularizer<Scalar: BLASScalar>: Sendable {
    /// The configuration this regularizer was built from.
    public let config: RegularizerConfig
    /// H: R is H x H.
    public let hiddenSize: Int
    /// The moduli space (nil for `none` and `standard`).
    public let space: (any ModuliSpace)?
    /// The row positions drawn at construction (learned runs: the initial positions); nil without geometry.
    public let initialPositions: NeuronEmbedding?
    /// The column positions drawn at construction with `changeEmbed`; nil otherwise.
    public let initialColumnPositions: NeuronEmbedding?
    /// mean(R) of the geometric R before strength matching replaced it (nil unless strength-matched).
    public let matchedMean: Double?
    /// The learned positions (slots in the parameter store); nil unless `learnEmbedding`.
    public private(set) var learned: LearnedEmbedding?
    /// R in Double, H * H row-major (empty for `none`).
    private var rDouble: [Double]
    /// R in the training scalar, H * H row-major (empty for `none`): what the per-step loop reads.
    private var rScalar: [Scalar]
    /// dPenalty/dR, H * H (learned runs only).
    private var dR: [Double]
    /// Counts the changes of R (learned positions change it every step), so that a copy of
    /// `trainingCoefficients` in a device's memory knows when to refresh.
    public private(set) var coefficientsVersion = 0

    /// Builds the regularizer, drawing positions from `space` with `rng` (see the type's
    /// documentation for the order of draws). With `learnEmbedding` the positions are registered
    /// in `store` (`LearnedEmbedding.positionsName`, and `columnPositionsName` with changeEmbed):
    /// do this before the optimizer's first step. Throws `RegularizerError` for invalid
    /// configurations (see `RegularizerConfig.validate()`) or a missing space.
    public init(
        config: RegularizerConfig, hiddenSize: Int, space: (any ModuliSpace)?,
        in store: ParameterStore<Scalar>, rng: inout SeededGenerator
    ) throws {
        try config.validate()
        var rows: NeuronEmbedding?, columns: NeuronEmbedding?
        if case .geometric(let name) = config.kind {
            guard let space else { throw RegularizerError.missingSpace(name) }
            rows = NeuronEmbedding.sample(space: space, count: hiddenSize, rng: &rng)
            if config.changeEmbed { columns = NeuronEmbedding.sample(space: space, count: hiddenSize, rng: &rng) }
        }
        try self.init(
            config: config, hiddenSize: hiddenSize, space: space, positions: rows?.positions,
            columnPositions: columns?.positions, in: store, rng: &rng)
    }

    /// Builds the regularizer on the named space from the registry (`ModuliSpaces.named`), or
    /// without a space for `standard` and `none`. Throws `UnknownModuliSpaceError` for an unknown
    /// name and `RegularizerError` for an invalid configuration.
    public init(
        config: RegularizerConfig, hiddenSize: Int, in store: ParameterStore<Scalar>,
        rng: inout SeededGenerator
    ) throws {
        var space: (any ModuliSpace)?
        if case .geometric(let name) = config.kind { space = try ModuliSpaces.named(name) }
        try self.init(config: config, hiddenSize: hiddenSize, space: space, in: store, rng: &rng)
    }

    /// Builds the regularizer over given positions (H x coordinateCount each; `columnPositions`
    /// required with `changeEmbed`, ignored otherwise). `rng` is used only to permute.
    public init(
        config: RegularizerConfig, hiddenSize: Int, space: (any ModuliSpace)?, positions: Matrix<Double>?,
        columnPositions: Matrix<Double>? = nil, in store: ParameterStore<Scalar>,
        rng: inout SeededGenerator
    ) throws {
        try config.validate()
        precondition(hiddenSize > 0, "ModuliRegularizer needs a positive hidden size, got \(hiddenSize)")
        self.config = config
        self.hiddenSize = hiddenSize
        let h = hiddenSize, n = h * h
        learned = nil
        dR = []
        switch config.kind {
        case .none:
            self.space = nil
            initialPositions = nil; initialColumnPositions = nil; matchedMean = nil
            rDouble = []
        case .standard:
            self.space = nil
            initialPositions = nil; initialColumnPositions = nil; matchedMean = nil
            rDouble = [Double](repeating: 1, count: n)
        case .geometric(let name):
            guard let space else { throw RegularizerError.missingSpace(name) }
            self.space = space
            let k = space.coordinateCount
            guard let positions, positions.rows == h, positions.columns == k else {
                throw RegularizerError.positionsShape(expected: [h, k], got: positions.map { [$0.rows, $0.columns] } ?? [])
            }
            let rows = NeuronEmbedding(space: space, positions: positions)
            var columns: NeuronEmbedding?
            if config.changeEmbed {
                guard let columnPositions, columnPositions.rows == h, columnPositions.columns == k else {
                    throw RegularizerError.positionsShape(
                        expected: [h, k],
                        got: columnPositions.map { [$0.rows, $0.columns] } ?? [])
                }
                columns = NeuronEmbedding(space: space, positions: columnPositions)
            }
            initialPositions = rows
            initialColumnPositions = columns
            let permutation: [Int]? = config.permute ? rng.permutation(n) : nil
            if config.learnEmbedding {
                var embedding = try LearnedEmbedding(
                    rows: rows, columns: columns, inhibitor: config.inhibitor,
                    invert: config.invertsR, permutation: permutation, in: store)
                embedding.computeCoefficients(from: store)
                rDouble = embedding.coefficients
                learned = embedding
                dR = [Double](repeating: 0, count: n)
                matchedMean = nil
            } else {
                let d = columns.map { rows.distances(to: $0) } ?? rows.distanceMatrix()
                var r = d.scalars
                CoefficientMath.inhibit(&r, config.inhibitor)
                if let permutation { r = CoefficientMath.gather(r, permutation) }
                if config.invertsR { _ = CoefficientMath.invert(&r) }
                if config.strengthMatched {
                    let mean = CoefficientMath.mean(r)
                    matchedMean = mean
                    r = [Double](repeating: mean, count: n)
                } else {
                    matchedMean = nil
                }
                rDouble = r
            }
        }
        rScalar = [Scalar](repeating: 0, count: rDouble.count)
        rDouble.withUnsafeBufferPointer { source in
            rScalar.withUnsafeMutableBufferPointer {
                PenaltyKernel.convert(source.baseAddress!, into: $0.baseAddress!, count: source.count)
            }
        }
    }

    /// Whether the penalty is identically zero (`none`, or lambda = 0).
    public var isInactive: Bool { config.kind == .none || config.lambda == 0 }

    /// R as an H x H matrix (nil for `none`). With learned positions: R at the last
    /// `addGradients` / `updateCoefficients` call.
    public var coefficients: Matrix<Double>? {
        rDouble.isEmpty ? nil : Matrix(rows: hiddenSize, columns: hiddenSize, scalars: rDouble)
    }

    /// Summary statistics of R's H^2 entries (nil for `none`). Sorts a copy: not for every step.
    public func statistics() -> RegularizerStatistics? {
        rDouble.isEmpty ? nil : RegularizerStatistics(values: rDouble)
    }

    /// Writes R as a float32 `.npy` file (see `NPYFile`). Throws for `none` (there is no R) or I/O errors.
    public func writeCoefficients(to url: URL) throws {
        guard let r = coefficients else { throw RegularizerError.noCoefficients }
        try NPYFile.write(r, to: url)
    }

    /// The current neuron positions: from the store when learned, else those drawn at construction
    /// (nil without geometry). Rows and, with `changeEmbed`, columns.
    public func positions(in store: ParameterStore<Scalar>) -> (rows: Matrix<Double>, columns: Matrix<Double>?)? {
        if let learned { return (learned.positions(in: store), learned.columnPositions(in: store)) }
        guard let initialPositions else { return nil }
        return (initialPositions.positions, initialColumnPositions?.positions)
    }

    /// Checks that every slot is a `(G * H) x H` matrix; throws `RegularizerError.weightShape` otherwise.
    public func checkWeights(_ weights: [ParameterSlot], in store: ParameterStore<Scalar>) throws {
        for slot in weights {
            let info = store.info(slot)
            if info.shape.count != 2 || info.columns != hiddenSize || info.rows % hiddenSize != 0 {
                throw RegularizerError.weightShape(name: info.name, shape: info.shape, hiddenSize: hiddenSize)
            }
        }
    }

    /// The penalty `lambda * sum_layers mean(R * |W|^p)` with the current R; adds nothing.
    public func penalty(weights: [ParameterSlot], in store: ParameterStore<Scalar>) -> Double {
        onCPU(store) { parameters, coefficients in
            try penalty(weights, on: parameters, coefficients: coefficients, addingGradients: false)
        }
    }

    /// One training step's regularizer work: with learned positions, recomputes R from the store's
    /// positions first; adds `dPenalty/dW` into the gradients of `weights` (and, when learned,
    /// `dPenalty/dPositions` into the positions' gradients); returns the penalty.
    @discardableResult
    public mutating func addGradients(weights: [ParameterSlot], in store: ParameterStore<Scalar>) -> Double {
        guard !isInactive else { return 0 }
        if learned != nil { updateCoefficients(from: store) }
        let total = onCPU(store) { parameters, coefficients in
            try penalty(weights, on: parameters, coefficients: coefficients, addingGradients: true)
        }
        addPositionGradients(weights: weights, in: store)
        return total
    }

    /// Learned positions: adds `dPenalty/dPositions` into the positions' gradients, from the
    /// weights' values in `store` (host memory: the chain rule through R runs on the CPU). No
    /// effect for fixed positions.
    public mutating func addPositionGradients(weights: [ParameterSlot], in store: ParameterStore<Scalar>) {
        guard !isInactive, learned != nil else { return }
        let h = hiddenSize, hh = h * h, power = config.power, lambda = config.lambda
        dR.withUnsafeMutableBufferPointer { a in
            a.update(repeating: 0)
            for slot in weights {
                let (blocks, scale) = Self.blockLayout(slot, store, hiddenSize: h, lambda: lambda)
                for b in 0..<blocks {
                    PenaltyKernel.accumulateMagnitudes(
                        w: store.value(slot) + b * hh, into: a.baseAddress!, count: hh, scale: scale, power: power)
                }
            }
        }
        learned!.addPositionGradients(dCoefficients: dR, into: store)
    }

    /// R in the training scalar, H x H row-major, as `penalty(_:on:coefficients:addingGradients:)`
    /// takes it (empty without a penalty); it changes when `coefficientsVersion` does.
    public var trainingCoefficients: [Scalar] { rScalar }

    /// The penalty of `weights` on a backend, `parameters` holding the store's tensors and
    /// `coefficients` R (H x H) in its memory; with `addingGradients`, `dPenalty/dW` is added into
    /// the gradients there. One backend operation per weight (`ComputeBackend.moduliPenalty`,
    /// lambda / (G H H) formed in Double), the values summed in Double in the order of `weights`.
    @_specialize(where Scalar == Float, Backend == CPUBackend<Float>)  // the trainer calls it from another module
    @_specialize(where Scalar == Double, Backend == CPUBackend<Double>)
    public func penalty<Backend: ComputeBackend>(
        _ weights: [ParameterSlot], on parameters: ParameterBuffers<Backend>,
        coefficients: ComputeBuffer<Scalar>, addingGradients: Bool
    ) throws -> Double where Backend.Scalar == Scalar {
        guard !isInactive else { return 0 }
        var total = 0.0
        for slot in weights {
            let (blocks, _) = Self.blockLayout(slot, parameters.store, hiddenSize: hiddenSize, lambda: config.lambda)
            total += try parameters.backend.moduliPenalty(
                weights: parameters.value(slot), coefficients: coefficients, gates: blocks,
                hiddenSize: hiddenSize, lambda: config.lambda, power: config.power,
                gradient: addingGradients ? parameters.gradient(slot) : nil)
        }
        return total
    }

    /// `body` on the CPU backend over the store's memory and R; an error there is a bug (the
    /// shapes were checked when the regularizer was built), and stops with the backend's message.
    private func onCPU(
        _ store: ParameterStore<Scalar>, _ body: (ParameterBuffers<CPUBackend<Scalar>>, ComputeBuffer<Scalar>) throws -> Double
    ) -> Double {
        guard !isInactive else { return 0 }
        let cpu = CPUBackend(Scalar.self)
        return rScalar.withUnsafeBufferPointer { r in
            do {
                return try body(store.buffers(on: cpu), cpu.buffer(wrapping: UnsafeMutableBufferPointer(mutating: r)))
            } catch { preconditionFailure("moduli penalty on the CPU backend: \(error)") }
        }
    }

    /// Learned positions: recomputes R (Double and training copies) from the positions in the
    /// store. No effect for fixed positions.
    public mutating func updateCoefficients(from store: ParameterStore<Scalar>) {
        guard learned != nil else { return }
        learned!.computeCoefficients(from: store)
        let source = learned!.coefficients
        rDouble.withUnsafeMutableBufferPointer { rd in
            rScalar.withUnsafeMutableBufferPointer { rs in
                source.withUnsafeBufferPointer { src in
                    rd.baseAddress!.update(from: src.baseAddress!, count: src.count)
                    PenaltyKernel.convert(src.baseAddress!, into: rs.baseAddress!, count: src.count)
                }
            }
        }
        coefficientsVersion += 1
    }

    /// Learned positions: maps every position back onto the space (`space.project`: the torus
    /// wraps, the sphere re-normalises). Call after every optimizer step; no effect otherwise.
    public func projectPositions(in store: ParameterStore<Scalar>) {
        learned?.project(in: store)
    }

    /// (G, lambda / (G * H * H)) for a `(G * H) x H` weight.
    private static func blockLayout(
        _ slot: ParameterSlot, _ store: ParameterStore<Scalar>, hiddenSize h: Int,
        lambda: Double
    ) -> (Int, Double) {
        let info = store.info(slot)
        precondition(
            info.columns == h && info.rows % h == 0,
            "Moduli regularizer: \(info.name) has shape \(info.shape), needs (G * \(h)) x \(h)")
        let blocks = info.rows / h
        return (blocks, lambda / Double(blocks * h * h))
    }
}

/// The elementwise steps that turn distances into R (shared by fixed and learned positions).
enum CoefficientMath {
    /// r = f(r) in place.
    static func inhibit(_ r: inout [Double], _ f: Inhibitor) {
        r.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = f.value(p[i]) } }
    }

    /// out[k] = values[permutation[k]].
    static func gather(_ values: [Double], _ permutation: [Int]) -> [Double] {
        permutation.map { values[$0] }
    }

    /// R = max(R) - R in place; returns the index of the (first) maximum.
    @discardableResult
    static func invert(_ r: inout [Double]) -> Int {
        guard !r.isEmpty else { return 0 }
        return r.withUnsafeMutableBufferPointer { p in
            var m = 0
            for i in 1..<p.count where p[i] > p[m] { m = i }
            let top = p[m]
            for i in p.indices { p[i] = top - p[i] }
            return m
        }
    }

    /// The mean, summed in Double.
    static func mean(_ r: [Double]) -> Double {
        r.isEmpty ? 0 : r.reduce(0, +) / Double(r.count)
    }
}
