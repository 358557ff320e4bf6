import Foundation
import GenCore

/// An invertible map with a tractable Jacobian determinant. The direction is the method name;
/// each returns, per sample (`[N]`), `log|det ∂out/∂in|` of the direction called, so
/// `forward(x).logDeterminant + inverse(y).logDeterminant = 0` at `y = forward(x).y`.
///
/// `forward` runs data → latent (the density direction), `inverse` latent → data (sampling).
public protocol Bijector: AnyObject {
    func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor)
    func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor)
}

/// Sums over every axis but the first: `[N, …] → [N]`.
func perSample(_ x: Tensor) -> Tensor { x.flattened().sum(axes: [1]) }

/// Bijectors applied in order: forward through the list, inverse back through it.
public final class Chain: Module, Bijector {
    public let bijectors: [Module]
    var chain: [any Bijector] { bijectors.map { $0 as! any Bijector } }

    public init(_ bijectors: [any Bijector & Module]) { self.bijectors = bijectors }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        var y = x, total = Tensor.zeros([x.shape[0]])
        for bijector in chain {
            let (next, logDeterminant) = bijector.forward(y)
            y = next
            total = total + logDeterminant
        }
        return (y, total)
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        var x = y, total = Tensor.zeros([y.shape[0]])
        for bijector in chain.reversed() {
            let (next, logDeterminant) = bijector.inverse(x)
            x = next
            total = total + logDeterminant
        }
        return (x, total)
    }
}

/// Space to depth (Dinh et al. 2017, §3.6): `[N, C, H, W] → [N, 4C, H/2, W/2]`, each 2×2
/// block becoming four channels (channel c·4 + 2i + j holds position (i, j) of the block), as
/// the PyTorch twin's `squeeze`. A permutation: log-determinant 0.
public final class Squeeze: Module, Bijector {
    public override init() {}

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        require(h % 2 == 0 && w % 2 == 0, "Squeeze: \(h)×\(w) images cannot be halved")
        let y = x.reshaped([n, c, h / 2, 2, w / 2, 2]).permuted([0, 1, 3, 5, 2, 4]).reshaped([n, 4 * c, h / 2, w / 2])
        return (y, Tensor.zeros([n]))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let (n, c4, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        require(c4 % 4 == 0, "Squeeze: \(c4) channels are not four times some count")
        let x = y.reshaped([n, c4 / 4, 2, 2, h, w]).permuted([0, 1, 4, 2, 5, 3]).reshaped([n, c4 / 4, 2 * h, 2 * w])
        return (x, Tensor.zeros([n]))
    }
}

/// Uniform dequantization (Theis et al. 2016; Dinh et al. 2017): 8-bit values k ∈ {0…255}
/// become `(k + u)/256`, u ~ U(0, 1), in [0, 1). Forward's log-determinant is `−D·log 256`
/// per sample, so a density over the result turns into a lower bound on the log-probability of
/// the integer pixels. Inverse rounds down.
public final class Dequantize: Module, Bijector {
    /// Where the uniform noise comes from.
    public var generator: RandomGenerator

    public init(generator: RandomGenerator) { self.generator = generator }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        let y = EightBitData.dequantize(pixels: x, into: .unit, generator: generator)
        return (y, Tensor.full([x.shape[0]], Float(-Double(x.count / x.shape[0]) * log(256.0))))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let x = Tensor((y * 256).scalars.map { Swift.min(255, Swift.max(0, $0.rounded(.down))) }, shape: y.shape)
        return (x, Tensor.full([y.shape[0]], Float(Double(y.count / y.shape[0]) * log(256.0))))
    }
}

/// The logit transform of Dinh et al. 2017 (§4.1): `y = logit(α + (1 − 2α)·x)` for x in
/// [0, 1], α = 0.05 keeping the argument away from 0 and 1; log-determinant
/// `Σ log(1 − 2α) − log s − log(1 − s)`, s = α + (1 − 2α)·x.
public final class Logit: Module, Bijector {
    public let alpha: Float

    public init(alpha: Float = 0.05) {
        require(alpha >= 0 && alpha < 0.5, "Logit: α must be in [0, 0.5)")
        self.alpha = alpha
    }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        let s = x * (1 - 2 * alpha) + alpha
        let logS = s.log(), logOneMinusS = (1 - s).log()
        return (logS - logOneMinusS, perSample(logOneMinusS * -1 - logS + Float(Foundation.log(Double(1 - 2 * alpha)))))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let s = y.sigmoid()
        let x = (s - alpha) / (1 - 2 * alpha)
        // log|dx/dy| = log s + log(1 − s) − log(1 − 2α)
        return (x, perSample(y.logSigmoid() + (-y).logSigmoid() - Float(Foundation.log(Double(1 - 2 * alpha)))))
    }
}

/// Activation normalization (Kingma & Dhariwal 2018): a per-channel affine map
/// `y = (x + bias)·exp(logScale)`, initialized from the first batch it sees so that its output
/// has zero mean and unit variance per channel; log-determinant `H·W·Σ logScale`.
public final class ActNorm: Module, Bijector {
    public let bias: Tensor
    public let logScale: Tensor
    /// 1 once the data-dependent initialization has run (kept in checkpoints).
    public let _initialized: Tensor

    public init(channels: Int) {
        bias = Tensor.zeros([1, channels, 1, 1])
        logScale = Tensor.zeros([1, channels, 1, 1])
        _initialized = Tensor.zeros([1])
    }

    /// Sets bias and scale from a batch `[N, C, H, W]`.
    public func initialize(from x: Tensor) {
        withoutGradients {
            let mean = x.mean(axes: [0, 2, 3], keepingDimensions: true)
            let std = (x - mean).squared().mean(axes: [0, 2, 3], keepingDimensions: true).sqrt() + 1e-6
            bias.assign(-mean)
            logScale.assign(-std.log())
            _initialized.assign(Tensor.ones([1]))
        }
    }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        if _initialized.item == 0 && isTraining { initialize(from: x) }
        let spatial = Float(x.shape[2] * x.shape[3])
        return ((x + bias) * logScale.exp(), Tensor.full([x.shape[0]], 1) * (logScale.sum() * spatial))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let spatial = Float(y.shape[2] * y.shape[3])
        return (y * (-logScale).exp() - bias, Tensor.full([y.shape[0]], 1) * (logScale.sum() * -spatial))
    }
}

/// Batch normalization as a bijector (Dinh et al. 2017, §3.7): `y = (x − μ)/√(σ² + ε)·e^{logGamma} + beta`
/// with the batch's statistics in training (running averages updated) and the running ones in
/// evaluation; log-determinant `H·W·Σ (logGamma − ½ log(σ² + ε))`. The inverse uses the
/// running statistics (sampling runs in evaluation mode).
public final class BatchNormBijector: Module, Bijector {
    public let logGamma: Tensor
    public let beta: Tensor
    public let _runningMean: Tensor
    public let _runningVar: Tensor
    public let momentum: Float
    public let epsilon: Float

    public init(channels: Int, momentum: Float = 0.05, epsilon: Float = 1e-4) {
        logGamma = Tensor.zeros([1, channels, 1, 1])
        beta = Tensor.zeros([1, channels, 1, 1])
        _runningMean = Tensor.zeros([1, channels, 1, 1])
        _runningVar = Tensor.ones([1, channels, 1, 1])
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        let mean: Tensor, variance: Tensor
        if isTraining {
            mean = x.mean(axes: [0, 2, 3], keepingDimensions: true)
            variance = (x - mean).squared().mean(axes: [0, 2, 3], keepingDimensions: true)
            withoutGradients {
                _runningMean.assign(_runningMean * (1 - momentum) + mean.detached * momentum)
                _runningVar.assign(_runningVar * (1 - momentum) + variance.detached * momentum)
            }
        } else {
            mean = _runningMean
            variance = _runningVar
        }
        let logStd = (variance + epsilon).log() * 0.5
        let y = (x - mean) * (logGamma - logStd).exp() + beta
        let spatial = Float(x.shape[2] * x.shape[3])
        return (y, Tensor.full([x.shape[0]], 1) * ((logGamma - logStd).sum() * spatial))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let logStd = (_runningVar + epsilon).log() * 0.5
        let x = (y - beta) * (logStd - logGamma).exp() + _runningMean
        let spatial = Float(y.shape[2] * y.shape[3])
        return (x, Tensor.full([y.shape[0]], 1) * ((logStd - logGamma).sum() * spatial))
    }
}
