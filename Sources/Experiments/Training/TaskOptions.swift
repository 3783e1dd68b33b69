// The whole option table of a task's run configuration (the task's own options, the trainer's and
// the paper's method) and the resolution of a configuration from the options given (`OptionParser`):
// preset, then the options given, then the values that depend on the task's data, then the
// prerequisites. Validation is `Trainer.validate`.
import Foundation
import Sparsity

/// The options of a task's configuration and what they resolve to.
public enum TaskOptions<Task: TrainingTask> {
    /// Every option of `moduli train <task>`: the task's own, then the trainer's, then the method's.
    public static var declarations: [ConfigOption<RunConfig<Task.Options>>] {
        Task.commandLine.options.map { $0.section.isEmpty ? $0.inSection("Task") : $0 }
            + (TrainingOptions.declarations + MethodOptions.declarations).map {
                $0.lifted(\RunConfig<Task.Options>.training, keyPrefix: "training.")
            }
    }

    /// The label (`options.hiddenSize [--hidden]`) of the option that sets `key`; the key alone when none does.
    public static func label(forKey key: String) -> String {
        declarations.first { $0.key == key }?.label ?? key
    }

    /// The configuration before any option: the task's defaults with the method's (no regularizer,
    /// the inverted DoG, the task's lambda, p = 1).
    static func start(_ base: RunConfig<Task.Options>) -> RunConfig<Task.Options> {
        var c = base
        c.training.regularizer = RegularizerConfig(space: "none", inhibitor: .invertedDoG, lambda: Task.defaultLambda, power: 1)
        return c
    }

    /// Resolves `arguments` (options of `moduli train <task>`, nothing else) into a configuration:
    /// preset, the options given, the values that depend on the task's data, prerequisites. It is
    /// not validated yet (`Trainer.validate`). `given` lists the options given, as their flags;
    /// `prepared` is the data the task's `complete` read, for `Trainer(validated:prepared:)`.
    public static func resolve(_ arguments: [String]) throws -> (
        config: RunConfig<Task.Options>, given: [String], prepared: (any Sendable)?
    ) {
        let table = declarations
        let parsed = try OptionParser.parse(arguments, table: table)
        var config = Task.commandLine.defaults
        for (option, text) in parsed where option.isPreset { try option.set(&config, text, option.label) }
        config = start(config)
        for (option, text) in parsed where !option.isPreset { try option.set(&config, text, option.label) }
        let given = Set(parsed.map(\.option.name))
        let prepared = try Task.commandLine.complete?(&config, given) ?? nil
        for (option, _) in parsed {
            if let why = option.prerequisite?(config) { throw OptionError(why) }
        }
        return (config, parsed.map(\.option.flag), prepared)
    }

    /// The help of the options, by section: `--flag <VALUE>`, the help line and the key it sets.
    public static var helpText: String {
        var sections: [(String, [ConfigOption<RunConfig<Task.Options>>])] = []
        for o in declarations {
            if let k = sections.firstIndex(where: { $0.0 == o.section }) {
                sections[k].1.append(o)
            } else {
                sections.append((o.section, [o]))
            }
        }
        return sections.map { title, options in
            "\(title.uppercased()) OPTIONS:\n"
                + options.map { o in
                    let spelled: String
                    switch o.arity {
                    case .value(let placeholder): spelled = "--\(o.name) <\(placeholder)>"
                    case .flag: spelled = "--\(o.name)"
                    case .inversion: spelled = "--\(o.name), --no-\(o.name)"
                    }
                    return "  \(spelled)\n        \(o.help) [\(o.key)]"
                }.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }
}
