import GenCore

/// What the three diffusion configurations share about class conditioning: the UNet carries
/// the classes (its class embedding), the configuration the label dropout of training.
public protocol ConditionalUNetConfiguration: ModelConfiguration {
    var unet: UNetConfiguration { get set }
    /// The probability a training label is dropped to the null class (nil: 0.1 when conditional).
    var classDropout: Double? { get set }
}

extension ConditionalUNetConfiguration {
    /// The label dropout when none is given: Ho & Salimans 2022 found 0.1 to 0.2 best.
    public static var defaultClassDropout: Double { 0.1 }

    public var conditioning: ClassConditioning? {
        unet.classes.map { ClassConditioning(classes: $0, dropout: classDropout ?? Self.defaultClassDropout) }
    }

    public func conditioned(_ conditioning: ClassConditioning) throws(ConfigurationError) -> Self {
        try conditioning.validate()
        var copy = self
        copy.unet.classes = conditioning.classes
        copy.classDropout = conditioning.dropout ?? Self.defaultClassDropout
        return copy
    }

    /// Throws when the label dropout is impossible or set without classes.
    func validateConditioning() throws(ConfigurationError) {
        if classDropout != nil && unet.classes == nil { throw .settings("--class-dropout is for conditional runs (--conditional)") }
        try conditioning?.validate()
    }
}

extension DiffusionModel {
    /// The labels of a training batch for the network: nil for an unconditional model; for a
    /// conditional one the batch's labels, each dropped to the null class with the
    /// configuration's probability (one uniform draw each, before the loss's own draws).
    func trainingLabels(_ batch: Batch, generator: RandomGenerator) -> [Int]? {
        guard let conditioning else { return nil }
        guard let labels = batch.labels else { preconditionFailure("\(kind): a class-conditional model trains on batches with labels") }
        return droppingLabels(labels, classes: conditioning.classes, dropout: conditioning.dropout ?? 0, generator: generator)
    }
}
