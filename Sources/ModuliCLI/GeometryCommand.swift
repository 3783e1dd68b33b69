// `moduli geometry`: the statistics of the regularizer's coefficient matrix R (docs/method.md 2.2).
import ArgumentParser
import Experiments
import Foundation
import Sparsity

struct GeometryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geometry",
        abstract: "Print the statistics of the coefficient matrix R for a space, inhibitor and neuron count.",
        discussion: "Example: moduli geometry --space torus --inhibitor inverted-dog --neurons 4096 --seed 1")

    @Option(help: "Moduli space: standard, circle, torus, torus6, klein, sphere, s3, r3, r9, mixedcurv.") var space = "torus"
    @Option(help: "Inhibitor f(d): square, gauss, dog, inverted-dog, ripple, constant.") var inhibitor = "inverted-dog"
    @Flag(help: "Invert R: R = max(R) - R (implied by inverted-dog).") var invert = false
    @Flag(help: "Shuffle the entries of R with the seed.") var permute = false
    @Flag(name: .customLong("change-embed"), help: "Separate positions for rows and columns.") var changeEmbed = false
    @Flag(name: .customLong("strength-matched"), help: "Constant R equal to the mean of the geometric R.") var strengthMatched = false
    @Option(help: "Number of neurons H (R is H x H).") var neurons = 4096
    @Option(help: "Seed, as in a training run with the same --seed.") var seed: UInt64 = 0
    @Option(help: "Write R as a float32 .npy file.") var matrix: String?
    @Option(help: "Write the neuron positions as a float32 .npy file.") var positions: String?
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        if let matrix, let positions, resolvedFilePath(matrix) == resolvedFilePath(positions) {
            throw ValidationError(
                """
                --matrix and --positions name the same file (\(resolvedFilePath(matrix))): the positions would replace R. Give two \
                paths, e.g. --matrix R.npy --positions positions.npy.
                """
            )
        }
    }

    func run() throws {
        guard let f = Inhibitor(name: inhibitor) else {
            throw ValidationError("Unknown --inhibitor \(inhibitor): choose square, gauss, dog, inverted-dog, ripple or constant.")
        }
        let config = RegularizerConfig(
            space: space.lowercased(), inhibitor: f, invert: invert, permute: permute,
            changeEmbed: changeEmbed, strengthMatched: strengthMatched, lambda: 1)
        let result = try GeometryInspection.inspect(config, neurons: neurons, seed: seed, matrixPath: matrix, positionsPath: positions)
        if json {
            print(String(decoding: try RunDirectory.encodeJSON(result), as: UTF8.self), terminator: "")
            return
        }
        let s = result.statistics
        print(
            """
            R for \(space), \
            \(f.rawValue)\(invert ? ", inverted" : "")\(permute ? ", permuted" : "")\(strengthMatched ? ", strength-matched" : ""), H \
            = \(neurons), seed \(seed)
            """
        )
        print(
            String(
                format: "  mean %.4f  median %.4f  min %.4f  max %.4f  std %.4f", s.mean, s.median, s.minimum, s.maximum,
                s.standardDeviation))
        print("  quantiles " + s.quantiles.map { String(format: "%g%%: %.4f", 100 * $0.probability, $0.value) }.joined(separator: "  "))
        print(String(format: "  fraction below 10: %.2f%%", 100 * s.fractionBelow10))
        if let matrix { print("  R written to \(matrix)") }
        if let positions { print("  positions written to \(positions)") }
    }
}

/// The file `path` names, with links and `.`/`..` resolved: the file itself when it exists, else its
/// directory resolved and its name appended (two spellings of one output file compare equal).
func resolvedFilePath(_ path: String) -> String {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    if let real = realpath(url.path, nil) {
        defer { free(real) }
        return String(cString: real)
    }
    let parent = url.deletingLastPathComponent().path
    guard let real = realpath(parent, nil) else { return url.path }
    defer { free(real) }
    return URL(fileURLWithPath: String(cString: real)).appendingPathComponent(url.lastPathComponent).path
}
