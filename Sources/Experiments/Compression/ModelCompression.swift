// `moduli compress`: a finished run's model made smaller and dense by neuron elimination (linearly
// dependent hidden units folded into the others) and by dropping dead units, written as a new run
// directory of hidden size K. docs/method.md "Neuron elimination"; docs/cli.md "compress".
import Foundation
import Formats
import Linalg
import NN
import Sparsity

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// compression.json of a compressed run: where the model came from and what was removed.
public struct CompressionRecord: Codable, Sendable, Equatable {
    /// One unit folded into the others.
    public struct EliminatedUnit: Codable, Sendable, Equatable {
        /// The unit's index in the source model.
        public var unit: Int
        /// ||a_unit - fit|| / ||a_unit|| over the hidden states when it was removed.
        public var relativeResidual: Double
        /// The source-model units it was folded into.
        public var others: [Int]
        /// Their coefficients.
        public var coefficients: [Double]
        /// The constant term (0 without intercept).
        public var intercept: Double
    }

    /// The source run directory, as given.
    public var source: String
    /// The tolerance on the relative residual.
    public var tolerance: Double
    /// Rows of hidden states the regressions used.
    public var rows: Int
    /// Whether the regressions had a constant term (every consumer of the hidden units has a bias).
    public var intercept: Bool
    /// H of the source model.
    public var sourceHiddenSize: Int
    /// K of this model.
    public var hiddenSize: Int
    /// The source-model units this model keeps, in order: unit k here is unit `keptUnits[k]` there.
    public var keptUnits: [Int]
    /// The units folded into others, in the order they were removed.
    public var eliminated: [EliminatedUnit]
    /// The units dropped as dead after the elimination (nothing read them or nothing drove them).
    public var deadUnits: [Int]
    /// The relative change of the kept units' states over the folds (`NeuronElimination.eliminate`;
    /// absent in records written before it was recorded).
    public var drift: Double?
    /// Why the elimination stopped before the tolerance did (nil: it did not).
    public var stop: EliminationOutcome.Stop?
    /// The unit whose fold was undone when `stop` is set.
    public var undoneUnit: Int?
    /// The source run's regularizer space (`training.regularizer.space`), which config.json of this
    /// run sets to `none`: its R and positions were H x H and H x d.
    public var sourceRegularizer: String
    /// The source run's final metrics (its summary.json).
    public var sourceMetrics: [String: Double]
    /// This model's metrics (the task's evaluation; summary.json holds the same).
    public var metrics: [String: Double]
}

/// Neuron elimination on a finished run, written as a new run.
public enum ModelCompression {
    /// The largest number of hidden-state rows the regressions use unless told otherwise.
    public static let defaultRows = 4096

    /// Compresses the finished run at `source` into a new run directory `out`: eliminates linearly
    /// dependent hidden units with relative residual at most `tolerance` (`NeuronElimination`) over at
    /// most `rows` rows of the task's hidden states, drops dead units, and writes config.json (hidden
    /// size K, no regularizer), model.safetensors (dense, hidden size K), summary.json (the compact
    /// model's evaluation) and compression.json (`CompressionRecord`). The files are written into a
    /// temporary sibling directory that takes `out`'s name at the end; `out` may exist only with
    /// `overwrite`, and only as an empty directory or a run. Errors name what is wrong and what to
    /// do; on error nothing is written.
    public static func compress(runAt source: String, tolerance: Double, out: String, overwrite: Bool, rows: Int = defaultRows) throws
        -> CompressionRecord
    {
        guard tolerance.isFinite, tolerance >= 0, tolerance < 1 else {
            throw ExperimentError(
                "The tolerance must be a relative residual in [0, 1), got \(tolerance). Give for example --tolerance 0.01.")
        }
        guard rows >= 2, rows <= 10_000_000 else {
            throw ExperimentError("The rows of hidden states must be between 2 and 10000000, got \(rows).")
        }
        let target = try checkedTarget(out, source: source, overwrite: overwrite)
        let summaryPath = URL(fileURLWithPath: source).appendingPathComponent("summary.json").path
        guard FileManager.default.fileExists(atPath: summaryPath) else {
            throw ExperimentError(
                """
                \(source) is not a finished run: it has no summary.json. Finish it first (moduli train --resume --out \(source)), \
                then compress it.
                """
            )
        }
        let summaryData = try RunDirectory.readFile(
            atPath: summaryPath, maximumBytes: RunDirectory.maximumRecordBytes, hint: "Name a finished run directory.")
        let summary: RunSummary
        do { summary = try JSONFile.decoder().decode(RunSummary.self, from: summaryData) } catch {
            throw ExperimentError("\(summaryPath) is not a run summary (\(RunDirectory.describe(error))). Name a finished run directory.")
        }
        let task = try TaskRegistry.task(ofRunAt: source)
        func open<Task: TrainingTask>(_: Task.Type) throws -> CompressionRecord {
            try compress(
                TrainedModel<Task>(runAt: source), summary: summary, tolerance: tolerance, rows: rows, target: target,
                overwrite: overwrite)
        }
        return try open(task.type)
    }

    /// The standardized `out`, after checking that it can be written: not the source run, and
    /// missing, or (with `overwrite`) an empty directory or a run directory.
    static func checkedTarget(_ out: String, source: String, overwrite: Bool) throws -> URL {
        guard !out.isEmpty else { throw ExperimentError("--out needs a directory name, for example --out runs/compact.") }
        let target = URL(fileURLWithPath: out, isDirectory: true).standardizedFileURL
        if target.path == URL(fileURLWithPath: source, isDirectory: true).standardizedFileURL.path {
            throw ExperimentError("--out \(out) is the source run; write the compressed run to a new directory.")
        }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: target.path, isDirectory: &isDirectory) else { return target }
        guard overwrite else { throw ExperimentError("--out \(out) exists; give --overwrite to replace it, or choose a new directory.") }
        guard isDirectory.boolValue else { throw ExperimentError("--out \(out) is a file, not a directory; choose a new directory.") }
        let entries = (try? fm.contentsOfDirectory(atPath: target.path)) ?? []
        guard entries.isEmpty || RunDirectory.holdsRun(target) else {
            throw ExperimentError(
                "--out \(out) holds files that are not a moduli run; moduli never deletes those. Choose a new or empty directory.")
        }
        return target
    }

    static func compress<Task: TrainingTask>(
        _ trained: TrainedModel<Task>, summary: RunSummary, tolerance: Double, rows: Int, target: URL, overwrite: Bool
    ) throws -> CompressionRecord {
        let roles = trained.roles, store = trained.store, h = roles.hiddenSize
        let axes = roles.hiddenUnitAxes
        guard !axes.isEmpty else {
            throw ExperimentError(
                """
                The \(Task.name) model of \(trained.path) does not say which tensor axes index its hidden units (a language model \
                with a tied decoder shares them with the embedding), so its units cannot be removed.
                """
            )
        }
        let layers = roles.networks.reduce(0) { $0 + $1.layers.count }
        guard layers == 1 else {
            throw ExperimentError(
                """
                \(trained.path) has \(layers) recurrent layers; compress removes units of a single recurrent layer (the \
                hidden states it regresses are the top layer's). Train a one-layer model (--layers 1) to compress it.
                """
            )
        }
        let consumers = roles.hiddenUnitConsumers()
        let intercept = !consumers.isEmpty && consumers.allSatisfy { $0.bias != nil }
        guard trained.task.hiddenStates(trained.model, store, maximumRows: 1, inputs: .validation) != nil else {
            throw ExperimentError(
                "The \(Task.name) task does not expose its hidden states (TrainingTask.hiddenStates); compress needs them.")
        }
        // Linear layers that set the initial state h0 (a row axis of their weight indexes the units).
        let encoders = roles.linears.filter { linear in axes.contains { $0.dimension == 0 && $0.slot == linear.weight } }
        // Units dead before any fold are dropped as such (their activations are zero: residual 0).
        let deadBefore = Set(store.deadHiddenUnits(of: h, along: axes))
        var rowsUsed = 0
        let outcome = NeuronElimination.eliminate(
            store: store, consumers: consumers, hiddenSize: h, units: (0..<h).filter { !deadBefore.contains($0) }, tolerance: tolerance,
            intercept: intercept, maximumDrift: tolerance,
            states: { s in
                let states =
                    trained.task.hiddenStates(trained.model, s, maximumRows: rows, inputs: .validation) ?? Matrix(rows: 0, columns: h)
                rowsUsed = states.rows
                return Self.appendingInitialStates(states.converted(to: Double.self), encoders: encoders, store: s)
            })
        let eliminated = outcome.removed
        let removed = Set(eliminated.map(\.unit))
        let dead = store.deadHiddenUnits(of: h, along: axes).filter { !removed.contains($0) }
        var kept = (0..<h).filter { !removed.contains($0) && !dead.contains($0) }
        var deadDropped = dead
        if kept.isEmpty, let first = deadDropped.first {  // a model whose every unit is dead keeps one
            kept = [first]; deadDropped.removeFirst()
        }
        let compact = store.selectingHiddenUnits(kept, of: h, along: axes)

        var config = try resized(trained.config, hiddenSize: kept.count, path: trained.path)
        let sourceRegularizer = config.training.regularizer.space
        config.training.regularizer = .none
        config.version = ModuliVersion.string
        do { try Trainer<Task>.validate(config) } catch {
            throw ExperimentError("The compressed configuration of \(trained.path) is refused: \(error)")
        }

        let fm = FileManager.default
        let parent = target.deletingLastPathComponent()
        // Missing parents are created, and removed again (innermost first) when the run is not written.
        var missing: [URL] = []
        var ancestor = parent
        while !fm.fileExists(atPath: ancestor.path), ancestor.pathComponents.count > 1 {
            missing.insert(ancestor, at: 0)
            ancestor = ancestor.deletingLastPathComponent()
        }
        var placed = false
        defer { if !placed { for directory in missing.reversed() { _ = rmdir(directory.path) } } }  // only if still empty
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw ExperimentError("Cannot create \(parent.path) for the compressed run: \(error.localizedDescription)")
        }
        let temporary = parent.appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do { try fm.createDirectory(at: temporary, withIntermediateDirectories: false) } catch {
            throw ExperimentError("Cannot write next to \(target.path): \(parent.path) is not writable (\(error.localizedDescription)).")
        }
        defer { if !placed { try? fm.removeItem(at: temporary) } }
        try RunDirectory.writeAtomically(RunDirectory.encodeJSON(config), to: temporary.appendingPathComponent("config.json"))
        // The fingerprint of data read from outside the run (a corpus): the compact model was trained on the same data.
        let fingerprint = URL(fileURLWithPath: trained.path).appendingPathComponent(DataFingerprint.fileName)
        if fm.fileExists(atPath: fingerprint.path) {
            let data = try RunDirectory.readFile(
                atPath: fingerprint.path, maximumBytes: RunDirectory.maximumRecordBytes, hint: "Restore the source run's data record.")
            try RunDirectory.writeAtomically(data, to: temporary.appendingPathComponent(DataFingerprint.fileName))
        }
        let model = try SafeTensors.encode(
            compact.namedValues(), dtype: .f32,
            metadata: ["task": Task.name, "version": ModuliVersion.string, "format": ModelFiles.denseFormat], checksum: true)
        try RunDirectory.writeAtomically(model, to: temporary.appendingPathComponent("model.safetensors"))

        // The compact run read back as `moduli evaluate` reads it, and evaluated by the task.
        let reloaded = try TrainedModel<Task>(runAt: temporary.path)
        let metrics = try reloaded.evaluate()
        let phase = PhaseSummary(
            metrics: metrics, trainLoss: summary.trainLoss,
            sparsity: SparsityReport(store: reloaded.store, slots: reloaded.roles.pruned, recurrentSlots: reloaded.roles.recurrent))
        let newSummary = RunSummary(
            task: Task.name, metrics: metrics, baselines: reloaded.task.baselines, trainLoss: summary.trainLoss, main: phase,
            lottery: nil, regularizer: nil, steps: summary.steps, wallSeconds: summary.wallSeconds,
            stepsPerSecond: summary.stepsPerSecond, seed: summary.seed, blasKernels: BLASKernels.coreName)
        try RunDirectory.writeAtomically(RunDirectory.encodeJSON(newSummary), to: temporary.appendingPathComponent("summary.json"))
        let record = CompressionRecord(
            source: trained.path, tolerance: tolerance, rows: rowsUsed, intercept: intercept, sourceHiddenSize: h,
            hiddenSize: kept.count, keptUnits: kept,
            eliminated: eliminated.map {
                .init(
                    unit: $0.unit, relativeResidual: $0.relativeResidual, others: $0.others, coefficients: $0.coefficients,
                    intercept: $0.intercept)
            },
            deadUnits: deadDropped, drift: outcome.drift, stop: outcome.stop, undoneUnit: outcome.undone?.unit,
            sourceRegularizer: sourceRegularizer, sourceMetrics: summary.metrics, metrics: metrics)
        try RunDirectory.writeAtomically(RunDirectory.encodeJSON(record), to: temporary.appendingPathComponent("compression.json"))

        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: target.path, isDirectory: &isDirectory) {
            // Checked before any work; checked again, since the directory may have changed meanwhile.
            _ = try checkedTarget(target.path, source: trained.path, overwrite: overwrite)
            let aside = parent.appendingPathComponent(".\(target.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            do {
                try fm.moveItem(at: target, to: aside)
                do { try fm.moveItem(at: temporary, to: target) } catch {
                    try? fm.moveItem(at: aside, to: target)  // put the old run back
                    throw error
                }
            } catch {
                throw ExperimentError("Cannot replace \(target.path): \(error.localizedDescription)")
            }
            try? fm.removeItem(at: aside)
        } else {
            do { try fm.moveItem(at: temporary, to: target) } catch {
                throw ExperimentError("Cannot write \(target.path): \(error.localizedDescription)")
            }
        }
        placed = true
        return record
    }

    /// `states` with, for every encoder `h0 = W s (+ b)` of the initial state, the initial state of
    /// each unit input s = e_p appended as a row: W[:, p] (+ b). h0 is linear in s, so a dependence
    /// that holds on these rows holds for the initial state of every input, which W_hh reads at the
    /// first step (the task's hidden states are those after each step).
    static func appendingInitialStates(_ states: Matrix<Double>, encoders: [Linear], store: ParameterStore<Float>) -> Matrix<Double> {
        guard states.rows > 0, !encoders.isEmpty else { return states }
        var scalars = states.scalars
        for encoder in encoders {
            let w = store.value(encoder.weight), bias = encoder.bias.map { store.value($0) }
            let inputs = encoder.inputSize
            for p in 0..<inputs {
                for j in 0..<states.columns { scalars.append(Double(w[j * inputs + p]) + (bias.map { Double($0[j]) } ?? 0)) }
            }
        }
        return Matrix(rows: scalars.count / states.columns, columns: states.columns, scalars: scalars)
    }

    /// `config` with its task option `hiddenSize` set to `hiddenSize` (through its JSON form, since the
    /// options are the task's own type).
    static func resized<Options>(_ config: RunConfig<Options>, hiddenSize: Int, path: String) throws -> RunConfig<Options> {
        let data = try RunDirectory.encodeJSON(config)
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            var options = object["options"] as? [String: Any], options["hiddenSize"] != nil
        else {
            throw ExperimentError("The options of \(path)/config.json have no hiddenSize; compress cannot resize this task's model.")
        }
        options["hiddenSize"] = hiddenSize
        object["options"] = options
        let edited = try JSONSerialization.data(withJSONObject: object)
        return try JSONFile.decoder().decode(RunConfig<Options>.self, from: edited)
    }
}

extension ParameterRoles {
    /// The weights that read the hidden units through their columns (every column axis of
    /// `hiddenUnitAxes`), each with the bias that goes with it: a recurrent layer's W_hh with its
    /// `bias_hh`, a layer's W_ih with its `bias_ih`, a linear layer's weight with its bias.
    func hiddenUnitConsumers() -> [HiddenUnitConsumer] {
        hiddenUnitAxes.filter { $0.dimension == 1 }.map { axis in
            var bias: ParameterSlot?
            for network in networks {
                for layer in network.layers {
                    if layer.weightHH == axis.slot { bias = layer.biasHH }
                    if layer.weightIH == axis.slot { bias = layer.biasIH }
                }
            }
            for linear in linears where linear.weight == axis.slot { bias = linear.bias }
            return HiddenUnitConsumer(weight: axis.slot, blocks: axis.blocks, bias: bias)
        }
    }
}
