import GenCore

/// Ancestral sampling of DDPM (Ho et al. 2020, Algorithm 2), between any two grid times of any
/// ``NoiseProcess``: `x_s ~ N(μ̃(xt, x̂), σ²)` with the Gaussian posterior `q(x_s | xt, x̂)`
/// (Eq. 6–7; in Kingma et al. 2021's form, Eq. 26–28, which holds for every process) and the
/// variance fixed small (the posterior's, β̃) or large (the forward step's, β).
public struct DDPMSampler: Sampler {
    /// The two fixed variances of Ho et al. 2020, §3.2.
    public enum Variance: String, Codable, Sendable, CaseIterable {
        /// β̃ₜ = (1 − ᾱₛ)/(1 − ᾱₜ)·βₜ, optimal for deterministic data.
        case small
        /// βₜ, optimal for data ~ N(0, I).
        case large
    }

    /// Steps from t = 1 to 0; equal to the schedule's T for the original sampler.
    public var steps: Int
    public var variance: Variance
    /// Clip the predicted data to [−1, 1] before using it.
    public var clipData: Bool

    public init(steps: Int = 1000, variance: Variance = .small, clipData: Bool = true) {
        self.steps = steps
        self.variance = variance
        self.clipData = clipData
    }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }

    public func start(from noise: Tensor) -> Tensor { noise }

    public func step(_ xt: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        let process = denoiser.process
        // 1. predict the clean image
        var (_, data) = denoiser.predict(xt, at: t)
        if clipData { data = data.clamped(-1, 1) }
        // 2. the posterior q(x_s | xt, x̂): xt = a·x_s + √v·z is the forward step from s to t
        let (a, v) = process.transition(from: s, to: t)
        let sigmaT2 = process.sigma(t) * process.sigma(t), sigmaS2 = process.sigma(s) * process.sigma(s)
        let mean = data * Float(process.alpha(s) * v / sigmaT2) + xt * Float(a * sigmaS2 / sigmaT2)
        guard s > 0 else { return mean }
        // 3. add noise of the chosen variance
        let variance = self.variance == .small ? v * sigmaS2 / sigmaT2 : v
        return mean + Tensor.randomNormal(xt.shape, using: generator) * Float(variance.squareRoot())
    }

    public func images(_ xt: Tensor) -> Tensor { xt }
}
