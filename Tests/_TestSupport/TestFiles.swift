// Files and folders for tests: a fresh temporary path, a file's text.
import Foundation

/// Temporary paths and file reading shared by the suites.
public enum TestFiles {
    /// A path in the temporary folder that does not exist yet: `prefix-<UUID>`.
    public static func temporaryDirectory(_ prefix: String = "moduli-tests") -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }

    /// The UTF-8 text of the file at `path`, or nil when it cannot be read.
    public static func text(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
