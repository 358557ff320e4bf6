import CKernels
import Foundation

/// Adam (Kingma & Ba 2015, Algorithm 1) with PyTorch's semantics: bias-corrected moments,
/// ε added after the square root, and `weightDecay` as an L2 term added to the gradient.
/// ``AdamW`` decouples the decay instead.
public class Adam: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, slotNames: ["exp_avg", "exp_avg_sq"])
    }

    /// Whether weight decay is decoupled from the gradient (AdamW).
    var decoupledDecay: Bool { false }

    public override func update(parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        let p = parameter.pointer, g = gradient.pointer, m = slots[0].pointer, v = slots[1].pointer
        let lr = learningRate, decay = weightDecay, decoupled = decoupledDecay
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        // 1. bias corrections in double precision, as PyTorch computes them in Python floats
        let correction1 = 1 - Foundation.pow(Double(b1), Double(step))
        let correction2 = 1 - Foundation.pow(Double(b2), Double(step))
        let stepSize = Float(Double(lr) / correction1)
        let correction2Root = Float(correction2.squareRoot())
        let weight = 1 - b1
        let l2 = decoupled ? 0 : decay, shrink = decoupled ? 1 - lr * decay : 1
        let lerpFromStart = weight < 0.5
        // 2. weight decay (decoupled shrinks the weight, L2 adds to the gradient), the moments
        //    (the first as torch.lerp computes it) and the step, in C: sixteen lanes with AVX-512
        Threads.parallelFor(parameter.count, costPerItem: 8) { range in
            gen_adam_update(p + range.lowerBound, g + range.lowerBound, m + range.lowerBound, v + range.lowerBound, range.count,
                            weight, lerpFromStart ? 1 : 0, b2, l2, shrink, stepSize, correction2Root, eps)
        }
    }
}

/// AdamW (Loshchilov & Hutter 2019): Adam with weight decay applied to the weights directly,
/// `θ ← θ·(1 − lr·λ)` before the Adam step. PyTorch's default decay is 0.01.
public final class AdamW: Adam {
    public override init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        super.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }

    override var decoupledDecay: Bool { true }
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, with PyTorch's semantics (the first step's buffer is the gradient itself).
public final class SGD: Optimizer {
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    public let weightDecay: Float

    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum needs momentum > 0 and no dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, slotNames: momentum != 0 ? ["momentum_buffer"] : [])
    }

    public override func update(parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        let p = parameter.pointer, g = gradient.pointer
        let buffer = slots.first?.pointer
        let (lr, mu, damp, decay, nesterov) = (learningRate, momentum, dampening, weightDecay, nesterov)
        forEachElement(parameter.count) { i in
            var d = g[i]
            if decay != 0 { d += decay * p[i] }
            if let buffer {
                buffer[i] = step == 1 ? d : buffer[i] * mu + (1 - damp) * d
                d = nesterov ? d + mu * buffer[i] : buffer[i]
            }
            p[i] += -lr * d
        }
    }
}
