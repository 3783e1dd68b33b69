// Sampling text from a trained language model, as `generate.py` of PyTorch's word_language_model
// example does: one word at a time, each drawn from softmax(logits / temperature).
import Compute
import Foundation
import Linalg
import NN

/// A finished language-model run ready to sample from.
public struct TextGenerator {
    /// The run's model and corpus.
    public let trained: TrainedModel<LanguageTask>

    /// Where the model's passes run (nil: the CPU).
    public let device: ComputeDevice?

    /// Reads the run at `path` (or its model file `modelFile`), with the recurrent products on the
    /// kept weights only when `sparse` names a format, to sample on `device` (nil: the CPU; the
    /// sparse products run on the CPU only).
    public init(
        runAt path: String, modelFile: String? = nil, sparse: SparseWeightProduct.Format? = nil, device: ComputeDevice? = nil
    ) throws {
        if sparse != nil && (device ?? .cpu) != .cpu {
            throw ExperimentError("--sparse runs the sparse kernels of the CPU: drop --sparse, or sample with --device cpu.")
        }
        try ComputeDevice.require(device)
        let trained = try TrainedModel<LanguageTask>(runAt: path, modelFile: modelFile)
        if let sparse { trained.useSparseProducts(format: sparse) }
        self.trained = trained
        self.device = device
    }

    /// The largest number of words one call samples.
    public static let maximumWords = 10_000_000

    /// Samples `words` words. The first input is `prompt` (fed word by word; every word must be in
    /// the vocabulary) or, without one, a word drawn uniformly from the vocabulary; each next word is
    /// drawn from softmax(logits / `temperature`) with a generator seeded by `seed` and becomes the
    /// next input. `emit` receives every sampled word in order.
    public func generate(
        words: Int, temperature: Double, seed: UInt64, prompt: [String] = [],
        emit: (String) -> Void
    ) throws {
        try require(words >= 1 && words <= Self.maximumWords, "--words must be between 1 and \(Self.maximumWords), got \(words).")
        try require(temperature >= 1e-3 && temperature.isFinite, "--temperature must be a number of at least 0.001, got \(temperature).")
        let vocabulary = trained.task.corpus.vocabulary
        var inputs: [Int] = []
        for word in prompt {
            guard let id = vocabulary.id(of: word) else {
                throw ExperimentError(
                    """
                    The prompt's word '\(word)' is not in the run's vocabulary of \(vocabulary.count) words \
                    (\(trained.task.corpus.source)).
                    """
                )
            }
            inputs.append(Int(id))
        }
        var rng = SeededGenerator(seed: seed)
        if inputs.isEmpty { inputs = [rng.integer(below: vocabulary.count)] }
        try withoutActuallyEscaping(emit) { emit in
            try (device ?? .cpu).run(
                Sampling(trained: trained, first: inputs, words: words, temperature: temperature, rng: rng, emit: emit))
        }
    }

    /// The sampling loop as work for a device: one word at a time through the model on the
    /// backend, its state carried on the host, the logits of the last input read back and sampled
    /// on the host.
    private struct Sampling: DeviceWork {
        let trained: TrainedModel<LanguageTask>, first: [Int], words: Int, temperature: Double
        var rng: SeededGenerator
        let emit: (String) -> Void

        func run<Backend: ComputeBackend>(deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>) throws
        where Backend.Scalar == Float {
            let model = trained.model, vocabulary = trained.task.corpus.vocabulary
            guard let count = model.stepWorkspaceCount(steps: 1, batch: 1) else {
                throw ExperimentError("The language model has a layer without a pass on the compute backend.")
            }
            let parameters = try deviceStore(trained.store).parameters, backend = parameters.backend
            var workspace = try backend.makeWorkspace(count: count)
            var state = model.rnn.zeroState(batch: 1, as: Float.self)
            var probabilities = [Double](repeating: 0, count: vocabulary.count)
            var rng = rng, inputs = first
            for _ in 0..<words {
                var next = 0
                for (k, input) in inputs.enumerated() {
                    workspace.reset()
                    let logits = try model.logits(inputs: [input], batch: 1, state: &state, on: parameters, workspace: &workspace)
                    if k == inputs.count - 1 {
                        let row = Matrix(rows: 1, columns: vocabulary.count, scalars: try backend.download(logits))
                        next = TextGenerator.sample(row, temperature: temperature, probabilities: &probabilities, rng: &rng)
                    }
                }
                emit(vocabulary.word(Int32(next)))
                inputs = [next]
            }
        }
    }

    /// Draws an index from softmax(logits / temperature) (the largest logit subtracted first).
    static func sample(
        _ logits: Matrix<Float>, temperature: Double, probabilities: inout [Double],
        rng: inout SeededGenerator
    ) -> Int {
        let c = logits.columns
        var m = -Double.infinity
        for j in 0..<c { m = max(m, Double(logits[0, j])) }
        var total = 0.0
        for j in 0..<c {
            let p = Foundation.exp((Double(logits[0, j]) - m) / temperature)
            probabilities[j] = p
            total += p
        }
        var u = rng.uniform() * total
        for j in 0..<c {
            u -= probabilities[j]
            if u < 0 { return j }
        }
        return probabilities.lastIndex(where: { $0 > 0 }) ?? c - 1
    }
}
