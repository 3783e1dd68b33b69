// A fully connected layer y = x W^T + b, forward and backward. Reference: torch.nn.Linear.
import Compute
import Linalg
import Synchronization

/// A fully connected layer: `y = x W^T + b`, W is `O x I` (PyTorch layout).
public struct Linear: Sendable {
    /// Input features I.
    public let inputSize: Int
    /// Output features O.
    public let outputSize: Int
    /// `O x I`, named `<name>.weight`.
    public let weight: ParameterSlot
    /// `O`, named `<name>.bias`, if the layer has a bias.
    public let bias: ParameterSlot?
    /// The products with the weight (dense GEMMs until replaced), shared by every copy of the layer.
    private let table: LinearProduct

    /// Registers `<name>.weight` (and `<name>.bias`) with PyTorch's default initialisation
    /// U(-1/sqrt(I), 1/sqrt(I)) unless another is given.
    public init<S: BLASScalar>(
        inputSize: Int, outputSize: Int, bias: Bool = true, name: String,
        in store: ParameterStore<S>, rng: inout SeededGenerator,
        weightInit: Initialization? = nil, biasInit: Initialization? = nil
    ) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        let d = Initialization.pytorchDefault(fanIn: inputSize)
        weight = store.add("\(name).weight", shape: [outputSize, inputSize], weightInit ?? d, rng: &rng)
        self.bias = bias ? store.add("\(name).bias", shape: [outputSize], biasInit ?? d, rng: &rng) : nil
        table = LinearProduct(DenseWeightProduct(weight: weight, outputs: outputSize, inputs: inputSize))
    }

    /// A layer over slots registered already, e.g. a decoder whose weight is an embedding's
    /// (weight tying): `weight` must be `outputSize x inputSize`, `bias` `outputSize`.
    public init<S: BLASScalar>(sharing weight: ParameterSlot, bias: ParameterSlot?, in store: ParameterStore<S>) {
        let shape = store.info(weight).shape
        precondition(shape.count == 2, "Linear(sharing:) needs a matrix, got shape \(shape)")
        precondition(bias.map { store.info($0).shape == [shape[0]] } ?? true, "Linear(sharing:): the bias must have \(shape[0]) entries")
        self.outputSize = shape[0]
        self.inputSize = shape[1]
        self.weight = weight
        self.bias = bias
        table = LinearProduct(DenseWeightProduct(weight: weight, outputs: shape[0], inputs: shape[1]))
    }

    /// Runs the layer's products through `product` from now on (it must multiply this layer's
    /// weight, `O x I`): a `SparseWeightProduct` runs them on the kept entries of the weight's mask
    /// (dense GEMMs while the weight is unmasked or denser than its threshold), a
    /// `DenseWeightProduct` on OpenBLAS GEMMs again. Copies of the layer share the product; it
    /// follows the store's versions of the weight.
    public func replaceProduct(_ product: any WeightProduct) {
        precondition(
            product.multiplies(weight, outputs: outputSize, inputs: inputSize),
            "Linear.replaceProduct: the product multiplies another weight")
        table.product.withLock { $0 = product }
    }

    /// The products in use.
    public var product: any WeightProduct { table.product.withLock { $0 } }

    /// `y = x W^T + b` on a backend: `x` holds `rows x I`, `y` receives `rows x O`. The layer's
    /// one forward pass; the `Matrix` entry points run it on the CPU backend.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func forward<Backend: ComputeBackend>(
        _ x: ComputeBuffer<Backend.Scalar>, rows: Int, into y: ComputeBuffer<Backend.Scalar>, _ parameters: ParameterBuffers<Backend>
    ) throws {
        try product.forward(x, batch: rows, into: y, accumulate: false, parameters)
        if let bias { try parameters.backend.addRowVector(y, rows: rows, columns: outputSize, parameters.value(bias)) }
    }

    /// The backward pass on a backend: `dW += dY^T x` (only at the kept entries on sparse kernels;
    /// the optimizer masks the others) and `db += colsum(dY)` into the gradients, then, when `dX`
    /// is given, `dX = dY W` (`rows x I`). The layer's one backward pass.
    @_specialize(where Backend == CPUBackend<Float>)  // callers in other modules would otherwise run generic code
    @_specialize(where Backend == CPUBackend<Double>)
    public func backward<Backend: ComputeBackend>(
        input x: ComputeBuffer<Backend.Scalar>, dOutput dY: ComputeBuffer<Backend.Scalar>, rows: Int,
        dInput dX: ComputeBuffer<Backend.Scalar>?, _ parameters: ParameterBuffers<Backend>
    ) throws {
        let product = product
        try product.accumulateWeightGradient(dY, input: x, rows: rows, parameters)
        if let bias { try parameters.backend.addColumnSums(dY, rows: rows, columns: outputSize, into: parameters.gradient(bias)) }
        if let dX { try product.backward(dY, batch: rows, into: dX, accumulate: false, parameters) }
    }

    /// Writes `x W^T + b` into a preallocated `N x O` matrix (no allocation).
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ x: Matrix<S>, _ store: ParameterStore<S>, into y: inout Matrix<S>) {
        precondition(x.columns == inputSize, "Linear expects \(inputSize) input features, got \(x.columns)")
        precondition(
            y.rows == x.rows && y.columns == outputSize,
            "Linear.forward: output is \(y.rows) x \(y.columns), expected \(x.rows) x \(outputSize)")
        let cpu = CPUBackend(S.self)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                onHost("Linear.forward") {
                    try forward(cpu.buffer(over: px), rows: x.rows, into: cpu.buffer(over: py), store.buffers(on: cpu))
                }
            }
        }
    }

    /// Adds dW += dY^T x and db += colsum(dY) into the store and writes dX = dY W into a
    /// preallocated `N x I` matrix (no allocation).
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        input x: Matrix<S>, dOutput dY: Matrix<S>, _ store: ParameterStore<S>,
        dInput dX: inout Matrix<S>
    ) {
        checkBackward(input: x, dOutput: dY)
        precondition(
            dX.rows == x.rows && dX.columns == inputSize,
            "Linear.backward: dInput is \(dX.rows) x \(dX.columns), expected \(x.rows) x \(inputSize)")
        let cpu = CPUBackend(S.self)
        x.withUnsafeBufferPointer { px in
            dY.withUnsafeBufferPointer { pdy in
                dX.withUnsafeMutableBufferPointer { pdx in
                    onHost("Linear.backward") {
                        try backward(
                            input: cpu.buffer(over: px), dOutput: cpu.buffer(over: pdy), rows: x.rows, dInput: cpu.buffer(over: pdx),
                            store.buffers(on: cpu))
                    }
                }
            }
        }
    }

    /// x: N x I -> y: N x O.
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func forward<S: BLASScalar>(_ x: Matrix<S>, _ store: ParameterStore<S>) -> Matrix<S> {
        var y = Matrix<S>(rows: x.rows, columns: outputSize) { _ in }  // fresh storage, written whole by the GEMM (beta 0)
        forward(x, store, into: &y)
        return y
    }

    /// Adds dW += dY^T x and db += colsum(dY) into the store; returns dX = dY W (N x I) when
    /// `needInputGradient`, else an empty matrix.
    @discardableResult
    @_specialize(where S == Float)  // callers in other modules would otherwise run generic code (~20x slower)
    @_specialize(where S == Double)
    public func backward<S: BLASScalar>(
        input x: Matrix<S>, dOutput dY: Matrix<S>, _ store: ParameterStore<S>,
        needInputGradient: Bool = true
    ) -> Matrix<S> {
        guard needInputGradient else {
            checkBackward(input: x, dOutput: dY)
            let cpu = CPUBackend(S.self)
            x.withUnsafeBufferPointer { px in
                dY.withUnsafeBufferPointer { pdy in
                    onHost("Linear.backward") {
                        try backward(
                            input: cpu.buffer(over: px), dOutput: cpu.buffer(over: pdy), rows: x.rows, dInput: nil, store.buffers(on: cpu))
                    }
                }
            }
            return Matrix<S>(rows: 0, columns: inputSize)
        }
        var dX = Matrix<S>(rows: x.rows, columns: inputSize) { _ in }  // fresh storage, written whole by the GEMM (beta 0)
        backward(input: x, dOutput: dY, store, dInput: &dX)
        return dX
    }

    /// Stops with a message unless `x` and `dY` have this layer's shapes and agree in rows.
    private func checkBackward<S: BLASScalar>(input x: Matrix<S>, dOutput dY: Matrix<S>) {
        precondition(x.columns == inputSize, "Linear.backward expects \(inputSize) input features, got \(x.columns)")
        precondition(
            dY.rows == x.rows && dY.columns == outputSize,
            "Linear.backward: dOutput is \(dY.rows) x \(dY.columns), expected \(x.rows) x \(outputSize)")
    }
}

/// The products of a `Linear` layer and its copies (a class, so that every copy sees a replacement).
private final class LinearProduct: Sendable {
    let product: Mutex<any WeightProduct>
    init(_ product: any WeightProduct) { self.product = Mutex(product) }
}
