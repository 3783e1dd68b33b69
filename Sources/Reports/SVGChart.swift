// A small SVG plotting helper for reports: one chart frame (title, axes with tick labels and units,
// legend) over layers of lines, points, bars, reference lines and raster images. No scripts, no
// external resources: the SVG is inlined into report.html as it is.
import Foundation

/// One chart: a plot area with linear axes, drawn layer by layer, with a title and a legend.
///
/// Every layer that draws data carries its numbers in `data-*` attributes (`data-series`,
/// `data-x`, `data-y`, full precision), so a reader or a test can recover exactly what is plotted.
public struct SVGChart: Sendable {
    /// What a layer draws.
    public enum Layer: Sendable {
        /// A polyline through the points (NaN or infinite points break it into pieces); `dash`
        /// 0 solid, 1 dashed, 2 dotted, 3 dash-dot.
        case line(name: String, color: String, points: [(x: Double, y: Double)], dash: Int, width: Double)
        /// A dot per point; `colors` per point (else `color` for all).
        case points(name: String, color: String, points: [(x: Double, y: Double)], colors: [String]?, radius: Double)
        /// Bars from y = 0 to each value over `[lower, upper)` on the x axis.
        case bars(name: String, color: String, bins: [(lower: Double, upper: Double, value: Double)])
        /// A horizontal line across the plot at `y`.
        case horizontal(name: String, color: String, y: Double, dash: Int)
        /// Thin vertical lines at the given x (events such as pruning); one legend entry.
        case verticals(name: String, color: String, xs: [Double])
        /// A raster image (a PNG) stretched over the data rectangle `[x0, x1] x [y0, y1]`.
        case image(png: Data, x0: Double, x1: Double, y0: Double, y1: Double)
        /// An outline rectangle in data coordinates (a box, a fundamental domain).
        case rectangle(x0: Double, x1: Double, y0: Double, y1: Double, color: String)
    }

    /// The chart's title (drawn above the plot).
    public var title: String
    /// The x axis label with its unit, e.g. "step" or "x (m)".
    public var xLabel: String
    /// The y axis label with its unit.
    public var yLabel: String
    /// The layers, drawn in order.
    public var layers: [Layer] = []
    /// Fixed axis ranges (else taken from the data, with a margin).
    public var xRange: ClosedRange<Double>?
    /// Fixed y range.
    public var yRange: ClosedRange<Double>?
    /// y grows downwards (matrix rows) instead of upwards.
    public var yDownwards = false
    /// One data unit is as long on both axes (maps and positions).
    public var equalAspect = false
    /// Total width and height in pixels.
    public var width = 620.0, height = 380.0
    /// Names of categories at x = 0, 1, 2, ...: the x ticks are these names instead of numbers.
    public var xCategories: [String]?
    /// Extra legend lines (a colour scale in words, say) drawn under the series entries.
    public var notes: [String] = []
    /// A colour scale shown in the legend: (low label, high label, colours from low to high).
    public var colorScale: (low: String, high: String, colors: [String])?

    /// A chart with a title and axis labels (include units: "decoding error (cm)").
    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    // MARK: Layout

    /// The legend's entries: (name, colour, kind) for every named layer, in order, without repeats.
    private var legendEntries: [(name: String, color: String, kind: String)] {
        var seen = Set<String>(), entries: [(String, String, String)] = []
        for layer in layers {
            let entry: (String, String, String)?
            switch layer {
            case .line(let n, let c, _, let dash, _): entry = (n, c, "line\(dash)")
            case .points(let n, let c, _, _, _): entry = (n, c, "point")
            case .bars(let n, let c, _): entry = (n, c, "bar")
            case .horizontal(let n, let c, _, let dash): entry = (n, c, "line\(dash)")
            case .verticals(let n, let c, let xs): entry = xs.isEmpty ? nil : (n, c, "vertical")
            case .image, .rectangle: entry = nil
            }
            if let e = entry, !e.0.isEmpty, seen.insert(e.0 + "\u{1}" + e.1).inserted { entries.append(e) }
        }
        return entries
    }

    /// Estimated width of one character of the charts' 11 px sans-serif text, for layout.
    static let characterWidth = 6.4

    /// Width of the legend column: enough for the longest entry.
    private var legendWidth: Double {
        let texts = legendEntries.map(\.name) + notes + (colorScale.map { [$0.low + "  " + $0.high] } ?? [])
        guard let longest = texts.map(\.count).max() else { return 0 }
        return min(230, 34 + SVGChart.characterWidth * Double(longest))
    }

    /// The data ranges: fixed ones, else the extent of every layer with 4% margins (never empty).
    func ranges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var xs: [Double] = [], ys: [Double] = []
        for layer in layers {
            switch layer {
            case .line(_, _, let p, _, _), .points(_, _, let p, _, _):
                for q in p where q.x.isFinite && q.y.isFinite { xs.append(q.x); ys.append(q.y) }
            case .bars(_, _, let b):
                for q in b where q.value.isFinite { xs += [q.lower, q.upper]; ys += [0, q.value] }
            case .horizontal(_, _, let y, _): if y.isFinite { ys.append(y) }
            case .verticals(_, _, let v): xs += v.filter(\.isFinite)
            case .image(_, let x0, let x1, let y0, let y1), .rectangle(let x0, let x1, let y0, let y1, _):
                xs += [x0, x1]; ys += [y0, y1]
            }
        }
        func extent(_ v: [Double], fixed: ClosedRange<Double>?, pad: Bool) -> ClosedRange<Double> {
            if let fixed { return SVGChart.drawable(fixed.lowerBound, fixed.upperBound, pad: false) }
            guard let lo = v.min(), let hi = v.max() else { return 0...1 }
            return SVGChart.drawable(lo, hi, pad: pad)
        }
        let hasImage = layers.contains { if case .image = $0 { true } else { false } }
        return (extent(xs, fixed: xRange, pad: !hasImage), extent(ys, fixed: yRange, pad: !hasImage))
    }

    // MARK: Rendering

    /// The chart as an `<svg>` element (standalone: width, height and viewBox set).
    public func render() -> String {
        let (xr, yr) = ranges()
        let legend = legendWidth
        let top = 34.0, right = 14.0 + (legend > 0 ? legend + 8 : 0)
        var left = 70.0, plotW = width - left - right, plotH = height - top - 48
        // Category names too wide for their slot are drawn slanted; the chart grows downwards to
        // hold them, and the plot gives up width on the left where the first name needs it.
        let labels = categoryLabels
        let slant = SVGChart.categoryLabelSlant(labels, plotWidth: plotW, left: left, xRange: xr)
        left += slant.extraLeft; plotW -= slant.extraLeft
        if equalAspect {
            let scale = min(plotW / (xr.upperBound - xr.lowerBound), plotH / (yr.upperBound - yr.lowerBound))
            plotW = scale * (xr.upperBound - xr.lowerBound); plotH = scale * (yr.upperBound - yr.lowerBound)
        }
        let bottom = 48.0 + slant.extraHeight
        let totalW = left + plotW + right, totalH = top + plotH + bottom
        func px(_ x: Double) -> Double { left + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * plotW }
        func py(_ y: Double) -> Double {
            let f = (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound)
            return yDownwards ? top + f * plotH : top + plotH - f * plotH
        }
        func clampX(_ v: Double) -> Double { min(max(v, left), left + plotW) }
        func clampY(_ v: Double) -> Double { min(max(v, top), top + plotH) }

        var s =
            """
            <svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-title=\"\(HTMLText.escape(title))\" width=\"\(f(totalW))\" \
            height=\"\(f(totalH))\" 
            """
            + "viewBox=\"0 0 \(f(totalW)) \(f(totalH))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n"
        s += "<title>\(HTMLText.escape(title))</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(f(totalW))\" height=\"\(f(totalH))\" fill=\"#ffffff\"/>\n"
        s +=
            """
            <text x=\"\(f(left + plotW / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"13\" \
            font-weight=\"bold\">\(HTMLText.escape(title))</text>\n
            """

        // Grid and ticks.
        let xTarget = SVGChart.clampedInt(plotW / 75, 3...8), yTarget = SVGChart.clampedInt(plotH / 55, 3...6)
        let xTicks = xCategories.map { c in c.indices.map(Double.init) } ?? SVGChart.ticks(xr, target: xTarget)
        let yTicks = SVGChart.ticks(yr, target: yTarget)
        s += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n"
        for t in xTicks { s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH))\"/>\n" }
        for t in yTicks { s += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\"/>\n" }
        s += "</g>\n"

        // Layers, clipped to the plot area by clamping (no clipPath ids to collide between charts).
        for layer in layers {
            switch layer {
            case .line(let name, let color, let points, let dash, let width):
                var pieces: [[(Double, Double)]] = [[]]
                for p in points {
                    if p.x.isFinite && p.y.isFinite {
                        pieces[pieces.count - 1].append((p.x, p.y))
                    } else if !pieces[pieces.count - 1].isEmpty {
                        pieces.append([])
                    }
                }
                let data = SVGChart.dataAttributes(name: name, points)
                s += "<g class=\"series\" \(data)>\n"
                for piece in pieces where !piece.isEmpty {
                    let coords = piece.map { "\(f(clampX(px($0.0)))),\(f(clampY(py($0.1))))" }.joined(separator: " ")
                    s +=
                        """
                        <polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(f(width))\"\(SVGChart.dashAttribute(dash)) \
                        stroke-linejoin=\"round\" points=\"\(coords)\"/>\n
                        """
                    if piece.count == 1 {
                        s += "<circle cx=\"\(f(px(piece[0].0)))\" cy=\"\(f(py(piece[0].1)))\" r=\"2\" fill=\"\(color)\"/>\n"
                    }
                }
                s += "</g>\n"
            case .points(let name, let color, let points, let colors, let radius):
                s += "<g class=\"series\" \(SVGChart.dataAttributes(name: name, points))>\n"
                for (k, p) in points.enumerated() where p.x.isFinite && p.y.isFinite {
                    let c = colors.map { k < $0.count ? $0[k] : color } ?? color
                    s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(f(radius))\" fill=\"\(c)\"/>\n"
                }
                s += "</g>\n"
            case .bars(let name, let color, let bins):
                let centres = bins.map { (x: ($0.lower + $0.upper) / 2, y: $0.value) }
                s += "<g class=\"series\" \(SVGChart.dataAttributes(name: name, centres)) fill=\"\(color)\">\n"
                for b in bins where b.value.isFinite {
                    let x0 = clampX(px(b.lower)), x1 = clampX(px(b.upper))
                    let y0 = clampY(py(0)), y1 = clampY(py(b.value))
                    s +=
                        """
                        <rect x=\"\(f(min(x0, x1) + 0.5))\" y=\"\(f(min(y0, y1)))\" width=\"\(f(max(0, abs(x1 - x0) - 1)))\" \
                        height=\"\(f(abs(y1 - y0)))\"/>\n
                        """
                }
                s += "</g>\n"
            case .horizontal(let name, let color, let y, let dash):
                guard y.isFinite else { continue }
                s +=
                    """
                    <line class=\"reference\" data-series=\"\(HTMLText.escape(name))\" data-y=\"\(SVGChart.exact(y))\" \
                    x1=\"\(f(left))\" y1=\"\(f(clampY(py(y))))\" x2=\"\(f(left + plotW))\" y2=\"\(f(clampY(py(y))))\" \
                    stroke=\"\(color)\" stroke-width=\"1.5\"\(SVGChart.dashAttribute(dash))/>\n
                    """
            case .verticals(let name, let color, let xs):
                s +=
                    """
                    <g class=\"events\" data-series=\"\(HTMLText.escape(name))\" \
                    data-x=\"\(xs.map(SVGChart.exact).joined(separator: " "))\" stroke=\"\(color)\" stroke-width=\"1\" \
                    stroke-opacity=\"0.45\">\n
                    """
                for x in xs where x.isFinite && x >= xr.lowerBound && x <= xr.upperBound {
                    s += "<line x1=\"\(f(px(x)))\" y1=\"\(f(top))\" x2=\"\(f(px(x)))\" y2=\"\(f(top + plotH))\"/>\n"
                }
                s += "</g>\n"
            case .image(let png, let x0, let x1, let y0, let y1):
                let ax = px(x0), bx = px(x1), ay = py(y0), by = py(y1)
                s +=
                    """
                    <image x=\"\(f(min(ax, bx)))\" y=\"\(f(min(ay, by)))\" width=\"\(f(abs(bx - ax)))\" height=\"\(f(abs(by - ay)))\" \
                    preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" \
                    href=\"data:image/png;base64,\(png.base64EncodedString())\"/>\n
                    """
            case .rectangle(let x0, let x1, let y0, let y1, let color):
                // Edge by edge, each clipped to the plot (a zoomed chart shows only part of the box).
                var edges: [(Double, Double, Double, Double)] = []
                for x in [x0, x1] where x >= xr.lowerBound && x <= xr.upperBound { edges.append((x, y0, x, y1)) }
                for y in [y0, y1] where y >= yr.lowerBound && y <= yr.upperBound { edges.append((x0, y, x1, y)) }
                for (ax, ay, bx, by) in edges {
                    s +=
                        """
                        <line x1=\"\(f(clampX(px(ax))))\" y1=\"\(f(clampY(py(ay))))\" x2=\"\(f(clampX(px(bx))))\" \
                        y2=\"\(f(clampY(py(by))))\" stroke=\"\(color)\" stroke-width=\"1\"/>\n
                        """
                }
            }
        }

        // Axes, tick labels, axis labels.
        s += "<g class=\"axes\" stroke=\"#333333\" stroke-width=\"1\">\n"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\"/>\n"
        for t in xTicks { s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH + 4))\"/>\n" }
        for t in yTicks { s += "<line x1=\"\(f(left - 4))\" y1=\"\(f(py(t)))\" x2=\"\(f(left))\" y2=\"\(f(py(t)))\"/>\n" }
        s += "</g>\n<g class=\"tick-labels\" fill=\"#333333\">\n"
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1, yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        if xCategories != nil {
            for (k, name) in labels.enumerated() {
                if slant.slanted {
                    s +=
                        """
                        <text transform=\"translate(\(f(px(Double(k)) + 3)) \(f(top + plotH + 12))) \
                        rotate(-\(f(SVGChart.categorySlantDegrees)))\" text-anchor=\"end\">\(HTMLText.escape(name))</text>\n
                        """
                } else {
                    s +=
                        """
                        <text x=\"\(f(px(Double(k))))\" y=\"\(f(top + plotH + 16))\" \
                        text-anchor=\"middle\">\(HTMLText.escape(name))</text>\n
                        """
                }
            }
        } else {
            for t in xTicks {
                s +=
                    """
                    <text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 16))\" \
                    text-anchor=\"middle\">\(SVGChart.tickLabel(t, step: xStep))</text>\n
                    """
            }
        }
        for t in yTicks {
            s += "<text x=\"\(f(left - 7))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(SVGChart.tickLabel(t, step: yStep))</text>\n"
        }
        s += "</g>\n"
        s +=
            """
            <text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 38 + slant.extraHeight))\" text-anchor=\"middle\" \
            font-size=\"12\">\(HTMLText.escape(xLabel))</text>\n
            """
        s +=
            """
            <text transform=\"translate(\(f(left - 54)) \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" \
            font-size=\"12\">\(HTMLText.escape(yLabel))</text>\n
            """

        // Legend.
        if legend > 0 {
            let lx = left + plotW + 14
            var ly = top + 6
            s += "<g class=\"legend\">\n"
            for e in legendEntries {
                switch e.kind {
                case "point": s += "<circle cx=\"\(f(lx + 10))\" cy=\"\(f(ly))\" r=\"4\" fill=\"\(e.color)\"/>\n"
                case "bar": s += "<rect x=\"\(f(lx + 3))\" y=\"\(f(ly - 5))\" width=\"14\" height=\"10\" fill=\"\(e.color)\"/>\n"
                case "vertical":
                    s +=
                        """
                        <line x1=\"\(f(lx + 10))\" y1=\"\(f(ly - 7))\" x2=\"\(f(lx + 10))\" y2=\"\(f(ly + 7))\" stroke=\"\(e.color)\" \
                        stroke-width=\"1.5\"/>\n
                        """
                default:
                    s +=
                        """
                        <line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 20))\" y2=\"\(f(ly))\" stroke=\"\(e.color)\" \
                        stroke-width=\"2\"\(SVGChart.dashAttribute(Int(e.kind.dropFirst(4)) ?? 0))/>\n
                        """
                }
                s += "<text x=\"\(f(lx + 26))\" y=\"\(f(ly + 4))\">\(HTMLText.escape(e.name))</text>\n"
                ly += 16
            }
            if let scale = colorScale, !scale.colors.isEmpty {
                ly += 4
                let w = 120.0 / Double(scale.colors.count)
                for (k, c) in scale.colors.enumerated() {
                    s += "<rect x=\"\(f(lx + Double(k) * w))\" y=\"\(f(ly - 6))\" width=\"\(f(w + 0.3))\" height=\"12\" fill=\"\(c)\"/>\n"
                }
                s += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 6))\" width=\"120\" height=\"12\" fill=\"none\" stroke=\"#333333\"/>\n"
                ly += 18
                s += "<text x=\"\(f(lx))\" y=\"\(f(ly))\">\(HTMLText.escape(scale.low))</text>\n"
                s += "<text x=\"\(f(lx + 120))\" y=\"\(f(ly))\" text-anchor=\"end\">\(HTMLText.escape(scale.high))</text>\n"
                ly += 16
            }
            for note in notes {
                s += "<text x=\"\(f(lx))\" y=\"\(f(ly + 4))\" fill=\"#555555\">\(HTMLText.escape(note))</text>\n"
                ly += 15
            }
            s += "</g>\n"
        }
        s += "</svg>"
        return s
    }

    // MARK: Category labels

    /// The angle of slanted category labels, in degrees below the x axis.
    static let categorySlantDegrees = 60.0
    /// The longest category name drawn whole; a longer one keeps its first and last characters
    /// around an ellipsis.
    static let longestCategoryLabel = 40

    /// The category names as drawn under the ticks.
    var categoryLabels: [String] {
        (xCategories ?? []).map { name in
            guard name.count > SVGChart.longestCategoryLabel else { return name }
            let tail = SVGChart.longestCategoryLabel / 2, head = SVGChart.longestCategoryLabel - 1 - tail
            return String(name.prefix(head)) + "\u{2026}" + String(name.suffix(tail))
        }
    }

    /// Whether the category names overlap when drawn level under their ticks (the widest is wider
    /// than the slot between two ticks), and if so the height the slanted names need below the
    /// level ones' line and the width the first name needs left of the plot's usual margin.
    static func categoryLabelSlant(_ labels: [String], plotWidth: Double, left: Double, xRange: ClosedRange<Double>)
        -> (slanted: Bool, extraHeight: Double, extraLeft: Double)
    {
        let span = xRange.upperBound - xRange.lowerBound
        guard let longest = labels.map(\.count).max(), span > 0 else { return (false, 0, 0) }
        let widest = characterWidth * Double(longest)
        guard widest > plotWidth / span - 4 else { return (false, 0, 0) }
        let angle = SVGChart.categorySlantDegrees * .pi / 180
        let firstTick = (0 - xRange.lowerBound) / span * plotWidth
        let extraLeft = min(plotWidth / 2, max(0, widest * cos(angle) - firstTick - left + 12))
        return (true, max(0, widest * sin(angle) - 6), extraLeft)
    }

    // MARK: Numbers

    /// The largest magnitude an axis reaches: far enough inside a Double's range that spans and
    /// margins stay finite.
    static let largestAxisValue = 1e300

    /// An axis range `lo...hi` that can be drawn and labelled, whatever the data: bounds that are
    /// NaN or infinite are brought inside ±`largestAxisValue` (NaN: the unit range), and a range
    /// that is empty, or narrower than a Double can resolve at its magnitude (three equal values
    /// whose mean and standard deviation differ by rounding: a span of 1e-15 at 1), is widened to
    /// 10% of its magnitude on each side (±1 around 0, and for values below 1e-300). With `pad`, 4%
    /// margins are added.
    static func drawable(_ lower: Double, _ upper: Double, pad: Bool) -> ClosedRange<Double> {
        if lower.isNaN || upper.isNaN { return 0...1 }
        var lo = min(max(min(lower, upper), -largestAxisValue), largestAxisValue)
        var hi = min(max(max(lower, upper), -largestAxisValue), largestAxisValue)
        let magnitude = max(abs(lo), abs(hi))
        if hi - lo <= 1e-9 * magnitude || magnitude < 1e-300 {
            let centre = magnitude < 1e-300 ? 0 : lo / 2 + hi / 2
            let half = centre == 0 ? 1 : abs(centre) * 0.1
            lo = centre - half; hi = centre + half
        }
        if pad { let m = 0.04 * (hi - lo); lo -= m; hi += m }
        return lo...hi
    }

    /// `value` rounded towards zero and clamped to `range`; NaN gives the range's lower bound.
    static func clampedInt(_ value: Double, _ range: ClosedRange<Int>) -> Int {
        guard !value.isNaN else { return range.lowerBound }
        return Int(min(max(value, Double(range.lowerBound)), Double(range.upperBound)))
    }

    /// About `target` (at most `target` + 2) round tick values (1, 2 or 5 times a power of ten
    /// apart) inside `range`, each different from the others. A range that is empty, not finite,
    /// or too narrow for round ticks at its magnitude gives its bounds alone.
    static func ticks(_ range: ClosedRange<Double>, target: Int = 5) -> [Double] {
        let lo = range.lowerBound, hi = range.upperBound
        let span = hi - lo
        guard span > 0, span.isFinite else { return lo.isFinite ? [lo] : [] }
        let target = max(1, target)
        let raw = span / Double(target)
        let power = pow(10, floor(log10(raw)))
        guard power > 0, power.isFinite else { return [lo, hi] }
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { span / $0 <= Double(target) + 1.5 } ?? 10 * power
        // Ticks are written with 12 significant digits: a step below that resolution would repeat them.
        guard step > 1e-11 * max(abs(lo), abs(hi)) else { return [lo, hi] }
        var ticks: [Double] = []
        var k = ceil(lo / step - 1e-9)
        while k * step <= hi + 1e-9 * step && ticks.count < 50 {
            let t = Double(String(format: "%.12g", k * step)) ?? k * step  // 0.6, not 0.6000000000000001
            let tick = abs(t) < 1e-12 * step ? 0 : t
            if ticks.last != tick { ticks.append(tick) }
            k += 1
        }
        return ticks.isEmpty ? [lo, hi] : ticks
    }

    /// A tick label with as many decimals as the tick step needs ("0.05", "1500", "1e+06"); a step
    /// that is not a positive finite number gives six significant digits, a non-finite value "nan",
    /// "inf" or "-inf".
    static func tickLabel(_ value: Double, step: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : value > 0 ? "inf" : "-inf" }
        if abs(value) >= 1e6 || (abs(value) < 1e-4 && value != 0) { return String(format: "%.2g", value) }
        guard step > 0, step.isFinite else { return String(format: "%.6g", value) }
        let decimals = step >= 1 ? 0 : clampedInt(ceil(-log10(step) - 1e-9), 0...6)
        return String(format: "%.\(decimals)f", value)
    }

    /// The stroke-dasharray attribute of dash style `dash` (empty for solid).
    static func dashAttribute(_ dash: Int) -> String {
        switch dash {
        case 1: return " stroke-dasharray=\"6 3\""
        case 2: return " stroke-dasharray=\"1.5 2.5\""
        case 3: return " stroke-dasharray=\"7 3 1.5 3\""
        default: return ""
        }
    }

    /// A coordinate with two decimals.
    private func f(_ v: Double) -> String { String(format: "%.2f", v) }

    /// A number written exactly enough to read back the same Double.
    static func exact(_ v: Double) -> String { v.isFinite ? "\(v)" : "nan" }

    /// `data-series`, `data-x`, `data-y` attributes holding a series' numbers exactly.
    static func dataAttributes(name: String, _ points: [(x: Double, y: Double)]) -> String {
        "data-series=\"\(HTMLText.escape(name))\" data-x=\"\(points.map { exact($0.x) }.joined(separator: " "))\" "
            + "data-y=\"\(points.map { exact($0.y) }.joined(separator: " "))\""
    }
}

/// Several charts side by side in one `<svg>` (small multiples), in rows of `columns`, under a
/// title and a shared legend (a colour scale and a note).
public struct SVGPanelGrid: Sendable {
    /// The grid's title.
    public var title: String
    /// The panels, row by row.
    public var panels: [SVGChart]
    /// Panels per row.
    public var columns: Int
    /// The colour scale all panels share: (low label, high label, colours from low to high).
    public var colorScale: (low: String, high: String, colors: [String])?
    /// A line of legend text beside the colour scale.
    public var note = ""

    /// A grid of panels under a title.
    public init(title: String, panels: [SVGChart], columns: Int) {
        self.title = title; self.panels = panels; self.columns = max(1, columns)
    }

    /// The grid as one `<svg>` with a nested `<svg>` per panel.
    public func render() -> String {
        let w = panels.map(\.width).max() ?? 0, h = panels.map(\.height).max() ?? 0
        let rows = (panels.count + columns - 1) / columns, header = 50.0
        let totalW = max(520, w * Double(min(columns, max(1, panels.count)))), totalH = header + h * Double(rows)
        var s = String(
            format:
                """
                <svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" \
                font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n
                """,
            totalW, totalH, totalW, totalH)
        s = s.replacingOccurrences(of: "class=\"chart\" ", with: "class=\"chart\" data-title=\"\(HTMLText.escape(title))\" ")
        s += "<title>\(HTMLText.escape(title))</title>\n"
        s += String(format: "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", totalW, totalH)
        s +=
            String(format: "<text x=\"%.1f\" y=\"19\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">", totalW / 2)
            + HTMLText.escape(title) + "</text>\n"
        s += "<g class=\"legend\">\n"
        var x = 20.0
        if let scale = colorScale, !scale.colors.isEmpty {
            s += "<text x=\"20\" y=\"40\" text-anchor=\"start\">\(HTMLText.escape(scale.low))</text>\n"
            x = 26 + SVGChart.characterWidth * Double(scale.low.count)
            let step = 120.0 / Double(scale.colors.count)
            for (k, c) in scale.colors.enumerated() {
                s +=
                    String(format: "<rect x=\"%.2f\" y=\"30\" width=\"%.2f\" height=\"12\" ", x + Double(k) * step, step + 0.3)
                    + "fill=\"\(c)\"/>\n"
            }
            s += String(format: "<rect x=\"%.2f\" y=\"30\" width=\"120\" height=\"12\" fill=\"none\" stroke=\"#333333\"/>\n", x)
            s += String(format: "<text x=\"%.2f\" y=\"40\">", x + 126) + HTMLText.escape(scale.high) + "</text>\n"
            x += 140 + SVGChart.characterWidth * Double(scale.high.count)
        }
        if !note.isEmpty { s += String(format: "<text x=\"%.2f\" y=\"40\" fill=\"#555555\">", x) + HTMLText.escape(note) + "</text>\n" }
        s += "</g>\n"
        for (k, panel) in panels.enumerated() {
            let px = w * Double(k % columns), py = header + h * Double(k / columns)
            s += String(format: "<g transform=\"translate(%.1f %.1f)\">\n", px, py) + panel.render() + "\n</g>\n"
        }
        return s + "</svg>"
    }
}
