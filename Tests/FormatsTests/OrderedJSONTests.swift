// The package's one JSON reader: objects keep their keys' order, a key twice and a number beyond a
// Double are refused, nesting and size are limited, and every error is placed by byte, line,
// column and key path.
import Foundation
import Testing
@testable import Formats

@Suite struct OrderedJSONTests {
    static func error(_ text: String, limits: OrderedJSON.Limits = .files) -> OrderedJSON.SyntaxError? {
        do { _ = try OrderedJSON.parse(Data(text.utf8), limits: limits) } catch let e as OrderedJSON.SyntaxError { return e } catch {
            Issue.record("threw \(error)")
        }
        return nil
    }

    @Test func objectsKeepTheirKeysInFileOrder() throws {
        let v = try OrderedJSON.parse(Data(#"{"z": 1, "a": [true, null, "x\u00e9"], "m": {"k": -2.5e1}}"#.utf8))
        #expect(
            v
                == .object([
                    (key: "z", value: .number(1)), (key: "a", value: .array([.bool(true), .null, .string("xé")])),
                    (key: "m", value: .object([(key: "k", value: .number(-25))]))
                ]))
    }

    @Test func orderedJSONReportsColumnsInCharactersAndRefusesDeepNesting() {
        do { _ = try OrderedJSON.parse(Data("{\"é\": 1,\n  \"ü\": tru}".utf8)); Issue.record("accepted") } catch let e
            as OrderedJSON.SyntaxError
        {
            #expect(e.line == 2 && e.column == 8 && e.keyPath == "ü", "\(e)")
            // Byte 18: "{", "é" in quotes (4 bytes), ": 1,", newline, two spaces, "ü" in quotes (4), ": ".
            #expect(e.offset == 18, "\(e.offset)")
        } catch { Issue.record("\(error)") }
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: OrderedJSON.SyntaxError.self) { try OrderedJSON.parse(Data(deep.utf8)) }
        #expect(
            OrderedJSON.isNumberLiteral(ArraySlice("-0.5e+3".utf8)) && !OrderedJSON.isNumberLiteral(ArraySlice("01".utf8))
                && !OrderedJSON.isNumberLiteral(ArraySlice("1.".utf8)) && !OrderedJSON.isNumberLiteral(ArraySlice("--1".utf8)))
    }

    /// `maximumDepth` counts arrays and objects: that many nest, one more does not, and a scalar
    /// inside the deepest adds no level.
    @Test func theDepthLimitCountsContainers() throws {
        let limits = OrderedJSON.Limits(maximumDepth: 3, maximumBytes: 100, allowsByteOrderMark: false)
        #expect(try OrderedJSON.parse(Data("[[[1]]]".utf8), limits: limits) == .array([.array([.array([.number(1)])])]))
        let e = Self.error("[[[[1]]]]", limits: limits)
        #expect(e?.what == "nested more than 3 levels deep" && e?.offset == 3 && e?.keyPath == "[0][0][0]", "\(String(describing: e))")
        #expect(try OrderedJSON.parse(Data((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8)) != .null)
        #expect(
            Self.error(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))?.what == "nested more than 64 levels deep")
    }

    @Test func theSizeLimitAndTheByteOrderMark() throws {
        let small = OrderedJSON.Limits(maximumDepth: 8, maximumBytes: 8, allowsByteOrderMark: false)
        #expect(try OrderedJSON.parse(Data("[1,2,3]".utf8), limits: small) == .array([.number(1), .number(2), .number(3)]))
        #expect(Self.error("[1,2,3,4]", limits: small)?.what == "the text has 9 bytes, more than the 8 this reader accepts")
        let bom = Data([0xEF, 0xBB, 0xBF] + Array("{\"a\": 1}".utf8))
        #expect(try OrderedJSON.parse(bom) == .object([(key: "a", value: .number(1))]))
        #expect(throws: OrderedJSON.SyntaxError.self) { try OrderedJSON.parse(bom, limits: small) }
    }

    @Test func keysTwiceAndNumbersBeyondADoubleAreRefusedAtTheirPlace() {
        let twice = Self.error("{\"a\": {\"b\": 1,\n \"b\": 2}}")
        #expect(twice?.what == #"the key "b" appears twice in one object (first on line 1); keep one of them"#)
        #expect(twice?.line == 2 && twice?.column == 2 && twice?.offset == 16 && twice?.keyPath == "a.b")
        let big = Self.error("{\"x\": [0, -2e308]}")
        #expect(
            big?.what == "the number -2e308 does not fit a Double (at most about 1.8e308)" && big?.keyPath == "x[1]" && big?.offset == 10)
    }

    /// Strings: escapes (a surrogate pair as one character), and what is refused.
    @Test func stringsAndTheirEscapes() throws {
        let escaped = try OrderedJSON.parse(Data(#"["a\"\\\/\b\f\n\r\t\u00E9\ud83d\ude00"]"#.utf8))
        #expect(escaped == .array([.string("a\"\\/\u{8}\u{C}\n\r\té😀")]))
        for (text, what) in [
            (#"["\u+041"]"#, "\\u needs four hexadecimal digits"), (#"["\u-041"]"#, "\\u needs four hexadecimal digits"),
            (#"["\ud83d"]"#, "expected \\u"), (#"["\ude00"]"#, "\\u names no character"), (#"["\x"]"#, "unknown escape \\x"),
            ("[\"a\u{1}\"]", "a control character inside a string"), (#"["abc"#, "a string is not closed")
        ] {
            #expect(Self.error(text)?.what == what, "\(text)")
        }
        var bad = Array(#"["ab"]"#.utf8)
        bad[2] = 0xFF
        do { _ = try OrderedJSON.parse(Data(bad)); Issue.record("accepted") } catch let e as OrderedJSON.SyntaxError {
            #expect(e.what == "a string is not valid UTF-8")
        }
    }

    /// Integer literals read exactly (beyond the 2^53 a Double holds), nothing else.
    @Test func integerLiteralsReadExactly() {
        func int(_ s: String) -> Int? { OrderedJSON.integer(literal: ArraySlice(s.utf8)) }
        #expect(int("9007199254740993") == 9_007_199_254_740_993 && int("-9223372036854775808") == Int.min)
        #expect(int("9223372036854775807") == Int.max && int("9223372036854775808") == nil && int("-0") == 0)
        #expect(int("2.0") == nil && int("2e0") == nil && int("02") == nil && int("") == nil && int("-") == nil)
    }

    /// Every number's place: its key path and bytes, in file order, which a walk of the value
    /// counting `numberCount` for what it skips follows.
    @Test func numbersArePlacedInFileOrder() throws {
        let text = #"{"a.b": [7, {"c": [1, 2]}], "a": {"b": [8e0]}, "s": "9"}"#
        let bytes = Array(text.utf8)
        let located = try OrderedJSON.parseLocating(Data(text.utf8))
        #expect(located.numbers.map(\.path) == ["a.b[0]", "a.b[1].c[0]", "a.b[1].c[1]", "a.b[0]"])
        #expect(located.numbers.map { String(decoding: bytes[$0.bytes], as: UTF8.self) } == ["7", "1", "2", "8e0"])
        #expect(located.value.numberCount == 4 && located.value.value(at: ["a.b"])?.numberCount == 3)
        #expect(located.offsets["s"] == text.utf8.count - 9)
        let unplaced = try OrderedJSON.parseLocating(Data(text.utf8), placingKeys: false)
        #expect(
            unplaced.offsets.isEmpty && unplaced.numbers.map(\.bytes) == located.numbers.map(\.bytes) && unplaced.value == located.value)
    }
}
