// Landmarks by max-min sampling and PCA projection, against simple oracles: brute-force covering
// radii, and clouds on known planes and axes.
import Foundation
import Testing
import Topology

@Suite struct LandmarkTests {
    /// Deterministic points in [0, 1)^d.
    static func cloud(_ n: Int, dimension d: Int, seed: UInt64) -> [[Double]] {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<n).map { _ in (0..<d).map { _ in next() } }
    }

    @Test func coveringRadiiAreNonIncreasingAndCoverEveryPoint() throws {
        let points = Self.cloud(300, dimension: 3, seed: 7)
        let s = try Landmarks.maxMin(points, count: 40)
        #expect(s.indices.count == 40 && Set(s.indices).count == 40 && s.indices[0] == 0)
        #expect(zip(s.coveringRadii, s.coveringRadii.dropFirst()).allSatisfy { $0 >= $1 })
        // Brute force: the covering radius of every prefix, and each next landmark is at that distance.
        for k in 0..<s.indices.count {
            let prefix = s.indices[0...k]
            let radius = points.map { p in prefix.map { PointCloud.euclidean(p, points[$0]) }.min()! }.max()!
            #expect(abs(radius - s.coveringRadii[k]) < 1e-12)
            if k + 1 < s.indices.count {
                let next = points[s.indices[k + 1]]
                #expect(abs(prefix.map { PointCloud.euclidean(next, points[$0]) }.min()! - radius) < 1e-12)
            }
        }
    }

    @Test func deterministicStartAndTies() throws {
        // Four corners of a square and its centre. From corner 0 the opposite corner is farthest,
        // then corners 1 and 3 tie: the smallest index wins. From the centre every step ties.
        let points: [[Double]] = [[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]
        #expect(try Landmarks.maxMin(points, count: 3).indices == [0, 2, 1])
        let s = try Landmarks.maxMin(points, count: 3, start: 4)
        #expect(s.indices == [4, 0, 1])
        #expect(try Landmarks.maxMin(points, count: 3, start: 4) == s)
        // All points (and more) asked for: every point once, radius 0.
        let all = try Landmarks.maxMin(points, count: 10)
        #expect(all.indices.sorted() == [0, 1, 2, 3, 4] && all.coveringRadius == 0)
    }

    @Test func duplicatePointsEndCovered() throws {
        let points: [[Double]] = [[0], [0], [1], [1], [1]]
        let s = try Landmarks.maxMin(points, count: 4)
        #expect(s.indices == [0, 2, 1, 3])
        #expect(s.coveringRadii == [1, 0, 0, 0])
    }

    @Test func aGivenMetric() throws {
        // Points on a circle of 12 positions, the circular distance: four landmarks 3 apart.
        let s = try Landmarks.maxMin(count: 4, of: 12) { i, j in Double(min(abs(i - j), 12 - abs(i - j))) }
        #expect(s.indices == [0, 6, 3, 9] && s.coveringRadii == [6, 3, 3, 1])
    }

    @Test(arguments: [
        ([[Double]](), 1, "empty"), ([[0.0], [1, 2]], 1, "coordinates"), ([[0.0], [.nan]], 1, "finite"),
        ([[0.0], [.infinity]], 1, "finite"), ([[0.0]], 0, "at least 1"), ([[Double]]([[]]), 1, "no coordinates")
    ])
    func badCloudsAreErrors(points: [[Double]], count: Int, mentions: String) {
        #expect { _ = try Landmarks.maxMin(points, count: count) } throws: {
            ($0 as? TopologyError)?.description.contains(mentions) == true
        }
    }

    @Test func badMetricsAreErrors() {
        #expect(throws: TopologyError.self) { _ = try Landmarks.maxMin(count: 2, of: 3) { _, _ in -1 } }
        #expect(throws: TopologyError.self) { _ = try Landmarks.maxMin(count: 2, of: 3) { _, _ in .nan } }
        #expect(throws: TopologyError.self) { _ = try Landmarks.maxMin(count: 2, of: 3, start: 3) { _, _ in 1 } }
    }
}

@Suite struct PrincipalComponentTests {
    /// An orthonormal 5 x 5 basis (Householder reflection of the identity along a fixed vector).
    static let basis: [[Double]] = {
        let v = [1.0, -2, 0.5, 3, -1]
        let norm2 = v.reduce(0) { $0 + $1 * $1 }
        return (0..<5).map { i in (0..<5).map { j in (i == j ? 1 : 0) - 2 * v[i] * v[j] / norm2 } }
    }()

    @Test func aCloudOnAPlaneInR5ProjectsIsometrically() throws {
        // Points a u + b w + offset, with u, w orthonormal: pairwise distances survive a projection to 2.
        let (u, w) = (Self.basis[1], Self.basis[3])
        // A 6 x 10 grid (no covariance between the two directions), stretched 3 times along u.
        let grid = (0..<60).map { [Double($0 % 6) / 5, Double($0 / 6) / 9] }
        let plane = grid.map { ab in
            (0..<5).map { k in 3 * ab[0] * u[k] + ab[1] * w[k] + [1.0, 2, 3, 4, 5][k] }
        }
        let pca = try PrincipalComponents(points: plane, count: 2)
        let projected = try pca.project(plane)
        for i in 0..<plane.count {
            for j in 0..<plane.count {
                #expect(abs(PointCloud.euclidean(projected[i], projected[j]) - PointCloud.euclidean(plane[i], plane[j])) < 1e-9)
            }
        }
        // The first component is u (scaled 3: more variance), up to sign; the variances add to the total.
        let dot = zip(pca.components[0], u).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(abs(dot) - 1) < 1e-9)
        #expect(pca.variances[0] > pca.variances[1])
        #expect(abs(pca.variances.reduce(0, +) - pca.totalVariance) < 1e-9 * pca.totalVariance)
    }

    @Test func variancesComeInDecreasingOrderWithOrthonormalComponents() throws {
        // Axis scales 5, 1, 3, 0.5, 2 (rotated): variances in the order 5, 3, 2, 1, 0.5 (squared).
        let scales = [5.0, 1, 3, 0.5, 2]
        let raw = LandmarkTests.cloud(400, dimension: 5, seed: 11)
        let points = raw.map { x in (0..<5).map { k in (0..<5).reduce(0.0) { $0 + (x[$1] - 0.5) * scales[$1] * Self.basis[$1][k] } } }
        let pca = try PrincipalComponents(points: points, count: 3)
        #expect(zip(pca.variances, pca.variances.dropFirst()).allSatisfy { $0 > $1 })
        for a in 0..<3 {
            for b in 0..<3 {
                let dot = zip(pca.components[a], pca.components[b]).reduce(0) { $0 + $1.0 * $1.1 }
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-9)
            }
            let v = pca.components[a]
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            #expect(v[largest] > 0, "sign normalization")
        }
        // Dominant axes: 0, 2, 4.
        for (component, axis) in zip(pca.components, [0, 2, 4]) {
            let dot = zip(component, Self.basis[axis]).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(dot) > 0.95, "component along axis \(axis): \(dot)")
        }
    }

    @Test func subspaceIterationMatchesOnAWideCloud() throws {
        // 40 coordinates (more than the block of k + 8 = 10 vectors): a planted 2-D circle of radius 4
        // plus small noise in every coordinate; the projection recovers the circle's radius.
        var points: [[Double]] = []
        let noise = LandmarkTests.cloud(200, dimension: 40, seed: 5)
        for i in 0..<200 {
            let t = 2 * Double.pi * Double(i) / 200
            var p = noise[i].map { 0.01 * ($0 - 0.5) }
            p[7] += 4 * cos(t); p[23] += 4 * sin(t)
            points.append(p)
        }
        let pca = try PrincipalComponents(points: points, count: 2)
        let projected = try pca.project(points)
        for p in projected { #expect(abs(PointCloud.euclidean(p, [0, 0]) - 4) < 0.05) }
        #expect(abs(pca.variances[0] - 8) < 0.2 && abs(pca.variances[1] - 8) < 0.2)
    }

    @Test func degenerateClouds() throws {
        // One point, or all equal: zero variances, orthonormal components, projections at 0.
        let pca = try PrincipalComponents(points: [[1, 2, 3], [1, 2, 3]], count: 2)
        #expect(pca.variances == [0, 0] && pca.totalVariance == 0)
        #expect(try pca.project([[1, 2, 3]]) == [[0, 0]])
        _ = try PrincipalComponents(points: [[1, 2, 3]], count: 3)
    }

    @Test func badRequestsAreErrors() throws {
        #expect(throws: TopologyError.self) { _ = try PrincipalComponents(points: [[1, 2]], count: 3) }
        #expect(throws: TopologyError.self) { _ = try PrincipalComponents(points: [[1, 2]], count: 0) }
        #expect(throws: TopologyError.self) { _ = try PrincipalComponents(points: [[1, .nan]], count: 1) }
        let pca = try PrincipalComponents(points: [[1, 2], [3, 4]], count: 1)
        #expect(throws: TopologyError.self) { _ = try pca.project([[1, 2, 3]]) }
    }
}
