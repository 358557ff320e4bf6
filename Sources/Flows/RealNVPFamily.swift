import Foundation
import GenCore

/// `gen train realnvp`: RealNVP normalizing flows (Dinh et al. 2017).
public enum RealNVPFamily: ModelFamily {
    public static let kind = "realnvp"
    public static let summary = "RealNVP normalizing flows (Dinh et al. 2017), multi-scale affine couplings, exact likelihood"
    public static let trainingDefaults = TrainingDefaults(learningRate: 1e-3, warmupSteps: 100, gradientClip: 100)
    public static let capabilities: FamilyCapabilities = [.drawsImages, .temperature]
    /// `accuracy`: a class-conditional flow's Bayes-rule classifier on labelled images.
    public static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr, .accuracy]
    public static func makeTask(_ configuration: RealNVPConfiguration) -> RealNVP { RealNVP(configuration) }

    /// `PyTorch/realnvp.py`: `log_prob` in logit space (``RealNVPFlow/logDensity(_:)``),
    /// `inverse`, `bits_per_dim` of 8-bit pixels, `sample`.
    public static func pytorchModule(for configuration: RealNVPConfiguration) -> PyTorchModule? {
        guard configuration.classes == nil else { return nil }
        return PyTorchModule(source: String(decoding: PackageResources.realnvp_py, as: UTF8.self), arguments: [
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
        guard let classes = configuration.classes else {
            return ImageSource(sampler: "temperature \(temperature)") { count, generator, _ in
                self.sample(count: count, temperature: temperature, generator: generator) * 2 - 1
            }
        }
        // images of no class asked for cycle through the classes
        return ImageSource(sampler: "temperature \(temperature)", classes: classes) { count, labels, generator, _ in
            self.sample(count: count, temperature: temperature, classes: labels, generator: generator) * 2 - 1
        }
    }

    public var classCount: Int? { configuration.classes }

    /// The exact bits/dim of the 8-bit data (uniform dequantization counted as a bijector).
    public func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer {
        try requireNoLikelihoodMethod(options, kind: RealNVPFamily.kind)
        return LikelihoodScorer(metric: .bpd, summary: "exact bits/dim by the change of variables (uniform dequantization, logit α = \(configuration.alpha))",
                                fields: [("dequantization", .text("uniform"))]) { pixels, generator in
            (self.bitsPerDimension(pixels: pixels, generator: generator).scalars.map(Double.init), 0)
        }
    }
}

extension RealNVP: ImageClassifier {
    /// The Bayes-rule classifier's accuracy (``predictions(_:)``) on `rows` of `data`, read 256 at a time.
    public func requireClasses() throws {
        guard configuration.classes != nil else {
            throw GenError.usage("--metric accuracy: an unconditional realnvp run classifies nothing; train one with --conditional")
        }
    }

    public func accuracy(on data: HDF5Dataset, rows: [Int]) throws -> Double {
        try requireClasses()
        var correct = 0
        for start in stride(from: 0, to: rows.count, by: 256) {
            let batch = Array(rows[start..<min(rows.count, start + 256)])
            guard let labels = try data.labels(at: batch) else {
                throw GenError.badData("\(data.path): no labels beside the images to score accuracy against")
            }
            correct += zip(predictions(try data.images(at: batch, scaledTo: .unit)), labels).filter { $0 == $1 }.count
        }
        return Double(correct) / Double(rows.count)
    }
}
