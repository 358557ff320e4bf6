import GenCore

/// How images are drawn from a ``Denoiser``: the extension point for new samplers.
///
/// A sampler owns its time grid (the single source of step times, from 1 = noise down to
/// 0 = data) and one `step` from a time to the next. Anything a multistep method remembers
/// between steps lives in its explicit `State`, never hidden in the sampler, so one sampler
/// value can run any number of batches. A sampler works with any ``Denoiser`` and never asks
/// which network, noise process (DDPM schedule, SDE, flow-matching path) or prediction type is
/// behind it: everything it needs comes through ``Denoiser`` and ``NoiseProcess``.
///
/// ```swift
/// /// Deterministic Euler steps of the probability-flow ODE in (x̂, ε̂) form (DDIM with η = 0).
/// struct EulerSampler: Sampler {
///     var steps: Int
///     var timeGrid: [Double] { (0...steps).reversed().map { Double($0) / Double(steps) } }
///     func start(from noise: Tensor) -> Tensor { noise }
///     func step(_ xt: Tensor, from t: Double, to s: Double, denoiser: Denoiser,
///               generator: RandomGenerator) -> Tensor {
///         let (noise, data) = denoiser.predict(xt, at: t)
///         let process = denoiser.process
///         return data * Float(process.alpha(s)) + noise * Float(process.sigma(s))
///     }
///     func images(_ xt: Tensor) -> Tensor { xt }
/// }
/// ```
public protocol Sampler {
    /// What the sampler carries from step to step (the current `xt`, plus any history).
    associatedtype State

    /// Times from 1 (noise) down to 0 (data); `step` runs between consecutive entries.
    var timeGrid: [Double] { get }

    /// The state at t = 1 for a draw `[N, C, H, W]` from the process's prior (N(0, I) scaled
    /// by ``NoiseProcess/priorStandardDeviation``).
    func start(from noise: Tensor) -> State

    /// Moves `state` from time `t` to the earlier time `s`.
    func step(_ state: State, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> State

    /// The images a state holds.
    func images(_ state: State) -> Tensor
}

/// One step of a sampling run, as reported to the caller.
public struct SamplingProgress {
    /// Steps done so far (1 after the first step).
    public var step: Int
    /// Steps in the run.
    public var total: Int
    /// The time reached.
    public var time: Double
    /// The images at that time.
    public var images: Tensor
}

extension Sampler {
    /// Runs the whole grid from standard normal `noise` (scaled to the prior here), without
    /// recording gradients, calling `onStep` after every step (for progress bars or
    /// intermediate grids). The denoiser's ``Denoiser/evaluations`` count the NFE.
    /// - Returns: the images at t = 0, `[N, C, H, W]`.
    public func sample(
        _ denoiser: Denoiser, noise: Tensor, generator: RandomGenerator,
        onStep: (SamplingProgress) -> Void = { _ in }
    ) -> Tensor {
        let grid = timeGrid
        require(grid.count >= 2 && grid.first == 1 && grid.last == 0 && zip(grid, grid.dropFirst()).allSatisfy { $0 > $1 },
                "Sampler: the time grid must fall strictly from 1 to 0, got \(grid.prefix(3))…\(grid.suffix(2))")
        return withoutGradients {
            let priorScale = Float(denoiser.process.priorStandardDeviation)
            var state = start(from: priorScale == 1 ? noise : noise * priorScale)
            for index in 0..<(grid.count - 1) {
                state = step(state, from: grid[index], to: grid[index + 1], denoiser: denoiser, generator: generator)
                onStep(SamplingProgress(step: index + 1, total: grid.count - 1, time: grid[index + 1], images: images(state)))
            }
            return images(state)
        }
    }
}

/// `steps + 1` evenly spaced times from 1 down to 0.
public func uniformTimeGrid(steps: Int) -> [Double] {
    require(steps >= 1, "uniformTimeGrid: needs at least one step")
    return (0...steps).reversed().map { Double($0) / Double(steps) }
}
