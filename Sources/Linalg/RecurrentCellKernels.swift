// The elementwise part of one LSTM or GRU step, forward and backward, written once for the CPU:
// the NN module's layers and the Compute module's CPU backend both run these loops (the products
// with W_ih and W_hh go through GEMM or the sparse kernels). References: torch.nn.LSTM and
// torch.nn.GRU; gate orders i, f, g, o and r, z, n.
import RealModule

extension Kernels {
    /// The LSTM step after its products: `gates` (`batch x 4H`) holds the pre-activations a and
    /// is overwritten with [σ(a_i) σ(a_f) tanh(a_g) σ(a_o)]; `c = f c_prev + i g` and
    /// `h = o tanh(c)` are written to `cell` and `hidden` (`batch x H` each).
    @inlinable package static func lstmCellForward<S: BLASScalar>(
        gates a: UnsafeMutablePointer<S>, cellPrevious cPrev: UnsafePointer<S>,
        cell cCur: UnsafeMutablePointer<S>, hidden hCur: UnsafeMutablePointer<S>,
        batch: Int, hiddenSize h: Int
    ) {
        for n in 0..<batch {
            let row = a + n * 4 * h, off = n * h
            for j in 0..<h {
                let ig = sigmoid(row[j])
                let fg = sigmoid(row[h + j])
                let gg = S.tanh(row[2 * h + j])
                let og = sigmoid(row[3 * h + j])
                row[j] = ig; row[h + j] = fg; row[2 * h + j] = gg; row[3 * h + j] = og
                let c = fg * cPrev[off + j] + ig * gg
                cCur[off + j] = c
                hCur[off + j] = og * S.tanh(c)
            }
        }
    }

    /// The LSTM step's backward before its products, with `dhT = dHidden + dOutput` (`dOutput`
    /// may be nil: no gradient from the step's output) and `gates` the forward's [i f g o]:
    /// `dc = dCell + dhT o (1 - tanh²c)`; writes the pre-activation gradients
    /// `dGates = [dc g i(1-i), dc c_prev f(1-f), dc i (1-g²), dhT tanh(c) o(1-o)]` and
    /// `dCell = dc f`, the carry to step t-1. `dHidden` is only read.
    @inlinable package static func lstmCellBackward<S: BLASScalar>(
        gates g: UnsafePointer<S>, cellPrevious cPrev: UnsafePointer<S>, cell cCur: UnsafePointer<S>,
        dOutput: UnsafePointer<S>?, dHidden dh: UnsafePointer<S>, dCell dc: UnsafeMutablePointer<S>,
        dGates da: UnsafeMutablePointer<S>, batch: Int, hiddenSize h: Int
    ) {
        @inline(__always) func run(_ extra: (Int) -> S) {
            for n in 0..<batch {
                let row = g + n * 4 * h, drow = da + n * 4 * h, off = n * h
                for j in 0..<h {
                    let ig = row[j], fg = row[h + j], gg = row[2 * h + j], og = row[3 * h + j]
                    let tc = S.tanh(cCur[off + j])
                    let dhT = dh[off + j] + extra(off + j)
                    let dcT = dc[off + j] + dhT * og * (1 - tc * tc)
                    drow[j] = dcT * gg * ig * (1 - ig)
                    drow[h + j] = dcT * cPrev[off + j] * fg * (1 - fg)
                    drow[2 * h + j] = dcT * ig * (1 - gg * gg)
                    drow[3 * h + j] = dhT * tc * og * (1 - og)
                    dc[off + j] = dcT * fg
                }
            }
        }
        if let dOutput { run { dOutput[$0] } } else { run { _ in 0 } }
    }

    /// The GRU step after its products: `gates` (`batch x 3H`) holds the input side
    /// `W_i x + b_i` and is overwritten with [r z n]; `recurrent` (`batch x 3H`) is
    /// `W_hh h_prev + b_hh`. `r = σ(a_r + q_r)`, `z = σ(a_z + q_z)`, `n = tanh(a_n + r q_n)`,
    /// `h = (1 - z) n + z h_prev`; `recurrentN` (`batch x H`) keeps q_n for the backward step.
    @inlinable package static func gruCellForward<S: BLASScalar>(
        gates a: UnsafeMutablePointer<S>, recurrent q: UnsafePointer<S>, hiddenPrevious hPrev: UnsafePointer<S>,
        hidden hCur: UnsafeMutablePointer<S>, recurrentN hn: UnsafeMutablePointer<S>,
        batch: Int, hiddenSize h: Int
    ) {
        for n in 0..<batch {
            let row = a + n * 3 * h, qrow = q + n * 3 * h, off = n * h
            for j in 0..<h {
                let r = sigmoid(row[j] + qrow[j])
                let z = sigmoid(row[h + j] + qrow[h + j])
                let qn = qrow[2 * h + j]
                let nn = S.tanh(row[2 * h + j] + r * qn)
                row[j] = r; row[h + j] = z; row[2 * h + j] = nn
                hn[off + j] = qn
                hCur[off + j] = (1 - z) * nn + z * hPrev[off + j]
            }
        }
    }

    /// The GRU step's backward before its products, with `dhT = dHidden + dOutput` (`dOutput`
    /// may be nil): `da_n = dhT (1-z)(1-n²)`, `da_z = dhT (h_prev - n) z(1-z)`,
    /// `da_r = da_n q_n r(1-r)`; writes `dPre = [da_r da_z da_n]` (the input side),
    /// `dRecurrent = [da_r da_z da_n r]` (the recurrent projection) and `dHidden = dhT z`, the
    /// direct carry to step t-1, to which the caller adds `dRecurrent W_hh`.
    @inlinable package static func gruCellBackward<S: BLASScalar>(
        gates g: UnsafePointer<S>, hiddenPrevious hPrev: UnsafePointer<S>, recurrentN hn: UnsafePointer<S>,
        dOutput: UnsafePointer<S>?, dHidden dh: UnsafeMutablePointer<S>, dPre dp: UnsafeMutablePointer<S>,
        dRecurrent dq: UnsafeMutablePointer<S>, batch: Int, hiddenSize h: Int
    ) {
        @inline(__always) func run(_ extra: (Int) -> S) {
            for n in 0..<batch {
                let row = g + n * 3 * h, prow = dp + n * 3 * h, qrow = dq + n * 3 * h, off = n * h
                for j in 0..<h {
                    let r = row[j], z = row[h + j], nn = row[2 * h + j]
                    let dhT = dh[off + j] + extra(off + j)
                    let dan = dhT * (1 - z) * (1 - nn * nn)
                    let daz = dhT * (hPrev[off + j] - nn) * z * (1 - z)
                    let dar = dan * hn[off + j] * r * (1 - r)
                    prow[j] = dar; prow[h + j] = daz; prow[2 * h + j] = dan
                    qrow[j] = dar; qrow[h + j] = daz; qrow[2 * h + j] = dan * r
                    dh[off + j] = dhT * z
                }
            }
        }
        if let dOutput { run { dOutput[$0] } } else { run { _ in 0 } }
    }
}
