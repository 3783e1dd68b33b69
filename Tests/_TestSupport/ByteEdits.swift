// Byte-level edits of files under test (a binary file is no String): damaged checkpoints and models.
import Foundation

/// Edits of the bytes of a file, as a damaged disk or a hand edit would make them.
public enum ByteEdits {
    /// `data` with every occurrence of `a` replaced by `b` (of the same length), byte for byte.
    public static func replacing(_ a: String, with b: String, in data: Data) -> Data {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        precondition(x.count == y.count, "replacing keeps the file's length")
        var bytes = [UInt8](data)
        var at = 0
        while at + x.count <= bytes.count {
            if Array(bytes[at..<(at + x.count)]) == x {
                bytes.replaceSubrange(at..<(at + x.count), with: y); at += y.count
            } else {
                at += 1
            }
        }
        return Data(bytes)
    }
}
