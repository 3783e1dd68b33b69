// recurrent-bench: milliseconds per forward + backward pass of a RecurrentNetwork for every cell
// kind, and a hash of the results' bits (equal hashes: bit-identical arithmetic). Uses only NN's
// public API, so the same source builds against an older tree for before/after comparisons.
//
//   swift run -c release recurrent-bench [--workloads rnn32,rnn200,lstm32,gru32] [--reps N] [--rounds N]
import Foundation
import Linalg
import NN

/// One workload: a one-layer network of `kind`, I 32, H 128, T 50, batch `batch`.
struct Workload {
    let name: String
    let kind: CellKind
    let batch: Int
    let store = ParameterStore<Float>()
    let net: RecurrentNetwork
    let input: Matrix<Float>
    let dOutput: Matrix<Float>

    init(name: String, kind: CellKind, batch: Int, hiddenSize: Int = 128, inputSize: Int = 32, steps: Int = 50) {
        self.name = name; self.kind = kind; self.batch = batch
        var rng = SeededGenerator(seed: 0)
        net = RecurrentNetwork(kind: kind, inputSize: inputSize, hiddenSize: hiddenSize, in: store, rng: &rng)
        input = rng.normalMatrix(rows: steps * batch, columns: inputSize)
        dOutput = rng.normalMatrix(rows: steps * batch, columns: hiddenSize, std: 0.01)
    }

    /// Zero gradients, forward, backward with a gradient on every output; returns the top output.
    func step() -> Matrix<Float> {
        store.zeroGradients()
        let caches = net.forward(input, batch: batch, store)
        _ = net.backward(caches, dOutput: dOutput, store, needInputGradient: true)
        return caches.last!.output
    }

    /// FNV-1a over the bits of one step's output and every gradient.
    func resultHash() -> String {
        var h: UInt64 = 0xcbf29ce484222325
        func mix(_ x: Float) { h = (h ^ UInt64(x.bitPattern)) &* 0x100000001b3 }
        step().scalars.forEach(mix)
        for slot in store.slots { store.gradientMatrix(slot).scalars.forEach(mix) }
        return String(h, radix: 16)
    }
}

/// `rnn<B>` (Elman ReLU), `lstm<B>` or `gru<B>`.
func makeWorkload(_ name: String) -> Workload {
    let kinds: [(String, CellKind)] = [("rnn", .rnnReLU), ("lstm", .lstm), ("gru", .gru)]
    for (prefix, kind) in kinds where name.hasPrefix(prefix) {
        if let batch = Int(name.dropFirst(prefix.count)) { return Workload(name: name, kind: kind, batch: batch) }
    }
    fatalError("unknown workload \(name): use rnn<B>, lstm<B> or gru<B>")
}

var workloads = ["rnn32", "rnn200", "lstm32", "gru32"]
var repetitions = 20, rounds = 3
var arguments = Array(CommandLine.arguments.dropFirst())
while !arguments.isEmpty {
    let option = arguments.removeFirst()
    guard option == "-h" || option == "--help" || !arguments.isEmpty else { fatalError("\(option) needs a value") }
    switch option {
    case "--workloads": workloads = arguments.removeFirst().split(separator: ",").map(String.init)
    case "--reps": repetitions = Int(arguments.removeFirst())!
    case "--rounds": rounds = max(1, Int(arguments.removeFirst())!)
    case "-h", "--help":
        print(
            "usage: recurrent-bench [--workloads rnn32,rnn200,lstm32,gru32] [--reps N] [--rounds N]\n"
                + "Workload <kind><B>: one layer, I 32, H 128, T 50, batch B; one call = zero gradients, forward, backward.\n"
                + "Prints the median ms of N calls per round, the lowest median over the rounds, and a hash of the results' bits.")
        exit(0)
    default: fatalError("unknown option \(option); see --help")
    }
}

BLASThreads.set(1)
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("recurrent-bench: 1 BLAS thread, \(repetitions) calls per round, \(rounds) rounds; load average \(load)")
print("| workload | median ms per round | best median ms | result hash |")
print("|---|---|---|---|")
let clock = ContinuousClock()
for name in workloads {
    let w = makeWorkload(name)
    let hash = w.resultHash()
    for _ in 0..<2 { _ = w.step() }
    var medians: [Double] = []
    for _ in 0..<rounds {
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let d = clock.measure { _ = w.step() }
            samples.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
        }
        samples.sort()
        medians.append(samples[samples.count / 2])
    }
    print(
        "| \(name) | \(medians.map { String(format: "%.2f", $0) }.joined(separator: ", ")) | "
            + "\(String(format: "%.2f", medians.min()!)) | \(hash) |")
}
