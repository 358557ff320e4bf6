import GenCore

/// A DDPM as a run stores it: the network's shape, the noise schedule and the prediction type.
public struct DDPMConfiguration: ConditionalUNetConfiguration {
    public var unet: UNetConfiguration
    /// A conditional run's label dropout (``ConditionalUNetConfiguration``); nil when unconditional.
    public var classDropout: Double?
    public var schedule: NoiseSchedule.Kind
    /// T, the number of discrete diffusion steps.
    public var diffusionSteps: Int
    public var prediction: Prediction
    /// Min-SNR-γ loss weighting (``minSNRWeights(_:prediction:gamma:)``); nil: the plain L_simple.
    public var minSNRGamma: Float?
    /// EDM's noise levels and loss weighting (``EDMTraining``); nil: uniform steps.
    public var edm: EDMTraining?

    public init(unet: UNetConfiguration = .small, schedule: NoiseSchedule.Kind = .linear, diffusionSteps: Int = 1000,
                prediction: Prediction = .noise, minSNRGamma: Float? = nil, edm: EDMTraining? = nil) {
        self.minSNRGamma = minSNRGamma
        self.edm = edm
        self.unet = unet
        self.schedule = schedule
        self.diffusionSteps = diffusionSteps
        self.prediction = prediction
    }

    public var noiseSchedule: NoiseSchedule { NoiseSchedule(schedule, steps: diffusionSteps) }

    public func estimatedTrainingBytes(batchSize: Int) -> Double { unet.estimatedTrainingBytes(batchSize: batchSize) }

    public func validate() throws(ConfigurationError) {
        try unet.validate()
        try validateConditioning()
        try validateWeighting(minSNRGamma: minSNRGamma, edm: edm)
        guard diffusionSteps >= 1, diffusionSteps <= 100_000 else { throw .settings("--diffusion-steps must be from 1 to 100000") }
        // The linear schedule's last β is 0.02·1000/T: at T ≤ 20 it reaches 1 and ᾱ vanishes.
        guard schedule != .linear || diffusionSteps > 20 else {
            throw .settings("--diffusion-steps must be more than 20 with the linear schedule (its last β is 20/T); or use --schedule cosine")
        }
    }
}

/// Throws unless γ is positive and finite (or not given), EDM's numbers sound, and at most one
/// of the two weightings asked for.
func validateWeighting(minSNRGamma gamma: Float?, edm: EDMTraining?) throws(ConfigurationError) {
    if let gamma, !(gamma > 0 && gamma.isFinite) { throw .settings("--min-snr must be positive, got \(gamma)") }
    try edm?.validate()
    if gamma != nil && edm != nil { throw .settings("--min-snr and --edm are two loss weightings: choose one") }
}

/// A DDPM: a ``UNet`` trained with ``ddpmLoss(denoiser:diffusionSteps:data:generator:)`` and
/// sampled by any ``Sampler``.
///
/// ```swift
/// let ddpm = try DDPMFamily.load(URL(fileURLWithPath: "runs/demo"))      // EMA weights, eval mode
/// let images = ddpm.sample(count: 16, sampler: DDIMSampler(steps: 50), generator: RandomGenerator(seed: 0))
/// ```
public final class DDPM: SingleLossTask, DiffusionModel {
    public let configuration: DDPMConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// Ancestral sampling over 50 strided steps, which early in training gives cleaner
    /// pictures than DDIM's deterministic steps (and costs as much as flow matching's preview).
    public var previewSampler: any Sampler = DDPMSampler(steps: 50)

    public init(_ configuration: DDPMConfiguration) {
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: configuration.noiseSchedule)
    }

    /// The likelihood of a DDPM is that of its continuous-time limit: the linear schedule is the
    /// VP SDE with β from 0.1 to 20 at any T (Song et al. 2021, Appendix B); a cosine schedule is
    /// integrated as it is, log ᾱ piecewise linear.
    public var likelihoodDenoiser: Denoiser {
        let process: any NoiseProcess = configuration.schedule == .linear ? VPSDE(betaMin: 0.1, betaMax: 20) : configuration.noiseSchedule
        return Denoiser(network: network, prediction: configuration.prediction, process: process)
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        ddpmLoss(denoiser: denoiser, diffusionSteps: configuration.diffusionSteps, data: batch.images, generator: generator,
                 labels: trainingLabels(batch, generator: generator), minSNRGamma: configuration.minSNRGamma, edm: configuration.edm)
    }
}
