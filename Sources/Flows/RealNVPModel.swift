import Foundation
import GenCore

/// RealNVP on 8-bit images as a ``TrainingTask``: pixels → ``Dequantize`` → ``Logit`` →
/// ``RealNVPFlow`` → N(0, I). The loss is the negative log-likelihood in bits per dimension,
/// with every change of variables counted (so it is the bits/dim of the 8-bit data, an upper
/// bound through the dequantization).
public final class RealNVP: SingleLossTask {
    public let configuration: RealNVPConfiguration
    public let flow: RealNVPFlow
    public let logit: Logit
    /// The temperature of the preview grids.
    public var previewTemperature: Float = 0.8

    public init(_ configuration: RealNVPConfiguration) {
        self.configuration = configuration
        flow = RealNVPFlow(configuration)
        logit = Logit(alpha: configuration.alpha)
    }

    public var model: Module { flow }
    public var pixelRange: PixelRange { .unit }
    public var dimensions: Int { configuration.imageShape.reduce(1, *) }

    /// Bits per dimension of each image of 8-bit `pixels` (values 0…255), dequantized with
    /// `generator`: `[N]`.
    public func bitsPerDimension(pixels: Tensor, generator: RandomGenerator) -> Tensor {
        let (u, dequantization) = Dequantize(generator: generator).forward(pixels)
        let (x, logitTerm) = logit.forward(u)
        let logProbability = flow.logDensity(x) + logitTerm + dequantization
        return EightBitData.bitsPerDimension(logDensity: logProbability, dimensions: dimensions, valuesIn: nil)
    }

    /// Training batches arrive in [0, 1]; the model wants the 8-bit values back.
    static func pixels(_ images: Tensor) -> Tensor {
        Tensor(images.scalars.map { ($0 * 255).rounded() }, shape: images.shape)
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        bitsPerDimension(pixels: Self.pixels(batch.images), generator: generator).mean()
    }

    /// Images in [0, 1] from latents drawn at `temperature` (z ~ N(0, T²·I)).
    public func sample(count: Int, temperature: Float = 1, generator: RandomGenerator) -> Tensor {
        withoutGradients {
            let z = Tensor.randomNormal([count, dimensions], using: generator) * temperature
            let x = flow.inverse(z).x
            return logit.inverse(x).x.clamped(0, 1)
        }
    }

    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, temperature: previewTemperature, generator: generator)
    }
}
