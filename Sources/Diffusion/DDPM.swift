import GenCore

/// A DDPM as a run stores it: the network's shape, the noise schedule and the prediction type.
public struct DDPMConfiguration: Codable, Sendable, Equatable {
    public var unet: UNetConfiguration
    public var schedule: NoiseSchedule.Kind
    /// T, the number of discrete diffusion steps.
    public var diffusionSteps: Int
    public var prediction: Prediction

    public init(unet: UNetConfiguration = .small, schedule: NoiseSchedule.Kind = .linear, diffusionSteps: Int = 1000,
                prediction: Prediction = .noise) {
        self.unet = unet
        self.schedule = schedule
        self.diffusionSteps = diffusionSteps
        self.prediction = prediction
    }

    public var noiseSchedule: NoiseSchedule { NoiseSchedule(schedule, steps: diffusionSteps) }
}

/// A DDPM: a ``UNet`` trained with ``ddpmLoss`` and sampled by any ``Sampler``.
///
/// ```swift
/// let ddpm = DDPM(DDPMConfiguration())
/// try ddpm.network.load(stateDict: RunCheckpoint.read(url).samplingWeights)
/// let images = ddpm.sample(count: 16, sampler: DDIMSampler(steps: 50), generator: RandomGenerator(seed: 0))
/// ```
public final class DDPM: TrainingTask {
    public let configuration: DDPMConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// The sampler of the preview grids during training: ancestral sampling over 100 strided
    /// steps, which early in training gives cleaner pictures than DDIM's deterministic steps.
    public var previewSampler = DDPMSampler(steps: 100)

    public init(_ configuration: DDPMConfiguration) {
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, schedule: configuration.noiseSchedule)
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .symmetric }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        ddpmLoss(network: network, prediction: configuration.prediction, schedule: denoiser.schedule,
                 data: batch.images, generator: generator)
    }

    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator)
    }

    /// Draws `count` images with `sampler`, starting from fresh noise.
    public func sample<S: Sampler>(count: Int, sampler: S, generator: RandomGenerator,
                                   onStep: (SamplingProgress) -> Void = { _ in }) -> Tensor {
        let c = configuration.unet
        let noise = Tensor.randomNormal([count, c.imageChannels, c.imageSize, c.imageSize], using: generator)
        return sampler.sample(denoiser, noise: noise, generator: generator, onStep: onStep)
    }
}
