import Diffusion
import Foundation
import GenCore
import Testing

@Suite("ODE solvers")
struct ODESolverTests {
    /// dy/dt = −y from y(0) = 1 to t = 2, and a rotation dy/dt = (−y₂, y₁) from (1, 0) over one
    /// period: the exact solutions are e^{−2} and (1, 0).
    static func errors(_ method: ODESolver.Method, steps: Int, decaySteps: Int) -> (decay: Double, rotation: Double) {
        let solver = ODESolver(method: method)
        let decay = solver.integrate([Tensor([1], shape: [1])], from: 0, to: 2, steps: decaySteps, fixedSteps: true) { _, y in [-y[0]] }
        let rotation = solver.integrate([Tensor([1, 0], shape: [2])], from: 0, to: 2 * Double.pi, steps: steps, fixedSteps: true) { _, y in
            [Tensor([-y[0].scalars[1], y[0].scalars[0]], shape: [2])]
        }
        let r = rotation.state[0].scalars
        return (abs(Double(decay.state[0].scalars[0]) - exp(-2)),
                ((Double(r[0]) - 1) * (Double(r[0]) - 1) + Double(r[1]) * Double(r[1])).squareRoot())
    }

    /// Halving the step divides the error by 2^order: the observed order is within 0.35 of
    /// 1 (Euler), 2 (midpoint, Heun), 4 (RK4) and 5 (Dormand–Prince's solution, fixed steps),
    /// on both problems (step counts chosen so the errors stay above Float32's rounding).
    @Test(arguments: ODESolver.Method.allCases)
    func errorShrinksAtTheMethodsOrder(_ method: ODESolver.Method) {
        // (rotation, decay) steps at the coarse level
        let (rotation, decay): (Int, Int) = switch method {
        case .euler: (64, 16)
        case .midpoint, .heun: (16, 8)
        case .rk4: (8, 4)
        case .dopri5: (6, 4)
        }
        let a = Self.errors(method, steps: rotation, decaySteps: decay), b = Self.errors(method, steps: 2 * rotation, decaySteps: 2 * decay)
        let decayOrder = log2(a.decay / b.decay), rotationOrder = log2(a.rotation / b.rotation)
        // On the linear decay Dormand–Prince's fifth-order error term is small (its stability
        // polynomial matches e^z to z⁵ and nearly to z⁶), so the h⁶ term still shows between
        // Float32's rounding and h = 0.5: observed 5.66 there, hence the wider band.
        let band = method == .dopri5 ? 0.7 : 0.35
        #expect(abs(decayOrder - Double(method.order)) < band, "\(method) on decay: order \(decayOrder) (errors \(a.decay), \(b.decay))")
        #expect(abs(rotationOrder - Double(method.order)) < 0.35, "\(method) on rotation: order \(rotationOrder) (errors \(a.rotation), \(b.rotation))")
    }

    /// Adaptive Dormand–Prince keeps the global error near its tolerance, and spends more
    /// evaluations on a tighter one; backwards in time as well as forwards.
    @Test(arguments: [1e-3, 1e-4, 1e-5])
    func dormandPrinceMeetsItsTolerance(_ tolerance: Double) {
        let solver = ODESolver(method: .dopri5, relativeTolerance: tolerance, absoluteTolerance: tolerance)
        let forward = solver.integrate([Tensor([1, 0], shape: [2])], from: 0, to: 2 * Double.pi) { _, y in
            [Tensor([-y[0].scalars[1], y[0].scalars[0]], shape: [2])]
        }
        let r = forward.state[0].scalars
        let error = ((Double(r[0]) - 1) * (Double(r[0]) - 1) + Double(r[1]) * Double(r[1])).squareRoot()
        // One period accumulates the local errors of some tens of steps.
        #expect(error < 10 * tolerance, "tolerance \(tolerance): error \(error) after \(forward.evaluations) evaluations")
        let backward = solver.integrate([Tensor([exp(-2)], shape: [1])], from: 2, to: 0) { _, y in [-y[0]] }
        #expect(abs(Double(backward.state[0].scalars[0]) - 1) < 10 * tolerance, "backward: \(backward.state[0].scalars[0])")
        if tolerance < 1e-3 {
            let looser = ODESolver(method: .dopri5, relativeTolerance: tolerance * 10, absoluteTolerance: tolerance * 10)
                .integrate([Tensor([1, 0], shape: [2])], from: 0, to: 2 * Double.pi) { _, y in [Tensor([-y[0].scalars[1], y[0].scalars[0]], shape: [2])] }
            #expect(forward.evaluations > looser.evaluations)
        }
    }

    /// Fixed steps report exactly the evaluations they make.
    @Test(arguments: ODESolver.Method.allCases)
    func fixedStepsCountTheirEvaluations(_ method: ODESolver.Method) {
        var calls = 0
        let result = ODESolver(method: method).integrate([Tensor([1], shape: [1])], from: 0, to: 1, steps: 3, fixedSteps: true) { _, y in
            calls += 1
            return [-y[0]]
        }
        #expect(result.evaluations == calls)
        let perStep = switch method { case .euler: 1; case .midpoint, .heun: 2; case .rk4: 4; case .dopri5: 7 }
        #expect(calls == 3 * perStep)
    }

    /// The state may hold several tensors of different shapes (as the likelihood's does).
    @Test func integratesSeveralTensorsTogether() {
        let result = ODESolver(method: .rk4).integrate([Tensor([1, 2], shape: [2]), Tensor([0], shape: [1])], from: 0, to: 1, steps: 20) { _, y in
            [y[0] * -1, y[0].sum().reshaped([1])]
        }
        #expect(abs(Double(result.state[0].scalars[1]) - 2 * exp(-1)) < 1e-5)
        // ∫₀¹ 3e^{−t} dt = 3(1 − e^{−1})
        #expect(abs(Double(result.state[1].scalars[0]) - 3 * (1 - exp(-1))) < 1e-5)
        #expect(result.evaluations == 80)
    }
}

@Suite("Optimal transport coupling")
struct CouplingTests {
    /// The Hungarian algorithm finds the least-cost assignment: equal to brute force over all
    /// permutations of random 6×6 matrices.
    @Test(arguments: 0..<5)
    func assignmentMatchesBruteForce(_ seed: Int) {
        let n = 6
        let generator = RandomGenerator(seed: UInt64(seed))
        let cost = (0..<(n * n)).map { _ in Double(generator.nextUniform()) * 10 }
        let assignment = optimalAssignment(cost: cost, size: n)
        #expect(Set(assignment).count == n)
        func total(_ p: [Int]) -> Double { p.enumerated().map { cost[$0.offset * n + $0.element] }.reduce(0, +) }
        var best = Double.infinity
        func permute(_ prefix: [Int], _ rest: [Int]) {
            if rest.isEmpty { best = min(best, total(prefix)); return }
            for (i, value) in rest.enumerated() { var r = rest; r.remove(at: i); permute(prefix + [value], r) }
        }
        permute([], Array(0..<n))
        #expect(abs(total(assignment) - best) < 1e-9, "Hungarian \(total(assignment)) vs brute force \(best)")
    }

    /// The OT coupling only reorders the noise, and lowers the total squared distance.
    @Test func otPairingReordersAndShortens() {
        let generator = RandomGenerator(seed: 2)
        let data = Tensor.randomNormal([64, 2], using: generator) + 3, noise = Tensor.randomNormal([64, 2], using: generator)
        let paired = Coupling.ot.pair(data: data, noise: noise)
        #expect(Set(paired.scalars) == Set(noise.scalars))
        #expect((paired - data).squared().sum().item < (noise - data).squared().sum().item)
        #expect(Coupling.independent.pair(data: data, noise: noise).isIdentical(to: noise))
    }
}
