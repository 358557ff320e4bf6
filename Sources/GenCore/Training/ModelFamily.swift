import Foundation

/// A family of models `gen` trains: how its runs are named, configured, built, trained,
/// loaded and used. One conformance per family target (`DDPMFamily` in Diffusion,
/// `VAEFamily` in VAE, …); a ``FamilyRegistry`` lists them.
///
/// Adding a family is a type of its own: a ``ModelConfiguration`` that a run stores, a task
/// that trains (``TrainingTask``) and, once loaded, draws or scores (``TrainedModel``), and
/// this conformance.
///
/// ```swift
/// enum AutoregressiveFamily: ModelFamily {
///     static let kind = "pixelcnn"
///     static let summary = "PixelCNN (van den Oord et al. 2016)"
///     static let trainingDefaults = TrainingDefaults(learningRate: 1e-3)
///     static let capabilities: FamilyCapabilities = [.drawsImages]
///     static let metrics: [EvaluationMetric] = [.bpd, .fid, .kid, .pr]
///     static func makeTask(_ configuration: PixelCNNConfiguration) -> PixelCNN { PixelCNN(configuration) }
/// }
/// ```
public protocol ModelFamily: Sendable {
    /// What a run stores of the model (in `config.json` and every checkpoint).
    associatedtype Configuration: ModelConfiguration
    /// The model as it trains and, loaded from a checkpoint, as it draws and scores.
    associatedtype Task: TrainingTask & TrainedModel

    /// The name runs record and the command line takes (`gen train ddpm`).
    static var kind: String { get }
    /// One line: what the family is, with its paper.
    static var summary: String { get }
    /// The training settings where the caller gives none.
    static var trainingDefaults: TrainingDefaults { get }
    /// What a trained model of the family can do besides training.
    static var capabilities: FamilyCapabilities { get }
    /// What `gen eval` can measure of the family's runs.
    static var metrics: [EvaluationMetric] { get }
    /// What `gen eval` measures when it is not told (the default: the first of ``metrics``).
    static var defaultMetrics: [EvaluationMetric] { get }
    /// Whether training reads labels beside the images (a classifier does). Default false.
    static var needsLabels: Bool { get }
    /// The metrics-log key its runs' progress follows (their tasks'
    /// ``TrainingTask/progressMetric``), known without building a model. Default `loss`.
    static var progressMetric: String { get }

    /// The task for a validated configuration, with freshly initialized weights (drawn from
    /// ``Random/initializer``).
    static func makeTask(_ configuration: Configuration) -> Task
    /// One optimizer per phase of `task` (default: one Adam).
    static func optimizers(for task: Task, learningRate: Float) -> [Optimizer]
    /// The family's module in PyTorch with the keyword arguments for `configuration`, for
    /// ``PyTorchExport`` (default: nil, none).
    static func pytorchModule(for configuration: Configuration) -> PyTorchModule?
}

extension ModelFamily {
    public static var needsLabels: Bool { false }
    public static var progressMetric: String { "loss" }
    public static var defaultMetrics: [EvaluationMetric] { Array(metrics.prefix(1)) }
    public static func optimizers(for task: Task, learningRate: Float) -> [Optimizer] { [Adam(learningRate: learningRate)] }
    public static func pytorchModule(for configuration: Configuration) -> PyTorchModule? { nil }
}

/// A model configuration as a run stores it: Codable, and checked before anything is built
/// from it, whether it came from options or from a file.
public protocol ModelConfiguration: Codable, Sendable, Equatable {
    /// Throws when no model can be built from these values.
    func validate() throws(ConfigurationError)
    /// Roughly the bytes training takes at `batchSize` (``MemoryBudget``).
    func estimatedTrainingBytes(batchSize: Int) -> Double
    /// The classes the model is conditioned on; nil (the default) for an unconditional model.
    var conditioning: ClassConditioning? { get }
    /// The same model conditioned on class labels as `conditioning` says; the default throws:
    /// the family has no conditional form.
    func conditioned(_ conditioning: ClassConditioning) throws(ConfigurationError) -> Self
}

extension ModelConfiguration {
    public var conditioning: ClassConditioning? { nil }
    public func conditioned(_ conditioning: ClassConditioning) throws(ConfigurationError) -> Self {
        throw .settings("this model has no class-conditional form")
    }
}

/// Why no model can be built from a configuration.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public enum Cause: Sendable, Equatable {
        /// The model's own settings are impossible (a negative width, a dropout of 1.5).
        case settings
        /// The data does not fit the model (images that cannot be halved, too few classes).
        case data
    }

    public let cause: Cause
    public let message: String

    public var description: String { message }

    public static func settings(_ message: String) -> ConfigurationError { ConfigurationError(cause: .settings, message: message) }
    public static func data(_ message: String) -> ConfigurationError { ConfigurationError(cause: .data, message: message) }
}

/// What a trained model can do besides training.
public struct FamilyCapabilities: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// It draws images (a classifier does not).
    public static let drawsImages = FamilyCapabilities(rawValue: 1 << 0)
    /// It draws in steps, with a sampler chosen by ``DrawOptions/sampler``.
    public static let samplers = FamilyCapabilities(rawValue: 1 << 1)
    /// Its latent has a temperature (``DrawOptions/temperature``).
    public static let temperature = FamilyCapabilities(rawValue: 1 << 2)
    /// It walks its latent space (``TrainedModel/interpolationGrid(rows:columns:generator:)``).
    public static let interpolation = FamilyCapabilities(rawValue: 1 << 3)
    /// It reconstructs images (``TrainedModel/reconstructionGrid(of:columns:generator:)``).
    public static let reconstruction = FamilyCapabilities(rawValue: 1 << 4)
    /// It fills in masked pixels of images (``TrainedModel/inpaint(_:keep:options:generator:onStep:)``).
    public static let inpainting = FamilyCapabilities(rawValue: 1 << 5)
}

/// What `gen eval` measures.
public enum EvaluationMetric: String, Sendable, Codable, CaseIterable {
    /// Fréchet distance of classifier features (sample quality).
    case fid
    /// Kernel inception distance (sample quality).
    case kid
    /// Improved precision and recall (sample quality).
    case pr
    /// Bits per dimension of 8-bit test images.
    case bpd
    /// Negative log-likelihood in nats (a VAE's importance-weighted bound).
    case nll
    /// A classifier's accuracy on labelled images.
    case accuracy
    /// How often a classifier run tells a class-conditional model's samples as the class they
    /// were drawn for (overall and per class), with FID beside it.
    case classAccuracy = "class-accuracy"

    /// The metrics of the sample quality of any generative run.
    public static let sampleMetrics: [EvaluationMetric] = [.fid, .kid, .pr]
    /// Whether the metric is computed from drawn samples (the sample metrics and class accuracy).
    public var isSampleMetric: Bool { Self.sampleMetrics.contains(self) || self == .classAccuracy }
}

/// Which weights a loaded model uses.
public enum ModelWeights: String, Sendable {
    /// The EMA weights when the run keeps them (what samples and evaluations use), else the raw.
    case sampling
    /// The weights the optimizer last wrote.
    case raw
}

extension ModelFamily {
    /// The run configuration in `json` (a checkpoint's metadata or `config.json`), checked to
    /// be this family's and valid.
    /// - Parameter file: names the source in errors.
    public static func runConfiguration(from json: String, file: String) throws -> RunConfiguration<Configuration> {
        let header: RunKind
        do { header = try RunKind.decode(json) } catch {
            throw GenError.badData("\(file): the run configuration is not understood: \(RunKind.describe(error))")
        }
        guard header.kind == kind else { throw GenError.badData("\(file): is a \(header.kind) run, not \(kind)") }
        let configuration: RunConfiguration<Configuration>
        do { configuration = try RunConfiguration<Configuration>.decode(json) } catch {
            throw GenError.badData("\(file): the run configuration does not describe a \(kind) model: \(RunKind.describe(error))")
        }
        do {
            try configuration.model.validate()
            try configuration.training.validate()
            try checkImageShape(configuration.data.imageShape)
            try MemoryBudget.check(configuration.model.estimatedTrainingBytes(batchSize: configuration.training.batchSize), for: "this \(kind) model")
        } catch {
            throw GenError.badData("\(file): \(error.message)")
        }
        return configuration
    }

    /// The trained model in `checkpoint` (read from `url`), in evaluation mode.
    public static func load(_ checkpoint: RunCheckpoint, from url: URL, weights: ModelWeights = .sampling) throws -> Task {
        let configuration = try runConfiguration(from: checkpoint.configJSON, file: url.path)
        let task = makeTask(configuration.model)
        do {
            try task.model.load(stateDict: checkpoint.model)
            if weights == .sampling && !checkpoint.ema.isEmpty { try task.sampledModule.load(stateDict: checkpoint.samplingWeights) }
        } catch let error as StateDictError {
            throw GenError.badData("\(url.path): does not fit its own configuration: \(error)")
        }
        task.model.eval()
        return task
    }

    /// The trained model of a run folder (or of a checkpoint file), in evaluation mode.
    ///
    /// ```swift
    /// let ddpm = try DDPMFamily.load(URL(fileURLWithPath: "runs/demo"))
    /// ```
    public static func load(_ location: URL, weights: ModelWeights = .sampling) throws -> Task {
        let url = try RunCheckpoint.locate(location)
        return try load(try RunCheckpoint.read(url), from: url, weights: weights)
    }

    /// ``load(_:from:weights:)`` for callers that hold the family as `any ModelFamily.Type`.
    public static func loadTrainedModel(_ checkpoint: RunCheckpoint, from url: URL, weights: ModelWeights) throws -> any TrainedModel {
        try load(checkpoint, from: url, weights: weights)
    }

    /// Whether `metric` is one of the family's.
    public static func measures(_ metric: EvaluationMetric) -> Bool { metrics.contains(metric) }
}

/// Throws unless `shape` is `[channels, height, width]` with every side at least 1 and 1 to
/// 4 channels (gray, gray and alpha, RGB, RGBA: what sample grids can show).
public func checkImageShape(_ shape: [Int]) throws(ConfigurationError) {
    guard shape.count == 3, shape.allSatisfy({ $0 >= 1 }) else { throw .data("the image shape \(shape) is not [C, H, W]") }
    guard shape[0] <= 4 else { throw .data("images of \(shape[0]) channels: gen trains on 1 to 4 (gray, gray and alpha, RGB, RGBA)") }
}
