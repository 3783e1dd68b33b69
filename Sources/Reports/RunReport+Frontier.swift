// The sparsity frontier of a report's configurations: each configuration's final primary metric
// against its W_hh sparsity, mean over its seeds with sample-standard-deviation bars on both axes,
// so that configurations (a tuned sweep's confirmation runs, each at its selected value) compare
// at the sparsity they reached.
import Experiments
import Foundation

extension Builder {
    /// The primary metric of the report's task, when every run is of one registered task.
    var primaryMetric: String? {
        let tasks = Set(runs.map(\.task))
        guard tasks.count == 1, let name = tasks.first else { return nil }
        return try? TaskRegistry.task(named: name).primaryMetric
    }

    /// One point per configuration at (mean W_hh sparsity in %, mean `metric`), with bars from
    /// mean - std to mean + std along each axis (sample standard deviations over the seeds).
    mutating func frontierChart(_ metric: String) {
        var chart = SVGChart(
            title: "\(metric) against W_hh sparsity", xLabel: "W_hh sparsity (%, pooled over every weight_hh)",
            yLabel: "\(metric) (\(Builder.unit(of: metric)))")
        var drawn = 0
        for (g, group) in groups.enumerated() {
            let value = group.statistic { $0.summary[metric] }
            let sparsity = group.statistic { $0.summary.main.sparsity.recurrent.sparsity }
            guard !value.values.isEmpty, !sparsity.values.isEmpty else { continue }
            let (x, y) = (100 * sparsity.mean, value.mean)
            var bars: [(x: Double, y: Double)] = []
            if let sd = value.standardDeviation { bars += [(x, y - sd), (x, y + sd), (.nan, .nan)] }
            if let sd = sparsity.standardDeviation { bars += [(x - 100 * sd, y), (x + 100 * sd, y)] }
            if !bars.isEmpty {
                chart.layers.append(.line(name: "\(group.name) +- std", color: ColorMap.category(g), points: bars, dash: 0, width: 1.5))
            }
            chart.layers.append(.points(name: group.name, color: ColorMap.category(g), points: [(x, y)], colors: nil, radius: 4.5))
            drawn += 1
        }
        guard drawn > 0 else { return }
        figure(
            chart.render(),
            caption: "Final \(metric) of summary.json against the W_hh sparsity the runs reached: a dot per configuration at the "
                + "means over its runs, lines = mean +- sample standard deviation along each axis.")
    }
}
