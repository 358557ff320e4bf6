import GenCore

/// What the three diffusion families (``DDPM``, ``ScoreSDE``, ``FlowMatching``) share: a
/// ``UNet`` behind a ``Denoiser``, images in [−1, 1], and sampling with any ``Sampler``,
/// written once here.
public protocol DiffusionModel: AnyObject {
    /// The network every prediction comes from.
    var network: UNet { get }
    /// The network with its prediction type and noise process: what samplers and losses use.
    var denoiser: Denoiser { get }
    /// The process whose probability-flow ODE gives the model's likelihood (the default is
    /// ``denoiser``).
    var likelihoodDenoiser: Denoiser { get }
    /// The sampler of the preview grids during training.
    var previewSampler: any Sampler { get }
}

extension DiffusionModel {
    public var likelihoodDenoiser: Denoiser { denoiser }

    /// The module training updates: the network.
    public var model: Module { network }

    /// Diffusion models see their images in [−1, 1].
    public var pixelRange: PixelRange { .symmetric }

    /// `[channels, height, width]` of the images the network is built for.
    public var imageShape: [Int] {
        let c = network.configuration
        return [c.imageChannels, c.imageSize, c.imageSize]
    }

    /// Draws `count` images with `sampler`, starting from fresh noise.
    public func sample<S: Sampler>(count: Int, sampler: S, generator: RandomGenerator,
                                   onStep: (SamplingProgress) -> Void = { _ in }) -> Tensor {
        let noise = Tensor.randomNormal([count] + imageShape, using: generator)
        return sampler.sample(denoiser, noise: noise, generator: generator, onStep: onStep)
    }

    /// Preview grids during training: ``previewSampler``.
    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator)
    }
}
