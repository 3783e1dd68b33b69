// How much memory this process may still take: the least of this machine's memory, the memory
// limit of the process's control group (cgroup v2 memory.max, v1 memory.limit_in_bytes, as in a
// container or a Slurm job) and its address-space limit (RLIMIT_AS, `ulimit -v`), less what the
// process already uses of the latter two. The size checks compare their estimates against it, so
// that a run that cannot fit is refused with a message instead of dying in an allocation.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The memory a process can still allocate, and the limit that sets it.
public struct MemoryBudget: Sendable, Equatable {
    /// Bytes an estimate may take.
    public var bytes: Double
    /// Where the number comes from, for messages ("this machine's 23.6 GiB of memory").
    public var source: String

    /// The share of a limit an estimate may take: the estimates are approximate, and the
    /// allocator, the runtime and the BLAS threads take their part.
    public static let usableFraction = 0.8

    /// A budget of `bytes` from `source`.
    public init(bytes: Double, source: String) { self.bytes = bytes; self.source = source }

    /// 80% of `total` bytes of physical memory.
    public static func physical(_ total: Double) -> MemoryBudget {
        MemoryBudget(bytes: usableFraction * total, source: String(format: "this machine has %.1f GiB", total / gib))
    }

    /// The budget of this process now: the smallest of the machine's, the cgroup's and RLIMIT_AS's.
    public static func current() -> MemoryBudget {
        let machine = physical(Double(ProcessInfo.processInfo.physicalMemory))
        var budgets = [machine]
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        if let limit = addressSpaceLimit() {
            let used = statusField(status, "VmSize") ?? 0
            budgets.append(addressSpace(limit: limit, used: used))
        }
        if let (limit, file) = cgroupLimit(read: { try? String(contentsOfFile: $0, encoding: .utf8) }) {
            let used = statusField(status, "VmRSS") ?? 0
            budgets.append(cgroup(limit: limit, file: file, used: used))
        }
        return budgets.min { $0.bytes < $1.bytes } ?? machine
    }

    /// 80% of what RLIMIT_AS leaves beside the `used` bytes of address space the process has.
    static func addressSpace(limit: Double, used: Double) -> MemoryBudget {
        MemoryBudget(
            bytes: usableFraction * max(0, limit - used),
            source: String(
                format: "the address-space limit (ulimit -v) is %.2f GiB, of which the process uses %.2f GiB; raise it with ulimit -v",
                limit / gib, used / gib))
    }

    /// 80% of what the cgroup's limit leaves beside the process's `used` resident bytes.
    static func cgroup(limit: Double, file: String, used: Double) -> MemoryBudget {
        MemoryBudget(
            bytes: usableFraction * max(0, limit - used),
            source: String(
                format: "the memory limit of the process's cgroup (%@) is %.2f GiB, of which the process uses %.2f GiB",
                file, limit / gib, used / gib))
    }

    static let gib = 1_073_741_824.0

    /// The soft RLIMIT_AS in bytes, nil when unlimited.
    static func addressSpaceLimit() -> Double? {
        var limit = rlimit()
        #if os(Linux)
            guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { return nil }
        #else
            guard getrlimit(RLIMIT_AS, &limit) == 0 else { return nil }
        #endif
        return limit.rlim_cur == rlim_t.max ? nil : Double(limit.rlim_cur)
    }

    /// A `Name:   N kB` field of /proc/self/status, in bytes.
    static func statusField(_ status: String, _ name: String) -> Double? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let words = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let value = words.first.flatMap({ Double($0) }) else { return nil }
            return words.count > 1 && words[1].lowercased() == "kb" ? value * 1024 : value
        }
        return nil
    }

    /// The tightest memory limit of the process's cgroup and its ancestors, with the file that sets
    /// it; nil without one. `read` gives a file's text (nil when missing): /proc/self/cgroup,
    /// /proc/self/mountinfo and the limit files.
    static func cgroupLimit(read: (String) -> String?) -> (bytes: Double, file: String)? {
        guard let membership = read("/proc/self/cgroup"), let mounts = read("/proc/self/mountinfo") else { return nil }
        var best: (bytes: Double, file: String)?
        for (mount, path, version) in cgroupDirectories(membership: membership, mountInfo: mounts) {
            // The cgroup's own directory, then each parent up to the mount point.
            var relative = path.split(separator: "/").map(String.init)
            while true {
                let directory = ([mount] + relative).joined(separator: "/")
                let file = directory + (version == 2 ? "/memory.max" : "/memory.limit_in_bytes")
                if let text = read(file), let bytes = version == 2 ? parseCgroup2Limit(text) : parseCgroup1Limit(text),
                    best.map({ bytes < $0.bytes }) ?? true
                {
                    best = (bytes, file)
                }
                if relative.isEmpty { break }
                relative.removeLast()
            }
        }
        return best
    }

    /// The memory cgroup directories of the process: for each cgroup2 mount and each cgroup v1
    /// mount with the memory controller, the mount point, the process's path below it and the
    /// version, from /proc/self/cgroup (`ID:CONTROLLERS:PATH` lines) and /proc/self/mountinfo.
    static func cgroupDirectories(membership: String, mountInfo: String) -> [(mount: String, path: String, version: Int)] {
        var v2Path: String?, v1Path: String?
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty { v2Path = String(fields[2]) }
            if fields[1].split(separator: ",").contains("memory") { v1Path = String(fields[2]) }
        }
        var result: [(String, String, Int)] = []
        for line in mountInfo.split(separator: "\n") {
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
            let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let dash = parts.firstIndex(of: "-"), dash >= 5, dash + 1 < parts.count else { continue }
            let root = parts[3], mountPoint = parts[4], type = parts[dash + 1]
            let superOptions = dash + 3 < parts.count ? parts[dash + 3].split(separator: ",").map(String.init) : []
            let path: String?, version: Int
            if type == "cgroup2" {
                path = v2Path; version = 2
            } else if type == "cgroup" && superOptions.contains("memory") {
                path = v1Path; version = 1
            } else {
                continue
            }
            guard let path else { continue }
            // The path is relative to the hierarchy's root; the mount shows the part below `root`.
            var below = path
            if root != "/" {
                guard path == root || path.hasPrefix(root + "/") else { continue }
                below = String(path.dropFirst(root.count))
            }
            result.append((mountPoint, below, version))
        }
        return result
    }

    /// memory.max of cgroup v2: bytes, or nil for "max" (no limit).
    static func parseCgroup2Limit(_ text: String) -> Double? {
        let word = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard word != "max", let value = UInt64(word) else { return nil }
        return Double(value)
    }

    /// memory.limit_in_bytes of cgroup v1: bytes, or nil for no limit (the kernel writes the
    /// largest page-aligned value, about 2^63).
    static func parseCgroup1Limit(_ text: String) -> Double? {
        guard let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), value < (1 << 62) else { return nil }
        return Double(value)
    }
}
