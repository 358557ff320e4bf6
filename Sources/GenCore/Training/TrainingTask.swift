/// What a model family gives the ``Trainer``: the module to optimize, its loss on a batch, and
/// a way to draw preview samples.
///
/// ```swift
/// final class RegressionTask: TrainingTask {
///     let model = Linear(784, 1)
///     var pixelRange: PixelRange { .unit }
///     func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
///         (model(batch.images.flattened()) - 0.5).squared().mean()
///     }
///     func samples(count: Int, generator: RandomGenerator) -> Tensor {
///         Tensor.zeros([count, 1, 28, 28])
///     }
/// }
/// ```
public protocol TrainingTask: AnyObject {
    /// The module whose parameters the optimizer updates and the EMA averages.
    var model: Module { get }

    /// The range the task wants its images in.
    var pixelRange: PixelRange { get }

    /// The scalar loss on one batch; the trainer differentiates it with respect to `model`.
    func loss(batch: Batch, generator: RandomGenerator) -> Tensor

    /// `count` samples `[count, C, H, W]` in ``pixelRange`` from `model` (the trainer has put the
    /// EMA weights in it and switched it to evaluation mode).
    func samples(count: Int, generator: RandomGenerator) -> Tensor

    /// Called before every training step with the step's index (from 0), for schedules that
    /// live in the task (a VAE's KL warm-up). The default does nothing.
    func willTrain(step: Int)

    /// Whether the task draws images: the trainer writes sample grids only for tasks that do
    /// (a feature classifier does not). The default is true.
    var drawsSamples: Bool { get }
}

extension TrainingTask {
    public func willTrain(step: Int) {}
    public var drawsSamples: Bool { true }
}

/// One player of a task trained by alternating updates: the module it updates, how many
/// updates it gets per training step, and its loss (with any extra numbers for the metrics log).
public struct TrainingPhase {
    /// Names the phase in the metrics (`<name>_loss`) and its optimizer's state in checkpoints.
    public let name: String
    public let module: Module
    public let updatesPerStep: Int
    /// Whether each update draws a fresh batch of data (a GAN's critic does; its generator
    /// reuses the last batch only for its size).
    public let usesData: Bool
    public let loss: (Batch, RandomGenerator) -> (loss: Tensor, metrics: [String: Double])

    public init(name: String, module: Module, updatesPerStep: Int = 1, usesData: Bool = true,
                loss: @escaping (Batch, RandomGenerator) -> (loss: Tensor, metrics: [String: Double])) {
        require(updatesPerStep >= 1, "TrainingPhase: \(name) needs at least one update per step")
        self.name = name
        self.module = module
        self.updatesPerStep = updatesPerStep
        self.usesData = usesData
        self.loss = loss
    }
}

/// A task whose modules take turns, each with its own optimizer (a GAN: `criticSteps` critic
/// updates, then one generator update, per training step). ``TrainingTask/model`` holds all
/// of them, so checkpoints keep every weight and buffer; the EMA and the samples use
/// ``sampledModule``. ``TrainingTask/loss(batch:generator:)`` is not called for such a task.
public protocol AlternatingTrainingTask: TrainingTask {
    /// The phases in the order they run within a step; the last one's loss is the step's `loss`.
    var phases: [TrainingPhase] { get }
    /// The module the EMA averages and the samples come from (a GAN's generator).
    var sampledModule: Module { get }
    /// The metric that shows progress, for `loss.png` and the progress line (a GAN's
    /// Wasserstein estimate: its generator loss says little); nil: the last phase's loss.
    var progressMetric: String? { get }
}

extension AlternatingTrainingTask {
    public var progressMetric: String? { nil }
}
