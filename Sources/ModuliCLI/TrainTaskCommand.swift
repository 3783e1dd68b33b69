// `moduli train <task>` for every registered task: ArgumentParser reads the run directory options
// and `--config`; the configuration's options (the task's, the trainer's, the method's) pass
// through to the library's table (`TaskOptions`), which parses them, resolves the configuration
// once and names the configuration key and the flag in its errors.
import ArgumentParser
import Experiments
import Foundation

/// `moduli train <Task.name>`.
struct TrainTaskCommand<Task: TrainingTask>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Task.name, abstract: Task.commandLine.abstract,
            discussion: Task.commandLine.discussion + "\n\n" + TaskOptions<Task>.helpText)
    }

    @OptionGroup var output: RunOptions
    @OptionGroup(visibility: .hidden) var configFile: ConfigFileOption
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Options of the task, the trainer and the method (listed below).", valueName: "options"))
    var options: [String] = []

    /// The options given, as flags: syntax checked (unknown options, missing values, repeats), values not yet read.
    func given() throws -> [String] {
        do { return try OptionParser.parse(options, table: TaskOptions<Task>.declarations).map(\.option.flag) } catch let e as OptionError {
            throw ValidationError(e.description)
        }
    }

    func run() throws {
        do { try start() } catch let e as ValidationError {
            // The task's own usage, not the root command's.
            FileHandle.standardError.write(Data("Error: \(e.description)\nSee 'moduli train \(Task.name) --help' for the options.\n".utf8))
            throw ExitCode.validationFailure
        }
    }

    func start() throws {
        let given = try given()
        if let path = configFile.config {
            try trainFromConfigFile(path, output: output, command: Task.name, given: given)
            return
        }
        if output.resume {
            // A run resumes on either device: --device is the one option --resume takes.
            let device = try OptionParser.parse(options, table: TaskOptions<Task>.declarations)
                .first { $0.option.flag == "--device" }
                .map { parsed -> ComputeDevice in
                    guard let d = ComputeDevice(rawValue: parsed.text) else {
                        throw ValidationError("--device must be one of \(ComputeDevice.allCases.map(\.rawValue).joined(separator: ", ")).")
                    }
                    return d
                }
            try train(Task.self, config: nil, device: device, output: output, given: given.filter { $0 != "--device" })
            return
        }
        let resolved = try resolvedConfiguration(options, task: Task.self)
        try train(Task.self, config: resolved.config, prepared: resolved.prepared, output: output, given: given)
    }
}

/// The configuration `arguments` (options of `moduli train <Task.name>`) resolve to, validated,
/// with the data its resolution read: the one computation of a command's configuration. Errors
/// are usage errors.
func resolvedConfiguration<Task: TrainingTask>(_ arguments: [String], task: Task.Type) throws
    -> (config: RunConfig<Task.Options>, prepared: (any Sendable)?)
{
    do {
        let resolved = try TaskOptions<Task>.resolve(arguments)
        try Trainer<Task>.validate(resolved.config)
        return (resolved.config, resolved.prepared)
    } catch let e as OptionError {
        throw ValidationError(e.description)
    } catch let e as ExperimentError {
        throw ValidationError(e.description)
    }
}

/// The `moduli train <task>` command of a registered task.
func trainCommand(_ task: RegisteredTask) -> ParsableCommand.Type {
    func command<T: TrainingTask>(_ t: T.Type) -> ParsableCommand.Type { TrainTaskCommand<T>.self }
    return command(task.type)
}
