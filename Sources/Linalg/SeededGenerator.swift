// A seeded, platform-independent random generator: xoshiro256** seeded through SplitMix64.
// References: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021);
// Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (SplitMix64, 2014).
import RealModule

/// A deterministic random generator: the same seed gives the same numbers on every machine.
///
/// Algorithm: the 256-bit state of xoshiro256** is filled by four outputs of SplitMix64 started at
/// `seed`. Derived draws are defined exactly here, not by the standard library:
/// - `uniform()`: the top 53 bits of one output times 2^-53, in [0, 1).
/// - `normal()`: Box-Muller, `sqrt(-2 ln(1 - u1)) * cos(2 pi u2)` from two uniforms (one value per
///   call; the sine partner is discarded so that the stream never depends on call history).
/// - `rayleigh(scale:)`: `scale * sqrt(-2 ln(1 - u))`.
/// - `integer(below:)`: Lemire's multiply-and-reject method on 64-bit outputs.
/// - `shuffle(_:)`: Fisher-Yates from the last index down, with `integer(below:)`.
/// Elementary functions come from the platform's libm (glibc's are correctly rounded in practice).
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// The seed this generator started from.
    public let seed: UInt64

    /// A generator started at `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// An independent generator for a named purpose, derived from this one's seed (not its state).
    public func derived(_ stream: UInt64) -> SeededGenerator {
        SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ stream &* 0xD1B5_4A32_D192_ED03 &+ 1)
    }

    /// The next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @usableFromInline func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    @inlinable public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [low, high).
    @inlinable public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// Normal with the given mean and standard deviation (Box-Muller).
    public mutating func normal(mean: Double = 0, std: Double = 1) -> Double {
        let u1 = uniform(), u2 = uniform()
        let r = (-2 * Double.log(onePlus: -u1)).squareRoot()
        return mean + std * r * Double.cos(2 * Double.pi * u2)
    }

    /// Rayleigh with the given scale (mode): density x/s^2 exp(-x^2 / (2 s^2)).
    public mutating func rayleigh(scale: Double) -> Double {
        scale * (-2 * Double.log(onePlus: -uniform())).squareRoot()
    }

    /// Uniform integer in 0..<bound (Lemire's method).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "integer(below:) needs a positive bound")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Shuffles in place (Fisher-Yates, last index first).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, integer(below: i + 1))
        }
    }

    /// A random permutation of 0..<count.
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        shuffle(&p)
        return p
    }

    /// A matrix of uniform draws in [low, high).
    public mutating func uniformMatrix<Scalar: BLASScalar>(
        rows: Int, columns: Int, low: Double, high: Double,
        as: Scalar.Type = Scalar.self
    ) -> Matrix<Scalar> {
        Matrix(rows: rows, columns: columns, scalars: (0..<(rows * columns)).map { _ in Scalar(uniform(low, high)) })
    }

    /// A matrix of normal draws.
    public mutating func normalMatrix<Scalar: BLASScalar>(
        rows: Int, columns: Int, mean: Double = 0, std: Double = 1,
        as: Scalar.Type = Scalar.self
    ) -> Matrix<Scalar> {
        Matrix(rows: rows, columns: columns, scalars: (0..<(rows * columns)).map { _ in Scalar(normal(mean: mean, std: std)) })
    }
}
