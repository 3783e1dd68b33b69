// The memory budget: limits read from cgroup files (v1 and v2, nested, with a mount root), the
// address-space limit less what the process uses, and the messages that name the limit.
import Foundation
import Testing
@testable import Experiments
@testable import Sparsity

@Suite struct MemoryLimitTests {
    static let mountInfoV2 = """
        22 1 0:21 / /proc rw,nosuid - proc proc rw
        30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
        """
    static let mountInfoV1 = """
        30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
        35 30 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
        36 30 0:32 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory
        """

    @Test func cgroupV2LimitsAreReadUpTheHierarchy() {
        let files = [
            "/proc/self/cgroup": "0::/user.slice/job-7/step\n",
            "/proc/self/mountinfo": Self.mountInfoV2,
            "/sys/fs/cgroup/user.slice/job-7/step/memory.max": "max\n",
            "/sys/fs/cgroup/user.slice/job-7/memory.max": "4294967296\n",
            "/sys/fs/cgroup/user.slice/memory.max": "8589934592\n"
        ]
        let limit = MemoryBudget.cgroupLimit { files[$0] }
        #expect(limit?.bytes == 4_294_967_296)
        #expect(limit?.file == "/sys/fs/cgroup/user.slice/job-7/memory.max")
        // No limit anywhere: nil.
        let open = files.merging(["/sys/fs/cgroup/user.slice/job-7/memory.max": "max", "/sys/fs/cgroup/user.slice/memory.max": "max"]) {
            $1
        }
        #expect(MemoryBudget.cgroupLimit { open[$0] } == nil)
    }

    @Test func cgroupV1LimitsIgnoreTheUnlimitedValue() {
        let files = [
            "/proc/self/cgroup": "9:name=systemd:/\n4:memory:/slurm/uid_0/job_12\n3:cpu,cpuacct:/\n0::/\n",
            "/proc/self/mountinfo": Self.mountInfoV1,
            "/sys/fs/cgroup/memory/slurm/uid_0/job_12/memory.limit_in_bytes": "2147483648\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"
        ]
        let limit = MemoryBudget.cgroupLimit { files[$0] }
        #expect(limit?.bytes == 2_147_483_648)
        #expect(limit?.file == "/sys/fs/cgroup/memory/slurm/uid_0/job_12/memory.limit_in_bytes")
        #expect(MemoryBudget.parseCgroup1Limit("9223372036854771712") == nil)
        #expect(MemoryBudget.parseCgroup2Limit("max\n") == nil && MemoryBudget.parseCgroup2Limit("1024\n") == 1024)
        #expect(MemoryBudget.parseCgroup2Limit("garbage") == nil)
    }

    @Test func aMountRootIsStrippedFromTheCgroupPath() {
        // Inside a container the cgroup2 mount shows the hierarchy from /kubepods/pod1 down.
        let files = [
            "/proc/self/cgroup": "0::/kubepods/pod1/app\n",
            "/proc/self/mountinfo": "30 25 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            "/sys/fs/cgroup/app/memory.max": "max\n",
            "/sys/fs/cgroup/memory.max": "1073741824\n"
        ]
        let limit = MemoryBudget.cgroupLimit { files[$0] }
        #expect(limit?.bytes == 1_073_741_824 && limit?.file == "/sys/fs/cgroup/memory.max")
        #expect(MemoryBudget.cgroupLimit { _ in nil } == nil)
    }

    @Test func statusFieldsAreReadInBytes() {
        let status = "Name:\tmoduli\nVmPeak:\t  189732 kB\nVmSize:\t  124196 kB\nVmRSS:\t   25880 kB\n"
        let size = MemoryBudget.statusField(status, "VmSize"), resident = MemoryBudget.statusField(status, "VmRSS")
        #expect(size == Double(124_196 * 1024), "\(String(describing: size))")
        #expect(resident == Double(25_880 * 1024), "\(String(describing: resident))")
        #expect(MemoryBudget.statusField(status, "VmSwap") == nil)
    }

    @Test func theAddressSpaceBudgetSubtractsWhatTheProcessUses() throws {
        let gib = 1_073_741_824.0
        let budget = MemoryBudget.addressSpace(limit: 6 * gib, used: 1 * gib)
        #expect(abs(budget.bytes - 0.8 * 5 * gib) < 1)
        #expect(budget.source.contains("ulimit -v") && budget.source.contains("6.00 GiB"))
        #expect(MemoryBudget.addressSpace(limit: 1 * gib, used: 2 * gib).bytes == 0)
        // The check's message gives the need, what can be used and where the limit comes from.
        #expect { try requireMemory(8 * gib, budget: budget) } throws: {
            "\($0)".contains("8.0 GiB") && "\($0)".contains("4.0 GiB can be used") && "\($0)".contains("ulimit -v")
        }
        try requireMemory(3 * gib, budget: budget)
        // The process's own budget is never more than 80% of the machine's memory.
        #expect(MemoryBudget.current().bytes <= 0.8 * Double(ProcessInfo.processInfo.physicalMemory) + 1)
    }

    @Test func theGeometryEstimateGrowsWithTheSquareOfTheNeurons() {
        let config = RegularizerConfig(space: "torus", lambda: 1)
        let small = GeometryInspection.memoryEstimate(config, neurons: 1024, writingMatrix: false)
        let large = GeometryInspection.memoryEstimate(config, neurons: 32_768, writingMatrix: true)
        #expect(small > 28 * 1024 * 1024 && small < 40 * 1024 * 1024, "\(small)")
        #expect(large > 32 * 1_073_741_824.0, "R of 32768 neurons alone is 8 GiB in Double: \(large)")
    }
}
