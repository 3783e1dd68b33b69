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
                With --pruned 0.9 every pruned tensor is pruned to 90% first (the step of a run's sparse tail or lottery phase); \
                the line then names the kernels each pruned weight runs ("kernels"; with --recurrent-kernels auto also the timings \
                of its choice, "kernelDecisions").
                With --profile the step is also timed per phase (data, forward, backward, penalty, masks, optimizer, positions) at \
                1 thread and at --threads N (default: every core): one PROFILE line per phase with both times, the part of it that \
                does not scale (Amdahl's serial fraction from the two), and the step projected to 16 and 64 threads.
                """)
    }

    @Option(help: "Timed steps (default 20).") var steps = 20
    @Option(help: "Untimed steps first (default 3).") var warmup = 3
    @Option(help: "Prune every pruned tensor to this sparsity by magnitude first (0 to below 1), as late in a run or in its lottery phase.")
    var pruned: Double?
    @Flag(help: "Time each phase of the step at 1 thread and at --threads, and project the step to 16 and 64 threads (Amdahl).")
    var profile = false
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
        do { timing = try trainer.timeSteps(steps, warmup: warmup, prunedTo: pruned, profile: profile) } catch let e as ExperimentError {
            throw ValidationError(e.description)
        }
        var single: StepTiming?
        if profile && config.training.threads > 1 {
            var one = config
            one.training.threads = 1
            do {
                single = try Trainer<Task>(validated: one, prepared: prepared).timeSteps(
                    steps, warmup: warmup, prunedTo: pruned, profile: true)
            } catch let e as ExperimentError { throw ValidationError(e.description) }
            ThreadSetup.apply(threads: config.training.threads)
        }
        var record: [String: Any] = [
            "task": task, "options": trainOptions.joined(separator: " "), "steps": steps, "warmup": warmup,
            "threads": config.training.threads, "blasKernels": BLASKernels.coreName,
            "pruned": pruned ?? 0, "sparsity": timing.sparsity, "meanMs": timing.mean, "medianMs": timing.median,
            "minimumMs": timing.minimum, "kernels": timing.kernels
        ]
        if !timing.kernelDecisions.isEmpty {
            record["kernelDecisions"] = timing.kernelDecisions.map { d -> [String: Any] in
                var entry: [String: Any] = ["weight": d.weight, "kernels": d.sparse ? "sparse" : "dense", "density": d.density]
                if let ms = d.denseMilliseconds { entry["denseMs"] = ms }
                if let ms = d.sparseMilliseconds { entry["sparseMs"] = ms }
                return entry
            }
        }
        if let phases = timing.phases { record["phasesMs"] = phases }
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        print("BENCH " + String(decoding: data, as: UTF8.self))
        if profile, let phases = timing.phases {
            for line in AmdahlProfile(one: single?.phases ?? phases, many: phases, threads: config.training.threads).lines { print(line) }
        }
    }
}
