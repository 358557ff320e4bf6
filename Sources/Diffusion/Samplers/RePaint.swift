import Foundation
import GenCore

/// Inpainting by RePaint (Lugmayr et al. 2022, "RePaint: Inpainting using Denoising Diffusion
/// Probabilistic Models", Algorithm 1 and its jump schedule): the unknown pixels are drawn by
/// ancestral steps of the reverse process, the known ones replaced at every step by the
/// original noised forward to the same time, and every `jump` steps the whole image is noised
/// back up `jump` steps and denoised again, `resamplings − 1` more times, so the generated
/// region comes to agree with the known one.
///
/// It works for every ``NoiseProcess``: the ancestral step from t to s < t is the Gaussian
/// posterior q(x_s | x_t, x̂) of the process (DDPM's posterior for a VP process, DDIM's step
/// with η = 1), with x̂ the denoiser's data prediction, clipped to [−1, 1]; the jump back up is
/// q(x_t | x_s). At t = 0 the known pixels are the original exactly and the unknown ones the
/// last data prediction.
///
/// ```swift
/// let repaint = RePaint(steps: 100, resamplings: 5, jump: 10)
/// let filled = repaint.inpaint(model.denoiser, known: images, keep: mask, generator: RandomGenerator(seed: 0))
/// ```
public struct RePaint: Sendable {
    /// Steps of the uniform time grid from 1 to 0 (RePaint: 250).
    public var steps: Int
    /// R: how often each stretch of `jump` steps is run (1: no resampling; RePaint: 10).
    public var resamplings: Int
    /// J: the length of the stretches noised back up (RePaint: 10).
    public var jump: Int

    public init(steps: Int = 100, resamplings: Int = 5, jump: Int = 10) {
        require(steps >= 1 && resamplings >= 1 && jump >= 1, "RePaint: steps, resamplings and jump must be at least 1")
        self.steps = steps
        self.resamplings = resamplings
        self.jump = jump
    }

    /// The grid indices the run visits, from `steps` (t = 1) down to 0 (t = 0): down one at a
    /// time, and at each multiple j of `jump` strictly between 0 and `steps − jump`, back up to
    /// j + jump, `resamplings − 1` times.
    public var schedule: [Int] {
        var remaining: [Int: Int] = [:]
        for j in stride(from: jump, to: steps - jump, by: jump) { remaining[j] = resamplings - 1 }
        var index = steps, visited = [steps]
        while index > 0 {
            index -= 1
            visited.append(index)
            if let left = remaining[index], left > 0 {
                remaining[index] = left - 1
                index += jump
                visited.append(index)
            }
        }
        return visited
    }

    /// Network evaluations per image batch: one per step down.
    public var networkEvaluations: Int { zip(schedule, schedule.dropFirst()).filter { $1 < $0 }.count }

    /// Fills in the pixels `keep` marks 0 in `known`.
    /// - Parameters:
    ///   - known: the images `[N, C, H, W]` in [−1, 1] (any shape the denoiser takes).
    ///   - keep: 1 where a pixel is known, 0 where it is to be generated; its shape broadcasts
    ///     against `known` (`[1, 1, H, W]` for one mask over every image and channel).
    ///   - onStep: called with the steps done and the total after each step.
    /// - Returns: `known` with the masked pixels generated; the known ones exactly as given.
    public func inpaint(_ denoiser: Denoiser, known: Tensor, keep: Tensor, generator: RandomGenerator,
                        onStep: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let process = denoiser.process
        let discard = 1 - keep
        let path = schedule
        func time(_ index: Int) -> Double { Double(index) / Double(steps) }
        return withoutGradients {
            var x = Tensor.randomNormal(known.shape, using: generator) * Float(process.priorStandardDeviation)
            for (number, (from, to)) in zip(path, path.dropFirst()).enumerated() {
                let (t, s) = (time(from), time(to))
                if to > from {
                    // back up from the earlier time t to the later s: x_s ~ q(x_s | x_t), the
                    // process's transition N((α_s/α_t)·x_t, σ_s² − (α_s/α_t)²·σ_t²)
                    let ratio = process.alpha(s) / process.alpha(t)
                    let spread = max(0, pow(process.sigma(s), 2) - ratio * ratio * pow(process.sigma(t), 2)).squareRoot()
                    x = x * Float(ratio) + Tensor.randomNormal(x.shape, using: generator) * Float(spread)
                } else {
                    let data = denoiser.predict(x, at: t).data.clamped(-1, 1)
                    let unknown = Self.posteriorSample(x, data: data, from: t, to: s, process: process, generator: generator)
                    let knownNow = to == 0
                        ? known
                        : known * Float(process.alpha(s)) + Tensor.randomNormal(known.shape, using: generator) * Float(process.sigma(s))
                    x = knownNow * keep + unknown * discard
                }
                onStep(number + 1, path.count - 1)
            }
            return x
        }
    }

    /// A draw of q(x_s | x_t, x̂) for s < t: mean `(a·σ_s²/σ_t²)·x_t + (α_s·v/σ_t²)·x̂`, variance
    /// `v·σ_s²/σ_t²`, with a = α_t/α_s and v = σ_t² − a²σ_s² (σ_s taken as 0 at s = 0).
    static func posteriorSample(_ x: Tensor, data: Tensor, from t: Double, to s: Double, process: any NoiseProcess,
                                generator: RandomGenerator) -> Tensor {
        let (alphaT, sigmaT) = (process.alpha(t), process.sigma(t))
        let alphaS = process.alpha(s), sigmaS = s > 0 ? process.sigma(s) : 0
        let ratio = alphaT / alphaS
        let v = max(0, sigmaT * sigmaT - ratio * ratio * sigmaS * sigmaS)
        let variance = sigmaT > 0 ? v * sigmaS * sigmaS / (sigmaT * sigmaT) : 0
        let mean = x * Float(ratio * sigmaS * sigmaS / (sigmaT * sigmaT)) + data * Float(alphaS * v / (sigmaT * sigmaT))
        guard variance > 0 else { return mean }
        return mean + Tensor.randomNormal(x.shape, using: generator) * Float(variance.squareRoot())
    }
}
