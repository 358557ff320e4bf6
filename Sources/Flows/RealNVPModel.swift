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
    /// A class-conditional flow scores log p(x | y) for `classes`, or without them the marginal
    /// log p(x) under uniform classes.
    public func bitsPerDimension(pixels: Tensor, generator: RandomGenerator, classes: [Int]? = nil) -> Tensor {
        let (u, dequantization) = Dequantize(generator: generator).forward(pixels)
        let (x, logitTerm) = logit.forward(u)
        let logProbability = flow.logDensity(x, classes: classes) + logitTerm + dequantization
        return EightBitData.bitsPerDimension(logDensity: logProbability, dimensions: dimensions, valuesIn: nil)
    }

    /// Training batches arrive in [0, 1]; the model wants the 8-bit values back.
    static func pixels(_ images: Tensor) -> Tensor {
        Tensor(images.scalars.map { ($0 * 255).rounded() }, shape: images.shape)
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        if configuration.classes != nil && batch.labels == nil { preconditionFailure("RealNVP: a class-conditional flow trains on batches with labels") }
        return bitsPerDimension(pixels: Self.pixels(batch.images), generator: generator, classes: configuration.classes == nil ? nil : batch.labels).mean()
    }

    /// Images in [0, 1] from latents drawn at `temperature` (z ~ N(0, T²·I); for a
    /// class-conditional flow z ~ N(μ_y, T²·σ_y²) of `classes`, one per image).
    public func sample(count: Int, temperature: Float = 1, classes: [Int]? = nil, generator: RandomGenerator) -> Tensor {
        withoutGradients {
            var z = Tensor.randomNormal([count, dimensions], using: generator) * temperature
            if let (means, logStds) = flow.classBase {
                let labels = classes ?? ClassSelection.spread.labels(count: count, classes: means.shape[0])
                require(labels.count == count, "RealNVP.sample: \(labels.count) classes for \(count) images")
                z = means.gathering(rows: labels) + z * logStds.gathering(rows: labels).exp()
            } else {
                require(classes == nil, "RealNVP.sample: classes given to an unconditional flow")
            }
            let x = flow.inverse(z).x
            return logit.inverse(x).x.clamped(0, 1)
        }
    }

    /// Preview grids; a class-conditional flow's cycle through its classes.
    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, temperature: previewTemperature, generator: generator)
    }

    /// The Bayes-rule classes of images in [0, 1] (`[N, C, H, W]`) under a class-conditional
    /// flow with uniform class priors: argmax_y log p(x | y). The change of variables is the
    /// same for every class, so only the base densities of z = f(x) are compared; pixels are
    /// taken at their bin centres (no dequantization noise).
    public func predictions(_ images: Tensor) -> [Int] {
        guard let classes = configuration.classes else { preconditionFailure("RealNVP.predictions: the flow is not class-conditional") }
        return withoutGradients {
            let centres = (Self.pixels(images) + 0.5) / 256
            let (z, _) = flow.forward(logit.forward(centres).y)
            let scores = flow.classLogDensities(z).scalars
            return (0..<images.shape[0]).map { row in
                let slice = scores[(row * classes)..<((row + 1) * classes)]
                return slice.indices.max { slice[$0] < slice[$1] }! - row * classes
            }
        }
    }
}
