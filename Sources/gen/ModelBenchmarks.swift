import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import VAE

/// The four benchmark models of BENCHMARKS.md, built layer for layer as the PyTorch twin
/// (`../shared/peers/reference_models.py`) builds them, each with one training step (forward,
/// backward, optimizer update) and one inference forward pass on random data of the twin's batch.
enum ModelBenchmarks {
    struct Case {
        var name: String
        var batch: Int
        var parameters: Int
        var trainStep: () -> Void
        var forward: () -> Void
    }

    static let names = ["ddpm-unet-small", "vae-mlp", "realnvp-small", "wgan-sn-dcgan"]

    /// 64 images from the `ddpm-unet-small` network (random weights: only the time matters),
    /// by 1,000 ancestral steps and by 50 DDIM steps, each timed once whole.
    static func sampling() -> [SamplingResult] {
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

    static func make(_ name: String) -> Case {
        let random = RandomGenerator(seed: 0, stream: .noise)
        switch name {
        case "ddpm-unet-small":
            // ε-prediction MSE at uniform steps of T = 1000, Adam lr 2e-4
            let ddpm = DDPM(DDPMConfiguration(unet: .small))
            let optimizer = Adam(learningRate: 2e-4)
            let data = Tensor.randomUniform([64, 1, 28, 28], low: -1, high: 1, using: random)
            return Case(name: name, batch: 64, parameters: ddpm.network.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(ddpm.network) { _ in ddpm.loss(batch: Batch(images: data), generator: random) }
                optimizer.update(ddpm.network, with: gradients)
            }, forward: {
                _ = withoutGradients { ddpm.network(data, times: Tensor.full([64], 0.5)) }
            })
        case "vae-mlp":
            // 784-400-20, Bernoulli likelihood on binary data, Adam lr 1e-3
            let vae = VariationalAutoencoder(.mlp)
            let optimizer = Adam(learningRate: 1e-3)
            let data = Tensor.randomUniform([128, 1, 28, 28], using: random).greater(0.5)
            return Case(name: name, batch: 128, parameters: vae.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(vae) { v in -v.elbo(data, generator: random).elbo.mean() }
                optimizer.update(vae, with: gradients)
            }, forward: {
                _ = withoutGradients { vae.meanImage(Tensor.randomNormal([128, 20], using: random)) }
            })
        case "realnvp-small":
            // dequantize + logit + the two-scale flow, Adam lr 1e-3
            let model = RealNVP(.small)
            let optimizer = Adam(learningRate: 1e-3)
            let pixels = Tensor.randomUniform([64, 1, 28, 28], using: random) * 255
            let logits = Logit().forward(Tensor.randomUniform([64, 1, 28, 28], low: 0.01, high: 0.99, using: random)).y
            return Case(name: name, batch: 64, parameters: model.flow.parameterCount, trainStep: {
                let (_, gradients) = valueAndGrad(model.flow) { _ in model.bitsPerDimension(pixels: pixels, generator: random).mean() }
                optimizer.update(model.flow, with: gradients)
            }, forward: {
                _ = withoutGradients { model.flow.logDensity(logits) }
            })
        case "wgan-sn-dcgan":
            // one critic and one generator update, Wasserstein loss, Adam lr 2e-4, betas (0, 0.9)
            let wgan = WGAN(.dcgan)
            let optimizers = wgan.optimizers()
            let real = Tensor.randomUniform([64, 1, 28, 28], low: -1, high: 1, using: random)
            return Case(name: name, batch: 64, parameters: wgan.model.parameterCount, trainStep: {
                let (_, criticGradients) = valueAndGrad(wgan.critic) { _ in wgan.criticLoss(real: real, generator: random).loss }
                optimizers[0].update(wgan.critic, with: criticGradients)
                let (_, generatorGradients) = valueAndGrad(wgan.generator) { _ in wgan.generatorLoss(count: 64, generator: random) }
                optimizers[1].update(wgan.generator, with: generatorGradients)
            }, forward: {
                wgan.generator.eval()
                _ = wgan.samples(count: 64, generator: random)
                wgan.generator.train()
            })
        default:
            fatalError("unknown benchmark \(name)")
        }
    }
}
