// `moduli bench train`: milliseconds per training step of any `moduli train <task>` configuration.
import ArgumentParser
import Experiments
import Foundation
import Linalg

struct BenchTrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "train",
            abstract: "Time the training step of a task configuration (the trainer's own step, nothing evaluated or saved).",
            discussion: """
                Everything after the task name is an option of `moduli train <task>` (so --steps and --warmup come \
                before it). Prints one JSON line with the \
                mean, median and fastest milliseconds per step after --warmup untimed steps.
                Example: moduli bench train --steps 20 language --preset small --cell lstm --target-sparsity 0
                With --pruned 0.9 every pruned tensor is pruned to 90% first (the step of a run's sparse tail or lottery phase).
                """)
    }

    @Option(help: "Timed steps (default 20).") var steps = 20
    @Option(help: "Untimed steps first (default 3).") var warmup = 3
    @Option(help: "Prune every pruned tensor to this sparsity by magnitude first (0 to below 1), as late in a run or in its lottery phase.")
    var pruned: Double?
    @Argument(help: ArgumentHelp("The task: \(TaskRegistry.tasks.map(\.name).joined(separator: ", ")).")) var task: String
    @Argument(parsing: .captureForPassthrough, help: "Options of moduli train <task>.") var trainOptions: [String] = []

    func validate() throws {
        if let pruned, !(pruned >= 0 && pruned < 1) { throw ValidationError("--pruned must be at least 0 and below 1, got \(pruned).") }
    }

    func run() throws {
        let registered: RegisteredTask
        do { registered = try TaskRegistry.task(named: task) } catch let e as ExperimentError { throw ValidationError(e.description) }
        func time<T: TrainingTask>(_ t: T.Type) throws { try self.time(t) }
        try time(registered.type)
    }

    func time<Task: TrainingTask>(_ type: Task.Type) throws {
        let bare = trainOptions.map { $0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0 }
        if bare.contains("--help") || bare.contains("-h") { throw CleanExit.helpRequest(TrainTaskCommand<Task>.self) }
        if bare.contains("--out") || bare.contains("--resume") {
            throw ValidationError("moduli bench train writes no run: --out and --resume do not apply.")
        }
        if bare.contains("--config") {
            throw ValidationError(
                """
                moduli bench train times the configuration its options build: --config does not apply. Give the options instead, e.g. \
                moduli bench train \(task) --hidden 256.
                """
            )
        }
        let (config, prepared) = try resolvedConfiguration(trainOptions, task: Task.self)
        let trainer: Trainer<Task>
        do { trainer = try Trainer<Task>(validated: config, prepared: prepared) } catch let e as ExperimentError {
            throw ValidationError(e.description)
        }
        let timing: StepTiming
        do { timing = try trainer.timeSteps(steps, warmup: warmup, prunedTo: pruned) } catch let e as ExperimentError {
            throw ValidationError(e.description)
        }
        let record: [String: Any] = [
            "task": task, "options": trainOptions.joined(separator: " "), "steps": steps, "warmup": warmup,
            "threads": config.training.threads, "blasKernels": BLASKernels.coreName,
            "pruned": pruned ?? 0, "sparsity": timing.sparsity, "meanMs": timing.mean, "medianMs": timing.median,
            "minimumMs": timing.minimum
        ]
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        print("BENCH " + String(decoding: data, as: UTF8.self))
    }
}
