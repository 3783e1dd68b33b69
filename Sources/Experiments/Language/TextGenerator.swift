// Sampling text from a trained language model, as `generate.py` of PyTorch's word_language_model
// example does: one word at a time, each drawn from softmax(logits / temperature).
import Foundation
import Linalg
import NN

/// A finished language-model run ready to sample from.
public struct TextGenerator {
    /// The run's model and corpus.
    public let trained: TrainedModel<LanguageTask>

    /// Reads the run at `path` (or its model file `modelFile`), with the recurrent products on the
    /// kept weights only when `sparse` names a format.
    public init(runAt path: String, modelFile: String? = nil, sparse: SparseWeightProduct.Format? = nil) throws {
        let trained = try TrainedModel<LanguageTask>(runAt: path, modelFile: modelFile)
        if let sparse { trained.useSparseProducts(format: sparse) }
        self.trained = trained
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
        let model = trained.model
        var state = model.rnn.zeroState(batch: 1, as: Float.self)
        var probabilities = [Double](repeating: 0, count: vocabulary.count)
        for _ in 0..<words {
            var next = 0
            for (k, input) in inputs.enumerated() {
                let last = k == inputs.count - 1
                next = model.logits(inputs: [input], batch: 1, state: &state, trained.store) { logits in
                    guard last else { return 0 }
                    return Self.sample(logits, temperature: temperature, probabilities: &probabilities, rng: &rng)
                }
            }
            emit(vocabulary.word(Int32(next)))
            inputs = [next]
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
