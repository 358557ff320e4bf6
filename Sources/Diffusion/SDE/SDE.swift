import Foundation
import GenCore

/// A forward SDE `dx = f(x, t) dt + g(t) dw` with Gaussian marginals (Song et al. 2021, §3),
/// in the project's time convention (t = 0 data, t = 1 noise).
///
/// Each concrete SDE states its drift, diffusion and marginals in closed form; the reverse
/// SDE `dx = [f − g²·∇log p_t] dt + g dw̄` and the probability-flow ODE
/// `dx/dt = f − ½g²·∇log p_t` are built by the samplers from these through ``NoiseProcess``,
/// and never check which SDE they have.
public protocol SDE: NoiseProcess {
    /// f(x, t).
    func drift(_ x: Tensor, at t: Double) -> Tensor
    /// g(t).
    func diffusion(_ t: Double) -> Double
}

extension SDE {
    /// The marginal `p_t(x | data) = N(mean, std²·I)`.
    public func marginal(of data: Tensor, at t: Double) -> (mean: Tensor, std: Double) {
        (data * Float(alpha(t)), sigma(t))
    }
}

/// The variance-preserving SDE (Song et al. 2021, Eq. 11), the continuous limit of DDPM:
/// `dx = −½β(t)·x dt + √β(t) dw`, β(t) = β_min + t·(β_max − β_min).
public struct VPSDE: SDE, Codable, Equatable {
    public var betaMin: Double
    public var betaMax: Double

    /// The paper's β_min = 0.1, β_max = 20 (DDPM's linear schedule at T = 1000).
    public init(betaMin: Double = 0.1, betaMax: Double = 20) {
        require(betaMin > 0 && betaMax >= betaMin, "VPSDE: need 0 < betaMin ≤ betaMax")
        self.betaMin = betaMin
        self.betaMax = betaMax
    }

    public func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
    /// ∫₀ᵗ β(s) ds.
    public func integratedBeta(_ t: Double) -> Double { betaMin * t + 0.5 * t * t * (betaMax - betaMin) }

    public func drift(_ x: Tensor, at t: Double) -> Tensor { x * Float(-0.5 * beta(t)) }
    public func diffusion(_ t: Double) -> Double { beta(t).squareRoot() }

    public func alpha(_ t: Double) -> Double { exp(-0.5 * integratedBeta(t)) }
    public func sigma(_ t: Double) -> Double { (-expm1(-integratedBeta(t))).squareRoot() }
    public func alphaDerivative(_ t: Double) -> Double { -0.5 * beta(t) * alpha(t) }
    public func sigmaDerivative(_ t: Double) -> Double {
        let a = alpha(t), s = sigma(t)
        return s > 0 ? 0.5 * beta(t) * a * a / s : .infinity
    }
    /// Salimans & Ho's `v = α·ε − σ·data`, as for DDPM.
    public func velocityCoefficients(_ t: Double) -> (noise: Double, data: Double) { (alpha(t), -sigma(t)) }
}

/// The sub-VP SDE (Song et al. 2021, Eq. 29): VP's drift with a smaller diffusion,
/// `g(t)² = β(t)·(1 − e^{−2∫β})`, so the marginal std is `1 − e^{−∫β}`, below VP's everywhere.
public struct SubVPSDE: SDE, Codable, Equatable {
    public var betaMin: Double
    public var betaMax: Double

    public init(betaMin: Double = 0.1, betaMax: Double = 20) {
        require(betaMin > 0 && betaMax >= betaMin, "SubVPSDE: need 0 < betaMin ≤ betaMax")
        self.betaMin = betaMin
        self.betaMax = betaMax
    }

    public func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
    public func integratedBeta(_ t: Double) -> Double { betaMin * t + 0.5 * t * t * (betaMax - betaMin) }

    public func drift(_ x: Tensor, at t: Double) -> Tensor { x * Float(-0.5 * beta(t)) }
    public func diffusion(_ t: Double) -> Double { (beta(t) * -expm1(-2 * integratedBeta(t))).squareRoot() }

    public func alpha(_ t: Double) -> Double { exp(-0.5 * integratedBeta(t)) }
    public func sigma(_ t: Double) -> Double { -expm1(-integratedBeta(t)) }
    public func alphaDerivative(_ t: Double) -> Double { -0.5 * beta(t) * alpha(t) }
    public func sigmaDerivative(_ t: Double) -> Double { beta(t) * exp(-integratedBeta(t)) }
}

/// The variance-exploding SDE (Song et al. 2021, Eq. 9), the continuous limit of SMLD/NCSN:
/// `dx = √(dσ²/dt) dw`, σ(t) = σ_min·(σ_max/σ_min)^t; the prior is N(0, σ_max²·I).
public struct VESDE: SDE, Codable, Equatable {
    public var sigmaMin: Double
    public var sigmaMax: Double

    /// σ_min = 0.01 as in the paper; σ_max = 50, about the largest distance between two
    /// 28×28 images in [−1, 1] (Song & Ermon 2020, technique 1).
    public init(sigmaMin: Double = 0.01, sigmaMax: Double = 50) {
        require(sigmaMin > 0 && sigmaMax > sigmaMin, "VESDE: need 0 < sigmaMin < sigmaMax")
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
    }

    private var logRatio: Double { log(sigmaMax / sigmaMin) }

    public func drift(_ x: Tensor, at t: Double) -> Tensor { Tensor.zeros(x.shape) }
    public func diffusion(_ t: Double) -> Double { sigma(t) * (2 * logRatio).squareRoot() }

    public func alpha(_ t: Double) -> Double { 1 }
    public func sigma(_ t: Double) -> Double { sigmaMin * pow(sigmaMax / sigmaMin, t) }
    public func alphaDerivative(_ t: Double) -> Double { 0 }
    public func sigmaDerivative(_ t: Double) -> Double { sigma(t) * logRatio }
    public var priorStandardDeviation: Double { sigmaMax }
}

/// Which SDE a run uses, with its parameters: the Codable form of the three SDEs.
public struct SDEConfiguration: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case vp, subvp, ve
    }

    public var kind: Kind
    public var betaMin: Double
    public var betaMax: Double
    public var sigmaMin: Double
    public var sigmaMax: Double

    public init(_ kind: Kind, betaMin: Double = 0.1, betaMax: Double = 20, sigmaMin: Double = 0.01, sigmaMax: Double = 50) {
        self.kind = kind
        self.betaMin = betaMin
        self.betaMax = betaMax
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
    }

    public var sde: any SDE {
        switch kind {
        case .vp: return VPSDE(betaMin: betaMin, betaMax: betaMax)
        case .subvp: return SubVPSDE(betaMin: betaMin, betaMax: betaMax)
        case .ve: return VESDE(sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        }
    }
}
