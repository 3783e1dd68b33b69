// `moduli report`: finished runs as an HTML page with SVG charts, plus Markdown and CSV.
import ArgumentParser
import Reports

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report (inline SVG charts), report.md and CSV files for finished runs.",
        discussion: """
            Curves of loss and metrics, sparsity per tensor, the W_hh sparsity pattern in manifold order, kept \
            fraction against manifold distance, neuron positions, and for navigation decoded paths and firing maps; \
            runs named <config>-s<N> are grouped into mean (std) over seeds.
            Example: moduli report runs/torus-s0 runs/torus-s1 runs/none-s0 --out reports/torus
            """)

    @Argument(help: "Run directories (each with config.json and summary.json).") var runs: [String]
    @Option(help: "The report directory (created; an earlier report there is replaced, anything else refused).") var out: String
    @Option(help: "The page's title.") var title = "moduli report"
    @Option(help: "Decoded trajectories drawn per navigation run (default 4).") var paths: Int?
    @Option(help: "Firing maps drawn per navigation run (default 16).") var units: Int?
    @Flag(help: "Do not run navigation models (no decoded paths or firing maps; faster).") var noModels = false

    func validate() throws {
        if runs.isEmpty { throw ValidationError("Name at least one run directory.") }
        if out.isEmpty { throw ValidationError("--out needs a directory path.") }
        if let paths, !(0...64).contains(paths) { throw ValidationError("--paths must be between 0 and 64, got \(paths).") }
        if let units, !(0...256).contains(units) { throw ValidationError("--units must be between 0 and 256, got \(units).") }
        if noModels, let option = [("--paths", paths != nil), ("--units", units != nil)].first(where: \.1)?.0 {
            throw ValidationError(
                "\(option) sets what the navigation models draw, and --no-models runs none: drop \(option) or --no-models.")
        }
    }

    func run() throws {
        var options = ReportOptions()
        options.title = title; options.pathCount = paths ?? 4; options.unitCount = units ?? 16; options.probeModels = !noModels
        let report = try RunReport(paths: runs, options: options)
        try report.write(to: out)
        print("Wrote \(out)/report.html (\(report.runs.count) runs), report.md and the CSV files.")
    }
}
