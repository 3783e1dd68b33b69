// The per-run part of a report: the W_hh sparsity pattern in manifold order, kept fraction against
// manifold distance, the neuron positions, the kept hidden units on the manifold
// (RunReport+KeptUnits.swift), for navigation decoded paths and firing maps, and the
// persistent homology a run holds (RunReport+Topology.swift).
import Experiments
import Foundation
import Geometry

extension Builder {
    mutating func runSection(_ run: ReportRun, index k: Int) {
        let id = "run-" + String(run.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }) + "-\(k)"
        section(id, "Run \(run.name)")
        let s = run.summary
        let facts =
            """
            \(run.path): \(s.task), regularizer \(run.regularizerName), seed \(s.seed), \(s.steps) steps; W_hh sparsity \
            \(Builder.percent(s.main.sparsity.recurrent.sparsity))\(run.keptUnits.map { "; kept units \($0)" } ?? "").
            """
        html += "<p>\(HTMLText.escape(facts))</p>\n"
        markdown += facts + "\n\n"

        keptUnitMap(run)
        let connectivity: Connectivity
        do { connectivity = try Connectivity(run: run) } catch {
            missing("W_hh sparsity pattern and distance profile", "\(error)")
            navigation(run)
            topology(run)
            endSection()
            return
        }
        pattern(run, connectivity)
        distanceProfile(run, connectivity, color: color(k))
        positions(run, connectivity)
        navigation(run)
        topology(run)
        endSection()
    }

    /// The kept/pruned pattern of W_hh in manifold order, as a raster image.
    mutating func pattern(_ run: ReportRun, _ c: Connectivity) {
        let (cells, fractions) = c.pattern(maxCells: options.patternCells)
        let binary = cells == c.hiddenSize
        let peak = max(fractions.max() ?? 0, binary ? 1 : 1e-12)
        let pixels = fractions.map { UInt8((255 * (1 - min(1, $0 / peak))).rounded()) }
        guard let png = PNGImage(width: cells, height: cells, channels: 1, pixels: pixels) else {
            missing("W_hh sparsity pattern", "W_hh is empty"); return
        }
        let h = Double(c.hiddenSize)
        let ordered = c.space != nil
        var chart = SVGChart(
            title: "W_hh: kept weights (\(run.name))",
            xLabel: "pre-synaptic neuron j" + (ordered ? ", in manifold order" : " (index)"),
            yLabel: "post-synaptic neuron i" + (ordered ? ", in manifold order" : " (index)"))
        chart.layers = [.image(png: png.encoded(), x0: 0, x1: h, y0: 0, y1: h)]
        chart.xRange = 0...h; chart.yRange = 0...h; chart.yDownwards = true; chart.equalAspect = true
        chart.width = 600; chart.height = 480
        if binary {
            chart.colorScale = ("pruned", "kept", ["#ffffff", "#000000"])
        } else {
            chart.colorScale = (
                "0", Builder.percent(peak) + " kept",
                (0..<8).map { k -> String in
                    let v = 255 - Int((255 * Double(k) / 7).rounded())
                    return String(format: "#%02x%02x%02x", v, v, v)
                }
            )
            let side = c.hiddenSize % cells == 0 ? "\(c.hiddenSize / cells)" : String(format: "%.1f", Double(c.hiddenSize) / Double(cells))
            chart.notes = ["\(side) x \(side) weights per cell" + (c.hiddenSize % cells == 0 ? "" : " (on average)")]
        }
        chart.notes.append("\(c.kept.lazy.filter { $0 }.count) of \(c.kept.count) kept")
        let order =
            c.space.map { space -> String in
                "Neurons ordered \(NeuronOrder.describe(space)) (positions.npy)"
            } ?? "Neurons in index order (\(c.geometryNote ?? "no positions"))"
        figure(
            chart.render(),
            caption: "\(c.tensorName) of model.safetensors: black = non-zero (kept) weight"
                + (binary ? "" : ", pooled into \(cells) x \(cells) cells showing the kept fraction")
                + ". \(order).")
    }

    /// Kept fraction against manifold distance, next to a random mask's (flat) expectation.
    mutating func distanceProfile(_ run: ReportRun, _ c: Connectivity, color: String) {
        guard let bins = c.distanceProfile(binCount: options.distanceBins), let space = c.space else {
            missing("Kept fraction against manifold distance (\(run.name))", c.geometryNote ?? "no positions")
            return
        }
        let overall = Connectivity.overallFraction(bins)
        var chart = SVGChart(
            title: "Kept W_hh weights by manifold distance (\(run.name))",
            xLabel: "distance d(x_i, x_j) on the \(space.name) (space units)", yLabel: "kept fraction (%)")
        chart.layers = [
            .bars(name: "kept in this run", color: color, bins: bins.map { ($0.lower, $0.upper, 100 * $0.fraction) }),
            .horizontal(name: "random mask, same sparsity", color: "#222222", y: 100 * overall, dash: 1)
        ]
        chart.notes = ["overall kept: " + String(format: "%.2f%%", 100 * overall)]
        let near = bins.prefix(max(1, bins.count / 4))
        let nearPairs = near.map(\.pairs).reduce(0, +), nearKept = near.map(\.kept).reduce(0, +)
        let nearFraction = nearPairs > 0 ? Double(nearKept) / Double(nearPairs) : .nan
        let lift = overall > 0 ? nearFraction / overall : .nan
        figure(
            chart.render(),
            caption:
                """
                Each bar: the fraction of W_hh entries kept among the neuron pairs at that distance, distances recomputed from \
                positions.npy with the \(space.name) of config.json (all pairs of distinct neurons). 
                """
                    + "Dashed: a random mask of equal sparsity keeps the same fraction at every distance. Nearest quarter of distances: "
                    + String(format: "%.2f%% kept, %.2f times the random mask's.", 100 * nearFraction, lift))
        let rows = bins.enumerated().map { b, bin in
            [
                run.name, "\(b)", Builder.exact(bin.lower), Builder.exact(bin.upper), "\(bin.pairs)", "\(bin.kept)",
                Builder.exact(bin.fraction), Builder.exact(overall)
            ]
        }
        var all = csv["distance.csv"]?.rows ?? []
        all += rows
        csv["distance.csv"] = (["run", "bin", "lower", "upper", "pairs", "kept", "fraction", "randomMaskFraction"], all)
        markdown +=
            """
            Kept fraction of W_hh by manifold distance (\(space.name), distances from positions.npy); a random mask of equal sparsity \
            keeps \(String(format: "%.3f%%", 100 * overall)) in every bin:\n\n
            """
        markdown +=
            HTMLText.markdownTable(
                header: ["distance", "pairs", "kept", "kept fraction"],
                rows: bins.map {
                    [
                        String(format: "%.3g-%.3g", $0.lower, $0.upper), "\($0.pairs)", "\($0.kept)",
                        $0.pairs > 0 ? String(format: "%.3f%%", 100 * $0.fraction) : "-"
                    ]
                }) + "\n"
    }

    /// The neuron positions in a 2-D chart of the space, coloured by their place in the manifold order.
    mutating func positions(_ run: ReportRun, _ c: Connectivity) {
        guard let space = c.space, let rows = c.rowPositions else { return }
        let chartData = NeuronOrder.chart(space: space, positions: rows)
        let order = NeuronOrder.order(space: space, positions: rows)
        var rank = [Int](repeating: 0, count: order.count)
        for (r, i) in order.enumerated() { rank[i] = r }
        let n = max(1, order.count - 1)
        var chart = SVGChart(
            title: "Neuron positions on the \(space.name) (\(run.name))", xLabel: chartData.xLabel, yLabel: chartData.yLabel)
        chart.xRange = chartData.xRange.map { r in
            (r.lowerBound - 0.02 * (r.upperBound - r.lowerBound))...(r.upperBound + 0.02 * (r.upperBound - r.lowerBound))
        }
        chart.yRange = chartData.yRange.map { r in
            (r.lowerBound - 0.02 * (r.upperBound - r.lowerBound))...(r.upperBound + 0.02 * (r.upperBound - r.lowerBound))
        }
        chart.equalAspect = !(space is Sphere)
        chart.width = 560; chart.height = 460
        if let x = chartData.xRange, let y = chartData.yRange, !(space is Circle) {
            chart.layers.append(.rectangle(x0: x.lowerBound, x1: x.upperBound, y0: y.lowerBound, y1: y.upperBound, color: "#999999"))
        }
        var learned = false
        if run.regularizer.learnEmbedding, let initial = try? run.matrix("initial_positions.npy"), initial.rows == rows.rows,
            initial.columns == rows.columns
        {
            chart.layers.append(
                .points(
                    name: "initial position", color: "#bbbbbb", points: NeuronOrder.chart(space: space, positions: initial).points,
                    colors: nil, radius: 2))
            learned = true
        }
        chart.layers.append(
            .points(
                name: learned ? "learned position" : "fixed position", color: ColorMap.rampHex(0.5), points: chartData.points,
                colors: (0..<order.count).map { ColorMap.rampHex(Double(rank[$0]) / Double(n)) }, radius: 2.6))
        chart.colorScale = ("first", "last in order", ColorMap.rampSteps(8))
        figure(
            chart.render(),
            caption:
                """
                positions.npy (\(rows.rows) neurons) drawn as \(chartData.description); colour: the neuron's place in the order used \
                for the sparsity pattern.
                """
                    + (learned ? " Grey: initial_positions.npy." : ""))
    }

    /// Decoded trajectories and firing maps of a run whose task offers them (navigation), or a note saying why not.
    mutating func navigation(_ run: ReportRun) {
        guard NavigationProbe.applies(to: run) else { return }
        guard options.probeModels else {
            missing("Decoded trajectories and firing maps (\(run.name))", "the report was asked not to run models")
            return
        }
        let probe: NavigationProbe
        do { probe = try NavigationProbe.probe(run: run, pathCount: options.pathCount, unitCount: options.unitCount) } catch {
            missing("Decoded trajectories and firing maps (\(run.name))", "the model could not be loaded: \(error)")
            return
        }
        let half = NavigationProbe.halfSide
        var chart = SVGChart(title: "True and decoded paths (\(run.name))", xLabel: "x (m)", yLabel: "y (m)")
        chart.xRange = -half...half; chart.yRange = -half...half; chart.equalAspect = true
        chart.width = 640; chart.height = 470
        chart.layers.append(.rectangle(x0: -half, x1: half, y0: -half, y1: half, color: "#999999"))
        var rows: [[String]] = []
        for (t, p) in probe.paths.enumerated() {
            let c = ColorMap.category(t)
            chart.layers.append(.line(name: "path \(t + 1): true", color: c, points: p.truth, dash: 0, width: 2))
            chart.layers.append(
                .line(
                    name: "path \(t + 1): decoded (\(String(format: "%.1f", p.errorCM)) cm)", color: c, points: p.decoded, dash: 1,
                    width: 1.5))
            chart.layers.append(.points(name: "", color: c, points: [p.truth[0]], colors: nil, radius: 4))
            for s in 0..<p.decoded.count {
                rows.append([
                    run.name, "\(t)", "\(s + 1)", Builder.exact(p.truth[s + 1].x), Builder.exact(p.truth[s + 1].y),
                    Builder.exact(p.decoded[s].x), Builder.exact(p.decoded[s].y)
                ])
            }
        }
        chart.notes = ["dot: start"]
        figure(
            chart.render(),
            caption:
                """
                The first \(probe.paths.count) trajectories of the run's first evaluation batch (its evaluation seed, training \
                length): true path from the start (dot), and the position decoded after every step (mean of the 3 most active \
                predicted place cells); the legend gives each path's mean error.
                """
        )
        // Each path on its own, zoomed to where it goes (at least 0.5 m across).
        var zoomed: [SVGChart] = []
        for (t, p) in probe.paths.enumerated() {
            let xs = (p.truth + p.decoded).map(\.x).filter(\.isFinite), ys = (p.truth + p.decoded).map(\.y).filter(\.isFinite)
            guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { continue }
            let side = max(0.5, 1.15 * max(x1 - x0, y1 - y0)), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2
            var panel = SVGChart(
                title: "path \(t + 1): \(String(format: "%.1f", p.errorCM)) cm mean error", xLabel: "x (m)", yLabel: "y (m)")
            panel.xRange = (cx - side / 2)...(cx + side / 2); panel.yRange = (cy - side / 2)...(cy + side / 2)
            panel.equalAspect = true; panel.width = 330; panel.height = 300
            panel.layers = [
                .rectangle(x0: -half, x1: half, y0: -half, y1: half, color: "#999999"),
                .line(name: "true", color: ColorMap.category(t), points: p.truth, dash: 0, width: 2),
                .line(name: "decoded", color: ColorMap.category(t), points: p.decoded, dash: 1, width: 1.5),
                .points(name: "", color: ColorMap.category(t), points: p.decoded, colors: nil, radius: 1.8),
                .points(name: "start", color: ColorMap.category(t), points: [p.truth[0]], colors: nil, radius: 4)
            ]
            zoomed.append(panel)
        }
        if !zoomed.isEmpty {
            var grid = SVGPanelGrid(title: "Each path zoomed (\(run.name))", panels: zoomed, columns: 4)
            grid.note = "solid: true path; dashed: decoded; dot: start; grey: the box wall"
            figure(grid.render(), caption: "The same paths, each in a window around it.")
        }
        var all = csv["paths.csv"]?.rows ?? []
        all += rows
        csv["paths.csv"] = (["run", "trajectory", "step", "trueX", "trueY", "decodedX", "decodedY"], all)
        markdown +=
            "Decoded paths (\(run.name)): "
            + probe.paths.enumerated().map { "path \($0 + 1) \(String(format: "%.1f", $1.errorCM)) cm" }.joined(separator: ", ")
            + " mean error (paths.csv).\n\n"

        guard !probe.maps.isEmpty else {
            missing("Firing maps (\(run.name))", "no hidden unit was ever active on \(probe.mapTrajectories) trajectories")
            return
        }
        let b = probe.bins
        var panels: [SVGChart] = []
        var mapRows = csv["firing_maps.csv"]?.rows ?? []
        for map in probe.maps {
            var pixels = [UInt8]()
            pixels.reserveCapacity(3 * b * b)
            for row in (0..<b).reversed() {  // the image's top row is the box's top (y = +1.1 m)
                for col in 0..<b {
                    let v = map.means[row * b + col]
                    let (r, g, bl) = ColorMap.ramp(v.isFinite ? (map.peak > 0 ? v / map.peak : 0) : .nan)
                    pixels += [r, g, bl]
                }
            }
            for row in 0..<b {
                for col in 0..<b {
                    mapRows.append([run.name, "\(map.unit)", "\(col)", "\(row)", Builder.exact(map.means[row * b + col])])
                }
            }
            guard let png = PNGImage(width: b, height: b, channels: 3, pixels: pixels) else { continue }
            var panel = SVGChart(title: "unit \(map.unit), peak \(String(format: "%.3g", map.peak))", xLabel: "x (m)", yLabel: "y (m)")
            panel.layers = [.image(png: png.encoded(), x0: -half, x1: half, y0: -half, y1: half)]
            panel.xRange = -half...half; panel.yRange = -half...half; panel.equalAspect = true
            panel.width = 250; panel.height = 250
            panels.append(panel)
        }
        csv["firing_maps.csv"] = (["run", "unit", "binX", "binY", "meanActivation"], mapRows)
        var grid = SVGPanelGrid(title: "Firing maps: mean activation over the box (\(run.name))", panels: panels, columns: 4)
        grid.colorScale = ("0", "unit's peak", ColorMap.rampSteps(8))
        grid.note = "light grey: bin not visited"
        figure(
            grid.render(),
            caption:
                """
                Mean ReLU activation of the \(probe.maps.count) hidden units whose maps vary most over space, in \(b) x \(b) bins of \
                the 2.2 m box, from \(probe.mapTrajectories) fresh trajectories of \(probe.mapSteps) steps; each map scaled to its \
                own peak. \(probe.silentUnits) of \(probe.hiddenSize) units were never active.
                """
        )
        markdown +=
            "Firing maps (\(run.name)): units " + probe.maps.map { "\($0.unit)" }.joined(separator: ", ")
            + " (firing_maps.csv); \(probe.silentUnits) of \(probe.hiddenSize) units never active.\n\n"
    }
}
