import ArgumentParser
import Foundation
import GenCore
import GenFamilies

/// `gen runs`: the runs of a folder, one line each, or several compared in one picture.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List runs (kind, steps, wall time, last loss, latest evaluation), or compare some in one PNG.")

    @Argument(help: "The folder of runs (default: ./runs).")
    var folder: String = "runs"

    @Option(parsing: .upToNextOption, help: "Run folders to compare: their loss curves on shared axes above their latest sample grids.")
    var compare: [String] = []

    @Option(help: "A results.jsonl of scripts/results.sh: plot FID against minutes, a line per family and the floor, into --out.")
    var plot: String?

    @Option(help: "The comparison's or the plot's PNG file.")
    var out: String = "compare.png"

    @Flag(help: "Replace --out if it exists.")
    var force = false

    func run() throws {
        try reportingFailures {
            let registry = FamilyRegistry.builtIn
            if let plot {
                guard let text = try? String(contentsOfFile: plot, encoding: .utf8) else { throw GenError.missingInput("\(plot): cannot be read") }
                let points = try QualityCurves.points(jsonLines: text, file: plot)
                try OutputFile.check(out, overwrite: force)
                try PNG.write(QualityCurves.image(points), to: URL(fileURLWithPath: out))
                return print("wrote \(out): FID against minutes of \(Set(points.map(\.family)).subtracting(["floor"]).count) families")
            }
            guard compare.isEmpty else {
                let runs = try compare.map { try RunSummary.read(URL(fileURLWithPath: $0), registry: registry) }
                try OutputFile.check(out, overwrite: force)
                try PNG.write(try RunSummary.comparison(runs), to: URL(fileURLWithPath: out))
                return print("wrote \(out): \(runs.count) runs compared")
            }
            let runs = RunSummary.list(under: URL(fileURLWithPath: folder), registry: registry)
            guard !runs.isEmpty else { throw GenError.missingInput("\(folder): holds no runs (folders with a checkpoint.safetensors)") }
            print(["kind".padding(toLength: 10, withPad: " ", startingAt: 0), "steps".padding(toLength: 14, withPad: " ", startingAt: 0),
                   "wall".padding(toLength: 9, withPad: " ", startingAt: 0), "last".padding(toLength: 22, withPad: " ", startingAt: 0),
                   "latest eval".padding(toLength: 34, withPad: " ", startingAt: 0), "folder"].joined(separator: " "))
            for run in runs { print(run.line) }
        }
    }
}
