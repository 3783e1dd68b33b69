// `--threads` as a user meets it: the default recorded in config.json, `moduli bench train`
// naming each pruned weight's kernels and profiling the step, and a sweep warning when its jobs
// times their threads exceed the cores.
import Foundation
import Testing
import _TestSupport

@Suite struct ThreadsCLITests {
    @Test func aRunWithoutThreadsRecordsEveryCoreAndAGivenCountIsKept() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func threads(_ extra: [String], _ name: String) throws -> Int? {
            let r = try CLITests.moduli(["train", "adding"] + SweepTests.tinyBase + extra + ["--out", dir + "/" + name, "--quiet"])
            #expect(r.status == 0, "\(r.err)")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(name)/config.json")))
            return ((object as? [String: Any])?["training"] as? [String: Any])?["threads"] as? Int
        }
        let cores = try #require(try threads([], "default"))
        #expect(cores >= 1 && cores <= ProcessInfo.processInfo.activeProcessorCount)
        #expect(try threads(["--threads", "3"], "three") == 3)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/default/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/three/model.safetensors"))
        #expect(a == b, "the thread count changed the model")
    }

    @Test func benchTrainNamesTheKernelsAndProfilesThePhases() throws {
        let r = try CLITests.moduli(
            [
                "bench", "train", "--steps", "2", "--warmup", "0", "--pruned", "0.9", "--profile", "adding", "--hidden", "16", "--threads",
                "2"
            ])
        #expect(r.status == 0, "\(r.err)")
        let bench = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("BENCH ") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bench.dropFirst(6).utf8)) as? [String: Any])
        // 16 x 16 at 10% kept: decided by density, sparse.
        #expect(object["kernels"] as? [String: String] == ["rnn.weight_hh_l0": "sparse", "fc.weight": "sparse"], "\(bench)")
        let phases = try #require(object["phasesMs"] as? [String: Double])
        #expect(Set(phases.keys) == ["data", "forward", "backward", "penalty", "masks", "optimizer", "positions"])
        #expect(phases.values.allSatisfy { $0 >= 0 } && phases["backward"]! > 0)
        let profile = r.out.split(separator: "\n").filter { $0.hasPrefix("PROFILE ") }
        #expect(profile.count == 9, "\(r.out)")
        #expect(profile.first?.contains("2 thr ms") == true && profile.last?.hasPrefix("PROFILE step") == true, "\(r.out)")
    }

    @Test func aSweepWarnsWhenItsJobsTimesThreadsExceedTheCores() throws {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try SweepTests.writeSpec(dir, seeds: [0], configurations: [("own", ["--threads", "3"]), ("shared", [])])
        let r = try CLITests.moduli(["sweep", spec, "--out", dir + "/sweep", "--jobs", "256"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("Warning: 256 runs at a time (--jobs 256) x 3 threads each (--threads 3)"), "\(r.err)")
        #expect(r.err.contains("cores"), "\(r.err)")
        let shared = try String(contentsOfFile: dir + "/sweep/configs/shared-s0.json", encoding: .utf8)
        #expect(shared.contains("\"threads\" : 1"), "\(shared)")
    }
}
