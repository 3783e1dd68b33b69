// The trainer's options on the command line, declared once (`ConfigOption` on `TrainingConfig`):
// every task has them. docs/cli.md lists them.
import Foundation

/// The trainer's options (every task has them), on `TrainingConfig`.
public enum TrainingOptions {
    /// The help section.
    public static let section = "Training"

    /// Why `--warmup-steps` or `--lr-factor` has no effect on `t`, or nil.
    static func needsSchedule(_ kind: LearningRateSchedule.Kind, _ name: String, _ t: TrainingConfig) -> String? {
        let schedule = t.learningRateSchedule.kind
        guard schedule != kind else { return nil }
        return
            """
            \(label(name)) applies only with \(label("lr-schedule")) \(kind.rawValue) (this run's schedule is \(schedule.rawValue)): \
            add --lr-schedule \(kind.rawValue), or drop --\(name).
            """
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
            O.value(
                "weight-decay", \.optimizer.weightDecay, key: "optimizer.weightDecay", "X",
                help: "Weight decay (L2 for sgd and adam, decoupled for adamw); learned positions get none."),
            O.value("momentum", \.optimizer.momentum, key: "optimizer.momentum", "X", help: "SGD momentum."),
            O.flag("nesterov", \.optimizer.nesterov, key: "optimizer.nesterov", help: "SGD Nesterov momentum."),
            O.value(
                "lr-schedule", \.learningRateSchedule.kind, key: "learningRateSchedule.kind", "NAME",
                help: "Learning-rate schedule: constant, warmup, plateau (divide by --lr-factor when the evaluation does not improve)."),
            O.value(
                "warmup-steps", \.learningRateSchedule.warmupSteps, key: "learningRateSchedule.warmupSteps", "N",
                help: "Steps of linear warm-up (--lr-schedule warmup).", prerequisite: { needsSchedule(.warmup, "warmup-steps", $0) }),
            O.value(
                "lr-factor", \.learningRateSchedule.factor, key: "learningRateSchedule.factor", "X",
                help: "Division of the learning rate on a plateau (default 4).",
                prerequisite: { needsSchedule(.plateau, "lr-factor", $0) }),
            O.value("clip", \.clip, key: "clip", "X", help: "Global gradient-norm clip (0 = off)."),
            O.value("evaluate-every", \.evaluateEvery, key: "evaluateEvery", "N", help: "Evaluate every N epochs (and after the last)."),
            O.value("log-every", \.logEvery, key: "logEvery", "N", help: "Write a training-loss line every N steps."),
            O.value(
                "threads", \.threads, key: "threads", "N",
                help: """
                    Threads of the run's worker pool: moduli's own kernels and the dense products, as blocks of single-threaded \
                    OpenBLAS calls (default: every core this process may use). For a given kernel choice results do not depend on it.
                    """),
            O.value(
                "recurrent-kernels", \.recurrentKernels, key: "recurrentKernels", "NAME",
                help:
                    """
                    Products with W_hh and the pruned linear layers: auto (default: at each pruning event, sparse kernels or \
                    GEMMs per weight, whichever is faster at the run's threads; recorded, and reused on resume), dense, or sparse \
                    (from the first pruning event, whatever the density; auto's bits depend on its timings, dense's and sparse's \
                    do not).
                    """
            ),
            O.value(
                "sparse-from", \.sparseFrom, key: "sparseFrom", "S",
                help: """
                    With --recurrent-kernels sparse: a pruned weight runs the sparse kernels once at least S of it is \
                    pruned, the dense GEMMs before (default 0: from its first pruning event). A rule of the masks alone: \
                    the bits stay the same on every machine. Where CSR overtakes the GEMMs depends on the sizes and the \
                    CPU: about 0.8 at 1024 hidden units on AVX-512 (BENCHMARKS.md).
                    """),
            O.value(
                "device", \.device, key: "device", "NAME",
                help: """
                    Where the steps run: cpu (default) or cuda (an NVIDIA GPU; the products are dense there, and learned \
                    positions, the group envelope and neuron elimination run their host part with copies each step or \
                    event). A run resumes on either.
                    """)
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
