// The whole option table of a task's run configuration (the task's own options, the trainer's and
// the paper's method), the parser of `moduli train <task>`'s options, and the resolution of a
// configuration from them: preset, then the options given, then the values that depend on the
// task's data, then the prerequisites. Validation is `Trainer.validate`.
import Foundation
import NN
import Sparsity

/// What `moduli train <task>` says about a task, and the task's own options.
public struct TaskCommandLine<Options: Codable & Sendable & Equatable> {
    /// One line for the list of tasks.
    public var abstract: String
    /// The paragraph of `moduli train <task> --help`.
    public var discussion: String
    /// The configuration before any option (the paper's protocol).
    public var defaults: RunConfig<Options>
    /// The task's own options (a preset among them applies first).
    public var options: [ConfigOption<RunConfig<Options>>]
    /// Fills in values that depend on the task's data once the options are set; `given` holds the
    /// names of the options given (without dashes). It returns the data it read, if any, which the
    /// task then gets instead of reading it again (`TrainingTask.init(options:prepared:)`).
    public var complete: ((inout RunConfig<Options>, Set<String>) throws -> (any Sendable)?)?

    /// A command line from its parts.
    public init(abstract: String, discussion: String, defaults: RunConfig<Options>, options: [ConfigOption<RunConfig<Options>>],
                complete: ((inout RunConfig<Options>, Set<String>) throws -> (any Sendable)?)? = nil) {
        self.abstract = abstract; self.discussion = discussion; self.defaults = defaults; self.options = options; self.complete = complete
    }
}

/// The trainer's options (every task has them), on `TrainingConfig`.
public enum TrainingOptions {
    /// The help section.
    public static let section = "Training"

    /// Why `--warmup-steps` or `--lr-factor` has no effect on `t`, or nil.
    static func needsSchedule(_ kind: LearningRateSchedule.Kind, _ name: String, _ t: TrainingConfig) -> String? {
        let schedule = t.learningRateSchedule.kind
        guard schedule != kind else { return nil }
        return "\(label(name)) applies only with \(label("lr-schedule")) \(kind.rawValue) (this run's schedule is \(schedule.rawValue)): add --lr-schedule \(kind.rawValue), or drop --\(name)."
    }

    /// The declarations.
    public static var declarations: [ConfigOption<TrainingConfig>] {
        typealias O = ConfigOption<TrainingConfig>
        return [
            O.value("seed", \.seed, key: "seed", "N", help: "Run seed (weights, data stream, positions). Default 0."),
            O.value("epochs", \.epochs, key: "epochs", "N", help: "Epochs of the main phase (pruning runs over them)."),
            O.value("batches-per-epoch", \.stepsPerEpoch, key: "stepsPerEpoch", "N", help: "Optimizer steps per epoch."),
            O.value("fixed-epochs", \.fixedEpochs, key: "fixedEpochs", "N", help: "Epochs at fixed sparsity after the main epochs."),
            O.value("optimizer", \.optimizer.kind, key: "optimizer.kind", "NAME", help: "Optimizer: sgd, adam, adamw."),
            O.value("lr", \.optimizer.learningRate, key: "optimizer.learningRate", "X", help: "Learning rate."),
            O.value("weight-decay", \.optimizer.weightDecay, key: "optimizer.weightDecay", "X",
                    help: "Weight decay (L2 for sgd and adam, decoupled for adamw); learned positions get none."),
            O.value("momentum", \.optimizer.momentum, key: "optimizer.momentum", "X", help: "SGD momentum."),
            O.flag("nesterov", \.optimizer.nesterov, key: "optimizer.nesterov", help: "SGD Nesterov momentum."),
            O.value("lr-schedule", \.learningRateSchedule.kind, key: "learningRateSchedule.kind", "NAME",
                    help: "Learning-rate schedule: constant, warmup, plateau (divide by --lr-factor when the evaluation does not improve)."),
            O.value("warmup-steps", \.learningRateSchedule.warmupSteps, key: "learningRateSchedule.warmupSteps", "N",
                    help: "Steps of linear warm-up (--lr-schedule warmup).", prerequisite: { needsSchedule(.warmup, "warmup-steps", $0) }),
            O.value("lr-factor", \.learningRateSchedule.factor, key: "learningRateSchedule.factor", "X",
                    help: "Division of the learning rate on a plateau (default 4).", prerequisite: { needsSchedule(.plateau, "lr-factor", $0) }),
            O.value("clip", \.clip, key: "clip", "X", help: "Global gradient-norm clip (0 = off)."),
            O.value("evaluate-every", \.evaluateEvery, key: "evaluateEvery", "N", help: "Evaluate every N epochs (and after the last)."),
            O.value("log-every", \.logEvery, key: "logEvery", "N", help: "Write a training-loss line every N steps."),
            O.value("threads", \.threads, key: "threads", "N", help: "OpenBLAS threads."),
            O.value("recurrent-kernels", \.recurrentKernels, key: "recurrentKernels", "NAME",
                    help: "Products with W_hh and the pruned linear layers: auto (default: sparse kernels once pruning leaves a weight sparse enough) or dense."),
        ].map { $0.inSection(section) }
    }

    /// The option that sets `key` of `TrainingConfig` or `RegularizerConfig`'s place in it, with its flag:
    /// `optimizer.learningRate [--lr]`; the key alone when no option sets it.
    public static func label(forKey key: String) -> String {
        if let o = (declarations + MethodOptions.declarations).first(where: { $0.key == key }) { return "training.\(o.label)" }
        return "training.\(key)"
    }

    /// The label of the trainer's or method's option named `name` (`lr`): `training.optimizer.learningRate [--lr]`.
    public static func label(_ name: String) -> String {
        if let o = (declarations + MethodOptions.declarations).first(where: { $0.name == name }) { return "training.\(o.label)" }
        return "--\(name)"
    }
}

/// The paper's method on the command line: the moduli regularizer, pruning and lottery tickets.
/// Flag map to the authors' scripts: --moduli = `moduli`, --inhibitor = `inhibitor`, --invert =
/// `invert`, --permute = `permute`, --change-embed = `changeembed`, --learn-embedding =
/// `learn_embedding`, --lambda = the regularization weight, --target-sparsity = the final pruning
/// fraction (docs/cli.md).
public enum MethodOptions {
    /// The help section.
    public static let section = "Moduli regularizer and pruning"

    /// Why a regularizer option has no effect on `t` (no regularizer), or nil.
    static func needsRegularizer(_ name: String, _ t: TrainingConfig) -> String? {
        guard t.regularizer.kind == .none else { return nil }
        return "\(TrainingOptions.label(name)) needs a regularizer: set \(TrainingOptions.label("moduli")), e.g. --moduli torus."
    }

    /// Why a pruning option has no effect on `t` (it prunes nothing), or nil.
    public static func needsPruning(_ label: String, _ name: String, _ t: TrainingConfig) -> String? {
        guard t.pruning.targetSparsity == 0 else { return nil }
        return "\(label) shapes pruning, and this run prunes nothing (\(TrainingOptions.label("target-sparsity")) is 0): add --target-sparsity, e.g. --target-sparsity 0.9, or drop --\(name)."
    }

    /// The declarations.
    public static var declarations: [ConfigOption<TrainingConfig>] {
        typealias O = ConfigOption<TrainingConfig>
        let regularizer = "regularizer."
        return [
            O(name: "moduli", key: regularizer + "space",
              help: "Moduli space for the regularizer: none (default), standard (plain L1/L2), or circle, torus, torus6, klein, sphere, s3, r3, r9, mixedcurv.",
              arity: .value("SPACE"), set: { t, text, _ in t.regularizer.space = text.lowercased() }),
            O(name: "inhibitor", key: regularizer + "inhibitor", help: "Inhibitor f(d): square, gauss, dog, inverted-dog (default), ripple, constant.",
              arity: .value("NAME"), set: { t, text, label in
                  guard let f = Inhibitor(name: text) else {
                      throw OptionError("\(label) must be one of square, gauss, dog, inverted-dog, ripple or constant, got '\(text)'.")
                  }
                  t.regularizer.inhibitor = f
              }, prerequisite: { needsRegularizer("inhibitor", $0) }),
            O.flag("invert", \.regularizer.invert, key: regularizer + "invert", help: "Invert R: R = max(R) - R (implied by inverted-dog).",
                   prerequisite: { needsRegularizer("invert", $0) }),
            O.flag("permute", \.regularizer.permute, key: regularizer + "permute", help: "Control: shuffle the entries of R (same values, no geometry).",
                   prerequisite: { needsRegularizer("permute", $0) }),
            O.flag("change-embed", \.regularizer.changeEmbed, key: regularizer + "changeEmbed",
                   help: "Separate positions for rows and columns (non-symmetric R).", prerequisite: { needsRegularizer("change-embed", $0) }),
            O.flag("strength-matched", \.regularizer.strengthMatched, key: regularizer + "strengthMatched",
                   help: "Control: constant R equal to the mean of the geometric R.", prerequisite: { needsRegularizer("strength-matched", $0) }),
            O.flag("learn-embedding", \.regularizer.learnEmbedding, key: regularizer + "learnEmbedding",
                   help: "Learn the neuron positions with the model's optimizer (no weight decay on them).",
                   prerequisite: { needsRegularizer("learn-embedding", $0) }),
            O.value("lambda", \.regularizer.lambda, key: regularizer + "lambda", "X", help: "Penalty weight lambda (default: the task's).",
                    prerequisite: { needsRegularizer("lambda", $0) }),
            O.value("power", \.regularizer.power, key: regularizer + "power", "P", help: "Penalty power p: 1 (L1-type, default) or 2 (L2-type).",
                    prerequisite: { needsRegularizer("power", $0) }),
            O.value("target-sparsity", \.pruning.targetSparsity, key: "pruning.targetSparsity", "X",
                    help: "Final pooled sparsity of the pruned tensors (0 = no pruning; default: the task's, navigation 0.9, adding 0)."),
            O.value("schedule", \.pruning.schedule, key: "pruning.schedule", "NAME", help: "Pruning schedule: linear (paper, default) or cubic (Zhu & Gupta).",
                    prerequisite: { needsPruning("training.pruning.schedule [--schedule]", "schedule", $0) }),
            O.value("prune-every", \.pruning.everySteps, key: "pruning.everySteps", "N", help: "Prune every N steps instead of at the start of every epoch."),
            O(name: "tensor-targets", key: "pruning.tensorTargets",
              help: "Per-tensor final targets, comma-separated, in the order of the task's pruned tensors.", arity: .value("X,Y,..."),
              set: { t, text, label in
                  let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                  guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
                      throw OptionError("\(label) must be comma-separated numbers, got '\(text)'.")
                  }
                  t.pruning.tensorTargets = values.compactMap { $0 }
              }),
            O.value("lottery", \.lottery, key: "lottery", "MODE",
                    help: "Lottery ticket after sparse training: none (default), random (paper), rewind (Frankle-Carbin)."),
        ].map { $0.inSection(section) }
    }
}

/// The options of a task's configuration and what they resolve to.
public enum TaskOptions<Task: TrainingTask> {
    /// Every option of `moduli train <task>`: the task's own, then the trainer's, then the method's.
    public static var declarations: [ConfigOption<RunConfig<Task.Options>>] {
        Task.commandLine.options.map { $0.section.isEmpty ? $0.inSection("Task") : $0 }
            + (TrainingOptions.declarations + MethodOptions.declarations).map { $0.lifted(\RunConfig<Task.Options>.training, keyPrefix: "training.") }
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
    public static func resolve(_ arguments: [String]) throws -> (config: RunConfig<Task.Options>, given: [String], prepared: (any Sendable)?) {
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
            if let k = sections.firstIndex(where: { $0.0 == o.section }) { sections[k].1.append(o) } else { sections.append((o.section, [o])) }
        }
        return sections.map { title, options in
            "\(title.uppercased()) OPTIONS:\n" + options.map { o in
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

/// Reads option words against a table.
public enum OptionParser {
    /// The options in `arguments` with their texts, in the order given. Refuses an unknown option
    /// (naming the closest known one), a missing value, a value without an option, and an option
    /// given twice.
    public static func parse<Root>(_ arguments: [String], table: [ConfigOption<Root>]) throws -> [(option: ConfigOption<Root>, text: String)] {
        var result: [(option: ConfigOption<Root>, text: String)] = []
        var k = 0
        while k < arguments.count {
            let word = arguments[k]
            k += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                throw OptionError("Unexpected argument '\(word)': options are written --name VALUE (see --help).")
            }
            var name = String(word.dropFirst(2)), inline: String?
            if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
            var negated = false
            var found = table.first { $0.name == name }
            if found == nil, name.hasPrefix("no-"), let o = table.first(where: { $0.name == String(name.dropFirst(3)) && $0.arity == .inversion }) {
                found = o; negated = true
            }
            guard let option = found else {
                let hint = closest(to: name, among: table.flatMap { $0.arity == .inversion ? [$0.name, "no-" + $0.name] : [$0.name] })
                throw OptionError("Unknown option '--\(name)'" + (hint.map { ": did you mean '--\($0)'?" } ?? ".") + " See --help for the options.")
            }
            if result.contains(where: { $0.option.name == option.name }) {
                throw OptionError("\(option.label) is given twice: give it once.")
            }
            switch option.arity {
            case .value(let placeholder):
                if let inline { result.append((option, inline)); continue }
                guard k < arguments.count, !isOptionWord(arguments[k]) else {
                    throw OptionError("\(option.label) needs a value: --\(option.name) <\(placeholder)>.")
                }
                result.append((option, arguments[k]))
                k += 1
            case .flag, .inversion:
                if inline != nil { throw OptionError("\(option.label) takes no value: give --\(name) alone.") }
                result.append((option, negated ? "false" : "true"))
            }
        }
        return result
    }

    /// Whether `word` is an option (`--name`) rather than a value; negative numbers are values.
    static func isOptionWord(_ word: String) -> Bool {
        word.hasPrefix("--") && word.count > 2 && Double(word) == nil
    }

    /// The name in `names` nearest to `name` by edit distance, when it is near enough to be a misspelling.
    static func closest(to name: String, among names: [String]) -> String? {
        let scored = names.map { ($0, editDistance(Array(name), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
