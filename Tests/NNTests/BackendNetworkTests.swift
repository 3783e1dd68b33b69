// The recurrent stack on the compute backend (buffers from a workspace, layer inputs as views)
// against the same stack on matrices, whose gradients the finite-difference and PyTorch tests
// check: the two must agree to the bit, in Float and Double, for every cell kind, in both step
// layouts of the Elman layer, with and without initial states and output gradients.
import Testing
import Compute
import Linalg
import _TestSupport
import NN

@Suite struct BackendNetworkTests {
    func check<S: BLASScalar>(_ kind: CellKind, batch b: Int, given: Bool, _: S.Type) throws {
        let (i, h, t) = (3, 5, 4)
        var rng = SeededGenerator(seed: 41)
        let store = ParameterStore<S>()
        let net = RecurrentNetwork(kind: kind, inputSize: i, hiddenSize: h, layerCount: 2, in: store, rng: &rng)
        let x: Matrix<S> = rng.normalMatrix(rows: t * b, columns: i)
        let dOutput: Matrix<S> = given ? rng.normalMatrix(rows: t * b, columns: h) : Matrix(rows: 0, columns: h)
        func states() -> [RecurrentState<S>] {
            (0..<2).map { _ in
                RecurrentState(
                    hidden: rng.normalMatrix(rows: b, columns: h), cell: kind.hasCellState ? rng.normalMatrix(rows: b, columns: h) : nil)
            }
        }
        let initial = given ? states() : nil, dFinal = given ? states() : nil
        let what = "\(kind) B \(b) \(S.self)\(given ? "" : ", no initial state or output gradient")"

        // On matrices.
        store.zeroGradients()
        let caches = net.forward(x, batch: b, initial: initial, store)
        let (dx, d0) = net.backward(caches, dOutput: dOutput, dFinal: dFinal, store, needInputGradient: true)
        let gradients = Array(store.gradients)

        // On the CPU backend.
        store.zeroGradients()
        let cpu = CPUBackend(S.self)
        let count = try #require(net.workspaceCount(steps: t, batch: b))
        var workspace = try cpu.makeWorkspace(count: count)
        func buffers(_ s: [RecurrentState<S>]?) throws -> [StateBuffers<S>]? {
            try s?.map { StateBuffers(hidden: try cpu.buffer($0.hidden.scalars), cell: try $0.cell.map { try cpu.buffer($0.scalars) }) }
        }
        let parameters = store.buffers(on: cpu)
        let cachesB = try net.forward(
            on: parameters, cpu.buffer(x.scalars), steps: t, batch: b, initial: buffers(initial), workspace: &workspace)
        #expect(try cpu.download(cachesB[1].output()) == caches[1].output.scalars, "\(what): top outputs")
        for (k, cache) in cachesB.enumerated() {
            #expect(try cpu.download(cache.final().hidden) == caches[k].final.hidden.scalars, "\(what): final h of layer \(k)")
        }
        let (dxB, d0B) = try net.backward(
            on: parameters, cachesB, dOutput: given ? cpu.buffer(dOutput.scalars) : nil, dFinal: buffers(dFinal), workspace: &workspace,
            needInputGradient: true)
        #expect(Array(store.gradients) == gradients, "\(what): parameter gradients")
        #expect(try cpu.download(try #require(dxB)) == dx.scalars, "\(what): input gradient")
        for k in 0..<2 {
            #expect(try cpu.download(d0B[k].hidden) == d0[k].hidden.scalars, "\(what): initial-state gradient of layer \(k)")
            if let c = d0[k].cell { #expect(try cpu.download(try #require(d0B[k].cell)) == c.scalars, "\(what): dc_0 of layer \(k)") }
        }
        #expect(workspace.highWater <= count, "\(what): the workspace took \(workspace.highWater) of \(count) elements")
    }

    @Test(arguments: [CellKind.rnnTanh, .rnnReLU, .lstm, .gru])
    func matchesTheMatrixPath(kind: CellKind) throws {
        for (batch, given) in [(3, true), (70, true), (3, false)] {
            try check(kind, batch: batch, given: given, Double.self)
            try check(kind, batch: batch, given: given, Float.self)
        }
    }

    /// A layer type without backend passes: the network says which layer, and has no workspace size.
    @Test func layerWithoutBackendPassIsNamed() throws {
        var rng = SeededGenerator(seed: 42)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(kind: .rnnTanh, layers: [SoftsignLayer(inputSize: 2, hiddenSize: 3, name: "s", in: store, rng: &rng)])
        #expect(net.workspaceCount(steps: 2, batch: 2) == nil)
        let cpu = CPUBackend(Double.self)
        var workspace = try cpu.makeWorkspace(count: 1024)
        #expect(throws: ComputeError.self) {
            _ = try net.forward(
                on: store.buffers(on: cpu), try cpu.buffer([Double](repeating: 0, count: 8)), steps: 2, batch: 2, workspace: &workspace)
        }
    }
}
