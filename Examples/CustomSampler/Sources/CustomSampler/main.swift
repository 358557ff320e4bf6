// A sampler of one's own, used on a run trained by `gen train ddpm|sde|flow`:
//
//     swift run -c release CustomSampler RUN_FOLDER OUT.png [STEPS]
//
// It is DDIM's deterministic step (x_s = α_s·x̂ + σ_s·ε̂) on a grid uniform in the log
// signal-to-noise ratio λ = log(α/σ) instead of uniform in t: with few steps the steps go where
// the image changes most. It only talks to the Denoiser and its noise process, so it works for
// DDPM, every SDE and flow matching alike.
import Diffusion
import Foundation
import GenCore
import GenFamilies

struct LogSNRDDIMSampler: Sampler {
    var steps: Int
    /// The process the grid is laid out for.
    var process: any NoiseProcess

    /// `steps` times from 1 down to the process's smallest time, equally spaced in λ, then 0.
    var timeGrid: [Double] {
        func lambda(_ t: Double) -> Double { log(process.alpha(t) / process.sigma(t)) }
        // λ is infinite where α or σ vanishes (flow matching at t = 1 and t = 0): space the
        // steps between 1 − 10⁻³ and 10⁻³ there.
        let end = process.minimumTime > 0 ? process.minimumTime : 1e-3
        let start = lambda(1).isFinite ? 1.0 : 1 - 1e-3
        let (first, last) = (lambda(start), lambda(end))
        var grid = [1.0]
        for i in 1..<steps {
            let target = first + (last - first) * Double(i) / Double(steps)
            var (low, high) = (end, start)                    // λ falls as t grows: bisect
            for _ in 0..<60 {
                let middle = (low + high) / 2
                if lambda(middle) > target { low = middle } else { high = middle }
            }
            grid.append((low + high) / 2)
        }
        return grid + [end, 0]
    }

    func start(from noise: Tensor) -> Tensor { noise }
    func images(_ x: Tensor) -> Tensor { x }

    func step(_ x: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
        // 1. predict the noise and the clean image at t
        let (noise, data) = denoiser.predict(x, at: t)
        // 2. put them together again at s
        return data * Float(process.alpha(s)) + noise * Float(process.sigma(s))
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, arguments.count <= 4, let steps = Int(arguments.count == 4 ? arguments[3] : "20"), steps >= 1 else {
    print("usage: CustomSampler RUN_FOLDER OUT.png [STEPS]")
    exit(64)
}
do {
    // Any family's run loads through the registry: EMA weights, evaluation mode.
    let run = try FamilyRegistry.builtIn.load(URL(fileURLWithPath: arguments[1]))
    guard let model = run.model as? DiffusionModel else {
        print("\(arguments[1]) is a \(run.kind) run; this sampler needs a ddpm, sde or flow run")
        exit(65)
    }
    // Clip the predicted images to [−1, 1] at every step, as gen's DDPM and DDIM samplers do.
    model.denoiser.clipsData = true
    let sampler = LogSNRDDIMSampler(steps: steps, process: model.denoiser.process)
    let before = model.denoiser.evaluations
    let images = model.sample(count: 16, sampler: sampler, generator: RandomGenerator(seed: 1))
    try ImageGrid.write(images, to: URL(fileURLWithPath: arguments[2]), nrow: 4, range: .symmetric)
    print("wrote \(arguments[2]): 16 samples of the \(run.kind) run \(arguments[1]) in \(model.denoiser.evaluations - before) network evaluations")
} catch {
    print("CustomSampler: \(error)")
    exit(1)
}
