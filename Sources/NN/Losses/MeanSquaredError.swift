// Mean squared error with its gradient. Reference: torch.nn.MSELoss (reduction 'mean').
import Compute
import Linalg

/// Mean squared error over all elements: `mean((prediction - target)^2)`.
public enum MeanSquaredError {
    /// The mean of `(prediction - target)^2` over the elements of `prediction` on a backend, and
    /// when `dPrediction` is given dLoss/dPrediction = `2 (prediction - target) / count` there. The
    /// loss's one implementation (`ComputeBackend.squaredError`, summed in Double).
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public static func lossAndGradient<Backend: ComputeBackend>(
        prediction: ComputeBuffer<Backend.Scalar>, target: ComputeBuffer<Backend.Scalar>, into dPrediction: ComputeBuffer<Backend.Scalar>?,
        on backend: Backend
    ) throws -> Double {
        let n = prediction.count
        let scale = Backend.Scalar(2) / Backend.Scalar(n)
        return try backend.squaredError(prediction: prediction, target: target, scale: scale, gradient: dPrediction) / Double(n)
    }

    /// The loss and dLoss/dPrediction = `2 (prediction - target) / count`, on the CPU backend.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public static func lossAndGradient<S: BLASScalar>(prediction: Matrix<S>, target: Matrix<S>) -> (loss: Double, dPrediction: Matrix<S>) {
        precondition(
            prediction.rows == target.rows && prediction.columns == target.columns,
            "MSE: prediction \(prediction.rows) x \(prediction.columns) and target \(target.rows) x \(target.columns) differ")
        let cpu = CPUBackend(S.self)
        var d = Matrix<S>(rows: prediction.rows, columns: prediction.columns) { _ in }  // every element is written
        var loss = 0.0
        prediction.withUnsafeBufferPointer { pp in
            target.withUnsafeBufferPointer { pt in
                d.withUnsafeMutableBufferPointer { pd in
                    onHost("mean squared error") {
                        loss = try lossAndGradient(
                            prediction: cpu.buffer(over: pp), target: cpu.buffer(over: pt), into: cpu.buffer(over: pd), on: cpu)
                    }
                }
            }
        }
        return (loss, d)
    }
}
