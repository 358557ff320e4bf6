import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import Testing
import VAE

/// One training step of each benchmark model against PyTorch's: the loss and every parameter's
/// gradient, from `Tests/Fixtures/training_step_parity.safetensors` (made by
/// `make_training_step_fixtures.py` with the twin of `../shared/peers/reference_models.py`).
@Suite("Training steps against PyTorch")
struct TrainingStepParityTests {
    static let fixture: [String: Tensor] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/training_step_parity.safetensors")
        return (try? SafeTensors.read(url).tensors) ?? [:]
    }()

    /// The script's pattern_weights: a sawtooth over the flat index, ±1/√fan-in for weights of
    /// rank ≥ 2, ±0.1 for rank-1 tensors (1 ± 0.1 for normalization weights), unit norm for u, v.
    static func patternWeights(_ name: String, _ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var saw: [Double] = []
        for i in 0..<n { saw.append(Double((i * 37 + 11) % 101) / 50 - 1) }
        var values: [Double]
        if name.hasSuffix(".u") || name.hasSuffix(".v") {
            var squares: Double = 0
            for v in saw { squares += v * v }
            let norm = squares.squareRoot()
            values = saw.map { $0 / norm }
        } else if shape.count >= 2 {
            let scale: Double = 1 / (Double(n) / Double(shape[0])).squareRoot()
            values = saw.map { $0 * scale }
        } else if name.contains("norm") && name.hasSuffix("weight") {
            values = saw.map { 1 + 0.1 * $0 }
        } else {
            values = saw.map { 0.1 * $0 }
        }
        return Tensor(values.map(Float.init), shape: shape)
    }

    /// Sets every weight and buffer of `module` but running statistics to the pattern.
    static func setWeights(_ module: Module) throws {
        var state = module.stateDict()
        for (name, tensor) in state where !name.contains("running_") {
            state[name] = patternWeights(name, tensor.shape)
        }
        try module.load(stateDict: state)
    }

    /// The loss and every parameter gradient against the fixture's (`prefix`): each gradient's
    /// norm, and its kept elements, to `tolerance` of the norm (relative). A gradient that is
    /// zero in exact arithmetic (a bias just before a batch norm) is float rounding on both
    /// sides, so differences are measured against at least 10⁻³ of the whole module's gradient.
    static func compare(_ prefix: String, loss: Tensor, gradients: Gradients, module: Module, tolerance: Double = 1e-4,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        if let expected = fixture["\(prefix).loss"] {
            #expect(abs(Double(loss.item) - Double(expected.item)) <= 1e-5 * max(1, abs(Double(expected.item))),
                    "\(prefix) loss \(loss.item) against PyTorch's \(expected.item)", sourceLocation: sourceLocation)
        }
        let names = module.namedParameters().map(\.0)
        let moduleNorm = names.compactMap { fixture["\(prefix).norm.\($0)"].map { Double($0.item) } }.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let floor = max(1e-3 * moduleNorm, 1e-12)
        #expect(names.count == fixture.keys.filter { $0.hasPrefix("\(prefix).norm.") }.count, "\(prefix): parameter count", sourceLocation: sourceLocation)
        for name in names {
            guard let gradient = gradients[name], let norm = fixture["\(prefix).norm.\(name)"], let kept = fixture["\(prefix).grad.\(name)"] else {
                Issue.record("\(prefix).\(name): no gradient or no reference", sourceLocation: sourceLocation)
                continue
            }
            let values = gradient.scalars.map(Double.init)
            let ours = values.reduce(0) { $0 + $1 * $1 }.squareRoot(), theirs = Double(norm.item)
            let scale = max(theirs, floor)
            #expect(abs(ours - theirs) <= tolerance * scale, "\(prefix).\(name): gradient norm \(ours) against \(theirs)", sourceLocation: sourceLocation)
            let indices = fixture["\(prefix).idx.\(name)"].map { $0.scalars.map { Int($0) } } ?? Array(values.indices)
            let worst = zip(indices, kept.scalars).map { abs(values[$0] - Double($1)) }.max() ?? 0
            let largest = kept.scalars.map { abs(Double($0)) }.max() ?? 0
            #expect(worst <= tolerance * max(largest, floor), "\(prefix).\(name): element difference \(worst), largest element \(largest)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func unetStep() throws {
        let fixture = Self.fixture
        let unet = UNet(.small)
        try Self.setWeights(unet)
        let input = try #require(fixture["unet.input"]), target = try #require(fixture["unet.target"]), steps = try #require(fixture["unet.steps"])
        let (loss, gradients) = valueAndGrad(unet) { m in (m(input, times: steps / Conventions.timeScale) - target).squared().mean() }
        Self.compare("unet", loss: loss, gradients: gradients, module: unet)
    }

    @Test func realnvpStep() throws {
        let flow = RealNVPFlow(.small)
        try Self.setWeights(flow)
        let input = try #require(Self.fixture["realnvp.input"])
        let (loss, gradients) = valueAndGrad(flow) { f in -f.logDensity(input).mean() }
        Self.compare("realnvp", loss: loss, gradients: gradients, module: flow)
    }

    /// The critic's Wasserstein loss on detached fakes (D(fake) first: each train-mode call is
    /// one power iteration, as PyTorch's), then the generator's through the moved critic.
    @Test func wganStep() throws {
        let wgan = WGAN(.dcgan)
        try Self.setWeights(wgan.model)
        wgan.model.train()
        let real = try #require(Self.fixture["gan.real"]), zCritic = try #require(Self.fixture["gan.z_critic"])
        let zGenerator = try #require(Self.fixture["gan.z_generator"])
        let fake = withoutGradients { wgan.generator(zCritic) }
        let (criticLoss, criticGradients) = valueAndGrad(wgan.critic) { c in
            let fakeScores = c(fake)
            return fakeScores.mean() - c(real).mean()
        }
        Self.compare("critic", loss: criticLoss, gradients: criticGradients, module: wgan.critic)
        let (generatorLoss, generatorGradients) = valueAndGrad(wgan.generator) { g in -wgan.critic(g(zGenerator)).mean() }
        Self.compare("generator", loss: generatorLoss, gradients: generatorGradients, module: wgan.generator)
    }

    /// The MLP VAE with fixed reparameterization noise: μ, log σ², the logits, the negative ELBO
    /// per image and every gradient; and the Gaussian decoder's log-likelihood at σ = 0.3.
    @Test func vaeStep() throws {
        let fixture = Self.fixture
        let vae = VariationalAutoencoder(.mlp)
        try Self.setWeights(vae)
        let x = try #require(fixture["vae.input"]), noise = try #require(fixture["vae.noise"])
        let (mean, logVariance) = withoutGradients { vae.encode(x) }
        let expectedMean = try #require(fixture["vae.mu"]), expectedLogVariance = try #require(fixture["vae.logvar"])
        #expect(maxDifference(mean, expectedMean) < 1e-4 && maxDifference(logVariance, expectedLogVariance) < 1e-4)
        let z = mean + noise * (logVariance * 0.5).exp()
        let expectedLogits = try #require(fixture["vae.logits"])
        #expect(maxDifference(withoutGradients { vae.decode(z) }, expectedLogits) < 1e-4)
        let negativeELBO = withoutGradients { -vae.elbo(x, noise: noise).elbo }
        let expected = try #require(fixture["vae.negative_elbo"])
        #expect(zip(negativeELBO.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * abs($1) }, "\(negativeELBO.scalars) against \(expected.scalars)")
        let (loss, gradients) = valueAndGrad(vae) { v in -v.elbo(x, noise: noise).elbo.mean() }
        #expect(abs(loss.item - expected.mean().item) <= 1e-5 * abs(expected.mean().item))
        Self.compare("vae", loss: loss, gradients: gradients, module: vae)
        // the Gaussian likelihood with a fixed σ: torch.distributions.Normal(decoder mean, 0.3)
        var gaussianConfiguration = VAEConfiguration.mlp
        gaussianConfiguration.likelihood = .gaussian
        gaussianConfiguration.fixedStd = 0.3
        let gaussian = VariationalAutoencoder(gaussianConfiguration)
        try gaussian.load(stateDict: vae.stateDict())
        let logLikelihood = withoutGradients { gaussian.logLikelihood(x, given: z) }
        let reference = try #require(fixture["vae.gaussian_log_likelihood"])
        #expect(zip(logLikelihood.scalars, reference.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * abs($1) }, "\(logLikelihood.scalars) against \(reference.scalars)")
    }
}

/// The largest absolute difference between two tensors of one shape.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxDifference: \(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}
