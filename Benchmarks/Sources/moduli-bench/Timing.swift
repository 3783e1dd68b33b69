// Plain wall-clock timing for the benchmarks: warm-up calls, then the median of N timed calls.

/// Per-call wall-clock times of one benchmarked operation, in milliseconds.
struct Timing: Sendable {
    /// Every timed call, in the order run.
    var samples: [Double]

    /// The median call.
    var median: Double {
        let s = samples.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The fastest call.
    var minimum: Double { samples.min() ?? .nan }

    /// Runs `body` `warmup` times untimed, then `repetitions` times, each timed with ContinuousClock.
    static func measure(warmup: Int, repetitions: Int, _ body: () -> Void) -> Timing {
        for _ in 0..<warmup { body() }
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(repetitions)
        for _ in 0..<repetitions {
            let elapsed = clock.measure(body)
            samples.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
        }
        return Timing(samples: samples)
    }
}
