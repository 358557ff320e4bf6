import Foundation
import GAN
import GenCore
import Testing

let ganFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The largest singular value of a weight viewed as `[out, rest]`, from LAPACK.
func largestSingularValue(_ weight: Tensor) -> Double {
    LinearAlgebra.singularValues(weight.scalars.map(Double.init), rows: weight.shape[0], columns: weight.count / weight.shape[0])[0]
}

@Suite("Spectral normalization")
struct SpectralNormTests {
    /// After 50 power iterations σ = uᵀWv matches LAPACK's largest singular value to 1e-3
    /// (relative), and W/σ has spectral norm 1 ± 1e-3; for a linear and a convolutional layer.
    @Test(arguments: [false, true])
    func sigmaMatchesTheSVD(convolution: Bool) {
        Random.seed(3)
        let layer: any SpectrallyNormalizable = convolution ? Conv2d(3, 8, kernelSize: 3) : Linear(20, 12)
        let norm = SpectralNorm(layer, initialIterations: 0)
        norm.powerIteration(count: 50)
        let sigma = Double(norm.sigma().item), exact = largestSingularValue(layer.weight)
        #expect(abs(sigma / exact - 1) < 1e-3, "σ \(sigma) vs SVD \(exact)")
        #expect(abs(largestSingularValue(norm.normalizedWeight) - 1) < 1e-3)
        // and baked into a plain layer, the same normalized weight
        #expect(norm.baked().weight.isIdentical(to: norm.normalizedWeight))
    }

    /// Evaluation mode runs no power iteration: two passes agree exactly and u, v stay put;
    /// training mode moves them.
    @Test func evaluationModeIsDeterministic() {
        Random.seed(4)
        let norm = SpectralNorm(Linear(6, 5), initialIterations: 0)
        let x = Tensor.randomNormal([3, 6], using: RandomGenerator(seed: 1))
        norm.eval()
        let u = norm._u.copy()
        #expect(norm(x).isIdentical(to: norm(x)) && norm._u.isIdentical(to: u))
        norm.train()
        _ = norm(x)
        #expect(!norm._u.isIdentical(to: u))
    }

    /// The gradient through W/σ(W) (σ differentiated) matches central finite differences, in
    /// evaluation mode where u and v are fixed.
    @Test(arguments: [false, true])
    func gradientsMatchFiniteDifferences(convolution: Bool) {
        Random.seed(5)
        let layer: any SpectrallyNormalizable = convolution ? Conv2d(2, 3, kernelSize: 3, padding: 1) : Linear(4, 3)
        let norm = SpectralNorm(layer)
        norm.eval()
        let x = Tensor.randomNormal(convolution ? [2, 2, 4, 4] : [5, 4], using: RandomGenerator(seed: 2))
        let direction = Tensor.randomNormal(convolution ? [2, 3, 4, 4] : [5, 3], using: RandomGenerator(seed: 3))
        func loss() -> Tensor { (norm(x) * direction).sum() }
        let (_, gradients) = valueAndGrad(norm) { _ in loss() }
        let analytic = gradients["layer.weight"]!
        let original = layer.weight.scalars, shape = layer.weight.shape
        func lossWith(_ index: Int, _ delta: Float) -> Float {
            var values = original
            values[index] += delta
            layer.weight.assign(Tensor(values, shape: shape))
            defer { layer.weight.assign(Tensor(original, shape: shape)) }
            return withoutGradients { loss().item }
        }
        for index in stride(from: 0, to: original.count, by: max(1, original.count / 12)) {
            let h: Float = 1e-3
            let plus = lossWith(index, h), minus = lossWith(index, -h)
            let numeric = (plus - minus) / (2 * h)
            #expect(abs(analytic.scalars[index] - numeric) <= 2e-3 + 2e-2 * abs(numeric), "weight[\(index)]: \(analytic.scalars[index]) vs \(numeric)")
        }
    }

    /// critic(real) − critic(fake) in training mode back-propagates through both passes, each
    /// with the vectors it used, although the second pass moved them: the gradient equals
    /// the gradients of the two passes taken separately with those vectors.
    @Test func backpropagatesThroughTwoPasses() {
        Random.seed(6)
        let norm = SpectralNorm(Linear(4, 1), initialIterations: 0)
        let real = Tensor.randomNormal([3, 4], using: RandomGenerator(seed: 1)), fake = Tensor.randomNormal([3, 4], using: RandomGenerator(seed: 2))
        let start = (norm._u.copy(), norm._v.copy())
        let (_, both) = valueAndGrad(norm) { n in n(real).mean() - n(fake).mean() }
        // replay: the vectors after the first and the second iteration
        norm._u.assign(start.0); norm._v.assign(start.1)
        norm.powerIteration()
        let first = (norm._u.copy(), norm._v.copy())
        norm.powerIteration()
        let second = (norm._u.copy(), norm._v.copy())
        norm.eval()
        norm._u.assign(first.0); norm._v.assign(first.1)
        let (_, realPass) = valueAndGrad(norm) { n in n(real).mean() }
        norm._u.assign(second.0); norm._v.assign(second.1)
        let (_, fakePass) = valueAndGrad(norm) { n in n(fake).mean() }
        let expected = realPass["layer.weight"]! - fakePass["layer.weight"]!
        let difference = zip(both["layer.weight"]!.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-6, "max difference \(difference)")
    }

    /// The critic with the PyTorch twin's weights and u, v vectors gives the twin's scores in
    /// training mode (one power iteration per layer) to 1e-4 relative, leaves the same vectors,
    /// and the same gradient; the generator gives the twin's images.
    @Test func matchesThePyTorchTwin() throws {
        let fixture = try SafeTensors.read(ganFixtures.appendingPathComponent("gan_parity.safetensors")).tensors
        let wgan = WGAN(.dcgan)
        #expect(wgan.model.parameterCount == 678_530)
        var weights: [String: Tensor] = [:]
        for (name, tensor) in fixture where name.hasPrefix("critic.") || name.hasPrefix("generator.") { weights[name] = tensor }
        try wgan.model.load(stateDict: weights)
        wgan.model.train()
        func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
            zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / max(b.abs().max().item, 1e-12)
        }
        let scores = withoutGradients { wgan.critic(fixture["input.images"]!) }
        #expect(relativeError(scores, fixture["output.scores"]!) < 1e-4, "scores \(scores.scalars) vs \(fixture["output.scores"]!.scalars)")
        for layer in ["conv1", "conv2", "fc"] {
            let buffers = Dictionary(uniqueKeysWithValues: wgan.critic.namedBuffers())
            #expect(relativeError(buffers["\(layer).u"]!, fixture["after.\(layer).u"]!) < 1e-4, "\(layer).u")
            #expect(relativeError(buffers["\(layer).v"]!, fixture["after.\(layer).v"]!) < 1e-4, "\(layer).v")
        }
        let (_, gradients) = valueAndGrad(wgan.critic) { critic in critic(fixture["input.images"]!).mean() }
        #expect(relativeError(gradients["conv1.layer.weight"]!, fixture["grad.conv1.layer.weight"]!) < 1e-4)
        let fakes = withoutGradients { wgan.generator(fixture["input.z"]!) }
        #expect(relativeError(fakes, fixture["output.fakes"]!) < 1e-4)
    }
}

@Suite("GAN losses")
struct GANLossTests {
    /// Both losses on hand-computed scores: the Wasserstein critic loss E D(fake) − E D(real),
    /// the hinge loss E max(0, 1 − D(real)) + E max(0, 1 + D(fake)) (Lim & Ye 2017), and the
    /// generator's −E D(G(z)) for both; the hinge's gradient is zero where a margin is met.
    @Test func lossesOnKnownScores() {
        let real = Tensor([2, -0.5], shape: [2, 1]), fake = Tensor([0.5, -2], shape: [2, 1])
        #expect(abs(GANLoss.wasserstein.criticLoss(realScores: real, fakeScores: fake).item - -1.5) < 1e-6)
        #expect(abs(GANLoss.hinge.criticLoss(realScores: real, fakeScores: fake).item - 1.5) < 1e-6)
        for loss in GANLoss.allCases { #expect(abs(loss.generatorLoss(fakeScores: fake).item - 0.75) < 1e-6) }
        let (_, gradients) = vectorJacobianProduct(at: [real, fake], { GANLoss.hinge.criticLoss(realScores: $0[0], fakeScores: $0[1]) }) { _ in Tensor(1) }
        #expect(gradients[0].scalars == [0, -0.5] && gradients[1].scalars == [0.5, 0])
    }
}
