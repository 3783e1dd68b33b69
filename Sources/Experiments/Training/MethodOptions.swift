// The paper's method on the command line, declared once (`ConfigOption` on `TrainingConfig`): the
// moduli regularizer, pruning and lottery tickets (docs/method.md sections 2 and 3; docs/cli.md maps the
// authors' options to these flags).
import Foundation
import Sparsity

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
        return
            """
            \(label) shapes pruning, and this run prunes nothing (\(TrainingOptions.label("target-sparsity")) is 0): add \
            --target-sparsity, e.g. --target-sparsity 0.9, or drop --\(name).
            """
    }

    /// The help section of the group envelope regularizer.
    public static let envelopeSection = "Group envelope regularizer (structured: whole hidden units)"

    /// Why a group envelope option has no effect on `t` (no envelope: --group-envelope-units not given), or nil.
    static func needsEnvelope(_ name: String, _ t: TrainingConfig) -> String? {
        guard t.groupEnvelope == nil || t.groupEnvelope?.keptUnits == 0 else { return nil }
        return
            """
            \(TrainingOptions.label(name)) shapes the group envelope regularizer, which is off: add \
            \(TrainingOptions.label("group-envelope-units")) K (1 <= K <= the hidden size), or drop --\(name).
            """
    }

    /// The help section of neuron elimination during training.
    public static let eliminationSection = "Neuron elimination during training (structured: whole hidden units)"

    /// Why an elimination option has no effect on `t` (no elimination: --eliminate-tolerance not given), or nil.
    static func needsElimination(_ name: String, _ t: TrainingConfig) -> String? {
        guard t.elimination == nil || t.elimination?.tolerance.isNaN == true else { return nil }
        return
            """
            \(TrainingOptions.label(name)) shapes neuron elimination, which is off: add \
            \(TrainingOptions.label("eliminate-tolerance")) T (0 <= T < 1), or drop --\(name).
            """
    }

    /// An option that sets one field (`path`) of an optional section of the configuration
    /// (`section`, created as `empty` when absent), with `prerequisite` as `ConfigOption`'s.
    static func sectionField<Section, Value: OptionValue>(
        _ name: String, _ section: WritableKeyPath<TrainingConfig, Section?>, empty: Section,
        _ path: WritableKeyPath<Section, Value>, key: String, _ placeholder: String, help: String,
        prerequisite: ((TrainingConfig) -> String?)?
    ) -> ConfigOption<TrainingConfig> {
        ConfigOption(
            name: name, key: key, help: help, arity: .value(placeholder),
            set: { t, text, label in
                var value = t[keyPath: section] ?? empty
                value[keyPath: path] = try ConfigOption<TrainingConfig>.parse(Value.self, text, label: label)
                t[keyPath: section] = value
            }, prerequisite: prerequisite)
    }

    /// The declarations.
    public static var declarations: [ConfigOption<TrainingConfig>] {
        methodDeclarations.map { $0.inSection(section) } + envelopeDeclarations.map { $0.inSection(envelopeSection) }
            + eliminationDeclarations.map { $0.inSection(eliminationSection) }
    }

    /// Neuron elimination's options.
    static var eliminationDeclarations: [ConfigOption<TrainingConfig>] {
        typealias O = ConfigOption<TrainingConfig>
        /// An option that sets one field of the elimination section, creating it when absent.
        func field<Value: OptionValue>(
            _ name: String, _ path: WritableKeyPath<EliminationConfig, Value>, key: String, _ placeholder: String, help: String,
            prerequisite: Bool = true
        ) -> O {
            sectionField(
                name, \.elimination, empty: EliminationConfig(tolerance: .nan), path, key: "elimination." + key, placeholder,
                help: help, prerequisite: prerequisite ? { needsElimination(name, $0) } : nil)
        }
        return [
            field(
                "eliminate-tolerance", \.tolerance, key: "tolerance", "T",
                help:
                    """
                    Neuron elimination during training: fold every hidden unit whose activations are a linear combination of \
                    the others' within relative residual T (0 <= T < 1, the last event's) into them and remove it (Shah et al.).
                    """,
                prerequisite: false),
            field(
                "eliminate-start-tolerance", \.startTolerance, key: "startTolerance", "T0",
                help: "The first elimination event's tolerance, raised linearly to --eliminate-tolerance at the last (default 0)."),
            field(
                "eliminate-every", \.everySteps, key: "everySteps", "N",
                help: "Optimizer steps between elimination events in the main epochs (default: one event after every main epoch)."),
            field(
                "eliminate-rows", \.rows, key: "rows", "N",
                help: "The most rows of hidden states each regression uses (default 4096).")
        ]
    }

    /// The group envelope regularizer's options.
    static var envelopeDeclarations: [ConfigOption<TrainingConfig>] {
        /// An option that sets one field of the envelope section, creating it when absent.
        func field<Value: OptionValue>(
            _ name: String, _ path: WritableKeyPath<GroupEnvelopeConfig, Value>, key: String, _ placeholder: String, help: String,
            prerequisite: Bool = true
        ) -> ConfigOption<TrainingConfig> {
            sectionField(
                name, \.groupEnvelope, empty: GroupEnvelopeConfig(keptUnits: 0), path, key: "groupEnvelope." + key, placeholder,
                help: help, prerequisite: prerequisite ? { needsEnvelope(name, $0) } : nil)
        }
        return [
            field(
                "group-envelope-units", \.keptUnits, key: "keptUnits", "K",
                help:
                    """
                    Group envelope regularizer: keep exactly K hidden units (1 <= K <= H); after each step, the proximal operator \
                    of the weighted group sparse envelope on every unit's parameters (Refael et al.).
                    """,
                prerequisite: false),
            field(
                "group-envelope-lambda", \.lambda, key: "lambda", "X",
                help: "Weight of the group envelope: the proximal step is the learning rate x lambda (default 0.01)."),
            field(
                "group-envelope-weights", \.weights, key: "weights", "X,Y,...",
                help: "Group weights d_j, one per hidden unit, comma-separated (default: all 1).")
        ]
    }

    /// The regularizer's, pruning's and the lottery ticket's options.
    static var methodDeclarations: [ConfigOption<TrainingConfig>] {
        typealias O = ConfigOption<TrainingConfig>
        let regularizer = "regularizer."
        return [
            O(
                name: "moduli", key: regularizer + "space",
                help:
                    """
                    Moduli space for the regularizer: none (default), standard (plain L1/L2), or circle, torus, torus6, klein, \
                    sphere, s3, r3, r9, mixedcurv.
                    """,
                arity: .value("SPACE"), set: { t, text, _ in t.regularizer.space = text.lowercased() }),
            O(
                name: "inhibitor", key: regularizer + "inhibitor",
                help: "Inhibitor f(d): square, gauss, dog, inverted-dog (default), ripple, constant.",
                arity: .value("NAME"),
                set: { t, text, label in
                    guard let f = Inhibitor(name: text) else {
                        throw OptionError("\(label) must be one of square, gauss, dog, inverted-dog, ripple or constant, got '\(text)'.")
                    }
                    t.regularizer.inhibitor = f
                }, prerequisite: { needsRegularizer("inhibitor", $0) }),
            O.flag(
                "invert", \.regularizer.invert, key: regularizer + "invert", help: "Invert R: R = max(R) - R (implied by inverted-dog).",
                prerequisite: { needsRegularizer("invert", $0) }),
            O.flag(
                "permute", \.regularizer.permute, key: regularizer + "permute",
                help: "Control: shuffle the entries of R (same values, no geometry).",
                prerequisite: { needsRegularizer("permute", $0) }),
            O.flag(
                "change-embed", \.regularizer.changeEmbed, key: regularizer + "changeEmbed",
                help: "Separate positions for rows and columns (non-symmetric R).", prerequisite: { needsRegularizer("change-embed", $0) }),
            O.flag(
                "strength-matched", \.regularizer.strengthMatched, key: regularizer + "strengthMatched",
                help: "Control: constant R equal to the mean of the geometric R.",
                prerequisite: { needsRegularizer("strength-matched", $0) }),
            O.flag(
                "learn-embedding", \.regularizer.learnEmbedding, key: regularizer + "learnEmbedding",
                help: "Learn the neuron positions with the model's optimizer (no weight decay on them).",
                prerequisite: { needsRegularizer("learn-embedding", $0) }),
            O.value(
                "lambda", \.regularizer.lambda, key: regularizer + "lambda", "X", help: "Penalty weight lambda (default: the task's).",
                prerequisite: { needsRegularizer("lambda", $0) }),
            O.value(
                "power", \.regularizer.power, key: regularizer + "power", "P",
                help: "Penalty power p: 1 (L1-type, default) or 2 (L2-type).",
                prerequisite: { needsRegularizer("power", $0) }),
            O.value(
                "target-sparsity", \.pruning.targetSparsity, key: "pruning.targetSparsity", "X",
                help: "Final pooled sparsity of the pruned tensors (0 = no pruning; default: the task's, navigation 0.9, adding 0)."),
            O.value(
                "schedule", \.pruning.schedule, key: "pruning.schedule", "NAME",
                help: "Pruning schedule: linear (paper, default) or cubic (Zhu & Gupta).",
                prerequisite: { needsPruning("training.pruning.schedule [--schedule]", "schedule", $0) }),
            O.value(
                "prune-every", \.pruning.everySteps, key: "pruning.everySteps", "N",
                help: "Prune every N steps instead of at the start of every epoch."),
            O(
                name: "tensor-targets", key: "pruning.tensorTargets",
                help: "Per-tensor final targets, comma-separated, in the order of the task's pruned tensors.", arity: .value("X,Y,..."),
                set: { t, text, label in
                    let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
                        throw OptionError("\(label) must be comma-separated numbers, got '\(text)'.")
                    }
                    t.pruning.tensorTargets = values.compactMap { $0 }
                }),
            O.value(
                "lottery", \.lottery, key: "lottery", "MODE",
                help: "Lottery ticket after sparse training: none (default), random (paper), rewind (Frankle-Carbin).")
        ]
    }
}
