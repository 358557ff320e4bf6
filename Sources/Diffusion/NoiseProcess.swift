import Foundation
import GenCore

/// A Gaussian noising process in the project's time convention (``Conventions``):
/// `xt = alpha(t)·data + sigma(t)·noise`, t = 0 data, t = 1 noise.
///
/// DDPM's ``NoiseSchedule``, the three SDEs (``VPSDE``, ``SubVPSDE``, ``VESDE``) and flow
/// matching's ``LinearPath`` are all one: samplers, losses and the likelihood see only this
/// protocol. The linear SDE `dx = f(t)·x dt + g(t) dw` whose marginals these are follows from
/// alpha and sigma alone (``driftCoefficient(_:)``, ``diffusionSquared(_:)``), so the reverse
/// SDE and the probability-flow ODE exist for every process without naming it.
public protocol NoiseProcess: Sendable {
    /// The scale of the data in `xt`.
    func alpha(_ t: Double) -> Double
    /// The scale of the noise in `xt`.
    func sigma(_ t: Double) -> Double
    /// dα/dt.
    func alphaDerivative(_ t: Double) -> Double
    /// dσ/dt.
    func sigmaDerivative(_ t: Double) -> Double
    /// What a network trained to predict ``Prediction/velocity`` outputs: the coefficients
    /// `(noise, data)` of `v = a·noise + b·data`. The default is the path's own velocity
    /// `dxt/dt = σ'·noise + α'·data`; variance-preserving processes use Salimans & Ho's
    /// `v = α·noise − σ·data` instead.
    func velocityCoefficients(_ t: Double) -> (noise: Double, data: Double)
    /// The earliest time losses and ODE integration use: 0 where the process is regular there,
    /// a small positive time where the score blows up as σ → 0.
    var minimumTime: Double { get }
    /// The standard deviation of the prior N(0, s²·I) that sampling starts from at t = 1.
    var priorStandardDeviation: Double { get }
}

extension NoiseProcess {
    public func velocityCoefficients(_ t: Double) -> (noise: Double, data: Double) {
        (sigmaDerivative(t), alphaDerivative(t))
    }

    public var minimumTime: Double { 1e-5 }
    public var priorStandardDeviation: Double { 1 }

    /// f(t) of the forward SDE `dx = f(t)·x dt + g(t) dw` with these marginals: α'/α.
    public func driftCoefficient(_ t: Double) -> Double { alphaDerivative(t) / alpha(t) }

    /// g(t)² of the forward SDE with these marginals: dσ²/dt − 2·f·σ².
    public func diffusionSquared(_ t: Double) -> Double {
        let s = sigma(t)
        return max(0, 2 * s * sigmaDerivative(t) - 2 * driftCoefficient(t) * s * s)
    }

    /// The exact transition of the forward process from time `s` to the later time `t`:
    /// `x_t = a·x_s + b·z` (Kingma et al. 2021, Eq. 8–9).
    public func transition(from s: Double, to t: Double) -> (scale: Double, variance: Double) {
        let scale = alpha(t) / alpha(s)
        return (scale, max(0, sigma(t) * sigma(t) - scale * scale * sigma(s) * sigma(s)))
    }

    /// log N(x; 0, s²·I) of the prior at t = 1, summed over all but the first axis: `[N]`.
    public func priorLogDensity(_ x: Tensor) -> Tensor {
        let s = priorStandardDeviation
        let dimensions = Double(x.count / x.shape[0])
        let squares = x.squared().flattened().sum(axes: [1])
        return squares * Float(-0.5 / (s * s)) - Float(dimensions * (0.5 * Foundation.log(2 * Double.pi) + Foundation.log(s)))
    }

    /// A draw from the prior at t = 1.
    public func samplePrior(_ shape: [Int], using generator: RandomGenerator) -> Tensor {
        Tensor.randomNormal(shape, using: generator) * Float(priorStandardDeviation)
    }

    /// The coefficients of this process at one shared time, as scalar tensors.
    public func coefficients(at t: Double) -> PathCoefficients {
        let (a, b) = velocityCoefficients(t)
        return PathCoefficients(alpha: Tensor(Float(alpha(t))), sigma: Tensor(Float(sigma(t))),
                                velocityNoise: Tensor(Float(a)), velocityData: Tensor(Float(b)))
    }

    /// Per-sample coefficients as `[N, 1, …]` tensors of the given rank, ready to broadcast.
    public func coefficients(_ times: [Double], rank: Int) -> PathCoefficients {
        let shape = [times.count] + Array(repeating: 1, count: max(0, rank - 1))
        func column(_ f: (Double) -> Double) -> Tensor { Tensor(times.map { Float(f($0)) }, shape: shape) }
        return PathCoefficients(alpha: column(alpha), sigma: column(sigma),
                                velocityNoise: column { velocityCoefficients($0).noise },
                                velocityData: column { velocityCoefficients($0).data })
    }
}

/// The linear probability path of flow matching (Lipman et al. 2023; Liu et al. 2023):
/// `xt = (1 − t)·data + t·noise`, so the velocity is `noise − data` and sampling integrates the
/// learned velocity from t = 1 down to 0.
public struct LinearPath: NoiseProcess, Codable, Equatable {
    public init() {}
    public func alpha(_ t: Double) -> Double { 1 - t }
    public func sigma(_ t: Double) -> Double { t }
    public func alphaDerivative(_ t: Double) -> Double { -1 }
    public func sigmaDerivative(_ t: Double) -> Double { 1 }
    /// The velocity field is regular at t = 0.
    public var minimumTime: Double { 0 }
}

extension NoiseSchedule: NoiseProcess {
    /// The slope of log ᾱ on the grid interval holding `t` (log ᾱ is linear in between).
    private func logAlphaBarSlope(_ t: Double) -> Double {
        let position = min(max(t, 0), 1) * Double(steps)
        let lower = min(Int(position.rounded(.down)), steps - 1)
        return Double(steps) * (log(alphaBars[lower + 1]) - log(alphaBars[lower]))
    }

    public func alphaDerivative(_ t: Double) -> Double { 0.5 * alpha(t) * logAlphaBarSlope(t) }

    public func sigmaDerivative(_ t: Double) -> Double {
        let s = sigma(t)
        return s > 0 ? -0.5 * alphaBar(t) * logAlphaBarSlope(t) / s : .infinity
    }

    /// Salimans & Ho's `v = α·ε − σ·data`.
    public func velocityCoefficients(_ t: Double) -> (noise: Double, data: Double) { (alpha(t), -sigma(t)) }

    /// One discrete step, 1/T: DDPM never trains below it.
    public var minimumTime: Double { 1 / Double(steps) }
}
