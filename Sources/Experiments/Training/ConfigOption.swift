// The options of `moduli train <task>`, each declared once: its flag, the configuration key it
// sets, its help, its value type and how it sets the configuration. The command line, `--resume`'s
// refusal, prerequisites, sweeps and the library's error messages all derive from these tables.
import Foundation
import NN
import Sparsity

/// What an option reads on the command line.
public enum OptionArity: Sendable, Equatable {
    /// One value after the flag (`--hidden 64` or `--hidden=64`); the placeholder names it in help.
    case value(String)
    /// No value: giving the flag sets it.
    case flag
    /// `--name` sets it, `--no-name` clears it.
    case inversion
}

/// A value an option can read: parsed from its text, with a description of what it expects.
public protocol OptionValue {
    /// The value written as `text`, or nil when `text` is no such value.
    static func parseOption(_ text: String) -> Self?
    /// What the option expects, for errors ("a whole number", "one of sgd, adam, adamw").
    static var optionExpectation: String { get }
}

extension Int: OptionValue {
    public static func parseOption(_ text: String) -> Int? { Int(text) }
    public static var optionExpectation: String { "a whole number" }
}

extension UInt64: OptionValue {
    public static func parseOption(_ text: String) -> UInt64? { UInt64(text) }
    public static var optionExpectation: String { "a whole number from 0 to \(UInt64.max)" }
}

extension Double: OptionValue {
    public static func parseOption(_ text: String) -> Double? { Double(text) }
    public static var optionExpectation: String { "a number" }
}

extension Array: OptionValue where Element == Double {
    /// Comma-separated numbers (spaces around them allowed), at least one.
    public static func parseOption(_ text: String) -> [Double]? {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { return nil }
        return values.compactMap { $0 }
    }
    public static var optionExpectation: String { "comma-separated numbers" }
}

extension Optional: OptionValue where Wrapped: OptionValue {
    /// An optional setting given on the command line: its value, parsed as `Wrapped`.
    public static func parseOption(_ text: String) -> Wrapped?? { Wrapped.parseOption(text).map { .some($0) } }
    public static var optionExpectation: String { Wrapped.optionExpectation }
}

extension String: OptionValue {
    public static func parseOption(_ text: String) -> String? { text }
    public static var optionExpectation: String { "a text" }
}

extension OptionValue where Self: RawRepresentable & CaseIterable, RawValue == String {
    public static func parseOption(_ text: String) -> Self? { Self(rawValue: text) }
    public static var optionExpectation: String { "one of \(allCases.map(\.rawValue).joined(separator: ", "))" }
}

extension LotteryMode: OptionValue {}
extension ScheduleShape: OptionValue {}
extension RecurrentKernels: OptionValue {}
extension ComputeDevice: OptionValue {}
extension OptimizerConfig.Kind: OptionValue {}
extension LearningRateSchedule.Kind: OptionValue {}

extension CellKind: OptionValue {
    /// PyTorch's names, any case.
    public static func parseOption(_ text: String) -> CellKind? { CellKind(rawValue: text.lowercased()) }
}

/// An error in the options given: what is wrong and what to do. The command line shows it as a
/// usage error.
public struct OptionError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and what to do.
    public let description: String
    /// An error with `message`.
    public init(_ message: String) { description = message }
}

/// One option of a configuration `Root`: declared once, used by every layer.
public struct ConfigOption<Root> {
    /// The name without dashes (`hidden`); the flag is `--hidden`.
    public let name: String
    /// The configuration key the option sets (`options.hiddenSize`, `training.optimizer.learningRate`).
    public let key: String
    /// The help line.
    public let help: String
    /// What it reads.
    public let arity: OptionArity
    /// The help section it belongs to.
    public var section: String = ""
    /// Whether the option chooses a starting configuration (applied before every other option).
    public var isPreset = false
    /// Sets the configuration from the text given (for flags: "true", or "false" for `--no-name`);
    /// the third argument is the option's label where the configuration is read (errors name it).
    let set: (inout Root, String, String) throws -> Void
    /// Why the option has no effect on a resolved configuration (its prerequisite is missing), or nil.
    let prerequisite: ((Root) -> String?)?

    /// The flag (`--hidden`); `--bias/--no-bias` for an inversion.
    public var flag: String { arity == .inversion ? "--\(name)/--no-\(name)" : "--\(name)" }

    /// The key with the flag in brackets, as errors name the option: `options.hiddenSize [--hidden]`.
    public var label: String { "\(key) [\(flag)]" }

    /// An option from its parts; `set` parses the text and stores the value (its third argument is
    /// the option's label, for errors), `prerequisite` says why a given option would have no effect.
    public init(
        name: String, key: String, help: String, arity: OptionArity,
        set: @escaping (inout Root, String, String) throws -> Void, prerequisite: ((Root) -> String?)? = nil
    ) {
        self.name = name; self.key = key; self.help = help; self.arity = arity; self.set = set; self.prerequisite = prerequisite
    }

    /// An option with one value of type `Value` stored at `path`; `placeholder` names the value in help.
    public static func value<Value: OptionValue>(
        _ name: String, _ path: WritableKeyPath<Root, Value>, key: String, _ placeholder: String,
        help: String, prerequisite: ((Root) -> String?)? = nil
    ) -> ConfigOption {
        ConfigOption(
            name: name, key: key, help: help, arity: .value(placeholder),
            set: { root, text, label in
                root[keyPath: path] = try parse(Value.self, text, label: label)
            }, prerequisite: prerequisite)
    }

    /// An option with one value of type `Value` stored in the optional at `path`.
    public static func value<Value: OptionValue>(
        _ name: String, _ path: WritableKeyPath<Root, Value?>, key: String, _ placeholder: String,
        help: String, prerequisite: ((Root) -> String?)? = nil
    ) -> ConfigOption {
        ConfigOption(
            name: name, key: key, help: help, arity: .value(placeholder),
            set: { root, text, label in
                root[keyPath: path] = try parse(Value.self, text, label: label)
            }, prerequisite: prerequisite)
    }

    /// A flag that sets the Boolean at `path` to true.
    public static func flag(
        _ name: String, _ path: WritableKeyPath<Root, Bool>, key: String, help: String,
        prerequisite: ((Root) -> String?)? = nil
    ) -> ConfigOption {
        ConfigOption(
            name: name, key: key, help: help, arity: .flag, set: { root, _, _ in root[keyPath: path] = true },
            prerequisite: prerequisite)
    }

    /// `--name` / `--no-name`: sets the Boolean at `path` to true or false.
    public static func inversion(_ name: String, _ path: WritableKeyPath<Root, Bool>, key: String, help: String) -> ConfigOption {
        ConfigOption(name: name, key: key, help: help, arity: .inversion, set: { root, text, _ in root[keyPath: path] = text == "true" })
    }

    /// A preset: `--name VALUE` replaces the whole configuration by `configuration(VALUE)` before
    /// the other options apply.
    public static func preset<Value: OptionValue>(
        _ name: String, _ type: Value.Type, key: String = "preset", help: String,
        configuration: @escaping (Value) -> Root
    ) -> ConfigOption {
        var option = ConfigOption(
            name: name, key: key, help: help, arity: .value("NAME"),
            set: { root, text, label in
                root = configuration(try parse(Value.self, text, label: label))
            })
        option.isPreset = true
        return option
    }

    /// The same option on a configuration that holds `Root` at `path`, its key under `prefix`.
    public func lifted<Outer>(_ path: WritableKeyPath<Outer, Root>, keyPrefix prefix: String) -> ConfigOption<Outer> {
        let set = self.set, prerequisite = self.prerequisite
        var o = ConfigOption<Outer>(
            name: name, key: prefix + key, help: help, arity: arity,
            set: { outer, text, label in try set(&outer[keyPath: path], text, label) },
            prerequisite: prerequisite.map { p in { outer in p(outer[keyPath: path]) } })
        o.section = section; o.isPreset = isPreset
        return o
    }

    /// The option in help section `title`.
    public func inSection(_ title: String) -> ConfigOption {
        var o = self
        o.section = title
        return o
    }

    /// Parses `text` as a `Value`; the error names the option by `label` and says what it expects.
    static func parse<Value: OptionValue>(_ type: Value.Type, _ text: String, label: String) throws -> Value {
        guard let v = Value.parseOption(text) else {
            throw OptionError("\(label) must be \(Value.optionExpectation), got '\(text)'.")
        }
        return v
    }
}
