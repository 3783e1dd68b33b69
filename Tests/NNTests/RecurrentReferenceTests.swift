// The recurrent layers (Elman tanh/ReLU, LSTM, GRU) against PyTorch float64 reference values.
// The references come from Tools/References/cells.py (nn.RNN, nn.LSTM, nn.GRU), committed as JSON.
import Foundation
import Testing
import Linalg
import _TestSupport
@testable import NN

@Suite struct RecurrentReferenceTests {
    /// One PyTorch case of References/cells.json; tensors are flat, row-major, time-major.
    struct Case: Decodable {
        struct Tensor: Decodable { let shape: [Int]; let values: [Double] }
        let name: String
        let kind: String
        let layers: Int
        let bias: Bool
        let seed: Int
        let inputSize: Int, hiddenSize: Int, batch: Int, steps: Int
        let input: [Double], h0: [Double], c0: [Double]?
        let lossOutputWeights: [Double], lossHiddenWeights: [Double], lossCellWeights: [Double]?
        let parameters: [String: Tensor]
        let output: [Double], hn: [Double], cn: [Double]?
        let loss: Double
        let gradients: [String: [Double]]
        let dInput: [Double], dH0: [Double], dC0: [Double]?
    }

    struct Document: Decodable { let torch: String; let cases: [Case] }

    static func loadCases() throws -> [Case] {
        let url = try #require(
            Bundle.module.url(forResource: "cells", withExtension: "json", subdirectory: "References"),
            "References/cells.json is missing from the test bundle")
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: url)).cases
    }

    /// Tolerance for float64 agreement with PyTorch (mixed absolute/relative).
    static let tolerance = 1e-10

    @Test func coversEveryCellKind() throws {
        let kinds = Set(try Self.loadCases().map(\.kind))
        #expect(kinds == Set(CellKind.allCases.map(\.rawValue)))
    }

    @Test func matchesPyTorch() throws {
        for c in try Self.loadCases() { try check(c) }
    }

    func check(_ c: Case) throws {
        let kind = try #require(CellKind(rawValue: c.kind), "unknown kind \(c.kind)")
        let (b, h, l) = (c.batch, c.hiddenSize, c.layers)
        var rng = SeededGenerator(seed: 0)
        let store = ParameterStore<Double>()
        let net = RecurrentNetwork(
            kind: kind, inputSize: c.inputSize, hiddenSize: h, layerCount: l, bias: c.bias,
            name: "rnn", in: store, rng: &rng)
        #expect(store.slots.count == c.parameters.count, "\(c.name): parameter count")
        for (name, tensor) in c.parameters {
            let slot = try #require(store.slot(named: "rnn." + name), "\(c.name): no slot rnn.\(name)")
            #expect(store.info(slot).shape == tensor.shape, "\(c.name): shape of \(name)")
            store.setValue(slot, Matrix(rows: 1, columns: tensor.values.count, scalars: tensor.values))
        }

        // Per-layer slices of the (L, B, H) tensors.
        func layerSlice(_ v: [Double], _ k: Int) -> Matrix<Double> {
            Matrix(rows: b, columns: h, scalars: Array(v[(k * b * h)..<((k + 1) * b * h)]))
        }
        let x = Matrix(rows: c.steps * b, columns: c.inputSize, scalars: c.input)
        let h0 = (0..<l).map { k in RecurrentState(hidden: layerSlice(c.h0, k), cell: c.c0.map { layerSlice($0, k) }) }
        let w = Matrix(rows: c.steps * b, columns: h, scalars: c.lossOutputWeights)
        let dFinal = (0..<l).map { k in
            RecurrentState(hidden: layerSlice(c.lossHiddenWeights, k), cell: c.lossCellWeights.map { layerSlice($0, k) })
        }

        store.zeroGradients()
        let caches = net.forward(x, batch: b, initial: h0, store)
        let (dx, d0) = net.backward(caches, dOutput: w, dFinal: dFinal, store, needInputGradient: true)

        func expectClose(_ a: [Double], _ ref: [Double], _ what: String) {
            #expect(a.count == ref.count, "\(c.name) (seed \(c.seed)): \(what) has \(a.count) elements, PyTorch \(ref.count)")
            guard a.count == ref.count else { return }
            let e = GradientCheck.maxRelativeError(a, ref)
            #expect(e < Self.tolerance, "\(c.name) (seed \(c.seed)): \(what) differs from PyTorch by \(e)")
        }
        let finals = net.finalStates(caches)
        expectClose(caches.last!.output.scalars, c.output, "output")
        expectClose(finals.flatMap(\.hidden.scalars), c.hn, "h_n")
        if let cn = c.cn { expectClose(finals.flatMap { $0.cell?.scalars ?? [] }, cn, "c_n") }
        var loss = zip(caches.last!.output.scalars, c.lossOutputWeights).reduce(0) { $0 + $1.0 * $1.1 }
        loss += zip(finals.flatMap(\.hidden.scalars), c.lossHiddenWeights).reduce(0) { $0 + $1.0 * $1.1 }
        if let u = c.lossCellWeights { loss += zip(finals.flatMap { $0.cell?.scalars ?? [] }, u).reduce(0) { $0 + $1.0 * $1.1 } }
        expectClose([loss], [c.loss], "loss")

        for (name, ref) in c.gradients {
            let slot = try #require(store.slot(named: "rnn." + name))
            expectClose(store.gradientMatrix(slot).scalars, ref, "d \(name)")
        }
        expectClose(dx.scalars, c.dInput, "dInput")
        expectClose(d0.flatMap(\.hidden.scalars), c.dH0, "dh_0")
        if let dC0 = c.dC0 { expectClose(d0.flatMap { $0.cell?.scalars ?? [] }, dC0, "dc_0") }
    }
}
