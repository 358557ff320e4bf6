import ArgumentParser
import Diffusion
import Foundation
import GenCore
import GenFamilies
import VAE

/// `gen eval`: score a trained run on test data and print one JSON line of results.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained run on test data; prints one JSON line.",
        discussion: """
            --metric fid,kid,pr: the sample quality of any generative run against --n test images, both embedded by \
            a classifier run (--features; default: the most recent one for the image shape); --floor: test images \
            against test images. With lists (--sampler dpm++2m,ddim --steps 5,10,20), every sampler at every step \
            count, one line each, and the first metric against network evaluations in RUN/fid-vs-nfe.png. --metric bpd: bits/dim of the 8-bit data (probability-flow ODE for ddpm, sde and \
            flow; exact for realnvp). --metric nll: a vae's importance-weighted bound with --k samples. --metric \
            accuracy: a classifier's. The README says how each is computed.
            """)

    /// Comma-separated metrics.
    struct Metrics: ExpressibleByArgument {
        var values: [EvaluationMetric]
        init?(argument: String) {
            let parsed = argument.split(separator: ",").map { EvaluationMetric(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { return nil }
            values = parsed.compactMap { $0 }
        }
        static var allValueStrings: [String] { EvaluationMetric.allCases.map(\.rawValue) }
    }

    @Option(name: .customLong("run"), help: "The run folder (or a checkpoint file).")
    var runFolder: String?

    @Option(help: "The HDF5 test data (images of the run's shape).")
    var data: String

    @Option(help: "The image dataset's name in the file.")
    var dataset: String?

    @Option(help: "Comma-separated: fid, kid, pr (any generative run); class-accuracy (a conditional run: how often the --features classifier tells its samples as the class asked for, with fid); bpd (ddpm, sde, flow, realnvp); nll (vae); accuracy (classifier, conditional realnvp). Default: by the run's kind (fid,kid,pr for wgan).")
    var metric: Metrics?

    @Option(help: "Sample metrics: samples and test images (default 10000). bpd, nll: test images (default 512). accuracy: test images (default all).")
    var n: Int?

    @Flag(help: "Sample metrics without a run: the test images against the next --n test images (the metrics' floor).")
    var floor = false

    @Option(help: "Sample metrics: the classifier run whose features they compare (default: the most recent for the image shape).")
    var features: String?

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "Images per batch.")
    var batchSize: Int = 64

    @Option(help: "ODE solver for bpd: euler, midpoint, heun, rk4 or dopri5 (adaptive; the default).")
    var solver: ODESolver.Method?

    @Option(help: "Steps of a fixed-step solver (default 100).")
    var solverSteps: Int?

    @Option(help: "Hutchinson's probe vectors: rademacher or gaussian (default rademacher).")
    var trace: LikelihoodEstimator.TraceEstimator?

    @Option(help: "nll: importance samples per image (default 5000).")
    var k: Int?

    @Option(help: "nll with a Bernoulli likelihood: binarize test images by sampling (dynamic, seeded; the default) or by thresholding at 0.5.")
    var binarization: ImportanceWeightedEstimator.Binarization?

    @Option(help: "Seed of the samples, dequantization, binarization, probes and importance samples.")
    var seed: UInt64 = 0

    @Flag(help: "Evaluate the raw weights instead of the EMA weights.")
    var noEMA = false

    @Option(help: "Threads for GenCore and OpenBLAS.")
    var threads: Int?

    func validate() throws {
        guard (n ?? 1) >= 1, batchSize >= 1, (solverSteps ?? 1) >= 1, (k ?? 1) >= 1 else {
            throw ValidationError("--n, --batch-size, --solver-steps, --steps and --k must be at least 1")
        }
        if floor && runFolder != nil { throw ValidationError("--floor scores test images against test images: give it no --run") }
        if !floor && runFolder == nil { throw ValidationError("give --run RUN (or --floor)") }
        if let metric {
            do { try Evaluation.checkCombination(metric.values) } catch let error as GenError { throw ValidationError(error.message) }
            if floor && (!metric.values[0].isSampleMetric || metric.values.contains(.classAccuracy)) { throw ValidationError("--floor is for fid, kid and pr") }
        }
        if trace == .exact { throw ValidationError("--trace exact is for tiny data; use rademacher or gaussian") }
    }

    /// The likelihood estimator the options ask for, if they ask for one.
    var likelihoodMethod: (any LikelihoodMethod)? {
        get throws {
            let ode = solver != nil || solverSteps != nil || trace != nil, iwae = k != nil || binarization != nil
            if ode && iwae { throw GenError.usage("--solver, --solver-steps and --trace are for ODE likelihoods; --k and --binarization for a vae's: give one kind") }
            if iwae { return ImportanceWeightedEstimator(samples: k ?? 5000, binarization: binarization ?? .sample) }
            guard ode || sampling.rtol != 1e-5 || sampling.atol != 1e-5 else { return nil }
            return LikelihoodEstimator(solver: ODESolver(method: solver ?? .dopri5, relativeTolerance: sampling.rtol, absoluteTolerance: sampling.atol),
                                       trace: trace ?? .rademacher, steps: solverSteps ?? 100)
        }
    }

    func run() throws {
        try reportingFailures {
            if let threads { Threads.set(threads) }
            var request = EvaluationRequest(data: data, dataset: dataset, metrics: metric?.values, count: n)
            request.batchSize = batchSize
            request.seed = seed
            request.features = features.map { URL(fileURLWithPath: $0) }
            if floor { return print(try Evaluation.floor(request).json) }
            guard let runFolder else { return }
            let run = try FamilyRegistry.builtIn.open(URL(fileURLWithPath: runFolder))
            let sampleMetrics = (metric?.values ?? run.family.defaultMetrics)[0].isSampleMetric
            // options of the other kind of metric are refused, not ignored
            if !sampleMetrics && (features != nil || sampling.sampler != nil || sampling.steps != nil || sampling.guidance != nil) {
                throw GenError.usage("--features, --sampler, --steps and --guidance are for fid, kid, pr and class-accuracy; this evaluation measures \((metric?.values ?? run.family.defaultMetrics).map(\.rawValue).joined(separator: ","))")
            }
            if sampleMetrics && (solver != nil || solverSteps != nil || trace != nil || k != nil || binarization != nil) {
                throw GenError.usage("--solver, --solver-steps, --trace, --k and --binarization are for bpd and nll, not fid, kid and pr")
            }
            if sampling.isSweep {
                // every sampler at every step count, one line each as it is done, and a plot beside the run
                guard sampleMetrics else { throw GenError.usage("lists of --sampler, --steps or --guidance are for fid, kid, pr and class-accuracy") }
                let metric = (metric?.values ?? run.family.defaultMetrics)[0]
                // a guidance sweep is a table of accuracy and FID; the plot is of samplers against network evaluations
                let plot = (sampling.guidance?.values.count ?? 1) > 1 ? nil : run.folder.appendingPathComponent(Evaluation.sweepPlotName(metric))
                _ = try Evaluation.sweep(run, request, draws: sampling.draws(.evaluation), weights: noEMA ? .raw : .sampling,
                                         plot: plot, onResult: { print($0.json) })
                return
            }
            request.draw = sampling.draws(.evaluation)[0]
            // only the metric in use reads its options: the ODE tolerances are also the sampler's
            if !(request.metrics ?? run.family.defaultMetrics)[0].isSampleMetric { request.likelihood = LikelihoodOptions(method: try likelihoodMethod) }
            print(try Evaluation.evaluate(run, request, weights: noEMA ? .raw : .sampling, registry: .builtIn).json)
        }
    }
}

extension ODESolver.Method: ExpressibleByArgument {}
extension LikelihoodEstimator.TraceEstimator: ExpressibleByArgument {}
extension ImportanceWeightedEstimator.Binarization: ExpressibleByArgument {}
