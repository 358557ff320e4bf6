import GenCore

/// DDIM (Song, Meng & Ermon 2021, Eq. 12) over any number of steps of any ``NoiseProcess``:
/// `x_s = αₛ·x̂ + √(σₛ² − c²)·ε̂ + c·z`, with `c = η·σ̃` and σ̃ the ancestral sampler's small
/// standard deviation. η = 0 is deterministic; η = 1 matches ancestral sampling.
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
        let process = denoiser.process
        let alphaT = process.alpha(t), sigmaT = process.sigma(t), alphaS = process.alpha(s), sigmaS = process.sigma(s)
        // 1. predict the clean image and the noise
        var (noise, data) = denoiser.predict(xt, at: t)
        if clipData {
            data = data.clamped(-1, 1)
            noise = (xt - data * Float(alphaT)) * Float(1 / sigmaT)
        }
        // 2. Eq. 12: point at time s along the predicted direction, plus fresh noise of size c
        let (_, v) = process.transition(from: s, to: t)
        let c = eta * (v * sigmaS * sigmaS / (sigmaT * sigmaT)).squareRoot()
        let direction = max(0, sigmaS * sigmaS - c * c).squareRoot()
        var next = data * Float(alphaS) + noise * Float(direction)
        if c > 0 && s > 0 { next = next + Tensor.randomNormal(xt.shape, using: generator) * Float(c) }
        return next
    }

    public func images(_ xt: Tensor) -> Tensor { xt }
}
