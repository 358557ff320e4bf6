import GenCore

/// Ancestral sampling of DDPM (Ho et al. 2020, Algorithm 2), between any two grid times:
/// `x_s ~ N(μ̃(xt, x̂), σ²)` with the posterior mean of Eq. 7 and the variance fixed small
/// (β̃, the posterior's) or large (β).
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
        let schedule = denoiser.schedule
        // 1. predict the clean image
        var (_, data) = denoiser.predict(xt, at: t)
        if clipData { data = data.clamped(-1, 1) }
        // 2. the posterior q(x_s | xt, x̂) between the two times (Eq. 6–7 with ᾱ(t)/ᾱ(s) as one step)
        let alphaBarT = schedule.alphaBar(t), alphaBarS = schedule.alphaBar(s)
        let beta = 1 - alphaBarT / alphaBarS
        let dataCoefficient = alphaBarS.squareRoot() * beta / (1 - alphaBarT)
        let xtCoefficient = (alphaBarT / alphaBarS).squareRoot() * (1 - alphaBarS) / (1 - alphaBarT)
        let mean = data * Float(dataCoefficient) + xt * Float(xtCoefficient)
        guard s > 0 else { return mean }
        // 3. add noise of the chosen variance
        let variance = self.variance == .small ? (1 - alphaBarS) / (1 - alphaBarT) * beta : beta
        return mean + Tensor.randomNormal(xt.shape, using: generator) * Float(variance.squareRoot())
    }

    public func images(_ xt: Tensor) -> Tensor { xt }
}
