import GenCore

/// A flow-matching model as a run stores it.
public struct FlowMatchingConfiguration: ConditionalUNetConfiguration {
    public var unet: UNetConfiguration
    /// A conditional run's label dropout (``ConditionalUNetConfiguration``); nil when unconditional.
    public var classDropout: Double?
    public var coupling: Coupling
    public var prediction: Prediction
    /// How t is drawn in training (nil: uniform).
    public var timeSampling: TimeSampling?

    public init(unet: UNetConfiguration = .small, coupling: Coupling = .independent, prediction: Prediction = .velocity,
                timeSampling: TimeSampling? = nil) {
        self.timeSampling = timeSampling == .uniform ? nil : timeSampling
        self.unet = unet
        self.coupling = coupling
        self.prediction = prediction
    }

    public func estimatedTrainingBytes(batchSize: Int) -> Double { unet.estimatedTrainingBytes(batchSize: batchSize) }

    public func validate() throws(ConfigurationError) {
        try unet.validate()
        try validateConditioning()
        guard prediction == .velocity else {
            throw .settings("a flow run must predict the velocity, its configuration says \(prediction)")
        }
    }
}

/// Flow matching on the linear path (Lipman et al. 2023; Liu et al. 2023): a ``UNet`` regressing
/// the velocity `noise − data` (``flowMatchingLoss(denoiser:data:coupling:generator:)``),
/// sampled by integrating it from t = 1 to 0 with ``ProbabilityFlowSampler``.
public final class FlowMatching: SingleLossTask, DiffusionModel {
    public let configuration: FlowMatchingConfiguration
    public let network: UNet
    public let denoiser: Denoiser
    /// 25 Heun steps (50 evaluations).
    public var previewSampler: any Sampler = ProbabilityFlowSampler(method: .heun, steps: 25)

    /// - Precondition: `configuration.prediction` is `.velocity`: on the linear path α(1) = 0
    ///   and σ(0) = 0, so a noise or data prediction cannot be turned into a velocity at the ends.
    public init(_ configuration: FlowMatchingConfiguration) {
        require(configuration.prediction == .velocity,
                "FlowMatching: the network must predict the velocity, not \(configuration.prediction)")
        self.configuration = configuration
        network = UNet(configuration.unet)
        denoiser = Denoiser(network: network, prediction: configuration.prediction, process: LinearPath())
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        flowMatchingLoss(denoiser: denoiser, data: batch.images, coupling: configuration.coupling, generator: generator,
                         labels: trainingLabels(batch, generator: generator), timeSampling: configuration.timeSampling ?? .uniform)
    }
}
