import Diffusion
import Foundation
import GenCore
import Testing

@Suite("Likelihood through the probability-flow ODE")
struct LikelihoodTests {
    static let mean = [0.3, -0.2]
    static let covariance = [0.5, 0.3, 0.3, 0.4]

    /// On a correlated 2-D Gaussian, with its exact denoiser, the ODE log-density equals the
    /// exact one: per point within 1% with the exact trace, and on average within 2% with
    /// Hutchinson's estimator, for every process (the linear path with a velocity network).
    /// VE's prior N(0, σ_max²) ignores the data's mean, which costs ≈ |mean|/σ_max nats per
    /// point (0.018 at σ_max = 20); the check uses σ_max = 200 so the ODE's own error shows.
    /// The discrete cosine schedule (log ᾱ piecewise linear between its steps) is what the
    /// bits/dim of cosine DDPM runs integrate; the linear one stands for its continuous VP SDE.
    static let cases = processCases.filter { !($0.process is NoiseSchedule) }.map {
        $0.process is VESDE ? ProcessCase(name: "VE σmax=200", process: VESDE(sigmaMin: 0.01, sigmaMax: 200)) : $0
    } + [ProcessCase(name: "DDPM cosine T=1000", process: NoiseSchedule(.cosine, steps: 1000))]

    @Test(arguments: cases)
    func recoversTheExactLogDensity(_ p: ProcessCase) {
        let network = CorrelatedGaussianNetwork(mean: Self.mean, covariance: Self.covariance, process: p.process, prediction: p.prediction)
        let generator = RandomGenerator(seed: 7)
        // points from the data distribution: mean + L·z with L the Cholesky factor of Σ
        let l00 = Self.covariance[0].squareRoot(), l10 = Self.covariance[2] / l00
        let l11 = (Self.covariance[3] - l10 * l10).squareRoot()
        let z = Tensor.randomNormal([64, 2], using: generator).scalars.map(Double.init)
        var points: [Float] = []
        for i in 0..<64 {
            let first: Double = Self.mean[0] + l00 * z[2 * i]
            let second: Double = Self.mean[1] + l10 * z[2 * i] + l11 * z[2 * i + 1]
            points += [Float(first), Float(second)]
        }
        let x = Tensor(points, shape: [64, 2])
        let exact = network.exactLogDensity(x)

        let solver = ODESolver(method: .dopri5, relativeTolerance: 1e-5, absoluteTolerance: 1e-5)
        let (traced, _) = LikelihoodEstimator(solver: solver, trace: .exact).logDensity(of: x, denoiser: network.denoiser(), generator: generator)
        for (estimate, truth) in zip(traced.scalars, exact) {
            let error: Double = abs(Double(estimate) - truth)
            #expect(error < 0.01 * abs(truth) + 1e-3, "\(p.name): \(estimate) vs \(truth)")
        }
        // Hutchinson's estimate of one point has a spread of ≈ 1 nat here (the off-diagonal
        // Jacobian terms), so the mean is taken over each point with 256 probes.
        let repeated = Tensor.concatenate(Array(repeating: x, count: 256), axis: 0)
        let (hutchinson, evaluations) = LikelihoodEstimator(solver: solver, trace: .rademacher).logDensity(of: repeated, denoiser: network.denoiser(), generator: generator)
        let estimateMean: Double = hutchinson.scalars.map(Double.init).reduce(0, +) / Double(repeated.shape[0])
        let exactMean: Double = exact.reduce(0, +) / 64
        #expect(abs(estimateMean - exactMean) < 0.02 * abs(exactMean), "\(p.name): mean \(estimateMean) vs \(exactMean)")
        #expect(evaluations > 0)
    }

    /// Bits per dimension: uniform noise on [−1, 1] has density 2^{−D}, i.e. 8 bits/dim of
    /// 8-bit data; and dequantization maps pixel k into [2k/256 − 1, 2(k + 1)/256 − 1).
    @Test func bitsPerDimensionConventions() {
        let logDensity = Tensor([Float(-784 * log(2.0))], shape: [1])
        #expect(abs(EightBitData.bitsPerDimension(logDensity: logDensity, dimensions: 784, valuesIn: .symmetric).item - 8) < 1e-5)
        let pixels = Tensor([0, 255, 128], shape: [1, 3])
        let x = EightBitData.dequantize(pixels: pixels, into: .symmetric, generator: RandomGenerator(seed: 1)).scalars
        #expect(x[0] >= -1 && x[0] < -1 + 2.0 / 256 && x[1] >= 1 - 2.0 / 256 && x[1] < 1 && x[2] >= 0 && x[2] < 2.0 / 256)
    }
}
