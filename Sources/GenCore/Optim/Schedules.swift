import Foundation

/// A learning rate as a function of the step (counting from 0).
public typealias LearningRateSchedule = @Sendable (Int) -> Float

/// Common learning-rate schedules.
public enum Schedules {
    /// The same rate at every step.
    public static func constant(_ rate: Float) -> LearningRateSchedule { { _ in rate } }

    /// Rises linearly from `rate / warmupSteps` to `rate` over `warmupSteps`, then stays.
    public static func linearWarmup(_ rate: Float, warmupSteps: Int) -> LearningRateSchedule {
        { step in warmupSteps > 0 && step < warmupSteps ? rate * Float(step + 1) / Float(warmupSteps) : rate }
    }

    /// Linear warm-up, then half a cosine from `rate` down to `minimum` at `totalSteps`
    /// (Loshchilov & Hutter 2017, without restarts).
    public static func cosine(_ rate: Float, totalSteps: Int, warmupSteps: Int = 0, minimum: Float = 0) -> LearningRateSchedule {
        { step in
            if warmupSteps > 0 && step < warmupSteps { return rate * Float(step + 1) / Float(warmupSteps) }
            let span = max(1, totalSteps - warmupSteps)
            let progress = min(1, Double(step - warmupSteps) / Double(span))
            return minimum + (rate - minimum) * Float(0.5 * (1 + Foundation.cos(Double.pi * progress)))
        }
    }
}

/// Scales `gradients` so that their joint L2 norm is at most `maxNorm` (PyTorch's
/// `clip_grad_norm_`: factor `maxNorm / (norm + 1e-6)` when below 1).
/// - Returns: the clipped gradients and the norm before clipping.
/// - Parameter norm: the gradients' joint norm when the caller has it already.
public func clipGradientNorm(_ gradients: Gradients, maxNorm: Float, norm: Float? = nil) -> (gradients: Gradients, norm: Float) {
    let norm = norm ?? gradientNorm(gradients)
    let factor = maxNorm / (norm + 1e-6)
    guard factor < 1 else { return (gradients, norm) }
    return (withoutGradients { gradients.mapValues { $0.detached * factor } }, norm)
}

/// The joint L2 norm of all gradients.
public func gradientNorm(_ gradients: Gradients) -> Float {
    var total: Double = 0
    for key in gradients.keys.sorted() {
        gradients[key]!.withUnsafeBufferPointer { for g in $0 { total += Double(g) * Double(g) } }
    }
    return Float(total.squareRoot())
}
