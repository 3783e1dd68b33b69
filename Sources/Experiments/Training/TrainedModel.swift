// A finished run's model read back from its directory (config.json and model.safetensors), for
// evaluation, export and inference without training.
import Compute
import Foundation
import Formats
import Geometry
import Linalg
import NN
import Sparsity

/// The model of a finished run: the task rebuilt from the run's config.json and the weights of its
/// model.safetensors. Pruned weights are the file's zeros: every pruned tensor gets the mask
/// "value != 0", so a sparse product sees exactly the kept weights.
public struct TrainedModel<Task: TrainingTask> {
    /// The run's resolved configuration.
    public let config: RunConfig<Task.Options>
    /// The task, built from the run's options (its fixed test data drawn as in training).
    public let task: Task
    /// The parameters, with masks on the pruned tensors.
    public let store: ParameterStore<Float>
    /// The model over `store`.
    public let model: Task.Model
    /// The roles of the model's parameters.
    public let roles: ParameterRoles
    /// The run directory.
    public let path: String
    /// The order of the hidden units: unit k of `store` is unit `neuronOrder[k]` of the trained
    /// model (nil: the trained order).
    public private(set) var neuronOrder: [Int]?

    /// Reads the run at `path` with the weights of its model.safetensors, or of `modelFile` (a
    /// file `export` wrote, dense or sparse); every error names the file and what is wrong with it.
    public init(runAt path: String, modelFile: String? = nil) throws {
        self.path = path
        let run = URL(fileURLWithPath: path)
        let configPath = run.appendingPathComponent("config.json").path
        let configData = try RunDirectory.readFile(
            atPath: configPath, maximumBytes: TaskRegistry.maximumConfigBytes,
            hint: "Name a run directory written by moduli train.")
        config = try TaskRegistry.decodeStrictly(RunConfig<Task.Options>.self, from: configData, path: configPath)
        guard config.task == Task.name else {
            throw ExperimentError("\(configPath) is a \(config.task) run, not \(Task.name).")
        }
        // The same checks as a new run's (sizes, overflow, memory) before anything is allocated.
        do { try Trainer<Task>.validate(config) } catch {
            throw ExperimentError("\(configPath) holds options this version refuses: \(error)")
        }
        task = try Task(options: config.options)
        if let fingerprint = task.dataFingerprint() {
            try DataFingerprint.verify(
                fingerprint, runAt: path,
                remedy:
                    """
                    Put back the data the run was trained on, or train a new run on this data: moduli train --config \(configPath) \
                    --out NEW_DIRECTORY.
                    """
            )
        }
        store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: config.training.seed).derived(1)
        model = task.makeModel(in: store, rng: &rng)
        roles = task.roles(of: model)

        let modelPath = modelFile ?? run.appendingPathComponent("model.safetensors").path
        // The header and checksum of a file holding exactly this model are a few kilobytes; a sparse
        // file holds at most 12 bytes per weight.
        let limit = store.totalCount * 12 + (1 << 20)
        let remedy =
            modelFile == nil
            ? "Restore it from a copy, or train the run again: moduli train --config \(configPath) --out NEW_DIRECTORY."
            : "Export it again: moduli export \(path) --out \(modelPath) --overwrite."
        let (tensors, metadata) = try ModelFiles.read(
            modelPath, maximumBytes: limit,
            missingHint: modelFile == nil
                ? "The run may not have finished: model.safetensors is written at its end."
                : "Name a model file written by moduli export for this run.",
            remedy: remedy)
        if let task = metadata["task"], task != Task.name {
            throw ExperimentError("\(modelPath) holds a \(task) model, and \(configPath) is a \(Task.name) run.")
        }
        if SparseModelFile.isSparse(metadata) {
            do { neuronOrder = try SparseModelFile.load(tensors, metadata: metadata, into: store, hiddenSize: roles.hiddenSize) } catch let
                e as SafeTensorsError
            {
                throw ExperimentError("\(modelPath) does not fit the model of \(configPath): \(e.description).")
            }
        } else {
            let known = Set(store.slots.map { store.info($0).name })
            if let extra = tensors.first(where: { !known.contains($0.name) }) {
                throw ExperimentError(
                    "\(modelPath) holds a tensor \(extra.name) that a \(Task.name) model with these options does not have.")
            }
            do { try store.load(tensors) } catch let e as SafeTensorsError {
                throw ExperimentError("\(modelPath) does not fit the model of \(configPath): \(e.description).")
            }
            if let text = metadata[SparseModelFile.orderKey] {
                guard let order = try? JSONDecoder().decode([Int].self, from: Data(text.utf8)),
                    order.count == roles.hiddenSize, Set(order) == Set(0..<roles.hiddenSize)
                else {
                    throw ExperimentError(
                        """
                        \(modelPath): its \(SparseModelFile.orderKey) is not a permutation of the model's \(roles.hiddenSize) hidden \
                        units.
                        """
                    )
                }
                neuronOrder = order
            }
        }
        for s in store.slots {
            let values = UnsafeBufferPointer(start: store.value(s), count: store.info(s).count)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ExperimentError(
                    """
                    \(modelPath) is damaged: its weight tensor \(store.info(s).name) holds \(values[bad]) at element \(bad), and \
                    moduli never saves a non-finite weight. \(remedy)
                    """
                )
            }
        }
        for s in roles.pruned where !store.isMasked[s.index] {
            let value = store.value(s), mask = store.mask(s)
            for k in 0..<store.info(s).count { mask[k] = value[k] == 0 ? 0 : 1 }
            store.enableMask(s)
        }
    }

    /// The task's evaluation of the model (the metrics of summary.json), on `device` (nil: the
    /// CPU, over the store's own memory).
    public func evaluate(on device: ComputeDevice? = nil) throws -> [String: Double] {
        try (device ?? .cpu).run(Evaluation(trained: self))
    }

    /// `evaluate` as work for a device.
    private struct Evaluation: DeviceWork {
        let trained: TrainedModel
        func run<Backend: ComputeBackend>(deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>) throws
            -> [String: Double] where Backend.Scalar == Float
        {
            try trained.task.evaluate(trained.model, on: deviceStore(trained.store).parameters, final: true)
        }
    }

    /// The model's hidden states over the task's test inputs (`TrainingTask.hiddenStates`), at most
    /// `maximumRows` of them; an error for a task that does not expose them.
    public func hiddenStates(maximumRows: Int) throws -> Matrix<Float> {
        guard let states = task.hiddenStates(model, store, maximumRows: maximumRows, inputs: .test) else {
            throw ExperimentError("The \(Task.name) task does not expose its hidden states (TrainingTask.hiddenStates).")
        }
        return states
    }
}

extension TrainedModel {
    /// The neurons' positions on the run's moduli space (its positions.npy, the final ones of a
    /// learned embedding), or nil for a run without a geometric regularizer.
    public func embedding() throws -> NeuronEmbedding? {
        guard case .geometric(let name) = config.training.regularizer.kind else { return nil }
        let space = try ModuliSpaces.named(name)
        let url = URL(fileURLWithPath: path).appendingPathComponent("positions.npy")
        let limit = roles.hiddenSize * space.coordinateCount * 8 + (1 << 16)
        let data = try RunDirectory.readFile(
            atPath: url.path, maximumBytes: limit,
            hint: "A run with a geometric regularizer writes positions.npy when it starts.")
        let positions: Matrix<Float>
        do { positions = try NPYFile.decode(data) } catch {
            throw ExperimentError("\(url.path) is corrupt: \(error).")
        }
        guard positions.rows == roles.hiddenSize, positions.columns == space.coordinateCount,
            positions.scalars.allSatisfy(\.isFinite)
        else {
            throw ExperimentError(
                """
                \(url.path) holds a \(positions.rows) x \(positions.columns) matrix; a \(name) embedding of \(roles.hiddenSize) \
                neurons is \(roles.hiddenSize) x \(space.coordinateCount) finite numbers.
                """
            )
        }
        let ordered =
            neuronOrder.map { order in
                Matrix<Float>(rows: positions.rows, columns: positions.columns) { r, c in positions[order[r], c] }
            } ?? positions
        return NeuronEmbedding(space: space, positions: ordered.converted(to: Double.self))
    }

    /// The order of the hidden units along the run's moduli space (`NeuronOrdering`), or nil for a
    /// run without a geometric regularizer.
    public func manifoldOrder() throws -> [Int]? {
        try embedding().map(NeuronOrdering.order)
    }

    /// Renumbers the hidden units (new unit k is old unit `order[k]`) along every axis the task
    /// names; the model computes the same function. Errors if the task names none.
    public mutating func permuteHiddenUnits(_ order: [Int]) throws {
        guard !roles.hiddenUnitAxes.isEmpty else {
            throw ExperimentError(
                "The \(Task.name) task does not say which tensor axes index its hidden units; its model cannot be reordered.")
        }
        guard order.count == roles.hiddenSize, Set(order) == Set(0..<roles.hiddenSize) else {
            throw ExperimentError("A reordering of \(roles.hiddenSize) hidden units must be a permutation of 0..<\(roles.hiddenSize).")
        }
        store.permuteHiddenUnits(order, along: roles.hiddenUnitAxes)
        neuronOrder = order.map { neuronOrder?[$0] ?? $0 }
    }

    /// The model as a file (safetensors, float32, with a checksum of the whole file): the pruned
    /// tensors in CSR form (`SparseModelFile`) with `sparse`, dense (`ModelFiles.denseFormat`)
    /// otherwise; the hidden units' order, when it is not the trained one, in the metadata.
    public func export(sparse: Bool) throws -> Data {
        var metadata = ["task": Task.name, "version": ModuliVersion.string]
        if sparse {
            return try SparseModelFile.encode(store, sparse: roles.pruned, order: neuronOrder, metadata: metadata)
        }
        metadata["format"] = ModelFiles.denseFormat
        if let neuronOrder { metadata[SparseModelFile.orderKey] = "[" + neuronOrder.map(String.init).joined(separator: ",") + "]" }
        return try SafeTensors.encode(store.namedValues(), dtype: .f32, metadata: metadata, checksum: true)
    }

    /// Runs every network's recurrent products, and every pruned linear layer, on the kept
    /// weights (`format`), however dense the weights are.
    public func useSparseProducts(format: SparseWeightProduct.Format = .csr) {
        roles.useSparseProducts(in: store, format: format, denseAboveDensity: 1)
    }
}
