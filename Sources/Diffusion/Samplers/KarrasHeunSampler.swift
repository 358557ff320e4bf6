import Foundation
import GenCore

/// The deterministic Heun sampler of Karras et al. 2022 ("Elucidating the Design Space of
/// Diffusion-Based Generative Models", Algorithm 1) on their noise grid
/// `σᵢ = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`, ρ = 7, then σ = 0.
///
/// EDM's σ is the noise-to-signal ratio σ(t)/α(t) = e^{−λ} of any ``NoiseProcess``, and its
/// variable the rescaled `y = x/α(t)`, whose probability-flow ODE is `dy/dσ = (y − x̂)/σ`. Each
/// σ maps back to the process's t (by bisection: σ/α grows with t), so the sampler serves DDPM,
/// every SDE and flow matching alike. σ_max is the process's σ/α at t = 1 where that is finite;
/// where it is not (flow matching: α(1) = 0) it is EDM's 80, reached from t = 1 by scaling x
/// (the data's share of x there, 1/81 of it, is taken as 0, as EDM's truncation does). σ_min is
/// EDM's 0.002, or the process's σ/α at its minimum time if larger.
///
/// `steps` = N noise levels cost 2N − 1 network evaluations: a Heun step between each pair, an
/// Euler step to σ = 0 at the end.
public struct KarrasHeunSampler: Sampler {
    public var steps: Int
    /// The grid's exponent (EDM: 7; larger puts more steps at low noise).
    public var rho: Double
    /// The process the grid is laid out for.
    public var process: any NoiseProcess

    public init(steps: Int = 18, rho: Double = 7, process: any NoiseProcess) {
        require(steps >= 1 && rho > 0, "KarrasHeunSampler: needs at least one step and ρ > 0")
        self.steps = steps
        self.rho = rho
        self.process = process
    }

    /// EDM's σ at time t: σ(t)/α(t) (∞ where α = 0).
    func noiseLevel(_ t: Double) -> Double { process.sigma(t) / process.alpha(t) }

    /// The largest and smallest σ of the grid.
    var noiseRange: (max: Double, min: Double) {
        let top = noiseLevel(1)
        return (top.isFinite ? top : 80, max(0.002, noiseLevel(process.minimumTime)))
    }

    /// The t in [minimumTime, 1] where σ(t)/α(t) = `level`.
    func time(atNoiseLevel level: Double) -> Double {
        var (low, high) = (process.minimumTime, 1.0)
        for _ in 0..<60 {
            let middle = (low + high) / 2
            if noiseLevel(middle) < level { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// The N noise levels of the grid, from σ_max down to σ_min.
    public var noiseLevels: [Double] {
        let (top, bottom) = noiseRange
        guard steps > 1 else { return [top] }
        let (a, b) = (pow(top, 1 / rho), pow(bottom, 1 / rho))
        return (0..<steps).map { pow(a + Double($0) / Double(steps - 1) * (b - a), rho) }
    }

    /// 1, the times of the noise levels (the first is 1 itself where σ/α is finite there), 0.
    public var timeGrid: [Double] {
        let levels = noiseLevels
        var grid = [1.0]
        for (index, level) in levels.enumerated() {
            if index == 0 && noiseLevel(1).isFinite { continue }
            let t = time(atNoiseLevel: level)
            if let last = grid.last, t < last { grid.append(t) }
        }
        return grid + [0]
    }

    public func start(from noise: Tensor) -> Tensor { noise }
    public func images(_ x: Tensor) -> Tensor { x }

    public func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        let process = denoiser.process
        let alphaT = process.alpha(t), alphaS = process.alpha(s)
        // out of t = 1 with no data in x (α = 0): scale the noise to σ(s), no evaluation
        guard alphaT > 0 else { return x * Float(process.sigma(s) / process.sigma(t)) }
        // the grid ends at σ = 0 (VE's σ(0) is its σ_min; EDM ends at 0 all the same)
        let (levelT, levelS) = (noiseLevel(t), s > 0 ? process.sigma(s) / alphaS : 0)
        let y = x * Float(1 / alphaT)
        // Euler: dy/dσ = (y − x̂)/σ
        let data = denoiser.predict(x, at: t).data
        let slope = (y - data) * Float(1 / levelT)
        let euler = y + slope * Float(levelS - levelT)
        guard levelS > 0 else { return euler * Float(alphaS) }
        // Heun's correction with the slope at s
        let dataS = denoiser.predict(euler * Float(alphaS), at: s).data
        let slopeS = (euler - dataS) * Float(1 / levelS)
        return (y + (slope + slopeS) * Float(0.5 * (levelS - levelT))) * Float(alphaS)
    }
}
