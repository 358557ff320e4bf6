import GenCore

/// What the three diffusion families share: a network behind a ``Denoiser`` and the shape of
/// the images it makes. Sampling with any ``Sampler`` is written once, here.
public protocol DiffusionModel: AnyObject {
    var denoiser: Denoiser { get }
    /// `[channels, height, width]`.
    var imageShape: [Int] { get }
    /// The process whose probability-flow ODE gives the model's likelihood.
    var likelihoodDenoiser: Denoiser { get }
}

extension DiffusionModel {
    public var likelihoodDenoiser: Denoiser { denoiser }

    /// Draws `count` images with `sampler`, starting from fresh noise.
    public func sample<S: Sampler>(count: Int, sampler: S, generator: RandomGenerator,
                                   onStep: (SamplingProgress) -> Void = { _ in }) -> Tensor {
        let noise = Tensor.randomNormal([count] + imageShape, using: generator)
        return sampler.sample(denoiser, noise: noise, generator: generator, onStep: onStep)
    }
}

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

/// A DDPM: a ``UNet`` trained with ``ddpmLoss(denoiser:diffusionSteps:data:generator:)`` and
/// sampled by any ``Sampler``.
///
/// ```swift
/// let ddpm = DDPM(DDPMConfiguration())
/// try ddpm.network.load(stateDict: RunCheckpoint.read(url).samplingWeights)
/// let images = ddpm.sample(count: 16, sampler: DDIMSampler(steps: 50), generator: RandomGenerator(seed: 0))
/// ```
public final class DDPM: TrainingTask, DiffusionModel {
    public let configuration: DDPMConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// The sampler of the preview grids during training: ancestral sampling over 100 strided
    /// steps, which early in training gives cleaner pictures than DDIM's deterministic steps.
    public var previewSampler = DDPMSampler(steps: 100)

    public init(_ configuration: DDPMConfiguration) {
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: configuration.noiseSchedule)
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .symmetric }
    public var imageShape: [Int] { let c = configuration.unet; return [c.imageChannels, c.imageSize, c.imageSize] }

    /// The likelihood of a DDPM is that of its continuous-time limit: the linear schedule is the
    /// VP SDE with β from 0.1 to 20 at any T (Song et al. 2021, Appendix B); a cosine schedule is
    /// integrated as it is, log ᾱ piecewise linear.
    public var likelihoodDenoiser: Denoiser {
        let process: any NoiseProcess = configuration.schedule == .linear ? VPSDE(betaMin: 0.1, betaMax: 20) : configuration.noiseSchedule
        return Denoiser(network: network, prediction: configuration.prediction, process: process)
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        ddpmLoss(denoiser: denoiser, diffusionSteps: configuration.diffusionSteps, data: batch.images, generator: generator)
    }

    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator)
    }
}

/// A score-based model of one of the three SDEs, as a run stores it.
public struct ScoreSDEConfiguration: Codable, Sendable, Equatable {
    public var unet: UNetConfiguration
    public var sde: SDEConfiguration
    /// What the network outputs; the loss is on the implied noise either way.
    public var prediction: Prediction

    public init(unet: UNetConfiguration = .small, sde: SDEConfiguration = SDEConfiguration(.vp), prediction: Prediction = .noise) {
        self.unet = unet
        self.sde = sde
        self.prediction = prediction
    }
}

/// A score-based generative model through an SDE (Song et al. 2021): a ``UNet`` trained by
/// ``denoisingScoreMatchingLoss(denoiser:data:generator:)`` with continuous time.
public final class ScoreSDE: TrainingTask, DiffusionModel {
    public let configuration: ScoreSDEConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// Preview grids: Euler–Maruyama on the reverse SDE, 100 steps. (Early in training the
    /// deterministic probability-flow ODE leaves visible noise in some samples that the
    /// stochastic sampler corrects.)
    public var previewSampler = EulerMaruyamaSampler(steps: 100)

    public init(_ configuration: ScoreSDEConfiguration) {
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: configuration.sde.sde)
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .symmetric }
    public var imageShape: [Int] { let c = configuration.unet; return [c.imageChannels, c.imageSize, c.imageSize] }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        denoisingScoreMatchingLoss(denoiser: denoiser, data: batch.images, generator: generator)
    }

    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator)
    }
}

/// A flow-matching model as a run stores it.
public struct FlowMatchingConfiguration: Codable, Sendable, Equatable {
    public var unet: UNetConfiguration
    public var coupling: Coupling
    public var prediction: Prediction

    public init(unet: UNetConfiguration = .small, coupling: Coupling = .independent, prediction: Prediction = .velocity) {
        self.unet = unet
        self.coupling = coupling
        self.prediction = prediction
    }
}

/// Flow matching on the linear path (Lipman et al. 2023; Liu et al. 2023): a ``UNet`` regressing
/// the velocity `noise − data` (``flowMatchingLoss(denoiser:data:coupling:generator:)``),
/// sampled by integrating it from t = 1 to 0 with ``ProbabilityFlowSampler``.
public final class FlowMatching: TrainingTask, DiffusionModel {
    public let configuration: FlowMatchingConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// Preview grids: 25 Heun steps (50 evaluations).
    public var previewSampler = ProbabilityFlowSampler(method: .heun, steps: 25)

    /// - Precondition: `configuration.prediction` is `.velocity`: on the linear path α(1) = 0
    ///   and σ(0) = 0, so a noise or data prediction cannot be turned into a velocity at the ends.
    public init(_ configuration: FlowMatchingConfiguration) {
        require(configuration.prediction == .velocity,
                "FlowMatching: the network must predict the velocity, not \(configuration.prediction)")
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: LinearPath())
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .symmetric }
    public var imageShape: [Int] { let c = configuration.unet; return [c.imageChannels, c.imageSize, c.imageSize] }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        flowMatchingLoss(denoiser: denoiser, data: batch.images, coupling: configuration.coupling, generator: generator)
    }

    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator)
    }
}
