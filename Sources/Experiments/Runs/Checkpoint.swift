// Resumable training checkpoints: one safetensors file holding the parameters, pruning masks and
// optimizer buffers, with the trainer's own state as JSON in its metadata (one atomic write).
import Foundation
import Linalg
import NN

/// Saves and restores everything a training loop needs to continue exactly where it stopped.
public enum Checkpoint {
    /// The checkpoint file name inside a run directory.
    public static let fileName = "checkpoint.safetensors"

    /// Writes parameters (PyTorch names), masks (`mask/<name>`, masked tensors only), optimizer
    /// buffers (`optimizer/<buffer>/<name>`) and `state` (JSON in the metadata) atomically.
    public static func save<State: Encodable>(_ store: ParameterStore<Float>, optimizer: OptimizerState, state: State,
                                              to run: RunDirectory) throws {
        var tensors = store.namedValues()
        for s in store.slots where store.isMasked[s.index] {
            let i = store.info(s)
            tensors.append(NamedTensor(name: "mask/\(i.name)", shape: i.shape,
                                       scalars: UnsafeBufferPointer(start: store.mask(s), count: i.count).map(Double.init)))
        }
        for (buffer, values) in optimizer.buffers.sorted(by: { $0.key < $1.key }) where values.count == store.totalCount {
            for s in store.slots {
                let i = store.info(s)
                tensors.append(NamedTensor(name: "optimizer/\(buffer)/\(i.name)", shape: i.shape,
                                           scalars: Array(values[i.offset..<(i.offset + i.count)])))
            }
        }
        let stateJSON = String(decoding: try RunDirectory.encodeJSON(state), as: UTF8.self)
        let data = try SafeTensors.encode(tensors, dtype: .f32, metadata: [
            "state": stateJSON, "optimizer_step": String(optimizer.stepCount), "format": "moduli-checkpoint-1",
        ])
        try run.writeAtomically(data, to: fileName)
    }

    /// Restores a checkpoint written by `save` into a store with the same layout; returns the
    /// optimizer state and the trainer state.
    /// With `stateOnly`, reads only the trainer state (the store is left alone).
    public static func load<State: Decodable>(_ store: ParameterStore<Float>, stateType: State.Type,
                                              from run: RunDirectory, stateOnly: Bool = false) throws -> (optimizer: OptimizerState, state: State) {
        let url = run.file(fileName)
        guard let data = try? Data(contentsOf: url) else {
            throw ExperimentError("No checkpoint at \(url.path) to resume from. Start a new run without --resume.")
        }
        let (tensors, metadata) = try SafeTensors.decode(data)
        guard let stateText = metadata["state"], let step = metadata["optimizer_step"].flatMap(Int.init) else {
            throw ExperimentError("\(url.path) is not a moduli checkpoint (no trainer state in its metadata).")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state = try decoder.decode(State.self, from: Data(stateText.utf8))
        if stateOnly { return (OptimizerState(stepCount: step, buffers: [:]), state) }
        do { try store.load(tensors) } catch {
            throw ExperimentError("The checkpoint \(url.path) does not fit this model: \(error). Resume with the run's own configuration.")
        }
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var buffers: [String: [Double]] = [:]
        for s in store.slots {
            let i = store.info(s)
            if let m = byName["mask/\(i.name)"] {
                let p = store.mask(s)
                for k in 0..<i.count { p[k] = Float(m.scalars[k]) }
                store.enableMask(s)
            }
        }
        let prefixes = Set(tensors.compactMap { t -> String? in
            let parts = t.name.split(separator: "/")
            return parts.count >= 3 && parts[0] == "optimizer" ? String(parts[1]) : nil
        })
        for buffer in prefixes {
            var flat = [Double](repeating: 0, count: store.totalCount)
            for s in store.slots {
                let i = store.info(s)
                guard let t = byName["optimizer/\(buffer)/\(i.name)"] else {
                    throw ExperimentError("The checkpoint \(url.path) lacks optimizer buffer \(buffer) for \(i.name).")
                }
                flat.replaceSubrange(i.offset..<(i.offset + i.count), with: t.scalars)
            }
            buffers[buffer] = flat
        }
        return (OptimizerState(stepCount: step, buffers: buffers), state)
    }

    /// Writes the final model as `model.safetensors` (PyTorch state_dict names, float32).
    public static func saveModel(_ store: ParameterStore<Float>, to run: RunDirectory, metadata: [String: String] = [:]) throws {
        try run.writeAtomically(try SafeTensors.encode(store.namedValues(), dtype: .f32, metadata: metadata), to: "model.safetensors")
    }
}
