import ArgumentParser
import Diffusion
import Foundation
import GenCore
import VAE

/// `gen eval`: score a trained run on test data and print one JSON line of results.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained run on test data; prints one JSON line.",
        discussion: """
            --metric fid,kid,pr: sample quality of any generative run. --n samples (EMA weights; diffusion runs with \
            --sampler and --steps, default ddim 50 for ddpm and heun 25 for sde and flow) against --n test images chosen \
            by a fixed seeded shuffle of TEST.h5, both embedded by a classifier run (--features, default the most recent \
            one for the image shape): the Fréchet distance of the feature statistics, the kernel inception distance \
            (unbiased, mean and standard error over disjoint subsets) and improved precision/recall (k = 3). The test \
            images' features are cached beside TEST.h5. --floor scores those test images against the next --n of the \
            shuffle instead of a run: the value two real samples get.
            --metric bpd: bits per dimension of the 8-bit data with uniform dequantization: through the \
            probability-flow ODE with Hutchinson's trace estimator for ddpm, sde and flow runs; exact for realnvp runs.
            --metric nll: vae runs: the importance-weighted bound (Burda et al. 2016) with --k samples, in nats \
            and bits/dim (Bernoulli: test images binarized by sampling once with --seed, or by thresholding).
            --metric accuracy: classifier runs: the fraction of labelled test images classified correctly.
            """)

    enum Metric: String, CaseIterable {
        case fid, kid, pr, bpd, nll, accuracy
        var isSampleMetric: Bool { [.fid, .kid, .pr].contains(self) }
    }
    /// Comma-separated metrics.
    struct Metrics: ExpressibleByArgument {
        var values: [Metric]
        init(_ values: [Metric]) { self.values = values }
        init?(argument: String) {
            let parsed = argument.split(separator: ",").map { Metric(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { return nil }
            values = parsed.map { $0! }
        }
        static var allValueStrings: [String] { Metric.allCases.map(\.rawValue) }
    }
    enum Binarization: String, ExpressibleByArgument, CaseIterable { case sample, threshold }

    @Option(name: .customLong("run"), help: "The run folder.")
    var runFolder: String?

    @Option(help: "The HDF5 test data (images of the run's shape).")
    var data: String

    @Option(help: "The image dataset's name in the file.")
    var dataset: String?

    @Option(help: "Comma-separated: fid, kid, pr (any generative run); bpd (ddpm, sde, flow, realnvp); nll (vae); accuracy (classifier). Default: by the run's kind (fid,kid,pr for wgan).")
    var metric: Metrics?

    @Option(help: "Sample metrics: samples and test images (default 10000). bpd, nll: test images (default 512). accuracy: test images (default all).")
    var n: Int?

    @Flag(help: "Sample metrics without a run: the test images against the next --n test images (the metrics' floor).")
    var floor = false

    @Option(help: "Sample metrics: the classifier run whose features they compare (default: the most recent for the image shape).")
    var features: String?

    @Option(help: "Sample metrics of ddpm, sde and flow runs: the sampler (as gen sample's; default ddim for ddpm, heun for sde and flow).")
    var sampler: Sample.SamplerName?

    @Option(help: "Sample metrics of ddpm, sde and flow runs: sampling steps (default 50 for ddim, 25 for heun; else gen sample's).")
    var steps: Int?

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

    @Option(help: "nll: importance samples per image.")
    var k: Int = 5000

    @Option(help: "nll with a Bernoulli likelihood: binarize test images by sampling (dynamic, seeded) or by thresholding at 0.5.")
    var binarization: Binarization = .sample

    @Option(help: "Seed of the dequantization, binarization, probes and importance samples.")
    var seed: UInt64 = 0

    @Flag(help: "Evaluate the raw weights instead of the EMA weights.")
    var noEMA = false

    @Option(help: "Threads for GenCore and OpenBLAS.")
    var threads: Int?

    func validate() throws {
        guard (n ?? 1) >= 1, batchSize >= 1, solverSteps >= 1, k >= 1, (steps ?? 1) >= 1 else {
            throw ValidationError("--n, --batch-size, --solver-steps, --steps and --k must be at least 1")
        }
        if floor && runFolder != nil { throw ValidationError("--floor scores test images against test images: give it no --run") }
        if !floor && runFolder == nil { throw ValidationError("give --run RUN (or --floor)") }
        if let metric {
            let sample = metric.values.filter(\.isSampleMetric)
            if !sample.isEmpty && sample.count != metric.values.count || sample.isEmpty && metric.values.count > 1 {
                throw ValidationError("--metric takes fid, kid and pr together, or one of bpd, nll and accuracy")
            }
            if floor && sample.isEmpty { throw ValidationError("--floor is for fid, kid and pr") }
        }
        guard rtol > 0, atol > 0 else { throw ValidationError("--rtol and --atol must be positive") }
        guard trace != .exact else { throw ValidationError("--trace exact is for tiny data; use rademacher or gaussian") }
    }

    func run() throws {
        try reportingFailures {
            if let threads { Threads.set(threads) }
            if floor { return try evaluateSampleQuality(run: nil, metrics: metric?.values ?? [.fid, .kid, .pr]) }
            let folder = URL(fileURLWithPath: runFolder!)
            let checkpointURL = folder.appendingPathComponent("checkpoint.safetensors")
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw Failure(message: "\(folder.path): no checkpoint.safetensors to evaluate", code: Exit.missingInput)
            }
            let checkpoint = try RunCheckpoint.read(checkpointURL)
            let kind = try RunKind.decode(checkpoint.configJSON).kind
            let defaultMetric: [String: Metric] = ["vae": .nll, "wgan": .fid, "classifier": .accuracy]
            let metrics = metric?.values ?? (kind == "wgan" ? [.fid, .kid, .pr] : [defaultMetric[kind] ?? .bpd])
            if metrics[0].isSampleMetric { return try evaluateSampleQuality(run: (folder, checkpoint, kind), metrics: metrics) }
            let metric = metrics[0]
            let valid = ["bpd": DiffusionRun.kinds + ["realnvp"], "nll": ["vae"], "accuracy": ["classifier"]][metric.rawValue]!
            guard valid.contains(kind) else {
                throw Failure(message: "\(folder.path): --metric \(metric.rawValue) needs a \(valid.joined(separator: ", ")) run; this is a \(kind) run", code: Exit.usage)
            }
            try HDF5Guard.check(data, dataset: dataset)
            let test = try HDF5Dataset(url: URL(fileURLWithPath: data), options: .init(dataset: dataset, readLabels: metric == .accuracy))
            let source = try RunKind.decode(checkpoint.configJSON).data
            let imageShape = source.imageShape
            guard test.imageShape == imageShape else {
                throw Failure(message: "\(data): images are \(test.imageShape), the \(kind) run was trained on \(imageShape)", code: Exit.badData)
            }
            // the run's held-out images when it held some out of this very file, else all of it
            var pool = Array(0..<test.count)
            if let holdout = source.holdout, holdout > 0,
               URL(fileURLWithPath: test.path).standardizedFileURL.path == URL(fileURLWithPath: source.path).standardizedFileURL.path {
                struct Seed: Decodable { struct Training: Decodable { var seed: UInt64 }; var training: Training }
                let seed = try JSONDecoder().decode(Seed.self, from: Data(checkpoint.configJSON.utf8)).training.seed
                pool = BatchLoader.split(count: test.count, testFraction: holdout, seed: seed).test
                printNote("\(data): scoring the run's \(pool.count) held-out images (--holdout \(holdout) at training)")
            }
            let n = self.n ?? (metric == .accuracy ? pool.count : 512)
            let count = min(n, pool.count)
            let rows = (0..<count).map { pool[$0 * pool.count / count] }
            if kind == "classifier" { return try evaluateAccuracy(folder: folder, test: test, rows: rows) }
            if kind == "vae" { return try evaluateVAE(checkpoint, url: checkpointURL, folder: folder, test: test, rows: rows) }
            if kind == "realnvp" { return try evaluateRealNVP(checkpoint, url: checkpointURL, folder: folder, test: test, rows: rows) }
            let (_, model) = try DiffusionRun.load(checkpoint, from: checkpointURL, emaWeights: !noEMA)
            if test.storedType != "uint8" { printNote("\(data): \(test.storedType) pixels are quantized to 8 bits for bits/dim") }
            printNote("bits/dim of \(count) images of \(data) under \(folder.path) (\(kind)): probability-flow ODE, \(solver.rawValue)\(solver == .dopri5 ? " rtol \(rtol) atol \(atol)" : " \(solverSteps) steps"), \(trace.rawValue) Hutchinson probes, uniform dequantization")
            let estimator = LikelihoodEstimator(
                solver: ODESolver(method: solver, relativeTolerance: rtol, absoluteTolerance: atol), trace: trace, steps: solverSteps)
            let generator = RandomGenerator(seed: seed, stream: .sampling)
            let progress = ProgressReporter(total: count, label: "images", lineEvery: 1)
            let start = Date()
            var values: [Double] = [], evaluations = 0
            for first in stride(from: 0, to: count, by: batchSize) {
                let batch = try pixels(test, Array(rows[first..<min(count, first + batchSize)]))
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
            printJSON(fields)
        }
    }

    /// 8-bit pixel values (0…255) of the given rows.
    private func pixels(_ test: HDF5Dataset, _ indices: [Int]) throws -> Tensor {
        let values = (try test.images(at: indices, scaledTo: .unit) * 255).scalars.map { $0.rounded() }
        return Tensor(values, shape: [indices.count] + test.imageShape)
    }

    /// Mean and standard error.
    private func summary(_ values: [Double]) -> (mean: Double, standardError: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, values.count - 1))
        return (mean, (variance / Double(values.count)).squareRoot())
    }

    func printJSON(_ fields: [(String, String)]) {
        print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
    }

    private func evaluateRealNVP(_ checkpoint: RunCheckpoint, url: URL, folder: URL, test: HDF5Dataset, rows: [Int]) throws {
        let model = try ModelRun.realNVP(checkpoint, from: url, emaWeights: !noEMA)
        let count = rows.count
        printNote("bits/dim of \(count) images of \(data) under \(folder.path) (realnvp): exact change of variables, uniform dequantization, logit α = \(model.configuration.alpha)")
        let generator = RandomGenerator(seed: seed, stream: .sampling)
        let progress = ProgressReporter(total: count, label: "images", lineEvery: max(1, count / 10))
        let start = Date()
        var values: [Double] = []
        for first in stride(from: 0, to: count, by: batchSize) {
            let batch = try pixels(test, Array(rows[first..<min(count, first + batchSize)]))
            values += withoutGradients { model.bitsPerDimension(pixels: batch, generator: generator) }.scalars.map(Double.init)
            progress.update(step: values.count, fields: [String(format: "bpd %.4f", summary(values).mean)])
        }
        progress.finishLine()
        let (mean, standardError) = summary(values)
        printJSON([("run", jsonString(folder.path)), ("kind", "\"realnvp\""), ("data", jsonString(data)), ("metric", "\"bpd\""),
                   ("bpd", String(format: "%.5f", mean)), ("bpd_stderr", String(format: "%.5f", standardError)), ("n", "\(values.count)"),
                   ("dequantization", "\"uniform\""), ("weights", noEMA ? "\"raw\"" : "\"ema\""),
                   ("seconds", String(format: "%.1f", Date().timeIntervalSince(start)))])
    }

    private func evaluateVAE(_ checkpoint: RunCheckpoint, url: URL, folder: URL, test: HDF5Dataset, rows: [Int]) throws {
        let vae = try ModelRun.vae(checkpoint, from: url, emaWeights: !noEMA)
        let bernoulli = vae.configuration.likelihood == .bernoulli
        let count = rows.count
        let dimensions = vae.configuration.dimensions
        let treatment = bernoulli
            ? (binarization == .sample ? "dynamically binarized (one seeded draw per image)" : "binarized at 0.5")
            : "uniformly dequantized 8-bit values in [0, 1)"
        printNote("IWAE bound with k = \(k) of \(count) images of \(data) under \(folder.path) (vae, \(vae.configuration.likelihood.rawValue)): test images \(treatment)")
        let generator = RandomGenerator(seed: seed, stream: .sampling)
        let progress = ProgressReporter(total: count, label: "images", lineEvery: max(1, count / 10))
        let start = Date()
        var values: [Double] = []
        for first in stride(from: 0, to: count, by: batchSize) {
            let batch = try pixels(test, Array(rows[first..<min(count, first + batchSize)]))
            let x: Tensor
            if bernoulli {
                let unit = batch / 255
                x = binarization == .sample ? VAE.binarize(unit, generator: generator) : unit.greater(0.5)
            } else {
                x = dequantize8Bit(batch, generator: generator)
            }
            let bounds = vae.network.importanceWeightedBound(x, samples: k, generator: generator)
            values += bounds.scalars.map { -Double($0) }
            progress.update(step: values.count, fields: [String(format: "nll %.2f nats", summary(values).mean)])
        }
        progress.finishLine()
        let (mean, standardError) = summary(values)
        // Bernoulli: bits per binary pixel. Gaussian on dequantized values in [0, 1): the 8-bit data's bits/dim.
        let bpd = mean / (Double(dimensions) * log(2.0)) + (bernoulli ? 0 : 8)
        printJSON([("run", jsonString(folder.path)), ("kind", "\"vae\""), ("data", jsonString(data)), ("metric", "\"nll\""),
                   ("nll_nats", String(format: "%.3f", mean)), ("nll_stderr", String(format: "%.3f", standardError)),
                   ("bpd", String(format: "%.5f", bpd)), ("k", "\(k)"), ("n", "\(values.count)"),
                   ("likelihood", jsonString(vae.configuration.likelihood.rawValue)),
                   ("data_treatment", jsonString(bernoulli ? (binarization == .sample ? "dynamic binarization, seed \(seed)" : "threshold 0.5") : "uniform dequantization")),
                   ("weights", noEMA ? "\"raw\"" : "\"ema\""), ("seconds", String(format: "%.1f", Date().timeIntervalSince(start)))])
    }
}

/// 8-bit values (0…255) → (k + u)/256 in [0, 1), u ~ U(0, 1).
func dequantize8Bit(_ pixels: Tensor, generator: RandomGenerator) -> Tensor {
    (pixels + Tensor.randomUniform(pixels.shape, using: generator)) / 256
}

extension ODESolver.Method: ExpressibleByArgument {}
extension LikelihoodEstimator.TraceEstimator: ExpressibleByArgument {}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
}
