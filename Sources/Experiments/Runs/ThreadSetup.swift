// The threads of one run (`--threads`): how many the machine gives this process, and the one call
// that hands the number to everything that runs work in parallel (OpenBLAS and the package's own
// kernels).
import Foundation
import Linalg
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The threads of a run: `--threads` of `moduli train`, `evaluate`, `generate` and `bench`.
public enum ThreadSetup {
    /// The cores this process may use: the smallest of the processors online
    /// (`ProcessInfo.activeProcessorCount`), the CPUs of its affinity mask (`taskset`, a Slurm
    /// allocation) and its cgroup's CPU quota rounded up (a container's `--cpus`); at least 1.
    /// Read once per process.
    public static let availableCores: Int = {
        var cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        if let mask = affinityCount() { cores = min(cores, mask) }
        if let quota = cgroupQuota() { cores = min(cores, quota) }
        return max(1, cores)
    }()

    /// The default of `--threads`: every core this process may use (`availableCores`), at most
    /// the 256 a configuration allows.
    public static var defaultThreads: Int { min(availableCores, 256) }

    /// Gives `threads` to the package's worker pool, which runs everything of a run's work that is
    /// parallel: the sparse and element kernels, and the dense products, cut into blocks of one
    /// single-threaded OpenBLAS call each (`GEMMBlocks`; OpenBLAS's own threads stay at one, since
    /// its results depend on their number). Each output element is computed by one thread in a
    /// fixed order, so results do not depend on `threads`.
    public static func apply(threads: Int) {
        BLASThreads.set(1)
        Parallel.setThreadCount(max(1, threads))
    }

    /// The CPUs in this process's affinity mask (Linux: `Cpus_allowed_list` of /proc/self/status),
    /// or nil when it cannot be read.
    static func affinityCount() -> Int? {
        #if os(Linux)
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
            else { return nil }
            return cpuCount(list: String(line.dropFirst("Cpus_allowed_list:".count)))
        #else
            return nil
        #endif
    }

    /// The number of CPUs in a Linux CPU list ("0-3,8,10-11": 7), or nil for text that is not one.
    static func cpuCount(list: String) -> Int? {
        var count = 0
        for part in list.split(separator: ",") {
            let range = part.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "-", omittingEmptySubsequences: false)
            guard let first = range.first.flatMap({ Int($0) }), first >= 0 else { return nil }
            switch range.count {
            case 1: count += 1
            case 2:
                guard let last = Int(range[1]), last >= first else { return nil }
                count += last - first + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// The cgroup's CPU quota in whole CPUs (rounded up), or nil when there is none or it cannot be read.
    static func cgroupQuota() -> Int? {
        #if os(Linux)
            if let text = try? String(contentsOfFile: "/sys/fs/cgroup/cpu.max", encoding: .utf8) {
                return quota(cpuMax: text)
            }
            if let q = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding: .utf8),
                let p = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding: .utf8)
            {
                return quota(cpuMax: q.trimmingCharacters(in: .whitespacesAndNewlines) + " " + p)
            }
        #endif
        return nil
    }

    /// Whole CPUs of a cgroup quota written as cgroup v2's cpu.max ("QUOTA PERIOD" in
    /// microseconds, QUOTA "max" or negative for none), rounded up; nil for no quota or text that
    /// is not one.
    static func quota(cpuMax text: String) -> Int? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard parts.count >= 2, let quota = Double(parts[0]), let period = Double(parts[1]), quota > 0, period > 0 else { return nil }
        return max(1, Int((quota / period).rounded(.up)))
    }

    /// Threads per run for `jobs` runs at a time on `cores` cores: max(1, cores / jobs).
    public static func threadsPerJob(jobs: Int, cores: Int = availableCores) -> Int { max(1, cores / max(1, jobs)) }

    /// A warning when `jobs` runs at a time with `threads` threads each would run more busy
    /// threads than `cores`, naming all three and the fix; nil when they fit.
    public static func oversubscription(jobs: Int, threads: Int, cores: Int = availableCores) -> String? {
        guard jobs * threads > cores else { return nil }
        return
            """
            \(jobs) runs at a time (--jobs \(jobs)) x \(threads) threads each (--threads \(threads)) = \(jobs * threads) busy \
            threads on \(cores) cores: the runs slow each other down. Give --threads \(threadsPerJob(jobs: jobs, cores: cores)) \
            or fewer --jobs, or leave --threads out (the sweep then gives each run \(threadsPerJob(jobs: jobs, cores: cores))).
            """
    }
}
