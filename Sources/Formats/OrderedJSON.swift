// The one JSON reader of the package: strict RFC 8259 syntax, objects that keep their keys in file
// order (sweep specs list configurations in the order their table rows should have), a key given
// twice refused, nesting and size limited, and every error placed by byte offset, line, column and
// key path. Config files, sweep specs and run records (through `JSONFile`) and safetensors headers
// are read with it.
import Foundation

/// A parsed JSON value; objects keep their keys in file order.
public enum OrderedJSON: Sendable, Equatable {
    case object([(key: String, value: OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// The JSON type's name, for error messages ("an object", "a string").
    public var typeName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "true or false"
        case .null: "null"
        }
    }

    /// The value as a user wrote it (numbers without a needless ".0"), for error messages.
    public var text: String {
        switch self {
        case .object(let members): "{" + members.map { "\"\($0.key)\": \($0.value.text)" }.joined(separator: ", ") + "}"
        case .array(let elements): "[" + elements.map(\.text).joined(separator: ", ") + "]"
        case .string(let s): "\"" + s + "\""
        case .number(let x): x.rounded() == x && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }

    /// What a reading accepts: how deeply arrays and objects may nest, how many bytes the text
    /// may have, and whether a UTF-8 byte-order mark may precede it.
    public struct Limits: Sendable, Equatable {
        /// The most arrays and objects nested in one another (the outermost counts as 1).
        public var maximumDepth: Int
        /// The most bytes of text.
        public var maximumBytes: Int
        /// Whether a UTF-8 byte-order mark (EF BB BF) before the value is skipped (else refused).
        public var allowsByteOrderMark: Bool

        /// Limits from their parts.
        public init(maximumDepth: Int, maximumBytes: Int, allowsByteOrderMark: Bool) {
            self.maximumDepth = maximumDepth
            self.maximumBytes = maximumBytes
            self.allowsByteOrderMark = allowsByteOrderMark
        }

        /// The tool's JSON files (configs, sweep specs, run records): 64 levels, 1 GiB, a
        /// byte-order mark allowed (editors write one).
        public static let files = Limits(maximumDepth: 64, maximumBytes: 1 << 30, allowsByteOrderMark: true)
    }

    /// A syntax error: what is wrong, where (byte offset; 1-based line and column, in characters),
    /// and in which key (`training.regularizer.lambda`, `configurations.a[1]`; empty at the top level).
    public struct SyntaxError: Error, CustomStringConvertible, Sendable {
        /// The line, from 1.
        public let line: Int
        /// The column in characters, from 1.
        public let column: Int
        /// The byte offset in the text, from 0.
        public let offset: Int
        /// The key path of the value being read.
        public let keyPath: String
        /// What is wrong.
        public let what: String

        public var description: String {
            "invalid JSON at line \(line), column \(column)\(keyPath.isEmpty ? "" : " (in \(keyPath))"): \(what)"
        }
    }

    /// Parses `data` (UTF-8) within `limits`. The `SyntaxError` says what is wrong and where. A
    /// key that appears twice in one object, and a number too large for a Double, are errors too.
    public static func parse(_ data: Data, limits: Limits = .files) throws -> OrderedJSON {
        try parseLocating(data, limits: limits, placingKeys: false).value
    }

    /// Parses `data` like `parse(_:limits:)` and returns where every number's text is and, with
    /// `placingKeys`, for every key path (`training.lr`, `a[2].b`; the root is "") the byte offset
    /// where its key (or array element) starts and every number's key path.
    package static func parseLocating(_ data: Data, limits: Limits = .files, placingKeys: Bool = true) throws -> Located {
        var parser = Parser(bytes: Array(data), limits: limits, placingKeys: placingKeys)
        guard parser.bytes.count <= limits.maximumBytes else {
            throw parser.error("the text has \(parser.bytes.count) bytes, more than the \(limits.maximumBytes) this reader accepts", at: 0)
        }
        if limits.allowsByteOrderMark, parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.position = 3 }
        parser.skipWhitespace()
        if placingKeys { parser.offsets[""] = parser.position }
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return Located(value: value, offsets: parser.offsets, numbers: parser.numbers)
    }

    /// A parsed value with where its parts are in the bytes.
    package struct Located {
        /// The value.
        package var value: OrderedJSON
        /// The byte offset where every key path's key (or array element) starts (empty unless
        /// keys were placed).
        package var offsets: [String: Int]
        /// Every number in file order (the order of a walk of `value`): its key path (""
        /// unless keys were placed) and its bytes.
        package var numbers: [(path: String, bytes: Range<Int>)]
    }

    /// The 1-based line and column (in characters) of byte `offset` of `bytes`.
    package static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for b in bytes[..<min(max(0, offset), bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    /// A key path from its components: keys joined by ".", array indices as "[k]".
    package static func keyPath(_ components: [String]) -> String {
        var out = ""
        for c in components {
            if c.hasPrefix("[") { out += c } else { out += out.isEmpty ? c : "." + c }
        }
        return out
    }

    /// The value at a key path's components (keys, or "[k]" for array elements), if there is one.
    package func value(at components: [String]) -> OrderedJSON? {
        var here = self
        for c in components {
            switch here {
            case .object(let members):
                guard let v = members.first(where: { $0.key == c })?.value else { return nil }
                here = v
            case .array(let elements):
                guard c.hasPrefix("["), c.hasSuffix("]"), let k = Int(c.dropFirst().dropLast()), elements.indices.contains(k) else {
                    return nil
                }
                here = elements[k]
            default:
                return nil
            }
        }
        return here
    }

    /// How many numbers the value holds, at any depth: the numbers of a parse are listed in
    /// file order (`Located.numbers`), so a walk of the value in order that adds this count for
    /// each part it skips knows the index of every number it meets.
    package var numberCount: Int {
        switch self {
        case .number: 1
        case .object(let members): members.reduce(0) { $0 + $1.value.numberCount }
        case .array(let elements): elements.reduce(0) { $0 + $1.numberCount }
        case .string, .bool, .null: 0
        }
    }

    /// The exact value of a number's text when it is an integer literal (no fraction, no
    /// exponent) that fits an Int; nil otherwise. A Double holds integers exactly only to 2^53.
    package static func integer(literal bytes: ArraySlice<UInt8>) -> Int? {
        guard isNumberLiteral(bytes) else { return nil }
        let negative = bytes.first == UInt8(ascii: "-")
        var value = 0
        for b in bytes.dropFirst(negative ? 1 : 0) {
            guard (0x30...0x39).contains(b) else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int(b - 0x30)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = s
        }
        return value
    }

    /// A recursive-descent parser over UTF-8 bytes.
    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        /// The key path of the value being read.
        var path: [String] = []
        /// Where every key path starts.
        var offsets: [String: Int] = [:]
        /// Every number's key path and bytes.
        var numbers: [(path: String, bytes: Range<Int>)] = []
        /// What the reading accepts.
        let limits: Limits
        /// Whether `offsets` and the numbers' key paths are recorded.
        let placingKeys: Bool

        init(bytes: [UInt8], limits: Limits, placingKeys: Bool) {
            self.bytes = bytes; self.limits = limits; self.placingKeys = placingKeys
        }

        func error(_ what: String, at offset: Int? = nil) -> SyntaxError {
            let at = offset ?? position
            let (line, column) = OrderedJSON.lineAndColumn(of: at, in: bytes)
            return SyntaxError(line: line, column: column, offset: at, keyPath: OrderedJSON.keyPath(path), what: what)
        }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ literal: String) throws {
            let utf8 = Array(literal.utf8)
            guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 else {
                throw error("expected \(literal)")
            }
            position += utf8.count
        }

        /// The value at `position`, inside `depth` arrays and objects.
        mutating func value(depth: Int) throws -> OrderedJSON {
            guard position < bytes.count else { throw error("unexpected end of the file") }
            if bytes[position] == UInt8(ascii: "{") || bytes[position] == UInt8(ascii: "[") {
                guard depth < limits.maximumDepth else { throw error("nested more than \(limits.maximumDepth) levels deep") }
            }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default:
                let start = position
                let x = try number()
                numbers.append((placingKeys ? OrderedJSON.keyPath(path) : "", start..<position))
                return .number(x)
            }
        }

        mutating func object(depth: Int) throws -> OrderedJSON {
            position += 1
            var members: [(key: String, value: OrderedJSON)] = []
            var keyOffsets: [String: Int] = [:]
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
                let keyStart = position
                let key = try string()
                if let first = keyOffsets[key] {
                    let line = OrderedJSON.lineAndColumn(of: first, in: bytes).line
                    path.append(key)
                    throw error("the key \"\(key)\" appears twice in one object (first on line \(line)); keep one of them", at: keyStart)
                }
                keyOffsets[key] = keyStart
                path.append(key)
                if placingKeys { offsets[OrderedJSON.keyPath(path)] = keyStart }
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                path.removeLast()
                skipWhitespace()
                guard position < bytes.count else { throw error("unexpected end of the file inside an object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw error("expected , or } in an object")
            }
        }

        mutating func array(depth: Int) throws -> OrderedJSON {
            position += 1
            var elements: [OrderedJSON] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            while true {
                skipWhitespace()
                path.append("[\(elements.count)]")
                if placingKeys { offsets[OrderedJSON.keyPath(path)] = position }
                elements.append(try value(depth: depth + 1))
                path.removeLast()
                skipWhitespace()
                guard position < bytes.count else { throw error("unexpected end of the file inside an array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
                throw error("expected , or ] in an array")
            }
        }

        /// The four hexadecimal digits of a \\u escape (digits only: no sign).
        mutating func hexQuad() throws -> UInt32 {
            guard position + 4 <= bytes.count else { throw error("\\u needs four hexadecimal digits") }
            var v: UInt32 = 0
            for b in bytes[position..<position + 4] {
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("\\u needs four hexadecimal digits")
                }
            }
            position += 4
            return v
        }

        mutating func string() throws -> String {
            position += 1
            var out: [UInt8] = []
            while true {
                guard position < bytes.count else { throw error("a string is not closed") }
                let c = bytes[position]
                position += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw error("a string is not closed") }
                    let e = bytes[position]
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hexQuad()
                        if (0xD800..<0xDC00).contains(scalar) {
                            try expect("\\u")
                            let low = try hexQuad()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("a \\u surrogate pair is incomplete") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("\\u names no character") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
                    }
                default:
                    guard c >= 0x20 else { throw error("a control character inside a string") }
                    out.append(c)
                }
            }
        }

        mutating func number() throws -> Double {
            let start = position
            while position < bytes.count, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            guard !text.isEmpty else {
                position = start
                throw error("expected a value (a number, a string in quotes, true, false, null, an object or an array)")
            }
            guard OrderedJSON.isNumberLiteral(bytes[start..<position]) else {
                position = start
                throw error("\(text) is not a number")
            }
            let v = Double(text) ?? .infinity
            guard v.isFinite else {
                position = start
                throw error("the number \(text) does not fit a Double (at most about 1.8e308)")
            }
            return v
        }
    }

    /// Whether `bytes` is a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    static func isNumberLiteral(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        func digits() -> Int {
            let from = i
            while i < bytes.endIndex, (0x30...0x39).contains(bytes[i]) { i += 1 }
            return i - from
        }
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.endIndex else { return false }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { return false }
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return false }
        }
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.endIndex, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == bytes.endIndex
    }
}
