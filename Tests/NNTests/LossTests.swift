// Finite-difference checks in Double for MSE, cross-entropy and soft cross-entropy, naive-formula
// values, Float against Double, and extreme logits.
import Testing
import Foundation
import Linalg
import _TestSupport
import NN

/// Naive log-softmax of one row: x - log(sum exp(x)) in Double, no max shift (inputs kept small).
fileprivate func naiveLogSoftmax(_ x: [Double]) -> [Double] {
    let lse = log(x.map { exp($0) }.reduce(0, +))
    return x.map { $0 - lse }
}

@Suite struct LossTests {
    @Test func meanSquaredErrorGradient() {
        var rng = SeededGenerator(seed: 201)
        let p: Matrix<Double> = rng.normalMatrix(rows: 3, columns: 4)
        let t: Matrix<Double> = rng.normalMatrix(rows: 3, columns: 4)
        let (loss, d) = MeanSquaredError.lossAndGradient(prediction: p, target: t)
        let naive = zip(p.scalars, t.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 12
        #expect(abs(loss - naive) < 1e-15)
        let numeric = GradientCheck.numericalGradient(of: p) { MeanSquaredError.lossAndGradient(prediction: $0, target: t).loss }
        #expect(GradientCheck.maxRelativeError(numeric, d.scalars) < 1e-7, "seed 201")
    }

    @Test func crossEntropyGradientAndValue() {
        let (n, c) = (4, 5)
        var rng = SeededGenerator(seed: 202)
        let x: Matrix<Double> = rng.normalMatrix(rows: n, columns: c, std: 2)
        let targets = [0, 3, 4, 3]
        let (loss, d) = CrossEntropy.lossAndGradient(logits: x, targets: targets)
        let naive = (0..<n).map { -naiveLogSoftmax(x.row($0))[targets[$0]] }.reduce(0, +) / Double(n)
        #expect(abs(loss - naive) < 1e-14, "seed 202")
        let numeric = GradientCheck.numericalGradient(of: x) { CrossEntropy.lossAndGradient(logits: $0, targets: targets).loss }
        #expect(GradientCheck.maxRelativeError(numeric, d.scalars) < 1e-7, "seed 202")

        // The preallocated variant, the evaluation and the accuracy agree with the above.
        var into = Matrix<Double>(rows: n, columns: c, repeating: .nan)
        let r = CrossEntropy.lossAndGradient(logits: x, targets: targets, into: &into)
        #expect(into == d && r.loss == loss)
        let argmaxCorrect = (0..<n).filter { row in x.row(row).indices.max { x[row, $0] < x[row, $1] } == targets[row] }.count
        #expect(r.correct == argmaxCorrect)
        #expect(CrossEntropy.evaluate(logits: x, targets: targets) == (loss, argmaxCorrect))
        #expect(CrossEntropy.correctPredictions(logits: x, targets: targets) == argmaxCorrect)
    }

    @Test func crossEntropySingleClassAndAccuracy() {
        // One class: loss 0, gradient 0, always correct.
        let one = CrossEntropy.lossAndGradient(logits: Matrix<Double>(rows: 2, columns: 1, scalars: [3, -7]), targets: [0, 0])
        #expect(one.loss == 0 && one.dLogits.scalars == [0, 0])
        // Ties go to the first largest logit (torch.argmax).
        let x = Matrix<Float>(rows: 3, columns: 3, scalars: [1, 3, 3, 5, 0, 5, 0, 0, 9])
        #expect(CrossEntropy.correctPredictions(logits: x, targets: [1, 0, 2]) == 3)
        #expect(CrossEntropy.correctPredictions(logits: x, targets: [2, 2, 0]) == 0)
    }

    /// Checks the soft cross-entropy value against -sum p log softmax and its gradient by central differences.
    func checkSoft(normalized: Bool, seed: UInt64) {
        let (n, c) = (3, 6)
        var rng = SeededGenerator(seed: seed)
        let x: Matrix<Double> = rng.normalMatrix(rows: n, columns: c, std: 2)
        var p: Matrix<Double> = rng.uniformMatrix(rows: n, columns: c, low: 0, high: 2)
        if normalized {
            for r in 0..<n {
                let s = p.row(r).reduce(0, +)
                for j in 0..<c { p[r, j] /= s }
            }
        }
        let (loss, d) = SoftCrossEntropy.lossAndGradient(logits: x, targets: p)
        let naive = (0..<n).map { r in -zip(p.row(r), naiveLogSoftmax(x.row(r))).map { $0 * $1 }.reduce(0, +) }.reduce(0, +) / Double(n)
        #expect(abs(loss - naive) < 1e-13 * max(1, abs(naive)), "normalized \(normalized) seed \(seed)")
        let numeric = GradientCheck.numericalGradient(of: x) { SoftCrossEntropy.lossAndGradient(logits: $0, targets: p).loss }
        #expect(GradientCheck.maxRelativeError(numeric, d.scalars) < 1e-7, "normalized \(normalized) seed \(seed)")
        // Closed form: (P softmax - p) / N.
        for r in 0..<n {
            let mass = p.row(r).reduce(0, +), ls = naiveLogSoftmax(x.row(r))
            for j in 0..<c { #expect(abs(d[r, j] - (mass * exp(ls[j]) - p[r, j]) / Double(n)) < 1e-15) }
        }
        var into = Matrix<Double>(rows: n, columns: c, repeating: .nan)
        #expect(SoftCrossEntropy.lossAndGradient(logits: x, targets: p, into: &into) == loss && into == d)
        #expect(SoftCrossEntropy.loss(logits: x, targets: p) == loss)
    }

    @Test func softCrossEntropyDistributions() { checkSoft(normalized: true, seed: 203) }
    @Test func softCrossEntropyUnnormalizedTargets() { checkSoft(normalized: false, seed: 204) }

    @Test func softCrossEntropyWithOneHotTargetsIsCrossEntropy() {
        var rng = SeededGenerator(seed: 205)
        let x: Matrix<Double> = rng.normalMatrix(rows: 4, columns: 3)
        let targets = [2, 0, 1, 1]
        let p = Matrix<Double>(rows: 4, columns: 3) { r, c in c == targets[r] ? 1 : 0 }
        let soft = SoftCrossEntropy.lossAndGradient(logits: x, targets: p)
        let hard = CrossEntropy.lossAndGradient(logits: x, targets: targets)
        #expect(abs(soft.loss - hard.loss) < 1e-15)
        #expect(soft.dLogits.maxAbsDifference(hard.dLogits) < 1e-16)
    }

    /// Every loss in Float agrees with Double to Float accuracy.
    @Test func floatMatchesDouble() {
        let (n, c) = (6, 9)
        var rng = SeededGenerator(seed: 206)
        let x: Matrix<Double> = rng.normalMatrix(rows: n, columns: c, std: 3)
        let y: Matrix<Double> = rng.normalMatrix(rows: n, columns: c)
        let p: Matrix<Double> = rng.uniformMatrix(rows: n, columns: c, low: 0, high: 1)
        let targets = (0..<n).map { _ in rng.integer(below: c) }
        let xf: Matrix<Float> = x.converted(), yf: Matrix<Float> = y.converted(), pf: Matrix<Float> = p.converted()
        func close(_ a: (loss: Double, d: Matrix<Double>), _ b: (loss: Double, d: Matrix<Float>), _ what: String) {
            #expect(abs(a.loss - b.loss) < 1e-5 * max(1, abs(a.loss)), "\(what) loss seed 206")
            #expect(GradientCheck.maxRelativeError(a.d.scalars, b.d.scalars.map(Double.init)) < 1e-6, "\(what) gradient seed 206")
        }
        let mse = MeanSquaredError.lossAndGradient(prediction: x, target: y)
        let msef = MeanSquaredError.lossAndGradient(prediction: xf, target: yf)
        close((mse.loss, mse.dPrediction), (msef.loss, msef.dPrediction), "MSE")
        let ce = CrossEntropy.lossAndGradient(logits: x, targets: targets)
        let cef = CrossEntropy.lossAndGradient(logits: xf, targets: targets)
        close((ce.loss, ce.dLogits), (cef.loss, cef.dLogits), "CrossEntropy")
        let soft = SoftCrossEntropy.lossAndGradient(logits: x, targets: p)
        let softf = SoftCrossEntropy.lossAndGradient(logits: xf, targets: pf)
        close((soft.loss, soft.dLogits), (softf.loss, softf.dLogits), "SoftCrossEntropy")
    }

    /// Logits of size 1e4 (exp would overflow without the max shift) give finite, exact results.
    func checkExtremes<S: BLASScalar>(_: S.Type) {
        let x = Matrix<S>(rows: 3, columns: 3, scalars: [1e4, 0, -1e4, -1e4, 1e4, 1e4, 1e4, 1e4, 1e4])
        let ce = CrossEntropy.lossAndGradient(logits: x, targets: [2, 0, 1])
        // Row losses: 2e4, 2e4 + log 2, log 3.
        let expected = (4e4 + log(2.0) + log(3.0)) / 3
        #expect(ce.loss.isFinite && abs(ce.loss - expected) < 1e-9 * expected, "\(S.self) \(ce.loss)")
        #expect(ce.dLogits.scalars.allSatisfy { $0.isFinite })
        let third = S(1) / 3
        let dExpected: [S] = [third, 0, -third, -third, third / 2, third / 2, third / 3, third / 3 - third, third / 3]
        #expect(zip(ce.dLogits.scalars, dExpected).allSatisfy { abs($0 - $1) < S(1e-6) }, "\(S.self) \(ce.dLogits)")
        #expect(CrossEntropy.evaluate(logits: x, targets: [0, 1, 0]).correct == 3)

        let p = Matrix<S>(rows: 3, columns: 3, scalars: [0.5, 0.5, 0, 0, 1, 0, 0.25, 0.25, 0.5])
        let soft = SoftCrossEntropy.lossAndGradient(logits: x, targets: p)
        // Row losses: 0.5 * 1e4, log 2, log 3.
        let softExpected = (5e3 + log(2.0) + log(3.0)) / 3
        #expect(soft.loss.isFinite && abs(soft.loss - softExpected) < 1e-9 * softExpected, "\(S.self) \(soft.loss)")
        #expect(soft.dLogits.scalars.allSatisfy { $0.isFinite })
    }

    @Test func extremeLogitsDouble() { checkExtremes(Double.self) }
    @Test func extremeLogitsFloat() { checkExtremes(Float.self) }

    @Test func invalidTargetStopsWithAMessage() async {
        await #expect(processExitsWith: .failure) {
            _ = CrossEntropy.lossAndGradient(logits: Matrix<Double>(rows: 2, columns: 3), targets: [0, 3])
        }
        await #expect(processExitsWith: .failure) {
            _ = CrossEntropy.lossAndGradient(logits: Matrix<Double>(rows: 2, columns: 3), targets: [-1, 0])
        }
    }
}
