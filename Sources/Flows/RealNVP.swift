import Foundation
import GenCore

/// A residual block of the s/t network: ReLU → conv 3×3 → ReLU → conv 3×3, added to its input.
public final class STResidualBlock: Module {
    public let conv1: Conv2d
    public let conv2: Conv2d

    public init(_ channels: Int) {
        conv1 = Conv2d(channels, channels, kernelSize: 3, padding: 1)
        conv2 = Conv2d(channels, channels, kernelSize: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x + conv2(conv1(x.relu()).relu()) }
}

/// The scale-and-translation network of a coupling (the twin's `STNet`): conv 3×3 → residual
/// blocks → ReLU → conv 3×3 to `2·outputs` channels, split into s and t; `s = scale·tanh(raw)`
/// with a learned per-channel factor (Dinh et al. 2017, §4.1) that bounds every step.
public final class STNetwork: Module {
    public let inp: Conv2d
    public let blocks: [STResidualBlock]
    public let out: Conv2d
    public let scale: Tensor

    public init(inputs: Int, outputs: Int, hidden: Int = 32, residualBlocks: Int = 2) {
        inp = Conv2d(inputs, hidden, kernelSize: 3, padding: 1)
        blocks = (0..<residualBlocks).map { _ in STResidualBlock(hidden) }
        out = Conv2d(hidden, 2 * outputs, kernelSize: 3, padding: 1)
        scale = Tensor.ones([1, outputs, 1, 1])
    }

    public func callAsFunction(_ x: Tensor) -> (s: Tensor, t: Tensor) {
        var h = inp(x)
        for block in blocks { h = block(h) }
        let parts = out(h.relu()).chunked(2, axis: 1)
        return (scale * parts[0].tanh(), parts[1])
    }
}

/// An affine coupling layer (Dinh et al. 2017, Eq. 7–9): one part of the input passes
/// unchanged and conditions `y = x·exp(s) + t` on the other part, so the Jacobian is
/// triangular with log-determinant `Σ s`.
///
/// The mask is a checkerboard over positions (with a parity) or the channel halves (the first
/// half conditions the second, or the reverse with parity 1), as in the PyTorch twin.
public final class AffineCoupling: Module, Bijector {
    public enum Mask: String, Codable, Sendable { case checkerboard, channel }

    public let mask: Mask
    public let parity: Int
    public let net: STNetwork
    /// The checkerboard mask (1 where positions pass unchanged and condition the rest), a
    /// buffer as in the twin.
    public let _mask: Tensor?

    /// - Parameters: channels, height, width of the input.
    public init(_ mask: Mask, parity: Int, channels: Int, height: Int, width: Int, hidden: Int = 32, residualBlocks: Int = 2) {
        self.mask = mask
        self.parity = parity
        switch mask {
        case .checkerboard:
            net = STNetwork(inputs: channels, outputs: channels, hidden: hidden, residualBlocks: residualBlocks)
            // the twin's checkerboard: (i + j) mod 2, flipped for parity 1
            var values: [Float] = []
            for i in 0..<height {
                for j in 0..<width {
                    let square = (i + j) % 2
                    values.append(Float(parity == 0 ? square : 1 - square))
                }
            }
            _mask = Tensor(values, shape: [1, 1, height, width])
        case .channel:
            require(channels % 2 == 0, "AffineCoupling: a channel mask needs an even channel count, got \(channels)")
            net = STNetwork(inputs: channels / 2, outputs: channels / 2, hidden: hidden, residualBlocks: residualBlocks)
            _mask = nil
        }
    }

    /// Sets the last convolution to zero, so the coupling starts as the identity.
    public func zeroInitialize() {
        net.out.weight.assign(Tensor.zeros(net.out.weight.shape))
        net.out.bias?.assign(Tensor.zeros(net.out.bias!.shape))
    }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        if let m = _mask {
            let (rawS, rawT) = net(x * m)
            let s = rawS * (1 - m), t = rawT * (1 - m)
            return (x * s.exp() + t, perSample(s))
        }
        let halves = x.chunked(2, axis: 1)
        let (a, b) = parity == 0 ? (halves[0], halves[1]) : (halves[1], halves[0])
        let (s, t) = net(a)
        let changed = b * s.exp() + t
        return (Tensor.concatenate(parity == 0 ? [a, changed] : [changed, a], axis: 1), perSample(s))
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        if let m = _mask {
            // the masked part is unchanged, so s and t are recomputed from it exactly
            let (rawS, rawT) = net(y * m)
            let s = rawS * (1 - m), t = rawT * (1 - m)
            return ((y - t) * (-s).exp(), perSample(-s))
        }
        let halves = y.chunked(2, axis: 1)
        let (a, changed) = parity == 0 ? (halves[0], halves[1]) : (halves[1], halves[0])
        let (s, t) = net(a)
        let b = (changed - t) * (-s).exp()
        return (Tensor.concatenate(parity == 0 ? [a, b] : [b, a], axis: 1), perSample(-s))
    }
}

/// A RealNVP as a run stores it.
public struct RealNVPConfiguration: DirectlyConditionedConfiguration {
    public enum Normalization: String, Codable, Sendable, CaseIterable { case none, actnorm, batchnorm }

    /// `[channels, height, width]`; height and width divisible by 2^scales.
    public var imageShape: [Int]
    /// Scales that end in a squeeze and a factor-out.
    public var scales: Int
    /// Couplings per stage (checkerboard before each squeeze, channel after it).
    public var couplings: Int
    /// Checkerboard couplings at the last scale.
    public var finalCouplings: Int
    /// Channels of the s/t networks.
    public var hidden: Int
    public var residualBlocks: Int
    /// A normalizing bijector after every coupling.
    public var normalization: Normalization
    /// The logit transform's α.
    public var alpha: Float
    /// The classes of a class-conditional base: N(μ_y, diag σ_y²) per class y, learned (as
    /// Glow's class-conditional prior and normflows' `ClassCondDiagGaussian`). nil: N(0, I).
    public var classes: Int?


    public init(imageShape: [Int], scales: Int = 2, couplings: Int = 3, finalCouplings: Int = 4, hidden: Int = 32,
                residualBlocks: Int = 2, normalization: Normalization = .none, alpha: Float = 0.05) {
        self.imageShape = imageShape
        self.scales = scales
        self.couplings = couplings
        self.finalCouplings = finalCouplings
        self.hidden = hidden
        self.residualBlocks = residualBlocks
        self.normalization = normalization
        self.alpha = alpha
    }

    /// The `realnvp-small` benchmark model (629,665 parameters on 1×28×28).
    public static let small = RealNVPConfiguration(imageShape: [1, 28, 28])

    public func estimatedTrainingBytes(batchSize: Int) -> Double {
        let h = Double(hidden), couplingCount = Double(2 * couplings * scales + finalCouplings)
        let perCoupling = Double(2 * residualBlocks + 2) * 9 * h * h
        let pixels = Double(imageShape[1] * imageShape[2])
        return trainingBytes(parameters: couplingCount * perCoupling,
                             activationsPerImage: couplingCount * Double(2 * residualBlocks + 4) * 4 * h * pixels, batchSize: batchSize)
    }

    public func validate() throws(ConfigurationError) {
        try checkImageShape(imageShape)
        guard scales >= 0, couplings >= 1, finalCouplings >= 1, hidden >= 1, residualBlocks >= 0 else {
            throw .settings("--scales must not be negative; --couplings, --final-couplings and --hidden must be at least 1")
        }
        // checked before the shift: 1 << 64 is 0 in Swift
        guard scales <= 16 else { throw .settings("\(scales) scales would squeeze the images below one pixel") }
        let factor = 1 << scales
        guard imageShape[1] % factor == 0, imageShape[2] % factor == 0 else {
            throw .data("images of \(imageShape[1])×\(imageShape[2]) cannot be squeezed \(scales) times (height and width must be multiples of \(factor))")
        }
        guard alpha >= 0 && alpha < 0.5 else { throw .settings("the logit's α must be in [0, 0.5), got \(alpha)") }
        try conditioning?.validate()
    }
}

/// One scale of the multi-scale architecture: checkerboard couplings, a squeeze, channel
/// couplings; afterwards half the channels are factored out to the prior.
public final class FlowScale: Module {
    public let checker: [AffineCoupling]
    public let channel: [AffineCoupling]
    public let checkerNorms: [Module]
    public let channelNorms: [Module]

    init(_ c: RealNVPConfiguration, channels: Int, height: Int, width: Int) {
        checker = (0..<c.couplings).map { AffineCoupling(.checkerboard, parity: $0 % 2, channels: channels, height: height, width: width,
                                                          hidden: c.hidden, residualBlocks: c.residualBlocks) }
        channel = (0..<c.couplings).map { AffineCoupling(.channel, parity: $0 % 2, channels: 4 * channels, height: height / 2, width: width / 2,
                                                          hidden: c.hidden, residualBlocks: c.residualBlocks) }
        checkerNorms = (0..<c.couplings).compactMap { _ in normalizer(c.normalization, channels: channels) }
        channelNorms = (0..<c.couplings).compactMap { _ in normalizer(c.normalization, channels: 4 * channels) }
    }

    /// The stage's bijectors in forward order.
    var bijectors: [any Bijector] {
        interleave(checker, checkerNorms) + [Squeeze()] + interleave(channel, channelNorms)
    }
}

func normalizer(_ kind: RealNVPConfiguration.Normalization, channels: Int) -> Module? {
    switch kind {
    case .none: return nil
    case .actnorm: return ActNorm(channels: channels)
    case .batchnorm: return BatchNormBijector(channels: channels)
    }
}

func interleave(_ couplings: [AffineCoupling], _ norms: [Module]) -> [any Bijector] {
    couplings.enumerated().flatMap { i, coupling -> [any Bijector] in
        norms.isEmpty ? [coupling] : [coupling, norms[i] as! any Bijector]
    }
}

/// RealNVP (Dinh et al. 2017) with the multi-scale architecture: data in logit space passes
/// through each ``FlowScale``; after each, half the channels are factored out (they go to the
/// prior N(0, I) directly), and the rest continue; the last scale's checkerboard couplings end
/// the flow. As a ``Bijector`` it maps `[N, C, H, W]` in logit space to the latent `[N, D]`
/// (the factored-out parts and the last output, flattened and concatenated, in that order).
public final class RealNVPFlow: Module, Bijector {
    public let configuration: RealNVPConfiguration
    public let scales: [FlowScale]
    public let final: [AffineCoupling]
    public let finalNorms: [Module]
    /// A class-conditional base's means and log standard deviations, `[classes, D]` each,
    /// stored divided by ``baseScale`` (zero at first: every class starts as N(0, I)).
    public let classMeans: Tensor?
    public let classLogStds: Tensor?
    /// The factor between the stored class parameters and the base's means and log standard
    /// deviations: Adam moves each parameter by about the learning rate per step, so at 1e-3
    /// an unscaled mean would need thousands of steps to reach the few units that separate the
    /// classes in z; scaled, a few hundred (an equalized learning rate, Karras et al. 2018).
    public static let baseScale: Float = 10
    /// The base's class means and log standard deviations, `[classes, D]`.
    public var classBase: (means: Tensor, logStds: Tensor)? {
        guard let classMeans, let classLogStds else { return nil }
        return (classMeans * Self.baseScale, classLogStds * Self.baseScale)
    }
    /// `[channels, height, width]` entering each scale, then the final stage's.
    let shapes: [[Int]]

    public init(_ c: RealNVPConfiguration) {
        do { try c.validate() } catch { require(false, "RealNVPFlow: \(error)") }
        configuration = c
        var shape = c.imageShape, shapes: [[Int]] = [], scales: [FlowScale] = []
        for _ in 0..<c.scales {
            shapes.append(shape)
            scales.append(FlowScale(c, channels: shape[0], height: shape[1], width: shape[2]))
            shape = [2 * shape[0], shape[1] / 2, shape[2] / 2]  // 4C after the squeeze, half factored out
        }
        shapes.append(shape)
        self.shapes = shapes
        self.scales = scales
        final = (0..<c.finalCouplings).map { AffineCoupling(.checkerboard, parity: $0 % 2, channels: shape[0], height: shape[1], width: shape[2],
                                                             hidden: c.hidden, residualBlocks: c.residualBlocks) }
        finalNorms = (0..<c.finalCouplings).compactMap { _ in normalizer(c.normalization, channels: shape[0]) }
        let dimensions = c.imageShape.reduce(1, *)
        classMeans = c.classes.map { Tensor.zeros([$0, dimensions]) }
        classLogStds = c.classes.map { Tensor.zeros([$0, dimensions]) }
    }

    /// Starts every coupling as the identity (zero last convolutions).
    public func zeroInitialize() {
        for scale in scales { for coupling in scale.checker + scale.channel { coupling.zeroInitialize() } }
        for coupling in final { coupling.zeroInitialize() }
    }

    public func forward(_ x: Tensor) -> (y: Tensor, logDeterminant: Tensor) {
        let batch = x.shape[0]
        var h = x, total = Tensor.zeros([batch]), latents: [Tensor] = []
        for scale in scales {
            for bijector in scale.bijectors {
                let (next, logDeterminant) = bijector.forward(h)
                h = next
                total = total + logDeterminant
            }
            let halves = h.chunked(2, axis: 1)
            latents.append(halves[0].flattened())
            h = halves[1]
        }
        for bijector in interleave(final, finalNorms) {
            let (next, logDeterminant) = bijector.forward(h)
            h = next
            total = total + logDeterminant
        }
        latents.append(h.flattened())
        return (Tensor.concatenate(latents, axis: 1), total)
    }

    public func inverse(_ y: Tensor) -> (x: Tensor, logDeterminant: Tensor) {
        let batch = y.shape[0]
        // split the latent back into the factored-out parts and the last output
        var sizes: [Int] = []
        for shape in shapes.dropLast() { sizes.append(2 * shape[0] * (shape[1] / 2) * (shape[2] / 2)) }
        let last = shapes.last!
        sizes.append(last.reduce(1, *))
        let parts = y.split(sizes: sizes, axis: 1)
        var h = parts.last!.reshaped([batch] + last), total = Tensor.zeros([batch])
        for bijector in interleave(final, finalNorms).reversed() {
            let (next, logDeterminant) = bijector.inverse(h)
            h = next
            total = total + logDeterminant
        }
        for (index, scale) in scales.enumerated().reversed() {
            let shape = shapes[index]
            let factored = parts[index].reshaped([batch, 2 * shape[0], shape[1] / 2, shape[2] / 2])
            h = Tensor.concatenate([factored, h], axis: 1)
            for bijector in scale.bijectors.reversed() {
                let (next, logDeterminant) = bijector.inverse(h)
                h = next
                total = total + logDeterminant
            }
        }
        return (h, total)
    }

    /// log p(x) in nats per sample for x in logit space: the standard normal prior of the
    /// latent plus the log-determinant. A class-conditional flow gives log p(x | y) for
    /// `classes` (one per image), or without them the marginal log Σ_y p(y)·p(x | y) under
    /// uniform classes.
    public func logDensity(_ x: Tensor, classes: [Int]? = nil) -> Tensor {
        let (z, logDeterminant) = forward(x)
        return baseLogDensity(z, classes: classes) + logDeterminant
    }

    /// log N(z; 0, I), or for a class-conditional base log N(z; μ_y, σ_y²) of `classes`, or
    /// their uniform mixture over the classes: `[N]`.
    public func baseLogDensity(_ z: Tensor, classes: [Int]?) -> Tensor {
        let constant = Float(z.shape[1]) * Float(0.5 * Foundation.log(2 * Double.pi))
        guard let (means, logStds) = classBase else {
            require(classes == nil, "RealNVPFlow: classes given to an unconditional flow")
            return z.squared().sum(axes: [1]) * -0.5 - constant
        }
        guard let classes else {
            let perClass = classLogDensities(z)
            return perClass.logSumExp(axes: [1]) - Float(Foundation.log(Double(means.shape[0])))
        }
        require(classes.count == z.shape[0] && classes.allSatisfy { $0 >= 0 && $0 < means.shape[0] },
                "RealNVPFlow: \(classes.count) classes for \(z.shape[0]) latents, each in 0..<\(means.shape[0])")
        let mean = means.gathering(rows: classes), logStd = logStds.gathering(rows: classes)
        return ((z - mean) * (-logStd).exp()).squared().sum(axes: [1]) * -0.5 - logStd.sum(axes: [1]) - constant
    }

    /// log N(z; μ_k, σ_k²) for every class k of a class-conditional base: `[N, classes]`.
    public func classLogDensities(_ z: Tensor) -> Tensor {
        guard let (means, logStds) = classBase else { preconditionFailure("RealNVPFlow: not class-conditional") }
        let (k, d) = (means.shape[0], z.shape[1])
        // Σ_d (z − μ_k)²/σ_k² = z²·(1/σ_k²) − 2·z·(μ_k/σ_k²) + Σ μ_k²/σ_k², as matrix products: no [N, K, D] tensor
        let precision = (logStds * -2).exp()
        let quadratic = z.squared().matmul(precision, transposeB: true) - z.matmul(means * precision, transposeB: true) * 2
            + (means.squared() * precision).sum(axes: [1]).reshaped([1, k])
        return quadratic * -0.5 - logStds.sum(axes: [1]).reshaped([1, k]) - Float(d) * Float(0.5 * Foundation.log(2 * Double.pi))
    }
}
