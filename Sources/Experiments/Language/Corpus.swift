// The word-level corpus of the language model (docs/method.md section 5), read as PyTorch's
// `word_language_model` example (data.py) reads it; docs/language-corpus.md describes files, split and limits.
import Foundation

/// Token ids of a training, a validation and a test text over one vocabulary.
///
/// A corpus directory holds `train.txt`, `valid.txt` and `test.txt`. Each file is split into lines
/// at `\n`, `\r\n` or `\r` (Python's universal newlines); each line into words at Unicode white space
/// (Python's `str.split()`), and `<eos>` ends every line, an empty one included. The vocabulary
/// gives ids in order of first appearance over train, then valid, then test, as `Dictionary.add_word`
/// does in the example. Every problem with a file is an `ExperimentError` that names it.
public struct Corpus: Sendable {
    /// The words of all three texts.
    public var vocabulary: Vocabulary
    /// The training text's token ids.
    public var train: [Int32]
    /// The validation text's token ids.
    public var valid: [Int32]
    /// The test text's token ids.
    public var test: [Int32]
    /// Where the texts came from, in words (a directory, or the built-in split).
    public var source: String

    /// Bounds that a corpus must keep, checked before reading (file size) and while reading (words).
    public struct Limits: Sendable, Equatable {
        /// The largest file read, in bytes (1 GiB): checked before reading.
        public var maximumFileBytes: Int = 1 << 30
        /// The most words the vocabulary may hold (1,048,576; full WikiText-2 has 33,278).
        public var maximumVocabularySize: Int = 1 << 20
        /// The default limits.
        public init() {}
    }

    /// The three file names of a corpus directory, in vocabulary order.
    public static let fileNames = ["train.txt", "valid.txt", "test.txt"]

    /// A corpus from its parts.
    public init(vocabulary: Vocabulary, train: [Int32], valid: [Int32], test: [Int32], source: String) {
        self.vocabulary = vocabulary; self.train = train; self.valid = valid; self.test = test; self.source = source
    }

    /// Reads `directory`/train.txt, valid.txt and test.txt.
    public init(directory: String, limits: Limits = Limits()) throws {
        try Self.requireDirectory(directory)
        var vocabulary = Vocabulary()
        var texts: [[Int32]] = []
        for name in Self.fileNames {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            texts.append(try Self.tokenizeFile(path, into: &vocabulary, limits: limits).ids)
        }
        self.init(vocabulary: vocabulary, train: texts[0], valid: texts[1], test: texts[2], source: directory)
    }

    /// The corpus in `directory` (nil: the built-in split).
    public static func load(_ directory: String?) throws -> Corpus {
        try directory.map { try Corpus(directory: $0) } ?? builtIn()
    }

    // MARK: The built-in corpus

    /// The share of valid.txt's lines that the built-in corpus trains on (the rest validates).
    public static let builtInTrainFraction = (numerator: 9, denominator: 10)

    /// The built-in corpus: WikiText-2's validation and test files (CC BY-SA 3.0, notice in the
    /// README.md beside them), as a resource of this module.
    ///
    /// Train is the first `floor(9 * L / 10)` lines of valid.txt (L = 3,760 lines: 3,384 lines,
    /// 195,890 tokens), validation its remaining 376 lines (21,756 tokens), test all of test.txt
    /// (4,358 lines, 245,569 tokens); no line is split. The vocabulary (18,328 words) is built over
    /// valid.txt then test.txt, which is the order train, valid, test. Perplexities on this split are
    /// not comparable with published WikiText-2 numbers (those train on train.txt).
    public static func builtIn(limits: Limits = Limits()) throws -> Corpus {
        let directory = try builtInDirectory()
        var vocabulary = Vocabulary()
        let validPath = URL(fileURLWithPath: directory).appendingPathComponent("valid.txt").path
        let testPath = URL(fileURLWithPath: directory).appendingPathComponent("test.txt").path
        let valid = try tokenizeFile(validPath, into: &vocabulary, limits: limits)
        let test = try tokenizeFile(testPath, into: &vocabulary, limits: limits)
        let trainLines = valid.lineEnds.count * builtInTrainFraction.numerator / builtInTrainFraction.denominator
        guard trainLines >= 1, trainLines < valid.lineEnds.count else {
            throw ExperimentError(
                "Cannot split \(validPath): its \(valid.lineEnds.count) lines are too few for a training and a validation part.")
        }
        let cut = valid.lineEnds[trainLines - 1]
        return Corpus(
            vocabulary: vocabulary, train: Array(valid.ids[..<cut]), valid: Array(valid.ids[cut...]),
            test: test.ids,
            source: "built-in WikiText-2 subset: train = first \(trainLines) lines of valid.txt, "
                + "valid = its last \(valid.lineEnds.count - trainLines) lines, test = test.txt (CC BY-SA 3.0)")
    }

    /// The resource bundle's name for this module on Linux (`.resources`) and Apple platforms (`.bundle`).
    static let bundleNames = ["moduli_Experiments.resources", "moduli_Experiments.bundle"]

    /// The directory of the built-in corpus: the module's resource bundle next to the executable
    /// (where `swift build` puts it; copy it along with a binary), else the source tree it was built from.
    ///
    /// Looks for the bundle itself instead of using `Bundle.module`, which stops the process when the
    /// bundle is missing.
    public static func builtInDirectory(sourceFile: String = #filePath) throws -> String {
        var candidates: [URL] = []
        var bases: [URL] = []
        if let executable = Bundle.main.executableURL { bases.append(executable.deletingLastPathComponent()) }
        bases.append(Bundle.main.bundleURL)
        bases.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for base in bases {
            for bundle in bundleNames {
                candidates.append(base.appendingPathComponent(bundle).appendingPathComponent("wikitext-2"))
                candidates.append(base.appendingPathComponent(bundle).appendingPathComponent("Contents/Resources/wikitext-2"))
            }
        }
        candidates.append(URL(fileURLWithPath: sourceFile).deletingLastPathComponent().appendingPathComponent("wikitext-2"))
        for candidate in candidates {
            let valid = candidate.appendingPathComponent("valid.txt").path
            if FileManager.default.fileExists(atPath: valid) { return candidate.path }
        }
        throw ExperimentError(
            "Cannot find the built-in WikiText-2 corpus (valid.txt and test.txt); looked in "
                + candidates.map(\.path).joined(separator: ", ")
                + ". Copy the directory moduli_Experiments.resources from the build folder next to the moduli binary, "
                + "or give a corpus directory with train.txt, valid.txt and test.txt.")
    }

    // MARK: Reading files

    /// What tokenizing one file gives.
    struct TokenizedFile {
        /// Token ids, `<eos>` included.
        var ids: [Int32]
        /// For every line, the index in `ids` just past its `<eos>`.
        var lineEnds: [Int]
        /// Tokens other than the `<eos>` that ends each line.
        var words: Int
    }

    /// Throws unless `path` is an existing directory.
    static func requireDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ExperimentError("Cannot read the corpus directory \(path): it does not exist. \(hint)")
        }
        guard isDirectory.boolValue else {
            throw ExperimentError("Cannot read the corpus directory \(path): it is not a directory. \(hint)")
        }
    }

    /// The advice that ends every file error.
    static let hint =
        """
        A corpus directory holds train.txt, valid.txt and test.txt: text with words separated by spaces, one paragraph per line (the \
        layout of PyTorch's word_language_model example).
        """

    /// Reads the file at `path` (size checked first) and tokenizes it, adding new words to `vocabulary`.
    static func tokenizeFile(_ path: String, into vocabulary: inout Vocabulary, limits: Limits) throws -> TokenizedFile {
        let data = try FileIO.readFile(path, hint: hint, maximumBytes: limits.maximumFileBytes)
        return try data.withUnsafeBytes { raw in
            try tokenize(raw.bindMemory(to: UInt8.self), path: path, into: &vocabulary, limits: limits)
        }
    }

    /// Tokenizes the UTF-8 text `bytes` of the file `path` (named in errors), adding new words to `vocabulary`.
    static func tokenize(
        _ bytes: UnsafeBufferPointer<UInt8>, path: String, into vocabulary: inout Vocabulary,
        limits: Limits
    ) throws -> TokenizedFile {
        if let offset = firstInvalidUTF8(bytes) {
            var line = 1
            for k in 0..<offset where bytes[k] == 10 { line += 1 }
            throw ExperimentError(
                "Cannot read \(path): it is not valid UTF-8 text at byte offset \(offset) (line \(line), byte 0x"
                    + String(bytes[offset], radix: 16, uppercase: true) + "). \(hint)")
        }
        var out = TokenizedFile(ids: [], lineEnds: [], words: 0)
        out.ids.reserveCapacity(bytes.count / 5)
        var endOfLineID: Int32?
        let n = bytes.count
        var wordStart = -1
        var lineOpen = false

        func addWord(_ start: Int, _ end: Int) throws {
            let id = vocabulary.add(UnsafeBufferPointer(rebasing: bytes[start..<end]))
            if vocabulary.count > limits.maximumVocabularySize {
                throw ExperimentError(
                    "Cannot read \(path): it brings the vocabulary past \(limits.maximumVocabularySize) words. "
                        + "Is it word-level text with words separated by spaces?")
            }
            out.ids.append(id)
        }
        func endLine() throws {
            if endOfLineID == nil {
                var eos = Array(Vocabulary.endOfLine.utf8)
                endOfLineID = eos.withUnsafeMutableBufferPointer { vocabulary.add(UnsafeBufferPointer($0)) }
                if vocabulary.count > limits.maximumVocabularySize {
                    throw ExperimentError("Cannot read \(path): it brings the vocabulary past \(limits.maximumVocabularySize) words.")
                }
            }
            out.ids.append(endOfLineID ?? 0)
            out.lineEnds.append(out.ids.count)
        }

        var i = 0
        while i < n {
            let c = bytes[i]
            if c == 10 || c == 13 {
                if wordStart >= 0 { try addWord(wordStart, i); out.words += 1; wordStart = -1 }
                try endLine()
                lineOpen = false
                i += (c == 13 && i + 1 < n && bytes[i + 1] == 10) ? 2 : 1
                continue
            }
            lineOpen = true
            let space = whitespaceLength(bytes, i)
            if space > 0 {
                if wordStart >= 0 { try addWord(wordStart, i); out.words += 1; wordStart = -1 }
                i += space
                continue
            }
            if wordStart < 0 { wordStart = i }
            i += 1
        }
        if wordStart >= 0 { try addWord(wordStart, n); out.words += 1 }
        if lineOpen { try endLine() }
        if out.words == 0 {
            throw ExperimentError("Cannot read \(path): it has no words (it is empty or only white space). \(hint)")
        }
        return out
    }

    /// The byte length of the white-space character at `i` in valid UTF-8 `b`, or 0 when there is none.
    /// White space is Python's `str.isspace()`: \t \n \v \f \r, 0x1C-0x1F, space, U+0085, U+00A0,
    /// U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    static func whitespaceLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let c = b[i]
        if c < 0x80 { return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) ? 1 : 0 }
        let n = b.count
        switch c {
        case 0xC2:
            return i + 1 < n && (b[i + 1] == 0x85 || b[i + 1] == 0xA0) ? 2 : 0
        case 0xE1:
            return i + 2 < n && b[i + 1] == 0x9A && b[i + 2] == 0x80 ? 3 : 0
        case 0xE2:
            guard i + 2 < n else { return 0 }
            let (c1, c2) = (b[i + 1], b[i + 2])
            if c1 == 0x80 && (c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) { return 3 }
            return c1 == 0x81 && c2 == 0x9F ? 3 : 0
        case 0xE3:
            return i + 2 < n && b[i + 1] == 0x80 && b[i + 2] == 0x80 ? 3 : 0
        default:
            return 0
        }
    }

    /// The offset of the first byte sequence that is not well-formed UTF-8 (overlong forms, surrogates
    /// and code points past U+10FFFF included), or nil when all of `b` is.
    static func firstInvalidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = b.count
        var i = 0
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; high = 0x9F
            case 0xF0: need = 3; low = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; high = 0x8F
            default: return i
            }
            guard i + need < n, b[i + 1] >= low, b[i + 1] <= high else { return i }
            var k = 2
            while k <= need {
                if b[i + k] < 0x80 || b[i + k] > 0xBF { return i }
                k += 1
            }
            i += need + 1
        }
        return nil
    }
}
