import Diffusion
import Foundation
import GenCore
import Testing

/// The exact denoiser of data ~ N(mean, std²) per element under any process: with
/// `d = α²·std² + σ²`, `x̂ = mean + α·std²/d·(xt − α·mean)` and `ε̂ = σ/d·(xt − α·mean)`, both
/// finite wherever α and σ are not both zero; answered as the prediction `kind` asks.
final class GaussianNetwork: DenoisingNetwork {
    let mean: Float, std: Float
    let process: any NoiseProcess
    let kind: Prediction

    init(mean: Float, std: Float, process: any NoiseProcess, prediction: Prediction = .noise) {
        self.mean = mean
        self.std = std
        self.process = process
        self.kind = prediction
    }

    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        // per-sample coefficients, so losses with a time per sample see the exact answer
        let c = process.coefficients(times.scalars.map(Double.init), rank: xt.rank)
        let d = c.alpha.squared() * (std * std) + c.sigma.squared()
        // The network sees xt / √(α² + σ²) (Denoiser's input scaling); undo it.
        let scale = (c.alpha.squared() + c.sigma.squared()).sqrt()
        let x = scale.scalars.allSatisfy { abs($0 - 1) < 1e-6 } ? xt : xt * scale
        let residual = x - c.alpha * mean
        let data = residual * (c.alpha * (std * std) / d) + mean, noise = residual * (c.sigma / d)
        return Prediction.target(kind, data: data, noise: noise, c)
    }

    func denoiser() -> Denoiser { Denoiser(network: self, prediction: kind, process: process) }
}

/// The exact denoiser of 2-D data ~ N(mean, Σ) (points `[N, 2]`): with `A = α²Σ + σ²I`,
/// `x̂ = mean + αΣA⁻¹(xt − α·mean)`, `ε̂ = σA⁻¹(xt − α·mean)`, built from tensor ops so autodiff
/// gives its exact Jacobian.
final class CorrelatedGaussianNetwork: DenoisingNetwork {
    let mean: [Double]
    let covariance: [Double]  // row-major 2×2
    let process: any NoiseProcess
    let kind: Prediction

    init(mean: [Double], covariance: [Double], process: any NoiseProcess, prediction: Prediction = .noise) {
        self.mean = mean
        self.covariance = covariance
        self.process = process
        self.kind = prediction
    }

    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        let t = Double(times.scalars[0])
        let alpha = process.alpha(t), sigma = process.sigma(t)
        let s = covariance
        let a = [alpha * alpha * s[0] + sigma * sigma, alpha * alpha * s[1], alpha * alpha * s[2], alpha * alpha * s[3] + sigma * sigma]
        let det = a[0] * a[3] - a[1] * a[2]
        let inverse = [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det]
        // ΣA⁻¹
        let gain = [s[0] * inverse[0] + s[1] * inverse[2], s[0] * inverse[1] + s[1] * inverse[3],
                    s[2] * inverse[0] + s[3] * inverse[2], s[2] * inverse[1] + s[3] * inverse[3]]
        let x = xt * Float((alpha * alpha + sigma * sigma).squareRoot())
        let residual = x - Tensor(mean.map { Float(alpha * $0) }, shape: [1, 2])
        // rows: residual·Mᵀ
        let dataMatrix = Tensor(gain.map { Float(alpha * $0) }, shape: [2, 2])
        let noiseMatrix = Tensor(inverse.map { Float(sigma * $0) }, shape: [2, 2])
        let data = residual.matmul(dataMatrix, transposeB: true) + Tensor(mean.map(Float.init), shape: [1, 2])
        let noise = residual.matmul(noiseMatrix, transposeB: true)
        return Prediction.target(kind, data: data, noise: noise, process.coefficients(at: t))
    }

    /// The exact log-density of N(mean, Σ) at each row of `x` `[N, 2]`.
    func exactLogDensity(_ x: Tensor) -> [Double] {
        let s = covariance, det = s[0] * s[3] - s[1] * s[2]
        let inverse = [s[3] / det, -s[1] / det, -s[2] / det, s[0] / det]
        return (0..<x.shape[0]).map { i in
            let d0 = Double(x.scalars[2 * i]) - mean[0], d1 = Double(x.scalars[2 * i + 1]) - mean[1]
            let quadratic = d0 * (inverse[0] * d0 + inverse[1] * d1) + d1 * (inverse[2] * d0 + inverse[3] * d1)
            return -0.5 * quadratic - log(2 * Double.pi) - 0.5 * log(det)
        }
    }

    func denoiser() -> Denoiser { Denoiser(network: self, prediction: kind, process: process) }
}

/// Every noise process, for the conformance checks.
struct ProcessCase: Sendable, CustomTestStringConvertible {
    let name: String
    let process: any NoiseProcess
    /// What the test networks predict: noise, except velocity on the linear path, where the
    /// noise does not determine the data at t = 1 (α = 0).
    var prediction: Prediction { process is LinearPath ? .velocity : .noise }
    /// The SDE samplers need a finite drift at t = 1 (not the linear path).
    var isSDE: Bool { process is any SDE || process is NoiseSchedule }
    var testDescription: String { name }
}

let processCases: [ProcessCase] = [
    ProcessCase(name: "DDPM linear T=1000", process: NoiseSchedule(.linear, steps: 1000)),
    ProcessCase(name: "VP", process: VPSDE()),
    ProcessCase(name: "sub-VP", process: SubVPSDE()),
    ProcessCase(name: "VE", process: VESDE(sigmaMin: 0.01, sigmaMax: 20)),
    ProcessCase(name: "linear path", process: LinearPath()),
]

let sdeCases: [ProcessCase] = processCases.filter { $0.process is any SDE }

func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}
