// A finished run's model read back from its directory (config.json and model.safetensors), for
// evaluation, export and inference without training.
import Foundation
import Linalg
import NN

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

    /// Reads the run at `path`; every error names the file and what is wrong with it.
    public init(runAt path: String) throws {
        let run = URL(fileURLWithPath: path)
        let configPath = run.appendingPathComponent("config.json").path
        let configData = try RunDirectory.readFile(atPath: configPath, maximumBytes: TaskRegistry.maximumConfigBytes,
                                                   hint: "Name a run directory written by moduli train.")
        config = try TaskRegistry.decodeStrictly(RunConfig<Task.Options>.self, from: configData, path: configPath)
        guard config.task == Task.name else {
            throw ExperimentError("\(configPath) is a \(config.task) run, not \(Task.name).")
        }
        do { try Task.validate(config.options, training: config.training) } catch {
            throw ExperimentError("\(configPath) holds options this version refuses: \(error)")
        }
        task = try Task(options: config.options)
        store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: config.training.seed).derived(1)
        model = task.makeModel(in: store, rng: &rng)
        roles = task.roles(of: model)

        let modelPath = run.appendingPathComponent("model.safetensors").path
        // The header and checksum of a file holding exactly this model are a few kilobytes.
        let limit = store.totalCount * 8 + (1 << 20)
        let data = try RunDirectory.readFile(atPath: modelPath, maximumBytes: limit,
                                             hint: "The run may not have finished: model.safetensors is written at its end.")
        let tensors: [NamedTensor]
        do { tensors = try SafeTensors.decode(data).tensors } catch let e as SafeTensorsError {
            throw ExperimentError("\(modelPath) is corrupt: \(e.description).")
        }
        let known = Set(store.slots.map { store.info($0).name })
        if let extra = tensors.first(where: { !known.contains($0.name) }) {
            throw ExperimentError("\(modelPath) holds a tensor \(extra.name) that a \(Task.name) model with these options does not have.")
        }
        do { try store.load(tensors) } catch let e as SafeTensorsError {
            throw ExperimentError("\(modelPath) does not fit the model of \(configPath): \(e.description).")
        }
        for s in store.slots {
            let values = UnsafeBufferPointer(start: store.value(s), count: store.info(s).count)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ExperimentError("\(modelPath): \(store.info(s).name) holds \(values[bad]) at element \(bad).")
            }
        }
        for s in roles.pruned {
            let value = store.value(s), mask = store.mask(s)
            for k in 0..<store.info(s).count { mask[k] = value[k] == 0 ? 0 : 1 }
            store.enableMask(s)
        }
        roles.weightsDidChange(in: store)
    }

    /// The task's evaluation of the model (the metrics of summary.json).
    public func evaluate() -> [String: Double] { task.evaluate(model, store) }
}

extension TrainedModel {
    /// Runs every network's recurrent products on the kept weights of W_hh (`format`), however
    /// dense W_hh is.
    public func useSparseProducts(format: SparseRecurrentProduct.Format = .csr) {
        for network in roles.networks {
            network.replaceProducts(in: store) { SparseRecurrentProduct(for: $0, format: format, denseAboveDensity: 1) }
        }
    }
}
