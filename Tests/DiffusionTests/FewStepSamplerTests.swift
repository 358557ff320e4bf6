import Diffusion
import Foundation
import GenCore
import Testing

/// The few-step samplers against the exact probability flow of Gaussian data.
///
/// For data ~ N(m, s²) per element every marginal is N(α·m, α²s² + σ²), and the 1-D flow that
/// carries one marginal into the next keeps `z = (x − α·m)/√(α²s² + σ²)` fixed. A sampler that
/// ends with the data prediction x̂ at its last time tₑ should therefore return
/// `m + α(tₑ)·s²·z/√(α(tₑ)²s² + σ(tₑ)²)`, with z read off the starting noise. Its error against
/// that shrinks with the step at the solver's order: halving the step divides it by 2^order.
@Suite("Few-step samplers")
struct FewStepSamplerTests {
    static let (mean, std) = (0.5, 0.5)

    /// The root-mean-square error of `sampler`'s output against the exact flow's.
    static func error<S: Sampler>(_ sampler: S, on p: ProcessCase) -> Double {
        let process = p.process
        let denoiser = GaussianNetwork(mean: Float(mean), std: Float(std), process: process, prediction: p.prediction).denoiser()
        let noise = Tensor.randomNormal([2000, 1, 1, 1], using: RandomGenerator(seed: 3))
        let output = sampler.sample(denoiser, noise: noise, generator: RandomGenerator(seed: 4))
        let grid = sampler.timeGrid
        let (alpha1, sigma1) = (process.alpha(1), process.sigma(1))
        let end = grid[grid.count - 2]
        let (alphaE, sigmaE) = (process.alpha(end), process.sigma(end))
        let prior = process.priorStandardDeviation
        var squares = 0.0
        for (n, x) in zip(noise.scalars, output.scalars) {
            let z = (prior * Double(n) - alpha1 * mean) / (alpha1 * alpha1 * std * std + sigma1 * sigma1).squareRoot()
            let exact = mean + alphaE * std * std * z / (alphaE * alphaE * std * std + sigmaE * sigmaE).squareRoot()
            squares += (Double(x) - exact) * (Double(x) - exact)
        }
        return (squares / Double(noise.count)).squareRoot()
    }

    static let dpmProcesses = [
        ProcessCase(name: "VP", process: VPSDE()),
        ProcessCase(name: "VE", process: VESDE(sigmaMin: 0.01, sigmaMax: 20)),
        ProcessCase(name: "linear path", process: LinearPath()),
    ]

    /// Over whole runs, 24 → 48 steps (both above the lower-order-at-the-end threshold of 15):
    /// DPM-Solver++(2M) divides its error by about 4; (3M) by more, and ends far below 2M.
    @Test(arguments: dpmProcesses)
    func dpmSolverConvergesAtItsOrder(_ p: ProcessCase) {
        for order in [2, 3] {
            let coarse = Self.error(DPMSolverSampler(steps: 24, order: order, clipData: false, process: p.process), on: p)
            let fine = Self.error(DPMSolverSampler(steps: 48, order: order, clipData: false, process: p.process), on: p)
            let observed = log2(coarse / fine)
            print("DPM-Solver++(\(order)M) on \(p.name): errors \(coarse), \(fine), order \(observed)")
            // 2M: second order. 3M: third order in each step (the test below); over these runs
            // its error falls faster still (about 2⁻⁴ per halving: the O(h²) term of its two
            // lower-order first steps, at high noise where x̂ hardly moves, is still tiny), and
            // must end well below 2M's.
            let expected = order == 2 ? 1.5...2.5 : 2.6...5.0
            #expect(expected.contains(observed), "DPM-Solver++(\(order)M) on \(p.name): order \(observed) (errors \(coarse), \(fine))")
            if order == 3 {
                let secondOrder = Self.error(DPMSolverSampler(steps: 48, order: 2, clipData: false, process: p.process), on: p)
                #expect(fine < secondOrder / 4, "DPM-Solver++(3M) on \(p.name): error \(fine), 2M's \(secondOrder)")
            }
        }
    }

    /// One step with an exact history: for a data prediction x̂(λ) = cos λ (whatever x is), the
    /// exact step is `x_s = (σ_s/σ_t)·x_t + σ_s·∫ e^λ cos λ dλ` over [λ_t, λ_s], and a solver of
    /// order k errs by O(h^(k+1)) in one step: halving h divides the error by 8 (2M) and 16 (3M).
    @Test func dpmSolverStepHasTheLocalErrorOfItsOrder() {
        let process = VESDE(sigmaMin: 0.01, sigmaMax: 20)
        let network = LambdaCosineNetwork(process: process)
        let denoiser = Denoiser(network: network, prediction: .data, process: process)
        func time(_ lambda: Double) -> Double { (-log(0.01) - lambda) / log(20 / 0.01) }
        func antiderivative(_ lambda: Double) -> Double { exp(lambda) * (cos(lambda) + sin(lambda)) / 2 }
        func localError(order: Int, h: Double) -> Double {
            let lambdaT = 1.0, lambdaS = lambdaT + h
            let (t, s) = (time(lambdaT), time(lambdaS))
            let xT = Tensor([0.3, -0.7], shape: [2, 1, 1, 1])
            let history = (1..<order).map { k in
                (data: Tensor(Array(repeating: Float(cos(lambdaT - Double(k) * h)), count: 2), shape: [2, 1, 1, 1]), lambdaStep: h)
            }
            let sampler = DPMSolverSampler(steps: 30, order: order, clipData: false, process: process)
            let next = sampler.step(.init(x: xT, history: history), from: t, to: s, denoiser: denoiser, generator: RandomGenerator(seed: 0)).x
            let sigmaS = process.sigma(s), sigmaT = process.sigma(t)
            return zip(xT.scalars, next.scalars).map { x, got in
                abs(Double(got) - (sigmaS / sigmaT * Double(x) + sigmaS * (antiderivative(lambdaS) - antiderivative(lambdaT))))
            }.max() ?? .infinity
        }
        for order in [2, 3] {
            let coarse = localError(order: order, h: 0.4), fine = localError(order: order, h: 0.2)
            let observed = log2(coarse / fine)
            print("DPM-Solver++(\(order)M) one step: errors \(coarse), \(fine), local order \(observed)")
            #expect(abs(observed - Double(order + 1)) < 0.4, "DPM-Solver++(\(order)M): local order \(observed) (errors \(coarse), \(fine))")
        }
    }

    /// EDM's Heun sampler is second order in its grid step: 9 → 17 noise levels (8 → 16
    /// intervals) divides the error by about 4.
    @Test(arguments: [ProcessCase(name: "VP", process: VPSDE()), ProcessCase(name: "VE", process: VESDE(sigmaMin: 0.01, sigmaMax: 20))])
    func karrasHeunConvergesAtSecondOrder(_ p: ProcessCase) {
        let coarse = Self.error(KarrasHeunSampler(steps: 9, process: p.process), on: p)
        let fine = Self.error(KarrasHeunSampler(steps: 17, process: p.process), on: p)
        let observed = log2(coarse / fine)
        print("Karras–Heun on \(p.name): errors \(coarse), \(fine), order \(observed)")
        #expect(abs(observed - 2) < 0.5, "Karras–Heun on \(p.name): order \(observed) (errors \(coarse), \(fine))")
    }

    /// The samplers cost what they say: DPM-Solver++ one evaluation per step, EDM's Heun 2N − 1
    /// for N noise levels; flow matching's jump out of t = 1 costs none.
    @Test(arguments: processCases)
    func networkEvaluationsAreAsDocumented(_ p: ProcessCase) {
        let noise = Tensor.randomNormal([4, 1, 2, 2], using: RandomGenerator(seed: 1))
        for (sampler, expected) in [(DPMSolverSampler(steps: 10, process: p.process) as any Sampler, 10), (KarrasHeunSampler(steps: 10, process: p.process), 19)] {
            let denoiser = GaussianNetwork(mean: 0.5, std: 0.5, process: p.process, prediction: p.prediction).denoiser()
            _ = run(sampler, denoiser, noise: noise, seed: 0)
            #expect(denoiser.evaluations == expected, "\(type(of: sampler)) on \(p.name): \(denoiser.evaluations) evaluations")
        }
    }

    /// Karras's grid: σ_max, σ_min and ρ = 7 as in EDM, mapped to times that fall from 1 to 0.
    @Test func karrasGridMatchesEDM() {
        let process = VESDE(sigmaMin: 0.002, sigmaMax: 80)
        let levels = KarrasHeunSampler(steps: 18, process: process).noiseLevels
        // σ_max = σ(1); σ_min = σ at the minimum time (just above VE's σ_min of 0.002)
        let bottom = process.sigma(process.minimumTime)
        #expect(abs(levels[0] - 80) < 1e-6 && abs(levels[17] - bottom) < 1e-12 && bottom > 0.002)
        // EDM's formula at i = 9: (σ_max^(1/7) + 9/17·(σ_min^(1/7) − σ_max^(1/7)))^7
        let edm = pow(pow(80.0, 1.0 / 7) + 9.0 / 17 * (pow(bottom, 1.0 / 7) - pow(80.0, 1.0 / 7)), 7)
        #expect(abs(levels[9] - edm) < 1e-9 * edm)
        let flow = KarrasHeunSampler(steps: 18, process: LinearPath())
        #expect(abs(flow.noiseLevels[0] - 80) < 1e-9)
        #expect(flow.timeGrid.first == 1 && abs(flow.timeGrid[1] - 80.0 / 81) < 1e-9 && flow.timeGrid.last == 0)
    }

    /// DPM-Solver++'s grid is uniform in λ = log(α/σ).
    @Test func dpmGridIsUniformInLambda() {
        let process = VPSDE()
        let grid = DPMSolverSampler(steps: 12, process: process).timeGrid
        let lambdas = grid.dropLast().map { log(process.alpha($0) / process.sigma($0)) }
        let gaps = zip(lambdas, lambdas.dropFirst()).map { $1 - $0 }
        #expect(gaps.count == 11 && gaps.allSatisfy { abs($0 - gaps[0]) < 1e-6 * abs(gaps[0]) })
        #expect(grid.first == 1 && grid.last == 0 && grid[grid.count - 2] == process.minimumTime)
    }
}

/// A network whose data prediction is cos λ(t) everywhere, λ = log(α/σ): a known x̂ for the
/// exact step of DPM-Solver++.
final class LambdaCosineNetwork: DenoisingNetwork {
    let process: any NoiseProcess
    init(process: any NoiseProcess) { self.process = process }

    func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        let values = times.scalars.map { t -> Float in
            let t = Double(t)
            return Float(cos(log(process.alpha(t) / process.sigma(t))))
        }
        let perSample = xt.count / max(1, xt.shape[0])
        return Tensor(values.flatMap { Array(repeating: $0, count: perSample) }, shape: xt.shape)
    }
}
