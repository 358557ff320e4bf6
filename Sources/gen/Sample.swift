import ArgumentParser
import Diffusion
import Foundation
import GenCore
import GenFamilies

/// `gen sample`: draw images from a trained run.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a trained run and write them as a PNG grid.")

    @Argument(help: "The PNG file to write.")
    var output: String

    @Option(name: .customLong("run"), help: "The run folder (default: the most recent run under ./runs).")
    var runFolder: String?

    @Option(help: "A checkpoint file to sample from instead of a run folder (it holds its configuration).")
    var checkpoint: String?

    @Option(help: "How many images (default 64; with --inpaint, the images to fill in, default 8).")
    var n: Int?

    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "wgan and vae runs: write latent-space walks instead (rows of --nrow images between two random latents).")
    var interpolate = false

    @Option(help: "vae runs: write these images (the first --n, spread over the file) beside their reconstructions.")
    var reconstruct: String?

    @Option(help: "ddpm, sde and flow runs: fill in the black pixels of --mask in the first --n images of this HDF5 file or folder of PNGs (RePaint; --steps sets its grid, default 100).")
    var inpaint: String?

    @Option(help: "Inpainting: an 8-bit gray PNG of the images' size; white pixels are kept, black ones generated.")
    var mask: String?

    @Option(help: "Inpainting: how often each stretch of --jump steps is run (RePaint's R; default 5; 1: no resampling).")
    var resample: Int?

    @Option(help: "Inpainting: the length of the stretches noised back up and run again (RePaint's J; default 10).")
    var jump: Int?

    @Option(help: "Inpainting: completions of each image (default 4).")
    var completions: Int = 4

    @Option(name: .customLong("class"), help: "Conditional runs: draw only class K, or 'all' for one row per class (--nrow images each, default 10).")
    var classChoice: ClassChoice?

    @Option(help: "realnvp runs: the temperature of the latent (z ~ N(0, T²); default 1).")
    var temperature: Float?

    @Option(help: "Seed of the initial noise.")
    var seed: UInt64 = 0

    @Option(help: "Images per row of the grid (default: √n).")
    var nrow: Int?

    @Option(help: "Also write the raw samples (float32, [-1, 1] for every kind, NCHW) as a .npy file.")
    var npy: String?

    @Option(help: "Also write the samples as an HDF5 dataset (uint8 'images', readable by gen).")
    var h5: String?

    @Flag(help: "Sample the raw weights instead of the EMA weights.")
    var noEMA = false

    @Flag(help: "Replace output files that exist (never the run's own files).")
    var force = false

    @Option(help: "Threads for GenCore and OpenBLAS.")
    var threads: Int?

    func validate() throws {
        if let n, n < 1 { throw ValidationError("--n must be at least 1") }
        if (mask != nil || resample != nil || jump != nil) && inpaint == nil { throw ValidationError("--mask, --resample and --jump are for --inpaint") }
        if inpaint != nil {
            guard mask != nil else { throw ValidationError("--inpaint needs --mask MASK.png (white: keep, black: generate)") }
            guard reconstruct == nil && !interpolate else { throw ValidationError("--inpaint does not go with --reconstruct or --interpolate") }
            guard sampling.sampler == nil else { throw ValidationError("--inpaint draws with RePaint's ancestral steps; --sampler does not apply") }
            guard (resample ?? 1) >= 1, (jump ?? 1) >= 1, completions >= 1 else { throw ValidationError("--resample, --jump and --completions must be at least 1") }
            // every image and its completions are held at once, and go into one grid
            guard (n ?? 8) <= 1_000, completions <= 100 else { throw ValidationError("--inpaint fills in at most 1000 images (--n) with at most 100 --completions each") }
        }
        if let nrow, nrow < 1 { throw ValidationError("--nrow must be at least 1") }
        if runFolder != nil && checkpoint != nil { throw ValidationError("give --run or --checkpoint, not both") }
        if let temperature, !(temperature > 0 && temperature.isFinite) { throw ValidationError("--temperature must be positive") }
        if sampling.isSweep { throw ValidationError("gen sample takes one --sampler, one --steps and one --guidance; lists are for gen eval") }
        if (classChoice != nil || sampling.guidance != nil) && (inpaint != nil || reconstruct != nil || interpolate) {
            throw ValidationError("--class and --guidance draw new images; they do not go with --inpaint, --reconstruct or --interpolate")
        }
        if sampling.guidance != nil && classChoice == nil {
            throw ValidationError("--guidance steers images toward the classes asked for: give --class K or --class all (without --class a conditional diffusion run draws unconditionally)")
        }
    }

    func run() throws {
        try reportingFailures {
            if let threads { Threads.set(threads) }
            let location = try checkpoint.map { URL(fileURLWithPath: $0) } ?? runFolder.map { URL(fileURLWithPath: $0) } ?? latestRun()
            let runFiles = RunFolders.ownFiles(of: checkpoint == nil ? location : location.deletingLastPathComponent()) + [location]
            for path in [output] + [npy, h5].compactMap({ $0 }) { try OutputFile.check(path, overwrite: force, protected: runFiles) }
            let registry = FamilyRegistry.builtIn
            let run = try registry.load(location, weights: noEMA ? .raw : .sampling)
            let capabilities = run.family.capabilities
            if reconstruct != nil && !capabilities.contains(.reconstruction) {
                throw GenError.usage("--reconstruct needs a \(registry.kinds { $0.capabilities.contains(.reconstruction) }.joined(separator: " or ")) run; \(run.folder.path) is a \(run.kind) run")
            }
            if inpaint != nil && !capabilities.contains(.inpainting) {
                throw GenError.usage("--inpaint needs a \(registry.kinds { $0.capabilities.contains(.inpainting) }.joined(separator: ", ")) run; \(run.folder.path) is a \(run.kind) run")
            }
            if interpolate && !capabilities.contains(.interpolation) {
                throw GenError.usage("--interpolate needs a \(registry.kinds { $0.capabilities.contains(.interpolation) }.joined(separator: " or ")) run; \(run.folder.path) is a \(run.kind) run")
            }
            let generator = RandomGenerator(seed: seed, stream: .sampling)
            let start = Date()
            let images: Tensor, columns: Int, what: String
            if let inpaint, let mask {
                let shape = run.model.imageShape
                let keep = try Inpainting.readMask(URL(fileURLWithPath: mask), height: shape[1], width: shape[2])
                let originals = try Inpainting.readImages(inpaint, shape: shape, count: n ?? 8)
                let options = InpaintingOptions(steps: sampling.steps?.values.first, resamplings: resample, jump: jump)
                var progress: ProgressReporter?
                let filled = try run.model.inpaint(Inpainting.repeated(originals, times: completions), keep: keep, options: options,
                                                   generator: generator) { done, total in
                    if progress == nil { progress = ProgressReporter(total: total, label: "inpainting step", lineEvery: max(1, total / 10)) }
                    progress?.update(step: done)
                }
                progress?.finishLine()
                (images, columns) = Inpainting.grid(originals: originals, keep: keep, completions: filled)
                let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
                what = "rows: masked input, \(completions) completions by RePaint, original; \(seconds) s"
            } else if let reconstruct {
                let data = try HDF5Dataset(url: URL(fileURLWithPath: reconstruct), options: .init(readLabels: false))
                guard data.imageShape == run.model.imageShape else {
                    throw GenError.badData("\(reconstruct): images are \(data.imageShape), the \(run.kind) run was trained on \(run.model.imageShape)")
                }
                let count = min(n ?? 64, data.count)
                columns = nrow ?? 8
                images = try run.model.reconstructionGrid(of: try data.images(at: (0..<count).map { $0 * data.count / count }, scaledTo: .unit),
                                                         columns: columns, generator: generator)
                what = "inputs (odd rows) and reconstructions (even rows)"
            } else if interpolate {
                columns = max(nrow ?? 8, 2)
                images = try run.model.interpolationGrid(rows: max(1, (n ?? 64) / columns), columns: columns, generator: generator)
                what = "latent interpolations"
            } else {
                let source = try run.model.imageSource(DrawOptions(purpose: .display, sampler: sampling.choice, temperature: temperature,
                                                                   guidance: sampling.guidance?.values.first))
                var labels: [Int]?
                switch classChoice {
                case nil:
                    columns = nrow ?? Int(Double(n ?? 64).squareRoot().rounded(.up))
                case .one(let k)?:
                    try source.check(classes: [k])
                    labels = ClassSelection.only(k).labels(count: n ?? 64, classes: source.classCount ?? 0)
                    columns = nrow ?? Int(Double(n ?? 64).squareRoot().rounded(.up))
                case .all?:
                    try source.check(classes: [])
                    let classes = source.classCount ?? 0
                    columns = nrow ?? n.map { max(1, $0 / max(1, classes)) } ?? 10
                    // one grid holds every image at once: a run of thousands of classes asks for a class at a time
                    let (total, overflow) = classes.multipliedReportingOverflow(by: columns)
                    guard !overflow, total <= 10_000 else {
                        throw GenError.usage("--class all would draw \(classes) classes × \(columns) = \(overflow ? "too many" : String(total)) images into one grid (at most 10000); draw --class K, or fewer with --nrow")
                    }
                    labels = ClassSelection.everyClass(columns: columns).labels(count: 0, classes: classes)
                }
                let n = labels?.count ?? self.n ?? 64
                let progress = source.totalSteps(count: n).map { ProgressReporter(total: $0, label: "sampling step", lineEvery: max(1, $0 / 10)) }
                if let labels {
                    images = try source.draw(classes: labels, generator: generator) { progress?.update(step: $0) }
                } else {
                    images = source.draw(count: n, generator: generator) { progress?.update(step: $0) }
                }
                let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
                let classes = classChoice.map { choice -> String in
                    let guidance = sampling.guidance.map { ", guidance \($0.values[0])" } ?? ""
                    if case .one(let k) = choice { return "class \(k)\(guidance); " }
                    return "one row per class\(guidance); "
                } ?? ""
                what = classes + (source.steps.map { "\(source.sampler), \(source.isAdaptive ? "adaptive steps in \($0) intervals" : "\($0) steps"), \(source.networkEvaluations) network evaluations, \(seconds) s" }
                    ?? "\(run.kind), \(source.sampler)")
            }
            try ImageGrid.write(images, to: URL(fileURLWithPath: output), nrow: columns, range: .symmetric)
            if let npy { try NPY.write(images, to: URL(fileURLWithPath: npy)) }
            if let h5 { try HDF5ImageWriter.write(images, to: URL(fileURLWithPath: h5)) }
            print("wrote \(output): \(images.shape[0]) images from \(run.folder.path) (\(what); \(run.weights == .sampling ? "EMA" : "raw") weights)")
        }
    }

    private func latestRun() throws -> URL {
        guard let latest = RunFolders.mostRecent() else {
            throw GenError.missingInput("no run to sample from: ./runs holds no checkpoint; train one first or give --run")
        }
        printNote("using the most recent run, \(latest.path)")
        return latest
    }
}

/// The sampler options of `gen sample` and `gen eval` for models that draw in steps.
struct SamplingOptions: ParsableArguments {
    @Option(help: """
        Sampler. ddpm and sde runs: ddpm (ancestral), ddim, euler-maruyama, reverse-diffusion, pc \
        (predictor-corrector), or an ODE method for the probability-flow ODE: euler, midpoint, heun, rk4, dopri5, \
        or a few-step solver: dpm++2m, dpm++3m (DPM-Solver++), heun-karras (EDM). \
        flow runs: the ODE methods, the few-step solvers, ddpm and ddim. Default: gen sample: ddpm for ddpm runs, euler-maruyama for sde runs, \
        heun for flow runs; gen eval: ddpm (50 ancestral steps) for ddpm runs, heun for sde and flow runs. \
        gen eval takes a comma-separated list (with --steps, every sampler at every step count).
        """)
    var sampler: CommaList<BuiltInSampler>?

    @Option(help: "Sampling steps (default: ddpm 250 (at most T), ddim 50, SDE samplers 500, euler 100, midpoint/heun 50, rk4 25, dpm++ 20 (= network evaluations), heun-karras 18 noise levels (35 evaluations); for dopri5 the progress intervals, 4; gen eval: 50 ddpm, 25 heun). gen eval takes a comma-separated list.")
    var steps: CommaList<Int>?

    @Option(help: "Conditional ddpm, sde and flow runs: classifier-free guidance w, ε̃ = (1 + w)·ε(x, class) − w·ε(x, none); 0 (the default) is the plain conditional model. gen eval takes a comma-separated list.")
    var guidance: CommaList<Float>?

    @Option(help: "Predictor-corrector: the corrector's signal-to-noise ratio.")
    var snr: Double = 0.16

    @Option(help: "Predictor-corrector: the predictor, reverse-diffusion or euler-maruyama.")
    var predictor: PredictorCorrectorSampler.Predictor = .reverseDiffusion

    @Option(help: "Predictor-corrector: Langevin steps per time.")
    var correctorSteps: Int = 1

    @Option(help: "dopri5: relative tolerance.")
    var rtol: Double = 1e-5

    @Option(help: "dopri5: absolute tolerance.")
    var atol: Double = 1e-5

    @Option(help: "DDIM's η (0: deterministic).")
    var eta: Double = 0

    @Option(help: "DDPM's variance: small or large.")
    var variance: DDPMSampler.Variance = .small

    @Flag(inversion: .prefixedNo, help: "Clip the predicted data to [-1, 1] at each step (ddpm, ddim, dpm++).")
    var clip = true

    func validate() throws {
        if let steps, steps.values.contains(where: { $0 < 1 }) { throw ValidationError("--steps must be at least 1") }
        if let guidance, guidance.values.contains(where: { !($0 >= 0 && $0.isFinite) }) { throw ValidationError("--guidance must be finite and at least 0") }
        guard eta >= 0 else { throw ValidationError("--eta must not be negative") }
        guard snr > 0, correctorSteps >= 0, rtol > 0, atol > 0 else {
            throw ValidationError("--snr, --rtol and --atol must be positive, --corrector-steps not negative")
        }
    }

    var settings: SamplerSettings {
        SamplerSettings(eta: eta, variance: variance, clipData: clip, signalToNoise: snr, predictor: predictor,
                        correctorSteps: correctorSteps, relativeTolerance: rtol, absoluteTolerance: atol)
    }

    /// Whether a list asks for more than one sampler or step count (`gen eval` only).
    var isSweep: Bool { (sampler?.values.count ?? 1) > 1 || (steps?.values.count ?? 1) > 1 || (guidance?.values.count ?? 1) > 1 }

    /// Every sampler at every step count at every guidance, for `purpose`.
    func draws(_ purpose: DrawOptions.Purpose) -> [DrawOptions] {
        let guidances: [Float?] = guidance?.values ?? [nil]
        return choices.flatMap { choice in guidances.map { DrawOptions(purpose: purpose, sampler: choice, guidance: $0) } }
    }

    /// The sampler to ask for: nil (the model's default) unless a sampler, steps or settings
    /// are given. With lists, their first entries (``choices`` has them all).
    var choice: DiffusionSamplerChoice? { choices[0] }

    /// Every sampler at every step count, samplers outermost (one nil: the model's default).
    var choices: [DiffusionSamplerChoice?] {
        let settings = self.settings
        guard sampler != nil || steps != nil || settings != SamplerSettings() else { return [nil] }
        let samplers: [BuiltInSampler?] = sampler?.values ?? [nil], counts: [Int?] = steps?.values ?? [nil]
        return samplers.flatMap { name in counts.map { DiffusionSamplerChoice(name, steps: $0, settings: settings) } }
    }
}

/// A comma-separated option value: `--steps 5,10,20`.
struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]
    init?(argument: String) {
        let parsed = argument.split(separator: ",", omittingEmptySubsequences: false).map { Element(argument: $0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { return nil }
        values = parsed.compactMap { $0 }
    }
    static var allValueStrings: [String] { Element.allValueStrings }
}

extension BuiltInSampler: ExpressibleByArgument {}
extension DDPMSampler.Variance: ExpressibleByArgument {}
extension PredictorCorrectorSampler.Predictor: ExpressibleByArgument {}

/// `--class K` or `--class all`.
enum ClassChoice: ExpressibleByArgument {
    case one(Int)
    case all

    init?(argument: String) {
        if argument == "all" { self = .all } else if let k = Int(argument), k >= 0 { self = .one(k) } else { return nil }
    }
}
