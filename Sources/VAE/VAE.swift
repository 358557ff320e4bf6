import Foundation
import GenCore

/// A VAE as a run stores it.
public struct VAEConfiguration: DirectlyConditionedConfiguration {
    public enum Architecture: String, Codable, Sendable, CaseIterable { case mlp, conv }
    public enum Likelihood: String, Codable, Sendable, CaseIterable {
        /// p(x|z) = Bernoulli(sigmoid(decoder(z))) per pixel; training binarizes each batch
        /// dynamically (a pixel of intensity v is 1 with probability v).
        case bernoulli
        /// p(x|z) = N(decoder(z), σ²) per pixel, σ learned (one shared value) or fixed.
        case gaussian
    }

    /// `[channels, height, width]`.
    public var imageShape: [Int]
    public var architecture: Architecture
    public var latent: Int
    /// Width of the MLP's hidden layers (and of the conv net's dense layer).
    public var hidden: Int
    public var likelihood: Likelihood
    /// The Gaussian likelihood's fixed σ; nil learns it.
    public var fixedStd: Float?
    /// The weight of the KL term (β-VAE, Higgins et al. 2017; 1 is the ELBO).
    public var beta: Float
    /// Steps over which the KL weight rises linearly from 0 to β (0: none).
    public var klWarmup: Int
    /// The classes of a conditional VAE (Sohn et al. 2015): the label, one-hot, enters the
    /// encoder beside the image and the decoder beside the latent. nil: unconditional.
    public var classes: Int?

    /// - Parameter likelihood: nil: Bernoulli for gray images, Gaussian for colour ones (a
    ///   Bernoulli likelihood binarizes each colour channel on its own, which colour images do
    ///   not survive).
    public init(imageShape: [Int], architecture: Architecture = .mlp, latent: Int = 20, hidden: Int = 400,
                likelihood: Likelihood? = nil, fixedStd: Float? = nil, beta: Float = 1, klWarmup: Int = 0) {
        self.imageShape = imageShape
        self.architecture = architecture
        self.latent = latent
        self.hidden = hidden
        self.likelihood = likelihood ?? (imageShape.first == 1 ? .bernoulli : .gaussian)
        self.fixedStd = fixedStd
        self.beta = beta
        self.klWarmup = klWarmup
    }

    /// The `vae-mlp` benchmark model: 784-400-20, Bernoulli (652,824 parameters).
    public static let mlp = VAEConfiguration(imageShape: [1, 28, 28])

    public var dimensions: Int { imageShape.reduce(1, *) }


    /// The one-hot width the label adds to the encoder's and the decoder's inputs.
    var labelWidth: Int { classes ?? 0 }

    public func estimatedTrainingBytes(batchSize: Int) -> Double {
        let d = Double(dimensions), h = Double(hidden), z = Double(latent)
        switch architecture {
        case .mlp:
            return trainingBytes(parameters: 2 * d * h + 2 * h * z + z * h, activationsPerImage: 6 * (d + h + z), batchSize: batchSize)
        case .conv:
            let flat = 64 * d / Double(imageShape[0]) / 16, c = Double(imageShape[0])
            return trainingBytes(parameters: 2 * flat * h + 3 * h * z + 2 * 16 * (32 * c + 64 * 32),
                                 activationsPerImage: 8 * (32 * d / c / 4 + 2 * flat + h) + 6 * d, batchSize: batchSize)
        }
    }

    public func validate() throws(ConfigurationError) {
        try checkImageShape(imageShape)
        if architecture == .conv && (imageShape[1] % 4 != 0 || imageShape[2] % 4 != 0) {
            throw .data("the conv VAE halves images twice: \(imageShape[1])×\(imageShape[2]) is not a multiple of 4 (use --arch mlp)")
        }
        guard latent >= 1, hidden >= 1, beta >= 0, beta.isFinite, klWarmup >= 0, (fixedStd ?? 1) > 0, (fixedStd ?? 1).isFinite else {
            throw .settings("--latent and --hidden must be at least 1, --beta and the warm-up not negative, a fixed σ positive")
        }
        try conditioning?.validate()
    }
}

/// Anything with an encoder q(z|x) = N(mean, exp(logVariance)) and a likelihood p(x|z): what
/// the ELBO and the importance-weighted bound need.
public protocol LatentVariableModel: AnyObject {
    /// The posterior's mean and log-variance `[N, latent]` for images `[N, …]`.
    func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor)
    /// log p(x | z) per row: x `[N, …]`, z `[N, latent]`, result `[N]`.
    func logLikelihood(_ x: Tensor, given z: Tensor) -> Tensor
}

/// KL(N(mean, σ²) ‖ N(0, I)) in closed form per row (Kingma & Welling 2014, Appendix B):
/// `−½ Σ (1 + log σ² − mean² − σ²)`, `[N]`.
public func gaussianKL(mean: Tensor, logVariance: Tensor) -> Tensor {
    ((logVariance + 1) - mean.squared() - logVariance.exp()).sum(axes: [1]) * -0.5
}

/// log N(x; mean, exp(logVariance)) summed per row, `[N]`.
func diagonalGaussianLogDensity(_ x: Tensor, mean: Tensor, logVariance: Tensor) -> Tensor {
    let squares = (x - mean).squared() * (-logVariance).exp()
    return (squares + logVariance + Float(log(2 * Double.pi))).sum(axes: [1]) * -0.5
}

extension LatentVariableModel {
    /// The evidence lower bound per image, with one reparameterized sample (Kingma & Welling
    /// 2014, Eq. 10): `E_q log p(x|z) − β·KL(q ‖ p)`, and its two parts.
    public func elbo(_ x: Tensor, beta: Float = 1, generator: RandomGenerator) -> (elbo: Tensor, reconstruction: Tensor, kl: Tensor) {
        elbo(x, beta: beta) { mean in Tensor.randomNormal(mean.shape, using: generator) }
    }

    /// The same bound with the reparameterization noise ε `[N, latent]` given (z = μ + ε·σ).
    public func elbo(_ x: Tensor, beta: Float = 1, noise: Tensor) -> (elbo: Tensor, reconstruction: Tensor, kl: Tensor) {
        elbo(x, beta: beta) { _ in noise }
    }

    private func elbo(_ x: Tensor, beta: Float, noise: (Tensor) -> Tensor) -> (elbo: Tensor, reconstruction: Tensor, kl: Tensor) {
        let (mean, logVariance) = encode(x)
        let z = mean + noise(mean) * (logVariance * 0.5).exp()
        let reconstruction = logLikelihood(x, given: z)
        let kl = gaussianKL(mean: mean, logVariance: logVariance)
        return (reconstruction - kl * beta, reconstruction, kl)
    }

    /// The importance-weighted bound of Burda et al. 2016 (Eq. 8) per image, in nats:
    /// `log (1/k) Σ p(x, zᵢ)/q(zᵢ|x)`, zᵢ ~ q(z|x). At k = 1 it is the ELBO in expectation and
    /// it rises toward log p(x) as k grows. The k samples are drawn `chunk` at a time.
    public func importanceWeightedBound(_ x: Tensor, samples k: Int, chunk: Int = 500, generator: RandomGenerator) -> Tensor {
        require(k >= 1 && chunk >= 1, "importanceWeightedBound: k and chunk must be at least 1")
        return withoutGradients {
            let (means, logVariances) = encode(x)
            var bounds: [Float] = []
            for i in 0..<x.shape[0] {
                let image = x.slice(axis: 0, start: i, count: 1)
                let mean = means.slice(axis: 0, start: i, count: 1), logVariance = logVariances.slice(axis: 0, start: i, count: 1)
                var running = -Double.infinity  // log Σ wᵢ so far
                var done = 0
                while done < k {
                    let count = min(chunk, k - done)
                    let z = mean + Tensor.randomNormal([count, mean.shape[1]], using: generator) * (logVariance * 0.5).exp()
                    let repeated = image.broadcast(to: [count] + Array(image.shape.dropFirst()))
                    let prior = diagonalGaussianLogDensity(z, mean: Tensor.zeros(z.shape), logVariance: Tensor.zeros(z.shape))
                    let posterior = diagonalGaussianLogDensity(z, mean: mean, logVariance: logVariance)
                    let logWeights = logLikelihood(repeated, given: z) + prior - posterior
                    let chunkSum = Double(logWeights.logSumExp(axes: [0]).item)
                    let high = max(running, chunkSum)
                    running = high + log(exp(running - high) + exp(chunkSum - high))
                    done += count
                }
                bounds.append(Float(running - log(Double(k))))
            }
            return Tensor(bounds, shape: [x.shape[0]])
        }
    }
}

/// A variational autoencoder (Kingma & Welling 2014) with an MLP or convolutional encoder and
/// decoder. MLP parameter names follow the PyTorch twin (`fc1`, `mu`, `logvar`, `fc3`, `fc4`).
public final class VariationalAutoencoder: Module, LatentVariableModel {
    public let configuration: VAEConfiguration
    // MLP encoder / decoder
    public let fc1: Linear?
    public let fc3: Linear?
    public let fc4: Linear?
    // conv encoder / decoder
    public let conv1: Conv2d?
    public let conv2: Conv2d?
    public let encoderFC: Linear?
    public let decoderFC: Linear?
    public let up1: ConvTranspose2d?
    public let up2: ConvTranspose2d?
    // shared heads
    public let mu: Linear
    public let logvar: Linear
    /// log σ of the Gaussian likelihood, when learned.
    public let logStd: Tensor?

    public init(_ c: VAEConfiguration) {
        do { try c.validate() } catch { require(false, "VariationalAutoencoder: \(error)") }
        configuration = c
        let d = c.dimensions
        switch c.architecture {
        case .mlp:
            fc1 = Linear(d + c.labelWidth, c.hidden); fc3 = Linear(c.latent + c.labelWidth, c.hidden); fc4 = Linear(c.hidden, d)
            conv1 = nil; conv2 = nil; encoderFC = nil; decoderFC = nil; up1 = nil; up2 = nil
        case .conv:
            let flat = 64 * (c.imageShape[1] / 4) * (c.imageShape[2] / 4)
            conv1 = Conv2d(c.imageShape[0], 32, kernelSize: 4, stride: 2, padding: 1)
            conv2 = Conv2d(32, 64, kernelSize: 4, stride: 2, padding: 1)
            encoderFC = Linear(flat + c.labelWidth, c.hidden)
            decoderFC = Linear(c.latent + c.labelWidth, c.hidden)
            fc4 = Linear(c.hidden, flat)
            up1 = ConvTranspose2d(64, 32, kernelSize: 4, stride: 2, padding: 1)
            up2 = ConvTranspose2d(32, c.imageShape[0], kernelSize: 4, stride: 2, padding: 1)
            fc1 = nil; fc3 = nil
        }
        mu = Linear(c.hidden, c.latent)
        logvar = Linear(c.hidden, c.latent)
        logStd = c.likelihood == .gaussian && c.fixedStd == nil ? Tensor.zeros([1]) : nil
    }

    public func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) { encode(x, classes: nil) }

    /// q(z | x, y) of a conditional VAE (`classes`, one per image), q(z | x) of an unconditional one (nil).
    public func encode(_ x: Tensor, classes: [Int]?) -> (mean: Tensor, logVariance: Tensor) {
        let h: Tensor
        switch configuration.architecture {
        case .mlp: h = fc1!(withLabels(x.flattened(), classes)).relu()
        case .conv: h = encoderFC!(withLabels(conv2!(conv1!(x).relu()).relu().flattened(), classes)).relu()
        }
        return (mu(h), logvar(h))
    }

    public func decode(_ z: Tensor) -> Tensor { decode(z, classes: nil) }

    /// The decoder's output for latents `[N, latent]` (and, for a conditional VAE, their
    /// `classes`): Bernoulli logits or Gaussian means, as images `[N, C, H, W]`.
    public func decode(_ z: Tensor, classes: [Int]?) -> Tensor {
        let c = configuration
        switch c.architecture {
        case .mlp:
            return fc4!(fc3!(withLabels(z, classes)).relu()).reshaped([z.shape[0]] + c.imageShape)
        case .conv:
            let h = fc4!(decoderFC!(withLabels(z, classes)).relu()).relu().reshaped([z.shape[0], 64, c.imageShape[1] / 4, c.imageShape[2] / 4])
            return up2!(up1!(h).relu())
        }
    }

    /// `features` `[N, F]` with the one-hot labels appended for a conditional VAE.
    private func withLabels(_ features: Tensor, _ classes: [Int]?) -> Tensor {
        guard let count = configuration.classes else {
            require(classes == nil, "VariationalAutoencoder: classes given to an unconditional VAE")
            return features
        }
        guard let classes else { preconditionFailure("VariationalAutoencoder: a conditional VAE needs the images' classes") }
        require(classes.count == features.shape[0], "VariationalAutoencoder: \(classes.count) classes for \(features.shape[0]) images")
        return Tensor.concatenate([features, Tensor.oneHot(classes, classes: count)], axis: 1)
    }

    /// The model of a batch of images of `classes` (one per image) as a ``LatentVariableModel``:
    /// what a conditional VAE's ELBO is computed on (a batch's rows only: the
    /// importance-weighted bound, image by image, is not).
    func conditioned(on classes: [Int]?) -> LatentVariableModel {
        classes == nil ? self : ConditionedVAE(network: self, classes: classes!)
    }

    /// The likelihood's standard deviation (Gaussian only).
    public var std: Tensor { logStd.map { $0.exp() } ?? Tensor(configuration.fixedStd ?? 1) }

    public func logLikelihood(_ x: Tensor, given z: Tensor) -> Tensor { logLikelihood(x, given: z, classes: nil) }

    /// log p(x | z, y) per row (`classes` nil: log p(x | z)).
    public func logLikelihood(_ x: Tensor, given z: Tensor, classes: [Int]?) -> Tensor {
        let output = decode(z, classes: classes)
        let images = x.reshaped(output.shape)
        switch configuration.likelihood {
        case .bernoulli:
            // x·log σ(l) + (1 − x)·log(1 − σ(l)) = x·l − softplus(l)
            return (images * output - output.softplus()).flattened().sum(axes: [1])
        case .gaussian:
            let logSigma = logStd ?? Tensor(Float(log(Double(configuration.fixedStd!))))
            let squares = (images - output).squared() * (logSigma * -2).exp()
            return (squares * -0.5 - logSigma - Float(0.5 * log(2 * Double.pi))).flattened().sum(axes: [1])
        }
    }

    /// The mean image of p(x|z) (of p(x|z, y) for `classes`): sigmoid of the logits, or the
    /// Gaussian mean clamped to [0, 1].
    public func meanImage(_ z: Tensor, classes: [Int]? = nil) -> Tensor {
        let output = decode(z, classes: classes)
        return configuration.likelihood == .bernoulli ? output.sigmoid() : output.clamped(0, 1)
    }
}

/// A conditional VAE with its images' classes fixed: q(z | x, y) and p(x | z, y).
final class ConditionedVAE: LatentVariableModel {
    let network: VariationalAutoencoder
    let classes: [Int]

    init(network: VariationalAutoencoder, classes: [Int]) {
        self.network = network
        self.classes = classes
    }

    func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) { network.encode(x, classes: classes) }
    func logLikelihood(_ x: Tensor, given z: Tensor) -> Tensor {
        require(z.shape[0] == classes.count, "ConditionedVAE: \(z.shape[0]) latents for \(classes.count) classes")
        return network.logLikelihood(x, given: z, classes: classes)
    }
}

/// A VAE as a ``TrainingTask``: the loss is the negative ELBO per image in nats (with the KL
/// weight of β and its warm-up), on dynamically binarized batches for the Bernoulli likelihood.
public final class VAE: SingleLossTask {
    public let configuration: VAEConfiguration
    public let network: VariationalAutoencoder
    /// The KL weight of the current step (β after the warm-up).
    public private(set) var klWeight: Float

    public init(_ configuration: VAEConfiguration) {
        self.configuration = configuration
        network = VariationalAutoencoder(configuration)
        klWeight = configuration.klWarmup > 0 ? 0 : configuration.beta
    }

    public var model: Module { network }
    public var pixelRange: PixelRange { .unit }

    public func willTrain(step: Int) {
        let warmup = configuration.klWarmup
        klWeight = warmup > 0 ? configuration.beta * min(1, Float(step) / Float(warmup)) : configuration.beta
    }

    /// Dynamic binarization (Salakhutdinov & Murray 2008): each pixel is 1 with probability its intensity.
    public static func binarize(_ images: Tensor, generator: RandomGenerator) -> Tensor {
        Tensor.randomUniform(images.shape, using: generator).less(images)
    }

    /// What the likelihood sees of images in [0, 1].
    public func prepare(_ images: Tensor, generator: RandomGenerator) -> Tensor {
        configuration.likelihood == .bernoulli ? Self.binarize(images, generator: generator) : images
    }

    public func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        let x = prepare(batch.images, generator: generator)
        if configuration.classes != nil && batch.labels == nil { preconditionFailure("VAE: a conditional VAE trains on batches with labels") }
        return -network.conditioned(on: configuration.classes == nil ? nil : batch.labels).elbo(x, beta: klWeight, generator: generator).elbo.mean()
    }

    /// Prior samples in [0, 1]; a conditional VAE's cycle through its classes.
    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        samples(count: count, classes: configuration.classes.map { ClassSelection.spread.labels(count: count, classes: $0) }, generator: generator)
    }

    /// Prior samples in [0, 1] of `classes` (one per image; nil for an unconditional VAE).
    public func samples(count: Int, classes: [Int]?, generator: RandomGenerator) -> Tensor {
        withoutGradients { network.meanImage(Tensor.randomNormal([count, configuration.latent], using: generator), classes: classes) }
    }

    /// Inputs and their reconstructions (the decoder's mean at the posterior mean), row by row
    /// in pairs: `[2·rows·columns, C, H, W]` for `rows·columns` images.
    public func reconstructions(_ images: Tensor, columns: Int) -> Tensor {
        withoutGradients {
            let reconstructed = images.mapBatches(256) { network.meanImage(network.encode($0).mean) }
            var parts: [Tensor] = []
            for start in stride(from: 0, to: images.shape[0], by: columns) {
                let count = min(columns, images.shape[0] - start)
                parts.append(images.slice(axis: 0, start: start, count: count))
                parts.append(reconstructed.slice(axis: 0, start: start, count: count))
            }
            return Tensor.concatenate(parts, axis: 0)
        }
    }

    /// Decoded walks between pairs of random prior latents, `columns` points per row, linear
    /// in z: `[rows·columns, C, H, W]`.
    public func interpolations(rows: Int, columns: Int, generator: RandomGenerator) -> Tensor {
        require(rows >= 1 && columns >= 2, "interpolations: need at least one row and two columns")
        var latents: [Tensor] = []
        for _ in 0..<rows {
            let a = Tensor.randomNormal([1, configuration.latent], using: generator), b = Tensor.randomNormal([1, configuration.latent], using: generator)
            for j in 0..<columns {
                let t = Float(j) / Float(columns - 1)
                latents.append(a * (1 - t) + b * t)
            }
        }
        // a conditional VAE walks each row within one class, the rows cycling through the classes
        let classes = configuration.classes.map { count in (0..<(rows * columns)).map { ($0 / columns) % count } }
        let all = Tensor.concatenate(latents, axis: 0)
        return withoutGradients {
            let parts = stride(from: 0, to: all.shape[0], by: 256).map { first -> Tensor in
                let size = min(256, all.shape[0] - first)
                return network.meanImage(all.slice(axis: 0, start: first, count: size), classes: classes.map { Array($0[first..<(first + size)]) })
            }
            return Tensor.concatenate(parts, axis: 0)
        }
    }
}
