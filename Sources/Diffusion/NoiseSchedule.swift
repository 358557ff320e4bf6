import Foundation
import GenCore

/// A discrete DDPM noise schedule of `steps` steps as a pure value: ᾱ at every step, and
/// `alpha(t) = √ᾱ(t)`, `sigma(t) = √(1 − ᾱ(t))` at any `t ∈ [0, 1]` (step `k` is `t = k/T`;
/// between grid points log ᾱ is interpolated linearly).
public struct NoiseSchedule: Codable, Sendable, Equatable {
    /// How the betas are chosen.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// β rising linearly (Ho et al. 2020) from 1e-4 to 0.02 at T = 1000, scaled by 1000/T.
        case linear
        /// ᾱ(t) = f(t)/f(0), f(t) = cos²((t + s)/(1 + s)·π/2), s = 0.008 (Nichol & Dhariwal 2021, Eq. 17).
        case cosine
    }

    public let kind: Kind
    /// T, the number of discrete steps.
    public let steps: Int
    /// ᾱ at steps 0…T (ᾱ₀ = 1: step 0 is data).
    public let alphaBars: [Double]

    public init(_ kind: Kind, steps: Int = 1000) {
        require(steps >= 1, "NoiseSchedule: needs at least one step")
        self.kind = kind
        self.steps = steps
        var betas: [Double] = []
        switch kind {
        case .linear:
            let scale = 1000 / Double(steps)
            let (start, end) = (scale * 1e-4, scale * 0.02)
            betas = (0..<steps).map { steps == 1 ? start : start + (end - start) * Double($0) / Double(steps - 1) }
        case .cosine:
            // β clipped at 0.999 to avoid a singularity at t = 1 (Nichol & Dhariwal 2021, §3.2).
            betas = (1...steps).map { k in
                min(1 - NoiseSchedule.cosineAlphaBar(Double(k) / Double(steps)) / NoiseSchedule.cosineAlphaBar(Double(k - 1) / Double(steps)), 0.999)
            }
        }
        var running = 1.0
        alphaBars = [1] + betas.map { beta in running *= 1 - beta; return running }
    }

    /// Nichol & Dhariwal's ᾱ(t) = f(t)/f(0), Eq. 17.
    public static func cosineAlphaBar(_ t: Double, offset s: Double = 0.008) -> Double {
        func f(_ t: Double) -> Double { pow(cos((t + s) / (1 + s) * Double.pi / 2), 2) }
        return f(t) / f(0)
    }

    /// β of step `k` (1…T).
    public func beta(step k: Int) -> Double { 1 - alphaBars[k] / alphaBars[k - 1] }

    /// ᾱ(t), interpolating log ᾱ between grid points.
    public func alphaBar(_ t: Double) -> Double {
        let position = min(max(t, 0), 1) * Double(steps)
        let lower = Int(position.rounded(.down))
        if lower >= steps { return alphaBars[steps] }
        let fraction = position - Double(lower)
        if fraction == 0 { return alphaBars[lower] }
        return exp((1 - fraction) * log(alphaBars[lower]) + fraction * log(alphaBars[lower + 1]))
    }

    /// √ᾱ(t), the scale of the data in `xt`.
    public func alpha(_ t: Double) -> Double { alphaBar(t).squareRoot() }

    /// √(1 − ᾱ(t)), the scale of the noise in `xt`.
    public func sigma(_ t: Double) -> Double { (1 - alphaBar(t)).squareRoot() }

    /// Per-sample `alpha(t)` and `sigma(t)` as `[N, 1, 1, 1]` tensors, ready to broadcast.
    public func coefficients(_ times: [Double]) -> (alpha: Tensor, sigma: Tensor) {
        (Tensor(times.map { Float(alpha($0)) }, shape: [times.count, 1, 1, 1]),
         Tensor(times.map { Float(sigma($0)) }, shape: [times.count, 1, 1, 1]))
    }
}
