// Inhibitor functions f(d): how the moduli regularizer charges a connection between two neurons at
// geodesic distance d, with their derivatives f'(d). Reference: docs/method.md section 2.2.
import RealModule

/// An inhibitor function f(d) of the geodesic distance between two neurons (docs/method.md 2.2).
///
/// | case         | f(d)                                  | f'(d)                                         |
/// |--------------|---------------------------------------|-----------------------------------------------|
/// | square       | d^2                                   | 2 d                                           |
/// | gauss        | 100 exp(-d^2/3)                       | -(200/3) d exp(-d^2/3)                        |
/// | dog          | 100 (exp(-d^2/5) - exp(-4 d^2))       | 100 (-(2/5) d exp(-d^2/5) + 8 d exp(-4 d^2))  |
/// | invertedDoG  | the same f as `dog`; the regularizer then inverts R = max(R) - R               |
/// | ripple       | 50 + 50 cos(2 d)                      | -100 sin(2 d)                                 |
/// | constant     | 1                                     | 0                                             |
///
/// `dog` is a connection profile (0 at d = 0, peak 81.14 at d = 0.888, -> 0 far away); every DoG
/// run of the paper inverts it, so `invertedDoG` names that choice directly and nobody needs the
/// historical `invert` flag (`dog` + `invert` is the same regularizer).
public enum Inhibitor: String, Codable, Sendable, CaseIterable {
    /// f(d) = d^2 (the paper's "diffusion"): grows with distance.
    case square
    /// f(d) = 100 exp(-d^2 / 3).
    case gauss
    /// f(d) = 100 (exp(-d^2/5) - exp(-4 d^2)), the difference of Gaussians, not inverted.
    case dog
    /// The difference of Gaussians followed by inversion R = max(R) - R: the paper's DoG regularizer.
    case invertedDoG = "inverted-dog"
    /// f(d) = 50 + 50 cos(2 d) (the paper's "sinusoid").
    case ripple
    /// f(d) = 1 for every pair (with a geometric space this is plain L1 / L2).
    case constant

    /// Parses a name or one of the paper's aliases: `square`/`diffusion`, `gauss`/`gaussian`,
    /// `dog`, `inverted-dog`/`invdog`/`inverteddog`/`inverted_dog`, `ripple`/`sinusoid`/`sin`,
    /// `constant`/`mean` (case-insensitive). Returns nil for anything else.
    public init?(name: String) {
        switch name.lowercased() {
        case "square", "diffusion": self = .square
        case "gauss", "gaussian": self = .gauss
        case "dog": self = .dog
        case "inverted-dog", "inverteddog", "inverted_dog", "invdog", "inv-dog": self = .invertedDoG
        case "ripple", "sinusoid", "sin": self = .ripple
        case "constant", "mean": self = .constant
        default: return nil
        }
    }

    /// Decodes a name or alias (see `init?(name:)`), so run records may use the paper's words.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Inhibitor(name: text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "Unknown inhibitor '\(text)'; expected one of \(Inhibitor.allCases.map(\.rawValue))"))
        }
        self = value
    }

    /// Whether this choice includes the inversion step R = max(R) - R (only `invertedDoG`).
    public var impliesInvert: Bool { self == .invertedDoG }

    /// f(d). For `invertedDoG` this is the DoG value before inversion (inversion acts on the
    /// whole matrix R, not on single entries).
    @inlinable public func value(_ d: Double) -> Double {
        switch self {
        case .square: return d * d
        case .gauss: return 100 * Double.exp(-d * d / 3)
        case .dog, .invertedDoG: return 100 * (Double.exp(-d * d / 5) - Double.exp(-4 * d * d))
        case .ripple: return 50 + 50 * Double.cos(2 * d)
        case .constant: return 1
        }
    }

    /// f'(d), the derivative of `value` (see the table in the type's documentation).
    @inlinable public func derivative(_ d: Double) -> Double {
        switch self {
        case .square: return 2 * d
        case .gauss: return -(200.0 / 3.0) * d * Double.exp(-d * d / 3)
        case .dog, .invertedDoG: return 100 * (-0.4 * d * Double.exp(-d * d / 5) + 8 * d * Double.exp(-4 * d * d))
        case .ripple: return -100 * Double.sin(2 * d)
        case .constant: return 0
        }
    }

    /// (f(d), f'(d)) together, sharing the exponentials (the learned-geometry path needs both).
    @inlinable public func valueAndDerivative(_ d: Double) -> (value: Double, derivative: Double) {
        switch self {
        case .square: return (d * d, 2 * d)
        case .gauss:
            let e = Double.exp(-d * d / 3)
            return (100 * e, -(200.0 / 3.0) * d * e)
        case .dog, .invertedDoG:
            let e1 = Double.exp(-d * d / 5), e2 = Double.exp(-4 * d * d)
            return (100 * (e1 - e2), 100 * (-0.4 * d * e1 + 8 * d * e2))
        case .ripple: return (50 + 50 * Double.cos(2 * d), -100 * Double.sin(2 * d))
        case .constant: return (1, 0)
        }
    }

    /// The distance where DoG peaks, sqrt(ln 20 / 3.8) ~ 0.8879 (from f'(d) = 0).
    public static let dogPeakDistance: Double = (Double.log(20) / 3.8).squareRoot()

    /// The DoG peak value f(dogPeakDistance) ~ 81.14: the largest entry of an inverted-DoG R.
    public static var dogPeakValue: Double { Inhibitor.dog.value(dogPeakDistance) }
}
