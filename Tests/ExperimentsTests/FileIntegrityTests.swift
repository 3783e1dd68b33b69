// Files a run writes and reads back are checked before use: a checkpoint's whole file (trainer
// state included) against its checksum, its size against the model before it is read, its
// weights for damage; model files' checksums and formats.
import Foundation
import Formats
import Testing
import _TestSupport
import Linalg
@testable import NN
import Sparsity
@testable import Experiments

@Suite struct FileIntegrityTests {
    /// A run directory in a fresh temporary path.
    static func run() throws -> RunDirectory {
        try RunDirectory(path: TestFiles.temporaryDirectory("moduli-ckptv"), overwrite: false, resume: false)
    }

    /// The trainer-like state a checkpoint carries in its header.
    struct State: Codable, Equatable { var learningRate: Double; var rng: [UInt64] }

    static func load(_ run: RunDirectory) throws -> State {
        try Checkpoint.load(CheckpointValidationTests.freshStore(), stateType: State.self, from: run).state
    }

    @Test func aOneByteEditOfTheSavedLearningRateOrRandomStateIsRefused() throws {
        let run = try Self.run()
        defer { try? FileManager.default.removeItem(at: run.url) }
        let (store, optimizer) = CheckpointValidationTests.model()
        let state = State(learningRate: 0.125, rng: [1234567, 89])
        try Checkpoint.save(store, optimizer: optimizer, state: state, to: run)
        #expect(try Self.load(run) == state)
        let original = try Data(contentsOf: run.file(Checkpoint.fileName))
        for (from, to) in [("0.125", "0.126"), ("1234567", "1234568")] {
            let edited = ByteEdits.replacing(from, with: to, in: original)
            #expect(edited.count == original.count && edited != original)
            try edited.write(to: run.file(Checkpoint.fileName))
            #expect { try Self.load(run) } throws: {
                let message = ($0 as? ExperimentError)?.description ?? ""
                return message.contains(run.file(Checkpoint.fileName).path) && message.contains("checksum")
            }
        }
    }

    @Test func aCheckpointOfTheEarlierFormatStillLoadsAndAMismatchedChecksumIsRefused() throws {
        let run = try Self.run()
        defer { try? FileManager.default.removeItem(at: run.url) }
        let (store, optimizer) = CheckpointValidationTests.model()
        try Checkpoint.save(store, optimizer: optimizer, state: ["step": 1], to: run)
        var (tensors, metadata) = try SafeTensors.decode(Data(contentsOf: run.file(Checkpoint.fileName)))
        #expect(metadata["format"] == "moduli-checkpoint-3" && SafeTensors.checksumCoverage(metadata) == .wholeFile)
        // Format 2, as moduli 0.2 wrote it: a checksum of the data only.
        metadata["format"] = "moduli-checkpoint-2"
        tensors.sort { $0.name < $1.name }
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata, coverage: .dataOnly), to: Checkpoint.fileName)
        let fresh = CheckpointValidationTests.freshStore()
        _ = try Checkpoint.load(fresh, stateType: [String: Int].self, from: run)
        #expect(Array(fresh.values) == Array(store.values))
        // Format 3 with the weaker checksum, and format 2 with none, are refused.
        metadata["format"] = "moduli-checkpoint-3"
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata, coverage: .dataOnly), to: Checkpoint.fileName)
        CheckpointValidationTests.refuses(run, mentioning: "checksum")
        metadata["format"] = "moduli-checkpoint-2"
        try run.writeAtomically(try SafeTensors.encode(tensors, metadata: metadata), to: Checkpoint.fileName)
        CheckpointValidationTests.refuses(run, mentioning: "checksum is missing")
    }

    @Test func nonFiniteWeightsInACheckpointAreCalledDamage() throws {
        let run = try Self.run()
        defer { try? FileManager.default.removeItem(at: run.url) }
        for bad in [Double.nan, .infinity] {
            try CheckpointValidationTests.tampered(run) { tensors, _ in
                if let k = tensors.firstIndex(where: { $0.name == "fc.weight" }) { tensors[k].scalars[4] = bad }
            }
            CheckpointValidationTests.refuses(run, mentioning: "damaged: its weight tensor fc.weight holds \(bad) at element 4")
            do { _ = try Checkpoint.load(CheckpointValidationTests.freshStore(), stateType: [String: Int].self, from: run) } catch {
                #expect(!"\(error)".contains("--lr") && "\(error)".contains("--overwrite"), "\(error)")
            }
        }
    }

    @Test func aCheckpointLargerThanTheModelAllowsIsRefusedBeforeItIsRead() throws {
        let run = try Self.run()
        defer { try? FileManager.default.removeItem(at: run.url) }
        let path = run.file(Checkpoint.fileName).path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let size = 1 << 30
        #expect(truncate(path, off_t(size)) == 0)  // sparse: costs no disk
        let limit = Checkpoint.maximumFileBytes(parameters: CheckpointValidationTests.freshStore().totalCount)
        #expect(limit < size)
        CheckpointValidationTests.refuses(run, mentioning: "it has \(size) bytes, more than the \(limit)")
        // The state-only reading of a resume is bounded by the model it will load into.
        #expect {
            try Checkpoint.load(
                ParameterStore<Float>(), stateType: State.self, from: run, stateOnly: true,
                layout: CheckpointValidationTests.freshStore())
        } throws: {
            ($0 as? ExperimentError)?.description.contains("more than the \(limit)") == true
        }
    }

    @Test func aRunRecordLargerThanAnyRecordIsRefusedBeforeItIsRead() throws {
        let run = try Self.run()
        defer { try? FileManager.default.removeItem(at: run.url) }
        let path = run.file("config.json").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, off_t(RunDirectory.maximumRecordBytes + 1)) == 0)
        #expect { try run.readJSON([String: Int].self, from: "config.json") } throws: {
            let message = ($0 as? ExperimentError)?.description ?? ""
            return message.contains(path) && message.contains("\(RunDirectory.maximumRecordBytes + 1) bytes")
        }
    }

    @Test func theInitialWeightsOfARewoundLotteryTicketAreChecked() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SparseAddingTests.sparseConfig(lottery: .rewind)
        config.epochs = 3; config.fixedEpochs = 1; config.stepsPerEpoch = 20; config.testSize = 50
        // Stop at the end of the main phase: the lottery phase starts from initial.safetensors.
        #expect(try AddingExperimentTests.train(config, path, stopAfterEpochs: 4) == nil)
        let url = URL(fileURLWithPath: path + "/initial.safetensors")
        let original = try Data(contentsOf: url)
        var flipped = original
        flipped[flipped.count - 7] ^= 0x20
        try flipped.write(to: url)
        #expect { try AddingExperimentTests.train(config, path, resume: true) } throws: {
            "\($0)".contains(url.path) && "\($0)".contains("checksum")
        }
        // A file larger than the model's initial weights can be is refused before it is read.
        #expect(truncate(url.path, 64 << 20) == 0)
        #expect { try AddingExperimentTests.train(config, path, resume: true) } throws: {
            "\($0)".contains(url.path) && "\($0)".contains("it has \(64 << 20) bytes, more than")
        }
        try original.write(to: url)
        #expect(try AddingExperimentTests.train(config, path, resume: true) != nil)
    }

    @Test func modelFilesOfThisVersionNeedTheirChecksumAndOlderOnesAreReadWithAWarning() throws {
        let tensors = [NamedTensor(name: "fc.weight", shape: [2], scalars: [1, 2])]
        // A file of this version whose checksum key was renamed: refused.
        #expect(throws: ExperimentError.self) {
            try ModelFiles.check(["chacksum": "x", "format": ModelFiles.denseFormat, "task": "adding"], path: "m", remedy: "")
        }
        #expect(throws: ExperimentError.self) { try ModelFiles.check(["format": ModelFiles.denseFormat], path: "m", remedy: "") }
        #expect(throws: ExperimentError.self) { try ModelFiles.check(["format": SparseModelFile.format], path: "m", remedy: "") }
        // Files of earlier versions: model.safetensors without metadata beyond task and version; exports.
        #expect(try ModelFiles.check(["task": "adding", "version": "0.2.0"], path: "m", remedy: "") != nil)
        #expect(
            try ModelFiles.check(["format": "moduli-sparse-csr-1", "sparse_shapes": "{}", "checksum": "fnv1a64:0"], path: "m", remedy: "")
                != nil)
        let current = try SafeTensors.encode(tensors, metadata: ["format": ModelFiles.denseFormat], checksum: true)
        #expect(try ModelFiles.check(SafeTensors.decode(current).metadata, path: "m", remedy: "") == nil)
    }
}
