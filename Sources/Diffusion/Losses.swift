import GenCore

/// The DDPM training loss (Ho et al. 2020, Eq. 14, "L_simple"), for any prediction type: draw a
/// step k uniformly from 1…T and noise ε, form `xt = α·data + σ·ε`, and return the mean squared
/// error between the network's output and its target (ε, data or velocity).
/// - Parameters:
///   - diffusionSteps: T; the denoiser's process gives α and σ at `k/T`
///   - data: clean images `[N, C, H, W]` in [−1, 1]
///   - generator: draws the steps and the noise
///   - labels: the images' classes for a class-conditional network (the null class for dropped ones)
public func ddpmLoss(denoiser: Denoiser, diffusionSteps: Int, data: Tensor, generator: RandomGenerator, labels: [Int]? = nil) -> Tensor {
    let batch = data.shape[0]
    let times = (0..<batch).map { _ in Double(1 + generator.nextInt(below: diffusionSteps)) / Double(diffusionSteps) }
    let noise = Tensor.randomNormal(data.shape, using: generator)
    return regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, labels: labels)
}

/// Denoising score matching with continuous time (Song et al. 2021, Eq. 7) and the paper's
/// weighting λ(t) = σ(t)²: with `t ~ U(ε, 1)`, `xt = α·data + σ·ε` and the score
/// `s = −ε̂/σ`, `λ·‖s + ε/σ‖² = ‖ε̂ − ε‖²`, so the loss is the mean squared error of the
/// implied noise (averaged rather than summed over dimensions, a constant factor).
public func denoisingScoreMatchingLoss(denoiser: Denoiser, data: Tensor, generator: RandomGenerator, labels: [Int]? = nil) -> Tensor {
    let batch = data.shape[0]
    let epsilon = denoiser.process.minimumTime
    let times = (0..<batch).map { _ in epsilon + (1 - epsilon) * Double(generator.nextUniform()) }
    let noise = Tensor.randomNormal(data.shape, using: generator)
    let xt = noisy(data, noise, times, denoiser.process)
    let output = denoiser.output(xt, times: times, labels: labels)
    let c = denoiser.process.coefficients(times, rank: data.rank)
    return (Prediction.noise(from: output, denoiser.prediction, xt: xt, c) - noise).squared().mean()
}

/// The conditional flow matching loss (Lipman et al. 2023, Eq. 9; Tong et al. 2023 for the
/// coupling): pair data with noise by `coupling`, draw `t ~ U(0, 1)`, form
/// `xt = (1 − t)·data + t·noise` (the denoiser's process) and regress the network's output on
/// the target of its prediction type (for velocity, `noise − data`).
public func flowMatchingLoss(denoiser: Denoiser, data: Tensor, coupling: Coupling, generator: RandomGenerator, labels: [Int]? = nil) -> Tensor {
    let batch = data.shape[0]
    let times = (0..<batch).map { _ in Double(generator.nextUniform()) }
    let noise = coupling.pair(data: data, noise: Tensor.randomNormal(data.shape, using: generator))
    return regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, labels: labels)
}

/// `xt = α·data + σ·noise` with per-sample times.
func noisy(_ data: Tensor, _ noise: Tensor, _ times: [Double], _ process: any NoiseProcess) -> Tensor {
    let c = process.coefficients(times, rank: data.rank)
    return c.alpha * data + c.sigma * noise
}

/// The mean squared error between the network's output at `xt` and its target.
func regressionLoss(denoiser: Denoiser, data: Tensor, noise: Tensor, times: [Double], labels: [Int]? = nil) -> Tensor {
    let c = denoiser.process.coefficients(times, rank: data.rank)
    let xt = c.alpha * data + c.sigma * noise
    let target = Prediction.target(denoiser.prediction, data: data, noise: noise, c)
    return (denoiser.output(xt, times: times, labels: labels) - target).squared().mean()
}

/// The labels a class-conditional diffusion model trains on: each replaced by the null class
/// (`classes`) with probability `dropout`, so that one network learns both the conditional and
/// the unconditional model (Ho & Salimans 2022, Algorithm 1). One uniform draw per label.
public func droppingLabels(_ labels: [Int], classes: Int, dropout: Double, generator: RandomGenerator) -> [Int] {
    labels.map { Double(generator.nextUniform()) < dropout ? classes : $0 }
}
