// `moduli topology` as a user runs it: the JSON format, float32 and float64 points, distance
// matrices, landmarks and PCA, run sources, and a clear error for every bad input.
import Foundation
import Testing
import _TestSupport

@Suite struct TopologyCLITests {
    /// The bytes of a 2-D `.npy` of `values` (row-major) in `descr` (`<f4`, `<f8`, or any other
    /// descriptor, written as float64 bytes).
    static func npy(_ values: [Double], shape: String, descr: String = "<f8") -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for v in values {
            if descr == "<f4" {
                withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Writes `rows` as a `.npy` in `dir`; returns its path.
    static func write(_ rows: [[Double]], _ name: String, in dir: String, descr: String = "<f8") throws -> String {
        let path = dir + "/" + name
        try npy(rows.flatMap { $0 }, shape: "(\(rows.count), \(rows.first?.count ?? 0))", descr: descr)
            .write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A directory for one test, removed by the caller.
    static func directory() throws -> String {
        let dir = TestFiles.temporaryDirectory("moduli-cli")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The diagrams of `--json` output: dimension -> pairs (death nil for never).
    static func diagrams(_ json: String) throws -> [Int: [[Double?]]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["diagrams"], "top-level keys \(object.keys)")
        let list = try #require(object["diagrams"] as? [[String: Any]])
        var result: [Int: [[Double?]]] = [:]
        for d in list {
            #expect(Set(d.keys) == ["dimension", "pairs"])
            let dimension = try #require(d["dimension"] as? Int)
            let pairs = try #require(d["pairs"] as? [[Any]])
            result[dimension] = pairs.map { pair in pair.map { $0 is NSNull ? nil : ($0 as? NSNumber)?.doubleValue } }
        }
        return result
    }

    /// `n` points on a circle of radius 1 in the plane.
    static func circle(_ n: Int) -> [[Double]] {
        (0..<n).map {
            let t = 2 * Double.pi * Double($0) / Double(n); return [cos(t), sin(t)]
        }
    }

    @Test func jsonHasExactlyTheDocumentedShape() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Points at 0, 1 and 3 on a line: components die at 1 and 2, one lives forever.
        let path = try Self.write([[0], [1], [3]], "line.npy", in: dir)
        let r = try CLITests.moduli(["topology", "--points", path, "--max-dim", "0", "--json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == "{\"diagrams\": [{\"dimension\": 0, \"pairs\": [[0.0, 1.0], [0.0, 2.0], [0.0, null]]}]}\n", "\(r.out)")
        let d = try Self.diagrams(r.out)
        #expect(d[0] == [[0, 1], [0, 2], [0, nil]], "\(r.out)")
    }

    @Test func aCircleHasOneLongLoopInFloat32AndFloat64AndAsDistances() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let points = Self.circle(24)
        let f8 = try Self.write(points, "c8.npy", in: dir)
        let f4 = try Self.write(points, "c4.npy", in: dir, descr: "<f4")
        let matrix = points.map { p in points.map { q in ((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1])).squareRoot() } }
        let dm = try Self.write(matrix, "d.npy", in: dir)
        var results: [[Int: [[Double?]]]] = []
        for args in [["--points", f8], ["--points", f4], ["--distances", dm]] {
            let r = try CLITests.moduli(["topology"] + args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.err)")
            let d = try Self.diagrams(r.out)
            #expect(d[0]?.count == 24 && d[0]?.filter { $0[1] == nil }.count == 1)
            // One loop, born at the side of the 24-gon (2 sin(pi/24)), dying at the side of the inscribed triangle.
            let loops = try #require(d[1])
            #expect(loops.count == 1, "\(args): \(loops)")
            if let loop = loops.first, let birth = loop[0], let death = loop[1] {
                #expect(abs(birth - 2 * sin(Double.pi / 24)) < 1e-5 && abs(death - 3.0.squareRoot()) < 1e-5, "\(loop)")
            }
            results.append(d)
        }
        #expect(results[0] == results[2], "points and distances differ")
    }

    @Test func tableShowsTheLongestBarsAndOutWritesJSON() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Self.write(Self.circle(30), "c.npy", in: dir)
        let r = try CLITests.moduli(["topology", "--points", path, "--out", dir + "/bars.json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("H0: 30 bars (1 never dying); the longest:") && r.out.contains("H1: 1 bar; the longest:"), "\(r.out)")
        #expect(r.out.split(separator: "\n").filter { $0.hasPrefix("  [") }.count == 6, "5 bars of H0, 1 of H1: \(r.out)")
        let written = try String(contentsOfFile: dir + "/bars.json", encoding: .utf8)
        #expect(try Self.diagrams(written)[1]?.count == 1)
        // --json with --out: the file only.
        let quiet = try CLITests.moduli(["topology", "--points", path, "--json", "--out", dir + "/again.json"])
        #expect(quiet.status == 0 && quiet.out.isEmpty, "\(quiet.out)")
        #expect(FileManager.default.fileExists(atPath: dir + "/again.json"))
    }

    @Test func landmarksAndPCA() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A circle of 200 points on a tilted plane in R^5.
        let tilted = Self.circle(200).map { p in [p[0], 0.5 * p[1], 2.0, 0.8660254037844386 * p[1], -1] }
        let path = try Self.write(tilted, "tilted.npy", in: dir)
        let r = try CLITests.moduli(["topology", "--points", path, "--landmarks", "20", "--pca", "2"])
        #expect(r.status == 0, "\(r.err)")
        #expect(
            r.out.contains("20 landmarks of 200 points (max-min), covering radius") && r.out.contains("PCA keeps 100.0% of the variance"),
            "\(r.out)")
        #expect(r.out.contains("H1: 1 bar;"), "\(r.out)")
        let json = try CLITests.moduli(["topology", "--points", path, "--landmarks", "20", "--pca", "2", "--json"])
        let d = try Self.diagrams(json.out)
        #expect(d[0]?.count == 20)
    }

    @Test(arguments: [
        (["topology"], "exactly one input"),
        (["topology", "--points", "/nonexistent/p.npy"], "/nonexistent/p.npy"),
        (["topology", "--points", "a.npy", "--distances", "b.npy"], "exactly one input"),
        (["topology", "/tmp"], "--source"),
        (["topology", "--points", "a.npy", "--source", "hidden"], "--source applies to a run directory"),
        (["topology", "--points", "a.npy", "--max-dim", "4"], "--max-dim"),
        (["topology", "--points", "a.npy", "--coefficients", "4"], "--coefficients must be a prime"),
        (["topology", "--points", "a.npy", "--coefficients", "1"], "--coefficients must be a prime"),
        (["topology", "--points", "a.npy", "--threshold", "-1"], "--threshold"),
        (["topology", "--points", "a.npy", "--landmarks", "0"], "--landmarks"),
        (["topology", "--points", "a.npy", "--pca", "0"], "--pca"),
        (["topology", "/nonexistent-run", "--source", "hidden"], "/nonexistent-run/config.json")
    ])
    func badOptionsFailWithAMessage(arguments: [String], mentions: String) throws {
        let r = try CLITests.moduli(arguments)
        #expect(r.status > 0 && r.status < 128, "\(arguments) exited \(r.status)")
        #expect(r.err.contains(mentions), "\(arguments): stderr does not mention \(mentions): \(r.err)")
    }

    @Test(arguments: [
        ("empty.npy", Self.npy([], shape: "(0, 2)"), "--points", "at least one point"),
        ("nocoord.npy", Self.npy([], shape: "(3, 0)"), "--points", "at least one point"),
        ("int.npy", Self.npy([1, 2], shape: "(1, 2)", descr: "<i8"), "--points", "float64"),
        ("big-endian.npy", Self.npy([1, 2], shape: "(1, 2)", descr: ">f8"), "--points", "float32"),
        ("3d.npy", Self.npy([1, 2], shape: "(1, 2, 1)"), "--points", "2-D"),
        ("short.npy", Self.npy([1, 2, 3], shape: "(2, 2)"), "--points", "bytes of float64 data"),
        ("nan.npy", Self.npy([0, 0, .nan, 1], shape: "(2, 2)"), "--points", "not a finite number"),
        ("inf.npy", Self.npy([0, 0, .infinity, 1], shape: "(2, 2)"), "--points", "not a finite number"),
        ("rect.npy", Self.npy([0, 1, 1, 0, 2, 2], shape: "(2, 3)"), "--distances", "square"),
        ("garbage.npy", Data("not numpy".utf8), "--points", "bad magic"),
        ("asymmetric.npy", Self.npy([0, 1, 2, 0], shape: "(2, 2)"), "--distances", "not symmetric"),
        ("negative.npy", Self.npy([0, -1, -1, 0], shape: "(2, 2)"), "--distances", "negative"),
        ("diagonal.npy", Self.npy([1, 1, 1, 0], shape: "(2, 2)"), "--distances", "diagonal"),
        ("nan-distance.npy", Self.npy([0, .nan, .nan, 0], shape: "(2, 2)"), "--distances", "not finite")
    ])
    func badFilesFailWithAMessage(name: String, contents: Data, option: String, mentions: String) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try contents.write(to: URL(fileURLWithPath: dir + "/" + name))
        let r = try CLITests.moduli(["topology", option, dir + "/" + name])
        #expect(r.status > 0 && r.status < 128, "\(name) exited \(r.status): \(r.out)")
        #expect(r.err.contains(mentions), "\(name): stderr does not mention \(mentions): \(r.err)")
    }

    @Test func onePointThresholdAndLandmarksOfADistanceMatrix() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try CLITests.moduli(["topology", "--points", try Self.write([[1, 2, 3]], "one.npy", in: dir), "--json"])
        #expect(
            one.status == 0
                && one.out == "{\"diagrams\": [{\"dimension\": 0, \"pairs\": [[0.0, null]]}, {\"dimension\": 1, \"pairs\": []}]}\n",
            "\(one.out) \(one.err)")
        // The 24-gon's loop dies at sqrt(3); below that threshold it never does.
        let points = Self.circle(24)
        let path = try Self.write(points, "c.npy", in: dir)
        let cut = try Self.diagrams(try CLITests.moduli(["topology", "--points", path, "--threshold", "1.5", "--json"]).out)
        #expect(cut[1]?.count == 1 && cut[1]?.first?[1] == .some(nil), "\(cut)")
        // 8 landmarks of the 24-gon's distance matrix: every third point, still one loop.
        let matrix = points.map { p in points.map { q in ((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1])).squareRoot() } }
        let r = try CLITests.moduli(["topology", "--distances", try Self.write(matrix, "d.npy", in: dir), "--landmarks", "8"])
        #expect(
            r.status == 0 && r.out.contains("8 landmarks of 24 points") && r.out.contains("H0: 8 bars") && r.out.contains("H1: 1 bar;"),
            "\(r.out) \(r.err)")
    }

    @Test func pcaOfADistanceMatrixIsAnError() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Self.write([[0, 1], [1, 0]], "d.npy", in: dir)
        let r = try CLITests.moduli(["topology", "--distances", path, "--pca", "1"])
        #expect(r.status > 0 && r.status < 128 && r.err.contains("--pca needs coordinates"), "\(r.err)")
    }

    /// A tiny navigation run with the torus penalty, and one without: hidden states of the
    /// evaluation trajectories, neuron positions with the torus metric, and no positions without.
    @Test func runSources() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let common = [
            "--hidden", "12", "--place-cells", "16", "--batch-size", "4", "--length", "5", "--epochs", "2",
            "--batches-per-epoch", "2", "--evaluation-batches", "1", "--evaluation-batch-size", "8", "--quiet"
        ]
        let torus = dir + "/torus", plain = dir + "/plain"
        #expect(try CLITests.moduli(["train", "navigation", "--out", torus, "--moduli", "torus"] + common).status == 0)
        #expect(try CLITests.moduli(["train", "navigation", "--out", plain] + common).status == 0)

        // 8 trajectories of 5 steps: 40 states of 12 units, 500 landmarks (all of them) by default.
        let hidden = try CLITests.moduli(["topology", torus, "--source", "hidden"])
        #expect(hidden.status == 0, "\(hidden.err)")
        #expect(
            hidden.out.contains("40 hidden states (12 units) of the navigation run") && hidden.out.contains("metric: Euclidean"),
            "\(hidden.out)")
        let few = try CLITests.moduli(["topology", torus, "--source", "hidden", "--landmarks", "10", "--max-states", "30", "--pca", "3"])
        #expect(few.status == 0 && few.out.contains("10 landmarks of 30 points"), "\(few.out) \(few.err)")

        let positions = try CLITests.moduli(["topology", torus, "--source", "positions", "--json"])
        #expect(positions.status == 0, "\(positions.err)")
        #expect(try Self.diagrams(positions.out)[0]?.count ?? 0 >= 1)
        let table = try CLITests.moduli(["topology", torus, "--source", "positions"])
        #expect(
            table.out.contains("12 neuron positions on the torus space")
                && table.out.contains("metric: the geodesic distance of the torus space"), "\(table.out)")

        let none = try CLITests.moduli(["topology", plain, "--source", "positions"])
        #expect(none.status > 0 && none.status < 128 && none.err.contains("no positions"), "\(none.err)")
        let pca = try CLITests.moduli(["topology", torus, "--source", "positions", "--pca", "2"])
        #expect(pca.status > 0 && pca.err.contains("--pca"), "\(pca.err)")
    }
}
