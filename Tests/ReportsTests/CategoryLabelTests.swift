// Category names under a chart's x axis: level while they fit their slots; slanted when they do
// not, then inside the chart, clear of the axis label and of each other; a very long name is cut in
// the middle.
import Foundation
import Testing
@testable import Reports

@Suite struct CategoryLabelTests {
    /// A bar chart over the given categories, laid out as the report's per-configuration charts.
    func chart(_ names: [String]) -> SVGChart {
        var chart = SVGChart(title: "Final metric per configuration", xLabel: "configuration", yLabel: "metric (cm)")
        chart.xCategories = names
        chart.xRange = -0.6...(Double(names.count) - 0.4)
        chart.layers = [
            .bars(
                name: "mean over seeds", color: "#c9d6e8",
                bins: names.indices.map { (Double($0) - 0.3, Double($0) + 0.3, 1.0 + Double($0)) }),
            .horizontal(name: "centreGuessCM (baseline)", color: "#333333", y: 20, dash: 1)
        ]
        return chart
    }

    /// The numbers of every match of `pattern`'s first `groups` capture groups, in order.
    func captures(_ pattern: String, in text: String, groups: Int) throws -> [[Double]] {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { m in
            (1...groups).map { Double((text as NSString).substring(with: m.range(at: $0))) ?? .nan }
        }
    }

    @Test func namesThatFitTheirSlotsAreDrawnLevel() throws {
        let svg = chart(["torus", "klein", "none"]).render()
        #expect(!svg.contains("rotate(-60"))
        #expect(svg.contains(">klein</text>"))
        #expect(try captures(#"<svg [^>]*height="([0-9.]+)""#, in: svg, groups: 1) == [[380]])
    }

    @Test func namesWiderThanTheirSlotsAreSlantedInsideTheChartAndApart() throws {
        let methods = ["strength-matched", "torus", "klein", "permuted", "l1", "none"]  // the longest name first
        let names = ["nav1024-whh90-confirm", "nav1024-whh95-confirm", "nav1024-whh98-confirm"].flatMap { s in
            methods.map { "\(s)/\($0)" }
        }
        let svg = chart(names).render()
        let size = try #require(try captures(#"<svg [^>]*width="([0-9.]+)" height="([0-9.]+)""#, in: svg, groups: 2).first)
        let labels = try captures(
            #"<text transform="translate\(([0-9.]+) ([0-9.]+)\) rotate\(-60.00\)" text-anchor="end">"#, in: svg, groups: 2)
        #expect(labels.count == names.count)
        for name in names { #expect(svg.contains(">\(name)</text>")) }
        // Each name runs from its anchor down and to the left, as wide as the charts' layout estimates text.
        let angle = 60.0 * Double.pi / 180
        let axisLabel = #"<text x="[0-9.]+" y="([0-9.]+)" text-anchor="middle" font-size="12">configuration"#
        let axisLabelY = try #require(try captures(axisLabel, in: svg, groups: 1).first?.first)
        for (label, name) in zip(labels, names) {
            let w = SVGChart.characterWidth * Double(name.count)
            let endX = label[0] - w * cos(angle), endY = label[1] + w * sin(angle)
            #expect(endX >= 0, "\(name) starts left of the chart (\(endX))")
            #expect(endY + 4 < axisLabelY && axisLabelY < size[1], "\(name) ends at y \(endY), the axis label is at \(axisLabelY)")
        }
        // Parallel names stand at least a line of 11 px text apart, measured across their slant.
        for (a, b) in zip(labels, labels.dropFirst()) { #expect((b[0] - a[0]) * sin(angle) >= 11) }
        #expect(size[1] > 380, "the chart grows downwards for the slanted names")
    }

    @Test func aVeryLongNameKeepsItsEndsAroundAnEllipsis() {
        let long = "runs/a-very-long-sweep-directory-name/strength-matched-and-more"
        let shown = chart([long, "none"]).categoryLabels
        #expect(shown[1] == "none")
        #expect(shown[0].count == SVGChart.longestCategoryLabel)
        #expect(shown[0].hasPrefix("runs/a-very-long-") && shown[0].hasSuffix("ength-matched-and-more".suffix(18)))
        #expect(shown[0].contains("\u{2026}"))
    }
}
