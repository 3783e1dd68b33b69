// The per-run chart of where the kept hidden units sit on the manifold: for a run with a geometric
// regularizer that removed whole units (neuron elimination, the group envelope), the neuron
// positions with kept and removed units told apart. docs/method.md "Neuron elimination".
import Experiments
import Foundation
import Geometry
import Linalg

extension Builder {
    /// Which of the run's `hiddenSize` units its model.safetensors keeps (true) and which it removed
    /// (false): a unit is removed when its rows of the first layer's W_ih, W_hh and biases (every
    /// gate block) and its column of W_hh are all zero, as neuron elimination and the group envelope
    /// leave a removed unit. nil when the file holds no W_hh of `hiddenSize` units.
    static func keptUnitFlags(_ run: ReportRun, hiddenSize h: Int) -> [Bool]? {
        guard
            let tensors = try? ModelFiles.read(
                run.file("model.safetensors").path, maximumBytes: ReportRun.tensorBytes, missingHint: "", remedy: ""
            ).tensors,
            let hh = tensors.first(where: { $0.name.hasSuffix("weight_hh_l0") && $0.shape.count == 2 && $0.shape[1] == h })
        else { return nil }
        var live = [Bool](repeating: false, count: h)
        let suffixes = ["weight_hh_l0", "weight_ih_l0", "bias_hh_l0", "bias_ih_l0"]
        let rowTensors = tensors.filter { t in
            suffixes.contains { t.name.hasSuffix($0) } && !t.shape.isEmpty && t.shape[0] % h == 0
        }
        for t in rowTensors {
            let columns = t.shape.count == 2 ? t.shape[1] : 1
            for r in 0..<t.shape[0] where !live[r % h] {
                if (0..<columns).contains(where: { t.scalars[r * columns + $0] != 0 }) { live[r % h] = true }
            }
        }
        let columns = hh.shape[1]
        for r in 0..<hh.shape[0] {
            for j in 0..<columns where hh.scalars[r * columns + j] != 0 { live[j] = true }
        }
        return live
    }

    /// The neuron positions (positions.npy, else initial_positions.npy) with the kept units in
    /// colour and the removed ones in grey, for a run whose summary records its kept units, fewer
    /// than H, and whose regularizer places its neurons on a manifold. Nothing for other runs.
    mutating func keptUnitMap(_ run: ReportRun) {
        guard let count = run.summary.keptUnits, let h = run.hiddenSize, count < h, case .geometric(let name) = run.regularizer.kind
        else { return }
        let title = "Kept hidden units on the manifold (\(run.name))"
        guard let space = try? ModuliSpaces.named(name) else {
            missing(title, "this version does not know the space '\(name)' of the run")
            return
        }
        var found: (positions: Matrix<Float>, file: String)?
        for file in ["positions.npy", "initial_positions.npy"] {
            if let p = try? run.matrix(file), p.rows == h, p.columns == space.coordinateCount {
                found = (p, file)
                break
            }
        }
        guard let (positions, file) = found else {
            missing(title, "the run has no positions.npy or initial_positions.npy of \(h) x \(space.coordinateCount)")
            return
        }
        guard let kept = Self.keptUnitFlags(run, hiddenSize: h) else {
            missing(title, "\(run.path)/model.safetensors holds no readable recurrent weight of \(h) units")
            return
        }
        let chartData = NeuronOrder.chart(space: space, positions: positions)
        var chart = SVGChart(title: title, xLabel: chartData.xLabel, yLabel: chartData.yLabel)
        func padded(_ r: ClosedRange<Double>) -> ClosedRange<Double> {
            (r.lowerBound - 0.02 * (r.upperBound - r.lowerBound))...(r.upperBound + 0.02 * (r.upperBound - r.lowerBound))
        }
        chart.xRange = chartData.xRange.map(padded)
        chart.yRange = chartData.yRange.map(padded)
        chart.equalAspect = !(space is Sphere)
        chart.width = 560; chart.height = 460
        if let x = chartData.xRange, let y = chartData.yRange, !(space is Circle) {
            chart.layers.append(.rectangle(x0: x.lowerBound, x1: x.upperBound, y0: y.lowerBound, y1: y.upperBound, color: "#999999"))
        }
        let keptCount = kept.filter { $0 }.count
        chart.layers.append(
            .points(
                name: "removed unit (\(h - keptCount))", color: "#bbbbbb",
                points: chartData.points.indices.filter { !kept[$0] }.map { chartData.points[$0] }, colors: nil, radius: 2))
        chart.layers.append(
            .points(
                name: "kept unit (\(keptCount))", color: ColorMap.category(0),
                points: chartData.points.indices.filter { kept[$0] }.map { chartData.points[$0] }, colors: nil, radius: 3.2))
        let eliminated = run.eliminationRecords.reduce(0) { $0 + $1.removedUnits }
        var caption =
            """
            \(file) (\(h) neurons) drawn as \(chartData.description); coloured: the \(keptCount) units model.safetensors keeps \
            (summary.json: kept units \(count) of \(h)); grey: units whose incoming weights, biases and W_hh column are all zero.
            """
        if eliminated > 0 { caption += " Neuron elimination removed \(eliminated) units in \(run.eliminationRecords.count) events." }
        if keptCount != count { caption += " The count read from the weights differs from summary.json's." }
        figure(chart.render(), caption: caption)
    }
}
