// The language model's corpus (docs/method.md section 5): tokens and vocabulary against hand-computed
// answers, batchify and bptt windows against naive constructions, resume, file errors, the built-in split.
import Foundation
import Testing
@testable import Experiments

@Suite struct CorpusTests {
    /// A fresh temporary directory holding `files` (name to bytes).
    static func directory(_ files: [String: [UInt8]]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: url.appendingPathComponent(name)) }
        return url.path
    }

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// A tiny corpus: a blank line, \r\n and \r line ends, tabs, a non-breaking space, no final line end.
    static let tiny: [String: [UInt8]] = [
        "train.txt": text(" \n the cat sat\n\nthe  dog\r\n"),
        "valid.txt": text("a\tcat\u{00A0}ran\rthe end"),
        "test.txt": text("dog <eos> new\n")
    ]

    /// The error message of `body`, or nil when it does not throw an ExperimentError.
    static func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch let e as ExperimentError { return e.description } catch { return "unexpected \(error)" }
        return nil
    }

    @Test func vocabularyAndIdsMatchTheHandComputedAnswer() throws {
        let dir = try Self.directory(Self.tiny)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corpus = try Corpus(directory: dir)
        // First appearance over train, valid, test; <eos> ends every line, blank lines included.
        #expect(corpus.vocabulary.words == ["<eos>", "the", "cat", "sat", "dog", "a", "ran", "end", "new"])
        // train: " " | "the cat sat" | "" | "the  dog"  -> 4 lines
        #expect(corpus.train == [0, 1, 2, 3, 0, 0, 1, 4, 0])
        // valid: "a\tcat\u{A0}ran" | "the end" (no final line end still ends a line)
        #expect(corpus.valid == [5, 2, 6, 0, 1, 7, 0])
        // test: the literal word <eos> is the same token
        #expect(corpus.test == [4, 0, 8, 0])
        #expect(corpus.vocabulary.id(of: "dog") == 4)
        #expect(corpus.vocabulary.id(of: "bird") == nil)
        #expect(corpus.vocabulary.word(8) == "new")
    }

    @Test func endOfLinePerLineAndPythonWhiteSpace() throws {
        var vocabulary = Vocabulary()
        let cases: [(String, [String], Int)] = [
            ("x", ["x", "<eos>"], 1),
            ("x\n", ["x", "<eos>"], 1),
            ("x\n\n", ["x", "<eos>", "<eos>"], 2),
            ("x\r\ny\rz", ["x", "<eos>", "y", "<eos>", "z", "<eos>"], 3),
            ("x\n  ", ["x", "<eos>", "<eos>"], 2),
            // U+2028, U+3000, U+0085, vertical tab and form feed separate words but do not end lines;
            // U+200B (zero width space) is not white space in Python.
            ("a\u{2028}b\u{3000}c\u{0085}d\u{0B}e\u{0C}f\u{200B}g", ["a", "b", "c", "d", "e", "f\u{200B}g", "<eos>"], 1),
            // Precomposed and decomposed accents are two words, as in Python.
            ("\u{E9} e\u{301}", ["\u{E9}", "e\u{301}", "<eos>"], 1)
        ]
        for (input, expected, lines) in cases {
            var bytes = Array(input.utf8)
            let file = try bytes.withUnsafeMutableBufferPointer {
                try Corpus.tokenize(UnsafeBufferPointer($0), path: "case", into: &vocabulary, limits: .init())
            }
            #expect(file.ids.map { vocabulary.word($0) } == expected, "input \(input.debugDescription)")
            #expect(file.lineEnds.count == lines, "input \(input.debugDescription)")
            #expect(file.lineEnds.last == file.ids.count)
            // Ids, not only spellings (Swift's String == would merge canonically equal words).
            #expect(Set(file.ids).count == Set(expected).count + (expected.contains("\u{E9}") ? 1 : 0))
        }
    }

    @Test func batchifyMatchesANaiveLayout() {
        let ids = (0..<103).map { Int32($0 * 7 % 31) }
        for columns in [1, 2, 10, 20, 103] {
            let m = batchify(ids, columns: columns)
            let rows = ids.count / columns
            #expect(m.rows == rows && m.columns == columns)
            // Naive: the columns are consecutive stretches of `rows` tokens; the tail is dropped.
            var naive: [Int32] = []
            for t in 0..<rows { for b in 0..<columns { naive.append(ids[b * rows + t]) } }
            #expect(m.ids == naive, "columns \(columns)")
        }
        #expect(batchify(Array(ids.prefix(5)), columns: 10).rows == 0)
    }

    @Test func windowsCoverEveryTargetOnceWithTheRightInputs() {
        let ids = (0..<997).map { Int32($0) }
        for (columns, bptt) in [(20, 35), (10, 35), (7, 1), (3, 5), (1, 400), (4, 1000)] {
            let m = batchify(ids, columns: columns)
            var windows = BPTTWindows(bptt: bptt)
            var covered = [Int](repeating: 0, count: m.rows)
            var count = 0
            while let w = windows.next(in: m) {
                count += 1
                #expect(w.length == min(bptt, m.rows - 1 - w.start) && w.length >= 1)
                #expect(w.inputs.count == w.length * columns && w.targets.count == w.length * columns)
                for t in 0..<w.length {
                    covered[w.start + 1 + t] += 1
                    for b in 0..<columns {
                        // Column b is ids[b * rows ..< (b + 1) * rows]; the target is the next token.
                        #expect(w.input(t, b) == ids[b * m.rows + w.start + t])
                        #expect(w.target(t, b) == ids[b * m.rows + w.start + t + 1])
                    }
                }
            }
            #expect(covered[0] == 0 && covered.dropFirst().allSatisfy { $0 == 1 }, "B \(columns), bptt \(bptt)")
            #expect(count == BPTTWindows.count(rows: m.rows, bptt: bptt))
            #expect(windows.isFinished(in: m) && windows.next(in: m) == nil)
            windows.rewind()
            #expect(windows.next(in: m)?.start == 0)
        }
        var none = BPTTWindows(bptt: 35)
        #expect(none.next(in: batchify([1], columns: 1)) == nil)
        #expect(BPTTWindows.count(rows: 1, bptt: 35) == 0 && BPTTWindows.count(rows: 2, bptt: 35) == 1)
    }

    @Test func stateRoundTripsThroughJSONAndResumesAtTheSameWindow() throws {
        let m = batchify((0..<500).map { Int32($0 % 17) }, columns: 4)
        var uninterrupted = BPTTWindows(bptt: 6)
        var all: [BPTTWindow] = []
        while let w = uninterrupted.next(in: m) { all.append(w) }
        var first = BPTTWindows(bptt: 6)
        for _ in 0..<7 { _ = first.next(in: m) }
        let json = try JSONEncoder().encode(first)
        var resumed = try JSONDecoder().decode(BPTTWindows.self, from: json)
        #expect(resumed == first)
        var rest: [BPTTWindow] = []
        while let w = resumed.next(in: m) { rest.append(w) }
        #expect(rest == Array(all.dropFirst(7)))
        for bad in [#"{"bptt":0,"position":0}"#, #"{"bptt":35,"position":-1}"#, #"{"bptt":35}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(BPTTWindows.self, from: Data(bad.utf8)) }
        }
    }

    @Test func everyBadFileIsAnErrorNamingIt() throws {
        let good = Self.tiny
        let missingDir = FileManager.default.temporaryDirectory.appendingPathComponent("moduli-corpus-none-\(UUID().uuidString)").path
        #expect(Self.message { _ = try Corpus(directory: missingDir) }?.contains("\(missingDir): it does not exist") == true)

        var dirs: [String] = []
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        func check(
            _ files: [String: [UInt8]], _ name: String, _ expected: String, limits: Corpus.Limits = .init(),
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let dir = try Self.directory(files)
            dirs.append(dir)
            let path = URL(fileURLWithPath: dir).appendingPathComponent(name).path
            let text = Self.message { _ = try Corpus(directory: dir, limits: limits) }
            #expect(text?.contains(path) == true, "\(text ?? "no error")", sourceLocation: sourceLocation)
            #expect(text?.contains(expected) == true, "\(text ?? "no error")", sourceLocation: sourceLocation)
        }
        var files = good; files["valid.txt"] = nil
        try check(files, "valid.txt", "does not exist")
        files = good; files["test.txt"] = []
        try check(files, "test.txt", "no words")
        files = good; files["train.txt"] = Self.text(" \n\n\t\r\n")
        try check(files, "train.txt", "no words")
        // "ab\n" then a lone continuation byte at offset 3 on line 2.
        files = good; files["valid.txt"] = Self.text("ab\n") + [0x80] + Self.text(" c\n")
        try check(files, "valid.txt", "byte offset 3 (line 2, byte 0x80)")
        // Overlong "/" (C0 AF), a UTF-16 surrogate (ED A0 80) and a truncated sequence at the end.
        files = good; files["train.txt"] = Self.text("x y ") + [0xC0, 0xAF]
        try check(files, "train.txt", "byte offset 4")
        files = good; files["train.txt"] = Self.text("x") + [0xED, 0xA0, 0x80]
        try check(files, "train.txt", "byte offset 1")
        files = good; files["test.txt"] = Self.text("x \u{E9}") + [0xE2, 0x82]
        try check(files, "test.txt", "byte offset 4")
        // A directory where a file should be.
        let dir = try Self.directory(good.filter { $0.key != "train.txt" })
        dirs.append(dir)
        try FileManager.default.createDirectory(atPath: dir + "/train.txt", withIntermediateDirectories: false)
        #expect(Self.message { _ = try Corpus(directory: dir) }?.contains("\(dir)/train.txt: it is not a regular file") == true)
        // A file given as the directory.
        #expect(Self.message { _ = try Corpus(directory: dir + "/valid.txt") }?.contains("valid.txt: it is not a directory") == true)
        // Limits: file size (checked before reading) and vocabulary size.
        var small = Corpus.Limits(); small.maximumFileBytes = 10
        try check(good, "train.txt", "more than the 10", limits: small)
        var few = Corpus.Limits(); few.maximumVocabularySize = 6
        try check(good, "valid.txt", "past 6 words", limits: few)
    }

    /// `Corpus.load` reads a directory once, and again when one of its files changes.
    @Test func loadReadsAgainWhenAFileChanges() throws {
        let dir = try Self.directory(["train.txt": Array("a b\n".utf8), "valid.txt": Array("a\n".utf8), "test.txt": Array("b\n".utf8)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Corpus.load(dir)
        #expect(first.train == [0, 1, 2] && first.vocabulary.count == 3)
        #expect(try Corpus.load(dir).train == first.train)
        try Data("a b c d\n".utf8).write(to: URL(fileURLWithPath: dir + "/train.txt"))
        let changed = try Corpus.load(dir)
        #expect(changed.train.count == 5 && changed.vocabulary.count == 5, "\(changed.train)")
        try FileManager.default.removeItem(atPath: dir + "/valid.txt")
        #expect(throws: ExperimentError.self) { try Corpus.load(dir) }
    }

    @Test func builtInCorpusHasTheDocumentedSplit() throws {
        let corpus = try Corpus.builtIn()
        #expect(corpus.vocabulary.count == 18_328)
        #expect(corpus.train.count == 195_890)
        #expect(corpus.valid.count == 21_756)
        #expect(corpus.test.count == 245_569)
        #expect(corpus.train.count + corpus.valid.count == 217_646)
        let eos = try #require(corpus.vocabulary.id(of: "<eos>"))
        #expect(eos == 0)
        #expect(corpus.train.filter { $0 == eos }.count == 3_384)
        #expect(corpus.valid.filter { $0 == eos }.count == 376)
        #expect(corpus.test.filter { $0 == eos }.count == 4_358)
        // The cut falls at a line end, and every id is in the vocabulary.
        #expect(corpus.train.last == eos && corpus.valid.last == eos)
        #expect((corpus.train + corpus.valid + corpus.test).allSatisfy { $0 >= 0 && Int($0) < corpus.vocabulary.count })
        #expect(Array(corpus.vocabulary.words.prefix(4)) == ["<eos>", "=", "Homarus", "gammarus"])
        // Found in the resource bundle that the build puts next to the test binary, not the source tree.
        let directory = try Corpus.builtInDirectory()
        #expect(directory.contains("moduli_Experiments."), "\(directory)")
        let notice = try String(contentsOfFile: directory + "/README.md", encoding: .utf8)
        #expect(notice.contains("Creative Commons Attribution-ShareAlike 3.0"))
    }
}
