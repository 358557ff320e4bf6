import Diffusion
import Foundation
import GenCore
import Testing

@Suite("RePaint inpainting")
struct RePaintTests {
    /// RePaint's jump schedule: down one step at a time, back up J steps at every multiple of J
    /// strictly between 0 and T − J, R − 1 times; one network evaluation per step down.
    @Test func scheduleFollowsThePaper() {
        let repaint = RePaint(steps: 20, resamplings: 3, jump: 5)
        let path = repaint.schedule
        #expect(path.first == 20 && path.last == 0)
        #expect(zip(path, path.dropFirst()).allSatisfy { $1 == $0 - 1 || $1 == $0 + 5 })
        // jumps at 5 and 10 (not 15: 15 + 5 would reach t = 1), twice each
        let jumps = zip(path, path.dropFirst()).filter { $1 > $0 }.map(\.0)
        #expect(jumps == [10, 10, 5, 5], "\(jumps)")
        #expect(repaint.networkEvaluations == 20 + 2 * 2 * 5)
        #expect(RePaint(steps: 20, resamplings: 1, jump: 5).schedule == Array((0...20).reversed()))
    }

    /// The known pixels come back exactly, for every process; the others are drawn, finite, and
    /// the run costs what ``RePaint/networkEvaluations`` says.
    @Test(arguments: processCases)
    func keepsTheKnownPixelsExactly(_ p: ProcessCase) {
        let denoiser = GaussianNetwork(mean: 0.2, std: 0.3, process: p.process, prediction: p.prediction).denoiser()
        let known = Tensor.randomUniform([4, 2, 3, 3], low: -1, high: 1, using: RandomGenerator(seed: 1))
        let keep = Tensor((0..<9).map { $0 % 3 == 0 ? Float(1) : 0 }, shape: [1, 1, 3, 3])
        let repaint = RePaint(steps: 12, resamplings: 2, jump: 3)
        let filled = repaint.inpaint(denoiser, known: known, keep: keep, generator: RandomGenerator(seed: 2))
        #expect(filled.shape == known.shape && filled.isFinite)
        var kept = true, drawn = 0
        for (index, (a, b)) in zip(known.scalars, filled.scalars).enumerated() {
            if index % 9 % 3 == 0 { kept = kept && a == b } else if a != b { drawn += 1 }
        }
        #expect(kept, "\(p.name): known pixels changed")
        #expect(drawn == 4 * 2 * 6, "\(p.name): \(drawn) of 48 unknown pixels drawn")
        #expect(denoiser.evaluations == repaint.networkEvaluations, "\(p.name): \(denoiser.evaluations) evaluations")
    }

    /// With the exact denoiser of a correlated 2-D Gaussian (correlation 0.8), inpainting the
    /// second coordinate given the first = a should sample the conditional Gaussian
    /// N(m₁ + ρ·(s₁/s₀)·(a − m₀), s₁²(1 − ρ²)). Replacing the known part is not an exact
    /// conditional sampler (the reverse steps see only a noised copy of a), and RePaint's
    /// resampling is what narrows the gap: at the paper's settings (T = 250, J = 10, R = 10) the
    /// fill's mean must lie within a third of the way from the conditional mean to the
    /// unconditional one, and R = 10 must land clearly closer than R = 1. (A NumPy replica of
    /// the loop gives the same numbers: VP −0.019 against R = 1's −0.055, the linear path 0.021
    /// against −0.053, the conditional mean being 0.04 and the unconditional −0.2.)
    @Test(arguments: [ProcessCase(name: "VP", process: VPSDE()), ProcessCase(name: "linear path", process: LinearPath())])
    func fillsInTowardTheConditionalDistribution(_ p: ProcessCase) {
        let (mean, covariance) = ([0.1, -0.2], [0.09, 0.072, 0.072, 0.09])
        let network = CorrelatedGaussianNetwork(mean: mean, covariance: covariance, process: p.process, prediction: p.prediction)
        let denoiser = Denoiser(network: network, prediction: p.prediction, process: p.process)
        let a: Float = 0.4, count = 4000
        let known = Tensor((0..<count).flatMap { _ in [a, 0] }, shape: [count, 2])
        let keep = Tensor([1, 0], shape: [1, 2])
        func fill(_ repaint: RePaint) -> (mean: Double, std: Double) {
            let filled = repaint.inpaint(denoiser, known: known, keep: keep, generator: RandomGenerator(seed: 3)).scalars
            let values = stride(from: 1, to: filled.count, by: 2).map { Double(filled[$0]) }
            let m = values.reduce(0, +) / Double(values.count)
            return (m, (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot())
        }
        let conditionalMean = mean[1] + 0.8 * (Double(a) - mean[0]), conditionalStd = 0.3 * (1 - 0.64).squareRoot()
        let resampled = fill(RePaint(steps: 250, resamplings: 10, jump: 10))
        let plain = fill(RePaint(steps: 250, resamplings: 1, jump: 10))
        print("RePaint on \(p.name): R=10 mean \(resampled.mean) std \(resampled.std); R=1 mean \(plain.mean) std \(plain.std); exact \(conditionalMean), \(conditionalStd)")
        let (gap, plainGap) = (abs(resampled.mean - conditionalMean), abs(plain.mean - conditionalMean))
        #expect(gap < abs(mean[1] - conditionalMean) / 3 && abs(resampled.std - conditionalStd) < 0.03,
                "\(p.name): R=10 gives mean \(resampled.mean), std \(resampled.std); the conditional is \(conditionalMean), \(conditionalStd)")
        #expect(plainGap > 1.3 * gap, "\(p.name): resampling should bring the fill closer to the conditional: R=1 \(plain.mean), R=10 \(resampled.mean)")
    }
}
