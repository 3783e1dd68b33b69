// The parameters of a Vietoris-Rips persistence computation: top dimension, coefficient field
// Z/p and an optional distance threshold (as in Bauer's Ripser, J. Appl. Comput. Topol. 2021).

/// What `VietorisRips.diagrams` computes: diagrams for dimensions `0...maxDimension`, with
/// coefficients in Z/`prime`, over the simplices of diameter `<= threshold`.
public struct RipsOptions: Sendable {
    /// The largest homology dimension computed, `0...3` (default 1).
    public var maxDimension: Int
    /// The coefficient field Z/p: a prime in `2...65521` (default 2; 65521 is the largest prime
    /// below 2^16).
    public var prime: Int
    /// Only simplices of diameter `<= threshold` enter the filtration; classes still alive there
    /// have death nil. nil (default): no threshold.
    public var threshold: Double?

    /// The largest coefficient prime accepted, 65521 (the largest prime below 2^16).
    public static let largestPrime = 65521
    /// The largest `maxDimension` accepted.
    public static let largestDimension = 3

    /// Options for dimensions `0...maxDimension`, Z/`prime` coefficients and an optional threshold.
    public init(maxDimension: Int = 1, prime: Int = 2, threshold: Double? = nil) {
        self.maxDimension = maxDimension
        self.prime = prime
        self.threshold = threshold
    }

    /// Throws a `TopologyError` naming the first invalid option.
    func validate() throws {
        guard (0...RipsOptions.largestDimension).contains(maxDimension) else {
            throw TopologyError(
                """
                maxDimension \(maxDimension) is out of range: Vietoris-Rips persistence is computed in dimensions 0 to \
                \(RipsOptions.largestDimension); choose a maxDimension in 0...\(RipsOptions.largestDimension)
                """
            )
        }
        guard prime >= 2, prime <= RipsOptions.largestPrime else {
            throw TopologyError(
                "coefficient prime \(prime) is out of range: choose a prime p in 2...\(RipsOptions.largestPrime) for Z/p coefficients")
        }
        guard RipsOptions.isPrime(prime) else {
            throw TopologyError(
                "coefficients Z/\(prime) are not a field: \(prime) is not prime; choose a prime such as 2, 3, 5 or 7")
        }
        if let t = threshold {
            guard !t.isNaN, t >= 0 else {
                throw TopologyError(
                    "threshold \(t) is not a non-negative distance: give a threshold >= 0, or none to use every simplex")
            }
        }
    }

    /// Whether `p` is prime, by trial division (p is at most `largestPrime`).
    public static func isPrime(_ p: Int) -> Bool {
        if p < 2 { return false }
        var q = 2
        while q * q <= p {
            if p % q == 0 { return false }
            q += 1
        }
        return true
    }
}
