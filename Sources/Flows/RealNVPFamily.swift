import Foundation
import GenCore

/// `gen train realnvp`: RealNVP normalizing flows (Dinh et al. 2017).
public enum RealNVPFamily: ModelFamily {
    public static let kind = "realnvp"
    public static let summary = "RealNVP normalizing flows (Dinh et al. 2017), multi-scale affine couplings, exact likelihood"
    public static let trainingDefaults = TrainingDefaults(learningRate: 1e-3, warmupSteps: 100, gradientClip: 100)
    public static let capabilities: FamilyCapabilities = [.drawsImages, .temperature]
    public static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr]
    public static func makeTask(_ configuration: RealNVPConfiguration) -> RealNVP { RealNVP(configuration) }

    /// `PyTorch/realnvp.py`: `log_prob` in logit space (``RealNVPFlow/logDensity(_:)``),
    /// `inverse`, `bits_per_dim` of 8-bit pixels, `sample`.
    public static func pytorchModule(for configuration: RealNVPConfiguration) -> PyTorchModule? {
        PyTorchModule(source: String(decoding: PackageResources.realnvp_py, as: UTF8.self), arguments: [
            "image_shape": .integers(configuration.imageShape), "scales": .integer(configuration.scales),
            "couplings": .integer(configuration.couplings), "final_couplings": .integer(configuration.finalCouplings),
            "hidden": .integer(configuration.hidden), "residual_blocks": .integer(configuration.residualBlocks),
            "normalization": .text(configuration.normalization.rawValue), "alpha": .number(configuration.alpha),
        ])
    }
}

extension RealNVP: TrainedModel {
    public var imageShape: [Int] { configuration.imageShape }

    /// Draws in one pass from latents at the temperature `options` gives (default 1).
    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        try requireOnePass(options, kind: RealNVPFamily.kind, temperature: true)
        let temperature = options.temperature ?? 1
        return ImageSource(sampler: "temperature \(temperature)") { count, generator, _ in
            self.sample(count: count, temperature: temperature, generator: generator) * 2 - 1
        }
    }

    /// The exact bits/dim of the 8-bit data (uniform dequantization counted as a bijector).
    public func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer {
        try requireNoLikelihoodMethod(options, kind: RealNVPFamily.kind)
        return LikelihoodScorer(metric: .bpd, summary: "exact bits/dim by the change of variables (uniform dequantization, logit α = \(configuration.alpha))",
                                fields: [("dequantization", .text("uniform"))]) { pixels, generator in
            (self.bitsPerDimension(pixels: pixels, generator: generator).scalars.map(Double.init), 0)
        }
    }
}
