import Foundation
import GenCore

/// The adversarial loss.
public enum GANLoss: String, Codable, Sendable, CaseIterable {
    /// Wasserstein (Arjovsky et al. 2017): the critic maximizes E D(real) − E D(fake); the
    /// Lipschitz constraint comes from spectral normalization.
    case wasserstein
    /// Hinge (Lim & Ye 2017; Miyato et al. 2018): E max(0, 1 − D(real)) + E max(0, 1 + D(fake))
    /// for the critic, −E D(fake) for the generator.
    case hinge

    /// The critic's loss from its scores on real and fake samples (`[N, 1]` each).
    public func criticLoss(realScores: Tensor, fakeScores: Tensor) -> Tensor {
        switch self {
        case .wasserstein: return fakeScores.mean() - realScores.mean()
        case .hinge: return (1 - realScores).relu().mean() + (1 + fakeScores).relu().mean()
        }
    }

    /// The generator's loss from the critic's scores on its samples: −E D(G(z)) for both.
    public func generatorLoss(fakeScores: Tensor) -> Tensor { -fakeScores.mean() }
}

/// A WGAN as a run stores it.
public struct GANConfiguration: DirectlyConditionedConfiguration {
    /// `[channels, height, width]`; height and width must be multiples of 4.
    public var imageShape: [Int]
    /// The dimension of the latent vector z ~ N(0, I).
    public var latent: Int
    /// The generator's channels before its last layer (twice that after its linear layer).
    public var generatorWidth: Int
    /// The critic's first convolution's channels (twice that in the second).
    public var criticWidth: Int
    public var loss: GANLoss
    /// Critic updates per generator update (n_critic).
    public var criticSteps: Int
    /// The critic's LeakyReLU slope.
    public var leakySlope: Float
    /// The classes of a conditional GAN: the one-hot class beside z at the generator's input
    /// and conditional batch norm (a learned gain and bias per class), and a projection critic (Miyato & Koyama 2018), its class
    /// embedding spectrally normalized like the rest. nil: unconditional.
    public var classes: Int?
    /// The critic's learning rate over the generator's: two time-scale updates (Heusel et al.
    /// 2017, TTUR; SAGAN uses 4). nil: one rate for both.
    public var criticLearningRateScale: Float?

    public init(imageShape: [Int], latent: Int = 64, generatorWidth: Int = 64, criticWidth: Int = 64,
                loss: GANLoss = .wasserstein, criticSteps: Int = 5, leakySlope: Float = 0.1, criticLearningRateScale: Float? = nil) {
        self.criticLearningRateScale = criticLearningRateScale
        self.imageShape = imageShape
        self.latent = latent
        self.generatorWidth = generatorWidth
        self.criticWidth = criticWidth
        self.loss = loss
        self.criticSteps = criticSteps
        self.leakySlope = leakySlope
    }

    /// The `wgan-sn-dcgan` benchmark model of BENCHMARKS.md on 1×28×28 (678,530 parameters),
    /// with one critic update per generator update as the benchmark times it.
    public static let dcgan = GANConfiguration(imageShape: [1, 28, 28], criticSteps: 1)

    public func estimatedTrainingBytes(batchSize: Int) -> Double {
        let g = Double(generatorWidth), d = Double(criticWidth), c = Double(imageShape[0])
        let quarter = Double(imageShape[1] * imageShape[2]) / 16
        let parameters = Double(latent) * 2 * g * quarter + 16 * 2 * g * g + 16 * g * c + 16 * c * d + 16 * d * 2 * d + 2 * d * quarter
        return trainingBytes(parameters: parameters, activationsPerImage: 20 * (2 * g * quarter + 4 * g * quarter + 4 * d * quarter + 2 * d * quarter + 4 * c * quarter),
                             batchSize: batchSize)
    }

    public func validate() throws(ConfigurationError) {
        try checkImageShape(imageShape)
        guard imageShape[1] % 4 == 0, imageShape[2] % 4 == 0 else {
            throw .data("images of \(imageShape[1])×\(imageShape[2]) cannot be halved twice (height and width must be multiples of 4)")
        }
        guard latent >= 1, generatorWidth >= 1, criticWidth >= 1, criticSteps >= 1 else {
            throw .settings("the latent size, the widths and the critic steps must be at least 1")
        }
        guard leakySlope.isFinite else { throw .settings("the critic's LeakyReLU slope must be finite") }
        if let scale = criticLearningRateScale, !(scale > 0 && scale.isFinite) { throw .settings("--critic-lr-scale must be positive, got \(scale)") }
        try conditioning?.validate()
    }
}

/// The DCGAN-style generator (Radford et al. 2016) of the benchmark twin: z → linear → ReLU →
/// `[2w, H/4, W/4]` → transposed conv (4, stride 2) → batch norm → ReLU → transposed conv
/// (4, stride 2) → tanh, images in [−1, 1].
public final class Generator: Module {
    public let fc: Linear
    public let up1: ConvTranspose2d
    public let norm: BatchNorm2d
    public let up2: ConvTranspose2d
    /// Conditional batch norm's per-class gain and bias `[classes, width]` (zero at first: the
    /// plain batch norm), applied as `h·(1 + gain_y) + bias_y` after the normalization.
    public let classGains: Tensor?
    public let classBiases: Tensor?
    let base: [Int]

    public init(_ c: GANConfiguration) {
        do { try c.validate() } catch { require(false, "Generator: \(error)") }
        base = [2 * c.generatorWidth, c.imageShape[1] / 4, c.imageShape[2] / 4]
        // a conditional generator also sees its class beside z (as BigGAN's shared class embedding)
        fc = Linear(c.latent + (c.classes ?? 0), base.reduce(1, *))
        up1 = ConvTranspose2d(2 * c.generatorWidth, c.generatorWidth, kernelSize: 4, stride: 2, padding: 1)
        norm = BatchNorm2d(c.generatorWidth)
        up2 = ConvTranspose2d(c.generatorWidth, c.imageShape[0], kernelSize: 4, stride: 2, padding: 1)
        classGains = c.classes.map { Tensor.zeros([$0, c.generatorWidth]) }
        classBiases = c.classes.map { Tensor.zeros([$0, c.generatorWidth]) }
    }

    /// - Parameters:
    ///   - z: `[N, latent]`
    ///   - classes: a conditional generator's classes, one per image (nil for an unconditional one)
    /// - Returns: images `[N, C, H, W]` in [−1, 1].
    public func callAsFunction(_ z: Tensor, classes: [Int]? = nil) -> Tensor {
        guard let gains = classGains, let biases = classBiases else {
            require(classes == nil, "Generator: classes given to an unconditional generator")
            return up2(norm(up1(fc(z).relu().reshaped([z.shape[0]] + base))).relu()).tanh()
        }
        guard let classes else { preconditionFailure("Generator: a conditional generator needs the images' classes") }
        require(classes.count == z.shape[0], "Generator: \(classes.count) classes for \(z.shape[0]) latents")
        let h = fc(Tensor.concatenate([z, Tensor.oneHot(classes, classes: gains.shape[0])], axis: 1)).relu().reshaped([z.shape[0]] + base)
        var normalized = norm(up1(h))
        do {
            let shape = [z.shape[0], gains.shape[1], 1, 1]
            normalized = normalized * (gains.gathering(rows: classes).reshaped(shape) + 1) + biases.gathering(rows: classes).reshaped(shape)
        }
        return up2(normalized.relu()).tanh()
    }
}

/// The spectral-normalized critic of the benchmark twin: two convolutions (4, stride 2) with
/// LeakyReLU, then a linear layer to one score per image; every layer wrapped in ``SpectralNorm``.
public final class Critic: Module {
    public let conv1: SpectralNorm
    public let conv2: SpectralNorm
    public let fc: SpectralNorm
    /// The projection critic's class embedding (a bias-free linear map of the one-hot label to
    /// the features, spectrally normalized): D(x, y) = fc(φ(x)) + ⟨embed(y), φ(x)⟩.
    public let embed: SpectralNorm?
    let slope: Float
    let classes: Int?

    public init(_ c: GANConfiguration) {
        do { try c.validate() } catch { require(false, "Critic: \(error)") }
        conv1 = SpectralNorm(Conv2d(c.imageShape[0], c.criticWidth, kernelSize: 4, stride: 2, padding: 1))
        conv2 = SpectralNorm(Conv2d(c.criticWidth, 2 * c.criticWidth, kernelSize: 4, stride: 2, padding: 1))
        let features = 2 * c.criticWidth * (c.imageShape[1] / 4) * (c.imageShape[2] / 4)
        fc = SpectralNorm(Linear(features, 1))
        slope = c.leakySlope
        classes = c.classes
        embed = c.classes.map { SpectralNorm(Linear($0, features, bias: false)) }
    }

    /// - Parameters:
    ///   - images: `[N, C, H, W]`
    ///   - classes: a projection critic's classes, one per image (nil for an unconditional critic)
    /// - Returns: scores `[N, 1]`.
    public func callAsFunction(_ images: Tensor, classes labels: [Int]? = nil) -> Tensor {
        let h = conv2(conv1(images).leakyReLU(slope: slope)).leakyReLU(slope: slope).flattened()
        guard let embed, let classes else {
            require(labels == nil, "Critic: classes given to an unconditional critic")
            return fc(h)
        }
        guard let labels else { preconditionFailure("Critic: a projection critic needs the images' classes") }
        let projection = (embed(Tensor.oneHot(labels, classes: classes)) * h).sum(axes: [1]).reshaped([h.shape[0], 1])
        return fc(h) + projection
    }
}

/// The generator and the critic together: what a checkpoint holds (`generator.*`, `critic.*`,
/// the critic's u and v vectors among them).
public final class GANPair: Module {
    public let generator: Generator
    public let critic: Critic

    public init(_ c: GANConfiguration) {
        generator = Generator(c)
        critic = Critic(c)
    }
}

/// A Wasserstein GAN with a spectral-normalized critic (Miyato et al. 2018), trained by the
/// ``Trainer`` in two phases: `criticSteps` critic updates on fresh real batches, then one
/// generator update. Use Adam with SNGAN's lr 2e-4, betas (0, 0.9)
/// (``WGAN/optimizers(learningRate:)``).
public final class WGAN: TrainingTask {
    public let configuration: GANConfiguration
    public let pair: GANPair
    public var generator: Generator { pair.generator }
    public var critic: Critic { pair.critic }

    public init(_ configuration: GANConfiguration) {
        self.configuration = configuration
        pair = GANPair(configuration)
    }

    public var model: Module { pair }
    public var sampledModule: Module { pair.generator }
    public var pixelRange: PixelRange { .symmetric }

    /// Adam with SNGAN's defaults for the critic and the generator, in phase order.
    public func optimizers(learningRate: Float = 2e-4) -> [Optimizer] {
        [Adam(learningRate: learningRate, beta1: 0, beta2: 0.9), Adam(learningRate: learningRate, beta1: 0, beta2: 0.9)]
    }

    /// Fresh latent vectors `[count, latent]`.
    public func latents(_ count: Int, generator: RandomGenerator) -> Tensor {
        Tensor.randomNormal([count, configuration.latent], using: generator)
    }

    /// The critic's loss on real images and fakes from fresh latents (the generator is not
    /// differentiated), and the Wasserstein estimate E D(real) − E D(fake).
    /// A conditional GAN's fakes are of the real images' `classes`, and both are scored with them.
    public func criticLoss(real: Tensor, classes: [Int]? = nil, generator random: RandomGenerator) -> (loss: Tensor, wasserstein: Float) {
        let fake = withoutGradients { generator(latents(real.shape[0], generator: random), classes: classes) }
        let fakeScores = critic(fake, classes: classes), realScores = critic(real, classes: classes)
        let loss = configuration.loss.criticLoss(realScores: realScores, fakeScores: fakeScores)
        return (loss, withoutGradients { realScores.mean().item - fakeScores.mean().item })
    }

    /// The generator's loss −E D(G(z)) (both losses), differentiated through the critic.
    /// A conditional GAN's fakes are of `classes` (the last real batch's).
    public func generatorLoss(count: Int, classes: [Int]? = nil, generator random: RandomGenerator) -> Tensor {
        configuration.loss.generatorLoss(fakeScores: critic(generator(latents(count, generator: random), classes: classes), classes: classes))
    }

    /// The batch's labels for a conditional GAN, nil for an unconditional one.
    func labels(_ batch: Batch) -> [Int]? {
        guard configuration.classes != nil else { return nil }
        guard let labels = batch.labels else { preconditionFailure("WGAN: a conditional GAN trains on batches with labels") }
        return labels
    }

    /// `loss.png` and the progress line follow the critic's Wasserstein estimate.
    public var progressMetric: String { WGANFamily.progressMetric }

    /// `loss.png`: the Wasserstein estimate and both players' losses.
    public var plottedMetrics: [String] { ["wasserstein", "critic_loss", "generator_loss"] }

    public var phases: [TrainingPhase] {
        [
            TrainingPhase(name: "critic", module: pair.critic, updatesPerStep: configuration.criticSteps, usesData: true,
                          learningRateScale: configuration.criticLearningRateScale ?? 1) { [unowned self] batch, random in
                let (loss, wasserstein) = criticLoss(real: batch.images, classes: labels(batch), generator: random)
                return (loss, ["wasserstein": Double(wasserstein)])
            },
            TrainingPhase(name: "generator", module: pair.generator, usesData: false) { [unowned self] batch, random in
                (generatorLoss(count: batch.images.shape[0], classes: labels(batch), generator: random), [:])
            },
        ]
    }

    /// Preview grids; a conditional GAN's cycle through its classes.
    public func samples(count: Int, generator random: RandomGenerator) -> Tensor {
        sample(latents: latents(count, generator: random))
    }

    /// The generator's images for the given latents (of `classes`, one per latent, for a
    /// conditional GAN; nil cycles through its classes), without gradients, 256 at a time.
    public func sample(latents: Tensor, classes: [Int]? = nil) -> Tensor {
        let count = latents.shape[0]
        let labels = classes ?? configuration.classes.map { ClassSelection.spread.labels(count: count, classes: $0) }
        require(labels == nil || labels!.count == count, "WGAN.sample: \(labels?.count ?? 0) classes for \(count) latents")
        return withoutGradients {
            var parts: [Tensor] = []
            for first in stride(from: 0, to: count, by: 256) {
                let size = min(256, count - first)
                parts.append(generator(latents.slice(axis: 0, start: first, count: size), classes: labels.map { Array($0[first..<(first + size)]) }))
            }
            return Tensor.concatenate(parts, axis: 0)
        }
    }

    /// Latent walks: for each of `rows` pairs of random latents, `columns` points on the great
    /// circle between them (spherical interpolation, which keeps Gaussian latents at a typical
    /// norm; White 2016), row after row: `[rows·columns, latent]`.
    public func interpolationLatents(rows: Int, columns: Int, generator random: RandomGenerator) -> Tensor {
        require(rows >= 1 && columns >= 2, "interpolationLatents: need at least one row and two columns")
        var result: [Float] = []
        for _ in 0..<rows {
            let a = latents(1, generator: random).scalars, b = latents(1, generator: random).scalars
            let dot = zip(a, b).map { Double($0) * Double($1) }.reduce(0, +)
            let norms = (a.map { Double($0 * $0) }.reduce(0, +) * b.map { Double($0 * $0) }.reduce(0, +)).squareRoot()
            let omega = acos(max(-1, min(1, dot / norms)))
            for j in 0..<columns {
                let t = Double(j) / Double(columns - 1)
                let (wa, wb) = omega < 1e-6 ? (1 - t, t) : (sin((1 - t) * omega) / sin(omega), sin(t * omega) / sin(omega))
                result += zip(a, b).map { Float(wa * Double($0) + wb * Double($1)) }
            }
        }
        return Tensor(result, shape: [rows * columns, configuration.latent])
    }
}
