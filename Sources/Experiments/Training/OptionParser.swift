// The parser of option words (`--name VALUE`, `--name=VALUE`, `--flag`, `--no-flag`) against a
// table of `ConfigOption` declarations.
import Foundation

/// Reads option words against a table.
public enum OptionParser {
    /// The options in `arguments` with their texts, in the order given. Refuses an unknown option
    /// (naming the closest known one), a missing value, a value without an option, and an option
    /// given twice.
    public static func parse<Root>(_ arguments: [String], table: [ConfigOption<Root>]) throws -> [(
        option: ConfigOption<Root>, text: String
    )] {
        var result: [(option: ConfigOption<Root>, text: String)] = []
        var k = 0
        while k < arguments.count {
            let word = arguments[k]
            k += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                throw OptionError("Unexpected argument '\(word)': options are written --name VALUE (see --help).")
            }
            var name = String(word.dropFirst(2)), inline: String?
            if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
            var negated = false
            var found = table.first { $0.name == name }
            if found == nil, name.hasPrefix("no-"),
                let o = table.first(where: { $0.name == String(name.dropFirst(3)) && $0.arity == .inversion })
            {
                found = o; negated = true
            }
            guard let option = found else {
                let hint = closest(to: name, among: table.flatMap { $0.arity == .inversion ? [$0.name, "no-" + $0.name] : [$0.name] })
                throw OptionError("Unknown option '--\(name)'" + (hint.map { ": did you mean '--\($0)'?" } ?? "."))
            }
            if result.contains(where: { $0.option.name == option.name }) {
                throw OptionError("\(option.label) is given twice: give it once.")
            }
            switch option.arity {
            case .value(let placeholder):
                if let inline { result.append((option, inline)); continue }
                guard k < arguments.count, !isOptionWord(arguments[k]) else {
                    throw OptionError("\(option.label) needs a value: --\(option.name) <\(placeholder)>.")
                }
                result.append((option, arguments[k]))
                k += 1
            case .flag, .inversion:
                if inline != nil { throw OptionError("\(option.label) takes no value: give --\(name) alone.") }
                result.append((option, negated ? "false" : "true"))
            }
        }
        return result
    }

    /// Whether `word` is an option (`--name`) rather than a value; negative numbers are values.
    static func isOptionWord(_ word: String) -> Bool {
        word.hasPrefix("--") && word.count > 2 && Double(word) == nil
    }

    /// The name in `names` nearest to `name` by edit distance, when it is near enough to be a misspelling.
    static func closest(to name: String, among names: [String]) -> String? {
        let scored = names.map { ($0, editDistance(Array(name), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
