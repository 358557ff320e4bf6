import Foundation
import GenCore
import Testing
import VAE

/// Probabilistic PCA (Tipping & Bishop 1999) as a latent-variable model: p(z) = N(0, I),
/// p(x|z) = N(Wz + b, σ²I), so log p(x) = log N(x; b, WWᵀ + σ²I) is exact. The encoder shrinks
/// the exact posterior mean by 0.7 and uses four times the exact marginal variances as a
/// diagonal, so the bounds have a clear gap to close.
final class PPCA: LatentVariableModel {
    let w: Tensor, b: Tensor, sigma: Float
    let encoderWeight: Tensor, encoderLogVariance: Tensor
    init(dimensions: Int, latent: Int, generator: RandomGenerator) {
        w = Tensor.randomNormal([dimensions, latent], using: generator)
        b = Tensor.randomNormal([dimensions], std: 0.5, using: generator)
        sigma = 0.5
        require(latent == 2, "PPCA test model: two latent dimensions")
        // M = WᵀW + σ²I; posterior mean M⁻¹Wᵀ(x − b), covariance σ²M⁻¹
        let m = (w.matmul(w, transposeA: true) + Tensor([1, 0, 0, 1], shape: [2, 2]) * (sigma * sigma)).scalars
        let det = m[0] * m[3] - m[1] * m[2]
        let inverse = Tensor([m[3] / det, -m[1] / det, -m[2] / det, m[0] / det], shape: [2, 2])
        encoderWeight = inverse.matmul(w, transposeB: true) * 0.7
        encoderLogVariance = Tensor([log(4 * sigma * sigma * m[3] / det), log(4 * sigma * sigma * m[0] / det)], shape: [1, 2])
    }
    func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        ((x - b).matmul(encoderWeight, transposeB: true), encoderLogVariance.broadcast(to: [x.shape[0], encoderWeight.shape[0]]))
    }
    func logLikelihood(_ x: Tensor, given z: Tensor) -> Tensor {
        let mean = z.matmul(w, transposeB: true) + b
        let d = Float(x.shape[1])
        return (x - mean).squared().sum(axes: [1]) * (-0.5 / (sigma * sigma)) - d * (log(sigma) + Float(0.5 * log(2 * Double.pi)))
    }
    /// The exact log p(x) per row, through LAPACK's eigendecomposition of WWᵀ + σ²I.
    func exactLogDensity(_ x: Tensor) -> [Double] {
        let d = x.shape[1]
        let covariance = (w.matmul(w, transposeB: true) + Tensor.ones([d]).diagonalMatrix() * (sigma * sigma)).scalars.map(Double.init)
        let (values, vectors) = LinearAlgebra.symmetricEigen(covariance, size: d)
        let logDet = values.map { log($0) }.reduce(0, +)
        return (0..<x.shape[0]).map { i in
            let r = (0..<d).map { Double(x.scalars[i * d + $0] - b.scalars[$0]) }
            // rᵀ Σ⁻¹ r = Σ_j (v_jᵀ r)² / λ_j
            let quadratic = (0..<d).map { j -> Double in
                let projection = (0..<d).map { vectors[$0 * d + j] * r[$0] }.reduce(0, +)
                return projection * projection / values[j]
            }.reduce(0, +)
            return -0.5 * (quadratic + logDet + Double(d) * log(2 * Double.pi))
        }
    }
}

extension Tensor {
    /// `[d] → [d, d]` with this vector on the diagonal.
    func diagonalMatrix() -> Tensor {
        let d = count
        var values = [Float](repeating: 0, count: d * d)
        for i in 0..<d { values[i * d + i] = scalars[i] }
        return Tensor(values, shape: [d, d])
    }
}

@Suite("VAE")
struct VAETests {
    /// The closed-form KL equals a Monte Carlo estimate E_q[log q(z) − log p(z)].
    @Test func klMatchesMonteCarlo() {
        let generator = RandomGenerator(seed: 1)
        let mean = Tensor([0.5, -1.0, 0.2], shape: [1, 3]), logVariance = Tensor([-0.5, 0.3, -1.2], shape: [1, 3])
        let closed = Double(gaussianKL(mean: mean, logVariance: logVariance).item)
        let n = 200_000
        let z = mean + Tensor.randomNormal([n, 3], using: generator) * (logVariance * 0.5).exp()
        let logQ = ((z - mean).squared() * (-logVariance).exp() + logVariance + Float(log(2 * Double.pi))).sum(axes: [1]) * -0.5
        let logP = (z.squared() + Float(log(2 * Double.pi))).sum(axes: [1]) * -0.5
        let monteCarlo = Double((logQ - logP).mean().item)
        #expect(abs(closed - monteCarlo) < 0.01, "closed form \(closed), Monte Carlo \(monteCarlo)")
    }

    /// On probabilistic PCA: the IWAE bound equals the ELBO at k = 1 in expectation, rises
    /// with k, and at k = 1,000 is within 0.5 nats of the exact log p(x).
    @Test func importanceWeightedBoundApproachesTheExactLikelihood() {
        let generator = RandomGenerator(seed: 2)
        let model = PPCA(dimensions: 6, latent: 2, generator: generator)
        // data from the model itself
        let z = Tensor.randomNormal([8, 2], using: generator)
        let x = z.matmul(model.w, transposeB: true) + model.b + Tensor.randomNormal([8, 6], std: model.sigma, using: generator)
        let exact = model.exactLogDensity(x).reduce(0, +) / 8
        func average(_ values: Tensor) -> Double { Double(values.mean().item) }
        // the ELBO and the k = 1 bound over 2,000 draws each: equal within 3 standard errors
        let draws = 2000
        let elbos = (0..<draws).map { _ in average(model.elbo(x, generator: generator).elbo) }
        let k1s = (0..<draws).map { _ in average(model.importanceWeightedBound(x, samples: 1, generator: generator)) }
        func meanAndVariance(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1))
        }
        let (elbo, elboVariance) = meanAndVariance(elbos), (k1, k1Variance) = meanAndVariance(k1s)
        let standardError = ((elboVariance + k1Variance) / Double(draws)).squareRoot()
        #expect(abs(elbo - k1) < 3 * standardError, "ELBO \(elbo) vs k = 1 bound \(k1) (standard error \(standardError))")
        let k10 = (0..<20).map { _ in average(model.importanceWeightedBound(x, samples: 10, generator: generator)) }.reduce(0, +) / 20
        let k100 = (0..<20).map { _ in average(model.importanceWeightedBound(x, samples: 100, generator: generator)) }.reduce(0, +) / 20
        let k1000 = average(model.importanceWeightedBound(x, samples: 1000, chunk: 250, generator: generator))
        print("PPCA: exact \(exact), ELBO \(elbo), IWAE k=1 \(k1), 10 \(k10), 100 \(k100), 1000 \(k1000)")
        #expect(elbo < k10 && k10 < k100 && k100 <= k1000 + 0.05, "bounds: \(elbo), \(k10), \(k100), \(k1000)")
        #expect(k1000 <= exact + 0.05 && exact - k1000 < 0.5, "IWAE k = 1000: \(k1000), exact \(exact)")
    }

    /// The benchmark MLP VAE has the twin's parameter count and names.
    @Test func benchmarkConfigurationMatchesTheTwin() {
        let vae = VariationalAutoencoder(.mlp)
        #expect(vae.parameterCount == 652_824)
        #expect(Set(vae.namedParameters().map(\.0)) == ["fc1.weight", "fc1.bias", "mu.weight", "mu.bias", "logvar.weight", "logvar.bias",
                                                        "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"])
    }

    /// Both architectures and likelihoods learn: on 8×8 images of bright squares the negative
    /// ELBO falls by more than half in 300 steps, and the IWAE bound (k = 50) is above the ELBO.
    @Test(arguments: [(VAEConfiguration.Architecture.mlp, VAEConfiguration.Likelihood.bernoulli), (.conv, .gaussian)])
    func learnsSquares(_ architecture: VAEConfiguration.Architecture, _ likelihood: VAEConfiguration.Likelihood) {
        Random.seed(4)
        let generator = RandomGenerator(seed: 5)
        func squares(_ count: Int) -> Tensor {
            var values: [Float] = []
            for _ in 0..<count {
                var image = [Float](repeating: 0.05, count: 64)
                let (row, column) = (generator.nextInt(below: 5), generator.nextInt(below: 5))
                for r in row..<(row + 3) { for c in column..<(column + 3) { image[r * 8 + c] = 0.95 } }
                values += image
            }
            return Tensor(values, shape: [count, 1, 8, 8])
        }
        let vae = VAE(VAEConfiguration(imageShape: [1, 8, 8], architecture: architecture, latent: 4, hidden: 64, likelihood: likelihood, klWarmup: 50))
        let optimizer = Adam(learningRate: 2e-3)
        var first: Float = 0, last: Float = 0
        for step in 0..<300 {
            vae.willTrain(step: step)
            let batch = Batch(images: squares(32), labels: nil, indices: [])
            let (loss, gradients) = valueAndGrad(vae.network) { _ in vae.loss(batch: batch, generator: generator) }
            optimizer.update(vae.network, with: gradients)
            if step < 10 { first += loss.item / 10 }
            if step >= 290 { last += loss.item / 10 }
        }
        #expect(vae.klWeight == 1)
        let clean = squares(16)
        let test = vae.prepare(clean, generator: generator)
        // the ELBO from 50 draws per image, so its noise is below the gap to the IWAE bound
        let elbo = (0..<50).map { _ in withoutGradients { vae.network.elbo(test, generator: generator).elbo.mean().item } }.reduce(0, +) / 50
        let iwae = vae.network.importanceWeightedBound(test, samples: 50, generator: generator).mean().item
        // reconstructions of the clean squares: an untrained decoder gives about 0.2
        let reconstructed = withoutGradients { vae.network.meanImage(vae.network.encode(clean).mean) }
        let error = (reconstructed - clean).squared().mean().item
        let untrained = VAE(VAEConfiguration(imageShape: [1, 8, 8], architecture: architecture, latent: 4, hidden: 64, likelihood: likelihood))
        let untrainedError = withoutGradients { (untrained.network.meanImage(untrained.network.encode(clean).mean) - clean).squared().mean().item }
        print("VAE \(architecture)/\(likelihood): loss \(first) → \(last); test ELBO \(elbo), IWAE(50) \(iwae); reconstruction error \(error) (untrained \(untrainedError))")
        #expect(last < 0.5 * first, "loss \(first) → \(last)")
        #expect(error < 0.05 && untrainedError > 0.1, "reconstruction error \(error), untrained \(untrainedError)")
        #expect(iwae > elbo, "IWAE \(iwae) vs ELBO \(elbo)")
        let reconstructions = vae.reconstructions(test, columns: 4)
        #expect(reconstructions.shape == [32, 1, 8, 8])
        #expect(vae.interpolations(rows: 2, columns: 5, generator: generator).shape == [10, 1, 8, 8])
    }
}
