import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import VAE

/// The four benchmark models of BENCHMARKS.md, built layer for layer as the PyTorch twin
/// (`../shared/peers/reference_models.py`) builds them, each with one training step (forward,
/// backward, optimizer update) and one inference forward pass on random data of the twin's batch.
public enum ModelBenchmarks {
    /// One benchmark model, ready to time.
    public struct Case {
        public var name: String
        public var batch: Int
        public var parameters: Int
        /// Forward, backward and the optimizer update on a fixed batch.
        public var trainStep: () -> Void
        /// One inference forward pass at the same batch (the cost of one sampling step).
        public var forward: () -> Void
    }

    public static let names = ["ddpm-unet-small", "vae-mlp", "realnvp-small", "wgan-sn-dcgan"]

    /// 64 images from the `ddpm-unet-small` network (random weights: only the time matters),
    /// by 1,000 ancestral steps and by 50 DDIM steps, each timed once whole.
    public static func sampling() -> [SamplingResult] {
        let ddpm = DDPM(DDPMConfiguration(unet: .small))
        ddpm.network.eval()
        func time<S: Sampler>(_ name: String, _ sampler: S, steps: Int) -> SamplingResult {
            let progress = ProgressReporter(total: steps, label: "\(name) step", lineEvery: max(1, steps / 10))
            let before = ddpm.denoiser.evaluations
            let start = Date()
            _ = ddpm.sample(count: 64, sampler: sampler, generator: RandomGenerator(seed: 0, stream: .sampling)) { progress.update(step: $0.step) }
            let seconds = Date().timeIntervalSince(start)
            progress.finishLine()
            return SamplingResult(bench: "ddpm-unet-small-sample", sampler: name, steps: steps, images: 64,
                                  network_evaluations: ddpm.denoiser.evaluations - before, seconds: seconds,
                                  seconds_per_step: seconds / Double(steps), threads: Threads.count,
                                  peak_rss_mb: Double(ResourceUsage.peakResidentBytes) / 1_048_576)
        }
        return [time("ddpm", DDPMSampler(steps: 1000), steps: 1000), time("ddim", DDIMSampler(steps: 50), steps: 50)]
    }

    /// The train-step and forward times of the model `name` (medians of `repetitions` after
    /// `warmup` untimed ones), with the twin's keys; nil for an unknown name.
    public static func measure(_ name: String, repetitions: Int = 20, warmup: Int = 3) -> ModelResult? {
        guard let model = make(name) else { return nil }
        let train = OpBenchmarks.medianSeconds(repetitions: repetitions, warmup: warmup, model.trainStep)
        let forward = OpBenchmarks.medianSeconds(repetitions: repetitions, warmup: warmup, model.forward)
        return ModelResult(bench: name, framework: "gen-\(GenCore.version)", batch: model.batch, params: model.parameters,
                           train_step_s: train, forward_s: forward, threads: Threads.count,
                           peak_rss_mb: Double(ResourceUsage.peakResidentBytes) / 1_048_576)
    }

    /// The data-parallel cost of the model `name` on the ranks of `world` (every rank calls
    /// this): the all-reduce of one gradient (all its parameters, float32) alone, and a training
    /// step on the rank's share of the twin's batch followed by that all-reduce, as each rank of
    /// `mpirun -np N gen train` makes it. Medians of `repetitions` after `warmup`; nil for an
    /// unknown name.
    public static func measureDataParallel(_ name: String, world: any Communicator, repetitions: Int = 20,
                                           warmup: Int = 3) throws -> DataParallelResult? {
        guard names.contains(name) else { return nil }
        let whole = batchSize(of: name)
        let shares = BatchShares(batchSize: whole, shards: world.size)
        guard let model = make(name, batch: shares.range(world.rank).count) else { return nil }
        var gradient = [Float](repeating: 1, count: model.parameters)
        var failure: Error?
        func allreduce() {
            do { try world.allreduceSum(&gradient) } catch { failure = error }
        }
        let allreduceSeconds = OpBenchmarks.medianSeconds(repetitions: repetitions, warmup: warmup) { allreduce() }
        let stepSeconds = OpBenchmarks.medianSeconds(repetitions: repetitions, warmup: warmup) {
            model.trainStep()
            allreduce()
        }
        if let failure { throw failure }
        return DataParallelResult(bench: name, ranks: world.size, threads: Threads.count, batch: whole, share: model.batch,
                                  params: model.parameters, allreduce_mb: Double(model.parameters * 4) / 1_048_576,
                                  allreduce_s: allreduceSeconds, train_step_s: stepSeconds)
    }

    /// The twin's batch of the model `name`.
    static func batchSize(of name: String) -> Int { name == "vae-mlp" ? 128 : 64 }

    /// The benchmark model `name` (one of ``names``), or nil; `batch` replaces the twin's batch
    /// (a data-parallel rank's share).
    public static func make(_ name: String, batch: Int? = nil) -> Case? {
        let random = RandomGenerator(seed: 0, stream: .noise)
        switch name {
        case "ddpm-unet-small":
            // ε-prediction MSE at uniform steps of T = 1000, Adam lr 2e-4
            let ddpm = DDPM(DDPMConfiguration(unet: .small))
            let optimizer = Adam(learningRate: 2e-4)
            let n = batch ?? 64
            let data = Tensor.randomUniform([n, 1, 28, 28], low: -1, high: 1, using: random)
            return Case(name: name, batch: n, parameters: ddpm.network.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(ddpm.network) { _ in ddpm.loss(batch: Batch(images: data), generator: random) }
                optimizer.update(ddpm.network, with: gradients)
            }, forward: {
                _ = withoutGradients { ddpm.network(data, times: Tensor.full([n], 0.5)) }
            })
        case "vae-mlp":
            // 784-400-20, Bernoulli likelihood on binary data, Adam lr 1e-3
            let vae = VariationalAutoencoder(.mlp)
            let optimizer = Adam(learningRate: 1e-3)
            let n = batch ?? 128
            let data = Tensor.randomUniform([n, 1, 28, 28], using: random).greater(0.5)
            return Case(name: name, batch: n, parameters: vae.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(vae) { v in -v.elbo(data, generator: random).elbo.mean() }
                optimizer.update(vae, with: gradients)
            }, forward: {
                _ = withoutGradients { vae.meanImage(Tensor.randomNormal([n, 20], using: random)) }
            })
        case "realnvp-small":
            // dequantize + logit + the two-scale flow, Adam lr 1e-3
            let model = RealNVP(.small)
            let optimizer = Adam(learningRate: 1e-3)
            let n = batch ?? 64
            let pixels = Tensor.randomUniform([n, 1, 28, 28], using: random) * 255
            let logits = Logit().forward(Tensor.randomUniform([n, 1, 28, 28], low: 0.01, high: 0.99, using: random)).y
            return Case(name: name, batch: n, parameters: model.flow.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(model.flow) { _ in model.bitsPerDimension(pixels: pixels, generator: random).mean() }
                optimizer.update(model.flow, with: gradients)
            }, forward: {
                _ = withoutGradients { model.flow.logDensity(logits) }
            })
        case "wgan-sn-dcgan":
            // one critic and one generator update, Wasserstein loss, Adam lr 2e-4, betas (0, 0.9)
            let wgan = WGAN(.dcgan)
            let optimizers = wgan.optimizers()
            let n = batch ?? 64
            let real = Tensor.randomUniform([n, 1, 28, 28], low: -1, high: 1, using: random)
            return Case(name: name, batch: n, parameters: wgan.model.parameterCount, trainStep: {
                let (_, criticGradients) = valueAndGrad(wgan.critic) { _ in wgan.criticLoss(real: real, generator: random).loss }
                optimizers[0].update(wgan.critic, with: criticGradients)
                let (_, generatorGradients) = valueAndGrad(wgan.generator) { _ in wgan.generatorLoss(count: n, generator: random) }
                optimizers[1].update(wgan.generator, with: generatorGradients)
            }, forward: {
                wgan.generator.eval()
                _ = wgan.samples(count: n, generator: random)
                wgan.generator.train()
            })
        default:
            return nil
        }
    }
}

/// One model's line of `gen bench`, with the PyTorch twin's keys.
public struct ModelResult: Codable, Sendable {
    public var bench: String
    public var framework: String
    public var batch: Int
    public var params: Int
    public var train_step_s: Double
    public var forward_s: Double
    public var threads: Int
    /// Peak resident memory of the process so far (models run in sequence, so it only grows).
    public var peak_rss_mb: Double

    public init(bench: String, framework: String, batch: Int, params: Int, train_step_s: Double, forward_s: Double, threads: Int, peak_rss_mb: Double) {
        self.bench = bench
        self.framework = framework
        self.batch = batch
        self.params = params
        self.train_step_s = train_step_s
        self.forward_s = forward_s
        self.threads = threads
        self.peak_rss_mb = peak_rss_mb
    }
}

/// One model's line of `gen bench --allreduce` (under `mpirun -np N`).
public struct DataParallelResult: Codable, Sendable {
    public var bench: String
    public var ranks: Int
    /// Threads per rank.
    public var threads: Int
    /// The global batch (the twin's), and this rank's share of it.
    public var batch: Int
    public var share: Int
    public var params: Int
    /// The gradient all-reduced each step, in MiB (float32).
    public var allreduce_mb: Double
    public var allreduce_s: Double
    /// A training step on the share plus the all-reduce.
    public var train_step_s: Double
}

/// One sampling run's line of `gen bench --sample`.
public struct SamplingResult: Codable, Sendable {
    public var bench: String
    public var sampler: String
    public var steps: Int
    public var images: Int
    public var network_evaluations: Int
    public var seconds: Double
    public var seconds_per_step: Double
    public var threads: Int
    public var peak_rss_mb: Double
}
