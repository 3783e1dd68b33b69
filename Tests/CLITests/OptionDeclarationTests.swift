// Every declared option of every registered task on the real command line: `--resume` refuses each
// by name, and `--help` lists exactly the declared options (an option outside the table shows up
// there and fails this test). A task defined here is trained through the command line in-process.
import Compute
import Experiments
import Foundation
import Linalg
import NN
import Testing
import _TestSupport
@testable import ModuliCLI

/// A task that exists only in this test: `size` weights pulled to zero by their squares.
struct ShrinkTask: TrainingTask {
    struct Options: Codable, Sendable, Equatable { var size = 3 }
    struct Stream: TaskStream {}
    static let name = "test-shrink"
    static let primaryMetric = "norm"
    static let defaultLambda = 0.25
    static var defaultTraining: TrainingConfig {
        TrainingConfig(epochs: 2, stepsPerEpoch: 5, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.25))
    }
    static var commandLine: TaskCommandLine<Options> {
        TaskCommandLine(
            abstract: "Weights shrunk to zero.", discussion: "A test task.",
            defaults: RunConfig(task: name, training: defaultTraining, options: Options()),
            options: [.value("size", \.options.size, key: "options.size", "N", help: "Weights.")])
    }
    let options: Options
    static func validate(_ o: Options, training: TrainingConfig) throws {}
    static func memoryEstimate(_ o: Options, training: TrainingConfig) -> Double { 1_000 }
    func makeModel(in store: ParameterStore<Float>, rng: inout SeededGenerator) -> ParameterSlot {
        store.add("w", shape: [1, options.size]) { 1 }
    }
    func roles(of model: ParameterSlot) -> ParameterRoles { ParameterRoles(pruned: [model], recurrent: [], hiddenSize: options.size) }
    func makeStream(rng: SeededGenerator) -> Stream { Stream() }
    func stepWorkspaceCount(_ model: ParameterSlot) -> Int? { 0 }
    func trainStep<Backend: ComputeBackend>(
        _ model: ParameterSlot, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, stream: inout Stream
    ) throws -> Double where Backend.Scalar == Float {
        let w = try parameters.value(model)
        try parameters.backend.axpy(alpha: 2, w, parameters.gradient(model))
        return try parameters.backend.download(w).map { Double($0 * $0) }.reduce(0, +)
    }
    func evaluate<Backend: ComputeBackend>(
        _ model: ParameterSlot, on parameters: ParameterBuffers<Backend>, workspace: inout Workspace<Float>, final: Bool
    ) throws -> [String: Double] where Backend.Scalar == Float {
        ["norm": try parameters.backend.download(parameters.value(model)).map { Double($0 * $0) }.reduce(0, +)]
    }
}

@Suite struct OptionDeclarationTests {
    /// The options ArgumentParser itself reads, outside the configuration's table.
    static let commandOptions: Set<String> = ["--out", "--overwrite", "--resume", "--quiet", "--help", "--config", "--version"]

    @Test func resumeRefusesEveryDeclaredOptionByName() throws {
        for task in TaskRegistry.tasks where !task.name.hasPrefix("test-") {
            let help = try CLITests.moduli(["train", task.name, "--help"])
            #expect(help.status == 0, "\(help.err)")
            // The help's option lines: two spaces, the flag(s), and <VALUE> for an option that takes one.
            var takesValue: [String: Bool] = [:]
            for line in help.out.split(separator: "\n") where line.hasPrefix("  --") {
                // The flags and the placeholder, up to the help text.
                let words = line.dropFirst(2).split(separator: " ").map {
                    String($0).trimmingCharacters(in: CharacterSet(charactersIn: ","))
                }
                .prefix { $0.hasPrefix("--") || $0.hasPrefix("<") }
                for w in words where w.hasPrefix("--") { takesValue[w] = words.contains { $0.hasPrefix("<") } }
            }
            let listed = Set(takesValue.keys).subtracting(Self.commandOptions)
            let declared = Set(task.optionFlags.flatMap { $0.split(separator: "/").map(String.init) })
            #expect(
                listed == declared,
                """
                \(task.name): help lists \(listed.subtracting(declared).sorted()) outside the table, omits \
                \(declared.subtracting(listed).sorted())
                """
            )
            for flag in declared.sorted() where flag != "--device" {  // --device: the one option --resume takes
                // Refused before any value is read: any value will do.
                let r = try CLITests.moduli(
                    ["train", task.name, "--resume", "--out", "/nonexistent/run", flag] + (takesValue[flag] == true ? ["1"] : []))
                #expect(
                    r.status == 64 && r.err.contains(flag) && r.err.contains("cannot be given with it"),
                    "\(task.name) \(flag): exit \(r.status): \(r.err)")
            }
        }
    }

    /// The train subcommands are the registry's tasks; a task registered here gets its command,
    /// which parses its options and trains it.
    @Test func aTaskRegisteredInATestTrainsFromTheCommandLine() throws {
        TaskRegistry.register(ShrinkTask.self)
        #expect(TrainCommand.configuration.subcommands.count == TaskRegistry.tasks.count)
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var command = try ModuliCommand.parseAsRoot([
            "train", "test-shrink", "--size", "5", "--epochs", "3", "--lr", "0.125", "--out", dir, "--quiet"
        ])
        try command.run()
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]
        #expect((config?["options"] as? [String: Any])?["size"] as? Int == 5)
        // w <- w (1 - 2 lr) = 0.75 w for 15 steps: norm 5 x 0.75^30.
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any]
        let norm = try #require(summary?["norm"] as? Double)
        #expect(abs(norm - 5 * pow(0.75, 30)) < 1e-6, "norm \(norm)")
        #expect(throws: (any Error).self) {
            var misspelt = try ModuliCommand.parseAsRoot(["train", "test-shrink", "--sise", "5", "--out", dir + "/2"])
            try misspelt.run()
        }
    }
}
