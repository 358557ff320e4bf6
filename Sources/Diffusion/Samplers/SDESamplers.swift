import Foundation
import GenCore

/// Euler–Maruyama on the reverse SDE `dx = [f(t)·x − g(t)²·∇log p_t(x)] dt + g(t) dw̄`
/// (Song et al. 2021, Eq. 6), f and g taken from the ``NoiseProcess`` so it serves every SDE.
/// The last step (to t = 0) adds no noise.
public struct EulerMaruyamaSampler: Sampler {
    public var steps: Int

    public init(steps: Int = 1000) { self.steps = steps }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }
    public func start(from noise: Tensor) -> Tensor { noise }
    public func images(_ x: Tensor) -> Tensor { x }

    public func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        let process = denoiser.process
        let f = process.driftCoefficient(t), g2 = process.diffusionSquared(t), dt = s - t
        let score = denoiser.score(x, at: t)
        let mean = x * Float(1 + f * dt) - score * Float(g2 * dt)
        guard s > 0 else { return mean }
        return mean + Tensor.randomNormal(x.shape, using: generator) * Float((g2 * -dt).squareRoot())
    }
}

/// The reverse-diffusion predictor (Song et al. 2021, Eq. 46): the forward process discretized
/// exactly between grid times, `xt = a·x_s + √v·z`, reversed as
/// `x_s = xt − (a − 1)·xt + v·∇log p_t(xt) + √v·z`. For VP this is DDPM's ancestral step with
/// the large variance; for VE it is SMLD's.
public struct ReverseDiffusionSampler: Sampler {
    public var steps: Int

    public init(steps: Int = 1000) { self.steps = steps }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }
    public func start(from noise: Tensor) -> Tensor { noise }
    public func images(_ x: Tensor) -> Tensor { x }

    public func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        reverseDiffusionStep(x, from: t, to: s, denoiser: denoiser, generator: generator)
    }
}

func reverseDiffusionStep(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
    let (a, v) = denoiser.process.transition(from: s, to: t)
    let score = denoiser.score(x, at: t)
    let mean = x * Float(2 - a) + score * Float(v)
    guard s > 0 else { return mean }
    return mean + Tensor.randomNormal(x.shape, using: generator) * Float(v.squareRoot())
}

/// Predictor–corrector sampling (Song et al. 2021, Algorithms 2–3): at every grid time, Langevin
/// corrector steps whose size comes from a target signal-to-noise ratio, then one predictor
/// step to the next time.
public struct PredictorCorrectorSampler: Sampler {
    public enum Predictor: String, Codable, Sendable, CaseIterable {
        case reverseDiffusion = "reverse-diffusion"
        case eulerMaruyama = "euler-maruyama"
    }

    public var steps: Int
    public var predictor: Predictor
    /// The corrector's signal-to-noise ratio r: step ε = 2·a·(r·‖z‖/‖∇log p‖)².
    public var signalToNoise: Double
    /// Langevin steps per grid time.
    public var correctorSteps: Int

    /// The paper's defaults: reverse diffusion, one corrector step, r = 0.16.
    public init(steps: Int = 1000, predictor: Predictor = .reverseDiffusion, signalToNoise: Double = 0.16, correctorSteps: Int = 1) {
        self.steps = steps
        self.predictor = predictor
        self.signalToNoise = signalToNoise
        self.correctorSteps = correctorSteps
    }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }
    public func start(from noise: Tensor) -> Tensor { noise }
    public func images(_ x: Tensor) -> Tensor { x }

    public func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        var x = x
        // 1. Langevin corrector at t (Algorithm 5); a = α_{t|s}² is 1 − β for VP and 1 for VE
        let a = pow(denoiser.process.transition(from: s, to: t).scale, 2)
        for _ in 0..<correctorSteps {
            let score = denoiser.score(x, at: t)
            let z = Tensor.randomNormal(x.shape, using: generator)
            let ratio = Double(perSampleNorm(z)) / max(Double(perSampleNorm(score)), 1e-12)
            let size = 2 * a * pow(signalToNoise * ratio, 2)
            x = x + score * Float(size) + z * Float((2 * size).squareRoot())
        }
        // 2. predictor from t to s
        switch predictor {
        case .reverseDiffusion:
            return reverseDiffusionStep(x, from: t, to: s, denoiser: denoiser, generator: generator)
        case .eulerMaruyama:
            return EulerMaruyamaSampler(steps: steps).step(x, from: t, to: s, denoiser: denoiser, generator: generator)
        }
    }

    /// The mean over the batch of each sample's Euclidean norm.
    private func perSampleNorm(_ x: Tensor) -> Float {
        x.squared().flattened().sum(axes: [1]).sqrt().mean().item
    }
}

/// Sampling by integrating the probability-flow ODE `dx/dt = f·x − ½g²·∇log p_t` (Song et al.
/// 2021, Eq. 13) from t = 1 to 0 with an ``ODESolver``: the deterministic sampler of every SDE
/// and of DDPM, and the sampler of flow matching (whose network gives the velocity itself).
///
/// Fixed-step methods take `steps` equal steps. Dormand–Prince adapts its steps to the
/// tolerances inside each of `steps` intervals (the intervals only pace the progress reports).
/// Where the score is singular at t = 0 (σ(0) = 0) the ODE stops at ``endTime`` (by default
/// 10⁻³, or the process's minimum time if later, as Song et al.'s sampler does) and the last
/// step returns the denoised prediction there (Tweedie's formula); where it is regular (flow
/// matching) the ODE runs to 0.
public struct ProbabilityFlowSampler: Sampler {
    public var method: ODESolver.Method
    public var steps: Int
    public var relativeTolerance: Double
    public var absoluteTolerance: Double
    /// Where integration stops; nil: the rule above.
    public var endTime: Double?

    public init(method: ODESolver.Method = .rk4, steps: Int = 50, relativeTolerance: Double = 1e-5, absoluteTolerance: Double = 1e-5,
                endTime: Double? = nil) {
        self.method = method
        self.steps = steps
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.endTime = endTime
    }

    /// Where integration stops for `process`.
    public func end(for process: any NoiseProcess) -> Double {
        endTime ?? (process.minimumTime > 0 ? max(1e-3, process.minimumTime) : 0)
    }

    public var timeGrid: [Double] { uniformTimeGrid(steps: steps) }
    public func start(from noise: Tensor) -> Tensor { noise }
    public func images(_ x: Tensor) -> Tensor { x }

    public func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        let solver = ODESolver(method: method, relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
        let end = max(s, self.end(for: denoiser.process))
        var x = x
        if t > end {
            x = solver.integrate([x], from: t, to: end, steps: 1) { time, y in [denoiser.velocity(y[0], at: time)] }.state[0]
        }
        guard s < end else { return x }
        // Denoise once, in the step that reaches the end; later steps of a fine grid keep it.
        guard t >= end else { return x }
        return denoiser.predict(x, at: end).data
    }
}
