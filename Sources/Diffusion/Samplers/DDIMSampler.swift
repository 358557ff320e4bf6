import GenCore

/// DDIM (Song, Meng & Ermon 2021, Eq. 12) over any number of steps:
/// `x_s = √ᾱₛ·x̂ + √(1 − ᾱₛ − σ²)·ε̂ + σ·z`, `σ = η·√((1 − ᾱₛ)/(1 − ᾱₜ))·√(1 − ᾱₜ/ᾱₛ)`.
/// η = 0 is deterministic; η = 1 matches DDPM's ancestral sampler with the small variance.
public struct DDIMSampler: Sampler {
    public var steps: Int
    public var eta: Double
    /// Clip the predicted data to [−1, 1] (and re-derive the noise from it).
    public var clipData: Bool

    public init(steps: Int = 50, eta: Double = 0, clipData: Bool = true) {
        self.steps = steps
        self.eta = eta
        self.clipData = clipData
    }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }

    public func start(from noise: Tensor) -> Tensor { noise }

    public func step(_ xt: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        let schedule = denoiser.schedule
        let alphaBarT = schedule.alphaBar(t), alphaBarS = schedule.alphaBar(s)
        // 1. predict the clean image and the noise
        var (noise, data) = denoiser.predict(xt, at: t)
        if clipData {
            data = data.clamped(-1, 1)
            noise = (xt - data * Float(alphaBarT.squareRoot())) * Float(1 / (1 - alphaBarT).squareRoot())
        }
        // 2. Eq. 12: point at time s along the predicted direction, plus fresh noise of size σ
        let sigma = eta * ((1 - alphaBarS) / (1 - alphaBarT)).squareRoot() * (1 - alphaBarT / alphaBarS).squareRoot()
        let direction = max(0, 1 - alphaBarS - sigma * sigma).squareRoot()
        var next = data * Float(alphaBarS.squareRoot()) + noise * Float(direction)
        if sigma > 0 && s > 0 { next = next + Tensor.randomNormal(xt.shape, using: generator) * Float(sigma) }
        return next
    }

    public func images(_ xt: Tensor) -> Tensor { xt }
}
