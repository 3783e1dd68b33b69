// The sparsity frontier of a report's configurations: each configuration's final primary metric
// against its W_hh sparsity, and, where runs removed whole units, against the parameters kept;
// mean over its seeds with sample-standard-deviation bars on both axes, so that configurations (a
// tuned sweep's confirmation runs, each at its selected value; pruning beside structured methods)
// compare at the sparsity or size they reached.
import Experiments
import Foundation

extension Builder {
    /// The primary metric of the report's task, when every run is of one registered task.
    var primaryMetric: String? {
        let tasks = Set(runs.map(\.task))
        guard tasks.count == 1, let name = tasks.first else { return nil }
        return try? TaskRegistry.task(named: name).primaryMetric
    }

    /// What a frontier chart puts along x.
    enum FrontierAxis {
        /// The W_hh sparsity, in %.
        case recurrentSparsity
        /// The parameters kept: non-zero entries of the pruned tensors (`RunGroup.keptParameters`),
        /// where unstructured pruning and methods that remove whole units meet.
        case keptParameters
    }

    /// One point per group at (mean of `axis`, mean `metric`), with bars from mean - std to mean +
    /// std along each axis (sample standard deviations over the seeds), coloured by configuration;
    /// the groups of one configuration in several directories (a sweep per sparsity) are joined by
    /// a line in the order of `axis`, so that each method is one line.
    mutating func frontierChart(_ metric: String, against axis: FrontierAxis) {
        let (xName, xLabel): (String, String) =
            switch axis {
            case .recurrentSparsity: ("W_hh sparsity", "W_hh sparsity (%, pooled over every weight_hh)")
            case .keptParameters: ("kept parameters", "kept parameters (non-zero entries of the pruned tensors)")
            }
        let scale = axis == .recurrentSparsity ? 100.0 : 1
        var chart = SVGChart(title: "\(metric) against \(xName)", xLabel: xLabel, yLabel: "\(metric) (\(Builder.unit(of: metric)))")
        let configurations = groups.map(\.configuration).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var means: [String: [(x: Double, y: Double)]] = [:]
        var drawn = 0
        for group in groups {
            let value = group.statistic { $0.summary[metric] }
            let position =
                switch axis {
                case .recurrentSparsity: group.statistic { $0.summary.main.sparsity.recurrent.sparsity }
                case .keptParameters: group.statistic(RunGroup.keptParameters)
                }
            guard !value.values.isEmpty, !position.values.isEmpty else { continue }
            let (x, y) = (scale * position.mean, value.mean)
            let name = group.configuration
            let color = ColorMap.category(configurations.firstIndex(of: name) ?? 0)
            var bars: [(x: Double, y: Double)] = []
            if let sd = value.standardDeviation { bars += [(x, y - sd), (x, y + sd), (.nan, .nan)] }
            if let sd = position.standardDeviation { bars += [(x - scale * sd, y), (x + scale * sd, y)] }
            if !bars.isEmpty {
                chart.layers.append(.line(name: "\(name) +- std", color: color, points: bars, dash: 0, width: 1.5))
            }
            chart.layers.append(.points(name: name, color: color, points: [(x, y)], colors: nil, radius: 4.5))
            means[name, default: []].append((x, y))
            drawn += 1
        }
        // A configuration run in several directories (one sweep per sparsity) is one line through its points.
        for (c, name) in configurations.enumerated() {
            guard let points = means[name], points.count > 1 else { continue }
            chart.layers.append(
                .line(name: name, color: ColorMap.category(c), points: points.sorted { $0.x < $1.x }, dash: 0, width: 1))
        }
        guard drawn > 0 else { return }
        figure(
            chart.render(),
            caption: "Final \(metric) of summary.json against the \(xName) the runs reached: a dot per configuration (per "
                + "directory) at the means over its runs, bars = mean +- sample standard deviation along each axis; a "
                + "configuration found in several directories is joined by a line.")
    }
}
