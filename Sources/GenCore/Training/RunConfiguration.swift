import Foundation

/// The data a run trains on.
public struct DataSource: Codable, Sendable, Equatable {
    /// The HDF5 file.
    public var path: String
    /// The image dataset within it.
    public var dataset: String
    /// `[channels, height, width]` of one image.
    public var imageShape: [Int]
    /// The range the model sees its pixels in.
    public var pixelRange: PixelRange
    /// The fraction of the images held out from training (``BatchLoader/split(count:testFraction:seed:)``
    /// with the run's seed), for evaluation on unseen images; nil or 0: none.
    public var holdout: Double?
    /// The labels dataset a class-conditional run reads beside the images; nil: none read.
    public var labels: String?

    public init(path: String, dataset: String, imageShape: [Int], pixelRange: PixelRange, holdout: Double? = nil, labels: String? = nil) {
        self.labels = labels
        self.path = path
        self.dataset = dataset
        self.imageShape = imageShape
        self.pixelRange = pixelRange
        self.holdout = holdout
    }
}

/// Everything that defines a run, saved as `config.json` in the run folder and in every
/// checkpoint: the model kind and its configuration, the training settings, and the data.
public struct RunConfiguration<Model: Codable & Sendable>: Codable, Sendable {
    /// The model family: `ddpm`, `sde`, `flow`, `vae`, `realnvp`, `wgan`.
    public var kind: String
    public var model: Model
    public var training: TrainerConfiguration
    public var data: DataSource

    public init(kind: String, model: Model, training: TrainerConfiguration, data: DataSource) {
        self.kind = kind
        self.model = model
        self.training = training
        self.data = data
    }

    /// Pretty JSON with sorted keys.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> RunConfiguration {
        try JSONDecoder().decode(RunConfiguration.self, from: Data(json.utf8))
    }
}

/// The part of a run configuration every kind shares, for finding out which kind a run is.
public struct RunKind: Codable, Sendable {
    public var kind: String
    public var data: DataSource
    public var training: TrainerConfiguration

    public static func decode(_ json: String) throws -> RunKind {
        try JSONDecoder().decode(RunKind.self, from: Data(json.utf8))
    }

    /// A decoding error in a few words: what is wrong, and where (`model.unet.groups: missing`).
    public static func describe(_ error: Error) -> String {
        func path(_ codingPath: [CodingKey]) -> String {
            codingPath.isEmpty ? "the top level" : codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(_, let context)?: return "\(path(context.codingPath)): \(context.debugDescription)"
        case .valueNotFound(_, let context)?: return "\(path(context.codingPath)): missing value"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
