// The threads of a run: results that do not depend on them (the model files of runs at 1, 2 and 3
// threads, byte for byte), the cores the machine gives, and a sweep's share of them per run.
import Foundation
import Testing
import _TestSupport
import Linalg
import NN
import Sparsity
@testable import Experiments

@Suite struct ThreadCountTests {
    /// A tiny navigation run pruned to 90% (sparse kernels run from the first pruning event with
    /// `.sparse`; with `.auto` its weights are too small to time, so the density rule decides),
    /// with a lottery phase that starts under the final masks.
    static func config(kernels: RecurrentKernels, threads: Int) -> NavigationConfig {
        var c = NavigationTaskTests.tinyConfig()
        c.regularizer = .geometric(space: "torus", lambda: 0.1)
        c.lottery = .random
        c.recurrentKernels = kernels
        c.threads = threads
        return c
    }

    @Test(arguments: [RecurrentKernels.dense, .sparse, .auto])
    func aRunGivesTheSameModelBytesAtOneTwoAndThreeThreads(kernels: RecurrentKernels) throws {
        var models: [Int: Data] = [:]
        for threads in [1, 2, 3] {
            let path = TestFiles.temporaryDirectory("moduli-tests")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let summary = try #require(try NavigationTaskTests.train(Self.config(kernels: kernels, threads: threads), path))
            #expect(summary.main.sparsity.pooled.sparsity > 0.89, "\(kernels) at \(threads) threads")
            models[threads] = try Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors"))
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + "/config.json")))
            #expect(((config as? [String: Any])?["training"] as? [String: Any])?["threads"] as? Int == threads)
        }
        let one = try #require(models[1])
        #expect(one.count > 1_000)
        #expect(models[2] == one, "\(kernels): 2 threads give other bytes than 1")
        #expect(models[3] == one, "\(kernels): 3 threads give other bytes than 1")
    }

    @Test func aRunResumesWithAnotherThreadCount() throws {
        let straight = TestFiles.temporaryDirectory("moduli-tests"), split = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        _ = try #require(try NavigationTaskTests.train(Self.config(kernels: .sparse, threads: 1), straight))
        #expect(try NavigationTaskTests.train(Self.config(kernels: .sparse, threads: 2), split, stopAfterEpochs: 2) == nil)
        _ = try #require(try NavigationTaskTests.train(Self.config(kernels: .sparse, threads: 3), split, resume: true))
        let a = try Data(contentsOf: URL(fileURLWithPath: straight + "/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
        #expect(a == b)
    }

    @Test func trainingLeavesTheCallersSubnormalModeAsItWas() throws {
        let before = Parallel.flushesSubnormals
        defer { Parallel.setFlushesSubnormals(before) }
        for mode in [false, true] {
            Parallel.setFlushesSubnormals(mode)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-ftz-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var c = EliminationTrainingTests.adding()
            c.epochs = 1; c.stepsPerEpoch = 2
            let run = try RunDirectory(path: dir, overwrite: false, resume: false)
            _ = try Trainer<AddingTask>(config: c).train(in: run)
            run.unlock()
            #expect(Parallel.flushesSubnormals == mode, "the mode after a run: \(Parallel.flushesSubnormals), before: \(mode)")
        }
    }

    @Test func theDefaultIsEveryCoreTheProcessMayUse() {
        #expect(ThreadSetup.availableCores >= 1)
        #expect(ThreadSetup.availableCores <= ProcessInfo.processInfo.activeProcessorCount)
        #expect(
            TrainingConfig(epochs: 1, stepsPerEpoch: 1, optimizer: OptimizerConfig(kind: .sgd, learningRate: 1)).threads
                == min(256, ThreadSetup.availableCores))
    }

    @Test func cpuListsAndQuotasAreCounted() {
        #expect(ThreadSetup.cpuCount(list: "0-3,8,10-11") == 7)
        #expect(ThreadSetup.cpuCount(list: "\t0-1\n") == 2)
        #expect(ThreadSetup.cpuCount(list: "5") == 1)
        #expect(ThreadSetup.cpuCount(list: "3-1") == nil)
        #expect(ThreadSetup.cpuCount(list: "") == nil)
        #expect(ThreadSetup.quota(cpuMax: "max 100000\n") == nil)
        #expect(ThreadSetup.quota(cpuMax: "200000 100000\n") == 2)
        #expect(ThreadSetup.quota(cpuMax: "150000 100000") == 2)
        #expect(ThreadSetup.quota(cpuMax: "50000 100000") == 1)
        #expect(ThreadSetup.quota(cpuMax: "-1 100000") == nil)
    }

    @Test func aSweepSharesTheCoresAmongItsJobs() {
        #expect(ThreadSetup.threadsPerJob(jobs: 1, cores: 16) == 16)
        #expect(ThreadSetup.threadsPerJob(jobs: 3, cores: 16) == 5)
        #expect(ThreadSetup.threadsPerJob(jobs: 32, cores: 16) == 1)
        #expect(ThreadSetup.oversubscription(jobs: 4, threads: 4, cores: 16) == nil)
        let warning = ThreadSetup.oversubscription(jobs: 4, threads: 8, cores: 16)
        #expect(warning?.contains("--jobs 4") == true && warning?.contains("--threads 8") == true, "\(warning ?? "nil")")
        #expect(warning?.contains("16 cores") == true && warning?.contains("--threads 4") == true, "\(warning ?? "nil")")
    }

    @Test func aSweepGivesRunsWithoutThreadsItsShareAndKeepsAGivenCount() throws {
        let spec = SweepSpec(
            task: "adding", base: ["--hidden", "8", "--length", "4"], seeds: [0],
            configurations: [
                SweepSpec.Configuration(name: "own", flags: ["--threads", "7"]),
                SweepSpec.Configuration(name: "shared", flags: [])
            ])
        let configs = try spec.resolvedConfigs(path: "spec.json", threads: 3)
        func threads(_ name: String) throws -> Int? {
            let data = try #require(configs.first { $0.run.name == name }?.config)
            return SweepSpec.largestThreads([(configs[0].run, data)])
        }
        #expect(try threads("own-s0") == 7)
        #expect(try threads("shared-s0") == 3)
        #expect(SweepSpec.largestThreads(configs) == 7)
        let adding = try TaskRegistry.task(named: "adding")
        #expect(try adding.keys(givenBy: ["--lr", "1", "--threads=2"]) == ["training.optimizer.learningRate", "training.threads"])
        #expect(throws: OptionError.self) { try adding.keys(givenBy: ["--thread", "2"]) }
    }

    @Test func autoDecidesByDensityAloneForSmallWeightsAndByTimeForLargeOnes() {
        var timed = 0
        func decide(_ density: Double, entries: Int, dense: Double = 1, sparse: Double = 2) -> KernelDecision {
            KernelChoice.decide(weight: "w", density: density, entries: entries, threads: 3) {
                timed += 1
                return (dense, sparse)
            }
        }
        #expect(!decide(0.6, entries: 1 << 20).sparse && timed == 0)
        #expect(decide(0.2, entries: 100).sparse && !decide(0.3, entries: 100).sparse && timed == 0)
        let slower = decide(0.1, entries: 1 << 20, dense: 1, sparse: 2)
        #expect(!slower.sparse && slower.denseMilliseconds == 1 && slower.sparseMilliseconds == 2 && slower.threads == 3)
        #expect(decide(0.4, entries: 1 << 20, dense: 2, sparse: 1).sparse)
        #expect(timed == 2)
    }

    @Test func recordedDecisionsSwitchTheProductsAndAreLogged() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try #require(try NavigationTaskTests.train(Self.config(kernels: .auto, threads: 1), path))
        let lines = try String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.filter { $0.contains("\"kind\":\"kernels\"") }.map {
            try JSONDecoder().decode(KernelRecord.self, from: Data($0.utf8))
        }
        // Two pruning events in the main phase, and the start of the lottery phase.
        #expect(records.map(\.phase) == [0, 0, 1])
        let names = ["rnn.weight_hh_l0", "encoder.weight", "decoder.weight"]
        for record in records { #expect(Set(record.decisions.map(\.weight)) == Set(names), "\(record)") }
        // The first event prunes to 45% pooled (dense), the second to 90% (sparse: 16 x 16 is decided by density).
        #expect(records[0].decisions.allSatisfy { !$0.sparse && $0.density > 0.2 }, "\(records[0])")
        #expect(records[1].decisions.allSatisfy { $0.sparse && $0.density < 0.2 && $0.denseMilliseconds == nil })

        let task = try NavigationTask(options: Self.config(kernels: .auto, threads: 1).options)
        let store = ParameterStore<Float>()
        var rng = SeededGenerator(seed: 1)
        let roles = task.roles(of: task.makeModel(in: store, rng: &rng))
        for slot in roles.pruned { GradualMagnitudePruner.prune([slot], toSparsity: 0.9, in: store) }
        roles.applyKernels(
            records[1].decisions.map {
                var d = $0; d.sparse = d.weight != "decoder.weight"; return d
            }, in: store)
        #expect(roles.kernelChoices(in: store) == ["rnn.weight_hh_l0": "sparse", "encoder.weight": "sparse", "decoder.weight": "dense"])
        roles.applyKernels([], in: store)
        #expect(roles.kernelChoices(in: store).values.allSatisfy { $0 == "dense" })
    }

    @Test func amdahlsSerialFractionAndProjection() {
        // T1 = 10, T2 = 6: 10 (f + (1 - f) / 2) = 6 gives f = 0.2; at 16 threads 10 (0.2 + 0.8 / 16) = 2.5.
        #expect(abs(AmdahlProfile.serialFraction(one: 10, many: 6, threads: 2) - 0.2) < 1e-12)
        #expect(abs(AmdahlProfile.projected(one: 10, fraction: 0.2, threads: 16) - 2.5) < 1e-12)
        #expect(AmdahlProfile.serialFraction(one: 10, many: 12, threads: 2) == 1)
        #expect(AmdahlProfile.serialFraction(one: 10, many: 4, threads: 2) == 0)
        #expect(AmdahlProfile.serialFraction(one: 10, many: 10, threads: 1) == 1)
        let lines = AmdahlProfile(one: ["forward": 10, "data": 2], many: ["forward": 6, "data": 2], threads: 2).lines
        #expect(lines.count == StepProfile.Phase.allCases.count + 2)
        #expect(lines.last == "PROFILE step       12.000     8.000      0.333      4.500      4.125     ")
    }

    @Test func aResumedRunRunsTheKernelsItsCheckpointRecorded() throws {
        let path = TestFiles.temporaryDirectory("moduli-tests")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = Self.config(kernels: .auto, threads: 1)
        config.lottery = .none
        config.fixedEpochs = 1
        config.hiddenSize = 256  // W_hh 256 x 256: timed at the pruning events
        #expect(try NavigationTaskTests.train(config, path, stopAfterEpochs: 3) == nil)
        let lines = try String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let last = try #require(
            try lines.filter { $0.contains("\"kind\":\"kernels\"") }.map {
                try JSONDecoder().decode(KernelRecord.self, from: Data($0.utf8))
            }
            .last)
        let timed = try #require(last.decisions.first { $0.weight == "rnn.weight_hh_l0" })
        #expect(timed.denseMilliseconds != nil && timed.sparseMilliseconds != nil && timed.density < 0.2)
        let loop = try TrainingLoop(
            trainer: Trainer<NavigationTask>(config: config), run: RunDirectory(path: path, overwrite: false, resume: true), resume: true,
            showProgress: false)
        #expect(loop.state.kernelDecisions == last.decisions)
        let recorded = Dictionary(uniqueKeysWithValues: last.decisions.map { ($0.weight, $0.sparse ? "sparse" : "dense") })
        #expect(loop.session.roles.kernelChoices(in: loop.session.store) == recorded)
    }
}
