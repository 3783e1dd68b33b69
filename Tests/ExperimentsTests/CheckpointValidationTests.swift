// Checkpoints are not trusted: a damaged or foreign checkpoint is refused with a message naming
// the file, before any of its values reaches the model.
import Foundation
import _TestSupport
import Formats
import Testing
import Linalg
import NN
@testable import Experiments

@Suite struct CheckpointValidationTests {
    /// A store with one masked Linear layer and an Adam state after one step (seed 1).
    static func model(seed: UInt64 = 1) -> (ParameterStore<Float>, OptimizerState) {
        var rng = SeededGenerator(seed: seed)
        let store = ParameterStore<Float>()
        let layer = Linear(inputSize: 3, outputSize: 2, name: "fc", in: store, rng: &rng)
        store.mask(layer.weight)[1] = 0
        store.enableMask(layer.weight)
        var adam = Adam<Float>()
        for i in 0..<store.totalCount { store.gradients[i] = Float(i) - 2 }
        adam.step(store)
        return (store, adam.state)
    }

    /// A fresh store of the same layout (other values), for loading into.
    static func freshStore() -> ParameterStore<Float> {
        var rng = SeededGenerator(seed: 99)
        let store = ParameterStore<Float>()
        _ = Linear(inputSize: 3, outputSize: 2, name: "fc", in: store, rng: &rng)
        return store
    }

    /// Saves a checkpoint, lets `edit` change its tensors and metadata, and writes it back with a
    /// valid checksum (so that only the content checks can catch the change).
    static func tampered(_ run: RunDirectory, edit: (inout [NamedTensor], inout [String: String]) -> Void) throws {
        let (store, optimizer) = model()
        try Checkpoint.save(store, optimizer: optimizer, state: ["step": 1], to: run)
        var (tensors, metadata) = try SafeTensors.decode(Data(contentsOf: run.file(Checkpoint.fileName)))
        metadata[SafeTensors.checksumKey] = nil
        edit(&tensors, &metadata)
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata, checksum: true), to: Checkpoint.fileName)
    }

    /// Loading must fail with an ExperimentError naming the checkpoint and `words`, and leave the
    /// store exactly as it was.
    static func refuses(_ run: RunDirectory, mentioning words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let store = freshStore()
        let before = (Array(store.values), Array(store.masks), store.isMasked)
        do {
            _ = try Checkpoint.load(store, stateType: [String: Int].self, from: run)
            Issue.record("loaded a bad checkpoint (expected \(words))", sourceLocation: sourceLocation)
        } catch let e as ExperimentError {
            #expect(e.description.contains(run.file(Checkpoint.fileName).path), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(words), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("threw \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
        #expect(
            Array(store.values) == before.0 && Array(store.masks) == before.1 && store.isMasked == before.2,
            "a refused checkpoint changed the store", sourceLocation: sourceLocation)
    }

    @Test func aFlippedBitInTheTensorDataIsCaught() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        let (store, optimizer) = Self.model()
        try Checkpoint.save(store, optimizer: optimizer, state: ["step": 1], to: run)
        var data = try Data(contentsOf: run.file(Checkpoint.fileName))
        data[data.count - 5] ^= 0x10
        try data.write(to: run.file(Checkpoint.fileName))
        Self.refuses(run, mentioning: "corrupt")
        // A cut file too.
        try data.prefix(data.count - 3).write(to: run.file(Checkpoint.fileName))
        Self.refuses(run, mentioning: "corrupt")
    }

    @Test func masksMustFitAndHoldOnlyZerosAndOnes() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        try Self.tampered(run) { t, _ in
            let i = t.firstIndex { $0.name == "mask/fc.weight" }!
            t[i].scalars[0] = 0.5
        }
        Self.refuses(run, mentioning: "only 0 and 1")
        try Self.tampered(run) { t, _ in
            let i = t.firstIndex { $0.name == "mask/fc.weight" }!
            t[i] = NamedTensor(name: "mask/fc.weight", shape: [3, 2], scalars: [1, 1, 1, 1, 1, 1])
        }
        Self.refuses(run, mentioning: "shape")
    }

    @Test func optimizerBuffersMustBeCompleteFittingAndFinite() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        try Self.tampered(run) { t, _ in
            let i = t.firstIndex { $0.name == "optimizer/exp_avg/fc.bias" }!
            t[i].scalars[1] = .nan
        }
        Self.refuses(run, mentioning: "nan")
        try Self.tampered(run) { t, _ in t.removeAll { $0.name == "optimizer/exp_avg_sq/fc.weight" } }
        Self.refuses(run, mentioning: "lacks")
        try Self.tampered(run) { t, _ in
            let i = t.firstIndex { $0.name == "optimizer/exp_avg/fc.bias" }!
            t[i] = NamedTensor(name: t[i].name, shape: [3], scalars: [0, 0, 0])
        }
        Self.refuses(run, mentioning: "elements")
    }

    @Test func parametersMustAllBeThereWithTheirShapesAndNothingElse() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        try Self.tampered(run) { t, _ in t.append(NamedTensor(name: "extra.weight", shape: [1], scalars: [0])) }
        Self.refuses(run, mentioning: "extra.weight")
        try Self.tampered(run) { t, _ in t.append(NamedTensor(name: "optimizer/exp_avg/nowhere", shape: [1], scalars: [0])) }
        Self.refuses(run, mentioning: "optimizer/exp_avg/nowhere")
        try Self.tampered(run) { t, _ in t.removeAll { $0.name == "fc.bias" } }
        Self.refuses(run, mentioning: "lacks the tensor fc.bias")
        try Self.tampered(run) { t, _ in
            let i = t.firstIndex { $0.name == "fc.weight" }!
            t[i] = NamedTensor(name: "fc.weight", shape: [3, 2], scalars: [0, 0, 0, 0, 0, 0])
        }
        Self.refuses(run, mentioning: "shape")
    }

    @Test func metadataMustBeAModuliCheckpoints() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        for bad in ["-3", "abc", "1e3", "", "+4", "99999999999999999999999"] {
            try Self.tampered(run) { _, m in m["optimizer_step"] = bad }
            Self.refuses(run, mentioning: "optimizer_step")
        }
        try Self.tampered(run) { _, m in m["optimizer_step"] = nil }
        Self.refuses(run, mentioning: "optimizer_step")
        try Self.tampered(run) { _, m in m["state"] = "{\"step\": \"x\"}" }
        Self.refuses(run, mentioning: "trainer state")
        try Self.tampered(run) { _, m in m["format"] = "something-else" }
        Self.refuses(run, mentioning: "not a moduli checkpoint")
        // Format 2 without its checksum.
        let (store, optimizer) = Self.model()
        try Checkpoint.save(store, optimizer: optimizer, state: ["step": 1], to: run)
        var (tensors, metadata) = try SafeTensors.decode(Data(contentsOf: run.file(Checkpoint.fileName)))
        metadata[SafeTensors.checksumKey] = nil
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata), to: Checkpoint.fileName)
        Self.refuses(run, mentioning: "checksum")
        // A format-1 checkpoint (written before checksums) still loads.
        metadata["format"] = "moduli-checkpoint-1"
        tensors.sort { $0.name < $1.name }
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata), to: Checkpoint.fileName)
        let fresh = Self.freshStore()
        let (opt, _) = try Checkpoint.load(fresh, stateType: [String: Int].self, from: run)
        #expect(opt == optimizer && Array(fresh.values) == Array(store.values))
    }

    @Test func theCallerChecksStateAndStepBeforeTheStoreIsTouched() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        let (store, optimizer) = Self.model()
        try Checkpoint.save(store, optimizer: optimizer, state: ["step": 5], to: run)
        var seen: (state: [String: Int], step: Int)?
        let fresh = Self.freshStore()
        let before = Array(fresh.values)
        #expect(throws: ExperimentError.self) {
            try Checkpoint.load(fresh, stateType: [String: Int].self, from: run) { state, step in
                seen = (state, step)
                if state["step"] != step { throw ExperimentError("trainer step \(state["step"] ?? -1) != optimizer step \(step)") }
            }
        }
        #expect(seen?.state == ["step": 5] && seen?.step == optimizer.stepCount)
        #expect(Array(fresh.values) == before)
        // stateOnly reads the state and step, verifies the checksum, and leaves the store alone.
        let (peek, state) = try Checkpoint.load(fresh, stateType: [String: Int].self, from: run, stateOnly: true)
        #expect(peek.stepCount == 1 && state == ["step": 5] && Array(fresh.values) == before)
        var data = try Data(contentsOf: run.file(Checkpoint.fileName))
        data[data.count - 1] ^= 1
        try data.write(to: run.file(Checkpoint.fileName))
        #expect(throws: ExperimentError.self) { try Checkpoint.load(fresh, stateType: [String: Int].self, from: run, stateOnly: true) }
    }

    @Test func aMissingOrUnreadableCheckpointNamesItsPath() throws {
        let path = TestFiles.temporaryDirectory("moduli-ckptv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try RunDirectory(path: path, overwrite: false, resume: false)
        Self.refuses(run, mentioning: "No checkpoint")
        try Data("not a checkpoint".utf8).write(to: run.file(Checkpoint.fileName))
        Self.refuses(run, mentioning: "corrupt")
    }
}
