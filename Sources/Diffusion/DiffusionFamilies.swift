import GenCore

/// `gen train ddpm`: denoising diffusion (Ho et al. 2020).
public enum DDPMFamily: ModelFamily {
    public static let kind = "ddpm"
    public static let summary = "denoising diffusion (Ho et al. 2020): ε-, x- or v-prediction at discrete steps, linear or cosine schedule"
    public static let trainingDefaults = TrainingDefaults.diffusion
    public static let capabilities: FamilyCapabilities = [.drawsImages, .samplers, .inpainting]
    public static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr]
    public static func makeTask(_ configuration: DDPMConfiguration) -> DDPM { DDPM(configuration) }
    public static func pytorchModule(for configuration: DDPMConfiguration) -> PyTorchModule? { configuration.unet.classes == nil ? configuration.unet.pytorchModule : nil }
}

/// `gen train sde`: score-based models through an SDE (Song et al. 2021).
public enum ScoreSDEFamily: ModelFamily {
    public static let kind = "sde"
    public static let summary = "score-based models through the VP, sub-VP or VE SDE (Song et al. 2021), denoising score matching"
    public static let trainingDefaults = TrainingDefaults.diffusion
    public static let capabilities: FamilyCapabilities = [.drawsImages, .samplers, .inpainting]
    public static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr]
    public static func makeTask(_ configuration: ScoreSDEConfiguration) -> ScoreSDE { ScoreSDE(configuration) }
    public static func pytorchModule(for configuration: ScoreSDEConfiguration) -> PyTorchModule? { configuration.unet.classes == nil ? configuration.unet.pytorchModule : nil }
}

/// `gen train flow`: flow matching on the linear path (Lipman et al. 2023).
public enum FlowMatchingFamily: ModelFamily {
    public static let kind = "flow"
    public static let summary = "flow matching on the linear path (Lipman et al. 2023), independent or minibatch-OT coupling"
    public static let trainingDefaults = TrainingDefaults.diffusion
    public static let capabilities: FamilyCapabilities = [.drawsImages, .samplers, .inpainting]
    public static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr]
    public static func makeTask(_ configuration: FlowMatchingConfiguration) -> FlowMatching { FlowMatching(configuration) }
    public static func pytorchModule(for configuration: FlowMatchingConfiguration) -> PyTorchModule? { configuration.unet.classes == nil ? configuration.unet.pytorchModule : nil }
}

extension UNetConfiguration {
    /// The UNet in PyTorch (`PyTorch/unet.py`: `Model(x, t)` is ``UNet/callAsFunction(_:times:)``)
    /// and its keyword arguments: the configuration's fields in snake case.
    public var pytorchModule: PyTorchModule {
        PyTorchModule(source: String(decoding: PackageResources.unet_py, as: UTF8.self), arguments: [
            "image_channels": .integer(imageChannels), "base_channels": .integer(baseChannels),
            "channel_multipliers": .integers(channelMultipliers), "residual_blocks_per_level": .integer(residualBlocksPerLevel),
            "attention_resolutions": .integers(attentionResolutions), "dropout": .number(dropout), "groups": .integer(groups),
            "image_size": .integer(imageSize),
        ])
    }
}

extension DDPM {
    public var kind: String { DDPMFamily.kind }
    public var conditioning: ClassConditioning? { configuration.conditioning }

    /// To look at: ancestral sampling over 250 strided steps (at most T). For sample metrics:
    /// 50 ancestral steps (50 network evaluations): on MNIST (the README's demo run, n = 500)
    /// they gave FID 260 where 50 DDIM steps gave 402.
    public func defaultSampler(for purpose: DrawOptions.Purpose) -> (sampler: BuiltInSampler, steps: Int) {
        purpose == .display ? (.ddpm, defaultSteps(.ddpm)) : (.ddpm, 50)
    }

    /// Ancestral sampling takes at most T steps by default.
    public func defaultSteps(_ sampler: BuiltInSampler) -> Int {
        sampler == .ddpm ? min(sampler.defaultSteps, configuration.diffusionSteps) : sampler.defaultSteps
    }
}

extension ScoreSDE {
    public var kind: String { ScoreSDEFamily.kind }
    public var conditioning: ClassConditioning? { configuration.conditioning }

    /// To look at: 500 Euler–Maruyama steps of the reverse SDE. For sample metrics: 25 Heun
    /// steps of the probability-flow ODE (50 network evaluations).
    public func defaultSampler(for purpose: DrawOptions.Purpose) -> (sampler: BuiltInSampler, steps: Int) {
        purpose == .display ? (.eulerMaruyama, BuiltInSampler.eulerMaruyama.defaultSteps) : (.heun, 25)
    }
}

extension FlowMatching {
    public var kind: String { FlowMatchingFamily.kind }
    public var conditioning: ClassConditioning? { configuration.conditioning }

    /// To look at: 50 Heun steps. For sample metrics: 25 Heun steps (50 network evaluations).
    public func defaultSampler(for purpose: DrawOptions.Purpose) -> (sampler: BuiltInSampler, steps: Int) {
        (.heun, purpose == .display ? BuiltInSampler.heun.defaultSteps : 25)
    }
}
