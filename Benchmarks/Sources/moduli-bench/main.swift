// moduli-bench: milliseconds per training step of the adding and navigation-shaped workloads, with
// the PyTorch peer measured in the same run, and the machine's sgemm peak. See ../BENCHMARKS.md.
//
//   swift run -c release moduli-bench [--threads 1,2] [--workloads adding,nav256,nav1024]
//                                     [--pytorch /opt/torchenv/bin/python] [--reps N] [--peak-size N]
import Foundation
import Linalg

/// Command-line options.
struct Options {
    var threads = [1, 2]
    var workloads = ["adding", "nav256", "nav1024"]
    var python: String? = ProcessInfo.processInfo.environment["MODULI_BENCH_PYTHON"]
    var repetitions: Int? = nil
    var peakSize = 2048
    var measurePeak = true
    var rounds = 2

    init(_ arguments: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < arguments.count else { fatalError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": threads = value().split(separator: ",").map { Int($0)! }
            case "--workloads": workloads = value().split(separator: ",").map(String.init)
            case "--pytorch": python = value()
            case "--no-pytorch": python = nil
            case "--reps": repetitions = Int(value())!
            case "--peak-size": peakSize = Int(value())!
            case "--no-peak": measurePeak = false
            case "--rounds": rounds = max(1, Int(value())!)
            case "-h", "--help":
                print(
                    """
                    usage: moduli-bench [--threads 1,2] [--workloads adding,nav256,nav1024] [--pytorch PYTHON | --no-pytorch]
                                        [--reps N] [--rounds N] [--peak-size N | --no-peak]
                    Each round times ours, then PyTorch; the table keeps each side's lowest median over the rounds.
                    The PyTorch peer runs when --pytorch (or MODULI_BENCH_PYTHON) names a Python with torch.
                    """)
                exit(0)
            default: fatalError("unknown option \(arguments[i]); see --help")
            }
            i += 1
        }
    }
}

/// Warm-up calls and timed repetitions per workload.
func schedule(_ name: String, _ options: Options) -> (warmup: Int, repetitions: Int) {
    let (w, r): (Int, Int)
    switch name {
    case "adding": (w, r) = (20, 50)
    case "nav256": (w, r) = (2, 7)
    case "peak": (w, r) = (2, 7)
    default: (w, r) = (1, 5)
    }
    return (w, options.repetitions ?? r)
}

func makeWorkload(_ name: String, _ options: Options) -> any Workload {
    switch name {
    case "adding": return AddingWorkload()
    case "peak": return PeakWorkload(size: options.peakSize)
    case let n where n.hasPrefix("nav"):
        guard let h = Int(n.dropFirst(3)) else { fatalError("unknown workload \(n)") }
        return NavigationWorkload(hiddenSize: h)
    default: fatalError("unknown workload \(name)")
    }
}

/// Writes a line to standard output at once (unbuffered, so that progress shows when piped).
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func readFile(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

func machineDescription() -> String {
    let model =
        readFile("/proc/cpuinfo").split(separator: "\n")
        .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
}

func loadAverage() -> String { readFile("/proc/loadavg").split(separator: " ").prefix(3).joined(separator: " ") }

func f(_ x: Double, _ digits: Int = 2) -> String { x.isNaN ? "-" : String(format: "%.\(digits)f", x) }

let options = Options(Array(CommandLine.arguments.dropFirst()))
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
let peer = options.python.map { PyTorchPeer(python: $0, script: repositoryRoot.appendingPathComponent("Tools/bench_pytorch.py").path) }

emit("moduli-bench: \(machineDescription()); load average at start \(loadAverage())")
emit(
    "ms per call: median (fastest) of the timed calls after warm-up, best median of \(options.rounds) alternating round(s); "
        + "ratio = PyTorch / ours (> 1: ours faster)")
var torchVersion: String? = nil
var lines: [String] = []
for threads in options.threads {
    BLASThreads.set(threads)
    // The peak first, so that the navigation rows can be put against it.
    let ps = schedule("peak", options)
    let peakFlops = 2 * pow(Double(options.peakSize), 3)
    var oursPeak = Double.nan
    if options.measurePeak {
        var peak = makeWorkload("peak", options)
        oursPeak = peakFlops / (Timing.measure(warmup: ps.warmup, repetitions: ps.repetitions) { peak.step() }.median * 1e-3) / 1e9
    }
    let torchPeakResult =
        options.measurePeak
        ? peer?.run(workload: "peak", threads: threads, warmup: ps.warmup, repetitions: ps.repetitions, peakSize: options.peakSize) : nil
    let torchPeak = torchPeakResult.map { peakFlops / ($0.median_ms * 1e-3) / 1e9 } ?? .nan
    let machinePeak = [oursPeak, torchPeak].filter { !$0.isNaN }.max() ?? .nan
    torchVersion = torchPeakResult?.torch ?? torchVersion
    emit(
        """
        \n\(threads) thread(s), load average \(loadAverage()): sgemm peak \(options.peakSize)^3: OpenBLAS \(f(oursPeak, 1)) GFLOP/s, \
        torch.mm \(f(torchPeak, 1)) GFLOP/s
        """
    )
    emit("| workload | threads | ours ms | PyTorch ms | ratio | GFLOP/step | ours GFLOP/s (% peak) | PyTorch GFLOP/s (% peak) |")
    emit("|---|---|---|---|---|---|---|---|")
    for name in options.workloads {
        var workload = makeWorkload(name, options)
        let s = schedule(name, options)
        // Alternate ours and PyTorch so that both see the same background load; keep each side's best round.
        var best: Timing? = nil
        var theirs: PeerResult? = nil
        for _ in 0..<options.rounds {
            let mine = Timing.measure(warmup: s.warmup, repetitions: s.repetitions) { workload.step() }
            if best.map({ mine.median < $0.median }) ?? true { best = mine }
            if let peerResult = peer?.run(
                workload: name, threads: threads, warmup: s.warmup, repetitions: s.repetitions,
                peakSize: options.peakSize),
                theirs.map({ peerResult.median_ms < $0.median_ms }) ?? true
            {
                theirs = peerResult
            }
        }
        let torchMs = theirs?.median_ms ?? .nan
        let ours = best!
        var flopColumns = "- | - | -"
        if let flops = workload.flops {
            let oursRate = flops / (ours.median * 1e-3) / 1e9, torchRate = flops / (torchMs * 1e-3) / 1e9
            flopColumns =
                "\(f(flops / 1e9, 2)) | \(f(oursRate, 1)) (\(f(100 * oursRate / machinePeak, 0))%) | "
                + "\(f(torchRate, 1)) (\(f(100 * torchRate / machinePeak, 0))%)"
        }
        let line =
            "| \(name) | \(threads) | \(f(ours.median)) (\(f(ours.minimum))) | "
            + "\(f(torchMs)) (\(f(theirs?.min_ms ?? .nan))) | \(f(torchMs / ours.median)) | \(flopColumns) |"
        emit(line)
    }
}
emit("\nload average at end \(loadAverage())" + (torchVersion.map { "; PyTorch \($0)" } ?? "; PyTorch not run (pass --pytorch PYTHON)"))
