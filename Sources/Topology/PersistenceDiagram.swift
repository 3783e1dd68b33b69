// Persistence diagrams: the birth and death of each homology class along a filtration
// (Edelsbrunner, Letscher and Zomorodian; Zomorodian and Carlsson), as Vietoris-Rips persistence
// computes them.

/// One homology class of a filtration: born at `birth`, dead at `death` (nil: it never dies, an
/// essential class, or one still alive at the threshold).
public struct PersistencePair: Equatable, Hashable, Sendable {
    /// The filtration value (a distance) at which the class appears.
    public var birth: Double
    /// The filtration value at which it becomes a boundary (a coboundary in cohomology); nil when it
    /// never does.
    public var death: Double?

    /// A class born at `birth` and dead at `death` (nil: never).
    public init(birth: Double, death: Double?) { self.birth = birth; self.death = death }

    /// Its length, death - birth; infinite for a class that never dies.
    public var persistence: Double { death.map { $0 - birth } ?? .infinity }
}

/// The pairs of one homology dimension.
public struct PersistenceDiagram: Equatable, Sendable {
    /// The homology dimension: 0 components, 1 loops, 2 voids, ...
    public var dimension: Int
    /// The classes, in no particular order.
    public var pairs: [PersistencePair]

    /// A diagram of `dimension` holding `pairs`.
    public init(dimension: Int, pairs: [PersistencePair]) { self.dimension = dimension; self.pairs = pairs }

    /// The pairs from the longest to the shortest (never-dying first), ties by birth.
    public var byPersistence: [PersistencePair] {
        pairs.sorted { ($0.persistence, -$0.birth) > ($1.persistence, -$1.birth) }
    }
}
