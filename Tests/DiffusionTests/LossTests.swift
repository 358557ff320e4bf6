import Diffusion
import Foundation
import GenCore
import Testing

/// The training losses against their closed forms: with the exact denoiser of Gaussian data
/// N(m, s²) per element, each loss's expectation is the conditional variance of its target
/// given `xt = α·data + σ·noise`, averaged over the times the loss draws:
///   noise:    Var(ε | xt) = α²s² / (α²s² + σ²)
///   data:     Var(x | xt) = s²σ² / (α²s² + σ²)
///   velocity: Var(αε − σx | xt) = s²(α² + σ²)² / (α²s² + σ²)   (DDPM's v, Salimans & Ho)
///   flow matching's velocity noise − data on the linear path: s² / ((1 − t)²s² + t²).
/// A loss that used another target, another time or another weighting would miss.
@Suite("Losses against their closed forms")
struct LossTests {
    static let (m, s): (Float, Double) = (0.3, 0.5)

    /// The mean of `draws` losses on batches of 4,000 elements.
    static func average(_ draws: Int, _ loss: (Tensor, RandomGenerator) -> Tensor) -> Double {
        let generator = RandomGenerator(seed: 21)
        return (0..<draws).map { _ in
            let data = Tensor.randomNormal([4000, 1, 1, 1], std: Float(s), using: generator) + m
            return Double(withoutGradients { loss(data, generator) }.item)
        }.reduce(0, +) / Double(draws)
    }

    @Test(arguments: [Prediction.noise, .data, .velocity])
    func ddpmLossIsTheConditionalVarianceOfItsTarget(_ prediction: Prediction) {
        let schedule = NoiseSchedule(.linear, steps: 100)
        let denoiser = GaussianNetwork(mean: Self.m, std: Float(Self.s), process: schedule, prediction: prediction).denoiser()
        let loss = Self.average(40) { data, generator in ddpmLoss(denoiser: denoiser, diffusionSteps: 100, data: data, generator: generator) }
        // steps k = 1 … T uniformly, t = k/T
        let s2 = Self.s * Self.s
        let expected = (1...100).map { k -> Double in
            let t = Double(k) / 100, a2 = pow(schedule.alpha(t), 2), o2 = pow(schedule.sigma(t), 2)
            switch prediction {
            case .noise: return a2 * s2 / (a2 * s2 + o2)
            case .data: return s2 * o2 / (a2 * s2 + o2)
            case .velocity: return s2 * pow(a2 + o2, 2) / (a2 * s2 + o2)
            }
        }.reduce(0, +) / 100
        #expect(abs(loss - expected) < 0.02 * expected, "\(prediction): loss \(loss), closed form \(expected)")
    }

    @Test func flowMatchingLossIsTheConditionalVarianceOfTheVelocity() {
        let denoiser = GaussianNetwork(mean: Self.m, std: Float(Self.s), process: LinearPath(), prediction: .velocity).denoiser()
        let loss = Self.average(40) { data, generator in flowMatchingLoss(denoiser: denoiser, data: data, coupling: .independent, generator: generator) }
        let s2 = Self.s * Self.s, n = 100_000
        let expected = (0..<n).map { i -> Double in
            let t = (Double(i) + 0.5) / Double(n)
            return s2 / ((1 - t) * (1 - t) * s2 + t * t)
        }.reduce(0, +) / Double(n)
        #expect(abs(loss - expected) < 0.02 * expected, "loss \(loss), closed form \(expected)")
    }
}
