// A trained navigation model run again for its report: decoded paths against true paths on the
// run's own evaluation trajectories, and spatial firing maps of hidden units (mean activation per
// bin of the 2.2 m box). Reads model.safetensors; never trains. Reference: docs/method.md section 4.
import Experiments
import Foundation
import Linalg
import NN

/// What a navigation model does on simulated trajectories.
public struct NavigationProbe: Sendable {
    /// One trajectory: the true positions (start first) and the decoded ones (one per step), in metres.
    public struct Path: Sendable {
        /// Start, then the position after every step.
        public var truth: [(x: Double, y: Double)]
        /// The decoded position after every step.
        public var decoded: [(x: Double, y: Double)]
        /// Mean distance between decoded and true positions over the steps, in cm.
        public var errorCM: Double
    }

    /// A hidden unit's mean activation per spatial bin.
    public struct FiringMap: Sendable {
        /// The unit's index in W_hh.
        public var unit: Int
        /// `bins x bins` means, row-major from y = -1.1 m (row 0) upwards; NaN for bins never visited.
        public var means: [Double]
        /// The largest mean (the map's colour scale ends there).
        public var peak: Double
    }

    /// The decoded evaluation trajectories.
    public var paths: [Path]
    /// The firing maps, most spatially varying units first.
    public var maps: [FiringMap]
    /// Bins per side of a firing map.
    public var bins: Int
    /// Trajectories and steps the firing maps average over.
    public var mapTrajectories: Int, mapSteps: Int
    /// Hidden units never active on those trajectories.
    public var silentUnits: Int
    /// Hidden size H.
    public var hiddenSize: Int

    /// The half side of the box (1.1 m).
    public static let halfSide = TrajectorySimulator.halfSide

    /// Whether `run`'s task offers this probe (`TrainingTask.reportProbe` is `.decodedPaths`,
    /// looked up in the task registry).
    public static func applies(to run: ReportRun) -> Bool {
        (try? TaskRegistry.task(named: run.task))?.reportProbe == .decodedPaths
    }

    /// Loads the run's model into the navigation model of its config.json and probes it: the first
    /// `pathCount` trajectories of the first evaluation batch at the training length, decoded;
    /// firing maps (`bins` x `bins` over the box) of the `unitCount` units whose maps vary most,
    /// from fresh trajectories of the training length (seed: the run's evaluation seed + 1).
    public static func probe(run: ReportRun, pathCount: Int = 4, unitCount: Int = 16, bins: Int = 20) throws -> NavigationProbe {
        guard NavigationProbe.applies(to: run) else {
            throw ExperimentError("\(run.path) is a \(run.task) run, whose task offers no decoded paths (only navigation does)")
        }
        struct Options: Decodable { var options: NavigationOptions }
        let options = try JSONFile.decodeRecord(
            Options.self, from: run.configData, path: run.file("config.json").path,
            advice: "It holds no navigation options this version reads: restore the run's config.json, or pass --no-models."
        ).options
        try NavigationTask.validate(
            options, training: TrainingConfig(epochs: 1, stepsPerEpoch: 1, optimizer: OptimizerConfig(kind: .adamw, learningRate: 1e-3)))
        let task = try NavigationTask(options: options)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 0)
        let model = task.makeModel(in: store, rng: &rng)
        let url = run.file("model.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ExperimentError("\(run.path) has no model.safetensors") }
        let tensors = try ModelFiles.read(
            url.path, maximumBytes: ReportRun.tensorBytes, missingHint: "",
            remedy: "Restore it from a copy, or train the run again: moduli train --config \(run.path)/config.json --out NEW_DIRECTORY."
        ).tensors
        do { try store.load(tensors) } catch {
            throw ExperimentError("\(url.path) does not fit the navigation model of config.json: \(error)")
        }

        // Decoded paths.
        let batch = task.evaluationSets[0][0]
        let decoded = task.cells.decode(model.logits(start: task.cells.codes(for: batch.start), velocities: batch.velocities, store))
        let b = batch.batchSize
        let paths = (0..<min(pathCount, b)).map { k -> Path in
            var truth = [(x: Double(batch.start[k, 0]), y: Double(batch.start[k, 1]))], guess: [(x: Double, y: Double)] = []
            var error = 0.0
            for t in 0..<batch.length {
                let r = t * b + k
                let p = (x: Double(batch.positions[r, 0]), y: Double(batch.positions[r, 1]))
                let q = (x: Double(decoded[r, 0]), y: Double(decoded[r, 1]))
                truth.append(p); guess.append(q)
                error += 100 * ((p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)).squareRoot()
            }
            return Path(truth: truth, decoded: guess, errorCM: error / Double(max(1, batch.length)))
        }

        // Firing maps: mean hidden activation per bin over fresh trajectories (about 20 million
        // activations at most, so the paper's H = 4096 stays within a few hundred MB).
        let h = options.hiddenSize, length = options.length
        let trajectories = max(20, min(1000, 20_000_000 / max(1, h * length)))
        var mapRNG = SeededGenerator(seed: options.evaluationSeed &+ 1)
        let walk = TrajectorySimulator.batch(length: length, batch: trajectories, rng: &mapRNG)
        let h0 = model.encoder.forward(task.cells.codes(for: walk.start), store)
        let hidden = model.rnn.forward(walk.velocities, batch: trajectories, initial: [RecurrentState(hidden: h0)], store)[0].output
        var sums = [Double](repeating: 0, count: h * bins * bins), visits = [Int](repeating: 0, count: bins * bins)
        var active = [Bool](repeating: false, count: h)
        func bin(_ v: Float) -> Int { min(bins - 1, max(0, Int((Double(v) + halfSide) / (2 * halfSide) * Double(bins)))) }
        hidden.withUnsafeBufferPointer { hp in
            for r in 0..<walk.positions.rows {
                let cell = bin(walk.positions[r, 1]) * bins + bin(walk.positions[r, 0])
                visits[cell] += 1
                let row = hp.baseAddress! + r * h
                for u in 0..<h where row[u] != 0 {
                    sums[u * bins * bins + cell] += Double(row[u])
                    active[u] = true
                }
            }
        }
        var allMaps: [(FiringMap, Double)] = []
        for u in 0..<h where active[u] {
            let means = (0..<(bins * bins)).map { visits[$0] > 0 ? sums[u * bins * bins + $0] / Double(visits[$0]) : .nan }
            let seen = means.filter(\.isFinite)
            let mean = seen.reduce(0, +) / Double(max(1, seen.count))
            let variance = seen.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, seen.count))
            allMaps.append((FiringMap(unit: u, means: means, peak: seen.max() ?? 0), variance))
        }
        let maps = allMaps.sorted { ($0.1, -$0.0.unit) > ($1.1, -$1.0.unit) }.prefix(unitCount).map(\.0)
        return NavigationProbe(
            paths: paths, maps: Array(maps), bins: bins, mapTrajectories: trajectories, mapSteps: length,
            silentUnits: active.lazy.filter { !$0 }.count, hiddenSize: h)
    }
}
