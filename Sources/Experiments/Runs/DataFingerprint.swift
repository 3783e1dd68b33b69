// What a run trained on, recorded so that a later command notices when the data at the recorded
// path has changed (a language run's corpus: other word ids would make its model print wrong words
// and wrong perplexities without any error).
import Foundation

/// A fingerprint of a task's data: named parts (a vocabulary, the token ids of each text), each
/// with its size and a hash. A run whose task has one records it as `data.json` when it starts;
/// `--resume`, `evaluate`, `generate` and `export` compare the data as it is now with the record
/// before they use it. Runs written before this record existed have no data.json: they are read
/// with a warning that their data cannot be checked.
public struct DataFingerprint: Codable, Equatable, Sendable {
    /// One part of the data.
    public struct Part: Codable, Equatable, Sendable {
        /// What it is ("vocabulary", "train.txt").
        public var name: String
        /// How many items it has.
        public var count: Int
        /// What the items are ("words", "tokens").
        public var unit: String
        /// "fnv1a64:<16 hex digits>" of its content.
        public var hash: String

        /// A part from its parts.
        public init(name: String, count: Int, unit: String, hash: String) {
            self.name = name; self.count = count; self.unit = unit; self.hash = hash
        }
    }

    /// What the data is, in words ("the corpus").
    public var kind: String
    /// Where it is read from (a directory), in words.
    public var source: String
    /// The option that names it (`--data`).
    public var option: String
    /// The parts, in a fixed order.
    public var parts: [Part]

    /// A fingerprint from its parts.
    public init(kind: String, source: String, option: String, parts: [Part]) {
        self.kind = kind; self.source = source; self.option = option; self.parts = parts
    }

    /// The file name of the record in a run directory.
    public static let fileName = "data.json"

    /// FNV-1a, 64 bits, of raw bytes, continuing from `h`.
    static func hash(_ bytes: UnsafeRawBufferPointer, continuing h: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = h
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// `h` as "fnv1a64:<16 hex digits>".
    static func hashText(_ h: UInt64) -> String {
        let hex = String(h, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The part `name` over the token ids `ids`.
    static func tokens(_ name: String, _ ids: [Int32]) -> Part {
        let h = ids.map(\.littleEndian).withUnsafeBytes { hash($0) }
        return Part(name: name, count: ids.count, unit: "tokens", hash: hashText(h))
    }

    /// Records `fingerprint` in `run` (a new run).
    static func record(_ fingerprint: DataFingerprint, in run: RunDirectory) throws {
        try run.writeJSON(fingerprint, to: fileName)
    }

    /// Compares `current` (the data as it is now) with the record in the run directory at `path`;
    /// throws when they differ, naming the data, what changed and `remedy`. A run without a
    /// record (written before records were kept) gets a warning on stderr.
    static func verify(_ current: DataFingerprint, runAt path: String, remedy: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            Diagnostics.warn(
                """
                \(path) has no \(fileName) (it was written by an earlier moduli): \(current.kind) at \(current.source) cannot be \
                checked against the one it was trained on.
                """
            )
            return
        }
        let data = try RunDirectory.readFile(
            atPath: url.path, maximumBytes: 1 << 20,
            hint: "Restore it from a copy, or train the run again.")
        let recorded: DataFingerprint
        do { recorded = try JSONDecoder().decode(DataFingerprint.self, from: data) } catch {
            throw ExperimentError(
                """
                Cannot read \(url.path): \(RunDirectory.describe(error)). The file is damaged: restore it from a copy, or train the \
                run again.
                """
            )
        }
        guard recorded != current else { return }
        var changes: [String] = []
        if recorded.source != current.source { changes.append("it was read from \(recorded.source)") }
        let before = Dictionary(recorded.parts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for part in current.parts {
            guard let old = before[part.name] else { changes.append("\(part.name) was not recorded"); continue }
            if old.count != part.count {
                changes.append("\(part.name) has \(part.count) \(part.unit), the run's had \(old.count)")
            } else if old.hash != part.hash {
                changes.append("\(part.name) has the same \(part.count) \(part.unit) in another order or spelling")
            }
        }
        if changes.isEmpty { changes.append("its record differs from \(url.path)") }
        throw ExperimentError(
            """
            \(current.kind.prefix(1).uppercased() + current.kind.dropFirst()) at \(current.source) is not the one the run \(path) was \
            trained on: 
            """
                + changes.joined(separator: "; ")
                + ". The model would read it with other ids than it was trained with, and every result would be wrong. \(remedy)")
    }
}
