// Reading the JSON files of the tool (config files, summary.json, metrics.jsonl, regularizer.json,
// sweep specs and records) so that every error says which file, where (line, column and key path,
// `training.regularizer.lambda`), what is wrong ("expected a number, found a string") and what to do.
// Syntax, duplicate keys and numbers too large for a Double are found by the order-keeping parser
// (`OrderedJSON`); the types' own checks come from the Codable decoder, whose errors are placed
// with the parser's key offsets.
import Foundation
import Formats

/// Strict, well-explained reading of JSON files.
public enum JSONFile {
    /// Parses the bytes of the file at `path`: the error names the file, line, column and key,
    /// says what is wrong, and ends with `advice` (what to do). Keys that appear twice in one
    /// object and numbers beyond a Double's range are errors.
    public static func parse(_ data: Data, path: String, advice: String) throws -> OrderedJSON {
        try parseLocating(data, path: path, advice: advice).value
    }

    /// Decodes `T` from the bytes of the file at `path` (non-finite numbers may be written as the
    /// strings "inf", "-inf", "nan", as run records write them). The bytes are first checked as
    /// `parse(_:path:advice:)` checks them; a decoding error names the file, line, column and key
    /// path, says what was expected and what was found, and ends with `advice`.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, advice: String) throws -> T {
        let located = try parseLocating(data, path: path, advice: advice)
        do { return try decoder().decode(T.self, from: data) } catch {
            throw ExperimentError(message(for: error, located: located, bytes: data, path: path, advice: advice, type: T.self))
        }
    }

    /// Decodes `T` from the bytes of a run record the tool wrote (summary.json, a line of
    /// metrics.jsonl): decoded at once, and only on failure parsed again for the error's place.
    /// `firstLine` is the line of the file the bytes start on.
    public static func decodeRecord<T: Decodable>(
        _ type: T.Type, from data: Data, path: String, advice: String,
        firstLine: Int = 1
    ) throws -> T {
        do { return try decoder().decode(T.self, from: data) } catch {
            throw ExperimentError(message(for: error, data: data, path: path, advice: advice, firstLine: firstLine, type: T.self))
        }
    }

    /// The message for `error`, an error of decoding `T` from `data` (the bytes of the file at
    /// `path`): file, line, column, key path, what is wrong, then `advice`. `firstLine` is the
    /// line of the file that `data` starts on (a line of metrics.jsonl).
    public static func message<T: Decodable>(
        for error: Error, data: Data, path: String, advice: String, firstLine: Int = 1,
        type: T.Type
    ) -> String {
        let located: OrderedJSON.Located
        do { located = try OrderedJSON.parseLocating(data) } catch {
            return message(for: error, located: nil, bytes: data, path: path, advice: advice, firstLine: firstLine, type: T.self)
        }
        return message(for: error, located: located, bytes: data, path: path, advice: advice, firstLine: firstLine, type: T.self)
    }

    /// A decoder for run records: non-finite numbers as the strings "inf", "-inf" and "nan".
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// `parse` with where every part is.
    static func parseLocating(_ data: Data, path: String, advice: String) throws -> OrderedJSON.Located {
        do { return try OrderedJSON.parseLocating(data) } catch let e as OrderedJSON.SyntaxError {
            throw ExperimentError(place(path, line: e.line, column: e.column, keyPath: e.keyPath) + ": " + e.what + ". " + advice)
        }
    }

    /// Whether `error` is the decoder's error without a place: a number that does not fit an
    /// integer field (negative, fractional or too large) is reported so.
    static func isPlaceless(_ error: Error) -> Bool {
        if case DecodingError.dataCorrupted(let c) = error, c.codingPath.isEmpty { return true }
        return false
    }

    /// The number of `located` that makes decoding `T` fail without a place: each number that an
    /// integer field might refuse is replaced by 0 in turn until the decoder stops failing so.
    static func unfitNumber<T: Decodable>(_ located: OrderedJSON.Located, in data: Data, type: T.Type) -> (path: String, text: String)? {
        let bytes = Array(data)
        for (path, range) in located.numbers.prefix(1000) {
            let text = String(decoding: bytes[range], as: UTF8.self)
            guard text.contains(where: { "-.eE".contains($0) }) || text.count > 18 else { continue }
            var trial = bytes
            trial.replaceSubrange(range, with: [UInt8(ascii: "0")] + [UInt8](repeating: 0x20, count: range.count - 1))
            do { _ = try decoder().decode(T.self, from: Data(trial)); return (path, text) } catch {
                if !isPlaceless(error) { return (path, text) }
            }
        }
        return nil
    }
    /// "FILE, line L, column C, at KEY".
    static func place(_ path: String, line: Int, column: Int, keyPath: String) -> String {
        "\(path), line \(line), column \(column)" + (keyPath.isEmpty ? "" : ", at \(keyPath)")
    }

    /// The components of a decoder's coding path as the parser names them (keys, "[k]" for elements).
    static func components(_ codingPath: [CodingKey]) -> [String] {
        codingPath.map { key in
            if let k = key.intValue, key.stringValue == "Index \(k)" { return "[\(k)]" }
            return key.stringValue
        }
    }

    /// What a type is called in a message: "a number", "a whole number", "a string", ...
    static func noun(_ type: Any.Type) -> String {
        if type == Double.self || type == Float.self { return "a number" }
        if [Int.self, Int64.self, Int32.self, UInt64.self, UInt32.self, UInt.self, UInt8.self].contains(where: { $0 == type }) {
            return "a whole number"
        }
        if type == String.self { return "a string" }
        if type == Bool.self { return "true or false" }
        let name = String(describing: type)
        if name.hasPrefix("Array<") || name.hasPrefix("[") && !name.contains(":") { return "an array" }
        return "an object"
    }

    /// A value as a message quotes it: its type and, for a short one, its text.
    static func found(_ value: OrderedJSON?) -> String {
        guard let value else { return "nothing" }
        switch value {
        case .object: return "an object"
        case .array: return "an array"
        case .null: return "null"
        default:
            let text = value.text
            return value.typeName + " (" + (text.count > 40 ? String(text.prefix(40)) + "..." : text) + ")"
        }
    }

    static func message<T: Decodable>(
        for error: Error, located: OrderedJSON.Located?, bytes data: Data, path: String, advice: String,
        firstLine: Int = 1, type: T.Type
    ) -> String {
        let json = located?.value, offsets = located?.offsets ?? [:], bytes = Array(data)
        func at(_ components: [String], _ what: String) -> String {
            // The deepest part of the path the file has (a missing key is placed at its object).
            var known = components
            while !known.isEmpty && offsets[OrderedJSON.keyPath(known)] == nil { known.removeLast() }
            let (line, column) = OrderedJSON.lineAndColumn(of: offsets[OrderedJSON.keyPath(known)] ?? 0, in: bytes)
            return place(path, line: line + firstLine - 1, column: column, keyPath: OrderedJSON.keyPath(components)) + ": " + what + ". "
                + advice
        }
        if isPlaceless(error), let located, let (keyPath, text) = unfitNumber(located, in: data, type: T.self),
            let number = located.numbers.first(where: { $0.path == keyPath })
        {
            let (line, column) = OrderedJSON.lineAndColumn(of: number.bytes.lowerBound, in: bytes)
            return place(path, line: line + firstLine - 1, column: column, keyPath: keyPath)
                + ": expected a whole number in this field's range, found \(text). " + advice
        }
        switch error {
        case let e as ExperimentError:
            return "\(path): \(e.description)"
        case let e as OrderedJSON.SyntaxError:
            return place(path, line: e.line + firstLine - 1, column: e.column, keyPath: e.keyPath) + ": " + e.what + ". " + advice
        case DecodingError.typeMismatch(let type, let c):
            let p = components(c.codingPath)
            return at(p, "expected \(noun(type)), found \(found(json?.value(at: p)))")
        case DecodingError.valueNotFound(let type, let c):
            let p = components(c.codingPath)
            return at(p, "expected \(noun(type)), found \(json?.value(at: p) == nil ? "nothing" : "null")")
        case DecodingError.keyNotFound(let key, let c):
            let p = components(c.codingPath)
            return at(
                p + [key.stringValue], "the key \"\(key.stringValue)\" is missing" + (p.isEmpty ? "" : " in \(OrderedJSON.keyPath(p))"))
        case DecodingError.dataCorrupted(let c):
            let p = components(c.codingPath)
            let value = json?.value(at: p)
            if case .number = value, let v = value, c.debugDescription.contains("fit") || c.debugDescription.contains("representable") {
                return at(
                    p, "the number \(v.text) does not fit \(c.debugDescription.contains("Int") ? "this whole-number field" : "this field")")
            }
            return at(p, "\(c.debugDescription.trimmingCharacters(in: CharacterSet(charactersIn: ". "))) (found \(found(value)))")
        default:
            return "\(path): \(error). \(advice)"
        }
    }
}
