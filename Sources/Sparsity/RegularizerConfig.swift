// The options of the moduli regularizer, as recorded in a run's config.json, and their validation.
// Reference: docs/method.md sections 2 and 2.2 (post-processing, controls) and 7 (bugs 4 and 5).

/// Which regularizer a configuration asks for.
public enum RegularizerKind: Sendable, Equatable {
    /// No penalty at all.
    case none
    /// R = 1 everywhere: plain L1 (p = 1) or L2 (p = 2) on W_hh.
    case standard
    /// A geometric regularizer on the named moduli space (`torus`, `klein`, `sphere`, ...).
    case geometric(space: String)
}

/// Everything that defines a moduli regularizer (docs/method.md 2): space, inhibitor, post-processing,
/// controls, strength and power. Codable for run records; missing keys take the defaults below.
///
/// Post-processing order (docs/method.md 2.2): R = f(D), then `permute`, then invert (R = max(R) - R).
/// `strengthMatched` replaces the finished geometric R by the constant mean(R).
public struct RegularizerConfig: Codable, Sendable, Equatable {
    /// A moduli-space name (`circle`, `torus`, `torus6`, `klein`, `sphere`, `s3`, `r3`, `r9`,
    /// `mixedcurv`, ...), or `standard` (R = 1: plain L1/L2), or `none` (no penalty).
    public var space: String
    /// The inhibitor f(d). `invertedDoG` is DoG followed by inversion. Ignored for `standard` and `none`.
    public var inhibitor: Inhibitor
    /// Invert: R = max(R) - R after f (and after permute). `inhibitor == .invertedDoG` implies it;
    /// setting both inverts once, not twice.
    public var invert: Bool
    /// Control: shuffle all H^2 entries of R with the run's generator (same values, no geometry).
    public var permute: Bool
    /// Draw separate positions for rows (post-synaptic neurons) and columns (pre-synaptic
    /// neurons), giving a non-symmetric R (the paper's `changeembed`).
    public var changeEmbed: Bool
    /// Control: R = constant equal to mean(R) of the geometric regularizer this configuration
    /// would otherwise build (same space, inhibitor, post-processing and seed).
    public var strengthMatched: Bool
    /// lambda in penalty = lambda * mean(R * |W|^p).
    public var lambda: Double
    /// p: 1 (L1-type) or 2 (L2-type).
    public var power: Int
    /// Learn the neuron positions with the model's optimizer (docs/method.md 2.3).
    public var learnEmbedding: Bool

    /// A configuration. The defaults mean "no penalty" (`space: "none"`); once a space is named, the
    /// other defaults are the paper's navigation choices (inverted DoG, lambda 0.1, L1, fixed positions).
    public init(
        space: String = "none", inhibitor: Inhibitor = .invertedDoG, invert: Bool = false,
        permute: Bool = false, changeEmbed: Bool = false, strengthMatched: Bool = false,
        lambda: Double = 0.1, power: Int = 1, learnEmbedding: Bool = false
    ) {
        self.space = space; self.inhibitor = inhibitor; self.invert = invert; self.permute = permute
        self.changeEmbed = changeEmbed; self.strengthMatched = strengthMatched; self.lambda = lambda
        self.power = power; self.learnEmbedding = learnEmbedding
    }

    /// No penalty.
    public static let none = RegularizerConfig(space: "none")

    /// Plain L1 (p = 1) or L2 (p = 2) on W_hh: R = 1 everywhere (the real "L1" control, docs/method.md 7 bug 4).
    public static func standard(lambda: Double, power: Int = 1) -> RegularizerConfig {
        RegularizerConfig(space: "standard", inhibitor: .constant, lambda: lambda, power: power)
    }

    /// A geometric regularizer on a named space (default: the paper's inverted DoG, L1).
    public static func geometric(
        space: String, inhibitor: Inhibitor = .invertedDoG, lambda: Double,
        power: Int = 1
    ) -> RegularizerConfig {
        RegularizerConfig(space: space, inhibitor: inhibitor, lambda: lambda, power: power)
    }

    /// What kind of regularizer this is (`none`, `standard`, or geometric on `space`).
    public var kind: RegularizerKind {
        switch space.lowercased() {
        case "none", "": return .none
        case "standard": return .standard
        default: return .geometric(space: space)
        }
    }

    /// Whether R is inverted (R = max(R) - R): `invert` or `inhibitor == .invertedDoG`.
    public var invertsR: Bool { invert || inhibitor.impliesInvert }

    /// Throws a `RegularizerError` for combinations that make no sense or reproduce a known bug:
    /// p not in {1, 2}; negative or non-finite lambda; `standard` with `invert: true` (R = max(1) - 1
    /// = 0, the authors' bug 4; the inhibitor is ignored for `standard`); learned positions without a
    /// geometric space or with `strengthMatched` (a constant R has no gradient with respect to the positions).
    public func validate() throws {
        guard power == 1 || power == 2 else { throw RegularizerError.invalidPower(power) }
        guard lambda.isFinite && lambda >= 0 else { throw RegularizerError.invalidLambda(lambda) }
        switch kind {
        case .none:
            break
        case .standard:
            if invert { throw RegularizerError.standardInverted }
            if learnEmbedding { throw RegularizerError.learnedWithoutGeometry(space) }
        case .geometric:
            if learnEmbedding && strengthMatched { throw RegularizerError.learnedStrengthMatched }
            if inhibitor == .constant && invertsR { throw RegularizerError.constantInverted }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case space, inhibitor, invert, permute, changeEmbed, strengthMatched, lambda, power, learnEmbedding
    }

    /// Decodes a configuration; every missing key takes the initializer's default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RegularizerConfig()
        space = try c.decodeIfPresent(String.self, forKey: .space) ?? d.space
        inhibitor = try c.decodeIfPresent(Inhibitor.self, forKey: .inhibitor) ?? d.inhibitor
        invert = try c.decodeIfPresent(Bool.self, forKey: .invert) ?? d.invert
        permute = try c.decodeIfPresent(Bool.self, forKey: .permute) ?? d.permute
        changeEmbed = try c.decodeIfPresent(Bool.self, forKey: .changeEmbed) ?? d.changeEmbed
        strengthMatched = try c.decodeIfPresent(Bool.self, forKey: .strengthMatched) ?? d.strengthMatched
        lambda = try c.decodeIfPresent(Double.self, forKey: .lambda) ?? d.lambda
        power = try c.decodeIfPresent(Int.self, forKey: .power) ?? d.power
        learnEmbedding = try c.decodeIfPresent(Bool.self, forKey: .learnEmbedding) ?? d.learnEmbedding
    }
}

/// Why a regularizer cannot be built.
public enum RegularizerError: Error, Equatable, CustomStringConvertible {
    /// p must be 1 or 2.
    case invalidPower(Int)
    /// lambda must be finite and non-negative.
    case invalidLambda(Double)
    /// `standard` with invert gives R = 0 (no regularization at all: the authors' bug 4).
    case standardInverted
    /// A constant inhibitor with invert gives R = max(R) - R = 0 everywhere (bug 4 in another form).
    case constantInverted
    /// Learned positions need a geometric space.
    case learnedWithoutGeometry(String)
    /// Learned positions with a constant (strength-matched) R have no gradient.
    case learnedStrengthMatched
    /// A geometric configuration was given no moduli space.
    case missingSpace(String)
    /// There is no R to write or summarize (`none`).
    case noCoefficients
    /// A weight the regularizer acts on is not `(G * H) x H`.
    case weightShape(name: String, shape: [Int], hiddenSize: Int)
    /// The positions given do not fit the space or the hidden size.
    case positionsShape(expected: [Int], got: [Int])

    /// A sentence saying what is wrong and what to do.
    public var description: String {
        switch self {
        case .invalidPower(let p): return "Regularizer power p must be 1 or 2, got \(p)"
        case .invalidLambda(let l): return "Regularizer lambda must be finite and >= 0, got \(l)"
        case .standardInverted:
            return
                "The standard (L1/L2) regularizer cannot be inverted: R = max(1) - 1 = 0 would switch the penalty off (the authors' bug 4)"
        case .constantInverted:
            return
                """
                A constant inhibitor cannot be inverted: R = max(R) - R = 0 everywhere would switch the penalty off; drop invert or \
                choose another inhibitor
                """
        case .learnedWithoutGeometry(let s):
            return "Learned embeddings need a moduli space; '\(s)' has no neuron positions"
        case .learnedStrengthMatched:
            return "Learned embeddings cannot be strength-matched: a constant R does not depend on the positions"
        case .missingSpace(let name):
            return "The configuration names moduli space '\(name)' but no space was given"
        case .noCoefficients:
            return "The regularizer 'none' has no coefficient matrix R"
        case .weightShape(let n, let s, let h):
            return "Weight \(n) has shape \(s); the moduli regularizer needs (G * \(h)) x \(h)"
        case .positionsShape(let e, let g):
            return "Neuron positions have shape \(g); expected \(e)"
        }
    }
}
