// Mean squared error with its gradient. Reference: torch.nn.MSELoss (reduction 'mean').
import Linalg

/// Mean squared error over all elements: `mean((prediction - target)^2)`.
public enum MeanSquaredError {
    /// The loss and dLoss/dPrediction = `2 (prediction - target) / count`.
    public static func lossAndGradient<S: BLASScalar>(prediction: Matrix<S>, target: Matrix<S>) -> (loss: Double, dPrediction: Matrix<S>) {
        precondition(
            prediction.rows == target.rows && prediction.columns == target.columns,
            "MSE: prediction \(prediction.rows) x \(prediction.columns) and target \(target.rows) x \(target.columns) differ")
        let n = prediction.count
        var loss = 0.0
        var d = Matrix<S>(rows: prediction.rows, columns: prediction.columns)
        let scale = S(2) / S(n)
        for i in 0..<n {
            let e = prediction.scalars[i] - target.scalars[i]
            loss += Double(e) * Double(e)
            d.scalars[i] = scale * e
        }
        return (loss / Double(n), d)
    }
}
