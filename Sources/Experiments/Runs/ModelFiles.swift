// Reading model files back (a run's model.safetensors, the files `moduli export` writes): size
// checked before reading, checksum over the whole file checked before any value is used.
import Foundation
import Formats
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import NN

/// The rules every reader of a model file follows.
///
/// A model file of this version carries a `format` (`denseFormat`, or `SparseModelFile.format`)
/// and a checksum over the whole file, header and data (`SafeTensors`); a file with a format of
/// this version and no such checksum is refused. Files written before whole-file checksums (a
/// dense model.safetensors without format or checksum; exports with a checksum over the data
/// only; sparse files of format `moduli-sparse-csr-1`) are still read, with a warning on stderr:
/// their header cannot be checked. Such a file is recognized by its metadata holding nothing but
/// the keys those versions wrote, so that no change of a single byte (a renamed `checksum` key,
/// say) turns a file of this version into an unchecked one.
public enum ModelFiles {
    /// The `format` of a dense model file (model.safetensors, `moduli export --dense`).
    public static let denseFormat = "moduli-model-1"
    /// The metadata keys that model files of earlier versions hold.
    static let legacyKeys: Set<String> = ["task", "version", "neuron_order", "checksum", "format", "sparse_shapes"]
    /// The formats of earlier versions (none for a dense file).
    static let legacyFormats: Set<String> = ["moduli-sparse-csr-1"]

    /// The tensors and metadata of the model file at `path`: a regular file of at most
    /// `maximumBytes`, a valid safetensors file whose checksum covers the whole file (or an
    /// older file, see the type). Errors name the path, say what is wrong and end with `remedy`.
    public static func read(_ path: String, maximumBytes: Int, missingHint: String, remedy: String) throws
        -> (tensors: [NamedTensor], metadata: [String: String])
    {
        let data = try RunDirectory.readFile(atPath: path, maximumBytes: maximumBytes, hint: missingHint)
        let tensors: [NamedTensor], metadata: [String: String]
        do { (tensors, metadata) = try SafeTensors.decode(data) } catch let e as SafeTensorsError {
            throw ExperimentError("\(path) is corrupt: \(e.description). \(remedy)")
        }
        if let warning = try check(metadata, path: path, remedy: remedy) { Diagnostics.warn(warning) }
        return (tensors, metadata)
    }

    /// Checks the checksum coverage of a decoded model file's metadata: nil when it covers the
    /// whole file, a warning for a file of an earlier version, an error otherwise.
    static func check(_ metadata: [String: String], path: String, remedy: String) throws -> String? {
        if SafeTensors.checksumCoverage(metadata) == .wholeFile { return nil }
        let unknown = metadata.keys.filter { !legacyKeys.contains($0) }.sorted()
        let format = metadata["format"]
        if unknown.isEmpty, format.map(legacyFormats.contains) ?? true {
            return
                """
                \(path) was written by an earlier moduli, without a checksum over its header: its dtypes, shapes and metadata are \
                read unchecked.
                """
        }
        let why =
            format.map {
                """
                its format \($0) needs a checksum over the whole file, and it has \
                \(metadata[SafeTensors.checksumKey] == nil ? "none" : "one over its data only")
                """
            }
            ?? "its metadata holds keys no moduli model file has (\(unknown.joined(separator: ", ")))"
        throw ExperimentError("\(path) is corrupt: \(why); the file was changed after it was written. \(remedy)")
    }
}

/// Messages on stderr that do not stop the command.
public enum Diagnostics {
    /// Writes "warning: `text`" and a newline to stderr, ignoring failures (a closed stderr).
    public static func warn(_ text: String) {
        let line = Array("warning: \(text)\n".utf8)
        line.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = write(2, base + offset, raw.count - offset)
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                return
            }
        }
    }
}
