// A sweep: one task, a grid of configurations (each the flags a user gives `moduli train <task>`,
// resolved through the task's option table into a config file per run) times seeds, read from a
// small JSON file or named among the paper's grids (docs/method.md sections 4 and 6; the README's
// results tables). A spec may tune one flag: every tuned configuration runs at every value on the
// tuning seeds, the value with the best mean validation metric is selected (`SweepSelection`), and
// every configuration then runs at its selected value on fresh confirmation seeds. docs/cli.md
// describes the file format.
import Foundation
import Formats

/// A grid of runs: every configuration at every seed.
public struct SweepSpec: Codable, Sendable, Equatable {
    /// One row of the table: a name and the flags that make it.
    public struct Configuration: Codable, Sendable, Equatable {
        /// The name; its runs are `<name>-s<seed>`.
        public var name: String
        /// Flags of `moduli train <task>` after the base flags.
        public var flags: [String]

        /// A configuration from its parts.
        public init(name: String, flags: [String]) { self.name = name; self.flags = flags }
    }

    /// A tuned flag: its values, run on the tuning seeds, among which each tuned configuration's
    /// selected value is the best by the task's validation metric.
    public struct Tuning: Codable, Sendable, Equatable {
        /// The flag of `moduli train <task>` tuned, e.g. `--lambda`.
        public var flag: String
        /// Its values, as the command line writes them, in order (ties go to the first).
        public var values: [String]
        /// The tuning seeds (none of them a confirmation seed).
        public var seeds: [UInt64]
        /// The configurations tuned; nil: every one. The others run at their own flags on the
        /// confirmation seeds only.
        public var configurations: [String]?

        /// A tuned flag from its parts.
        public init(flag: String, values: [String], seeds: [UInt64], configurations: [String]? = nil) {
            self.flag = flag; self.values = values; self.seeds = seeds; self.configurations = configurations
        }
    }

    /// The task (`moduli train <task>`).
    public var task: String
    /// Flags every run gets, before its configuration's.
    public var base: [String]
    /// The seeds, in order: with `tune`, the confirmation seeds (`"confirm": {"seeds": [...]}`).
    public var seeds: [UInt64]
    /// The configurations, in the order of the table's rows.
    public var configurations: [Configuration]
    /// The tuned flag, or nil for a plain grid.
    public var tune: Tuning?
    /// The configurations the table compares every other one with (difference of means and its 95%
    /// interval), a column each; empty for none. The file's `"control"`: a name, or a list of names.
    /// They change no run, so a sweep may be collected or resumed with others.
    public var controls: [String]

    /// A spec from its parts (checked with `validate(path:)`).
    public init(
        task: String, base: [String] = [], seeds: [UInt64], configurations: [Configuration], tune: Tuning? = nil,
        controls: [String] = []
    ) {
        self.task = task; self.base = base; self.seeds = seeds; self.configurations = configurations
        self.tune = tune; self.controls = controls
    }

    /// The spec without its controls: what decides the runs.
    public var runsOnly: SweepSpec {
        var s = self
        s.controls = []
        return s
    }

    private enum CodingKeys: String, CodingKey { case task, base, seeds, configurations, tune, control }

    /// Reads sweep.json's copy: `"control"` is absent, one name, or a list of names.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decode(String.self, forKey: .task)
        base = try c.decode([String].self, forKey: .base)
        seeds = try c.decode([UInt64].self, forKey: .seeds)
        configurations = try c.decode([Configuration].self, forKey: .configurations)
        tune = try c.decodeIfPresent(Tuning.self, forKey: .tune)
        if let one = try? c.decodeIfPresent(String.self, forKey: .control) {
            controls = [one]
        } else {
            controls = try c.decodeIfPresent([String].self, forKey: .control) ?? []
        }
    }

    /// Writes `"control"` as one name when there is one (as sweep.json always had it), a list when several.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task, forKey: .task)
        try c.encode(base, forKey: .base)
        try c.encode(seeds, forKey: .seeds)
        try c.encode(configurations, forKey: .configurations)
        try c.encodeIfPresent(tune, forKey: .tune)
        switch controls.count {
        case 0: break
        case 1: try c.encode(controls[0], forKey: .control)
        default: try c.encode(controls, forKey: .control)
        }
    }

    /// The keys a spec file may hold.
    public static let keys = ["task", "base", "seeds", "configurations", "tune", "confirm", "control"]
    /// The keys of `"tune"`.
    public static let tuneKeys = ["flag", "values", "seeds", "configurations"]

    /// The names of the configurations tuned (none for a plain grid).
    public var tunedConfigurations: [String] {
        guard let tune else { return [] }
        return tune.configurations ?? configurations.map(\.name)
    }

    /// Flags the sweep sets itself, refused in a spec.
    public static let reservedFlags = ["--seed", "--out", "--quiet", "--resume", "--overwrite", "--config", "--help", "-h", "--version"]

    /// The largest spec file read.
    public static let maximumBytes = 1 << 20

    /// Reads the spec file at `path`; every error names the file and the key.
    public static func read(path: String) throws -> SweepSpec {
        let data = try RunDirectory.readFile(
            atPath: path, maximumBytes: maximumBytes,
            hint: "Name a sweep spec file (JSON, docs/cli.md) or a built-in grid (\(builtInNames.joined(separator: ", "))).")
        return try parse(data, path: path)
    }

    /// Parses a spec file's bytes; `path` names it in errors.
    public static func parse(_ data: Data, path: String) throws -> SweepSpec {
        let json = try JSONFile.parse(data, path: path, advice: "Fix the spec file (docs/cli.md describes the format).")
        guard case .object(let members) = json else {
            throw ExperimentError(
                """
                \(path): a sweep spec is a JSON object with \"task\", \"seeds\" and \"configurations\" (and optionally \"base\"), not \
                \(json.typeName).
                """
            )
        }
        func member(_ key: String) -> OrderedJSON? { members.first { $0.key == key }?.value }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            throw ExperimentError(
                "\(path) has an unknown key \"\(unknown.key)\": a sweep spec has only \(keys.map { "\"\($0)\"" }.joined(separator: ", ")).")
        }
        func flags(_ value: OrderedJSON, at key: String) throws -> [String] {
            guard case .array(let elements) = value else {
                throw ExperimentError(
                    "\(path): \"\(key)\" must be an array of flags as strings (e.g. [\"--moduli\", \"torus\"]), not \(value.typeName).")
            }
            return try elements.enumerated().map { k, element in
                guard case .string(let s) = element else {
                    throw ExperimentError(
                        "\(path): \"\(key)\"[\(k)] must be a string (write numbers as \"0.95\"), not \(element.typeName).")
                }
                return s
            }
        }
        guard let taskValue = member("task") else {
            throw ExperimentError(
                "\(path) lacks \"task\": name the task to train (\(TaskRegistry.tasks.map(\.name).joined(separator: ", "))).")
        }
        guard case .string(let task) = taskValue else {
            throw ExperimentError("\(path): \"task\" must be a string, not \(taskValue.typeName).")
        }
        let base = try member("base").map { try flags($0, at: "base") } ?? []
        func seedList(_ value: OrderedJSON, at key: String) throws -> [UInt64] {
            guard case .array(let seedElements) = value else {
                throw ExperimentError("\(path): \"\(key)\" must be an array of seeds, e.g. [0, 1, 2], not \(value.typeName).")
            }
            return try seedElements.enumerated().map { k, element in
                guard case .number(let x) = element, x >= 0, x <= 9_007_199_254_740_992, x.rounded() == x else {
                    throw ExperimentError("\(path): \"\(key)\"[\(k)] must be a whole number from 0 to 2^53, not \(element.text).")
                }
                return UInt64(x)
            }
        }
        func object(_ value: OrderedJSON, at key: String, keys: [String], example: String) throws -> [(key: String, value: OrderedJSON)] {
            guard case .object(let members) = value else {
                throw ExperimentError("\(path): \"\(key)\" must be an object like \(example), not \(value.typeName).")
            }
            if let unknown = members.first(where: { !keys.contains($0.key) }) {
                throw ExperimentError(
                    """
                    \(path): \"\(key)\" has an unknown key \"\(unknown.key)\": it has only \
                    \(keys.map { "\"\($0)\"" }.joined(separator: ", ")).
                    """
                )
            }
            return members
        }
        let tuneExample = #"{"flag": "--lambda", "values": ["0.001", "0.01"], "seeds": [0, 1]}"#
        var tune: Tuning?
        if let tuneValue = member("tune") {
            let t = try object(tuneValue, at: "tune", keys: tuneKeys, example: tuneExample)
            func part(_ key: String) throws -> OrderedJSON {
                guard let v = t.first(where: { $0.key == key })?.value else {
                    throw ExperimentError("\(path): \"tune\" lacks \"\(key)\": it is an object like \(tuneExample).")
                }
                return v
            }
            guard case .string(let flag) = try part("flag") else {
                throw ExperimentError("\(path): \"tune.flag\" must be a string, the flag tuned (e.g. \"--lambda\").")
            }
            tune = Tuning(
                flag: flag, values: try flags(try part("values"), at: "tune.values"),
                seeds: try seedList(try part("seeds"), at: "tune.seeds"),
                configurations: try t.first(where: { $0.key == "configurations" }).map { try flags($0.value, at: "tune.configurations") })
        }
        let seeds: [UInt64]
        if tune != nil {
            if member("seeds") != nil {
                throw ExperimentError(
                    """
                    \(path): a tuned spec gives its seeds in \"tune\" (tuning seeds) and \"confirm\" (fresh seeds the selected \
                    values run at), not in \"seeds\": remove \"seeds\".
                    """
                )
            }
            guard let confirmValue = member("confirm") else {
                throw ExperimentError(
                    """
                    \(path): a tuned spec needs \"confirm\": the fresh seeds every configuration runs at with its selected value, \
                    e.g. {"seeds": [100, 101, 102]}.
                    """
                )
            }
            let c = try object(confirmValue, at: "confirm", keys: ["seeds"], example: #"{"seeds": [100, 101, 102]}"#)
            guard let list = c.first?.value else { throw ExperimentError("\(path): \"confirm\" lacks \"seeds\".") }
            seeds = try seedList(list, at: "confirm.seeds")
        } else {
            if member("confirm") != nil {
                throw ExperimentError("\(path): \"confirm\" goes with \"tune\": without a tuned flag, list the seeds in \"seeds\".")
            }
            guard let seedsValue = member("seeds") else {
                throw ExperimentError("\(path) lacks \"seeds\": list the seeds, e.g. [0, 1, 2].")
            }
            seeds = try seedList(seedsValue, at: "seeds")
        }
        var controls: [String] = []
        if let controlValue = member("control") {
            if case .string(let name) = controlValue {
                controls = [name]
            } else if case .array = controlValue {
                controls = try flags(controlValue, at: "control")
            } else {
                throw ExperimentError(
                    """
                    \(path): \"control\" must be the name of a configuration or a list of names (e.g. [\"none\", \"permuted\"]), \
                    not \(controlValue.typeName).
                    """
                )
            }
        }
        guard let configurationsValue = member("configurations") else {
            throw ExperimentError(
                "\(path) lacks \"configurations\": an object of name: [flags], e.g. {\"torus\": [\"--moduli\", \"torus\"], \"none\": []}.")
        }
        guard case .object(let entries) = configurationsValue else {
            throw ExperimentError(
                """
                \(path): \"configurations\" must be an object of name: [flags] (rows in the table's order), not \
                \(configurationsValue.typeName).
                """
            )
        }
        let configurations = try entries.map { Configuration(name: $0.key, flags: try flags($0.value, at: "configurations.\($0.key)")) }
        let spec = SweepSpec(task: task, base: base, seeds: seeds, configurations: configurations, tune: tune, controls: controls)
        try spec.validate(path: path)
        return spec
    }

    /// Checks the spec: a known task, at least one seed (no repeats) and configuration, names that
    /// make run directories, and no flag the sweep sets itself. Errors name `path` and the key.
    public func validate(path: String) throws {
        do { _ = try TaskRegistry.task(named: task) } catch let e as ExperimentError {
            throw ExperimentError("\(path): \"task\": \(e.description)")
        }
        let seedsKey = tune == nil ? "seeds" : "confirm.seeds"
        try Self.checkSeeds(seeds, key: seedsKey, path: path)
        if configurations.isEmpty { throw ExperimentError("\(path): \"configurations\" is empty: give at least one, e.g. {\"none\": []}.") }
        for c in configurations {
            try Self.checkName(c.name, path: path)
        }
        for control in controls where !configurations.contains(where: { $0.name == control }) {
            throw ExperimentError(
                "\(path): \"control\" names \(control), which is no configuration (\(configurations.map(\.name).joined(separator: ", "))).")
        }
        if Set(controls).count != controls.count {
            throw ExperimentError("\(path): \"control\" lists a configuration twice (\(controls.joined(separator: ", "))): name each once.")
        }
        if let tune { try validate(tune, path: path) }
        var seen = Set<String>()
        for run in runs where !seen.insert(run.name).inserted {
            throw ExperimentError("\(path): two runs would share the directory \(run.name): rename a configuration.")
        }
        for (key, list) in [("base", base)] + configurations.map({ ("configurations.\($0.name)", $0.flags) }) {
            for flag in list {
                let bare = flag.split(separator: "=", maxSplits: 1).first.map(String.init) ?? flag
                if Self.reservedFlags.contains(bare) {
                    throw ExperimentError(
                        """
                        \(path): \"\(key)\" gives \(bare), which the sweep sets itself (each run gets --seed, --out and --quiet; \
                        resuming is automatic). Remove it.
                        """
                    )
                }
            }
        }
    }

    /// Checks a list of seeds: at least one, none twice.
    static func checkSeeds(_ seeds: [UInt64], key: String, path: String) throws {
        if seeds.isEmpty { throw ExperimentError("\(path): \"\(key)\" is empty: list at least one seed.") }
        if let repeated = seeds.first(where: { s in seeds.filter { $0 == s }.count > 1 }) {
            throw ExperimentError("\(path): \"\(key)\" lists \(repeated) twice.")
        }
    }

    /// Checks the tuned flag: a flag the sweep does not set itself, values that can name a run
    /// directory (no value twice), tuning seeds apart from the confirmation seeds, configurations
    /// that exist, and a task with a validation metric to select on.
    func validate(_ tune: Tuning, path: String) throws {
        let registered = try TaskRegistry.task(named: task)
        do { _ = try registered.validationMetric() } catch let e as ExperimentError {
            throw ExperimentError("\(path): \"tune\": \(e.description)")
        }
        guard tune.flag.hasPrefix("--"), !tune.flag.contains("=") else {
            throw ExperimentError(
                "\(path): \"tune.flag\" must be a flag of moduli train \(task) such as \"--lambda\", got \"\(tune.flag)\".")
        }
        if Self.reservedFlags.contains(tune.flag) {
            throw ExperimentError("\(path): \"tune.flag\" is \(tune.flag), which the sweep sets itself: tune another flag.")
        }
        if !registered.optionFlags.contains(tune.flag) {
            throw ExperimentError(
                """
                \(path): \"tune.flag\" is \(tune.flag), which is no option of moduli train \(task) (moduli train \(task) --help lists \
                them).
                """
            )
        }
        if tune.values.isEmpty {
            throw ExperimentError("\(path): \"tune.values\" is empty: list the values to try, e.g. [\"0.001\", \"0.01\"].")
        }
        for value in tune.values {
            guard value.range(of: #"^[A-Za-z0-9._+-]{1,40}$"#, options: .regularExpression) != nil else {
                throw ExperimentError(
                    """
                    \(path): \"tune.values\" holds \"\(value)\", which cannot be part of a run directory's name: use letters, \
                    digits, '.', '_', '+' and '-' (at most 40 characters).
                    """
                )
            }
            if tune.values.filter({ $0 == value }).count > 1 { throw ExperimentError("\(path): \"tune.values\" lists \(value) twice.") }
        }
        try Self.checkSeeds(tune.seeds, key: "tune.seeds", path: path)
        if let shared = tune.seeds.first(where: { seeds.contains($0) }) {
            throw ExperimentError(
                """
                \(path): seed \(shared) is both a tuning seed and a confirmation seed: the confirmation runs need fresh seeds, so \
                that the selected value is judged on runs it was not selected on.
                """
            )
        }
        if let names = tune.configurations {
            if names.isEmpty {
                throw ExperimentError("\(path): \"tune.configurations\" is empty: name the configurations tuned, or leave it out.")
            }
            for name in names where !configurations.contains(where: { $0.name == name }) {
                throw ExperimentError(
                    """
                    \(path): \"tune.configurations\" names \(name), which is no configuration \
                    (\(configurations.map(\.name).joined(separator: ", "))).
                    """
                )
            }
        }
    }

    /// Checks a configuration name: letters, digits, `.`, `_`, `+`, `-`, starting with a letter or
    /// digit, at most 100 characters, and not ending in `-s<digits>` (the seed suffix).
    static func checkName(_ name: String, path: String) throws {
        let allowed = name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$"#, options: .regularExpression) != nil
        guard allowed else {
            throw ExperimentError(
                """
                \(path): the configuration name \"\(name)\" cannot name a run directory: use letters, digits, '.', '_', '+' and '-' \
                (starting with a letter or digit, at most 100 characters).
                """
            )
        }
        if name.range(of: #"-s[0-9]+$"#, options: .regularExpression) != nil {
            throw ExperimentError(
                """
                \(path): the configuration name \"\(name)\" ends like a seed suffix (-s<N>), which would mix it with another \
                configuration's runs: rename it.
                """
            )
        }
    }

    /// Every run's resolved configuration (the bytes of its config.json): the base flags, the
    /// configuration's flags and, for a tuned configuration, the tuned flag at the run's value (a
    /// tuning run) or at the configuration's value in `selected` (a confirmation run; left out
    /// while `selected` lacks it), read by the task's option table (`TaskOptions`) at the run's
    /// seed. Errors name `path`, the configuration, the flag and the configuration key. With
    /// `threads`, a configuration whose flags do not give `--threads` gets `--threads threads` (the
    /// sweep's share of the cores per run); one that gives it keeps its own.
    public func resolvedConfigs(
        path: String, threads: Int? = nil, selected: [String: String] = [:]
    ) throws -> [(run: SweepRun, config: Data)] {
        let registered: RegisteredTask
        do { registered = try TaskRegistry.task(named: task) } catch let e as ExperimentError {
            throw ExperimentError("\(path): \"task\": \(e.description)")
        }
        let tuned = Set(tunedConfigurations)
        // Runs that share their flags resolve together, one file per seed.
        var groups: [(configuration: String, arguments: [String], runs: [SweepRun])] = []
        for run in runs {
            var arguments = run.flags
            if let tune, run.value == nil, tuned.contains(run.configuration) {
                guard let value = selected[run.configuration] else { continue }
                arguments += [tune.flag, value]
            }
            if let k = groups.firstIndex(where: { $0.configuration == run.configuration && $0.arguments == arguments }) {
                groups[k].runs.append(run)
            } else {
                groups.append((run.configuration, arguments, [run]))
            }
        }
        var files: [String: Data] = [:]
        for group in groups {
            do {
                var arguments = group.arguments
                if let threads, try !registered.keys(givenBy: arguments).contains("training.threads") {
                    arguments += ["--threads", String(threads)]
                }
                let resolved = try registered.resolvedConfigFiles(arguments: arguments, seeds: group.runs.map(\.seed))
                for (run, data) in zip(group.runs, resolved) { files[run.name] = data }
            } catch let e as OptionError {
                throw ExperimentError(
                    """
                    \(path): configuration \"\(group.configuration)\" (moduli train \(([task] + group.arguments).joined(separator: " "))): \
                    \(e.description)
                    """
                )
            } catch let e as ExperimentError {
                throw ExperimentError(
                    """
                    \(path): configuration \"\(group.configuration)\" (moduli train \(([task] + group.arguments).joined(separator: " "))): \
                    \(e.description)
                    """
                )
            }
        }
        return runs.compactMap { run in files[run.name].map { (run, $0) } }
    }

    /// The largest `training.threads` among resolved configurations (config.json bytes), or nil
    /// when none can be read.
    public static func largestThreads(_ configs: [(run: SweepRun, config: Data)]) -> Int? {
        configs.compactMap { entry -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: entry.config) as? [String: Any],
                let training = object["training"] as? [String: Any]
            else { return nil }
            return (training["threads"] as? NSNumber)?.intValue
        }.max()
    }

    /// The same grid with the seeds 0..<count.
    public func withSeeds(count: Int) -> SweepSpec {
        var s = self
        s.seeds = (0..<UInt64(max(0, count))).map { $0 }
        return s
    }

    /// The runs, seed by seed (every configuration at the first seed, then at the next), so that a
    /// sweep stopped early has whole rows of the table at its first seeds. With `tune`, the tuning
    /// runs come first (seed by seed, value by value, every tuned configuration), then the
    /// confirmation runs (`seeds`), whose tuned configurations run at their selected values.
    public var runs: [SweepRun] {
        var runs: [SweepRun] = []
        if let tune {
            let tuned = Set(tunedConfigurations)
            for seed in tune.seeds {
                for value in tune.values {
                    for c in configurations where tuned.contains(c.name) {
                        runs.append(
                            SweepRun(
                                index: runs.count, configuration: c.name, seed: seed, task: task,
                                flags: base + c.flags + [tune.flag, value], value: value))
                    }
                }
            }
        }
        for seed in seeds {
            for c in configurations {
                runs.append(SweepRun(index: runs.count, configuration: c.name, seed: seed, task: task, flags: base + c.flags))
            }
        }
        return runs
    }
}

/// One run of a sweep: a configuration at a seed, in the directory `<configuration>-s<seed>`.
public struct SweepRun: Sendable, Equatable {
    /// Its place in `SweepSpec.runs` (the Slurm array index).
    public var index: Int
    /// The configuration's name.
    public var configuration: String
    /// The run seed.
    public var seed: UInt64
    /// The task.
    public var task: String
    /// The base flags and the configuration's flags (and the tuned flag at `value` for a tuning run).
    public var flags: [String]
    /// The tuned flag's value of a tuning run; nil for a confirmation run or a plain grid's run.
    public var value: String? = nil

    /// The run directory's name, `<configuration>-s<seed>`, or `<configuration>-tune<value>-s<seed>`
    /// for a tuning run.
    public var name: String {
        value.map { Self.name(configuration: configuration, seed: seed, value: $0) } ?? Self.name(configuration: configuration, seed: seed)
    }

    /// The run directory's name of the tuning run of `configuration` at `value` and `seed`.
    public static func name(configuration: String, seed: UInt64, value: String) -> String { "\(configuration)-tune\(value)-s\(seed)" }

    /// The run directory's name of `configuration` at `seed`.
    public static func name(configuration: String, seed: UInt64) -> String { "\(configuration)-s\(seed)" }

    /// Arguments of `moduli` that start the run in `directory` from its resolved configuration file
    /// `configFile` (`overwrite`: replace a run that never reached its first checkpoint).
    public func startArguments(configFile: String, directory: String, overwrite: Bool) -> [String] {
        ["train", "--config", configFile, "--out", directory, "--quiet"] + (overwrite ? ["--overwrite"] : [])
    }

    /// Arguments of `moduli` that continue the run in `directory` from its checkpoint.
    public func resumeArguments(directory: String) -> [String] {
        ["train", task, "--out", directory, "--resume", "--quiet"]
    }
}

extension SweepSpec {
    /// The grids built in, by name.
    public static let builtInNames = ["paper-navigation", "paper-adding", "paper-language"]

    /// The built-in grid `name` with seeds 0, 1, 2; `preset` (navigation and language: small or
    /// paper, default paper) goes into the base flags. nil when `name` is no built-in grid; an error
    /// when `preset` does not apply.
    public static func builtIn(_ name: String, preset: String?) throws -> SweepSpec? {
        let seeds: [UInt64] = [0, 1, 2]
        switch name {
        case "paper-navigation":
            if let preset, !["small", "paper"].contains(preset) {
                throw ExperimentError("--preset must be small or paper, got \(preset).")
            }
            let dog = ["--inhibitor", "inverted-dog"]
            return SweepSpec(
                task: NavigationTask.name, base: ["--preset", preset ?? "paper"], seeds: seeds,
                configurations: [
                    Configuration(name: "torus", flags: ["--moduli", "torus"] + dog),
                    Configuration(name: "klein", flags: ["--moduli", "klein"] + dog),
                    Configuration(name: "circle", flags: ["--moduli", "circle"] + dog),
                    Configuration(name: "sphere", flags: ["--moduli", "sphere"] + dog),
                    Configuration(name: "torus6", flags: ["--moduli", "torus6"] + dog),
                    Configuration(name: "torus-square", flags: ["--moduli", "torus", "--inhibitor", "square"]),
                    Configuration(name: "permuted", flags: ["--moduli", "torus"] + dog + ["--permute"]),
                    Configuration(name: "none", flags: []),
                    Configuration(name: "l1", flags: ["--moduli", "standard"]),
                    Configuration(name: "strength-matched", flags: ["--moduli", "torus"] + dog + ["--strength-matched"])
                ])
        case "paper-adding":
            if preset != nil { throw ExperimentError("--preset applies to the paper-navigation and paper-language grids only.") }
            return SweepSpec(
                task: AddingTask.name, base: [], seeds: seeds,
                configurations: [
                    Configuration(name: "learned-torus", flags: ["--moduli", "torus", "--learn-embedding", "--target-sparsity", "0.95"]),
                    Configuration(name: "learned-r3", flags: ["--moduli", "r3", "--learn-embedding", "--target-sparsity", "0.95"]),
                    Configuration(name: "torus", flags: ["--moduli", "torus", "--target-sparsity", "0.95"]),
                    Configuration(name: "pruning", flags: ["--target-sparsity", "0.95"])
                ])
        case "paper-language":
            if let preset, !["small", "paper"].contains(preset) {
                throw ExperimentError("--preset must be small or paper, got \(preset).")
            }
            let dog = ["--inhibitor", "inverted-dog"]
            return SweepSpec(
                task: LanguageTask.name, base: ["--preset", preset ?? "paper"], seeds: seeds,
                configurations: [
                    Configuration(name: "torus", flags: ["--moduli", "torus"] + dog),
                    Configuration(name: "klein", flags: ["--moduli", "klein"] + dog),
                    Configuration(name: "permuted", flags: ["--moduli", "torus"] + dog + ["--permute"]),
                    Configuration(name: "none", flags: []),
                    Configuration(name: "l1", flags: ["--moduli", "standard"]),
                    Configuration(name: "strength-matched", flags: ["--moduli", "torus"] + dog + ["--strength-matched"])
                ])
        default:
            return nil
        }
    }
}
