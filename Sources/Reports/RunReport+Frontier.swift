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

    /// One point per configuration at (mean of `axis`, mean `metric`), with bars from mean - std to
    /// mean + std along each axis (sample standard deviations over the seeds).
    mutating func frontierChart(_ metric: String, against axis: FrontierAxis) {
        let (xName, xLabel): (String, String) =
            switch axis {
            case .recurrentSparsity: ("W_hh sparsity", "W_hh sparsity (%, pooled over every weight_hh)")
            case .keptParameters: ("kept parameters", "kept parameters (non-zero entries of the pruned tensors)")
            }
        let scale = axis == .recurrentSparsity ? 100.0 : 1
        var chart = SVGChart(title: "\(metric) against \(xName)", xLabel: xLabel, yLabel: "\(metric) (\(Builder.unit(of: metric)))")
        var drawn = 0
        for (g, group) in groups.enumerated() {
            let value = group.statistic { $0.summary[metric] }
            let position =
                switch axis {
                case .recurrentSparsity: group.statistic { $0.summary.main.sparsity.recurrent.sparsity }
                case .keptParameters: group.statistic(RunGroup.keptParameters)
                }
            guard !value.values.isEmpty, !position.values.isEmpty else { continue }
            let (x, y) = (scale * position.mean, value.mean)
            var bars: [(x: Double, y: Double)] = []
            if let sd = value.standardDeviation { bars += [(x, y - sd), (x, y + sd), (.nan, .nan)] }
            if let sd = position.standardDeviation { bars += [(x - scale * sd, y), (x + scale * sd, y)] }
            if !bars.isEmpty {
                chart.layers.append(.line(name: "\(group.name) +- std", color: ColorMap.category(g), points: bars, dash: 0, width: 1.5))
            }
            chart.layers.append(.points(name: group.name, color: ColorMap.category(g), points: [(x, y)], colors: nil, radius: 4.5))
            drawn += 1
        }
        guard drawn > 0 else { return }
        figure(
            chart.render(),
            caption: "Final \(metric) of summary.json against the \(xName) the runs reached: a dot per configuration at the "
                + "means over its runs, lines = mean +- sample standard deviation along each axis.")
    }
}
