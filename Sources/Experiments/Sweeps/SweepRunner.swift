// Runs a sweep's runs as child processes of the moduli binary (`moduli train --config
// DIR/configs/<config>-sS.json --out DIR/<config>-sS --quiet`), several at a time: every run isolated in its own process, the
// same command whether a local worker or a Slurm array task starts it. A finished run (summary.json)
// is never run again, a run with a checkpoint is resumed, a failed one is retried once.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the runs of a sweep directory.
public struct SweepRunner: Sendable {
    /// The sweep.
    public let directory: SweepDirectory
    /// The moduli executable the runs are started with.
    public let executable: String
    /// Runs at a time (worker processes).
    public var jobs: Int
    /// Receives one line per event (run started, finished, failed), for stderr.
    public var report: @Sendable (String) -> Void

    /// A runner of `directory`'s runs with `executable`, `jobs` at a time.
    public init(directory: SweepDirectory, executable: String, jobs: Int = 1, report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.directory = directory; self.executable = executable; self.jobs = max(1, jobs); self.report = report
    }

    /// How a session of the runner ended.
    public struct Outcome: Sendable, Equatable {
        /// Runs that finished in this session.
        public var finished: [String] = []
        /// Runs that already had a summary.json (not run).
        public var skipped: [String] = []
        /// Runs that failed twice.
        public var failed: [String] = []
        /// Runs another process was training (left alone).
        public var busy: [String] = []
        /// The signal that stopped the sweep (forwarded to its runs, which saved checkpoints), or nil.
        public var stoppedBy: Int32?
        /// Runs that were stopped with the sweep (resumed by the next `moduli sweep` of the same directory).
        public var stopped: [String] = []
    }

    /// The path of the running executable: /proc/self/exe resolved, else `CommandLine.arguments[0]`
    /// made absolute (searched in PATH when it has no slash).
    public static func currentExecutable() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            FileManager.default.isExecutableFile(atPath: resolved)
        {
            return resolved
        }
        let first = CommandLine.arguments.first ?? "moduli"
        if first.contains("/") { return URL(fileURLWithPath: first).standardizedFileURL.path }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = String(dir) + "/" + first
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return first
    }

    /// Runs every run of the sweep that has no summary.json (or only the run `only`, a Slurm
    /// array index, or only the runs whose indices `among` holds), `jobs` at a time, and records
    /// each in sweep.json.
    public func run(only: Int? = nil, among: Set<Int>? = nil) throws -> Outcome {
        let all = directory.spec.runs
        if let only, !all.indices.contains(only) {
            throw ExperimentError("--only-index \(only) is out of range: the sweep has runs 0 to \(all.count - 1).")
        }
        var outcome = Outcome()
        var queue: [(run: SweepRun, attempt: Int)] = []
        for run in only.map({ [all[$0]] }) ?? all where among?.contains(run.index) ?? true {
            switch directory.condition(of: run) {
            case .finished:
                outcome.skipped.append(run.name)
                try directory.update(run.index) { if $0.state != .finished { $0.state = .finished } }
            case .busy:
                outcome.busy.append(run.name)
                report("\(run.name): another process is training it; left alone")
            default:
                queue.append((run, 1))
            }
        }
        let total = queue.count
        var done = 0
        var running: [pid_t: (run: SweepRun, attempt: Int, start: Date)] = [:]
        var forwarded: Int32?
        while !queue.isEmpty || !running.isEmpty {
            if let signal = StopRequest.signal, forwarded != signal {
                // Stop: no new runs, the signal to every running one, then wait for them all.
                forwarded = signal
                outcome.stoppedBy = signal
                for (run, _) in queue { outcome.stopped.append(run.name) }
                queue.removeAll()
                if !running.isEmpty {
                    report("\(StopRequest.name(of: signal)): stopping \(running.count) run(s) at their next step (each saves a checkpoint)")
                }
                for pid in running.keys { _ = kill(pid, signal) }
            }
            while running.count < jobs, !queue.isEmpty, forwarded == nil {
                let (run, attempt) = queue.removeFirst()
                if let pid = try start(run, attempt: attempt, outcome: &outcome) {
                    running[pid] = (run, attempt, Date())
                }
            }
            guard !running.isEmpty else { continue }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid == 0 {
                // Nothing ended yet: look again shortly (and at a stop request in between).
                _ = usleep(20_000)
                continue
            }
            if pid < 0 {
                if errno == EINTR { continue }
                let e = errno
                throw ExperimentError("Waiting for the sweep's runs failed: \(FileIO.errorText(e)).")
            }
            guard let (run, attempt, began) = running.removeValue(forKey: pid) else { continue }
            let ending = Self.describe(status: status)
            let seconds = String(format: "%.1f s", Date().timeIntervalSince(began))
            if ending == nil, directory.condition(of: run) == .finished {
                done += 1
                outcome.finished.append(run.name)
                report("[\(done)/\(total)] \(run.name) finished in \(seconds)")
                try directory.update(run.index) {
                    $0.state = .finished; $0.attempts = attempt; $0.exit = nil
                }
            } else if forwarded != nil {
                outcome.stopped.append(run.name)
                report("\(run.name) stopped (\(ending ?? "exit 0")) after \(seconds)")
                try directory.update(run.index) {
                    $0.state = .pending; $0.attempts = attempt; $0.exit = nil
                }
            } else if attempt < 2 {
                let why = ending ?? "exit 0 without a summary.json"
                report("\(run.name) failed (\(why)) after \(seconds); retrying once (log: \(directory.file("logs/\(run.name).log").path))")
                queue.insert((run, attempt + 1), at: 0)
            } else {
                done += 1
                let why = ending ?? "exit 0 without a summary.json"
                outcome.failed.append(run.name)
                report("[\(done)/\(total)] \(run.name) failed again (\(why)); see \(directory.file("logs/\(run.name).log").path)")
                try directory.update(run.index) {
                    $0.state = .failed; $0.attempts = attempt; $0.exit = why
                }
            }
        }
        return outcome
    }

    /// Runs a tuned sweep in its two stages, each run's configuration file from `resolve` (the
    /// spec's `resolvedConfigs` given the selected values): first every run whose configuration is
    /// known (the tuning runs, the runs of configurations not tuned, and every run once a selection
    /// is recorded); then, when every tuning run has finished, the selection (`SweepDirectory.selection`,
    /// made once and recorded in selection.json) and the confirmation runs at the selected values.
    /// A stop request, or a tuning run that failed or is busy, ends the sweep after the first stage.
    public func runTuned(resolve: ([String: String]) throws -> [(run: SweepRun, config: Data)]) throws -> Outcome {
        let first = try resolve(directory.recordedSelection()?.selected ?? [:])
        try directory.writeConfigs(first)
        let firstIndices = Set(first.map(\.run.index))
        var outcome = try run(among: firstIndices)
        guard outcome.stoppedBy == nil, directory.tuningFinished else { return outcome }
        let selection = try directory.selection()
        for choice in selection.choices {
            let means = choice.candidates.map { "\($0.value): \($0.mean.map { String(format: "%.6g", $0) } ?? "-")" }
            report(
                """
                \(choice.configuration): selected \(selection.flag) \(choice.value) by mean \(selection.metric) \
                (\(means.joined(separator: ", ")))
                """
            )
        }
        let all = try resolve(selection.selected)
        try directory.writeConfigs(all)
        let rest = Set(all.map(\.run.index)).subtracting(firstIndices)
        guard !rest.isEmpty else { return outcome }
        let second = try run(among: rest)
        outcome.finished += second.finished; outcome.skipped += second.skipped; outcome.failed += second.failed
        outcome.busy += second.busy; outcome.stopped += second.stopped; outcome.stoppedBy = second.stoppedBy
        return outcome
    }

    /// Starts `run` as its condition says (new, resumed, or anew over a run without a checkpoint);
    /// nil when it needs no process after all (finished or busy meanwhile).
    private func start(_ run: SweepRun, attempt: Int, outcome: inout Outcome) throws -> pid_t? {
        let dir = directory.directory(of: run).path
        let arguments: [String]
        let verb: String
        switch directory.condition(of: run) {
        case .finished:
            outcome.skipped.append(run.name)
            return nil
        case .busy:
            outcome.busy.append(run.name)
            report("\(run.name): another process is training it; left alone")
            return nil
        case .resumable: arguments = run.resumeArguments(directory: dir); verb = "resumed"
        case .restartable:
            arguments = run.startArguments(configFile: directory.configFile(of: run).path, directory: dir, overwrite: true);
            verb = "restarted"
        case .fresh:
            arguments = run.startArguments(configFile: directory.configFile(of: run).path, directory: dir, overwrite: false);
            verb = "started"
        }
        let log = directory.file("logs/\(run.name).log").path
        try RunDirectory.createDirectories(directory.file("logs").path)
        // A link at logs/ would send every run log elsewhere: the directory must be the sweep's own.
        try FileIO.refuseSymbolicLink(directory.file("logs").path, role: "the sweep's log directory")
        let header =
            "== \(ISO8601DateFormatter().string(from: Date())) attempt \(attempt): \(([executable] + arguments).joined(separator: " "))\n"
        let pid = try Self.spawn(executable, arguments, log: log, header: header)
        try directory.update(run.index) {
            $0.state = .running; $0.attempts = attempt; $0.exit = nil
        }
        report("\(run.name) \(verb)\(attempt > 1 ? " (attempt \(attempt))" : "")")
        return pid
    }

    /// How a child ended, from waitpid's status: nil for exit 0, else "exit N" or "signal N".
    static func describe(status: Int32) -> String? {
        let signal = status & 0x7f
        if signal == 0 {
            let code = (status >> 8) & 0xff
            return code == 0 ? nil : "exit \(code)"
        }
        return "signal \(signal)"
    }

    /// Starts `executable` with `arguments`, stdin from /dev/null, stdout and stderr appended to
    /// `log` after `header`; returns its process id. The log is opened once, here, without
    /// following a symbolic link (a link at its name is refused); the child gets that descriptor.
    /// The child runs in a process group of its own (a Ctrl-C at the terminal reaches the sweep
    /// alone, which forwards it once) with `MODULI_SWEEP_PARENT` set to this process's id, so that
    /// it stops when the sweep dies (`ProcessSetup.watchSweepParent`).
    static func spawn(_ executable: String, _ arguments: [String], log: String, header: String) throws -> pid_t {
        let fd = try FileIO.openFile(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, mode: 0o644, purpose: "open the run log")
        defer { FileIO.closeFile(fd) }
        let code = FileIO.writeAll(fd, Data(header.utf8))
        guard code == 0 else {
            throw ExperimentError("Cannot write the run log \(log): \(FileIO.errorText(code)). \(FileIO.advice(code))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // This process's environment as it is (entries byte for byte), with the sweep's process id added.
        let marker = ProcessSetup.sweepParentVariable + "="
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let pointer = entry.pointee {
            if strncmp(pointer, marker, marker.utf8.count) != 0 { envp.append(strdup(pointer)) }
            entry += 1
        }
        envp.append(strdup(marker + String(getpid())))
        envp.append(nil)
        defer { for p in envp { free(p) } }
        var pid: pid_t = 0
        let started = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard started == 0 else {
            throw ExperimentError("Cannot start \(executable): \(FileIO.errorText(started)).")
        }
        return pid
    }
}
