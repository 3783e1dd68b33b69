// `moduli generate`: sample text from a trained language model.
import ArgumentParser
import Experiments
import Foundation
import Linalg

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample text from a finished language-model run, dense or with sparse kernels.",
        discussion: """
            Each word is drawn from softmax(logits / temperature) and fed back as the next input; <eos> ends a line. \
            Lower temperatures give likelier, more repetitive text.
            Example: moduli generate runs/language --words 200 --temperature 0.8 --seed 1
            """)

    @Argument(help: "A finished language-model run directory (config.json and model.safetensors).") var runDirectory: String
    @Option(help: "Words to sample (default 100).") var words: Int = 100
    @Option(help: "Softmax temperature, at least 0.001 (default 1).") var temperature: Double = 1
    @Option(help: "Seed of the sampling (default 0).") var seed: UInt64 = 0
    @Option(help: "Words to start from (each must be in the run's vocabulary); default: one random word.") var prompt: String?
    @Flag(help: "Run the recurrent products on the kept weights only (sparse kernels).") var sparse = false
    @Option(help: "Sparse format with --sparse: csr (default) or block.") var format: SparseFormatName = .csr
    @Option(help: "Use this model file of the run (written by moduli export, dense or sparse) instead of its model.safetensors.")
    var model: String?
    @Option(help: "Threads of moduli's worker pool, dense products included (default: every core this process may use).")
    var threads: Int = ThreadSetup.defaultThreads
    @Option(help: "Where the model runs: cpu (default) or cuda (an NVIDIA GPU; dense products).") var device: ComputeDevice = .cpu

    func validate() throws {
        if words < 1 || words > TextGenerator.maximumWords {
            throw ValidationError("--words must be between 1 and \(TextGenerator.maximumWords).")
        }
        if !(temperature >= 1e-3) || !temperature.isFinite { throw ValidationError("--temperature must be a number of at least 0.001.") }
        if threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads).") }
        if format != .csr && !sparse { throw ValidationError("--format applies to --sparse.") }
    }

    func run() throws {
        ThreadSetup.apply(threads: threads)
        let task = try TaskRegistry.task(ofRunAt: runDirectory)
        guard task.name == LanguageTask.name else {
            throw ValidationError("\(runDirectory) is a \(task.name) run; moduli generate samples from language-model runs.")
        }
        let generator = try TextGenerator(runAt: runDirectory, modelFile: model, sparse: sparse ? format.format : nil, device: device)
        let promptWords = prompt.map { $0.split(whereSeparator: \.isWhitespace).map(String.init) } ?? []
        var line: [String] = []
        try generator.generate(words: words, temperature: temperature, seed: seed, prompt: promptWords) { word in
            if word == "<eos>" {
                print(line.joined(separator: " "))
                line = []
            } else {
                line.append(word)
            }
        }
        if !line.isEmpty { print(line.joined(separator: " ")) }
    }
}
