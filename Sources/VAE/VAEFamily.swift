import Foundation
import GenCore

/// `gen train vae`: variational autoencoders (Kingma & Welling 2014).
public enum VAEFamily: ModelFamily {
    public static let kind = "vae"
    public static let summary = "variational autoencoders (Kingma & Welling 2014), MLP or convolutional, Bernoulli or Gaussian likelihood"
    public static let trainingDefaults = TrainingDefaults(learningRate: 1e-3, warmupSteps: 0, gradientClip: nil)
    public static let capabilities: FamilyCapabilities = [.drawsImages, .interpolation, .reconstruction]
    public static let metrics: [EvaluationMetric] = [.nll, .fid, .kid, .pr]
    public static func makeTask(_ configuration: VAEConfiguration) -> VAE { VAE(configuration) }

    /// `PyTorch/vae.py`: `encode`, `decode` (logits or the Gaussian mean), `forward` (the
    /// reconstruction at the posterior mean), `elbo`, `sample`.
    public static func pytorchModule(for configuration: VAEConfiguration) -> PyTorchModule? {
        guard configuration.classes == nil else { return nil }
        return PyTorchModule(source: String(decoding: PackageResources.vae_py, as: UTF8.self), arguments: [
            "image_shape": .integers(configuration.imageShape), "architecture": .text(configuration.architecture.rawValue),
            "latent": .integer(configuration.latent), "hidden": .integer(configuration.hidden),
            "likelihood": .text(configuration.likelihood.rawValue), "fixed_std": configuration.fixedStd.map { .number($0) } ?? .none,
            "beta": .number(configuration.beta),
        ])
    }
}

/// The importance-weighted bound of a VAE's log-likelihood (Burda et al. 2016), and how the
/// test images are prepared for it.
public struct ImportanceWeightedEstimator: LikelihoodMethod {
    /// How a Bernoulli likelihood's test images are binarized.
    public enum Binarization: String, Sendable, CaseIterable {
        /// One seeded draw per pixel, as training binarizes (dynamic binarization).
        case sample
        /// At 0.5.
        case threshold
    }

    /// Importance samples per image.
    public var samples: Int
    public var binarization: Binarization

    public init(samples: Int = 5000, binarization: Binarization = .sample) {
        require(samples >= 1, "ImportanceWeightedEstimator: needs at least one sample")
        self.samples = samples
        self.binarization = binarization
    }

    public var options: String { "--k and --binarization" }
}

extension VAE: TrainedModel {
    public var imageShape: [Int] { configuration.imageShape }

    /// Prior samples, drawn in one pass: the decoder's means at z ~ N(0, I).
    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        try requireOnePass(options, kind: VAEFamily.kind)
        guard let classes = configuration.classes else {
            return ImageSource(sampler: "prior, decoder means") { count, generator, _ in self.samples(count: count, generator: generator) * 2 - 1 }
        }
        // images of no class asked for cycle through the classes
        return ImageSource(sampler: "prior, decoder means", classes: classes) { count, labels, generator, _ in
            self.samples(count: count, classes: labels ?? ClassSelection.spread.labels(count: count, classes: classes), generator: generator) * 2 - 1
        }
    }

    public var classCount: Int? { configuration.classes }

    public func interpolationGrid(rows: Int, columns: Int, generator: RandomGenerator) throws -> Tensor {
        interpolations(rows: rows, columns: columns, generator: generator) * 2 - 1
    }

    /// The inputs, as the likelihood sees them (binarized for Bernoulli), beside their
    /// reconstructions.
    public func reconstructionGrid(of images: Tensor, columns: Int, generator: RandomGenerator) throws -> Tensor {
        if configuration.classes != nil { throw GenError.usage("--reconstruct: a conditional VAE encodes an image with its label, and --reconstruct reads none") }
        return reconstructions(prepare(images, generator: generator), columns: columns) * 2 - 1
    }

    /// The importance-weighted bound in nats per image (default k = 5,000, dynamic
    /// binarization), and in bits/dim: per binary pixel for Bernoulli, of the 8-bit data
    /// (uniformly dequantized into [0, 1)) for Gaussian.
    public func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer {
        if configuration.classes != nil {
            throw GenError.usage("--metric nll: a conditional VAE's bound is of log p(x | y); gen eval scores unlabelled log p(x), which this model does not give")
        }
        var estimator = ImportanceWeightedEstimator()
        if let method = options.method {
            guard let given = method as? ImportanceWeightedEstimator else { throw GenError.usage("\(method.options) do not fit a vae run") }
            estimator = given
        }
        let bernoulli = configuration.likelihood == .bernoulli
        let treatment = bernoulli
            ? (estimator.binarization == .sample ? "dynamically binarized (one seeded draw per image)" : "binarized at 0.5")
            : "uniformly dequantized 8-bit values in [0, 1)"
        let fields: ResultFields = [
            ("k", .integer(estimator.samples)), ("likelihood", .text(configuration.likelihood.rawValue)),
            ("data_treatment", .text(bernoulli ? (estimator.binarization == .sample ? "dynamic binarization" : "threshold 0.5") : "uniform dequantization")),
        ]
        let dimensions = configuration.dimensions
        return LikelihoodScorer(
            metric: .nll, summary: "IWAE bound with k = \(estimator.samples) (\(configuration.likelihood.rawValue)), test images \(treatment)",
            fields: fields,
            bitsPerDimension: { nats in EightBitData.bitsPerDimension(logDensity: -nats, dimensions: dimensions, valuesIn: bernoulli ? nil : .unit) }
        ) { pixels, generator in
            let x: Tensor
            if bernoulli {
                let unit = pixels / 255
                x = estimator.binarization == .sample ? VAE.binarize(unit, generator: generator) : unit.greater(0.5)
            } else {
                x = EightBitData.dequantize(pixels: pixels, into: .unit, generator: generator)
            }
            let bounds = self.network.importanceWeightedBound(x, samples: estimator.samples, generator: generator)
            return (bounds.scalars.map { -Double($0) }, 0)
        }
    }
}
