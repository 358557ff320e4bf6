import Foundation

/// The model families a program knows, by kind: how a run of any family is loaded, resumed
/// or evaluated from its checkpoint alone. `FamilyRegistry.builtIn` (in `GenFamilies`) lists
/// gen's own; a program may list its own families beside them.
///
/// ```swift
/// let registry = FamilyRegistry(FamilyRegistry.builtIn.families + [PixelCNNFamily.self])
/// let run = try registry.load(URL(fileURLWithPath: "runs/pixelcnn-1"))
/// ```
public struct FamilyRegistry: Sendable {
    public let families: [any ModelFamily.Type]

    public init(_ families: [any ModelFamily.Type]) {
        let kinds = families.map { $0.kind }
        require(Set(kinds).count == kinds.count, "FamilyRegistry: two families share a kind among \(kinds)")
        self.families = families
    }

    /// The kinds, in the registry's order.
    public var kinds: [String] { families.map { $0.kind } }

    /// The family of `kind`, if the registry has one.
    public func family(_ kind: String) -> (any ModelFamily.Type)? { families.first { $0.kind == kind } }

    /// The kinds of the families for which `condition` holds (for messages like "needs a vae run").
    public func kinds(where condition: (any ModelFamily.Type) -> Bool) -> [String] {
        families.filter(condition).map { $0.kind }
    }

    /// The family that wrote a run configuration (`json`, from `file`).
    public func family(ofConfiguration json: String, file: String) throws -> any ModelFamily.Type {
        let header: RunKind
        do { header = try RunKind.decode(json) } catch {
            throw GenError.badData("\(file): the run configuration is not understood: \(RunKind.describe(error))")
        }
        guard let family = family(header.kind) else {
            throw GenError.badData("\(file): a \(header.kind) run; this gen knows \(kinds.joined(separator: ", ")) runs")
        }
        return family
    }

    /// The run saved in a run folder or a checkpoint file, whatever its family: what it is and
    /// what it was trained on, before any model is built.
    public func open(_ location: URL) throws -> SavedRun {
        let url = try RunCheckpoint.locate(location)
        let checkpoint = try RunCheckpoint.read(url)
        let family = try family(ofConfiguration: checkpoint.configJSON, file: url.path)
        let header: RunKind
        do { header = try RunKind.decode(checkpoint.configJSON) } catch {
            throw GenError.badData("\(url.path): the run configuration is not understood: \(RunKind.describe(error))")
        }
        return SavedRun(family: family, checkpointURL: url, checkpoint: checkpoint, header: header)
    }

    /// The trained model of a run folder or a checkpoint file, whatever its family, in
    /// evaluation mode.
    ///
    /// ```swift
    /// let run = try FamilyRegistry.builtIn.load(URL(fileURLWithPath: "runs/flow-1"))
    /// let images = try run.model.imageSource(DrawOptions()).draw(count: 16, generator: RandomGenerator(seed: 1))
    /// ```
    public func load(_ location: URL, weights: ModelWeights = .sampling) throws -> TrainedRun {
        try open(location).load(weights: weights)
    }
}

/// A run as its checkpoint holds it: its family, what it was trained on, and its tensors.
public struct SavedRun {
    public let family: any ModelFamily.Type
    /// The checkpoint file.
    public let checkpointURL: URL
    public let checkpoint: RunCheckpoint
    /// The run's kind, data and training settings.
    public let header: RunKind

    public var kind: String { family.kind }
    /// The folder that holds the checkpoint.
    public var folder: URL { checkpointURL.deletingLastPathComponent() }

    /// Builds the run's model with `weights`, in evaluation mode.
    public func load(weights: ModelWeights = .sampling) throws -> TrainedRun {
        TrainedRun(saved: self, model: try family.loadTrainedModel(checkpoint, from: checkpointURL, weights: weights), weights: weights)
    }
}

/// A finished (or stopped) run, loaded: what it is, and its model with the chosen weights, in
/// evaluation mode.
public struct TrainedRun {
    public let saved: SavedRun
    public let model: any TrainedModel
    public let weights: ModelWeights

    public var family: any ModelFamily.Type { saved.family }
    public var kind: String { saved.kind }
    public var header: RunKind { saved.header }
    /// The folder that holds the checkpoint.
    public var folder: URL { saved.folder }
}
