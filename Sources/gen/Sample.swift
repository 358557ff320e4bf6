import ArgumentParser
import Diffusion
import Foundation
import GAN
import GenCore
import VAE

/// `gen sample`: draw images from a trained run.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a trained run and write them as a PNG grid.")

    @Argument(help: "The PNG file to write.")
    var output: String

    @Option(name: .customLong("run"), help: "The run folder (default: the most recent run under ./runs).")
    var runFolder: String?

    @Option(help: "How many images.")
    var n: Int = 64

    @Option(help: """
        Sampler. ddpm and sde runs: ddpm (ancestral), ddim, euler-maruyama, reverse-diffusion, pc \
        (predictor-corrector), or an ODE method for the probability-flow ODE: euler, midpoint, heun, rk4, dopri5. \
        flow runs: the ODE methods, ddpm and ddim. Default: ddpm for ddpm runs, euler-maruyama for sde runs, heun for flow runs.
        """)
    var sampler: SamplerName?

    @Option(help: "Sampling steps (default: ddpm 250 (at most T), ddim 50, SDE samplers 500, euler 100, midpoint/heun 50, rk4 25; for dopri5 the progress intervals, 4).")
    var steps: Int?

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

    @Flag(inversion: .prefixedNo, help: "Clip the predicted data to [-1, 1] at each step.")
    var clip = true

    @Flag(help: "wgan and vae runs: write latent-space walks instead (rows of --nrow images between two random latents).")
    var interpolate = false

    @Option(help: "vae runs: write these images (the first --n, spread over the file) beside their reconstructions.")
    var reconstruct: String?

    @Option(help: "realnvp runs: the temperature of the latent (z ~ N(0, T²)).")
    var temperature: Float = 1

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

    @Option(help: "Threads for GenCore and OpenBLAS.")
    var threads: Int?

    enum SamplerName: String, ExpressibleByArgument, CaseIterable {
        case ddpm, ddim, eulerMaruyama = "euler-maruyama", reverseDiffusion = "reverse-diffusion", pc
        case euler, midpoint, heun, rk4, dopri5

        var odeMethod: ODESolver.Method? { ODESolver.Method(rawValue: rawValue) }

        var defaultSteps: Int {
            switch self {
            case .ddpm: return 250
            case .ddim: return 50
            case .eulerMaruyama, .reverseDiffusion, .pc: return 500
            case .euler: return 100
            case .midpoint, .heun: return 50
            case .rk4: return 25
            case .dopri5: return 4
            }
        }

        /// Every built-in sampler that works with the kind's noise process. The reverse-SDE
        /// samplers need the drift α'/α, which is infinite at t = 1 on flow matching's linear
        /// path (α(1) = 0); DDPM's and DDIM's steps use only α and σ and serve it.
        static func valid(for kind: String) -> [SamplerName] {
            kind == "flow" ? allCases.filter { $0.odeMethod != nil || $0 == .ddpm || $0 == .ddim } : allCases
        }

        static func defaultFor(_ kind: String) -> SamplerName {
            switch kind {
            case "sde": return .eulerMaruyama
            case "flow": return .heun
            default: return .ddpm
            }
        }
    }

    func validate() throws {
        guard n >= 1 else { throw ValidationError("--n must be at least 1") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let nrow, nrow < 1 { throw ValidationError("--nrow must be at least 1") }
        guard eta >= 0 else { throw ValidationError("--eta must not be negative") }
        guard snr > 0, correctorSteps >= 0, rtol > 0, atol > 0 else {
            throw ValidationError("--snr, --rtol and --atol must be positive, --corrector-steps not negative")
        }
    }

    func run() throws {
        try reportingFailures {
            if let threads { Threads.set(threads) }
            let folder = try runFolder.map { URL(fileURLWithPath: $0) } ?? latestRun()
            let checkpointURL = folder.appendingPathComponent("checkpoint.safetensors")
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw Failure(message: "\(folder.path): no checkpoint.safetensors to sample from", code: Exit.missingInput)
            }
            try checkWritable(output)
            let checkpoint = try RunCheckpoint.read(checkpointURL)
            let runKind = try RunKind.decode(checkpoint.configJSON).kind
            if reconstruct != nil && runKind != "vae" {
                throw Failure(message: "--reconstruct needs a vae run; \(folder.path) is a \(runKind) run", code: Exit.usage)
            }
            if interpolate && runKind != "wgan" && runKind != "vae" {
                throw Failure(message: "--interpolate needs a wgan or vae run; \(folder.path) is a \(runKind) run", code: Exit.usage)
            }
            if sampler != nil && !DiffusionRun.kinds.contains(runKind) {
                throw Failure(message: "--sampler \(sampler!.rawValue) does not fit a \(runKind) run: it draws in one pass", code: Exit.usage)
            }
            switch runKind {
            case "wgan": return try sampleGAN(checkpoint, from: checkpointURL, folder: folder)
            case "vae": return try sampleVAE(checkpoint, from: checkpointURL, folder: folder)
            case "realnvp": return try sampleRealNVP(checkpoint, from: checkpointURL, folder: folder)
            default: break
            }
            let (kind, model) = try DiffusionRun.load(checkpoint, from: checkpointURL, emaWeights: !noEMA)
            let name = sampler ?? SamplerName.defaultFor(kind)
            guard SamplerName.valid(for: kind).contains(name) else {
                throw Failure(message: "--sampler \(name.rawValue) does not fit a \(kind) run; use one of \(SamplerName.valid(for: kind).map(\.rawValue).joined(separator: ", "))", code: Exit.usage)
            }
            let generator = RandomGenerator(seed: seed, stream: .sampling)
            var total = steps ?? name.defaultSteps
            if name == .ddpm, steps == nil, let ddpm = model as? DDPM { total = min(total, ddpm.configuration.diffusionSteps) }
            let progress = ProgressReporter(total: total, label: "sampling step", lineEvery: max(1, total / 10))
            let start = Date()
            let options = DiffusionSamplerOptions(eta: eta, variance: variance, clip: clip, snr: snr, predictor: predictor,
                                                  correctorSteps: correctorSteps, rtol: rtol, atol: atol)
            let images = name.sample(model, count: n, steps: total, options: options, generator: generator) { progress.update(step: $0) }
            let columns = nrow ?? Int(Double(n).squareRoot().rounded(.up))
            try ImageGrid.write(images, to: URL(fileURLWithPath: output), nrow: columns, range: .symmetric)
            if let npy { try NPY.write(images, to: URL(fileURLWithPath: npy)) }
            if let h5 { try writeHDF5(images, to: URL(fileURLWithPath: h5)) }
            print("wrote \(output): \(n) samples from \(folder.path) (\(name.rawValue), \(total) steps, \(model.denoiser.evaluations) network evaluations, \(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
        }
    }

    private func sampleVAE(_ checkpoint: RunCheckpoint, from url: URL, folder: URL) throws {
        let vae = try ModelRun.vae(checkpoint, from: url, emaWeights: !noEMA)
        let generator = RandomGenerator(seed: seed, stream: .sampling)
        var columns = nrow ?? (interpolate ? 8 : Int(Double(n).squareRoot().rounded(.up)))
        let images: Tensor
        var what = "prior samples"
        if let reconstruct {
            try HDF5Guard.check(reconstruct, dataset: nil)
            let data = try HDF5Dataset(url: URL(fileURLWithPath: reconstruct), options: .init(readLabels: false))
            guard data.imageShape == vae.configuration.imageShape else {
                throw Failure(message: "\(reconstruct): images are \(data.imageShape), the vae run was trained on \(vae.configuration.imageShape)", code: Exit.badData)
            }
            let count = min(n, data.count)
            let inputs = try data.images(at: (0..<count).map { $0 * data.count / count }, scaledTo: .unit)
            columns = nrow ?? 8
            images = vae.reconstructions(vae.prepare(inputs, generator: generator), columns: columns)
            what = "inputs (odd rows) and reconstructions (even rows)"
        } else if interpolate {
            columns = max(columns, 2)
            images = vae.interpolations(rows: max(1, n / columns), columns: columns, generator: generator)
            what = "latent interpolations"
        } else {
            images = vae.samples(count: n, generator: generator)
        }
        try writeOutputs(images, nrow: columns, range: .unit)
        print("wrote \(output): \(images.shape[0]) images from \(folder.path) (vae, \(what), decoder means)")
    }

    private func sampleRealNVP(_ checkpoint: RunCheckpoint, from url: URL, folder: URL) throws {
        let model = try ModelRun.realNVP(checkpoint, from: url, emaWeights: !noEMA)
        let images = model.sample(count: n, temperature: temperature, generator: RandomGenerator(seed: seed, stream: .sampling))
        try writeOutputs(images, nrow: nrow ?? Int(Double(n).squareRoot().rounded(.up)), range: .unit)
        print("wrote \(output): \(n) samples from \(folder.path) (realnvp, temperature \(temperature))")
    }

    private func writeOutputs(_ images: Tensor, nrow: Int, range: PixelRange) throws {
        try ImageGrid.write(images, to: URL(fileURLWithPath: output), nrow: nrow, range: range)
        let symmetric = range == .symmetric ? images : images * 2 - 1
        if let npy { try NPY.write(symmetric, to: URL(fileURLWithPath: npy)) }
        if let h5 { try writeHDF5(symmetric, to: URL(fileURLWithPath: h5)) }
    }

    private func sampleGAN(_ checkpoint: RunCheckpoint, from url: URL, folder: URL) throws {
        let wgan = try GANRun.load(checkpoint, from: url, emaWeights: !noEMA)
        let generator = RandomGenerator(seed: seed, stream: .sampling)
        let columns = nrow ?? (interpolate ? 8 : Int(Double(n).squareRoot().rounded(.up)))
        let latents = interpolate
            ? wgan.interpolationLatents(rows: max(1, n / max(columns, 2)), columns: max(columns, 2), generator: generator)
            : wgan.latents(n, generator: generator)
        let images = wgan.sample(latents: latents)
        try ImageGrid.write(images, to: URL(fileURLWithPath: output), nrow: interpolate ? max(columns, 2) : columns, range: .symmetric)
        if let npy { try NPY.write(images, to: URL(fileURLWithPath: npy)) }
        if let h5 { try writeHDF5(images, to: URL(fileURLWithPath: h5)) }
        print("wrote \(output): \(images.shape[0]) \(interpolate ? "interpolated " : "")samples from \(folder.path) (wgan generator, \(noEMA ? "raw" : "EMA") weights)")
    }

    private func latestRun() throws -> URL {
        let runs = URL(fileURLWithPath: "runs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
        let candidates = names.compactMap { name -> (URL, Date)? in
            let checkpoint = runs.appendingPathComponent(name).appendingPathComponent("checkpoint.safetensors")
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: checkpoint.path),
                  let date = attributes[.modificationDate] as? Date else { return nil }
            return (runs.appendingPathComponent(name), date)
        }
        guard let latest = candidates.max(by: { $0.1 < $1.1 }) else {
            throw Failure(message: "no run to sample from: ./runs holds no checkpoint; train one first or give --run", code: Exit.missingInput)
        }
        printNote("using the most recent run, \(latest.0.path)")
        return latest.0
    }

    private func writeHDF5(_ images: Tensor, to url: URL) throws {
        let writer = try HDF5ImageWriter(url: url, channels: images.shape[1], height: images.shape[2], width: images.shape[3],
                                         withLabels: false, overwrite: true)
        try writer.append(pixels: images.scalars.map { ImageGrid.quantize($0, low: -1, high: 1) }, labels: nil)
        try writer.finish()
    }
}

/// The settings of the built-in diffusion samplers besides their name and step count.
struct DiffusionSamplerOptions {
    var eta = 0.0
    var variance = DDPMSampler.Variance.small
    var clip = true
    var snr = 0.16
    var predictor = PredictorCorrectorSampler.Predictor.reverseDiffusion
    var correctorSteps = 1
    var rtol = 1e-5
    var atol = 1e-5
}

extension Sample.SamplerName {
    /// `count` images `[count, C, H, W]` in [-1, 1] drawn from `model` with this sampler in
    /// `steps` steps, calling `onStep` with each finished step.
    func sample(_ model: any DiffusionModel & TrainingTask, count: Int, steps: Int, options: DiffusionSamplerOptions,
                generator: RandomGenerator, onStep: (Int) -> Void) -> Tensor {
        func draw<S: Sampler>(_ sampler: S) -> Tensor {
            model.sample(count: count, sampler: sampler, generator: generator) { onStep($0.step) }
        }
        switch self {
        case .ddpm: return draw(DDPMSampler(steps: steps, variance: options.variance, clipData: options.clip))
        case .ddim: return draw(DDIMSampler(steps: steps, eta: options.eta, clipData: options.clip))
        case .eulerMaruyama: return draw(EulerMaruyamaSampler(steps: steps))
        case .reverseDiffusion: return draw(ReverseDiffusionSampler(steps: steps))
        case .pc:
            return draw(PredictorCorrectorSampler(steps: steps, predictor: options.predictor, signalToNoise: options.snr,
                                                  correctorSteps: options.correctorSteps))
        case .euler, .midpoint, .heun, .rk4, .dopri5:
            return draw(ProbabilityFlowSampler(method: odeMethod!, steps: steps, relativeTolerance: options.rtol, absoluteTolerance: options.atol))
        }
    }
}

extension DDPMSampler.Variance: ExpressibleByArgument {}

/// Fails early, with the path, when an output file cannot be written.
func checkWritable(_ path: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw Failure(message: "\(path): cannot write: no such folder", code: Exit.cannotWrite)
    }
    guard access(folder, W_OK) == 0 else { throw Failure(message: "\(path): cannot write: folder is not writable", code: Exit.cannotWrite) }
}
extension PredictorCorrectorSampler.Predictor: ExpressibleByArgument {}
