import Diffusion
import Foundation
import GenCore
import Testing

/// A network that answers zeros and remembers the times it was asked at.
final class ZeroNetwork: DenoisingNetwork {
    var times: [Float] = []
    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        self.times += times.scalars
        return Tensor.zeros(xt.shape)
    }
}

/// The training recipes each do what their paper says, on numbers worked out here.
@Suite("Training recipes")
struct RecipeTests {
    /// Min-SNR-γ (Hang et al. 2023): with a network that answers 0, each image's error is its
    /// target's mean square, and the loss is their mean weighted by min(SNR, γ)/SNR (noise),
    /// min(SNR, γ) (data) or min(SNR, γ)/(SNR + 1) (velocity), SNR = ᾱ/(1 − ᾱ) of the schedule.
    @Test(arguments: Prediction.allCases)
    func minSNRWeightsEachImageByItsFormula(_ prediction: Prediction) {
        let schedule = NoiseSchedule(.cosine, steps: 1000)
        let times = [0.02, 0.1, 0.5, 0.9, 0.999]
        let generator = RandomGenerator(seed: 3)
        let data = Tensor.randomNormal([times.count, 1, 4, 4], using: generator), noise = Tensor.randomNormal([times.count, 1, 4, 4], using: generator)
        let denoiser = Denoiser(network: ZeroNetwork(), prediction: prediction, process: schedule)
        let gamma: Float = 5
        let weighted = Double(regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, minSNRGamma: gamma).item)
        let plain = Double(regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times).item)
        var expected = 0.0, unweighted = 0.0
        let (x, e) = (data.scalars, noise.scalars)
        for (i, t) in times.enumerated() {
            let alphaBar = schedule.alphaBar(t), snr = alphaBar / (1 - alphaBar)
            let (a, s) = (alphaBar.squareRoot(), (1 - alphaBar).squareRoot())
            let weight: Double
            switch prediction {
            case .noise: weight = min(snr, Double(gamma)) / snr
            case .data: weight = min(snr, Double(gamma))
            case .velocity: weight = min(snr, Double(gamma)) / (snr + 1)
            }
            var square = 0.0
            for j in 0..<16 {
                let (xj, ej) = (Double(x[16 * i + j]), Double(e[16 * i + j]))
                let target = prediction == .noise ? ej : prediction == .data ? xj : a * ej - s * xj
                square += target * target / 16
            }
            expected += weight * square / Double(times.count)
            unweighted += square / Double(times.count)
        }
        #expect(abs(weighted - expected) <= 1e-4 * abs(expected), "\(prediction): \(weighted) against \(expected)")
        #expect(abs(plain - unweighted) <= 1e-4 * unweighted)
        #expect(abs(weighted - plain) > 0.05 * plain, "the weighting changes the loss")
    }

    /// The DDPM and the score SDE train with the weighting their configuration asks for.
    @Test func modelsUseTheirMinSNR() {
        let batch = Batch(images: Tensor.randomNormal([4, 1, 28, 28], using: RandomGenerator(seed: 1)))
        let ddpm = DDPM(DDPMConfiguration(unet: .small, minSNRGamma: 5)), sde = ScoreSDE(ScoreSDEConfiguration(unet: .small, minSNRGamma: 5))
        let losses = [
            (ddpm.loss(batch: batch, generator: RandomGenerator(seed: 2)),
             ddpmLoss(denoiser: ddpm.denoiser, diffusionSteps: 1000, data: batch.images, generator: RandomGenerator(seed: 2), minSNRGamma: 5),
             ddpmLoss(denoiser: ddpm.denoiser, diffusionSteps: 1000, data: batch.images, generator: RandomGenerator(seed: 2))),
            (sde.loss(batch: batch, generator: RandomGenerator(seed: 2)),
             denoisingScoreMatchingLoss(denoiser: sde.denoiser, data: batch.images, generator: RandomGenerator(seed: 2), minSNRGamma: 5),
             denoisingScoreMatchingLoss(denoiser: sde.denoiser, data: batch.images, generator: RandomGenerator(seed: 2))),
        ]
        for (model, weighted, plain) in losses {
            #expect(model.item == weighted.item && abs(weighted.item - plain.item) > 1e-3 * plain.item, "\(model.item) \(weighted.item) \(plain.item)")
        }
    }

    /// Logit-normal times (Esser et al. 2024): logit(t) ~ N(0, 1), where uniform t gives a
    /// logistic logit(t) of standard deviation π/√3; and flow matching trains at exactly them.
    @Test func logitNormalTimes() {
        let times = TimeSampling.logitNormal.draw(20_000, generator: RandomGenerator(seed: 5))
        let logits = times.map { Foundation.log($0 / (1 - $0)) }
        let mean = logits.reduce(0, +) / Double(logits.count)
        let std = (logits.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logits.count)).squareRoot()
        #expect(abs(mean) < 0.03 && abs(std - 1) < 0.03, "mean \(mean), std \(std)")
        let uniform = TimeSampling.uniform.draw(20_000, generator: RandomGenerator(seed: 5)).map { Foundation.log($0 / (1 - $0)) }
        let uniformStd = (uniform.map { $0 * $0 }.reduce(0, +) / Double(uniform.count)).squareRoot()
        #expect(abs(uniformStd - Double.pi / 3.0.squareRoot()) < 0.05, "\(uniformStd)")

        let network = ZeroNetwork()
        let denoiser = Denoiser(network: network, prediction: .velocity, process: LinearPath())
        _ = flowMatchingLoss(denoiser: denoiser, data: Tensor.zeros([8, 1, 4, 4]), coupling: .independent, generator: RandomGenerator(seed: 9),
                             timeSampling: .logitNormal)
        let expected = TimeSampling.logitNormal.draw(8, generator: RandomGenerator(seed: 9)).map(Float.init)
        #expect(network.times == expected)
        // a configuration asking for uniform times stores none (the JSON of older runs)
        #expect(FlowMatchingConfiguration(timeSampling: .uniform).timeSampling == nil)
    }

    /// EDM's weighting (Karras et al. 2022, Table 1): with a network that answers 0, the loss is
    /// the mean over images of λ(σ)·‖x̂ − x‖²/D, x̂ the data that answer implies (xt/α for
    /// noise, 0 for data, a·xt/det for velocity), σ = σ(t)/α(t), λ(σ) = (σ² + σ_d²)/(σ·σ_d)²,
    /// worked out here in data space, on a variance-preserving and a variance-exploding process.
    @Test(arguments: Prediction.allCases)
    func edmWeightsEachImageByItsFormula(_ prediction: Prediction) {
        let processes: [any NoiseProcess] = [NoiseSchedule(.linear, steps: 1000), VESDE()]
        for process in processes {
            let times = [0.01, 0.1, 0.4, 0.7, 0.95]
            let generator = RandomGenerator(seed: 4)
            let data = Tensor.randomNormal([times.count, 1, 4, 4], using: generator), noise = Tensor.randomNormal([times.count, 1, 4, 4], using: generator)
            let denoiser = Denoiser(network: ZeroNetwork(), prediction: prediction, process: process)
            let edm = EDMTraining(sigmaData: 0.5)
            let loss = Double(regressionLoss(denoiser: denoiser, data: data, noise: noise, times: times, edm: edm).item)
            var expected = 0.0
            let (x, e) = (data.scalars, noise.scalars)
            for (i, t) in times.enumerated() {
                let (a, s) = (process.alpha(t), process.sigma(t))
                let (vn, vd) = process.velocityCoefficients(t)
                let level = s / a, d = 0.5
                let lambda = (level * level + d * d) / (level * d * level * d)
                var square = 0.0
                for j in 0..<16 {
                    let xt = a * Double(x[16 * i + j]) + s * Double(e[16 * i + j])
                    let implied = prediction == .noise ? xt / a : prediction == .data ? 0 : vn * xt / (a * vn - s * vd)
                    square += (implied - Double(x[16 * i + j])) * (implied - Double(x[16 * i + j])) / 16
                }
                expected += lambda * square / Double(times.count)
            }
            #expect(abs(loss - expected) <= 2e-4 * abs(expected), "\(prediction) on \(type(of: process)): \(loss) against \(expected)")
        }
    }

    /// At σ_data = 1 on a variance-preserving process EDM's weight on the velocity error is 1:
    /// v-prediction is EDM's preconditioned network (F = −v), its loss unweighted.
    @Test func edmWeightsVelocityByOneAtUnitSigmaData() {
        let schedule = NoiseSchedule(.cosine, steps: 1000)
        let c = schedule.coefficients([0.001, 0.2, 0.5, 0.8, 0.999], rank: 4)
        let weights = EDMTraining(sigmaData: 1).weights(c, prediction: .velocity).scalars
        #expect(weights.allSatisfy { abs($0 - 1) < 1e-4 }, "\(weights)")
    }

    /// EDM's noise levels: ln(σ(t)/α(t)) of the drawn times is N(−1.2, 1.2²) on a process wide
    /// enough to hold nearly all of them; DDPM trains at the nearest of its steps.
    @Test func edmNoiseLevelsAreLogNormal() {
        let process = VESDE(sigmaMin: 1e-4, sigmaMax: 1e3)
        let times = EDMTraining().times(20_000, process: process, generator: RandomGenerator(seed: 6))
        let logs = times.map { Foundation.log(process.sigma($0) / process.alpha($0)) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        let std = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count)).squareRoot()
        #expect(abs(mean + 1.2) < 0.03 && abs(std - 1.2) < 0.03, "mean \(mean), std \(std)")
        let wide = EDMTraining(meanLogSigma: 0, stdLogSigma: 1.2).times(20_000, process: process, generator: RandomGenerator(seed: 6))
        let wideMean: Double = wide.reduce(0, +) / Double(wide.count), narrowMean: Double = times.reduce(0, +) / Double(times.count)
        #expect(abs(wideMean - narrowMean) > 0.05, "P_mean moves the times")

        let network = ZeroNetwork()
        let schedule = NoiseSchedule(.linear, steps: 1000)
        let denoiser = Denoiser(network: network, prediction: .noise, process: schedule)
        _ = ddpmLoss(denoiser: denoiser, diffusionSteps: 1000, data: Tensor.zeros([64, 1, 4, 4]), generator: RandomGenerator(seed: 8), edm: EDMTraining())
        let drawn = EDMTraining().times(64, process: schedule, generator: RandomGenerator(seed: 8))
        #expect(network.times.count == 64)
        for (step, t) in zip(network.times, drawn) {
            #expect(abs(Double(step) * 1000 - (Double(step) * 1000).rounded()) < 1e-2 && abs(Double(step) - t) <= 0.5 / 1000 + 1e-6, "\(step) for \(t)")
        }
    }

    /// The DDPM and the score SDE train with EDM when their configuration asks, and refuse it
    /// beside min-SNR or with σ_data ≤ 0.
    @Test func modelsUseTheirEDM() throws {
        let batch = Batch(images: Tensor.randomNormal([4, 1, 28, 28], using: RandomGenerator(seed: 1)))
        let edm = EDMTraining()
        let ddpm = DDPM(DDPMConfiguration(unet: .small, edm: edm)), sde = ScoreSDE(ScoreSDEConfiguration(unet: .small, edm: edm))
        let losses = [
            (ddpm.loss(batch: batch, generator: RandomGenerator(seed: 2)),
             ddpmLoss(denoiser: ddpm.denoiser, diffusionSteps: 1000, data: batch.images, generator: RandomGenerator(seed: 2), edm: edm),
             ddpmLoss(denoiser: ddpm.denoiser, diffusionSteps: 1000, data: batch.images, generator: RandomGenerator(seed: 2))),
            (sde.loss(batch: batch, generator: RandomGenerator(seed: 2)),
             denoisingScoreMatchingLoss(denoiser: sde.denoiser, data: batch.images, generator: RandomGenerator(seed: 2), edm: edm),
             denoisingScoreMatchingLoss(denoiser: sde.denoiser, data: batch.images, generator: RandomGenerator(seed: 2))),
        ]
        for (model, recipe, plain) in losses {
            #expect(model.item == recipe.item && abs(recipe.item - plain.item) > 1e-3 * plain.item, "\(model.item) \(recipe.item) \(plain.item)")
        }
        #expect(throws: ConfigurationError.self) { try DDPMConfiguration(unet: .small, minSNRGamma: 5, edm: edm).validate() }
        #expect(throws: ConfigurationError.self) { try ScoreSDEConfiguration(unet: .small, edm: EDMTraining(sigmaData: 0)).validate() }
        try DDPMConfiguration(unet: .small, edm: edm).validate()
        // older runs' configurations, without the field, still load
        let old = try JSONDecoder().decode(ScoreSDEConfiguration.self, from: try JSONEncoder().encode(ScoreSDEConfiguration(unet: .small)))
        #expect(old.edm == nil)
    }
}
