// Colours of the report's charts: a categorical palette for runs and series, and a sequential ramp
// for maps (dark blue through teal and green to yellow, monotone in lightness).
import Foundation

/// Colours for series and for values in [0, 1].
public enum ColorMap {
    /// Ten well-separated colours for runs and series, in order.
    public static let palette = [
        "#1f5fa8", "#d9541e", "#2a9d3c", "#c62e45", "#7b4fb0",
        "#8c5a2b", "#d957a8", "#5c5c5c", "#a8a21a", "#1aa6b7"
    ]

    /// The palette colour for index k (repeating after ten).
    public static func category(_ k: Int) -> String { palette[((k % palette.count) + palette.count) % palette.count] }

    /// Anchors of the sequential ramp, low to high.
    static let anchors: [(Double, Double, Double)] = [
        (0.07, 0.04, 0.30), (0.18, 0.28, 0.55), (0.13, 0.53, 0.56), (0.30, 0.72, 0.42), (0.99, 0.91, 0.14)
    ]

    /// The ramp at t in [0, 1] (clamped; NaN gives light grey) as 8-bit RGB.
    public static func ramp(_ t: Double) -> (UInt8, UInt8, UInt8) {
        guard t.isFinite else { return (225, 225, 225) }
        let x = min(max(t, 0), 1) * Double(anchors.count - 1)
        let k = min(Int(x), anchors.count - 2), u = x - Double(k)
        let a = anchors[k], b = anchors[k + 1]
        func c(_ p: Double, _ q: Double) -> UInt8 { UInt8((255 * (p + (q - p) * u)).rounded()) }
        return (c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
    }

    /// The ramp at t as "#rrggbb".
    public static func rampHex(_ t: Double) -> String {
        let (r, g, b) = ramp(t)
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    /// `count` ramp colours from low to high (for a legend's colour scale).
    public static func rampSteps(_ count: Int) -> [String] {
        (0..<count).map { rampHex(count > 1 ? Double($0) / Double(count - 1) : 0) }
    }
}
