// A sweep: one task, a grid of configurations (each the flags a user gives `moduli train <task>`,
// resolved through the task's option table into a config file per run) times seeds, read from a
// small JSON file or named among the paper's grids (docs/method.md sections 4 and 6; the README's
// results tables). docs/cli.md describes the file format.
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

    /// The task (`moduli train <task>`).
    public var task: String
    /// Flags every run gets, before its configuration's.
    public var base: [String]
    /// The seeds, in order.
    public var seeds: [UInt64]
    /// The configurations, in the order of the table's rows.
    public var configurations: [Configuration]

    /// A spec from its parts (checked with `validate(path:)`).
    public init(task: String, base: [String] = [], seeds: [UInt64], configurations: [Configuration]) {
        self.task = task; self.base = base; self.seeds = seeds; self.configurations = configurations
    }

    /// The keys a spec file may hold.
    public static let keys = ["task", "base", "seeds", "configurations"]

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
        guard let seedsValue = member("seeds") else { throw ExperimentError("\(path) lacks \"seeds\": list the seeds, e.g. [0, 1, 2].") }
        guard case .array(let seedElements) = seedsValue else {
            throw ExperimentError("\(path): \"seeds\" must be an array of seeds, e.g. [0, 1, 2], not \(seedsValue.typeName).")
        }
        let seeds: [UInt64] = try seedElements.enumerated().map { k, element in
            guard case .number(let x) = element, x >= 0, x <= 9_007_199_254_740_992, x.rounded() == x else {
                throw ExperimentError("\(path): \"seeds\"[\(k)] must be a whole number from 0 to 2^53, not \(element.text).")
            }
            return UInt64(x)
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
        let spec = SweepSpec(task: task, base: base, seeds: seeds, configurations: configurations)
        try spec.validate(path: path)
        return spec
    }

    /// Checks the spec: a known task, at least one seed (no repeats) and configuration, names that
    /// make run directories, and no flag the sweep sets itself. Errors name `path` and the key.
    public func validate(path: String) throws {
        do { _ = try TaskRegistry.task(named: task) } catch let e as ExperimentError {
            throw ExperimentError("\(path): \"task\": \(e.description)")
        }
        if seeds.isEmpty { throw ExperimentError("\(path): \"seeds\" is empty: list at least one seed.") }
        if let repeated = seeds.first(where: { s in seeds.filter { $0 == s }.count > 1 }) {
            throw ExperimentError("\(path): \"seeds\" lists \(repeated) twice.")
        }
        if configurations.isEmpty { throw ExperimentError("\(path): \"configurations\" is empty: give at least one, e.g. {\"none\": []}.") }
        for c in configurations {
            try Self.checkName(c.name, path: path)
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

    /// Every run's resolved configuration (the bytes of its config.json): the base flags and the
    /// configuration's flags read by the task's option table (`TaskOptions`), at the run's seed.
    /// Errors name `path`, the configuration, the flag and the configuration key. With `threads`,
    /// a configuration whose flags do not give `--threads` gets `--threads threads` (the sweep's
    /// share of the cores per run); one that gives it keeps its own.
    public func resolvedConfigs(path: String, threads: Int? = nil) throws -> [(run: SweepRun, config: Data)] {
        let registered: RegisteredTask
        do { registered = try TaskRegistry.task(named: task) } catch let e as ExperimentError {
            throw ExperimentError("\(path): \"task\": \(e.description)")
        }
        var files: [String: Data] = [:]
        for c in configurations {
            do {
                var arguments = base + c.flags
                if let threads, try !registered.keys(givenBy: arguments).contains("training.threads") {
                    arguments += ["--threads", String(threads)]
                }
                let resolved = try registered.resolvedConfigFiles(arguments: arguments, seeds: seeds)
                for (seed, data) in zip(seeds, resolved) { files[SweepRun.name(configuration: c.name, seed: seed)] = data }
            } catch let e as OptionError {
                throw ExperimentError(
                    """
                    \(path): configuration \"\(c.name)\" (moduli train \(([task] + base + c.flags).joined(separator: " "))): \
                    \(e.description)
                    """
                )
            } catch let e as ExperimentError {
                throw ExperimentError(
                    """
                    \(path): configuration \"\(c.name)\" (moduli train \(([task] + base + c.flags).joined(separator: " "))): \
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
    /// sweep stopped early has whole rows of the table at its first seeds.
    public var runs: [SweepRun] {
        var runs: [SweepRun] = []
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
    /// The base flags and the configuration's flags.
    public var flags: [String]

    /// The run directory's name, `<configuration>-s<seed>`.
    public var name: String { Self.name(configuration: configuration, seed: seed) }

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
