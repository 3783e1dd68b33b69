// Resumable training checkpoints: one safetensors file holding the parameters, pruning masks and
// optimizer buffers, with the trainer's own state as JSON in its metadata (one atomic write) and
// a checksum of the whole file, header and data (`SafeTensors`). Loading checks the file's size
// against the model before reading it, and the whole file against the model before any value is
// used.
import Foundation
import Formats
import Linalg
import NN

/// Saves and restores everything a training loop needs to continue exactly where it stopped.
public enum Checkpoint {
    /// The checkpoint file name inside a run directory.
    public static let fileName = "checkpoint.safetensors"
    /// The `format` metadata value this version writes.
    public static let format = "moduli-checkpoint-3"
    /// Formats this version reads, with the checksum each must carry: 3 (over the whole file),
    /// and those of earlier versions, so that a run interrupted under one resumes under this one:
    /// 2 (over the tensor data only; its header, trainer state included, is unchecked) and 1
    /// (written before checksums). A file whose checksum does not match its format is refused, so
    /// no change of a single byte turns a format-3 file into an older, less checked one.
    static let readableFormats: [String: SafeTensors.ChecksumCoverage] = [
        "moduli-checkpoint-1": .none, "moduli-checkpoint-2": .dataOnly, "moduli-checkpoint-3": .wholeFile
    ]

    /// The largest checkpoint a store of `totalCount` parameters can have: its values, masks and
    /// up to two optimizer buffers of 8 bytes an element, and the largest header `SafeTensors`
    /// reads (the trainer state can carry a task's hidden state).
    public static func maximumFileBytes(parameters totalCount: Int) -> Int {
        let (data, overflow) = totalCount.multipliedReportingOverflow(by: 4 * 8)
        return overflow ? Int.max : data.addingReportingOverflow(8 + SafeTensors.maximumHeaderLength).partialValue
    }

    /// Writes parameters (PyTorch names), masks (`mask/<name>`, masked tensors only), optimizer
    /// buffers (`optimizer/<buffer>/<name>`), `state` (JSON in the metadata), the optimizer's step
    /// count and a checksum of the whole file, atomically.
    public static func save<State: Encodable>(
        _ store: ParameterStore<Float>, optimizer: OptimizerState, state: State,
        to run: RunDirectory
    ) throws {
        var tensors = store.namedValues()
        for s in store.slots where store.isMasked[s.index] {
            let i = store.info(s)
            tensors.append(
                NamedTensor(
                    name: "mask/\(i.name)", shape: i.shape,
                    scalars: UnsafeBufferPointer(start: store.mask(s), count: i.count).map(Double.init)))
        }
        for (buffer, values) in optimizer.buffers.sorted(by: { $0.key < $1.key }) where values.count == store.totalCount {
            for s in store.slots {
                let i = store.info(s)
                tensors.append(
                    NamedTensor(
                        name: "optimizer/\(buffer)/\(i.name)", shape: i.shape,
                        scalars: Array(values[i.offset..<(i.offset + i.count)])))
            }
        }
        let data: Data
        do {
            let stateJSON = String(decoding: try RunDirectory.encodeJSON(state), as: UTF8.self)
            data = try SafeTensors.encode(
                tensors, dtype: .f32,
                metadata: [
                    "state": stateJSON, "optimizer_step": String(optimizer.stepCount), "format": format
                ], checksum: true)
        } catch {
            throw ExperimentError("Cannot write the checkpoint \(run.file(fileName).path): \(RunDirectory.describe(error)).")
        }
        try run.writeAtomically(data, to: fileName)
    }

    /// Restores a checkpoint written by `save` into a store with the same layout; returns the
    /// optimizer state (its `stepCount` is the optimizer's step count) and the trainer state.
    ///
    /// Before the file is read, its size is checked against `maximumFileBytes` of the store's
    /// layout (of `layout` when given: `stateOnly` callers pass an empty store). Before the store
    /// is touched, the whole file is checked: its checksum, of the kind its format needs; its format;
    /// `optimizer_step` a non-negative integer; the trainer state decodable as `State`; then
    /// `validate(state, optimizerStep)`, the caller's own checks (its errors pass through
    /// unchanged); every tensor of the store present with its shape; each mask with its tensor's
    /// shape and only 0s and 1s; every parameter and each optimizer buffer finite, each buffer
    /// complete with every tensor's shape; no other tensors. Any failure is an `ExperimentError`
    /// naming the file.
    /// With `stateOnly`, only the metadata is checked and read (the store is left alone).
    public static func load<State: Decodable>(
        _ store: ParameterStore<Float>, stateType: State.Type,
        from run: RunDirectory, stateOnly: Bool = false, layout: ParameterStore<Float>? = nil,
        validate: ((_ state: State, _ optimizerStep: Int) throws -> Void)? = nil
    )
        throws -> (optimizer: OptimizerState, state: State)
    {
        let path = run.file(fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ExperimentError("No checkpoint at \(path) to resume from. Start a new run without --resume.")
        }
        let anew = "Delete it and start the run anew (--overwrite), or restore it from a copy."
        let data = try run.readFile(
            fileName, maximumBytes: maximumFileBytes(parameters: (layout ?? store).totalCount),
            hint: "It cannot be a checkpoint of this run's model. \(anew)")
        let tensors: [NamedTensor], metadata: [String: String]
        do { (tensors, metadata) = try SafeTensors.decode(data) } catch let e as SafeTensorsError {
            throw ExperimentError("The checkpoint \(path) is corrupt: \(e.description). \(anew)")
        }
        guard let format = metadata["format"], let coverage = readableFormats[format] else {
            throw ExperimentError(
                "\(path) is not a moduli checkpoint this version reads (format \(metadata["format"] ?? "missing")). \(anew)")
        }
        let found = SafeTensors.checksumCoverage(metadata)
        guard found == coverage else {
            let what = found == .none ? "its checksum is missing" : "its checksum is not the kind its format \(format) carries"
            throw ExperimentError("The checkpoint \(path) is corrupt: \(what). \(anew)")
        }
        guard let stepText = metadata["optimizer_step"], !stepText.isEmpty, stepText.utf8.allSatisfy({ (48...57).contains($0) }),
            let step = Int(stepText)
        else {
            throw ExperimentError(
                """
                The checkpoint \(path) is corrupt: optimizer_step \(metadata["optimizer_step"].map { "\"\($0)\"" } ?? "is missing") \
                is not a non-negative integer. \(anew)
                """
            )
        }
        guard let stateText = metadata["state"] else {
            throw ExperimentError("The checkpoint \(path) is corrupt: it holds no trainer state. \(anew)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state: State
        do { state = try decoder.decode(State.self, from: Data(stateText.utf8)) } catch {
            throw ExperimentError(
                """
                The trainer state in the checkpoint \(path) cannot be read (\(RunDirectory.describe(error))): it is corrupt or from \
                another moduli version. \(anew)
                """
            )
        }
        try validate?(state, step)
        if stateOnly { return (OptimizerState(stepCount: step, buffers: [:]), state) }

        let plan = try checkTensors(tensors, against: store, path: path, anew: anew)
        for s in store.slots {
            let v = store.value(s)
            for (k, x) in plan.values[s.index].enumerated() { v[k] = Float(x) }
            store.valuesDidChange(s)
            if let m = plan.masks[s.index] {
                let p = store.mask(s)
                for (k, x) in m.enumerated() { p[k] = Float(x) }
                store.enableMask(s)
            }
        }
        return (OptimizerState(stepCount: step, buffers: plan.buffers), state)
    }

    /// What a checked checkpoint puts into a store: values and masks by slot, flat optimizer buffers.
    private struct Plan {
        var values: [[Double]]
        var masks: [[Double]?]
        var buffers: [String: [Double]]
    }

    /// Checks every tensor of a checkpoint against `store`'s layout (see `load`) and sorts them.
    private static func checkTensors(_ tensors: [NamedTensor], against store: ParameterStore<Float>, path: String, anew: String) throws
        -> Plan
    {
        let fit = "Resume with the run's own configuration, or start the run anew (--overwrite)."
        func fail(_ why: String) -> ExperimentError { ExperimentError("The checkpoint \(path) does not fit this model: \(why). \(fit)") }
        var values = [[Double]?](repeating: nil, count: store.slots.count)
        var masks = [[Double]?](repeating: nil, count: store.slots.count)
        var bufferParts: [String: [Int: [Double]]] = [:]
        var unknown: [String] = []
        for t in tensors {
            if let s = store.slot(named: t.name) {
                let i = store.info(s)
                guard t.shape == i.shape else { throw fail("tensor \(t.name) has shape \(t.shape), the model's has \(i.shape)") }
                // Training never checkpoints a non-finite weight (it stops first), so one here is damage.
                if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                    throw ExperimentError(
                        """
                        The checkpoint \(path) is damaged: its weight tensor \(t.name) holds \(t.scalars[bad]) at element \(bad), and \
                        moduli never saves a non-finite weight. \(anew)
                        """
                    )
                }
                values[s.index] = t.scalars
            } else if t.name.hasPrefix("mask/"), let s = store.slot(named: String(t.name.dropFirst(5))) {
                let i = store.info(s)
                guard t.shape == i.shape else { throw fail("mask \(t.name) has shape \(t.shape), its tensor \(i.shape)") }
                if let bad = t.scalars.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                    throw fail("mask \(t.name) holds \(t.scalars[bad]) at element \(bad); a mask holds only 0 and 1")
                }
                masks[s.index] = t.scalars
            } else if t.name.hasPrefix("optimizer/") {
                let rest = t.name.dropFirst("optimizer/".count)
                guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex,
                    let s = store.slot(named: String(rest[rest.index(after: slash)...]))
                else {
                    unknown.append(t.name); continue
                }
                let buffer = String(rest[..<slash]), i = store.info(s)
                guard t.shape == i.shape else {
                    throw fail(
                        """
                        optimizer buffer \(t.name) has \(t.scalars.count) elements (shape \(t.shape)), its tensor \(i.count) (shape \
                        \(i.shape))
                        """
                    )
                }
                if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                    throw fail("optimizer buffer \(t.name) holds \(t.scalars[bad]) at element \(bad)")
                }
                bufferParts[buffer, default: [:]][s.index] = t.scalars
            } else {
                unknown.append(t.name)
            }
        }
        if !unknown.isEmpty {
            throw fail(
                """
                it holds tensors the model does not have: \
                \(unknown.prefix(5).joined(separator: ", "))\(unknown.count > 5 ? " and \(unknown.count - 5) more" : "")
                """
            )
        }
        var present: [[Double]] = []
        for s in store.slots {
            guard let v = values[s.index] else { throw fail("it lacks the tensor \(store.info(s).name)") }
            present.append(v)
        }
        var buffers: [String: [Double]] = [:]
        for (buffer, parts) in bufferParts {
            var flat = [Double](repeating: 0, count: store.totalCount)
            for s in store.slots {
                let i = store.info(s)
                guard let part = parts[s.index] else { throw fail("optimizer buffer \(buffer) lacks the tensor \(i.name)") }
                flat.replaceSubrange(i.offset..<(i.offset + i.count), with: part)
            }
            buffers[buffer] = flat
        }
        return Plan(values: present, masks: masks, buffers: buffers)
    }

    /// Writes the final model as `model.safetensors` (PyTorch state_dict names, float32, with the
    /// dense model format and a checksum of the whole file in the metadata).
    public static func saveModel(_ store: ParameterStore<Float>, to run: RunDirectory, metadata: [String: String] = [:]) throws {
        try saveModel(store.namedValues(), to: run, metadata: metadata)
    }

    /// Writes `tensors` as `model.safetensors` (float32, the dense model format, a checksum of the
    /// whole file).
    static func saveModel(_ tensors: [NamedTensor], to run: RunDirectory, metadata: [String: String]) throws {
        var meta = metadata
        meta["format"] = ModelFiles.denseFormat
        try run.writeAtomically(try SafeTensors.encode(tensors, dtype: .f32, metadata: meta, checksum: true), to: "model.safetensors")
    }
}
