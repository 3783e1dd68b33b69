// Simulated trajectories in a square box for the path-integration task (docs/method.md section 4): a
// smooth random walk with Rayleigh speeds, Gaussian turns and wall avoidance, time-major batches.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Linalg

/// One batch of simulated trajectories in the time-major layout of docs/notation.md.
///
/// The positions integrate the velocity inputs exactly (up to Float rounding):
/// `positions[t * B + b] = start[b] + sum over s <= t of velocities[s * B + b]`.
public struct TrajectoryBatch: Sendable, Equatable {
    /// Number of steps T of every trajectory.
    public let length: Int
    /// Number of trajectories B.
    public let batchSize: Int
    /// `(T * B) x 2`: row `t * B + b` is the displacement of trajectory b during step t in metres,
    /// `(v cos theta, v sin theta) * dt` (the network's input at step t).
    public var velocities: Matrix<Float>
    /// `B x 2`: the start positions in metres.
    public var start: Matrix<Float>
    /// `(T * B) x 2`: row `t * B + b` is the position of trajectory b after step t, in metres.
    public var positions: Matrix<Float>
    /// How many of the `T * B` steps were shortened so as to end on a wall instead of beyond it
    /// (see `TrajectorySimulator`); rare, and reported so that tests and logs can watch it.
    public var shortenedSteps: Int
}

/// The random walk of docs/method.md section 4 in a square box `[-halfSide, halfSide]^2` (not periodic).
///
/// One step of one trajectory, at position p with heading theta:
/// 1. draw the speed `v ~ Rayleigh(speedScale)` and the turn noise `n ~ normal(0, turnStd)`;
/// 2. wall avoidance: take the nearest wall (ties: right, top, left, bottom, in that order) with
///    its outward normal direction `phi` (right 0, top pi/2, left pi, bottom -pi/2) and
///    `a = wrap(theta - phi)` in `[-pi, pi)`, the heading relative to the direction into the wall.
///    When the distance to that wall is below `wallMargin` and `|a| < pi/2` (heading towards it),
///    `turn = sign(a) (pi/2 - |a|)` and `v *= wallSlowdown`; otherwise `turn = 0`. The turn sets
///    the heading relative to the normal to `sign(a) pi/2`: parallel to the wall, on the side the
///    heading already leaned to, so the walker slides away along the wall instead of into it;
/// 3. `turn += dt * n`;
/// 4. move along the current heading: `p += v dt (cos theta, sin theta)` (the displacement is the
///    input of this step, the new p its target);
/// 5. turn: `theta = wrap(theta + turn)`, used from the next step on.
///
/// The step moves along the heading held before this step's turn, as the simulator of the
/// grid-cell literature the paper builds on does. Because the avoidance acts only within
/// `wallMargin` and only from the next step on, a fast step that starts just outside the margin
/// can overshoot the wall (that simulator lets it leave the box). Here such a step is shortened
/// along its heading so that it ends on the wall (`p + f d` with the largest `f` in [0, 1] that
/// stays in the box), and the shortened displacement is the recorded velocity input, so inputs
/// always integrate to the positions and every position lies in the box.
/// `TrajectoryBatch.shortenedSteps` counts these steps (about 0.4% of all steps at the paper's constants).
///
/// Draw order: trajectory by trajectory (b = 0, 1, ...): `uniform(-halfSide, halfSide)` for x,
/// then for y, `uniform(0, 2 pi)` for the heading; then step by step `rayleigh(scale: speedScale)`
/// and `normal(mean: 0, std: turnStd)`. Positions and headings are computed in Double; positions
/// and displacements are stored as Float.
public enum TrajectorySimulator {
    /// Side of the square box in metres (2.2 m).
    public static let boxSide = 2.2
    /// Half the side: coordinates lie in `[-halfSide, halfSide]` (1.1 m).
    public static let halfSide = boxSide / 2
    /// Time step in seconds (0.02 s).
    public static let timeStep = 0.02
    /// Standard deviation of the turn rate in rad/s (11.52); a step turns by `timeStep` times a
    /// normal draw with this deviation, so the per-step turn has deviation 0.2304 rad.
    public static let turnStd = 11.52
    /// Scale (mode) of the Rayleigh speed distribution in m/s: 0.13 * 2 pi = 0.8168; the mean
    /// speed is `speedScale * sqrt(pi / 2)` = 1.024 m/s.
    public static let speedScale = 0.13 * 2 * Double.pi
    /// Distance from a wall, in metres, below which the walker turns away from it (0.03 m).
    public static let wallMargin = 0.03
    /// Factor on the speed while turning away from a wall (0.25).
    public static let wallSlowdown = 0.25

    /// `a` wrapped into `[-pi, pi)`.
    @inline(__always)
    static func wrapped(_ a: Double) -> Double {
        let twoPi = 2 * Double.pi
        return a - twoPi * ((a + Double.pi) / twoPi).rounded(.down)
    }

    /// The avoidance turn and speed factor at `(x, y)` with heading `theta` (step 2 above).
    @inline(__always)
    static func wallAvoidance(x: Double, y: Double, theta: Double) -> (turn: Double, speedFactor: Double) {
        var distance = halfSide - x, normal = 0.0  // right wall
        if halfSide - y < distance { distance = halfSide - y; normal = Double.pi / 2 }  // top
        if halfSide + x < distance { distance = halfSide + x; normal = Double.pi }  // left
        if halfSide + y < distance { distance = halfSide + y; normal = -Double.pi / 2 }  // bottom
        guard distance < wallMargin else { return (0, 1) }
        let a = wrapped(theta - normal)
        guard abs(a) < Double.pi / 2 else { return (0, 1) }
        let side: Double = a > 0 ? 1 : (a < 0 ? -1 : 0)
        return (side * (Double.pi / 2 - abs(a)), wallSlowdown)
    }

    /// The largest `f` in [0, 1] with `p + f d` in `[-halfSide, halfSide]` along one coordinate,
    /// for `p` in that interval.
    @inline(__always)
    static func fraction(_ p: Double, _ d: Double) -> Double {
        let q = p + d
        if q > halfSide { return max(0, (halfSide - p) / d) }
        if q < -halfSide { return max(0, (-halfSide - p) / d) }
        return 1
    }

    /// `batch` trajectories of `length` steps each (see the type's documentation for the walk and
    /// the draw order). Sizes are the caller's (validated configuration): both must be non-negative.
    public static func batch(length: Int, batch: Int, rng: inout SeededGenerator) -> TrajectoryBatch {
        precondition(length >= 0 && batch >= 0, "Trajectory sizes must be non-negative, got T \(length), B \(batch)")
        var velocities = Matrix<Float>(rows: length * batch, columns: 2)
        var positions = Matrix<Float>(rows: length * batch, columns: 2)
        var start = Matrix<Float>(rows: batch, columns: 2)
        var shortened = 0
        let h = halfSide, dt = timeStep
        velocities.withUnsafeMutableBufferPointer { vb in
            positions.withUnsafeMutableBufferPointer { pb in
                start.withUnsafeMutableBufferPointer { sb in
                    for b in 0..<batch {
                        var x = rng.uniform(-h, h), y = rng.uniform(-h, h)
                        var theta = wrapped(rng.uniform(0, 2 * Double.pi))
                        sb[2 * b] = Float(x)
                        sb[2 * b + 1] = Float(y)
                        for t in 0..<length {
                            var v = rng.rayleigh(scale: speedScale)
                            let noise = rng.normal(mean: 0, std: turnStd)
                            let avoidance = wallAvoidance(x: x, y: y, theta: theta)
                            v *= avoidance.speedFactor
                            let turn = avoidance.turn + dt * noise
                            var dx = v * dt * cos(theta), dy = v * dt * sin(theta)
                            var nx = x + dx, ny = y + dy
                            if abs(nx) > h || abs(ny) > h {
                                let f = min(fraction(x, dx), fraction(y, dy))
                                dx *= f
                                dy *= f
                                // Clamping only absorbs the rounding of x + f dx at the wall.
                                nx = min(h, max(-h, x + dx))
                                ny = min(h, max(-h, y + dy))
                                shortened += 1
                            }
                            let row = 2 * (t * batch + b)
                            vb[row] = Float(nx - x)
                            vb[row + 1] = Float(ny - y)
                            pb[row] = Float(nx)
                            pb[row + 1] = Float(ny)
                            x = nx
                            y = ny
                            theta = wrapped(theta + turn)
                        }
                    }
                }
            }
        }
        return TrajectoryBatch(
            length: length, batchSize: batch, velocities: velocities, start: start,
            positions: positions, shortenedSteps: shortened)
    }
}
