// Inhibitor values and derivatives, and the regularizer configuration (aliases, Codable, validation).
// Reference: docs/method.md section 2.2.
import Foundation
import Testing
@testable import Sparsity

@Suite struct InhibitorTests {
    @Test(arguments: Inhibitor.allCases)
    func derivativeMatchesCentralDifferences(_ f: Inhibitor) {
        for d in stride(from: 0.05, through: 6.0, by: 0.173) {
            let h = 1e-6
            let numeric = (f.value(d + h) - f.value(d - h)) / (2 * h)
            let analytic = f.derivative(d)
            #expect(abs(numeric - analytic) <= 1e-6 * max(1, abs(analytic)), "\(f) at d = \(d)")
        }
        #expect(f.derivative(0) == 0, "\(f): f'(0) must be 0 so that the d(x, x) kink gives no gradient")
    }

    @Test func knownValues() {
        #expect(Inhibitor.square.value(3) == 9)
        #expect(abs(Inhibitor.gauss.value(0) - 100) < 1e-12)
        #expect(Inhibitor.dog.value(0) == 0)
        #expect(abs(Inhibitor.ripple.value(0) - 100) < 1e-12)
        #expect(abs(Inhibitor.ripple.value(Double.pi / 2)) < 1e-12)
        #expect(Inhibitor.constant.value(7) == 1)
        // docs/method.md 2.2: DoG peaks at 81.14 for d = 0.888.
        #expect(abs(Inhibitor.dogPeakDistance - 0.888) < 1e-3)
        #expect(abs(Inhibitor.dogPeakValue - 81.14) < 5e-3)
        #expect(abs(Inhibitor.dog.derivative(Inhibitor.dogPeakDistance)) < 1e-9)
        #expect(Inhibitor.invertedDoG.value(1.3) == Inhibitor.dog.value(1.3))
    }

    @Test func namesAndAliases() throws {
        #expect(Inhibitor(name: "diffusion") == .square)
        #expect(Inhibitor(name: "sinusoid") == .ripple)
        #expect(Inhibitor(name: "inverted-dog") == .invertedDoG)
        #expect(Inhibitor(name: "InvDoG") == .invertedDoG)
        #expect(Inhibitor(name: "mean") == .constant)
        #expect(Inhibitor(name: "banana") == nil)
        let decoded = try JSONDecoder().decode([Inhibitor].self, from: Data(#"["gaussian", "dog", "inverted-dog"]"#.utf8))
        #expect(decoded == [.gauss, .dog, .invertedDoG])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Inhibitor].self, from: Data(#"["x"]"#.utf8)) }
    }
}

@Suite struct RegularizerConfigTests {
    @Test func codableRoundTripAndDefaults() throws {
        let config = RegularizerConfig(
            space: "klein", inhibitor: .ripple, invert: true, permute: true, changeEmbed: true,
            strengthMatched: true, lambda: 1e-3, power: 2, learnEmbedding: false)
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(RegularizerConfig.self, from: data) == config)
        let partial = try JSONDecoder().decode(RegularizerConfig.self, from: Data(#"{"space": "torus", "lambda": 0.5}"#.utf8))
        #expect(partial == RegularizerConfig(space: "torus", lambda: 0.5))
        #expect(partial.inhibitor == .invertedDoG && partial.invertsR)
    }

    @Test func kinds() {
        #expect(RegularizerConfig.none.kind == .none)
        #expect(RegularizerConfig.standard(lambda: 1).kind == .standard)
        #expect(RegularizerConfig.geometric(space: "torus", lambda: 1).kind == .geometric(space: "torus"))
        #expect(RegularizerConfig(space: "torus", inhibitor: .dog, invert: true).invertsR)
        #expect(!RegularizerConfig(space: "torus", inhibitor: .dog).invertsR)
    }

    @Test func validationRejectsNonsense() {
        #expect(throws: RegularizerError.invalidPower(3)) { try RegularizerConfig(space: "torus", power: 3).validate() }
        #expect(throws: RegularizerError.invalidLambda(-1)) { try RegularizerConfig(space: "torus", lambda: -1).validate() }
        #expect(throws: RegularizerError.standardInverted) {
            try RegularizerConfig(space: "standard", inhibitor: .constant, invert: true).validate()
        }
        #expect(throws: RegularizerError.learnedWithoutGeometry("standard")) {
            try RegularizerConfig(space: "standard", inhibitor: .constant, learnEmbedding: true).validate()
        }
        #expect(throws: RegularizerError.learnedStrengthMatched) {
            try RegularizerConfig(space: "torus", strengthMatched: true, learnEmbedding: true).validate()
        }
        #expect(throws: Never.self) { try RegularizerConfig(space: "torus", permute: true, learnEmbedding: true).validate() }
        // A geometric space with a constant inhibitor, inverted, would give R = 0 everywhere.
        #expect(throws: RegularizerError.constantInverted) {
            try RegularizerConfig(space: "torus", inhibitor: .constant, invert: true).validate()
        }
        #expect(throws: Never.self) { try RegularizerConfig(space: "torus", inhibitor: .constant).validate() }
    }
}
