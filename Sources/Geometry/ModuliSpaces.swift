// The registry of named moduli spaces with the paper's scales, as used on the command line.
// Reference: docs/method.md section 2.1 (table of spaces and scales).
import Linalg

/// The error thrown for a moduli-space name that the registry does not know.
public struct UnknownModuliSpaceError: Error, CustomStringConvertible, Sendable {
    /// The name that was asked for.
    public let name: String

    /// "unknown moduli space 'x'; valid names: circle, torus, ...".
    public var description: String {
        "unknown moduli space '\(name)'; valid names: " + ModuliSpaces.names.joined(separator: ", ")
    }
}

/// The named moduli spaces of the paper, with its scales.
public enum ModuliSpaces {
    /// Every valid name, in the order of docs/method.md's table.
    public static let names: [String] = ["circle", "torus", "torus6", "klein", "sphere", "s3", "r3", "r9", "mixedcurv"]

    /// The space called `name`:
    /// - `circle`: `Circle(scale: 5)` (circumference 10 pi)
    /// - `torus`, `torus6`: `FlatTorus(dimension: 2 or 6, side: 10)`
    /// - `klein`: `KleinBottle(side: 10)`
    /// - `sphere`: `Sphere(dimension: 2, scale: 5)`; `s3`: `Sphere(dimension: 3, scale: 10)`
    /// - `r3`: `EuclideanSpace(dimension: 3, samplingStd: 1)` (normal(0, 1) positions)
    /// - `r9`: `EuclideanSpace(dimension: 9, samplingStd: 10)` (the adding problem's 10 * normal)
    /// - `mixedcurv`: `ProductSpace` of `sphere` (S^2, scale 5) and `torus` (T^2, side 10)
    /// Throws `UnknownModuliSpaceError` (whose message lists the valid names) for anything else.
    public static func named(_ name: String) throws -> any ModuliSpace {
        switch name {
        case "circle": return Circle(scale: 5)
        case "torus": return FlatTorus(dimension: 2, side: 10)
        case "torus6": return FlatTorus(dimension: 6, side: 10)
        case "klein": return KleinBottle(side: 10)
        case "sphere": return Sphere(dimension: 2, scale: 5)
        case "s3": return Sphere(dimension: 3, scale: 10)
        case "r3": return EuclideanSpace(dimension: 3, samplingStd: 1)
        case "r9": return EuclideanSpace(dimension: 9, samplingStd: 10)
        case "mixedcurv":
            return ProductSpace(
                factors: [Sphere(dimension: 2, scale: 5), FlatTorus(dimension: 2, side: 10)],
                name: "mixedcurv")
        default: throw UnknownModuliSpaceError(name: name)
        }
    }
}
