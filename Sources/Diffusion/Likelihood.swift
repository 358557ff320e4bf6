import Foundation
import GenCore

/// Exact-in-the-limit log-likelihoods through the probability-flow ODE (Song et al. 2021,
/// §4.3 and Appendix D.2; Grathwohl et al. 2019 for the trace estimator): integrate
/// `d[x, Δ]/dt = [v(x, t), div v(x, t)]` from the data at t = ε to t = 1, then
/// `log p(x) = log p₁(x₁) + Δ`. The divergence is estimated with Hutchinson's `zᵀ(∂v/∂x)z`,
/// one vector-Jacobian product from GenCore's autodiff per evaluation, with one z per sample
/// held fixed over the whole solve.
///
/// ```swift
/// let estimator = LikelihoodEstimator()
/// let x = EightBitData.dequantize(pixels: pixels, into: .symmetric, generator: rng)   // 8-bit values → [−1, 1)
/// let (logDensity, _) = estimator.logDensity(of: x, denoiser: model.likelihoodDenoiser, generator: rng)
/// let bpd = EightBitData.bitsPerDimension(logDensity: logDensity, dimensions: 784, valuesIn: .symmetric)
/// ```
public struct LikelihoodEstimator: LikelihoodMethod {
    public enum TraceEstimator: String, Codable, Sendable, CaseIterable {
        /// Hutchinson with z of random signs (lower variance than Gaussian z).
        case rademacher
        /// Hutchinson with z ~ N(0, I).
        case gaussian
        /// The exact trace by one vector-Jacobian product per dimension (small data only).
        case exact
    }

    public var solver: ODESolver
    public var trace: TraceEstimator
    /// Where integration starts; nil: the process's ``NoiseProcess/minimumTime``.
    public var startTime: Double?
    /// Steps of a fixed-step solver (Dormand–Prince chooses its own).
    public var steps: Int

    public init(solver: ODESolver = ODESolver(method: .dopri5, relativeTolerance: 1e-5, absoluteTolerance: 1e-5),
                trace: TraceEstimator = .rademacher, startTime: Double? = nil, steps: Int = 100) {
        self.solver = solver
        self.trace = trace
        self.startTime = startTime
        self.steps = steps
    }

    /// The command line's options for it.
    public var options: String { "--solver, --solver-steps, --rtol, --atol and --trace" }

    /// log p(x) in nats per sample (`[N]`), and the network evaluations it took.
    /// - Parameter x: a batch in the model's space (`[N, …]`, for images in [−1, 1]).
    public func logDensity(of x: Tensor, denoiser: Denoiser, generator: RandomGenerator) -> (logDensity: Tensor, evaluations: Int) {
        let batch = x.shape[0]
        let dimensions = x.count / batch
        let probes: [Tensor]
        switch trace {
        case .rademacher:
            probes = [Tensor.randomUniform(x.shape, using: generator).greater(0.5) * 2 - 1]
        case .gaussian:
            probes = [Tensor.randomNormal(x.shape, using: generator)]
        case .exact:
            probes = (0..<dimensions).map { d in
                var basis = [Float](repeating: 0, count: dimensions)
                basis[d] = 1
                return Tensor(basis, shape: Array(x.shape.dropFirst())).expandingDimension(at: 0).broadcast(to: x.shape).copy()
            }
        }
        let start = startTime ?? denoiser.process.minimumTime
        let before = denoiser.evaluations
        let result = solver.integrate([x, Tensor.zeros([batch])], from: start, to: 1, steps: steps) { t, state in
            var velocity = Tensor.zeros(x.shape), divergence = Tensor.zeros([batch])
            for z in probes {
                let (value, gradients) = vectorJacobianProduct(at: [state[0]], { denoiser.velocity($0[0], at: t) }, cotangent: { _ in z })
                velocity = value
                divergence = divergence + (gradients[0] * z).flattened().sum(axes: [1])
            }
            return [velocity, divergence]
        }
        let logDensity = denoiser.process.priorLogDensity(result.state[0]) + result.state[1]
        return (logDensity, denoiser.evaluations - before)
    }
}

extension LikelihoodEstimator {
    /// Bits per dimension of a batch of 8-bit images (`pixels` holds the values 0…255), each
    /// dequantized once with uniform noise: `[N]`, and the network evaluations it took.
    public func bitsPerDimension(pixels: Tensor, denoiser: Denoiser, generator: RandomGenerator) -> (bitsPerDimension: Tensor, evaluations: Int) {
        let x = EightBitData.dequantize(pixels: pixels, into: .symmetric, generator: generator)
        let (logDensity, evaluations) = logDensity(of: x, denoiser: denoiser, generator: generator)
        return (EightBitData.bitsPerDimension(logDensity: logDensity, dimensions: x.count / x.shape[0], valuesIn: .symmetric), evaluations)
    }
}
