// NeuronEmbedding: distance matrices against the pairwise loop, rows-versus-columns distances
// (changeembed), the backward pass against finite differences, and projection.
// Reference: docs/method.md sections 2, 2.2 (changeembed), 2.3 (learned geometry).
import Foundation
import Testing
import Geometry
import Linalg
import _TestSupport

@Suite struct NeuronEmbeddingTests {
    @Test(arguments: ModuliSpaces.names)
    func distanceMatrixEqualsThePairwiseLoop(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 601
        var rng = SeededGenerator(seed: seed)
        let n = 150  // several 32-wide tiles of the mirroring
        let e = NeuronEmbedding.sample(space: space, count: n, rng: &rng)
        let d = e.distanceMatrix()
        let points = (0..<n).map { e.position($0) }
        let loop = Matrix<Double>(rows: n, columns: n) { i, j in space.distance(points[i], points[j]) }
        #expect(d == loop, "\(name) seed \(seed): distanceMatrix differs from the loop by \(d.maxAbsDifference(loop))")
        #expect(d == d.transposed(), "\(name) seed \(seed): distanceMatrix not symmetric")
        #expect((0..<n).allSatisfy { d[$0, $0] == 0 }, "\(name) seed \(seed): nonzero diagonal")
    }

    @Test(arguments: ModuliSpaces.names)
    func distancesToAnotherEmbeddingEqualThePairwiseLoop(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 602
        var rng = SeededGenerator(seed: seed)
        let rows = NeuronEmbedding.sample(space: space, count: 37, rng: &rng)
        let columns = NeuronEmbedding.sample(space: space, count: 23, rng: &rng)
        let d = rows.distances(to: columns)
        let loop = Matrix<Double>(rows: 37, columns: 23) { i, j in space.distance(rows.position(i), columns.position(j)) }
        #expect(d == loop, "\(name) seed \(seed): distances(to:) differs from the loop")
        // Against itself it is the distance matrix.
        #expect(rows.distances(to: rows) == rows.distanceMatrix(), "\(name) seed \(seed): distances(to: self) != distanceMatrix()")
    }

    @Test func emptyAndSingletonEmbeddings() throws {
        let space = try ModuliSpaces.named("torus")
        var rng = SeededGenerator(seed: 603)
        let empty = NeuronEmbedding.sample(space: space, count: 0, rng: &rng)
        let one = NeuronEmbedding.sample(space: space, count: 1, rng: &rng)
        #expect(empty.distanceMatrix().count == 0)
        #expect(one.distanceMatrix() == Matrix(rows: 1, columns: 1, scalars: [0]))
        #expect(one.distances(to: empty).rows == 1 && one.distances(to: empty).columns == 0)
    }

    /// loss = sum(G * D(x)) with fixed random G: the backward pass against central differences.
    @Test(arguments: ModuliSpaces.names)
    func distanceMatrixBackwardMatchesFiniteDifferences(name: String) throws {
        let space = try ModuliSpaces.named(name)
        let seed: UInt64 = 604
        var rng = SeededGenerator(seed: seed)
        let n = 6
        let e = NeuronEmbedding.sample(space: space, count: n, rng: &rng)
        let g = rng.lossWeights(rows: n, columns: n)  // not symmetric: both G_ij and G_ji must count
        var dPositions = Matrix<Double>(rows: n, columns: space.coordinateCount)
        e.distanceMatrixBackward(g, into: &dPositions)
        let numeric = GradientCheck.numericalGradient(of: e.positions) { positions in
            let d = NeuronEmbedding(space: space, positions: positions).distanceMatrix()
            return zip(d.scalars, g.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let error = GradientCheck.maxRelativeError(dPositions.scalars, numeric)
        #expect(error <= 1e-6, "\(name) seed \(seed): backward differs from finite differences by \(error)")
        // Backward adds into what is there.
        var twice = dPositions
        e.distanceMatrixBackward(g, into: &twice)
        #expect(
            twice.maxAbsDifference(Matrix(rows: n, columns: space.coordinateCount, scalars: dPositions.scalars.map { 2 * $0 })) <= 1e-12)
    }

    @Test func backwardHasNoNaNWithCoincidentAndAntipodalNeurons() throws {
        for name in ModuliSpaces.names {
            let space = try ModuliSpaces.named(name)
            var rng = SeededGenerator(seed: 605)
            let x = space.samplePoint(rng: &rng)
            var rows = [x, x, space.samplePoint(rng: &rng)]
            if space is Sphere || space is Circle { rows.append(x.map { -$0 }) }
            let e = NeuronEmbedding(space: space, positions: Matrix(rows: rows.count, columns: x.count, scalars: rows.flatMap { $0 }))
            var dPositions = Matrix<Double>(rows: rows.count, columns: x.count)
            e.distanceMatrixBackward(Matrix(rows: rows.count, columns: rows.count, repeating: 1), into: &dPositions)
            #expect(dPositions.scalars.allSatisfy { $0.isFinite }, "\(name) seed 605: NaN in the backward pass")
            #expect(e.distanceMatrix().scalars.allSatisfy { $0.isFinite })
        }
    }

    @Test func projectPutsPerturbedPositionsBackOnTheSpace() throws {
        let seed: UInt64 = 606
        var rng = SeededGenerator(seed: seed)
        for name in ["torus", "klein", "sphere", "s3", "mixedcurv"] {
            let space = try ModuliSpaces.named(name)
            var e = NeuronEmbedding.sample(space: space, count: 50, rng: &rng)
            for i in e.positions.scalars.indices { e.positions.scalars[i] += rng.normal(std: 3) }
            e.project()
            #expect(e.positions.scalars.allSatisfy { $0.isFinite })
            for i in 0..<e.count {
                let p = e.position(i)
                let onSpace: Bool
                switch name {
                case "torus", "klein": onSpace = p.allSatisfy { $0 >= 0 && $0 < 10 }
                case "mixedcurv": onSpace = abs(norm(Array(p[0..<3])) - 1) <= 4e-16 && p[3...].allSatisfy { $0 >= 0 && $0 < 10 }
                default: onSpace = abs(norm(p) - 1) <= 4e-16
                }
                #expect(onSpace, "\(name) seed \(seed) neuron \(i): \(p) not on the space after project()")
            }
        }
    }

    /// N = 4096 distance matrices, timed (run with MODULI_LONG_TESTS=1, ideally in release).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MODULI_LONG_TESTS"] == "1"))
    func distanceMatrixForFourThousandNeurons() throws {
        let n = 4096
        for name in ModuliSpaces.names {
            let space = try ModuliSpaces.named(name)
            var rng = SeededGenerator(seed: 607)
            let e = NeuronEmbedding.sample(space: space, count: n, rng: &rng)
            let clock = ContinuousClock()
            var d = Matrix<Double>(rows: 0, columns: 0)
            let elapsed = clock.measure { d = e.distanceMatrix() }
            print("distanceMatrix \(name) N=\(n): \(elapsed)")
            #expect(d.rows == n && (0..<n).allSatisfy { d[$0, $0] == 0 })
            // Spot-check rows against the pairwise distance.
            for i in stride(from: 0, to: n, by: 997) {
                for j in stride(from: 0, to: n, by: 331) {
                    #expect(d[i, j] == space.distance(e.position(i), e.position(j)))
                }
            }
        }
    }
}
