import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import GenFamilies
import Testing
import VAE

/// The 50 labelled 8×8 images every small run here trains on.
let fixtureData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/data/chunked_gzip.h5").path

/// A fresh temporary folder; `remove()` it when done (a `deinit` could run before the last use
/// of a folder inside it: Swift ends lifetimes at the last use of the reference).
struct ScratchFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gen-families-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
    func folder(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Quiet, short runs: no progress lines, no grids until the end.
let tinySettings = RunSettings(steps: 2, batchSize: 8, sampleEvery: 0, checkpointEvery: 0, logEvery: 1)

/// Trains a tiny run of the family `kind` in `folder` through the run API alone.
func trainTiny(_ kind: String, in folder: URL, settings: RunSettings = tinySettings) throws -> any ActiveRun {
    func go<F: ModelFamily>(_ family: F.Type, _ make: @escaping (HDF5Dataset) throws -> F.Configuration) throws -> any ActiveRun {
        let run = try TrainingRun<F>.create(in: folder, data: fixtureData, settings: settings, log: { _ in }, model: make)
        run.trainer.showsProgress = false
        run.trainer.log = { _ in }
        #expect(try run.train() == .finished)
        return run
    }
    switch kind {
    case "ddpm": return try go(DDPMFamily.self) { DDPMConfiguration(unet: try UNetConfiguration(imageShape: $0.imageShape, baseChannels: 8, channelMultipliers: [1, 2])) }
    case "sde": return try go(ScoreSDEFamily.self) { ScoreSDEConfiguration(unet: try UNetConfiguration(imageShape: $0.imageShape, baseChannels: 8, channelMultipliers: [1, 2])) }
    case "flow": return try go(FlowMatchingFamily.self) { FlowMatchingConfiguration(unet: try UNetConfiguration(imageShape: $0.imageShape, baseChannels: 8, channelMultipliers: [1, 2])) }
    case "vae": return try go(VAEFamily.self) { VAEConfiguration(imageShape: $0.imageShape, latent: 4, hidden: 16) }
    case "realnvp": return try go(RealNVPFamily.self) { RealNVPConfiguration(imageShape: $0.imageShape, scales: 1, couplings: 1, finalCouplings: 1, hidden: 8) }
    case "wgan": return try go(WGANFamily.self) { GANConfiguration(imageShape: $0.imageShape, latent: 4, generatorWidth: 8, criticWidth: 8, criticSteps: 2) }
    default: return try go(FeatureClassifierFamily.self) { FeatureClassifierConfiguration(imageShape: $0.imageShape, classes: 10, channels: 4, features: 8) }
    }
}

@Suite("The family registry and the run API", .serialized)
struct RegistryTests {
    static let generative = ["ddpm", "sde", "flow", "vae", "realnvp", "wgan"]

    @Test func listsEveryFamilyOnce() {
        #expect(FamilyRegistry.builtIn.kinds == ["ddpm", "sde", "flow", "vae", "realnvp", "wgan", "classifier"])
        #expect(FamilyRegistry.builtIn.family("realnvp") == RealNVPFamily.self)
        #expect(FamilyRegistry.builtIn.family("pixelcnn") == nil)
    }

    /// Each family trains through the run API, and the registry loads the run back from the
    /// folder alone, in evaluation mode, and draws images of the data's shape in [−1, 1].
    @Test(arguments: generative)
    func trainsLoadsAndDraws(_ kind: String) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder(kind)
        let run = try trainTiny(kind, in: folder)
        #expect(run.kind == kind && run.trainer.step == 2)
        for file in ["config.json", "checkpoint.safetensors", "metrics.jsonl", "samples/step-000002.png"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(kind): \(file)")
        }
        let loaded = try FamilyRegistry.builtIn.load(folder)
        #expect(loaded.kind == kind && loaded.model.imageShape == [1, 8, 8])
        // DDIM clips its predictions, so diffusion images too stay in [−1, 1]
        let source = try loaded.model.imageSource(DrawOptions(sampler: loaded.family.capabilities.contains(.samplers) ? DiffusionSamplerChoice(.ddim, steps: 2) : nil))
        let images = source.draw(count: 3, generator: RandomGenerator(seed: 1))
        #expect(images.shape == [3, 1, 8, 8] && images.isFinite)
        #expect(images.scalars.allSatisfy { $0 >= -1.0001 && $0 <= 1.0001 }, "\(kind): images outside [−1, 1]")
        // what sample metrics draw with when not told: for ddpm 50 ancestral steps (by
        // measurement: FID 260 against DDIM's 402 at 50 steps on MNIST), for sde and flow 25 Heun
        // steps of the probability-flow ODE; both 50 network evaluations
        let defaults = ["ddpm": ("ddpm", 50), "sde": ("heun", 25), "flow": ("heun", 25)]
        if let (sampler, steps) = defaults[kind] {
            let evaluation = try loaded.model.imageSource(DrawOptions(purpose: .evaluation))
            #expect(evaluation.sampler == sampler && evaluation.steps == steps, "\(kind): \(evaluation.sampler), \(evaluation.steps ?? 0) steps")
        }
        // the checkpoint says what it is
        let metadata = try SafeTensors.read(folder.appendingPathComponent("checkpoint.safetensors")).metadata
        #expect(metadata["kind"] == kind && metadata["gen_version"] == GenCore.version)
    }

    /// The library's resume goes on exactly: 4 steps straight and 2 + resume + 2 give the same
    /// checkpoint bytes, with nothing but the checkpoint (config.json removed).
    @Test(arguments: ["ddpm", "wgan"])
    func resumeFromTheCheckpointAloneIsExact(_ kind: String) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        var settings = tinySettings
        settings.steps = 4
        _ = try trainTiny(kind, in: scratch.folder("straight"), settings: settings)
        _ = try trainTiny(kind, in: scratch.folder("split"))
        try FileManager.default.removeItem(at: scratch.folder("split").appendingPathComponent("config.json"))
        let resumed = try FamilyRegistry.builtIn.resume(scratch.folder("split"), steps: 4)
        resumed.trainer.showsProgress = false
        resumed.trainer.log = { _ in }
        #expect(resumed.isResumed && resumed.trainer.step == 2 && resumed.kind == kind)
        #expect(try resumed.train(until: nil) == .finished)
        let a = try Data(contentsOf: scratch.folder("straight").appendingPathComponent("checkpoint.safetensors"))
        let b = try Data(contentsOf: scratch.folder("split").appendingPathComponent("checkpoint.safetensors"))
        #expect(a == b)
        #expect(FileManager.default.fileExists(atPath: scratch.folder("split").appendingPathComponent("config.json").path), "config.json written again")
    }

    /// A checkpoint file moved away from its folder still samples.
    @Test func aCheckpointFileIsEnough() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        _ = try trainTiny("flow", in: scratch.folder("run"))
        let file = scratch.url.appendingPathComponent("alone.safetensors")
        try FileManager.default.moveItem(at: scratch.folder("run").appendingPathComponent("checkpoint.safetensors"), to: file)
        try FileManager.default.removeItem(at: scratch.folder("run"))
        let run = try FamilyRegistry.builtIn.load(file)
        #expect(run.kind == "flow" && run.saved.checkpointURL == file)
        #expect(try run.model.imageSource(DrawOptions(sampler: DiffusionSamplerChoice(.heun, steps: 1))).draw(count: 1, generator: RandomGenerator(seed: 0)).isFinite)
    }

    /// Without options, a run takes its family's defaults: the one set the command line uses.
    @Test func runsTakeTheirFamilysDefaults() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let settings = RunSettings(steps: 1, batchSize: 8)
        for (kind, family) in [("vae", VAEFamily.self as any ModelFamily.Type), ("realnvp", RealNVPFamily.self), ("wgan", WGANFamily.self), ("ddpm", DDPMFamily.self)] {
            let run = try trainTiny(kind, in: scratch.folder(kind), settings: settings)
            let defaults = family.trainingDefaults
            #expect(run.training.learningRate == defaults.learningRate && run.training.warmupSteps == defaults.warmupSteps
                    && run.training.gradientClip == defaults.gradientClip && run.training.emaDecay == defaults.emaDecay
                    && run.training.sampleEvery == defaults.sampleEvery, "\(kind)")
        }
        #expect(VAEFamily.trainingDefaults.learningRate == 1e-3 && RealNVPFamily.trainingDefaults.gradientClip == 100
                && WGANFamily.trainingDefaults.warmupSteps == 0 && WGANFamily.trainingDefaults.gradientClip == nil)
        #expect(TrainerConfiguration(steps: 2000) == TrainingDefaults.standard.configuration())
    }

    /// Options a model cannot use are refused before any work, naming the run's kind.
    @Test func drawOptionsThatDoNotFitAreRefused() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        _ = try trainTiny("vae", in: scratch.folder("vae"))
        _ = try trainTiny("flow", in: scratch.folder("flow"))
        let vae = try FamilyRegistry.builtIn.load(scratch.folder("vae")).model
        let flow = try FamilyRegistry.builtIn.load(scratch.folder("flow")).model
        #expect(throws: GenError.usage("--sampler ddim does not fit a vae run: it draws in one pass")) {
            try vae.imageSource(DrawOptions(sampler: DiffusionSamplerChoice(.ddim)))
        }
        #expect(throws: GenError.self) { try vae.imageSource(DrawOptions(temperature: 0.5)) }
        #expect(throws: GenError.self) { try flow.imageSource(DrawOptions(temperature: 0.5)) }
        do {
            _ = try flow.imageSource(DrawOptions(sampler: DiffusionSamplerChoice(.pc)))
            Issue.record("pc on a flow run")
        } catch let error as GenError {
            #expect(error.category == .usage && error.message.contains("does not fit a flow run") && error.message.contains("heun"))
        }
        #expect(throws: GenError.self) { try flow.likelihoodScorer(LikelihoodOptions(method: ImportanceWeightedEstimator(samples: 2))) }
        #expect(try vae.interpolationGrid(rows: 1, columns: 3, generator: RandomGenerator(seed: 0)).shape == [3, 1, 8, 8])
        #expect(throws: GenError.self) { try flow.interpolationGrid(rows: 1, columns: 2, generator: RandomGenerator(seed: 0)) }
    }

    /// A configuration that cannot be built is an error naming the file, whether it is the
    /// checkpoint's or config.json's, never a trap.
    @Test(arguments: [("\"diffusionSteps\" : 50", "\"diffusionSteps\" : 0"), ("\"diffusionSteps\" : 50", "\"diffusionSteps\" : 10"),
                      ("\"dropout\" : 0", "\"dropout\" : 1.5"), ("\"groups\" : 8", "\"groups\" : 0"),
                      ("\"baseChannels\" : 8", "\"baseChannels\" : -8"), ("\"diffusionSteps\" : 50", "\"diffusionSteps\" : \"many\"")])
    func craftedConfigurationsAreRefused(_ original: String, _ crafted: String) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder("run")
        let configuration = DDPMConfiguration(unet: try UNetConfiguration(imageShape: [1, 8, 8], baseChannels: 8, channelMultipliers: [1, 2]), diffusionSteps: 50)
        // the run (and its folder's lock) ends before the checkpoint is tampered with
        func train() throws -> Trainer.Outcome {
            let run = try TrainingRun<DDPMFamily>.create(in: folder, data: fixtureData, settings: RunSettings(steps: 1, batchSize: 8), configuration: configuration, log: { _ in })
            run.trainer.showsProgress = false
            run.trainer.log = { _ in }
            return try run.train()
        }
        #expect(try train() == .finished)
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        var checkpoint = try RunCheckpoint.read(url)
        #expect(checkpoint.configJSON.contains(original))
        checkpoint.configJSON = checkpoint.configJSON.replacingOccurrences(of: original, with: crafted)
        try checkpoint.write(to: url)
        for attempt in [{ _ = try FamilyRegistry.builtIn.load(folder) }, { _ = try TrainingRun<DDPMFamily>.resume(folder) }] as [() throws -> Void] {
            do {
                try attempt()
                Issue.record("\(crafted) was accepted")
            } catch let error as GenError {
                #expect(error.category == .badData && error.message.hasPrefix(url.path), "\(error)")
            }
        }
    }

    /// One dequantization and one conversion to bits: +8 over [0, 1), +7 over [−1, 1), none for
    /// discrete values; dequantized pixels stay within their bin.
    @Test func bitsPerDimensionOffsets() {
        let uniformOverUnit = 0.0, uniformOverSymmetric = -784 * log(2.0)
        #expect(abs(EightBitData.bitsPerDimension(logDensity: uniformOverUnit, dimensions: 784, valuesIn: .unit) - 8) < 1e-12)
        #expect(abs(EightBitData.bitsPerDimension(logDensity: uniformOverSymmetric, dimensions: 784, valuesIn: .symmetric) - 8) < 1e-12)
        #expect(abs(EightBitData.bitsPerDimension(logDensity: -784 * 8 * log(2.0), dimensions: 784, valuesIn: nil) - 8) < 1e-12)
        let tensor = EightBitData.bitsPerDimension(logDensity: Tensor([0, Float(-784 * log(2.0))], shape: [2]), dimensions: 784, valuesIn: .unit)
        #expect(abs(tensor.scalars[0] - 8) < 1e-5 && abs(tensor.scalars[1] - 9) < 1e-5)
        let pixels = Tensor([0, 17, 255], shape: [3])
        let unit = EightBitData.dequantize(pixels: pixels, into: .unit, generator: RandomGenerator(seed: 3)).scalars
        #expect(zip(unit, [0, 17, 255] as [Float]).allSatisfy { $0 >= $1 / 256 && $0 < ($1 + 1) / 256 })
    }

    /// The library's evaluation loop gives the mean and standard error of the model's own
    /// per-image bits/dim on the chosen rows.
    @Test func likelihoodEvaluationMatchesTheModel() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.folder("realnvp")
        _ = try trainTiny("realnvp", in: folder)
        let saved = try FamilyRegistry.builtIn.open(folder)
        var request = EvaluationRequest(data: fixtureData, metrics: [.bpd], count: 10)
        request.batchSize = 4
        let fields = try Evaluation.evaluate(saved, request, registry: .builtIn, log: { _ in })
        // by hand: 10 rows spread over 50, batches of 4, one generator
        let model = try RealNVPFamily.load(folder)
        let data = try HDF5Dataset(url: URL(fileURLWithPath: fixtureData))
        let rows = (0..<10).map { $0 * 5 }
        let generator = RandomGenerator(seed: 0, stream: .sampling)
        var values: [Double] = []
        for start in stride(from: 0, to: 10, by: 4) {
            let pixels = try LikelihoodEvaluation.eightBitPixels(data, rows: Array(rows[start..<min(10, start + 4)]))
            values += withoutGradients { model.bitsPerDimension(pixels: pixels, generator: generator) }.scalars.map(Double.init)
        }
        let mean = values.reduce(0, +) / 10
        guard case .number(let reported, _)? = fields["bpd"], case .integer(let n)? = fields["n"] else {
            Issue.record("no bpd in \(fields.json)")
            return
        }
        #expect(abs(reported - mean) < 1e-9 * abs(mean) + 1e-12 && n == 10, "\(fields.json) against \(mean)")
    }

    /// A denoiser that clips gives every sampler data in [−1, 1], with the noise re-derived so
    /// that `xt = α·data + σ·noise` still holds.
    @Test func clippingDenoiser() throws {
        let ddpm = DDPM(DDPMConfiguration(unet: try UNetConfiguration(imageShape: [1, 8, 8], baseChannels: 8, channelMultipliers: [1, 2])))
        ddpm.denoiser.clipsData = true
        let xt = Tensor.randomNormal([2, 1, 8, 8], using: RandomGenerator(seed: 4)) * 3
        let t = 0.3
        let (noise, data) = withoutGradients { ddpm.denoiser.predict(xt, at: t) }
        #expect(data.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        let process = ddpm.denoiser.process
        let rebuilt = data * Float(process.alpha(t)) + noise * Float(process.sigma(t))
        #expect(zip(rebuilt.scalars, xt.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
        ddpm.denoiser.clipsData = false
        #expect(withoutGradients { ddpm.denoiser.predict(xt, at: t) }.data.scalars.contains { abs($0) > 1 }, "an untrained net predicts outside [−1, 1]")
    }
}
