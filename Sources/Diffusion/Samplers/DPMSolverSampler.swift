import Foundation
import GenCore

/// DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
/// Probabilistic Models", Algorithm 2, and its third-order multistep form): a
/// multistep solver of the probability-flow ODE in λ = log(α/σ) that integrates the linear part
/// exactly and extrapolates the data prediction x̂ from the steps before. Order 2 is
/// DPM-Solver++(2M), order 3 DPM-Solver++(3M). It works for every ``NoiseProcess``, through the
/// data prediction alone.
///
/// `steps` steps cost `steps` network evaluations: the grid is uniform in λ from t = 1 down to
/// the process's ``NoiseProcess/minimumTime``, and the last step, to t = 0, returns the data
/// prediction there. The first step is first order (no history yet), the second at most second
/// order, and the last first order, as in the paper.
public struct DPMSolverSampler: Sampler {
    public struct State {
        public var x: Tensor
        /// The data predictions of the previous steps, newest first, with the step in λ that
        /// followed each (at most `order − 1` of them).
        public var history: [(data: Tensor, lambdaStep: Double)]

        public init(x: Tensor, history: [(data: Tensor, lambdaStep: Double)] = []) {
            self.x = x
            self.history = history
        }
    }

    public var steps: Int
    /// 2 (2M) or 3 (3M).
    public var order: Int
    /// Clip the predicted data to [−1, 1] at every step (what gen's DDPM and DDIM samplers do).
    public var clipData: Bool
    /// The process the grid is laid out for.
    public var process: any NoiseProcess

    public init(steps: Int = 20, order: Int = 2, clipData: Bool = true, process: any NoiseProcess) {
        require(steps >= 1 && (2...3).contains(order), "DPMSolverSampler: needs at least one step and order 2 or 3")
        self.steps = steps
        self.order = order
        self.clipData = clipData
        self.process = process
    }

    /// λ = log(α/σ) at `t`: −∞ where α = 0, +∞ where σ = 0.
    func lambda(_ t: Double) -> Double { log(process.alpha(t)) - log(process.sigma(t)) }

    /// The last time before the jump to 0: the process's minimum time, or 10⁻³ where λ is
    /// infinite there (flow matching's linear path, whose minimum time is 0).
    public var endTime: Double { lambda(process.minimumTime).isFinite ? process.minimumTime : 1e-3 }

    /// 1, then `steps − 1` times uniform in λ ending at ``endTime``, then 0. Where λ(1) is −∞
    /// (flow matching's linear path) the spacing starts from t = 1 − 10⁻³.
    public var timeGrid: [Double] {
        let end = endTime
        guard steps > 1 else { return [1, 0] }
        let top = lambda(1).isFinite ? 1.0 : 1 - 1e-3
        let (first, last) = (lambda(top), lambda(end))
        var grid = [1.0]
        for i in 1..<(steps - 1) {
            grid.append(time(atLambda: first + (last - first) * Double(i) / Double(steps - 1), between: end, and: top))
        }
        return grid + [end, 0]
    }

    /// The t in [low, high] where λ(t) = target (λ falls as t grows), by bisection.
    func time(atLambda target: Double, between low: Double, and high: Double) -> Double {
        var (low, high) = (low, high)
        for _ in 0..<60 {
            let middle = (low + high) / 2
            if lambda(middle) > target { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    public func start(from noise: Tensor) -> State { State(x: noise, history: []) }
    public func images(_ state: State) -> Tensor { state.x }

    public func step(_ state: State, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> State {
        var data = denoiser.predict(state.x, at: t).data
        if clipData { data = data.clamped(-1, 1) }
        // the last step lands on the data prediction itself (σ = 0, λ = ∞; VE's σ(0) is its
        // σ_min, taken as 0 like the other processes')
        guard s > 0 && denoiser.process.sigma(s) > 0 else { return State(x: data, history: []) }
        let process = denoiser.process
        let h = lambda(s) - lambda(t)
        // history from an infinite step (out of t = 1 with α = 0) says nothing about the slope
        let history = state.history.filter { $0.lambdaStep.isFinite }
        let phi1 = expm1(-h)                        // e^{−h} − 1
        // x_s = (σ_s/σ_t)·x_t − α_s·(e^{−h} − 1)·D₀ + higher-order terms in the differences of x̂
        var x = state.x * Float(process.sigma(s) / process.sigma(t)) - data * Float(process.alpha(s) * phi1)
        let isLast = s <= endTime   // the step before the jump to 0
        let usable = min(order - 1, history.count, isLast && steps < 15 ? 1 : order - 1)
        if usable == 1 && h.isFinite {
            // 2M: D = x̂ₜ + (1/(2r))·(x̂ₜ − x̂_prev), r = h_prev/h
            let r = history[0].lambdaStep / h
            x = x - (data - history[0].data) * Float(process.alpha(s) * phi1 / (2 * r))
        } else if usable == 2 && h.isFinite {
            // 3M: with the Taylor expansion x̂(λₜ + u) = x̂ + u·x̂′ + u²/2·x̂″, the exact step adds
            // α_s·(h + φ₁)·x̂′ + α_s·(h²/2 − h − φ₁)·x̂″, φ₁ = e^{−h} − 1. D1 ≈ h·x̂′ and D2 ≈ h²·x̂″
            // are the divided differences of the last three predictions. (The reference code of
            // dpm-solver and diffusers divides D2 by r0 + r1 where 2/(r0 + r1) is due, so its
            // "third-order" step errs by O(h³), not O(h⁴); FewStepSamplerTests measures ours.)
            let r0 = history[0].lambdaStep / h, r1 = history[1].lambdaStep / h
            let d10 = (data - history[0].data) * Float(1 / r0), d11 = (history[0].data - history[1].data) * Float(1 / r1)
            let d1 = d10 + (d10 - d11) * Float(r0 / (r0 + r1))
            let d2 = (d10 - d11) * Float(2 / (r0 + r1))
            let alphaS = process.alpha(s)
            x = x + d1 * Float(alphaS * (phi1 / h + 1)) - d2 * Float(alphaS * ((phi1 + h) / (h * h) - 0.5))
        }
        return State(x: x, history: Array(([(data, h)] + history).prefix(order - 1)))
    }
}
