// Large matrices ask for transparent huge pages: the kernel's own accounting (/proc/self/smaps,
// AnonHugePages) of the mapping behind a fresh 64 MiB matrix shows them, where the kernel offers
// them on request; contents are unchanged by the advice.
import Foundation
import Testing
import Linalg

struct LargePagesTests {
    /// The kernel's transparent huge page mode (`always`, `madvise` or `never`), nil off Linux.
    static var mode: String? {
        guard let text = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
            let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]")
        else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// AnonHugePages (kB) of the mapping of /proc/self/smaps that contains `address`.
    static func hugePagesKB(containing address: UInt) -> Int? {
        // /proc files report a size of 0: read to the end rather than by the size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps"),
            let smaps = String(data: handle.readDataToEndOfFile(), encoding: .utf8)
        else { return nil }
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside, fields.first == "AnonHugePages:", fields.count >= 2 {
                return Int(fields[1])
            }
        }
        return nil
    }

    @Test(.enabled(if: mode == "madvise" || mode == "always", "the kernel offers no transparent huge pages"))
    func aLargeMatrixIsBackedByHugePages() throws {
        for make in [
            { Matrix<Float>(rows: 4096, columns: 4096, repeating: 1) },
            { Matrix<Float>(rows: 4096, columns: 4096) { $0.initialize(repeating: 1, count: 4096 * 4096) } }
        ] {
            let m = make()
            #expect(stride(from: 0, to: m.count, by: 4093).allSatisfy { m.scalars[$0] == 1 } && m.scalars.last == 1)
            let kB = m.scalars.withUnsafeBufferPointer { Self.hugePagesKB(containing: UInt(bitPattern: $0.baseAddress!) + 32 << 20) }
            let found = try #require(kB, "no mapping of /proc/self/smaps holds the matrix")
            // 64 MiB hold at least 31 whole 2 MiB pages; all but a few must be huge.
            #expect(found >= 16 * 2048, "\(found) kB of huge pages behind a 64 MiB matrix")
        }
    }

    @Test func smallMatricesAndOddSizesKeepTheirContents() {
        for count in [0, 1, 7, (LargePages.minimumBytes / 4) - 1, LargePages.minimumBytes / 4 + 3] {
            let m = Matrix<Float>(rows: 1, columns: count, repeating: 2.5)
            #expect(m.count == count && m.scalars.allSatisfy { $0 == 2.5 }, "count \(count)")
        }
    }
}
