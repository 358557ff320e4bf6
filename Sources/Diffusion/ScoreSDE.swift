import GenCore

/// A score-based model of one of the three SDEs, as a run stores it.
public struct ScoreSDEConfiguration: ConditionalUNetConfiguration {
    public var unet: UNetConfiguration
    /// A conditional run's label dropout (``ConditionalUNetConfiguration``); nil when unconditional.
    public var classDropout: Double?
    public var sde: SDEConfiguration
    /// What the network outputs; the loss is on the implied noise either way.
    public var prediction: Prediction
    /// Min-SNR-γ loss weighting of the noise error (``minSNRWeights(_:prediction:gamma:)``);
    /// nil: the paper's λ(t) = σ².
    public var minSNRGamma: Float?
    /// EDM's noise levels and loss weighting (``EDMTraining``); nil: uniform times.
    public var edm: EDMTraining?

    public init(unet: UNetConfiguration = .small, sde: SDEConfiguration = SDEConfiguration(.vp), prediction: Prediction = .noise,
                minSNRGamma: Float? = nil, edm: EDMTraining? = nil) {
        self.minSNRGamma = minSNRGamma
        self.edm = edm
        self.unet = unet
        self.sde = sde
        self.prediction = prediction
    }

    public func estimatedTrainingBytes(batchSize: Int) -> Double { unet.estimatedTrainingBytes(batchSize: batchSize) }

    public func validate() throws(ConfigurationError) {
        try unet.validate()
        try validateConditioning()
        try validateWeighting(minSNRGamma: minSNRGamma, edm: edm)
        let s = sde
        guard s.betaMin > 0, s.betaMax >= s.betaMin, s.sigmaMin > 0, s.sigmaMax > s.sigmaMin, s.betaMax.isFinite, s.sigmaMax.isFinite else {
            throw .settings("need 0 < --beta-min ≤ --beta-max and 0 < --sigma-min < --sigma-max")
        }
    }
}

/// A score-based generative model through an SDE (Song et al. 2021): a ``UNet`` trained by
/// ``denoisingScoreMatchingLoss(denoiser:data:generator:)`` with continuous time.
public final class ScoreSDE: SingleLossTask, DiffusionModel {
    public let configuration: ScoreSDEConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// Euler–Maruyama on the reverse SDE, 50 steps. (Early in training the deterministic
    /// probability-flow ODE leaves visible noise in some samples that the stochastic sampler
    /// corrects.)
    public var previewSampler: any Sampler = EulerMaruyamaSampler(steps: 50)

    public init(_ configuration: ScoreSDEConfiguration) {
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: configuration.sde.sde)
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        denoisingScoreMatchingLoss(denoiser: denoiser, data: batch.images, generator: generator,
                                   labels: trainingLabels(batch, generator: generator), minSNRGamma: configuration.minSNRGamma, edm: configuration.edm)
    }
}
