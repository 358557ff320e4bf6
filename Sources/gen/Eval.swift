import ArgumentParser
import Diffusion
import Foundation
import GenCore

/// `gen eval`: score a trained run on test data and print one JSON line of results.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained run on test data; prints one JSON line.",
        discussion: """
            --metric bpd: bits per dimension through the probability-flow ODE (ddpm, sde and flow runs), \
            with uniform dequantization of 8-bit pixels and Hutchinson's trace estimator.
            """)

    enum Metric: String, ExpressibleByArgument, CaseIterable { case bpd }

    @Option(name: .customLong("run"), help: "The run folder.")
    var runFolder: String

    @Option(help: "The HDF5 test data (images of the run's shape).")
    var data: String

    @Option(help: "The image dataset's name in the file.")
    var dataset: String?

    @Option(help: "The metric: bpd.")
    var metric: Metric = .bpd

    @Option(help: "How many test images (spread evenly over the file, so sorted files give every class).")
    var n: Int = 512

    @Option(help: "Images per batch.")
    var batchSize: Int = 64

    @Option(help: "ODE solver for bpd: euler, midpoint, heun, rk4 or dopri5 (adaptive).")
    var solver: ODESolver.Method = .dopri5

    @Option(help: "Steps of a fixed-step solver.")
    var solverSteps: Int = 100

    @Option(help: "dopri5: relative tolerance.")
    var rtol: Double = 1e-5

    @Option(help: "dopri5: absolute tolerance.")
    var atol: Double = 1e-5

    @Option(help: "Hutchinson's probe vectors: rademacher or gaussian.")
    var trace: LikelihoodEstimator.TraceEstimator = .rademacher

    @Option(help: "Seed of the dequantization and the probes.")
    var seed: UInt64 = 0

    @Flag(help: "Evaluate the raw weights instead of the EMA weights.")
    var noEMA = false

    @Option(help: "Threads for GenCore and OpenBLAS.")
    var threads: Int?

    func validate() throws {
        guard n >= 1, batchSize >= 1, solverSteps >= 1 else { throw ValidationError("--n, --batch-size and --solver-steps must be at least 1") }
        guard rtol > 0, atol > 0 else { throw ValidationError("--rtol and --atol must be positive") }
        guard trace != .exact else { throw ValidationError("--trace exact is for tiny data; use rademacher or gaussian") }
    }

    func run() throws {
        try reportingFailures {
            if let threads { Threads.set(threads) }
            let folder = URL(fileURLWithPath: runFolder)
            let checkpointURL = folder.appendingPathComponent("checkpoint.safetensors")
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw Failure(message: "\(folder.path): no checkpoint.safetensors to evaluate", code: Exit.missingInput)
            }
            let checkpoint = try RunCheckpoint.read(checkpointURL)
            let (kind, model) = try DiffusionRun.load(checkpoint, from: checkpointURL, emaWeights: !noEMA)
            try HDF5Guard.check(data, dataset: dataset)
            let test = try HDF5Dataset(url: URL(fileURLWithPath: data), options: .init(dataset: dataset, readLabels: false))
            guard test.imageShape == model.imageShape else {
                throw Failure(message: "\(data): images are \(test.imageShape), the \(kind) run was trained on \(model.imageShape)", code: Exit.badData)
            }
            let count = min(n, test.count)
            if test.storedType != "uint8" { printNote("\(data): \(test.storedType) pixels are quantized to 8 bits for bits/dim") }
            printNote("bits/dim of \(count) images of \(data) under \(folder.path) (\(kind)): probability-flow ODE, \(solver.rawValue)\(solver == .dopri5 ? " rtol \(rtol) atol \(atol)" : " \(solverSteps) steps"), \(trace.rawValue) Hutchinson probes, uniform dequantization")
            let estimator = LikelihoodEstimator(
                solver: ODESolver(method: solver, relativeTolerance: rtol, absoluteTolerance: atol), trace: trace, steps: solverSteps)
            let generator = RandomGenerator(seed: seed, stream: .sampling)
            let progress = ProgressReporter(total: count, label: "images", lineEvery: 1)
            let start = Date()
            var values: [Double] = [], evaluations = 0
            let rows = (0..<count).map { $0 * test.count / count }
            for first in stride(from: 0, to: count, by: batchSize) {
                let indices = Array(rows[first..<min(count, first + batchSize)])
                let pixels = (try test.images(at: indices, scaledTo: .unit) * 255).scalars.map { $0.rounded() }
                let batch = Tensor(pixels, shape: [indices.count] + test.imageShape)
                let (bpd, nfe) = estimator.bitsPerDimension(pixels: batch, denoiser: model.likelihoodDenoiser, generator: generator)
                values += bpd.scalars.map(Double.init)
                evaluations += nfe
                let mean = values.reduce(0, +) / Double(values.count)
                progress.update(step: values.count, fields: [String(format: "bpd %.4f", mean), "nfe \(nfe)"])
            }
            progress.finishLine()
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, values.count - 1))
            let batches = (count + batchSize - 1) / batchSize
            var fields: [(String, String)] = [
                ("run", jsonString(folder.path)), ("kind", jsonString(kind)), ("data", jsonString(data)), ("metric", "\"bpd\""),
                ("bpd", String(format: "%.5f", mean)), ("bpd_stderr", String(format: "%.5f", (variance / Double(values.count)).squareRoot())),
                ("n", "\(values.count)"), ("dequantization", "\"uniform\""), ("trace_estimator", jsonString(trace.rawValue)),
                ("solver", jsonString(solver.rawValue)), ("nfe_per_batch", String(format: "%.1f", Double(evaluations) / Double(batches))),
                ("weights", noEMA ? "\"raw\"" : "\"ema\""), ("seconds", String(format: "%.1f", Date().timeIntervalSince(start))),
            ]
            if solver == .dopri5 { fields += [("rtol", "\(rtol)"), ("atol", "\(atol)")] } else { fields.append(("solver_steps", "\(solverSteps)")) }
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        }
    }
}

extension ODESolver.Method: ExpressibleByArgument {}
extension LikelihoodEstimator.TraceEstimator: ExpressibleByArgument {}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
}
