// `moduli bench sparse`: times the W_hh products of the sparse kernels (CSR, block-sparse) against
// dense OpenBLAS (sgemv, sgemm) on random masks or on the mask of a trained run, optionally PyTorch's
// sparse CSR product too. Reference: BENCHMARKS.md, "Sparse kernels".
import Foundation
import Formats
import Geometry
import Linalg
import NN
import Sparsity

/// Timing of the sparse W_hh kernels against dense OpenBLAS.
public enum SparseKernelBenchmark {
    /// Which product is timed.
    public enum Kernel: String, Sendable, CaseIterable {
        /// The forward step: y = W x (batch 1), pre += h W^T (rows) or preT += W hT (columns).
        case forward
        /// The backward step: W^T x (batch 1), dH = dPre W (rows) or dHT = W^T dPreT (columns).
        case backward
        /// The weight gradient of a sequence of `steps` steps: dense GEMM vs the SDDMM at the pattern.
        case gradient
    }

    /// The layout of batched states.
    public enum Layout: String, Sendable, CaseIterable {
        /// B x H states (`RecurrentProduct.forward`).
        case rows
        /// H x B states (`RecurrentProduct.forwardTransposed`).
        case columns
    }

    /// A W_hh to time: `weight` (zeros are pruned) for dense and CSR, `blockWeight` (the same
    /// weight with its neurons reordered along the manifold, or the same one) for the block format.
    public struct Workload: Sendable {
        /// W_hh, H x H (zeros pruned).
        public var weight: Matrix<Float>
        /// The weight the block format is built from.
        public var blockWeight: Matrix<Float>
        /// Where the mask came from, for the table.
        public var source: String
        /// Fraction of zero entries.
        public var sparsity: Double {
            Double(weight.scalars.lazy.filter { $0 == 0 }.count) / Double(max(1, weight.count))
        }
    }

    /// One row of the table (times in milliseconds, median of the repeats).
    public struct Row: Codable, Sendable {
        public var hidden: Int
        public var sparsity: Double
        public var batch: Int
        public var kernel: String
        public var layout: String
        public var denseMilliseconds: Double
        public var csrMilliseconds: Double
        public var blockMilliseconds: Double
        /// Stored values of the block format over kept entries (1 = no padding).
        public var blockFill: Double
        public var pytorchMilliseconds: Double?
        public var source: String
    }

    /// A random `hidden x hidden` weight, normal(0, 1/sqrt(H)), with exactly round(sparsity * H^2)
    /// entries set to 0 (chosen uniformly).
    public static func randomWorkload(hidden: Int, sparsity: Double, seed: UInt64) -> Workload {
        var rng = SeededGenerator(seed: seed)
        let n = hidden * hidden, std = 1 / Double(hidden).squareRoot()
        var w = Matrix<Float>(rows: hidden, columns: hidden) { _, _ in Float(rng.normal(std: std)) }
        let pruned = Int((sparsity * Double(n)).rounded())
        // Partial Fisher-Yates: the first `pruned` entries of a random permutation.
        var index = Array(0..<n)
        for k in 0..<pruned {
            let j = k + Int(rng.next() % UInt64(n - k))
            index.swapAt(k, j)
            w.scalars[index[k]] = 0
        }
        return Workload(weight: w, blockWeight: w, source: "random")
    }

    /// A geometric `hidden x hidden` weight: neurons at uniform random places on the flat torus
    /// (side 10), each row keeping its round((1 - sparsity) * H) nearest neurons (itself included;
    /// ties by index), values normal(0, 1/sqrt(H)): the local connectivity a moduli penalty drives
    /// towards. CSR gets the neurons in their random order, the block format in `NeuronOrdering` order.
    public static func geometricWorkload(hidden: Int, sparsity: Double, seed: UInt64) -> Workload {
        var rng = SeededGenerator(seed: seed)
        let embedding = NeuronEmbedding.sample(space: FlatTorus(dimension: 2), count: hidden, rng: &rng)
        let keep = Int(((1 - sparsity) * Double(hidden)).rounded()), std = 1 / Double(hidden).squareRoot()
        var w = Matrix<Float>(rows: hidden, columns: hidden)
        var d = [Double](repeating: 0, count: hidden)
        embedding.positions.withUnsafeBufferPointer { pp in
            let p = pp.baseAddress!
            for i in 0..<hidden {
                d.withUnsafeMutableBufferPointer {
                    embedding.space.distances(from: p + 2 * i, to: p, stride: 2, count: hidden, into: $0.baseAddress!)
                }
                let nearest = (0..<hidden).sorted { (d[$0], $0) < (d[$1], $1) }.prefix(keep)
                for j in nearest { w[i, j] = Float(rng.normal(std: std)) }
            }
        }
        let order = NeuronOrdering.order(embedding)
        return Workload(weight: w, blockWeight: NeuronOrdering.permuted(w, by: order), source: "geometric (torus nearest neighbours)")
    }

    /// W_hh of a trained run directory (`rnn.weight_hh_l0` in model.safetensors, zeros pruned) and,
    /// if the run has positions.npy and names its space in config.json, the same weight with
    /// its neurons in `NeuronOrdering` order for the block format. Errors name the file and the problem.
    public static func trainedWorkload(runDirectory: String) throws -> Workload {
        let dir = URL(fileURLWithPath: runDirectory)
        let modelPath = dir.appendingPathComponent("model.safetensors").path
        let hint = "--mask-from needs a trained run directory with model.safetensors (and positions.npy for the ordering)."
        let tensors = try ModelFiles.read(
            modelPath, maximumBytes: 1 << 34, missingHint: hint,
            remedy: "Restore it from a copy, or train the run again: moduli train --config \(runDirectory)/config.json --out NEW_DIRECTORY."
        ).tensors
        guard let t = tensors.first(where: { $0.name == "rnn.weight_hh_l0" }) else {
            throw ExperimentError("\(modelPath) has no tensor rnn.weight_hh_l0 (it has \(tensors.map(\.name).joined(separator: ", "))).")
        }
        guard t.shape.count == 2, t.shape[0] == t.shape[1], t.shape[0] > 0 else {
            throw ExperimentError(
                "\(modelPath): rnn.weight_hh_l0 has shape \(t.shape); the benchmark needs a square H x H W_hh (an Elman layer).")
        }
        let h = t.shape[1]
        let weight = Matrix<Float>(rows: h, columns: h, scalars: t.scalars.map { Float($0) })
        let positionsPath = dir.appendingPathComponent("positions.npy").path
        guard FileManager.default.fileExists(atPath: positionsPath) else {
            return Workload(weight: weight, blockWeight: weight, source: "\(runDirectory) (no positions.npy: not reordered)")
        }
        let positions: Matrix<Float>
        do {
            positions = try NPYFile.decode(RunDirectory.readFile(atPath: positionsPath, maximumBytes: 1 << 30, hint: hint))
        } catch let e as ExperimentError {
            throw e
        } catch {
            throw ExperimentError("Cannot read \(positionsPath): \(error).")
        }
        guard positions.rows == h else {
            throw ExperimentError("\(positionsPath) has \(positions.rows) positions, but W_hh in \(modelPath) has \(h) neurons.")
        }
        let configPath = dir.appendingPathComponent("config.json").path
        let config = try RunDirectory.readFile(atPath: configPath, maximumBytes: 16 << 20, hint: hint)
        guard let root = try? JSONSerialization.jsonObject(with: config) as? [String: Any],
            let training = root["training"] as? [String: Any], let regularizer = training["regularizer"] as? [String: Any],
            let name = regularizer["space"] as? String
        else {
            throw ExperimentError("\(configPath) does not name the run's space (training.regularizer.space).")
        }
        let space: any ModuliSpace
        do { space = try ModuliSpaces.named(name) } catch {
            throw ExperimentError("\(configPath): space \(name) is not a moduli space with positions (\(error)).")
        }
        guard positions.columns == space.coordinateCount else {
            throw ExperimentError(
                "\(positionsPath) has \(positions.columns) coordinates per neuron; \(name) points have \(space.coordinateCount).")
        }
        let embedding = NeuronEmbedding(space: space, positions: positions.converted(to: Double.self))
        let order = NeuronOrdering.order(embedding)
        return Workload(
            weight: weight, blockWeight: NeuronOrdering.permuted(weight, by: order),
            source: "\(runDirectory) (\(name), block format in \(NeuronOrdering.method(for: space).rawValue) order)")
    }

    /// Median seconds per call of each body over `repeats` rounds, after one warm-up call each; a
    /// round takes one sample of every body in turn (so that a change in the machine's load hits
    /// all of them alike), and a sample runs its body often enough to last about 20 ms (monotonic clock).
    public static func time(repeats: Int, _ bodies: [() -> Void]) -> [Double] {
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        let inner = bodies.map { body -> Int in
            body()
            let once = seconds(clock.measure(body))
            return max(1, Int(0.02 / max(once, 1e-9)))
        }
        var samples = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<max(1, repeats) {
            for (k, body) in bodies.enumerated() {
                let d = clock.measure { for _ in 0..<inner[k] { body() } }
                samples[k].append(seconds(d) / Double(inner[k]))
            }
        }
        return samples.map { $0.sorted()[$0.count / 2] }
    }

    /// Times dense OpenBLAS, CSR and the block format on one workload.
    public static func measure(
        _ workload: Workload, batch: Int, kernel: Kernel, layout: Layout, steps: Int,
        blockShape: (rows: Int, columns: Int), repeats: Int, seed: UInt64
    ) -> Row {
        let w = workload.weight, h = w.rows
        let csr = CSRMatrix(w)
        // The backward products gather on a CSR copy of W^T, as `SparseWeightProduct` runs them.
        let csrT = kernel == .backward ? CSRMatrix(w.transposed()) : csr
        let block = BlockSparseMatrix(workload.blockWeight, blockRows: blockShape.rows, blockColumns: blockShape.columns)
        var rng = SeededGenerator(seed: seed)
        let rowsIn = kernel == .gradient ? steps * batch : batch
        let x: Matrix<Float> = rng.normalMatrix(rows: rowsIn, columns: h)  // B x H (or H x B: same size)
        let x2: Matrix<Float> = rng.normalMatrix(rows: rowsIn, columns: h)
        var y = Matrix<Float>(rows: max(batch, kernel == .gradient ? h : batch), columns: h)
        var workspace = [Float](repeating: 0, count: max(csr.workspaceCount, block.workspaceCount))
        var dense = 0.0, sparse = 0.0, blocked = 0.0
        w.withUnsafeBufferPointer { pw in
            x.withUnsafeBufferPointer { px in
                x2.withUnsafeBufferPointer { px2 in
                    y.withUnsafeMutableBufferPointer { py in
                        workspace.withUnsafeMutableBufferPointer { pws in
                            let a = pw.baseAddress!, xp = px.baseAddress!, x2p = px2.baseAddress!, yp = py.baseAddress!,
                                ws = pws.baseAddress!
                            switch (kernel, batch == 1 ? nil : layout) {
                            case (.forward, nil):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemv(
                                                .noTranspose, m: h, n: h, alpha: 1, a: a, lda: h, x: xp, incx: 1, beta: 1, y: yp, incy: 1)
                                        },
                                        { csr.multiply(xp, into: yp, accumulate: true) },
                                        { block.multiply(xp, into: yp, accumulate: true) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.backward, nil):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemv(
                                                .transpose, m: h, n: h, alpha: 1, a: a, lda: h, x: xp, incx: 1, beta: 0, y: yp, incy: 1)
                                        },
                                        { csrT.multiply(xp, into: yp, accumulate: false) },
                                        { block.multiplyTransposed(xp, into: yp, accumulate: false) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.forward, .rows?):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemm(
                                                .noTranspose, .transpose, m: batch, n: h, k: h, alpha: 1, a: xp, lda: h, b: a, ldb: h,
                                                beta: 1, c: yp, ldc: h)
                                        },
                                        { csr.multiplyRows(xp, batch: batch, into: yp, accumulate: true, workspace: ws) },
                                        { block.multiplyRows(xp, batch: batch, into: yp, accumulate: true, workspace: ws) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.forward, .columns?):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemm(
                                                .noTranspose, .noTranspose, m: h, n: batch, k: h, alpha: 1, a: a, lda: h, b: xp, ldb: batch,
                                                beta: 1, c: yp, ldc: batch)
                                        },
                                        { csr.multiplyColumns(xp, batch: batch, into: yp, accumulate: true) },
                                        { block.multiplyColumns(xp, batch: batch, into: yp, accumulate: true) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.backward, .rows?):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemm(
                                                .noTranspose, .noTranspose, m: batch, n: h, k: h, alpha: 1, a: xp, lda: h, b: a, ldb: h,
                                                beta: 0, c: yp, ldc: h)
                                        },
                                        { csrT.multiplyRows(xp, batch: batch, into: yp, accumulate: false, workspace: ws) },
                                        { block.multiplyTransposedRows(xp, batch: batch, into: yp, accumulate: false, workspace: ws) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.backward, .columns?):
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemm(
                                                .transpose, .noTranspose, m: h, n: batch, k: h, alpha: 1, a: a, lda: h, b: xp, ldb: batch,
                                                beta: 0, c: yp, ldc: batch)
                                        },
                                        { csrT.multiplyColumns(xp, batch: batch, into: yp, accumulate: false) },
                                        { block.multiplyTransposedColumns(xp, batch: batch, into: yp, accumulate: false) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            case (.gradient, _):
                                let n = rowsIn
                                let t = time(
                                    repeats: repeats,
                                    [
                                        {
                                            Float.gemmSlicedK(
                                                .transpose, .noTranspose, m: h, n: h, k: n, alpha: 1, a: xp, lda: h, b: x2p, ldb: h,
                                                beta: 1, c: yp, ldc: h)
                                        },
                                        { csr.addSampledProduct(xp, x2p, count: n, into: yp, ldg: h, workspace: ws) },
                                        { block.addSampledProduct(xp, x2p, count: n, into: yp, ldg: h, workspace: ws) }
                                    ])
                                (dense, sparse, blocked) = (t[0], t[1], t[2])
                            }
                        }
                    }
                }
            }
        }
        return Row(
            hidden: h, sparsity: workload.sparsity, batch: batch, kernel: kernel.rawValue,
            layout: batch == 1 ? "-" : layout.rawValue, denseMilliseconds: 1000 * dense,
            csrMilliseconds: 1000 * sparse, blockMilliseconds: 1000 * blocked,
            blockFill: Double(block.storedCount) / Double(max(1, block.keptCount)), pytorchMilliseconds: nil,
            source: workload.source)
    }

    /// Times `torch.sparse_csr_tensor @ dense` on the same weight (written to a temporary .npy),
    /// batch and thread count, with Tools/bench_sparse_torch.py run by `python`. Returns
    /// milliseconds, or an error naming what failed.
    public static func pytorch(
        python: String, script: String, workload: Workload, batch: Int, threads: Int,
        repeats: Int
    ) throws -> Double {
        guard FileManager.default.isReadableFile(atPath: script) else {
            throw ExperimentError("--pytorch: the script \(script) is missing (run from the repository root, or pass --pytorch-script).")
        }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(
            "moduli-bench-sparse-\(ProcessInfo.processInfo.processIdentifier).npy")
        try NPYFile.write(workload.weight, to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--weight", tmp.path, "--batch", "\(batch)", "--threads", "\(threads)", "--repeats", "\(repeats)"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw ExperimentError("--pytorch: cannot run \(python): \(error.localizedDescription)") }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ExperimentError(
                """
                --pytorch: \(python) \(script) exited with status \(process.terminationStatus): \
                \(String(decoding: errors, as: UTF8.self).suffix(500))
                """
            )
        }
        let text = String(decoding: output, as: UTF8.self)
        guard let line = text.split(separator: "\n").last, let ms = Double(line.trimmingCharacters(in: .whitespaces)) else {
            throw ExperimentError("--pytorch: \(script) printed no time (output: \(text.suffix(200))).")
        }
        return ms
    }
}
