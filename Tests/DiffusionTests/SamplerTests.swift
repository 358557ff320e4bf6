import Diffusion
import Foundation
import GenCore
import Testing

/// Every built-in sampler, for the conformance checks.
struct SamplerCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// Runs on SDE-type processes only (their reverse-SDE drift is singular at t = 1 on the linear path).
    let needsSDE: Bool
    /// How close the spread of the recovered Gaussian must be.
    let spreadTolerance: Float
    /// The sampler for a process (the few-step solvers lay out their grid by its noise levels).
    let make: @Sendable (any NoiseProcess) -> any Sampler
    var testDescription: String { name }
}

let samplerCases: [SamplerCase] = [
    SamplerCase(name: "DDPM small variance", needsSDE: false, spreadTolerance: 0.015) { _ in DDPMSampler(steps: 1000, variance: .small, clipData: false) },
    SamplerCase(name: "DDPM large variance", needsSDE: false, spreadTolerance: 0.015) { _ in DDPMSampler(steps: 1000, variance: .large, clipData: false) },
    SamplerCase(name: "DDIM η=0", needsSDE: false, spreadTolerance: 0.03) { _ in DDIMSampler(steps: 100, eta: 0, clipData: false) },
    SamplerCase(name: "DDIM η=1", needsSDE: false, spreadTolerance: 0.03) { _ in DDIMSampler(steps: 200, eta: 1, clipData: false) },
    SamplerCase(name: "Euler–Maruyama", needsSDE: true, spreadTolerance: 0.02) { _ in EulerMaruyamaSampler(steps: 1000) },
    SamplerCase(name: "reverse diffusion", needsSDE: true, spreadTolerance: 0.02) { _ in ReverseDiffusionSampler(steps: 1000) },
    SamplerCase(name: "predictor–corrector", needsSDE: true, spreadTolerance: 0.03) { _ in PredictorCorrectorSampler(steps: 500) },
    SamplerCase(name: "PC with EM predictor", needsSDE: true, spreadTolerance: 0.03) { _ in PredictorCorrectorSampler(steps: 500, predictor: .eulerMaruyama) },
    SamplerCase(name: "ODE Euler", needsSDE: false, spreadTolerance: 0.03) { _ in ProbabilityFlowSampler(method: .euler, steps: 1000) },
    SamplerCase(name: "ODE midpoint", needsSDE: false, spreadTolerance: 0.015) { _ in ProbabilityFlowSampler(method: .midpoint, steps: 50) },
    SamplerCase(name: "ODE Heun", needsSDE: false, spreadTolerance: 0.015) { _ in ProbabilityFlowSampler(method: .heun, steps: 50) },
    SamplerCase(name: "ODE RK4", needsSDE: false, spreadTolerance: 0.015) { _ in ProbabilityFlowSampler(method: .rk4, steps: 20) },
    SamplerCase(name: "ODE Dormand–Prince", needsSDE: false, spreadTolerance: 0.015) { _ in ProbabilityFlowSampler(method: .dopri5, steps: 2) },
    SamplerCase(name: "DPM-Solver++(2M)", needsSDE: false, spreadTolerance: 0.015) { DPMSolverSampler(steps: 40, order: 2, clipData: false, process: $0) },
    SamplerCase(name: "DPM-Solver++(3M)", needsSDE: false, spreadTolerance: 0.015) { DPMSolverSampler(steps: 40, order: 3, clipData: false, process: $0) },
    SamplerCase(name: "Karras–Heun", needsSDE: false, spreadTolerance: 0.015) { KarrasHeunSampler(steps: 40, process: $0) },
]

/// Every sampler with every process it applies to (the reverse-SDE samplers not on the linear
/// path): the pairs the conformance checks run, none skipped inside a test.
struct SamplerOnProcess: Sendable, CustomTestStringConvertible {
    let sampler: SamplerCase
    let process: ProcessCase
    var testDescription: String { "\(sampler.name) on \(process.name)" }
}

let samplerProcessPairs: [SamplerOnProcess] = samplerCases.flatMap { sampler in
    processCases.filter { !sampler.needsSDE || $0.isSDE }.map { SamplerOnProcess(sampler: sampler, process: $0) }
}

func run(_ sampler: any Sampler, _ denoiser: Denoiser, noise: Tensor, seed: UInt64) -> Tensor {
    func open<S: Sampler>(_ sampler: S) -> Tensor { sampler.sample(denoiser, noise: noise, generator: RandomGenerator(seed: seed)) }
    return open(sampler)
}

@Suite("Samplers")
struct SamplerTests {
    /// Sampling with the exact denoiser of N(0.5, 0.5²) recovers its mean and spread, for every
    /// sampler on every process it applies to.
    @Test(arguments: samplerProcessPairs)
    func recoversGaussianData(_ pair: SamplerOnProcess) {
        let (c, p) = (pair.sampler, pair.process)
        let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: p.process, prediction: p.prediction).denoiser()
        let noise = Tensor.randomNormal([10000, 1, 1, 1], using: RandomGenerator(seed: 1))
        let samples = run(c.make(p.process), denoiser, noise: noise, seed: 2)
        #expect(samples.shape == [10000, 1, 1, 1])
        let mean = samples.mean().item, std = samples.variance().item.squareRoot()
        #expect(abs(mean - 0.5) < 0.02 && abs(std - 0.5) < c.spreadTolerance, "\(c.name) on \(p.name): mean \(mean), std \(std)")
    }

    /// Shapes hold and a seed fixes the result, for every sampler and process.
    @Test(arguments: samplerProcessPairs)
    func seededRunsRepeat(_ pair: SamplerOnProcess) {
        let (c, p) = (pair.sampler, pair.process)
        let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: p.process, prediction: p.prediction).denoiser()
        let noise = Tensor.randomNormal([3, 2, 2, 3], using: RandomGenerator(seed: 5))
        let first = run(c.make(p.process), denoiser, noise: noise, seed: 9)
        #expect(first.shape == [3, 2, 2, 3] && first.isFinite)
        #expect(first.isIdentical(to: run(c.make(p.process), denoiser, noise: noise, seed: 9)))
    }

    /// DDIM with η = 0 and the ODE samplers ignore the generator: the noise alone decides.
    @Test func deterministicSamplersIgnoreTheGenerator() {
        let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: NoiseSchedule(.linear)).denoiser()
        let noise = Tensor.randomNormal([3, 1, 2, 2], using: RandomGenerator(seed: 5))
        for sampler in [DDIMSampler(steps: 10, eta: 0, clipData: false) as any Sampler, ProbabilityFlowSampler(method: .heun, steps: 10)] {
            #expect(run(sampler, denoiser, noise: noise, seed: 1).isIdentical(to: run(sampler, denoiser, noise: noise, seed: 2)))
        }
    }

    /// The fixture's single reverse steps (Ho et al. Eq. 6–7 and Song et al. Eq. 12 in NumPy,
    /// `make_sampler_fixtures.py`): a network whose predicted noise is fixed, one step from k_t to
    /// k_s of the linear schedule, against the papers' mean and standard deviation plus the noise
    /// the step's own generator draws. Small and large variance, η and clipping all show.
    @Test(arguments: ["late", "early", "last"])
    func oneStepAgainstThePapers(_ name: String) throws {
        let fixture = try SafeTensors.read(diffusionFixtures.appendingPathComponent("sampler_steps.safetensors")).tensors
        let xt = try #require(fixture["\(name).x_t"]), noise = try #require(fixture["\(name).eps_hat"])
        let times = try #require(fixture["\(name).times"]).scalars.map(Double.init)
        let (t, s) = (Double((times[0] * 1000).rounded()) / 1000, Double((times[1] * 1000).rounded()) / 1000)
        let denoiser = Denoiser(network: FixedOutput(noise), prediction: .noise, process: NoiseSchedule(.linear, steps: 1000))
        func check<S: Sampler>(_ sampler: S, mean key: String, std: Float, _ label: String) throws where S.State == Tensor {
            let expectedMean = try #require(fixture[key])
            let z = Tensor.randomNormal(xt.shape, using: RandomGenerator(seed: 11))
            let step = sampler.step(xt, from: t, to: s, denoiser: denoiser, generator: RandomGenerator(seed: 11))
            let expected = s > 0 ? expectedMean + z * std : expectedMean
            #expect(maxDifference(step, expected) < 2e-5, "\(name) \(label): largest difference \(maxDifference(step, expected))")
        }
        for clip in [false, true] {
            let key = "\(name).ddpm.clip\(clip ? 1 : 0)"
            for variance in [DDPMSampler.Variance.small, .large] {
                let std = try #require(fixture["\(key).std_\(variance.rawValue)"]).item
                try check(DDPMSampler(steps: 100, variance: variance, clipData: clip), mean: "\(key).mean", std: std, "DDPM \(variance) clip \(clip)")
            }
            for eta in [0.0, 0.5, 1.0] {
                let ddim = "\(name).ddim.eta\(eta).clip\(clip ? 1 : 0)"
                let std = try #require(fixture["\(ddim).std"]).item
                try check(DDIMSampler(steps: 100, eta: eta, clipData: clip), mean: "\(ddim).mean", std: std, "DDIM η \(eta) clip \(clip)")
            }
        }
    }

    @Test func samplingReportsEveryStepAndCountsEvaluations() {
        var steps: [Int] = []
        let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: VPSDE()).denoiser()
        let noise = Tensor.randomNormal([2, 1, 2, 2], using: RandomGenerator(seed: 5))
        _ = DDIMSampler(steps: 7).sample(denoiser, noise: noise, generator: RandomGenerator(seed: 0)) { steps.append($0.step) }
        #expect(steps == Array(1...7))
        #expect(denoiser.evaluations == 7)
        denoiser.evaluations = 0
        _ = ProbabilityFlowSampler(method: .rk4, steps: 5).sample(denoiser, noise: noise, generator: RandomGenerator(seed: 0))
        // four per RK4 step, and the final denoising at the minimum time
        #expect(denoiser.evaluations == 5 * 4 + 1)
        denoiser.evaluations = 0
        _ = PredictorCorrectorSampler(steps: 5, correctorSteps: 2).sample(denoiser, noise: noise, generator: RandomGenerator(seed: 0))
        #expect(denoiser.evaluations == 5 * 3)
    }

    /// The probability-flow ODE of a flow-matching path: for the linear path with the exact
    /// velocity of Gaussian data, Dormand–Prince turns the prior's quantiles into the data's
    /// (the transport map of 1-D Gaussians is affine: x = mean + std·z).
    @Test func flowODEIsTheAffineTransportMap() {
        let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: LinearPath(), prediction: .velocity).denoiser()
        let noise = Tensor([-2, -1, 0, 1, 2], shape: [5, 1])
        let images = run(ProbabilityFlowSampler(method: .dopri5, steps: 1, relativeTolerance: 1e-6, absoluteTolerance: 1e-6), denoiser, noise: noise, seed: 0)
        #expect(maxDifference(images, noise * 0.5 + 0.5) < 1e-4, "\(images.scalars)")
    }
}

/// A "network" that answers the same output whatever it is given.
final class FixedOutput: DenoisingNetwork {
    let output: Tensor
    init(_ output: Tensor) { self.output = output }
    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor { output }
}
