import Diffusion
import Foundation
import GenCore
import Testing

@Suite("SDEs and noise processes")
struct SDETests {
    /// α' and σ' agree with central differences of α and σ, for every process.
    @Test(arguments: processCases)
    func derivativesMatchFiniteDifferences(_ p: ProcessCase) {
        let h = 1e-6
        for t in [0.0503, 0.3107, 0.5011, 0.7719, 0.9513] {  // off DDPM's grid, where log ᾱ bends
            let process = p.process
            let da = (process.alpha(t + h) - process.alpha(t - h)) / (2 * h)
            let ds = (process.sigma(t + h) - process.sigma(t - h)) / (2 * h)
            #expect(abs(process.alphaDerivative(t) - da) <= 1e-5 * max(1, abs(da)), "\(p.name) α' at \(t)")
            #expect(abs(process.sigmaDerivative(t) - ds) <= 1e-5 * max(1, abs(ds)), "\(p.name) σ' at \(t)")
        }
    }

    /// The drift and diffusion each SDE states in closed form are those its marginals imply
    /// (which the samplers use): f = α'/α, g² = dσ²/dt − 2fσ².
    @Test(arguments: sdeCases)
    func closedFormsMatchTheMarginals(_ p: ProcessCase) {
        let sde = p.process as! any SDE
        let x = Tensor([1.5, -0.25], shape: [2])
        for t in [0.01, 0.2, 0.5, 0.9, 1.0] {
            let drift = sde.drift(x, at: t).scalars
            #expect(abs(Double(drift[0]) - sde.driftCoefficient(t) * 1.5) < 1e-5, "\(p.name) f at \(t)")
            let g2 = sde.diffusion(t) * sde.diffusion(t)
            #expect(abs(g2 - sde.diffusionSquared(t)) <= 1e-9 * max(1, g2), "\(p.name) g² at \(t): \(g2) vs \(sde.diffusionSquared(t))")
        }
    }

    /// Simulating the forward SDE from a fixed data point with small Euler–Maruyama steps gives
    /// the marginal mean α(t)·data and std σ(t) the formulas state (Monte Carlo, 20,000 paths).
    @Test(arguments: sdeCases)
    func forwardMarginalsMatchMonteCarlo(_ p: ProcessCase) {
        let sde = p.process as! any SDE
        let generator = RandomGenerator(seed: 11)
        let data = Tensor.full([20000], 0.7)
        var x = data
        let steps = 1000
        for k in 0..<steps {
            let t = Double(k) / Double(steps), dt = 1 / Double(steps)
            x = x + sde.drift(x, at: t) * Float(dt) + Tensor.randomNormal(x.shape, using: generator) * Float(sde.diffusion(t) * dt.squareRoot())
            if k + 1 == steps / 2 || k + 1 == steps {
                let time = Double(k + 1) / Double(steps)
                let (mean, std) = sde.marginal(of: data, at: time)
                let mcMean = Double(x.mean().item), mcStd = Double(x.variance().item).squareRoot()
                // Monte Carlo error of the mean ≈ std/√20000 < 0.01·std
                #expect(abs(mcMean - Double(mean.scalars[0])) < 0.03 * max(std, 0.1), "\(p.name) at \(time): mean \(mcMean) vs \(mean.scalars[0])")
                #expect(abs(mcStd - std) < 0.03 * std, "\(p.name) at \(time): std \(mcStd) vs \(std)")
            }
        }
    }

    /// The prior is N(0, s²): VP and sub-VP end near N(0, 1), VE at N(0, σ_max²).
    @Test(arguments: sdeCases)
    func priorIsWhereTheProcessEnds(_ p: ProcessCase) {
        let process = p.process
        let variance = pow(process.alpha(1), 2) * 0.25 + pow(process.sigma(1), 2)
        #expect(abs(variance.squareRoot() / process.priorStandardDeviation - 1) < 0.01, "\(p.name)")
        let x = Tensor([0.3, -1.2, 2.0, 0.1], shape: [2, 2])
        let s = process.priorStandardDeviation
        var expected = [0.0, 0.0]
        for i in 0..<2 {
            for j in 0..<2 {
                let v = Double(x.scalars[2 * i + j])
                expected[i] += -v * v / (2 * s * s) - log(s) - 0.5 * log(2 * Double.pi)
            }
        }
        let logDensity = process.priorLogDensity(x).scalars
        #expect(zip(logDensity, expected).allSatisfy { abs(Double($0) - $1) < 1e-4 }, "\(p.name): \(logDensity) vs \(expected)")
    }

    /// VP with the paper's β range is the continuous limit of DDPM's linear schedule at T = 1000.
    @Test func vpIsTheLimitOfTheLinearSchedule() {
        let schedule = NoiseSchedule(.linear, steps: 1000), vp = VPSDE()
        // log ∏(1 − βᵢ) = −Σβᵢ − ½Σβᵢ² − …, so the two differ in the second order, < 1%
        for t in [0.1, 0.5, 0.9, 1.0] {
            let discrete = log(schedule.alphaBar(t)), continuous = -vp.integratedBeta(t)
            #expect(abs(discrete / continuous - 1) < 0.01, "log ᾱ at \(t): \(discrete) vs \(continuous)")
        }
    }

    /// Denoising score matching and flow matching losses vanish for the exact denoiser only in
    /// expectation; but with the exact Gaussian denoiser, DSM's loss equals its closed form
    /// E‖ε̂ − ε‖² = 1 − E[σ²/(α²s² + σ²)] averaged over t (here checked against Monte Carlo).
    @Test func scoreMatchingLossOfTheExactDenoiser() {
        let process = VPSDE()
        let denoiser = GaussianNetwork(mean: 0, std: 0.5, process: process).denoiser()
        let generator = RandomGenerator(seed: 3)
        let data = Tensor.randomNormal([4000, 1, 1, 1], std: 0.5, using: generator)
        let samples = (0..<20).map { _ in Double(denoisingScoreMatchingLoss(denoiser: denoiser, data: data, generator: generator).item) }
        let loss = samples.reduce(0, +) / Double(samples.count)
        // E over t ~ U(ε, 1) of α²s²/(α²s² + σ²): the part of the noise the data hides
        let n = 10000
        let expected = (0..<n).map { i -> Double in
            let t = 1e-5 + (1 - 1e-5) * (Double(i) + 0.5) / Double(n)
            let a2 = pow(process.alpha(t), 2) * 0.25, s2 = pow(process.sigma(t), 2)
            return a2 / (a2 + s2)
        }.reduce(0, +) / Double(n)
        #expect(abs(loss - expected) < 0.01, "loss \(loss) vs \(expected)")
    }
}
