// NeuronOrdering: every order is a permutation, deterministic, and puts manifold neighbours next to
// each other in index (far below a random order's mean neighbour distance).
import Testing
import Geometry
import Linalg

@Suite struct NeuronOrderingTests {
    /// Mean distance on the space between neurons k and k + 1 of `order`.
    static func meanStep(_ e: NeuronEmbedding, _ order: [Int]) -> Double {
        guard order.count > 1 else { return 0 }
        let total = (1..<order.count).reduce(0.0) { $0 + e.space.distance(e.position(order[$1 - 1]), e.position(order[$1])) }
        return total / Double(order.count - 1)
    }

    @Test(arguments: ModuliSpaces.names)
    func orderIsAPermutationThatFollowsTheSpace(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 710
        var rng = SeededGenerator(seed: seed)
        let n = 300
        let e = NeuronEmbedding.sample(space: space, count: n, rng: &rng)
        let order = NeuronOrdering.order(e)
        #expect(order.sorted() == Array(0..<n), "\(name): not a permutation")
        #expect(NeuronOrdering.order(e) == order, "\(name): not deterministic")
        #expect(NeuronOrdering.inverse(order).enumerated().allSatisfy { order[$0.element] == $0.offset })
        var shuffled = Array(0..<n)
        shuffled.shuffle(using: &rng)
        let ordered = Self.meanStep(e, order), random = Self.meanStep(e, shuffled)
        // Hilbert and chains on 2-D spaces: about 0.1 of random at N = 300; higher-dimensional spaces less.
        let bound = space.coordinateCount <= 3 ? 0.35 : 0.8
        #expect(ordered < bound * random, "\(name) seed \(seed): mean neighbour distance \(ordered), random order \(random)")
    }

    @Test func torusOrderIsHilbertAndLocal() {
        var rng = SeededGenerator(seed: 711)
        let e = NeuronEmbedding.sample(space: FlatTorus(dimension: 2), count: 1024, rng: &rng)
        #expect(NeuronOrdering.method(for: e.space) == .hilbert)
        let order = NeuronOrdering.order(e)
        #expect(order.sorted() == Array(0..<1024))
        var shuffled = Array(0..<1024)
        shuffled.shuffle(using: &rng)
        let ordered = Self.meanStep(e, order), random = Self.meanStep(e, shuffled)
        #expect(ordered < 0.15 * random, "torus: mean neighbour distance \(ordered), random order \(random)")
    }

    /// The first cells of the order-1 and order-2 curves, and a bijection on a 16 x 16 grid whose
    /// consecutive cells are grid neighbours.
    @Test func hilbertIndexIsTheCurve() {
        #expect([(0, 0), (0, 1), (1, 1), (1, 0)].map { NeuronOrdering.hilbertIndex(x: $0.0, y: $0.1, bits: 1) } == [0, 1, 2, 3])
        var cells = [(Int, Int)?](repeating: nil, count: 256)
        for x in 0..<16 { for y in 0..<16 { cells[NeuronOrdering.hilbertIndex(x: x, y: y, bits: 4)] = (x, y) } }
        let path = cells.compactMap { $0 }
        #expect(path.count == 256)
        #expect((1..<256).allSatisfy { abs(path[$0].0 - path[$0 - 1].0) + abs(path[$0].1 - path[$0 - 1].1) == 1 })
    }

    /// Renumbering a gated W_hh permutes rows within every gate block and the columns alike.
    @Test func permutedRenumbersEveryGateBlock() {
        let m = Matrix<Double>(rows: 6, columns: 3) { r, c in Double(10 * r + c) }
        let p = NeuronOrdering.permuted(m, by: [2, 0, 1])
        #expect(p[0, 0] == m[2, 2] && p[1, 2] == m[0, 1] && p[3, 1] == m[5, 0] && p[5, 2] == m[4, 1])
    }
}
