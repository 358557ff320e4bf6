import Foundation
import GenCore

/// The DDPM training loss (Ho et al. 2020, Eq. 14, "L_simple"), for any prediction type: draw a
/// step k uniformly from 1…T and noise ε, form `xt = α·data + σ·ε`, and return the mean squared
/// error between the network's output and its target (ε, data or velocity).
/// - Parameters:
///   - diffusionSteps: T; the denoiser's process gives α and σ at `k/T`
///   - data: clean images `[N, C, H, W]` in [−1, 1]
///   - generator: draws the steps and the noise
///   - labels: the images' classes for a class-conditional network (the null class for dropped ones)
///   - minSNRGamma: weights each image's error by min-SNR-γ (``minSNRWeights(_:prediction:gamma:)``); nil: equal weights
///   - edm: draws the steps at EDM's log-normal noise levels (the nearest step of each) and
///     weights the errors by EDM's λ(σ) (``EDMTraining``); nil: uniform steps
public func ddpmLoss(denoiser: Denoiser, diffusionSteps: Int, data: Tensor, generator: RandomGenerator, labels: [Int]? = nil,
                     minSNRGamma: Float? = nil, edm: EDMTraining? = nil) -> Tensor {
    let batch = data.shape[0]
    let steps = Double(diffusionSteps)
    let times = edm.map { edm in
        edm.times(batch, process: denoiser.process, generator: generator).map { min(max(($0 * steps).rounded(), 1), steps) / steps }
    } ?? (0..<batch).map { _ in Double(1 + generator.nextInt(below: diffusionSteps)) / steps }
    let noise = Tensor.randomNormal(data.shape, using: generator)
    return regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, labels: labels, minSNRGamma: minSNRGamma, edm: edm)
}

/// Min-SNR-γ loss weights (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR
/// Weighting Strategy", Sec. 3.4): the data-space error at signal-to-noise ratio SNR = α²/σ²
/// is weighted by min(SNR, γ), so that the nearly clean times, easy and plentiful, stop
/// dominating the gradient. On each prediction's own error, which is the data-space error
/// times a known factor, that is
///   noise:    min(SNR, γ) / SNR
///   data:     min(SNR, γ)
///   velocity: min(SNR, γ) · σ² / det², det = α·a − σ·b (on a variance-preserving process
///             min(SNR, γ) / (SNR + 1), the paper's)
/// One weight per time, `[N, 1, …]` like the coefficients; γ = 5 in the paper.
public func minSNRWeights(_ c: PathCoefficients, prediction: Prediction, gamma: Float) -> Tensor {
    withoutGradients {
        let snr = (c.alpha * c.alpha) / (c.sigma * c.sigma).clamped(1e-20)
        let clipped = snr.clamped(-.infinity, gamma)
        switch prediction {
        case .noise: return clipped / snr.clamped(1e-20)
        case .data: return clipped
        case .velocity:
            return clipped * (c.sigma * c.sigma) / c.determinant.squared()
        }
    }
}

/// Denoising score matching with continuous time (Song et al. 2021, Eq. 7) and the paper's
/// weighting λ(t) = σ(t)²: with `t ~ U(ε, 1)`, `xt = α·data + σ·ε` and the score
/// `s = −ε̂/σ`, `λ·‖s + ε/σ‖² = ‖ε̂ − ε‖²`, so the loss is the mean squared error of the
/// implied noise (averaged rather than summed over dimensions, a constant factor).
///
/// With `minSNRGamma` each image's noise error is weighted by min(SNR, γ)/SNR instead (Hang et al. 2023);
/// with `edm` the times are EDM's log-normal noise levels and the weights its λ(σ) (``EDMTraining``).
public func denoisingScoreMatchingLoss(denoiser: Denoiser, data: Tensor, generator: RandomGenerator, labels: [Int]? = nil,
                                       minSNRGamma: Float? = nil, edm: EDMTraining? = nil) -> Tensor {
    let batch = data.shape[0]
    let epsilon = denoiser.process.minimumTime
    let times = edm?.times(batch, process: denoiser.process, generator: generator)
        ?? (0..<batch).map { _ in epsilon + (1 - epsilon) * Double(generator.nextUniform()) }
    let noise = Tensor.randomNormal(data.shape, using: generator)
    let xt = noisy(data, noise, times, denoiser.process)
    let output = denoiser.output(xt, times: times, labels: labels)
    let c = denoiser.process.coefficients(times, rank: data.rank)
    let error = (Prediction.noise(from: output, denoiser.prediction, xt: xt, c) - noise).squared()
    if let edm { return (error * edm.weights(c, prediction: .noise)).mean() }
    guard let minSNRGamma else { return error.mean() }
    return (error * minSNRWeights(c, prediction: .noise, gamma: minSNRGamma)).mean()
}

/// EDM's training recipe (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
/// Generative Models", Sec. 5 and Table 1): noise levels drawn log-normal, ln σ ~ N(P_mean, P_std²),
/// and each image's error in data space weighted by λ(σ) = (σ² + σ_data²)/(σ·σ_data)². σ is the
/// process's noise relative to its signal, σ(t)/α(t), the variance-exploding form EDM writes
/// every process in (its Eq. 4 with s(t) = α).
///
/// On each prediction's own error, which is the data-space error times a known factor (the data
/// error is −σ/α times the noise error, −σ/det times the velocity error), the weight is
/// `(σ² + σ_data²·α²)/σ_data²` over α² (noise), σ² (data) or det² (velocity), det = α·a − σ·b.
///
/// EDM's preconditioned network is, at σ_data = 1 on a variance-preserving process (`ddpm`,
/// `sde --sde vp`), the v-prediction network: its input scaling c_in = 1/√(σ² + 1) is the VP
/// process's own `xt`, and its output F = (σ·data − noise)/√(σ² + 1) is −v; λ(σ) then weights
/// the velocity error by exactly 1. So `--prediction velocity` with `--edm --edm-sigma-data 1` is
/// EDM's parametrization and loss; the other predictions get EDM's noise levels and weights.
public struct EDMTraining: Codable, Sendable, Equatable {
    /// P_mean, the mean of ln σ (the paper's −1.2).
    public var meanLogSigma: Double
    /// P_std, the standard deviation of ln σ (the paper's 1.2).
    public var stdLogSigma: Double
    /// σ_data, the standard deviation of the data (the paper's 0.5 for images in [−1, 1]).
    public var sigmaData: Double

    public init(meanLogSigma: Double = -1.2, stdLogSigma: Double = 1.2, sigmaData: Double = 0.5) {
        self.meanLogSigma = meanLogSigma
        self.stdLogSigma = stdLogSigma
        self.sigmaData = sigmaData
    }

    /// Throws unless the three numbers are finite and the two deviations positive.
    public func validate() throws(ConfigurationError) {
        guard meanLogSigma.isFinite, stdLogSigma > 0, stdLogSigma.isFinite, sigmaData > 0, sigmaData.isFinite else {
            throw .settings("EDM needs a finite P_mean and positive, finite P_std and σ_data (--edm-sigma-data)")
        }
    }

    /// `count` times of `process` whose noise levels σ(t)/α(t) are log-normal: each level is
    /// drawn, then its time found by bisection (σ/α grows with t), within the process's
    /// [minimumTime, 1], where levels beyond its range stop.
    public func times(_ count: Int, process: any NoiseProcess, generator: RandomGenerator) -> [Double] {
        let low = process.minimumTime
        func level(_ t: Double) -> Double { process.sigma(t) / process.alpha(t) }
        return (0..<count).map { _ in
            let target = Foundation.exp(meanLogSigma + stdLogSigma * Double(generator.nextNormal()))
            var (lower, upper) = (low, 1.0)
            if level(lower) >= target { return lower }
            if !(level(upper) > target) { return upper }
            for _ in 0..<60 {
                let middle = 0.5 * (lower + upper)
                if level(middle) < target { lower = middle } else { upper = middle }
            }
            return 0.5 * (lower + upper)
        }
    }

    /// The weights on the error of a network predicting `prediction`, `[N, 1, …]` like the
    /// coefficients, that make it λ(σ) times the error of the data it implies.
    public func weights(_ c: PathCoefficients, prediction: Prediction) -> Tensor {
        withoutGradients {
            let d2 = Float(sigmaData * sigmaData)
            let numerator = (c.sigma * c.sigma + c.alpha * c.alpha * d2) / d2
            switch prediction {
            case .noise: return numerator / (c.alpha * c.alpha)
            case .data: return numerator / (c.sigma * c.sigma).clamped(1e-20)
            case .velocity: return numerator / c.determinant.squared()
            }
        }
    }
}

/// The conditional flow matching loss (Lipman et al. 2023, Eq. 9; Tong et al. 2023 for the
/// coupling): pair data with noise by `coupling`, draw `t ~ U(0, 1)`, form
/// `xt = (1 − t)·data + t·noise` (the denoiser's process) and regress the network's output on
/// the target of its prediction type (for velocity, `noise − data`).
///
/// `timeSampling` draws t: uniform, or logit-normal (Esser et al. 2024), which spends the
/// training on the middle of the path, where the velocity is hardest to predict.
public func flowMatchingLoss(denoiser: Denoiser, data: Tensor, coupling: Coupling, generator: RandomGenerator, labels: [Int]? = nil,
                             timeSampling: TimeSampling = .uniform) -> Tensor {
    let batch = data.shape[0]
    let times = timeSampling.draw(batch, generator: generator)
    let noise = coupling.pair(data: data, noise: Tensor.randomNormal(data.shape, using: generator))
    return regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, labels: labels)
}

/// `xt = α·data + σ·noise` with per-sample times.
func noisy(_ data: Tensor, _ noise: Tensor, _ times: [Double], _ process: any NoiseProcess) -> Tensor {
    let c = process.coefficients(times, rank: data.rank)
    return c.alpha * data + c.sigma * noise
}

/// How flow matching draws its times.
public enum TimeSampling: String, Codable, Sendable, CaseIterable {
    /// t ~ U(0, 1).
    case uniform
    /// t = sigmoid(n), n ~ N(0, 1): Esser et al. 2024 ("Scaling Rectified Flow Transformers",
    /// Sec. 3.1, logit-normal with m = 0, s = 1, their best in short and long runs).
    case logitNormal = "logit-normal"

    /// `count` times in (0, 1).
    public func draw(_ count: Int, generator: RandomGenerator) -> [Double] {
        switch self {
        case .uniform: return (0..<count).map { _ in Double(generator.nextUniform()) }
        case .logitNormal: return (0..<count).map { _ in 1 / (1 + Foundation.exp(-Double(generator.nextNormal()))) }
        }
    }
}

/// The mean squared error between the network's output at `xt` and its target, each image's
/// weighted by min-SNR-γ when `minSNRGamma` is given, or by EDM's λ(σ) when `edm` is.
public func regressionLoss(denoiser: Denoiser, data: Tensor, noise: Tensor, times: [Double], labels: [Int]? = nil,
                           minSNRGamma: Float? = nil, edm: EDMTraining? = nil) -> Tensor {
    let c = denoiser.process.coefficients(times, rank: data.rank)
    let xt = c.alpha * data + c.sigma * noise
    let target = Prediction.target(denoiser.prediction, data: data, noise: noise, c)
    let error = (denoiser.output(xt, times: times, labels: labels) - target).squared()
    if let edm { return (error * edm.weights(c, prediction: denoiser.prediction)).mean() }
    guard let minSNRGamma else { return error.mean() }
    return (error * minSNRWeights(c, prediction: denoiser.prediction, gamma: minSNRGamma)).mean()
}

/// The labels a class-conditional diffusion model trains on: each replaced by the null class
/// (`classes`) with probability `dropout`, so that one network learns both the conditional and
/// the unconditional model (Ho & Salimans 2022, Algorithm 1). One uniform draw per label.
public func droppingLabels(_ labels: [Int], classes: Int, dropout: Double, generator: RandomGenerator) -> [Int] {
    labels.map { Double(generator.nextUniform()) < dropout ? classes : $0 }
}
