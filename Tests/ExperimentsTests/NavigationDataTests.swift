// The navigation task's data (docs/method.md section 4): the trajectory simulator against an independent
// oracle and its statistical laws, and the place-cell codes and decoding against naive Double loops.
import Foundation
import Testing
import Linalg
@testable import Experiments
import _TestSupport

@Suite struct NavigationDataTests {
    typealias Sim = TrajectorySimulator
    static let h = Sim.halfSide

    /// One shared walk for the statistical tests: B 200 x T 500 = 100,000 steps, seed 11.
    static let walkSeed: UInt64 = 11
    static let walk: TrajectoryBatch = {
        var rng = SeededGenerator(seed: walkSeed)
        return Sim.batch(length: 500, batch: 200, rng: &rng)
    }()

    /// Position of trajectory b before step t (the start for t = 0).
    static func before(_ w: TrajectoryBatch, _ t: Int, _ b: Int) -> (Double, Double) {
        t == 0
            ? (Double(w.start[b, 0]), Double(w.start[b, 1]))
            : (Double(w.positions[(t - 1) * w.batchSize + b, 0]), Double(w.positions[(t - 1) * w.batchSize + b, 1]))
    }

    static func velocity(_ w: TrajectoryBatch, _ t: Int, _ b: Int) -> (Double, Double) {
        (Double(w.velocities[t * w.batchSize + b, 0]), Double(w.velocities[t * w.batchSize + b, 1]))
    }

    /// Distances to the right, top, left and bottom walls.
    static func wallDistances(_ p: (Double, Double)) -> [Double] { [h - p.0, h - p.1, h + p.0, h + p.1] }

    static func angle(_ a: Double) -> Double { atan2(sin(a), cos(a)) }

    static func meanAndStd(_ xs: [Double]) -> (mean: Double, std: Double) {
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
        return (mean, variance.squareRoot())
    }

    // MARK: Simulator: an independent oracle

    /// The walk written out step by step from the documentation: nearest wall by a search over the
    /// four walls, angles wrapped with atan2, overshooting steps cut at the first wall they cross.
    static func oracleWalk(length: Int, batch: Int, seed: UInt64) -> (start: [[Double]], positions: [[Double]], velocities: [[Double]]) {
        var rng = SeededGenerator(seed: seed)
        var start = [[Double]](repeating: [0, 0], count: batch)
        var positions = [[Double]](repeating: [0, 0], count: length * batch)
        var velocities = positions
        let normals = [0, Double.pi / 2, Double.pi, 3 * Double.pi / 2]
        for b in 0..<batch {
            var p = [rng.uniform(-h, h), rng.uniform(-h, h)]
            var heading = rng.uniform(0, 2 * Double.pi)
            start[b] = p
            for t in 0..<length {
                var speed = rng.rayleigh(scale: 0.13 * 2 * Double.pi)
                var turn = 0.02 * rng.normal(mean: 0, std: 11.52)
                let d = wallDistances((p[0], p[1]))
                let nearest = d.indices.min { d[$0] < d[$1] }!  // first of equal distances
                let a = angle(heading - normals[nearest])
                if d[nearest] < 0.03 && abs(a) < Double.pi / 2 {
                    turn += (a > 0 ? 1 : -1) * (Double.pi / 2 - abs(a))
                    speed *= 0.25
                }
                var step = [speed * 0.02 * cos(heading), speed * 0.02 * sin(heading)]
                var cut = 1.0
                for axis in 0..<2 {
                    for wall in [-h, h] {
                        let crossing = (wall - p[axis]) / step[axis]
                        let end = p[axis] + step[axis]
                        if (wall > 0 && end > wall) || (wall < 0 && end < wall) { cut = min(cut, crossing) }
                    }
                }
                step = [step[0] * cut, step[1] * cut]
                let next = [min(h, max(-h, p[0] + step[0])), min(h, max(-h, p[1] + step[1]))]
                velocities[t * batch + b] = [next[0] - p[0], next[1] - p[1]]
                positions[t * batch + b] = next
                p = next
                heading += turn
            }
        }
        return (start, positions, velocities)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func simulatorMatchesTheOracle(seed: UInt64) {
        let (t, b) = (300, 12)
        var rng = SeededGenerator(seed: seed)
        let w = Sim.batch(length: t, batch: b, rng: &rng)
        let o = Self.oracleWalk(length: t, batch: b, seed: seed)
        #expect(w.length == t && w.batchSize == b)
        #expect(w.start == Matrix(rows: b, columns: 2, scalars: o.start.flatMap { $0.map(Float.init) }), "seed \(seed)")
        let positions = Matrix(rows: t * b, columns: 2, scalars: o.positions.flatMap { $0.map(Float.init) })
        let velocities = Matrix(rows: t * b, columns: 2, scalars: o.velocities.flatMap { $0.map(Float.init) })
        #expect(w.positions.maxAbsDifference(positions) < 1e-6, "seed \(seed)")
        #expect(w.velocities.maxAbsDifference(velocities) < 1e-6, "seed \(seed)")
    }

    @Test func sameSeedGivesTheSameBatch() {
        var r1 = SeededGenerator(seed: 8), r2 = SeededGenerator(seed: 8), r3 = SeededGenerator(seed: 9)
        let a = Sim.batch(length: 30, batch: 7, rng: &r1)
        #expect(a == Sim.batch(length: 30, batch: 7, rng: &r2))
        #expect(a != Sim.batch(length: 30, batch: 7, rng: &r3))
        var empty = SeededGenerator(seed: 8)
        let e = Sim.batch(length: 0, batch: 3, rng: &empty)
        #expect(e.positions.rows == 0 && e.velocities.rows == 0 && e.start.rows == 3)
    }

    // MARK: Simulator: laws

    @Test func positionsStayInTheBoxAndInputsIntegrateToThem() {
        let limit = Float(Self.h)
        var steps = 0, shortened = 0
        // Many short batches and a few long trajectories.
        let runs: [(seed: UInt64, length: Int, batch: Int)] = (100..<110).map { ($0, 100, 50) } + [(200, 20_000, 3)]
        for run in runs {
            var rng = SeededGenerator(seed: run.seed)
            let w = Sim.batch(length: run.length, batch: run.batch, rng: &rng)
            #expect(w.positions.scalars.allSatisfy { $0.isFinite && abs($0) <= limit }, "seed \(run.seed)")
            #expect(w.start.scalars.allSatisfy { abs($0) <= limit }, "seed \(run.seed)")
            // start + cumulative sum of the inputs = positions, at every step (Double sums of the
            // Float inputs; the tolerance covers the Float rounding of T inputs and of the position).
            var worst = 0.0
            for b in 0..<w.batchSize {
                var x = Double(w.start[b, 0]), y = Double(w.start[b, 1])
                for t in 0..<w.length {
                    let (vx, vy) = Self.velocity(w, t, b)
                    x += vx; y += vy
                    worst = max(
                        worst, abs(x - Double(w.positions[t * w.batchSize + b, 0])),
                        abs(y - Double(w.positions[t * w.batchSize + b, 1])))
                }
            }
            let tolerance = 1e-7 + Double(w.length) * 4e-9
            #expect(worst < tolerance, "seed \(run.seed): integrated inputs miss the positions by \(worst) m")
            steps += w.length * w.batchSize
            shortened += w.shortenedSteps
        }
        // Steps cut at a wall are rare (about 0.4%) but do happen, so the cut is exercised.
        let rate = Double(shortened) / Double(steps)
        #expect(shortened > 0 && rate < 0.01, "shortened \(shortened) of \(steps) steps, seeds 100-109 and 200")
    }

    @Test func speedsAwayFromWallsAreRayleigh() {
        let w = Self.walk
        let sigma = Sim.speedScale
        var speeds: [Double] = []
        for t in 0..<w.length {
            for b in 0..<w.batchSize where Self.wallDistances(Self.before(w, t, b)).min()! > 0.2 {
                let (vx, vy) = Self.velocity(w, t, b)
                speeds.append((vx * vx + vy * vy).squareRoot() / Sim.timeStep)
            }
        }
        let n = Double(speeds.count)
        #expect(n > 50_000, "seed \(Self.walkSeed): only \(speeds.count) steps away from walls")
        // Rayleigh(sigma): mean sigma sqrt(pi/2), sd sigma sqrt((4 - pi)/2); E v^2 = 2 sigma^2 with sd
        // 2 sigma^2 (v^2 / (2 sigma^2) is exponential); the median sigma sqrt(2 ln 2). Five standard errors.
        let mean = speeds.reduce(0, +) / n
        let meanSE = sigma * ((4 - Double.pi) / 2).squareRoot() / n.squareRoot()
        #expect(abs(mean - sigma * (Double.pi / 2).squareRoot()) < 5 * meanSE, "seed \(Self.walkSeed): mean speed \(mean)")
        let second = speeds.reduce(0) { $0 + $1 * $1 } / n
        #expect(abs(second - 2 * sigma * sigma) < 5 * 2 * sigma * sigma / n.squareRoot(), "seed \(Self.walkSeed): E v^2 \(second)")
        let belowMedian = Double(speeds.filter { $0 < sigma * (2 * log(2.0)).squareRoot() }.count) / n
        #expect(abs(belowMedian - 0.5) < 5 * 0.5 / n.squareRoot(), "seed \(Self.walkSeed): \(belowMedian) below the median")
    }

    @Test func turnsAwayFromWallsAreNormal() {
        let w = Self.walk
        let sd = Sim.turnStd * Sim.timeStep  // 0.2304 rad per step
        var turns: [Double] = []
        for t in 0..<(w.length - 1) {
            for b in 0..<w.batchSize
            where Self.wallDistances(Self.before(w, t, b)).min()! > 0.2 && Self.wallDistances(Self.before(w, t + 1, b)).min()! > 0.2 {
                let (ax, ay) = Self.velocity(w, t, b), (bx, by) = Self.velocity(w, t + 1, b)
                turns.append(Self.angle(atan2(by, bx) - atan2(ay, ax)))
            }
        }
        let n = Double(turns.count)
        #expect(n > 50_000, "seed \(Self.walkSeed): only \(turns.count) turns away from walls")
        let (mean, std) = Self.meanAndStd(turns)
        #expect(abs(mean) < 5 * sd / n.squareRoot(), "seed \(Self.walkSeed): mean turn \(mean)")
        #expect(abs(std - sd) < 5 * sd / (2 * n).squareRoot(), "seed \(Self.walkSeed): turn sd \(std), expected \(sd)")
        let withinOne = Double(turns.filter { abs($0) < sd }.count) / n
        #expect(abs(withinOne - 0.682_689) < 5 * 0.4656 / n.squareRoot(), "seed \(Self.walkSeed): \(withinOne) within one sd")
    }

    /// Near a wall (1.5 to 2.9 cm, far from the other walls): heading towards it, the speed is a
    /// quarter of a Rayleigh draw and the next heading is parallel to the wall plus the turn noise;
    /// heading away, neither happens.
    @Test func wallAvoidanceSlowsDownAndTurnsParallel() {
        let w = Self.walk
        let sd = Sim.turnStd * Sim.timeStep
        let rayleighMean = Sim.speedScale * (Double.pi / 2).squareRoot()
        let normals = [0, Double.pi / 2, Double.pi, -Double.pi / 2]
        var towardSpeeds: [Double] = [], towardResiduals: [Double] = []
        var awaySpeeds: [Double] = [], awayTurns: [Double] = []
        for t in 0..<(w.length - 1) {
            for b in 0..<w.batchSize {
                let d = Self.wallDistances(Self.before(w, t, b))
                let sorted = d.sorted()
                guard sorted[0] >= 0.015 && sorted[0] < 0.029 && sorted[1] > 0.3 else { continue }
                let wall = d.firstIndex(of: sorted[0])!
                let (ax, ay) = Self.velocity(w, t, b), (bx, by) = Self.velocity(w, t + 1, b)
                guard (ax != 0 || ay != 0) && (bx != 0 || by != 0) else { continue }
                let speed = (ax * ax + ay * ay).squareRoot() / Sim.timeStep
                let a = Self.angle(atan2(ay, ax) - normals[wall])
                let next = Self.angle(atan2(by, bx) - normals[wall])
                if abs(a) > 0.01 && abs(a) < Double.pi / 2 - 0.01 {
                    towardSpeeds.append(speed / Sim.wallSlowdown)
                    towardResiduals.append(Self.angle(next - (a > 0 ? 1 : -1) * Double.pi / 2))
                } else if abs(a) > Double.pi / 2 + 0.01 {
                    awaySpeeds.append(speed)
                    awayTurns.append(Self.angle(next - a))
                }
            }
        }
        let speedSD = Sim.speedScale * ((4 - Double.pi) / 2).squareRoot()
        for (name, speeds, turns) in [("toward", towardSpeeds, towardResiduals), ("away", awaySpeeds, awayTurns)] {
            let n = Double(speeds.count)
            #expect(n > 500, "seed \(Self.walkSeed): only \(speeds.count) steps \(name) a wall")
            let meanSpeed = speeds.reduce(0, +) / n
            #expect(
                abs(meanSpeed - rayleighMean) < 5 * speedSD / n.squareRoot(),
                "seed \(Self.walkSeed), \(name): mean speed \(meanSpeed) (toward: divided by the slowdown)")
            let (mean, std) = Self.meanAndStd(turns)
            #expect(abs(mean) < 5 * sd / n.squareRoot(), "seed \(Self.walkSeed), \(name): mean turn residual \(mean)")
            #expect(abs(std - sd) < 5 * sd / (2 * n).squareRoot(), "seed \(Self.walkSeed), \(name): turn residual sd \(std)")
        }
    }

    // MARK: Place cells: the Double oracle

    /// The code written straight from docs/method.md section 4, in Double.
    static func oracleCode(_ cells: PlaceCells, x: Double, y: Double) -> [Double] {
        let s = cells.width
        let d2 = (0..<cells.count).map { c -> Double in
            let dx = x - Double(cells.centres[c, 0]), dy = y - Double(cells.centres[c, 1])
            return dx * dx + dy * dy
        }
        func softmax(_ z: [Double]) -> [Double] {
            let m = z.max()!
            let e = z.map { exp($0 - m) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        }
        let centre = softmax(d2.map { -$0 / (2 * s * s) })
        let surround = softmax(d2.map { -$0 / (2 * 2 * s * s) })
        var a = zip(centre, surround).map { $0 - $1 }
        let low = a.min()!
        a = a.map { $0 - low }
        let total = a.reduce(0, +)
        return a.map { $0 / total }
    }

    /// Random positions in the box, the first few centres themselves and the four corners.
    static func probePositions(_ cells: PlaceCells, count: Int, seed: UInt64) -> Matrix<Float> {
        var rng = SeededGenerator(seed: seed)
        var s: [Float] = []
        for _ in 0..<count { s += [Float(rng.uniform(-h, h)), Float(rng.uniform(-h, h))] }
        for c in 0..<3 { s += [cells.centres[c, 0], cells.centres[c, 1]] }
        let corner = Float(h)
        s += [corner, corner, -corner, corner, -corner, -corner, corner, -corner]
        return Matrix(rows: s.count / 2, columns: 2, scalars: s)
    }

    @Test(arguments: [(512, 0.12), (512, 0.2), (67, 0.12), (13, 0.12), (3, 0.3)] as [(Int, Double)])
    func codesMatchTheDoubleOracle(count: Int, width: Double) throws {
        let cells = try PlaceCells(count: count, width: width, seed: 21)
        let positions = Self.probePositions(cells, count: 40, seed: 22)
        let codes = cells.codes(for: positions)
        #expect(codes.rows == positions.rows && codes.columns == count)
        let oracle = Matrix<Float>(
            rows: positions.rows, columns: count,
            scalars: (0..<positions.rows).flatMap {
                Self.oracleCode(cells, x: Double(positions[$0, 0]), y: Double(positions[$0, 1])).map(Float.init)
            })
        // Every code is at most 1; the fast path is within a few Float ulps of its largest entries.
        let largest = oracle.scalars.max()!
        #expect(
            codes.maxAbsDifference(oracle) <= 1e-5 * largest,
            "cells \(count), width \(width), seeds 21/22: max difference \(codes.maxAbsDifference(oracle)), largest \(largest)")
        // The buffer-reusing form writes the same values, over whatever the buffer held.
        var reused = Matrix<Float>(rows: positions.rows, columns: count, repeating: .nan)
        cells.writeCodes(for: positions, into: &reused)
        #expect(reused == codes)
    }

    @Test func codesDoNotDependOnTheThreadCount() throws {
        let cells = try PlaceCells(count: 100, seed: 23)
        let positions = Self.probePositions(cells, count: 500, seed: 24)
        var single = Matrix<Float>(rows: 0, columns: 0)
        withThreadCounts([1]) { _ in single = cells.codes(for: positions) }
        // Chunks of 7 rows: uneven parts, every worker busy.
        withThreadCounts([2, 3, 8], chunk: 7) { threads in
            #expect(cells.codes(for: positions) == single, "threads \(threads), seeds 23/24")
            var reused = Matrix<Float>(rows: positions.rows, columns: 100, repeating: .nan)
            cells.writeCodes(for: positions, into: &reused)
            #expect(reused == single, "threads \(threads), seeds 23/24")
        }
    }

    @Test func codesAreDistributionsPeakedAtTheNearestCentre() throws {
        let cells = try PlaceCells(seed: 31)
        let positions = Self.probePositions(cells, count: 300, seed: 32)
        let codes = cells.codes(for: positions)
        for r in 0..<positions.rows {
            let row = codes.row(r)
            #expect(row.allSatisfy { $0 >= 0 }, "row \(r), seeds 31/32")
            let total = row.reduce(0.0) { $0 + Double($1) }
            #expect(abs(total - 1) < 1e-5, "row \(r), seeds 31/32: sum \(total)")
            // The peak is the nearest centre (or one as near, within Float rounding).
            let (x, y) = (Double(positions[r, 0]), Double(positions[r, 1]))
            let d2 = (0..<cells.count).map { c in
                pow(x - Double(cells.centres[c, 0]), 2) + pow(y - Double(cells.centres[c, 1]), 2)
            }
            let peak = row.indices.max { row[$0] < row[$1] }!
            #expect(d2[peak] - d2.min()! < 1e-6, "row \(r), seeds 31/32: peak at cell \(peak), not the nearest")
        }
    }

    /// A nearest cell whose other cells are far beyond its surround (width 7 cm, neighbours about
    /// 1 m away): with `e_c = exp(-u_c / (4 s^2))` of the two others (`e_2 > e_3`, both tiny,
    /// `r = e_3 / e_2`, the centre terms `e_c^2` negligible), the code is exactly
    /// `((2 + r) / 3, 0, (1 - r) / 3)` up to terms of order `e_2`; the textbook
    /// `1 / Z1 - 1 / Z2` would lose the nearest cell's value to cancellation here.
    @Test func isolatedNearestCellKeepsItsSurround() throws {
        let cells = try PlaceCells(centres: Matrix(rows: 3, columns: 2, scalars: [0, 0, 1, 0, 0, 1]), width: 0.07)
        let fourS2 = 4 * 0.07 * 0.07
        for p in [0.05, 0.1, 0.2, 0.3] as [Double] {
            let x = Float(p), y = Float(0.9 * p)
            let (xd, yd) = (Double(x), Double(y))
            let d1 = xd * xd + yd * yd, d2 = (1 - xd) * (1 - xd) + yd * yd, d3 = xd * xd + (1 - yd) * (1 - yd)
            #expect((d2 - d1) / fourS2 > 19 && (d3 - d1) / fourS2 < 60)  // e_2 below Float's epsilon, above its range's end
            let r = exp(-(d3 - d2) / fourS2)
            let code = cells.codes(for: Matrix(rows: 1, columns: 2, scalars: [x, y]))
            let expected: [Float] = [Float((2 + r) / 3), 0, Float((1 - r) / 3)]
            #expect(
                code.maxAbsDifference(Matrix(rows: 1, columns: 3, scalars: expected)) < 1e-5,
                "position (\(x), \(y)): \(code.scalars), expected \(expected)")
        }
    }

    @Test func equidistantCentresGiveTheUniformCode() throws {
        let cells = try PlaceCells(centres: Matrix(rows: 4, columns: 2, scalars: [0.5, 0, -0.5, 0, 0, 0.5, 0, -0.5]), width: 0.12)
        let code = cells.codes(for: Matrix(rows: 1, columns: 2, scalars: [0, 0]))
        #expect(code.scalars == [0.25, 0.25, 0.25, 0.25])
    }

    @Test func centresAreSeededAndInTheBox() throws {
        let a = try PlaceCells(count: 100, seed: 4), b = try PlaceCells(count: 100, seed: 4), c = try PlaceCells(count: 100, seed: 5)
        #expect(a.centres == b.centres && a.centres != c.centres)
        #expect(a.centres.scalars.allSatisfy { abs($0) <= Float(Self.h) })
        #expect(a.width == PlaceCells.paperWidth && PlaceCells.paperCount == 512)
        var rng = SeededGenerator(seed: 4)
        #expect(a.centres[0, 0] == Float(rng.uniform(-Self.h, Self.h)) && a.centres[0, 1] == Float(rng.uniform(-Self.h, Self.h)))
    }

    @Test func invalidConfigurationsAreRefused() {
        let three = Matrix<Float>(rows: 3, columns: 2, scalars: [0, 0, 1, 0, 0, 1])
        #expect(throws: ExperimentError.self) { try PlaceCells(count: 2, seed: 1) }
        #expect(throws: ExperimentError.self) { try PlaceCells(count: 10, width: 0, seed: 1) }
        #expect(throws: ExperimentError.self) { try PlaceCells(count: 10, width: -0.1, seed: 1) }
        #expect(throws: ExperimentError.self) { try PlaceCells(count: 10, width: .nan, seed: 1) }
        #expect(throws: ExperimentError.self) { try PlaceCells(centres: Matrix(rows: 3, columns: 3), width: 0.1) }
        #expect(throws: ExperimentError.self) {
            try PlaceCells(centres: Matrix(rows: 3, columns: 2, scalars: [0, 0, 1, .infinity, 0, 1]), width: 0.1)
        }
        #expect(throws: Never.self) { try PlaceCells(centres: three, width: 0.1) }
    }

    // MARK: Decoding

    /// The mean of three centres exactly as an independent sum in Double gives it.
    static func centreMean(_ cells: PlaceCells, _ i: Int, _ j: Int, _ k: Int) -> (Float, Float) {
        (
            Float((Double(cells.centres[i, 0]) + Double(cells.centres[j, 0]) + Double(cells.centres[k, 0])) / 3),
            Float((Double(cells.centres[i, 1]) + Double(cells.centres[j, 1]) + Double(cells.centres[k, 1])) / 3)
        )
    }

    @Test func decodeAveragesTheCentresOfTheTopThreeCells() throws {
        let cells = try PlaceCells(count: 64, seed: 41)
        var rng = SeededGenerator(seed: 42)
        let rows = 50
        var logits = rng.uniformMatrix(rows: rows, columns: 64, low: -3, high: 1, as: Float.self)
        var expected: [(Float, Float)] = []
        for r in 0..<rows {
            // Three distinct cells lifted above every other, in a random order of strength; the
            // fourth strongest sits just below the third.
            let chosen = Array(rng.permutation(64).prefix(4))
            logits[r, chosen[0]] = 3.5; logits[r, chosen[1]] = 2; logits[r, chosen[2]] = 1.5; logits[r, chosen[3]] = 1.25
            expected.append(Self.centreMean(cells, chosen[0], chosen[1], chosen[2]))
        }
        let estimates = cells.decode(logits)
        for r in 0..<rows {
            #expect(estimates[r, 0] == expected[r].0 && estimates[r, 1] == expected[r].1, "row \(r), seeds 41/42")
        }
        // Softmax probabilities rank like their logits: the same estimates.
        var probabilities = logits
        for r in 0..<rows {
            let m = logits.row(r).max()!
            let e = logits.row(r).map { exp(Double($0 - m)) }
            let total = e.reduce(0, +)
            for c in 0..<64 { probabilities[r, c] = Float(e[c] / total) }
        }
        #expect(cells.decode(probabilities) == estimates)
    }

    @Test func decodeBreaksTiesTowardsLowerCellsAndSkipsNaN() throws {
        let cells = try PlaceCells(count: 10, seed: 43)
        let nan = Float.nan
        let activity = Matrix<Float>(
            rows: 4, columns: 10,
            scalars: [
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // all tied: cells 0, 1, 2
                0, 5, 0, 5, 0, 5, 0, 5, 0, 0,  // tied on top: cells 1, 3, 5
                nan, 9, nan, 8, nan, 0, 0, 0, 7, nan,  // NaN never wins: cells 1, 3, 8
                nan, nan, nan, nan, nan, nan, nan, nan, 2, nan  // one cell left: its centre
            ])
        let e = cells.decode(activity)
        let expected = [Self.centreMean(cells, 0, 1, 2), Self.centreMean(cells, 1, 3, 5), Self.centreMean(cells, 1, 3, 8)]
        for r in 0..<3 { #expect(e[r, 0] == expected[r].0 && e[r, 1] == expected[r].1, "row \(r), seed 43") }
        #expect(e[3, 0] == cells.centres[8, 0] && e[3, 1] == cells.centres[8, 1])
        let allNaN = cells.decode(Matrix(rows: 1, columns: 10, repeating: .nan))
        #expect(allNaN.scalars.allSatisfy { $0.isNaN })
    }

    /// The code of a position decodes to the mean of its three nearest centres (the code falls with
    /// distance out to about 2.4 s and stays below its value at the third-nearest centre beyond
    /// that when the cells are this dense); at a centre, that is the centre and its two nearest neighbours.
    @Test func codesDecodeToTheirThreeNearestCentres() throws {
        let cells = try PlaceCells(seed: 51)
        let positions = Self.probePositions(cells, count: 200, seed: 52)
        let estimates = cells.decode(cells.codes(for: positions))
        var checked = 0
        for r in 0..<positions.rows {
            let (x, y) = (Double(positions[r, 0]), Double(positions[r, 1]))
            let d2 = (0..<cells.count).map { c in
                pow(x - Double(cells.centres[c, 0]), 2) + pow(y - Double(cells.centres[c, 1]), 2)
            }
            let order = d2.indices.sorted { d2[$0] < d2[$1] }
            guard d2[order[3]] - d2[order[2]] > 1e-4 else { continue }  // third and fourth too close to call
            let mean = Self.centreMean(cells, order[0], order[1], order[2])
            #expect(abs(estimates[r, 0] - mean.0) < 1e-6 && abs(estimates[r, 1] - mean.1) < 1e-6, "row \(r), seeds 51/52")
            checked += 1
        }
        #expect(checked > 190)
    }

    @Test func decodingErrorIsTheMeanDistanceInCentimetres() throws {
        var rng = SeededGenerator(seed: 61)
        let positions = rng.uniformMatrix(rows: 100, columns: 2, low: -1.1, high: 1.1, as: Float.self)
        #expect(PlaceCells.decodingError(estimates: positions, positions: positions) == 0)
        // Every estimate 3 cm right and 4 cm up: 5 cm (up to the Float rounding of the shifted values).
        let shifted = Matrix<Float>(rows: 100, columns: 2) { r, c in positions[r, c] + (c == 0 ? 0.03 : 0.04) }
        #expect(abs(PlaceCells.decodingError(estimates: shifted, positions: positions) - 5) < 1e-4)
        // Half exact, half 10 cm off: 5 cm on average.
        let mixed = Matrix<Float>(rows: 100, columns: 2) { r, c in positions[r, c] + (r % 2 == 1 && c == 1 ? 0.1 : 0) }
        #expect(abs(PlaceCells.decodingError(estimates: mixed, positions: positions) - 5) < 1e-4)
        // The activity form decodes first.
        let cells = try PlaceCells(count: 32, seed: 62)
        let activity = rng.normalMatrix(rows: 100, columns: 32, as: Float.self)
        #expect(
            cells.decodingError(activity: activity, positions: positions)
                == PlaceCells.decodingError(estimates: cells.decode(activity), positions: positions))
    }
}
