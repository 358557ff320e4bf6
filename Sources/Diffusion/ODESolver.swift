import Foundation
import GenCore

/// Numerical integration of `dy/dt = f(t, y)` for the probability-flow ODE, flow matching and
/// the likelihood. The state is a list of tensors (the likelihood carries `x` and a running
/// log-density together); time may run backwards (from 1 to 0).
///
/// ```swift
/// let solver = ODESolver(method: .rk4)
/// let result = solver.integrate([x], from: 1, to: 0, steps: 20) { t, y in [denoiser.velocity(y[0], at: t)] }
/// print(result.evaluations)  // 80
/// ```
public struct ODESolver: Sendable {
    public enum Method: String, Codable, Sendable, CaseIterable {
        /// First order, one evaluation per step.
        case euler
        /// Second order (explicit midpoint), two evaluations.
        case midpoint
        /// Second order (Heun's trapezoid predictor–corrector), two evaluations.
        case heun
        /// Classical fourth-order Runge–Kutta, four evaluations.
        case rk4
        /// Dormand–Prince 5(4), adaptive with rtol/atol; six new evaluations per adaptive step (the
        /// seventh is the next step's first, FSAL), seven per fixed step.
        case dopri5

        /// The order of the method's solution.
        public var order: Int {
            switch self {
            case .euler: return 1
            case .midpoint, .heun: return 2
            case .rk4: return 4
            case .dopri5: return 5
            }
        }
    }

    public typealias State = [Tensor]
    public typealias Function = (Double, State) -> State

    public var method: Method
    /// Dormand–Prince's relative and absolute tolerances.
    public var relativeTolerance: Double
    public var absoluteTolerance: Double
    /// Dormand–Prince's largest number of steps before giving up on the tolerance.
    public var maximumSteps: Int

    public init(method: Method, relativeTolerance: Double = 1e-5, absoluteTolerance: Double = 1e-5, maximumSteps: Int = 10_000) {
        self.method = method
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.maximumSteps = maximumSteps
    }

    /// The outcome of an integration.
    public struct Result {
        public var state: State
        /// Evaluations of `f` (NFE).
        public var evaluations: Int
        /// Accepted steps (and, for Dormand–Prince, rejected ones).
        public var acceptedSteps: Int
        public var rejectedSteps: Int
    }

    /// Integrates from `t0` to `t1`: with `steps` equal steps of the method, or, for
    /// ``Method/dopri5``, adaptively (`steps` is then ignored unless `fixedSteps` is set).
    public func integrate(_ y0: State, from t0: Double, to t1: Double, steps: Int = 1, fixedSteps: Bool = false,
                          _ f: Function) -> Result {
        if method == .dopri5 && !fixedSteps { return adaptive(y0, from: t0, to: t1, f) }
        require(steps >= 1, "ODESolver: needs at least one step")
        var y = y0, evaluations = 0
        let h = (t1 - t0) / Double(steps)
        for i in 0..<steps {
            let t = i == 0 ? t0 : t0 + Double(i) * h
            let end = i == steps - 1 ? t1 : t0 + Double(i + 1) * h
            let (next, count) = step(y, at: t, by: end - t, f)
            y = next
            evaluations += count
        }
        return Result(state: y, evaluations: evaluations, acceptedSteps: steps, rejectedSteps: 0)
    }

    /// One step of size `h` from `(t, y)`; returns the new state and the evaluations used.
    public func step(_ y: State, at t: Double, by h: Double, _ f: Function) -> (State, Int) {
        switch method {
        case .euler:
            return (combine(y, h, [(1, f(t, y))]), 1)
        case .midpoint:
            let k1 = f(t, y)
            let k2 = f(t + h / 2, combine(y, h, [(0.5, k1)]))
            return (combine(y, h, [(1, k2)]), 2)
        case .heun:
            let k1 = f(t, y)
            let k2 = f(t + h, combine(y, h, [(1, k1)]))
            return (combine(y, h, [(0.5, k1), (0.5, k2)]), 2)
        case .rk4:
            let k1 = f(t, y)
            let k2 = f(t + h / 2, combine(y, h, [(0.5, k1)]))
            let k3 = f(t + h / 2, combine(y, h, [(0.5, k2)]))
            let k4 = f(t + h, combine(y, h, [(1, k3)]))
            return (combine(y, h, [(1.0 / 6, k1), (1.0 / 3, k2), (1.0 / 3, k3), (1.0 / 6, k4)]), 4)
        case .dopri5:
            // f(t, y) and six more stages
            let (next, _, _) = dormandPrince(y, at: t, by: h, first: f(t, y), f)
            return (next, 7)
        }
    }

    // MARK: Dormand–Prince 5(4)

    // Butcher tableau of Dormand & Prince (1980); the fifth-order weights are the last row of A.
    private static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
    private static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    /// Fifth-order minus embedded fourth-order weights: the local error estimate.
    private static let errorWeights: [Double] = [
        35.0 / 384 - 5179.0 / 57600, 0, 500.0 / 1113 - 7571.0 / 16695, 125.0 / 192 - 393.0 / 640,
        -2187.0 / 6784 + 92097.0 / 339200, 11.0 / 84 - 187.0 / 2100, -1.0 / 40,
    ]

    /// One Dormand–Prince step: the fifth-order solution, its derivative there (first same as
    /// last), and the error estimate.
    private func dormandPrince(_ y: State, at t: Double, by h: Double, first k1: State, _ f: Function) -> (State, State, State) {
        var k = [k1]
        for stage in 1...6 {
            let point = combine(y, h, zip(Self.a[stage], k).map { ($0, $1) })
            k.append(f(t + Self.c[stage] * h, point))
        }
        // Stage 7 was evaluated at the fifth-order solution itself (row 7 of A = b₅).
        let solution = combine(y, h, zip(Self.a[6], k).map { ($0, $1) })
        let error = combine(y.map { Tensor.zeros($0.shape) }, h, zip(Self.errorWeights, k).map { ($0, $1) })
        return (solution, k[6], error)
    }

    /// Hairer's RMS norm of `error` scaled by `atol + rtol·max(|y|, |ŷ|)`.
    private func errorNorm(_ error: State, _ y: State, _ next: State) -> Double {
        var total = 0.0, count = 0
        for i in error.indices {
            let e = error[i].scalars, a = y[i].scalars, b = next[i].scalars
            for j in e.indices {
                let scale = absoluteTolerance + relativeTolerance * Double(max(abs(a[j]), abs(b[j])))
                let r = Double(e[j]) / scale
                total += r * r
            }
            count += e.count
        }
        return (total / Double(max(count, 1))).squareRoot()
    }

    private func rms(_ state: State, scaledBy y: State) -> Double {
        var total = 0.0, count = 0
        for i in state.indices {
            let v = state[i].scalars, w = y[i].scalars
            for j in v.indices {
                let r = Double(v[j]) / (absoluteTolerance + relativeTolerance * Double(abs(w[j])))
                total += r * r
            }
            count += v.count
        }
        return (total / Double(max(count, 1))).squareRoot()
    }

    private func adaptive(_ y0: State, from t0: Double, to t1: Double, _ f: Function) -> Result {
        let direction: Double = t1 >= t0 ? 1 : -1
        let span = abs(t1 - t0)
        var y = y0, t = t0
        var k1 = f(t, y)
        var evaluations = 1, accepted = 0, rejected = 0
        // Initial step (Hairer, Nørsett & Wanner, II.4): from the sizes of y and f.
        let d0 = rms(y, scaledBy: y), d1 = rms(k1, scaledBy: y)
        var h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1
        h0 = min(h0, span)
        let probe = f(t + direction * h0, combine(y, direction * h0, [(1, k1)]))
        evaluations += 1
        let d2 = rms(zip(probe, k1).map { $0 - $1 }, scaledBy: y) / h0
        let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : pow(0.01 / max(d1, d2), 1.0 / 5)
        var h = min(100 * h0, h1, span)
        while abs(t1 - t) > 1e-12 * max(1, span) {
            require(accepted + rejected < maximumSteps,
                    "ODESolver: Dormand–Prince needed more than \(maximumSteps) steps (rtol \(relativeTolerance), atol \(absoluteTolerance)); loosen the tolerances")
            h = min(h, abs(t1 - t))
            let (next, last, error) = dormandPrince(y, at: t, by: direction * h, first: k1, f)
            evaluations += 6
            let norm = errorNorm(error, y, next)
            if norm <= 1 || h < 1e-10 * max(1, span) {
                t = abs(t1 - t) <= h ? t1 : t + direction * h
                y = next
                k1 = last
                accepted += 1
            } else {
                rejected += 1
            }
            // Standard controller: safety 0.9, growth between 0.2× and 10×.
            let factor = norm == 0 ? 10 : min(10, max(0.2, 0.9 * pow(norm, -1.0 / 5)))
            h *= norm <= 1 ? factor : min(1, factor)
        }
        return Result(state: y, evaluations: evaluations, acceptedSteps: accepted, rejectedSteps: rejected)
    }
}

/// `y + h·Σ wᵢ·kᵢ`, term by term over the state's tensors.
func combine(_ y: ODESolver.State, _ h: Double, _ terms: [(Double, ODESolver.State)]) -> ODESolver.State {
    y.indices.map { i in
        var result = y[i]
        for (weight, k) in terms where weight != 0 {
            result = result + k[i] * Float(h * weight)
        }
        return result
    }
}
