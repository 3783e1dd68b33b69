// The pieces one training phase is made of: the optimizer chosen by the configuration, and the
// session that holds a phase's model, parameters, regularizer, optimizer and pruner.
import Foundation
import Formats
import Linalg
import NN
import Sparsity

/// The configured optimizer over Float parameters (concrete types, so every step runs specialized code).
enum TrainerOptimizer {
    case sgd(SGD<Float>)
    case adam(Adam<Float>)

    /// The optimizer of `config`; `exempt` tensors (learned positions) get no weight decay.
    init(_ config: OptimizerConfig, exempt: [ParameterSlot]) {
        let groups = exempt.isEmpty ? [] : [ParameterGroup(slots: exempt, weightDecay: 0)]
        switch config.kind {
        case .sgd:
            var o = SGD<Float>(
                learningRate: config.learningRate, momentum: config.momentum,
                weightDecay: config.weightDecay, nesterov: config.nesterov)
            o.parameterGroups = groups
            self = .sgd(o)
        case .adam, .adamw:
            var o =
                config.kind == .adam
                ? Adam<Float>(learningRate: config.learningRate, weightDecay: config.weightDecay)
                : Adam<Float>.adamW(learningRate: config.learningRate, weightDecay: config.weightDecay)
            o.parameterGroups = groups
            self = .adam(o)
        }
    }

    mutating func step(_ store: ParameterStore<Float>) {
        switch self {
        case .sgd(var o): o.step(store); self = .sgd(o)
        case .adam(var o): o.step(store); self = .adam(o)
        }
    }

    var learningRate: Double {
        get {
            switch self {
            case .sgd(let o): o.learningRate;
            case .adam(let o): o.learningRate
            }
        }
        set {
            switch self {
            case .sgd(var o): o.learningRate = newValue; self = .sgd(o)
            case .adam(var o): o.learningRate = newValue; self = .adam(o)
            }
        }
    }

    var state: OptimizerState {
        get {
            switch self {
            case .sgd(let o): o.state;
            case .adam(let o): o.state
            }
        }
        set {
            switch self {
            case .sgd(var o): o.state = newValue; self = .sgd(o)
            case .adam(var o): o.state = newValue; self = .adam(o)
            }
        }
    }
}

/// One phase's model, parameters, regularizer, optimizer and pruner.
struct TrainingSession<Task: TrainingTask> {
    let store: ParameterStore<Float>
    let model: Task.Model
    let roles: ParameterRoles
    var regularizer: ModuliRegularizer<Float>
    var optimizer: TrainerOptimizer
    let pruner: GradualMagnitudePruner?

    /// Builds the model and the regularizer from two independent streams.
    init(task: Task, training: TrainingConfig, weightsRNG: SeededGenerator, regularizerRNG: SeededGenerator, prune: Bool) throws {
        var w = weightsRNG, r = regularizerRNG
        store = ParameterStore<Float>()
        model = task.makeModel(in: store, rng: &w)
        roles = task.roles(of: model)
        do {
            regularizer = try ModuliRegularizer(config: training.regularizer, hiddenSize: roles.hiddenSize, in: store, rng: &r)
            try regularizer.checkWeights(roles.recurrent, in: store)
        } catch { throw ExperimentError("Cannot build the regularizer: \(error).") }
        optimizer = TrainerOptimizer(training.optimizer, exempt: regularizer.learned?.slots ?? [])
        if let t = training.pruning.tensorTargets, t.count != roles.pruned.count {
            let store = store
            let names = roles.pruned.map { store.info($0).name }.joined(separator: ", ")
            throw ExperimentError("\(optionLabel("pruning.tensorTargets")) needs \(roles.pruned.count) values (\(names)), got \(t.count).")
        }
        if prune && training.pruning.targetSparsity > 0 {
            try Self.requireKeptWeights(training.pruning, slots: roles.pruned, in: store)
        }
        pruner =
            prune && training.pruning.targetSparsity > 0
            ? GradualMagnitudePruner(
                slots: roles.pruned, schedule: training.pruningSchedule,
                tensorTargets: training.pruning.tensorTargets)
            : nil
        switch training.deviceRecurrentKernels {
        case .auto: roles.useSparseProducts(in: store)
        case .sparse: roles.useSparseProducts(in: store, denseAboveDensity: training.sparseKernelsDenseAbove)
        case .dense: break
        }
    }

    /// Refuses a pruning target that would prune every entry of the pooled tensors (global
    /// pruning) or of one tensor (`--tensor-targets`): the pruner prunes exactly
    /// `round(target x count)` entries (`GradualMagnitudePruner`), so a target within 0.5 / count
    /// of 1 leaves none. The message gives the largest target this model allows.
    static func requireKeptWeights(_ pruning: PruningConfig, slots: [ParameterSlot], in store: ParameterStore<Float>) throws {
        func prunesAll(_ target: Double, _ count: Int) -> Bool {
            count > 0 && Int((target * Double(count)).rounded(.toNearestOrAwayFromZero)) >= count
        }
        /// The largest target with a few decimals that keeps at least one of `count` entries.
        func largest(_ count: Int) -> String {
            let decimals = max(2, Int(log10(Double(max(count, 1))).rounded(.up)) + 1)
            let scale = pow(10, Double(decimals))
            var t = (Double(count - 1) / Double(count) * scale).rounded(.down) / scale
            while t > 0 && prunesAll(t, count) { t -= 1 / scale }
            return String(format: "%.\(decimals)f", t)
        }
        let names = slots.map { store.info($0).name }
        if let targets = pruning.tensorTargets {
            for (k, slot) in slots.enumerated() where k < targets.count {
                let n = store.info(slot).count
                if prunesAll(targets[k], n) {
                    throw ExperimentError(
                        """
                        \(optionLabel("pruning.tensorTargets")) value \(k + 1), \(targets[k]), prunes every one of the \(n) entries \
                        of \(names[k]): the largest target that keeps one is \(largest(n)). Lower it.
                        """
                    )
                }
            }
            return
        }
        let total = slots.reduce(0) { $0 + store.info($1).count }
        if prunesAll(pruning.targetSparsity, total) {
            throw ExperimentError(
                """
                \(optionLabel("pruning.targetSparsity")) \(pruning.targetSparsity) prunes every one of the \(total) weights of the \
                pruned tensors (\(names.joined(separator: ", "))): the largest target this model allows is \(largest(total)) (to keep \
                at least one weight). Give --target-sparsity \(largest(total)) or less.
                """
            )
        }
    }

    /// Sparsity of the pruned tensors, with W_hh alone.
    func sparsity() -> SparsityReport {
        SparsityReport(store: store, slots: roles.pruned, recurrentSlots: roles.recurrent)
    }

    /// The model's tensors without the regularizer's learned positions (what model.safetensors holds).
    func modelTensors() -> [NamedTensor] {
        let positions = Set((regularizer.learned?.slots ?? []).map { store.info($0).name })
        return store.namedValues().filter { !positions.contains($0.name) }
    }
}
