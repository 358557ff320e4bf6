/// What a model family gives the ``Trainer``: the module to optimize, the updates of one
/// training step (its ``phases``), and a way to draw preview samples.
///
/// Most tasks have one loss and conform to ``SingleLossTask``, which makes their one phase.
/// A task whose modules take turns (a GAN: `criticSteps` critic updates, then one generator
/// update) lists its phases itself, each with its own optimizer:
///
/// ```swift
/// final class Adversarial: TrainingTask {
///     let pair = Pair()                              // holds `generator` and `critic`
///     var model: Module { pair }
///     var sampledModule: Module { pair.generator }
///     var pixelRange: PixelRange { .symmetric }
///     var phases: [TrainingPhase] {
///         [TrainingPhase(name: "critic", module: pair.critic) { batch, random in (criticLoss(batch, random), [:]) },
///          TrainingPhase(name: "generator", module: pair.generator, usesData: false) { batch, random in
///              (generatorLoss(batch.images.shape[0], random), [:])
///          }]
///     }
///     func samples(count: Int, generator: RandomGenerator) -> Tensor { … }
/// }
/// ```
public protocol TrainingTask: AnyObject {
    /// The module whose weights and buffers checkpoints keep; it holds every phase's module.
    var model: Module { get }

    /// The range the task wants its images in.
    var pixelRange: PixelRange { get }

    /// The updates of one training step, in the order they run; the last one's loss is the
    /// step's `loss`. Read once when a ``Trainer`` is made.
    var phases: [TrainingPhase] { get }

    /// The module the EMA averages and the samples come from (a GAN's generator). The default
    /// is ``model``.
    var sampledModule: Module { get }

    /// The metrics-log key that the progress line follows (a GAN's Wasserstein estimate: its
    /// generator loss says little). The default is `loss`.
    var progressMetric: String { get }

    /// The metrics-log keys `loss.png` draws, one line each. The default is ``progressMetric``.
    var plottedMetrics: [String] { get }

    /// `count` samples `[count, C, H, W]` in ``pixelRange`` from `model` (the trainer has put the
    /// EMA weights in ``sampledModule`` and switched it to evaluation mode).
    func samples(count: Int, generator: RandomGenerator) -> Tensor

    /// Called before every training step with the step's index (from 0), for schedules that
    /// live in the task (a VAE's KL warm-up). The default does nothing.
    func willTrain(step: Int)

    /// Whether the task draws images: the trainer writes sample grids only for tasks that do
    /// (a feature classifier does not). The default is true.
    var drawsSamples: Bool { get }
}

extension TrainingTask {
    public var sampledModule: Module { model }
    public var progressMetric: String { "loss" }
    public var plottedMetrics: [String] { [progressMetric] }
    public func willTrain(step: Int) {}
    public var drawsSamples: Bool { true }
}

/// A task trained by one loss: one phase that updates ``TrainingTask/model``.
///
/// ```swift
/// final class RegressionTask: SingleLossTask {
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
public protocol SingleLossTask: TrainingTask {
    /// The scalar loss on one batch; the trainer differentiates it with respect to `model`.
    func loss(batch: Batch, generator: RandomGenerator) -> Tensor
}

extension SingleLossTask {
    /// One phase, named `model`, that updates ``TrainingTask/model`` by ``loss(batch:generator:)``.
    public var phases: [TrainingPhase] {
        [TrainingPhase(name: "model", module: model) { [unowned self] batch, generator in (loss(batch: batch, generator: generator), [:]) }]
    }
}

/// One player of a training step: the module it updates, how many updates it gets per step,
/// and its loss (with any extra numbers for the metrics log).
public struct TrainingPhase {
    /// Names the phase in the metrics (`<name>_loss`) and, when a task has several, its
    /// optimizer's state in checkpoints.
    public let name: String
    public let module: Module
    public let updatesPerStep: Int
    /// Whether each update draws a fresh batch of data (a GAN's critic does; its generator
    /// reuses the last batch only for its size).
    public let usesData: Bool
    /// This phase's learning rate over the schedule's (two time-scale updates of a GAN).
    public let learningRateScale: Float
    public let loss: (Batch, RandomGenerator) -> (loss: Tensor, metrics: [String: Double])

    public init(name: String, module: Module, updatesPerStep: Int = 1, usesData: Bool = true, learningRateScale: Float = 1,
                loss: @escaping (Batch, RandomGenerator) -> (loss: Tensor, metrics: [String: Double])) {
        require(updatesPerStep >= 1, "TrainingPhase: \(name) needs at least one update per step")
        require(learningRateScale > 0 && learningRateScale.isFinite, "TrainingPhase: \(name) needs a positive, finite learning-rate scale")
        self.learningRateScale = learningRateScale
        self.name = name
        self.module = module
        self.updatesPerStep = updatesPerStep
        self.usesData = usesData
        self.loss = loss
    }
}
