// The coefficient matrix R: post-processing (permute, invert), controls (standard, strength-matched),
// changeEmbed, statistics against docs/method.md 2.2's sanity values, and the .npy file.
import Foundation
import Formats
import Geometry
import Linalg
import NN
import Testing
@testable import Sparsity

@Suite struct RegularizerCoefficientTests {
    func build(_ config: RegularizerConfig, h: Int, seed: UInt64) throws -> ModuliRegularizer<Float> {
        var rng = SeededGenerator(seed: seed)
        return try ModuliRegularizer<Float>(config: config, hiddenSize: h, in: ParameterStore<Float>(), rng: &rng)
    }

    @Test func geometricRIsFOfTheDistanceMatrix() throws {
        let h = 20
        let regularizer = try build(.geometric(space: "klein", inhibitor: .gauss, lambda: 1), h: h, seed: 1)
        var rng = SeededGenerator(seed: 1)
        let embedding = NeuronEmbedding.sample(space: try ModuliSpaces.named("klein"), count: h, rng: &rng)
        let d = embedding.distanceMatrix()
        let r = try #require(regularizer.coefficients)
        for i in 0..<(h * h) { #expect(r.scalars[i] == Inhibitor.gauss.value(d.scalars[i]), "entry \(i) seed 1") }
        #expect(regularizer.initialPositions?.positions == embedding.positions)
        for i in 0..<h { for j in 0..<h { #expect(r[i, j] == r[j, i]) } }
    }

    @Test func invertSubtractsFromTheMaximum() throws {
        let h = 16
        let plain = try #require(try build(RegularizerConfig(space: "torus", inhibitor: .dog, lambda: 1), h: h, seed: 2).coefficients)
        let inverted = try #require(
            try build(RegularizerConfig(space: "torus", inhibitor: .dog, invert: true, lambda: 1), h: h, seed: 2).coefficients)
        let named = try #require(
            try build(RegularizerConfig(space: "torus", inhibitor: .invertedDoG, lambda: 1), h: h, seed: 2).coefficients)
        let both = try #require(
            try build(RegularizerConfig(space: "torus", inhibitor: .invertedDoG, invert: true, lambda: 1), h: h, seed: 2).coefficients)
        let top = plain.scalars.max()!
        #expect(inverted.scalars == plain.scalars.map { top - $0 })
        #expect(named == inverted, "dog + invert and invertedDoG are the same regularizer")
        #expect(both == inverted, "invertedDoG + invert inverts once")
        #expect(inverted.scalars.min() == 0)
        #expect(inverted.scalars.max() == top - plain.scalars.min()!)
        for i in 0..<h { #expect(inverted[i, i] == top, "diagonal (DoG(0) = 0) becomes the maximum") }
    }

    @Test func permuteKeepsTheMultisetAndUsesTheSeed() throws {
        let h = 24
        let base = RegularizerConfig(space: "torus", inhibitor: .dog, lambda: 1)
        var permuted = base
        permuted.permute = true
        let r = try #require(try build(base, h: h, seed: 3).coefficients)
        let p = try #require(try build(permuted, h: h, seed: 3).coefficients)
        let p2 = try #require(try build(permuted, h: h, seed: 3).coefficients)
        let p3 = try #require(try build(permuted, h: h, seed: 4).coefficients)
        #expect(r.scalars.sorted() == p.scalars.sorted(), "same values")
        #expect(r != p, "different arrangement")
        #expect(p == p2, "deterministic for a seed")
        #expect(p != p3)
        // Order: f, then permute, then invert.
        var both = permuted
        both.invert = true
        let pi = try #require(try build(both, h: h, seed: 3).coefficients)
        let top = p.scalars.max()!
        #expect(pi.scalars == p.scalars.map { top - $0 })
        // The permutation is the run generator's shuffle of the flat entries after the positions.
        var rng = SeededGenerator(seed: 3)
        _ = NeuronEmbedding.sample(space: try ModuliSpaces.named("torus"), count: h, rng: &rng)
        let perm = rng.permutation(h * h)
        #expect(p.scalars == perm.map { r.scalars[$0] })
    }

    @Test func standardIsAllOnes() throws {
        let r = try #require(try build(.standard(lambda: 1), h: 9, seed: 5).coefficients)
        #expect(r.scalars.allSatisfy { $0 == 1 })
    }

    @Test func strengthMatchedIsTheConstantMeanOfTheGeometricR() throws {
        let h = 30
        var config = RegularizerConfig(space: "torus", inhibitor: .invertedDoG, permute: true, lambda: 1)
        let geometric = try build(config, h: h, seed: 6)
        config.strengthMatched = true
        let matched = try build(config, h: h, seed: 6)
        let r = try #require(geometric.coefficients), m = try #require(matched.coefficients)
        let mean = r.scalars.reduce(0, +) / Double(r.count)
        #expect(abs(try #require(matched.matchedMean) - mean) < 1e-12)
        #expect(m.scalars.allSatisfy { $0 == matched.matchedMean })
        // Same total penalty on |W| = 1 everywhere as the geometric regularizer.
        let store = ParameterStore<Float>()
        let w = store.add("w", shape: [h, h]) { 1 }
        let pg = geometric.penalty(weights: [w], in: store), pm = matched.penalty(weights: [w], in: store)
        #expect(abs(pg - pm) < 1e-5 * pg, "Float R: \(pg) vs \(pm), seed 6")
    }

    @Test func changeEmbedGivesANonSymmetricR() throws {
        let h = 12
        var config = RegularizerConfig(space: "torus", inhibitor: .gauss, lambda: 1)
        config.changeEmbed = true
        let regularizer = try build(config, h: h, seed: 7)
        let r = try #require(regularizer.coefficients)
        var asymmetric = false
        for i in 0..<h { for j in 0..<h where r[i, j] != r[j, i] { asymmetric = true } }
        #expect(asymmetric)
        var rng = SeededGenerator(seed: 7)
        let space = try ModuliSpaces.named("torus")
        let rows = NeuronEmbedding.sample(space: space, count: h, rng: &rng)
        let columns = NeuronEmbedding.sample(space: space, count: h, rng: &rng)
        #expect(r.scalars == rows.distances(to: columns).scalars.map { Inhibitor.gauss.value($0) })
        #expect(regularizer.initialColumnPositions?.positions == columns.positions)
    }

    @Test func missingSpaceAndUnknownNameThrow() {
        var rng = SeededGenerator(seed: 8)
        #expect(throws: RegularizerError.missingSpace("torus")) {
            try ModuliRegularizer<Float>(
                config: .geometric(space: "torus", lambda: 1), hiddenSize: 4, space: nil,
                in: ParameterStore<Float>(), rng: &rng)
        }
        #expect(throws: UnknownModuliSpaceError.self) {
            try ModuliRegularizer<Float>(
                config: .geometric(space: "donut", lambda: 1), hiddenSize: 4,
                in: ParameterStore<Float>(), rng: &rng)
        }
    }

    @Test func statisticsOfKnownValues() {
        let s = RegularizerStatistics(values: (1...101).map(Double.init))
        #expect(s.count == 101 && s.mean == 51 && s.median == 51 && s.minimum == 1 && s.maximum == 101)
        #expect(s.quantile(0.25) == 26 && s.quantile(0.01) == 2 && s.quantile(0.99) == 100)
        #expect(s.fractionBelow10 == 9.0 / 101.0)
        let t = RegularizerStatistics(values: [4.0, 1, 3, 2])
        #expect(t.median == 2.5 && abs(t.standardDeviation - 1.25.squareRoot()) < 1e-15)
        #expect(abs(t.quantile(0.05)! - 1.15) < 1e-12)
    }

    /// docs/method.md 2.2: torus, inverted DoG. The paper's H = 4096 values are mean 66.26, median 77.0,
    /// max 81.14 (the diagonal), min 0, 4.1 % below 10. The default suite uses H = 512: over seeds
    /// 1-8 it gave mean 66.23-66.38, median 77.00-77.06, below-10 fraction 4.05-4.16 %, max 81.1425,
    /// so the tolerances below cover the seed-to-seed spread. MODULI_LONG_TESTS=1 runs H = 4096
    /// (seed 31 gave mean 66.283, median 77.015, 4.11 % below 10) with tighter tolerances.
    @Test func torusInvertedDoGStatisticsMatchThePaper() throws {
        let long = ProcessInfo.processInfo.environment["MODULI_LONG_TESTS"] == "1"
        let h = long ? 4096 : 512
        for seed: UInt64 in long ? [31] : [31, 32] {
            let regularizer = try build(.geometric(space: "torus", inhibitor: .invertedDoG, lambda: 0.1), h: h, seed: seed)
            let s = try #require(regularizer.statistics())
            let label = "torus inverted DoG, H = \(h), seed \(seed): \(s)"
            #expect(s.count == h * h)
            #expect(abs(s.mean - 66.26) < (long ? 0.1 : 0.25), "\(label)")
            #expect(abs(s.median - 77.0) < (long ? 0.05 : 0.15), "\(label)")
            #expect(abs(s.maximum - 81.14) < 0.01, "\(label)")
            #expect(s.minimum == 0, "\(label)")
            #expect(abs(s.fractionBelow10 - 0.041) < (long ? 0.001 : 0.002), "\(label)")
            let r = try #require(regularizer.coefficients)
            for i in 0..<h { #expect(r[i, i] == s.maximum, "the diagonal holds the maximum, \(label)") }
        }
    }

    @Test func coefficientsRoundTripThroughNPY() throws {
        let regularizer = try build(.geometric(space: "circle", inhibitor: .ripple, lambda: 1), h: 10, seed: 9)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-R-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try regularizer.writeCoefficients(to: url)
        let back = try NPYFile.read(from: url)
        let r = try #require(regularizer.coefficients)
        #expect(back == r.converted(to: Float.self))
        let data = try Data(contentsOf: url)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0, "data starts at a multiple of 64 bytes")
        #expect(
            String(decoding: data[10..<(10 + headerLength)], as: UTF8.self).hasPrefix(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 10), }"))
    }
}
