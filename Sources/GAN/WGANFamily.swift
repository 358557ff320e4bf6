import GenCore

/// `gen train wgan`: Wasserstein GANs with a spectral-normalized critic (Miyato et al. 2018).
public enum WGANFamily: ModelFamily {
    public static let kind = "wgan"
    public static let summary = "Wasserstein GANs with a spectral-normalized critic (Miyato et al. 2018), Adam with SNGAN's betas (0, 0.9)"
    public static let trainingDefaults = TrainingDefaults(learningRate: 2e-4, warmupSteps: 0, gradientClip: nil)
    public static let capabilities: FamilyCapabilities = [.drawsImages, .interpolation]
    public static let metrics: [EvaluationMetric] = [.fid, .kid, .pr]
    public static var defaultMetrics: [EvaluationMetric] { metrics }
    /// The critic's Wasserstein estimate: the generator's loss says little of progress.
    public static var progressMetric: String { "wasserstein" }
    public static func makeTask(_ configuration: GANConfiguration) -> WGAN { WGAN(configuration) }

    /// `PyTorch/wgan.py`: `generator(z)` (the EMA weights when exported for sampling) and
    /// `critic(x)`, spectral norm from the stored u and v.
    public static func pytorchModule(for configuration: GANConfiguration) -> PyTorchModule? {
        guard configuration.classes == nil else { return nil }
        return PyTorchModule(source: String(decoding: PackageResources.wgan_py, as: UTF8.self), arguments: [
            "image_shape": .integers(configuration.imageShape), "latent": .integer(configuration.latent),
            "generator_width": .integer(configuration.generatorWidth), "critic_width": .integer(configuration.criticWidth),
            "leaky_slope": .number(configuration.leakySlope),
        ])
    }
    /// Adam with SNGAN's betas for the critic and the generator.
    public static func optimizers(for task: WGAN, learningRate: Float) -> [Optimizer] { task.optimizers(learningRate: learningRate) }
}

extension WGAN: TrainedModel {
    public var imageShape: [Int] { configuration.imageShape }

    /// The generator's images of fresh latents.
    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        try requireOnePass(options, kind: WGANFamily.kind)
        guard let classes = configuration.classes else {
            return ImageSource(sampler: "generator") { count, generator, _ in self.sample(latents: self.latents(count, generator: generator)) }
        }
        // images of no class asked for cycle through the classes
        return ImageSource(sampler: "generator", classes: classes) { count, labels, generator, _ in
            self.sample(latents: self.latents(count, generator: generator), classes: labels)
        }
    }

    public var classCount: Int? { configuration.classes }

    /// Spherical walks between random latents.
    public func interpolationGrid(rows: Int, columns: Int, generator: RandomGenerator) throws -> Tensor {
        // a conditional GAN walks each row within one class, the rows cycling through the classes
        let classes = configuration.classes.map { count in (0..<(rows * columns)).map { ($0 / columns) % count } }
        return sample(latents: interpolationLatents(rows: rows, columns: columns, generator: generator), classes: classes)
    }
}
