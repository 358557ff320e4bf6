import Diffusion
import Foundation
import GenCore
import Testing

let diffusionFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite("UNet")
struct UNetTests {
    /// `ddpm-unet-small` has the PyTorch twin's 793,697 parameters.
    @Test func smallConfigurationHasTheTwinsParameterCount() {
        #expect(UNet(.small).parameterCount == 793_697)
    }

    /// With the twin's weights, gen's UNet gives PyTorch's output to 1e-4 relative.
    @Test func matchesPyTorchTwin() throws {
        let fixture = try SafeTensors.read(diffusionFixtures.appendingPathComponent("unet_small_parity.safetensors")).tensors
        let unet = UNet(.small)
        var weights: [String: Tensor] = [:]
        for (name, tensor) in fixture where name.hasPrefix("weights.") { weights[String(name.dropFirst(8))] = tensor }
        try unet.load(stateDict: weights)
        unet.eval()
        // The twin takes step numbers k; gen takes t = k / 1000.
        let times = fixture["steps"]! / Conventions.timeScale
        let output = withoutGradients { unet(fixture["input"]!, times: times) }
        let expected = fixture["output"]!
        let scale = expected.abs().max().item
        let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "largest difference \(worst) against output scale \(scale)")
    }

    /// Odd configurations build and keep the image shape: several blocks per level,
    /// attention at a resolution, an image size that does not halve evenly, RGB.
    @Test func oddConfigurations() {
        let unet = UNet(UNetConfiguration(imageChannels: 3, baseChannels: 8, channelMultipliers: [1, 2, 3],
                                          residualBlocksPerLevel: 2, attentionResolutions: [5], imageSize: 10))
        let x = Tensor.randomNormal([2, 3, 10, 10], using: RandomGenerator(seed: 1))
        let y = withoutGradients { unet(x, times: Tensor([0.1, 0.9])) }
        #expect(y.shape == [2, 3, 10, 10] && y.isFinite)
    }
}

/// A small time-conditioned MLP for 2-D points stored as `[N, 2, 1, 1]`.
final class PointDenoiser: Module, DenoisingNetwork {
    let embedding = SinusoidalTimeEmbedding(dimension: 16)
    let fc1: Linear, fc2: Linear, fc3: Linear
    init(generator: RandomGenerator) {
        fc1 = Linear(2 + 16, 128, generator: generator)
        fc2 = Linear(128, 128, generator: generator)
        fc3 = Linear(128, 2, generator: generator)
    }
    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        let input = Tensor.concatenate([xt.reshaped([-1, 2]), embedding(times * Conventions.timeScale)], axis: 1)
        return fc3(fc2(fc1(input).silu()).silu()).reshaped(xt.shape)
    }
}

@Suite("DDPM learning")
struct DDPMLearningTests {
    /// Trained for 1,500 steps on a 2-D mixture of two Gaussians, a DDPM's samples match the
    /// data's mean within 0.15 and its covariance within 0.2 per entry (data variance ≈ 1.8).
    @Test func learnsAGaussianMixture() {
        let generator = RandomGenerator(seed: 3)
        func data(_ count: Int) -> Tensor {
            let points = (0..<count).flatMap { i -> [Float] in
                let center: Float = i % 2 == 0 ? -1.25 : 1.25
                return [center + 0.3 * generator.nextNormal(), 0.5 * center + 0.3 * generator.nextNormal()]
            }
            return Tensor(points, shape: [count, 2, 1, 1])
        }
        let schedule = NoiseSchedule(.cosine, steps: 100)
        let network = PointDenoiser(generator: generator)
        let optimizer = Adam(learningRate: 2e-3)
        let denoiser = Denoiser(network: network, prediction: .noise, process: schedule)
        for _ in 0..<1500 {
            let batch = data(256)
            let (_, gradients) = valueAndGrad(network) { _ in
                ddpmLoss(denoiser: denoiser, diffusionSteps: schedule.steps, data: batch, generator: generator)
            }
            optimizer.update(network, with: gradients)
        }
        let samples = DDPMSampler(steps: 100, clipData: false)
            .sample(denoiser, noise: Tensor.randomNormal([4000, 2, 1, 1], using: generator), generator: generator)
            .reshaped([4000, 2])
        let reference = data(4000).reshaped([4000, 2])
        func moments(_ x: Tensor) -> (mean: [Float], covariance: [Float]) {
            let mean = x.mean(axes: [0])
            let centered = x - mean
            return (mean.scalars, (centered.matmul(centered, transposeA: true) / Float(x.shape[0])).scalars)
        }
        let (m, c) = moments(samples), (rm, rc) = moments(reference)
        #expect(zip(m, rm).allSatisfy { abs($0 - $1) < 0.15 }, "mean \(m) vs \(rm)")
        #expect(zip(c, rc).allSatisfy { abs($0 - $1) < 0.2 }, "covariance \(c) vs \(rc)")
        // two modes, not one Gaussian of the same moments: half the samples on each side, few in
        // the gap between the modes (0.2% of the data; a single Gaussian would put 24% there),
        // and each mode as narrow as the data's (std 0.3)
        let xs = samples.scalars.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let left = xs.filter { $0 < 0 }, right = xs.filter { $0 >= 0 }
        let gap = Double(xs.filter { abs($0) < 0.4 }.count) / Double(xs.count)
        func std(_ v: [Float]) -> Float {
            let mean = v.reduce(0, +) / Float(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        }
        #expect(abs(Double(left.count) / Double(xs.count) - 0.5) < 0.07, "\(left.count) of \(xs.count) on the left")
        #expect(gap < 0.05, "\(gap) of the samples fall between the modes")
        #expect(abs(std(left) - 0.3) < 0.1 && abs(std(right) - 0.3) < 0.1, "mode spreads \(std(left)), \(std(right))")
    }
}
