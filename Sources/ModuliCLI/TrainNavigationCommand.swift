// `moduli train navigation`: path integration with place cells (PAPER.md section 4) on the shared trainer.
import ArgumentParser
import Experiments

extension NavigationPreset: ExpressibleByArgument {}

struct TrainNavigationCommand: TaskCommand {
    typealias Task = NavigationTask
    static let configuration = CommandConfiguration(
        commandName: "navigation",
        abstract: "Path integration: velocities in, place-cell codes out; ReLU RNN, AdamW, pruning to 90%.",
        discussion: """
            --preset paper (the default) is the paper's protocol: Ng 4096, Np 512, s 0.12 m, batch 200, length 50, \
            AdamW lr 1e-4, weight decay 0.01, lambda 0.1, 30 epochs of 1000 steps, pruning to 90%. \
            --preset small runs on one CPU core in a few minutes: Ng 256, s 0.2 m, batch 50, length 20, lr 3e-3, \
            30 epochs of 150 steps. Any option given overrides the preset.
            """)

    @OptionGroup var output: RunOptions
    @OptionGroup(visibility: .hidden) var configFile: ConfigFileOption
    @Option(help: "Starting point: paper (default) or small.") var preset: NavigationPreset?
    @Option(name: .customLong("place-cells"), help: "Place cells Np (paper 512).") var placeCells: Int?
    @Option(help: "Hidden units Ng (paper 4096).") var hidden: Int?
    @Option(help: "Place-cell width s in metres (paper 0.12).") var width: Double?
    @Option(name: .customLong("batch-size"), help: "Trajectories per batch (paper 200).") var batchSize: Int?
    @Option(help: "Steps per trajectory (paper 50).") var length: Int?
    @Option(name: .customLong("place-cell-seed"), help: "Seed of the place-cell centres.") var placeCellSeed: UInt64?
    @Option(name: .customLong("evaluation-seed"), help: "Seed of the evaluation trajectories.") var evaluationSeed: UInt64?
    @Option(name: .customLong("evaluation-batches"), help: "Evaluation batches per length (paper 5).") var evaluationBatches: Int?
    @Option(name: .customLong("evaluation-batch-size"), help: "Trajectories per evaluation batch (paper 200).") var evaluationBatchSize: Int?
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Moduli regularizer and pruning") var method: MethodOptions

    var given: [String] {
        [("--preset", preset != nil), ("--place-cells", placeCells != nil), ("--hidden", hidden != nil), ("--width", width != nil),
         ("--batch-size", batchSize != nil), ("--length", length != nil), ("--place-cell-seed", placeCellSeed != nil),
         ("--evaluation-seed", evaluationSeed != nil), ("--evaluation-batches", evaluationBatches != nil),
         ("--evaluation-batch-size", evaluationBatchSize != nil)].filter(\.1).map(\.0) + training.given + method.given
    }

    func config() throws -> NavigationConfig {
        var c = (preset ?? .paper).config
        if let placeCells { c.placeCells = placeCells }
        if let hidden { c.hiddenSize = hidden }
        if let width { c.width = width }
        if let batchSize { c.batchSize = batchSize }
        if let length { c.length = length }
        if let placeCellSeed { c.placeCellSeed = placeCellSeed }
        if let evaluationSeed { c.evaluationSeed = evaluationSeed }
        if let evaluationBatches { c.evaluationBatches = evaluationBatches }
        if let evaluationBatchSize { c.evaluationBatchSize = evaluationBatchSize }
        training.apply(to: &c.training)
        try method.apply(to: &c.training, lambdaDefault: NavigationTask.defaultLambda)
        return c
    }
}
