import GenCore

/// The coefficients of a ``NoiseProcess`` at some times, as tensors that broadcast against `xt`:
/// `xt = alpha·data + sigma·noise`, and a velocity prediction is `velocityNoise·noise + velocityData·data`.
public struct PathCoefficients {
    public var alpha: Tensor
    public var sigma: Tensor
    public var velocityNoise: Tensor
    public var velocityData: Tensor

    public init(alpha: Tensor, sigma: Tensor, velocityNoise: Tensor, velocityData: Tensor) {
        self.alpha = alpha
        self.sigma = sigma
        self.velocityNoise = velocityNoise
        self.velocityData = velocityData
    }

    /// `α·a − σ·b`, the determinant of `[α σ; b a]`: the data implied by a velocity error is
    /// −σ/det times it, the noise α/det times it (never 0 for a process that can be sampled).
    public var determinant: Tensor { alpha * velocityNoise - sigma * velocityData }

    /// A variance-preserving process's coefficients (α² + σ² = 1, Salimans & Ho's velocity).
    public init(alpha: Tensor, sigma: Tensor) {
        self.init(alpha: alpha, sigma: sigma, velocityNoise: alpha, velocityData: -sigma)
    }
}

/// What a denoising network predicts from `xt = alpha·data + sigma·noise`: the noise ε, the
/// clean data, or a velocity `v = a·noise + b·data` whose coefficients the process fixes (for
/// DDPM Salimans & Ho's `α·ε − σ·data`, for flow matching `noise − data`). Every conversion
/// between them lives here: `xt` and any one prediction determine the other two, since the
/// 2×2 system `[α σ; b a]·[data; noise] = [xt; v]` has determinant `α·a − σ·b ≠ 0`.
public enum Prediction: String, Codable, Sendable, CaseIterable {
    case noise, data, velocity

    /// The target the network should output, given the true `data` and `noise`.
    public static func target(_ kind: Prediction, data: Tensor, noise: Tensor, _ c: PathCoefficients) -> Tensor {
        switch kind {
        case .noise: return noise
        case .data: return data
        case .velocity: return c.velocityNoise * noise + c.velocityData * data
        }
    }

    /// The noise implied by a prediction of `kind` at `xt`.
    public static func noise(from output: Tensor, _ kind: Prediction, xt: Tensor, _ c: PathCoefficients) -> Tensor {
        switch kind {
        case .noise: return output
        case .data: return (xt - c.alpha * output) / c.sigma                  // ε = (xt − α·x̂)/σ
        case .velocity:                                                       // ε = (α·v − b·xt)/det
            return (c.alpha * output - c.velocityData * xt) / c.determinant
        }
    }

    /// The clean data implied by a prediction of `kind` at `xt`.
    public static func data(from output: Tensor, _ kind: Prediction, xt: Tensor, _ c: PathCoefficients) -> Tensor {
        switch kind {
        case .noise: return (xt - c.sigma * output) / c.alpha                 // x̂ = (xt − σ·ε)/α
        case .data: return output
        case .velocity:                                                       // x̂ = (a·xt − σ·v)/det
            return (c.velocityNoise * xt - c.sigma * output) / c.determinant
        }
    }

    /// The velocity (in the process's own coefficients) implied by a prediction of `kind` at `xt`.
    public static func velocity(from output: Tensor, _ kind: Prediction, xt: Tensor, _ c: PathCoefficients) -> Tensor {
        if kind == .velocity { return output }
        return c.velocityNoise * noise(from: output, kind, xt: xt, c) + c.velocityData * data(from: output, kind, xt: xt, c)
    }

    /// The score ∇ log p(xt) = −ε/σ.
    public static func score(from output: Tensor, _ kind: Prediction, xt: Tensor, _ c: PathCoefficients) -> Tensor {
        -noise(from: output, kind, xt: xt, c) / c.sigma
    }
}

/// Anything that maps noisy images and times to a prediction: a trained network, or an exact
/// analytic denoiser in tests.
public protocol DenoisingNetwork: AnyObject {
    /// - Parameters: xt `[N, …]` (images `[N, C, H, W]`), times `[N]` in [0, 1]. Returns the shape of `xt`.
    ///   A class-conditional network answers for the null class (unconditionally).
    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor
    /// The classes of a class-conditional network (labels 0…classCount − 1, and `classCount`
    /// the null class); nil (the default) for an unconditional one.
    var classCount: Int? { get }
    /// The prediction for images of `classes`, one per image (nil: the null class). The
    /// default, for unconditional networks, takes nil only.
    func callAsFunction(_ xt: Tensor, times: Tensor, classes: [Int]?) -> Tensor
}

extension DenoisingNetwork {
    public var classCount: Int? { nil }
    public func callAsFunction(_ xt: Tensor, times: Tensor, classes: [Int]?) -> Tensor {
        require(classes == nil, "DenoisingNetwork: classes given to an unconditional network")
        return self(xt, times: times)
    }
}

extension UNet: DenoisingNetwork {}

/// A network together with its prediction type and noise process: it answers "what noise,
/// data, score or velocity is in `xt` at time t". Samplers, losses and the likelihood talk only
/// to this, never to a concrete network, schedule or SDE.
///
/// The network sees `xt / √(α² + σ²)`, so its input has unit scale for unit-scale data under any
/// process (for variance-preserving processes the factor is 1 and the input is `xt` itself).
///
/// A denoiser ``conditioned(on:guidance:)`` class labels answers for those classes, with
/// classifier-free guidance (Ho & Salimans 2022) when `guidance` is not 0: every sampler, built
/// in or custom, draws class-conditional, guided images through it without knowing.
public final class Denoiser {
    public let network: any DenoisingNetwork
    public let prediction: Prediction
    public let process: any NoiseProcess
    /// The classes every prediction is for, and the guidance; nil: unconditional (a
    /// conditional network's null class).
    public let condition: Condition?
    /// Network evaluations since creation (or the last reset): the NFE of a sampling run. A
    /// conditioned denoiser counts with the one it came from.
    public var evaluations: Int {
        get { counter.value }
        set { counter.value = newValue }
    }
    private let counter: Counter
    /// Whether ``predict(_:at:)`` clips the predicted data to [−1, 1] (and re-derives the
    /// noise from the clipped data), for every sampler that asks it: images in [−1, 1] stay
    /// there. Off by default; DDPM's and DDIM's built-in samplers clip on their own
    /// (``DDPMSampler/clipData``, ``DDIMSampler/clipData``), the others do not.
    public var clipsData = false

    /// Class labels and the classifier-free guidance weight of a conditioned ``Denoiser``.
    public struct Condition: Sendable, Equatable {
        /// One class per image of the batches it denoises.
        public var labels: [Int]
        /// w of ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅); 0: the plain conditional model.
        public var guidance: Float
    }

    final class Counter { var value = 0 }

    public init(network: any DenoisingNetwork, prediction: Prediction, process: any NoiseProcess) {
        self.network = network
        self.prediction = prediction
        self.process = process
        condition = nil
        counter = Counter()
    }

    private init(_ base: Denoiser, condition: Condition) {
        network = base.network
        prediction = base.prediction
        process = base.process
        clipsData = base.clipsData
        self.condition = condition
        counter = base.counter
    }

    /// This denoiser for images of `labels` (one per image of every batch it is given), with
    /// classifier-free guidance `guidance` (0: the plain conditional model).
    /// - Precondition: the network is class-conditional and knows every label.
    public func conditioned(on labels: [Int], guidance: Float = 0) -> Denoiser {
        guard let classes = network.classCount else { preconditionFailure("Denoiser.conditioned: the network is not class-conditional") }
        require(labels.allSatisfy { $0 >= 0 && $0 < classes } && guidance.isFinite, "Denoiser.conditioned: labels must be in 0..<\(classes), guidance finite")
        return Denoiser(self, condition: Condition(labels: labels, guidance: guidance))
    }

    /// The network's raw output for `xt` at per-sample `times` (for losses; gradients flow):
    /// for images of `labels` when given (training: the null class among them for dropped
    /// labels), else for the denoiser's ``condition``, guided.
    ///
    /// Guidance combines raw outputs, `(1 + w)·out(x, c) − w·out(x, ∅)`: noise, data, velocity
    /// and score are each an affine function of the output with the same coefficients at
    /// (xt, t), and the weights sum to 1, so this is ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅) and
    /// equally its data, velocity and score forms. Both halves go through the network as one
    /// batch.
    public func output(_ xt: Tensor, times: [Double], labels: [Int]? = nil) -> Tensor {
        evaluations += 1
        let c = process.coefficients(times, rank: xt.rank)
        let scale = (c.alpha.squared() + c.sigma.squared()).sqrt()
        let input = scale.scalars.allSatisfy { abs($0 - 1) < 1e-6 } ? xt : xt / scale
        let t = Tensor(times.map(Float.init))
        if let labels { return network(input, times: t, classes: labels) }
        guard let condition, let classes = network.classCount else { return network(input, times: t) }
        let count = xt.shape[0]
        require(condition.labels.count == count, "Denoiser: conditioned on \(condition.labels.count) labels, given \(count) images")
        guard condition.guidance != 0 else { return network(input, times: t, classes: condition.labels) }
        evaluations += 1  // the unconditional half: two network passes per image
        let both = network(Tensor.concatenate([input, input], axis: 0), times: Tensor.concatenate([t, t], axis: 0),
                           classes: condition.labels + Array(repeating: classes, count: count))
        let conditional = both.slice(axis: 0, start: 0, count: count), unconditional = both.slice(axis: 0, start: count, count: count)
        return conditional * (1 + condition.guidance) - unconditional * condition.guidance
    }

    /// The network's raw output with all samples at time `t`, and the coefficients there.
    public func output(_ xt: Tensor, at t: Double) -> (output: Tensor, coefficients: PathCoefficients) {
        (output(xt, times: Array(repeating: t, count: xt.shape[0])), process.coefficients(at: t))
    }

    /// The predicted noise and data at `xt`, all samples at time `t` (the data clipped to
    /// [−1, 1] when ``clipsData`` is set).
    public func predict(_ xt: Tensor, at t: Double) -> (noise: Tensor, data: Tensor) {
        let (output, c) = output(xt, at: t)
        let data = Prediction.data(from: output, prediction, xt: xt, c)
        guard clipsData else { return (Prediction.noise(from: output, prediction, xt: xt, c), data) }
        let clipped = data.clamped(-1, 1)
        let sigma = process.sigma(t)
        guard sigma > 0 else { return (Prediction.noise(from: output, prediction, xt: xt, c), clipped) }
        return ((xt - clipped * Float(process.alpha(t))) * Float(1 / sigma), clipped)
    }

    /// The score ∇ log p_t(xt) = −ε̂/σ.
    public func score(_ xt: Tensor, at t: Double) -> Tensor {
        let (output, c) = output(xt, at: t)
        return Prediction.score(from: output, prediction, xt: xt, c)
    }

    /// The probability-flow ODE's velocity `dxt/dt = α'·x̂ + σ'·ε̂` (for a Gaussian path this is
    /// `f·x − ½g²·score`, Song et al. 2021, Eq. 13; for flow matching the learned velocity).
    public func velocity(_ xt: Tensor, at t: Double) -> Tensor {
        let (output, c) = output(xt, at: t)
        let da = Float(process.alphaDerivative(t)), ds = Float(process.sigmaDerivative(t))
        if prediction == .velocity {
            let (a, b) = process.velocityCoefficients(t)
            if abs(a - Double(ds)) < 1e-12 && abs(b - Double(da)) < 1e-12 { return output }
        }
        return Prediction.data(from: output, prediction, xt: xt, c) * da + Prediction.noise(from: output, prediction, xt: xt, c) * ds
    }
}
