// The report as a browser shows it: headless Chromium renders report.html to a PNG without
// console errors. Skipped where Chromium is not installed (Debian: apt-get install -y chromium).
import Foundation
import Testing
@testable import Reports

/// The Chromium executable, when one is installed.
let chromiumPath: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite struct ChromiumRenderTests {
    @Test(.enabled(if: chromiumPath != nil, "Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium)"))
    func chromiumRendersTheReportWithoutErrors() throws {
        let (_, out) = try RunReportTests.report()
        let chromium = try #require(chromiumPath)
        let screenshot = out + "-screenshot.png"
        let profile = out + "-profile"
        defer { try? FileManager.default.removeItem(atPath: screenshot); try? FileManager.default.removeItem(atPath: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        p.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0",
            "--window-size=1360,2400", "--screenshot=\(screenshot)", URL(fileURLWithPath: out + "/report.html").absoluteString
        ]
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "chromium exited with \(p.terminationStatus):\n\(log)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        // Page errors: uncaught exceptions, console messages, blocked or failed resources.
        let pageErrors = log.split(separator: "\n").filter { line in
            line.contains("Uncaught") || line.contains("CONSOLE") || line.contains("Not allowed to load")
                || line.contains("net::ERR") || (line.contains("ERROR:") && line.contains("report.html"))
        }
        #expect(pageErrors.isEmpty, "\(pageErrors.joined(separator: "\n"))")
    }
}
