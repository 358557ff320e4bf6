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
}
