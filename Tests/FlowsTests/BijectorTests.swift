import Flows
import Foundation
import GenCore
import Testing

let flowsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// log|det| of a square matrix (row-major) by Gaussian elimination with partial pivoting.
func logAbsDeterminant(_ matrix: [Double], size n: Int) -> Double {
    var a = matrix, total = 0.0
    for column in 0..<n {
        let pivot = (column..<n).max { abs(a[$0 * n + column]) < abs(a[$1 * n + column]) }!
        if pivot != column { for k in 0..<n { a.swapAt(pivot * n + k, column * n + k) } }
        let p = a[column * n + column]
        total += log(abs(p))
        for row in (column + 1)..<n {
            let factor = a[row * n + column] / p
            for k in column..<n { a[row * n + k] -= factor * a[column * n + k] }
        }
    }
    return total
}

/// Makes every scale and shift of a coupling non-trivial: random output weights, scale factors ≠ 1.
func perturb(_ module: Module, seed: UInt64) {
    let generator = RandomGenerator(seed: seed)
    for (path, tensor) in module.namedParameters() where path.hasSuffix("out.weight") || path.hasSuffix("out.bias") || path.hasSuffix("scale")
        || path.hasSuffix("log_scale") || path.hasSuffix("bias") || path.hasSuffix("log_gamma") || path.hasSuffix("beta") {
        let values = Tensor.randomNormal(tensor.shape, std: path.hasSuffix("scale") ? 0.3 : 0.2, using: generator)
        tensor.assign(path.hasSuffix("scale") && !path.hasSuffix("log_scale") ? values + 1 : values)
    }
}

struct BijectorCase: CustomTestStringConvertible, Sendable {
    let name: String
    let shape: [Int]
    let make: @Sendable () -> any Bijector & Module
    var testDescription: String { name }
}

let bijectorCases: [BijectorCase] = [
    BijectorCase(name: "checkerboard coupling, parity 0", shape: [2, 2, 4, 4]) {
        let c = AffineCoupling(.checkerboard, parity: 0, channels: 2, height: 4, width: 4, hidden: 8); perturb(c, seed: 1); return c
    },
    BijectorCase(name: "checkerboard coupling, parity 1", shape: [2, 1, 4, 4]) {
        let c = AffineCoupling(.checkerboard, parity: 1, channels: 1, height: 4, width: 4, hidden: 8); perturb(c, seed: 2); return c
    },
    BijectorCase(name: "channel coupling, parity 0", shape: [2, 4, 2, 2]) {
        let c = AffineCoupling(.channel, parity: 0, channels: 4, height: 2, width: 2, hidden: 8); perturb(c, seed: 3); return c
    },
    BijectorCase(name: "channel coupling, parity 1", shape: [2, 4, 2, 2]) {
        let c = AffineCoupling(.channel, parity: 1, channels: 4, height: 2, width: 2, hidden: 8); perturb(c, seed: 4); return c
    },
    BijectorCase(name: "squeeze", shape: [2, 2, 4, 4]) { Squeeze() },
    BijectorCase(name: "logit", shape: [2, 1, 3, 3]) { Logit(alpha: 0.05) },
    BijectorCase(name: "actnorm", shape: [2, 3, 2, 2]) {
        let a = ActNorm(channels: 3); a.initialize(from: Tensor.randomNormal([8, 3, 2, 2], mean: 1, std: 2, using: RandomGenerator(seed: 5))); return a
    },
    BijectorCase(name: "batch norm (evaluation)", shape: [2, 3, 2, 2]) {
        let b = BatchNormBijector(channels: 3); perturb(b, seed: 6)
        b._runningMean.assign(Tensor([0.5, -0.2, 0.1], shape: [1, 3, 1, 1])); b._runningVar.assign(Tensor([2, 0.5, 1.5], shape: [1, 3, 1, 1]))
        b.eval(); return b
    },
    BijectorCase(name: "chain", shape: [2, 1, 4, 4]) {
        let c1 = AffineCoupling(.checkerboard, parity: 0, channels: 1, height: 4, width: 4, hidden: 8); perturb(c1, seed: 7)
        let c2 = AffineCoupling(.channel, parity: 1, channels: 4, height: 2, width: 2, hidden: 8); perturb(c2, seed: 8)
        return Chain([c1, Squeeze(), c2])
    },
    BijectorCase(name: "whole RealNVP (2 scales, actnorm)", shape: [2, 1, 4, 4]) {
        let flow = RealNVPFlow(RealNVPConfiguration(imageShape: [1, 4, 4], scales: 2, couplings: 2, finalCouplings: 2, hidden: 8,
                                                    residualBlocks: 1, normalization: .actnorm))
        // ActNorm's data-dependent initialization runs on a batch of eight first: on the one
        // sample of the Jacobian test a 1×1 channel has no spread and its scale would explode.
        _ = withoutGradients { flow.forward(Tensor.randomNormal([8, 1, 4, 4], using: RandomGenerator(seed: 10))) }
        perturb(flow, seed: 9); return flow
    },
    BijectorCase(name: "whole RealNVP (2 scales, batch norm, evaluation)", shape: [2, 1, 4, 4]) {
        let flow = RealNVPFlow(RealNVPConfiguration(imageShape: [1, 4, 4], scales: 2, couplings: 2, finalCouplings: 2, hidden: 8,
                                                    residualBlocks: 1, normalization: .batchnorm))
        perturb(flow, seed: 11)
        // running statistics from a few training batches; evaluation mode uses them both ways
        for seed in 0..<3 as Range<UInt64> { _ = withoutGradients { flow.forward(Tensor.randomNormal([8, 1, 4, 4], using: RandomGenerator(seed: 20 + seed))) } }
        flow.eval(); return flow
    },
]

@Suite("Bijectors")
struct BijectorTests {
    static func input(_ c: BijectorCase) -> Tensor {
        let x = Tensor.randomNormal(c.shape, using: RandomGenerator(seed: 42))
        return c.name == "logit" ? x.sigmoid() : x  // the logit's domain is (0, 1)
    }

    /// inverse(forward(x)) = x to 1e-4, and the two log-determinants cancel.
    @Test(arguments: bijectorCases)
    func inverseUndoesForward(_ c: BijectorCase) {
        let bijector = c.make()
        let x = Self.input(c)
        let (y, forwardLog) = withoutGradients { bijector.forward(x) }
        let (back, inverseLog) = withoutGradients { bijector.inverse(y) }
        #expect(back.shape == x.shape)
        let error = zip(back.scalars, x.scalars).map { abs($0 - $1) }.max()!
        #expect(error < 1e-4, "\(c.name): max |x − inverse(forward(x))| = \(error)")
        #expect(forwardLog.shape == [x.shape[0]])
        #expect(zip(forwardLog.scalars, inverseLog.scalars).allSatisfy { abs($0 + $1) < 1e-3 * max(1, abs($0)) },
                "\(c.name): \(forwardLog.scalars) + \(inverseLog.scalars)")
    }

    /// The log-determinant equals log|det| of the Jacobian built column by column from autodiff
    /// (one vector-Jacobian product per output dimension), for the first sample.
    @Test(arguments: bijectorCases)
    func logDeterminantMatchesTheJacobian(_ c: BijectorCase) {
        let bijector = c.make()
        let x = Self.input(c).slice(axis: 0, start: 0, count: 1).copy()
        let d = x.count
        var jacobian = [Double](repeating: 0, count: d * d)
        var output = 0
        for row in 0..<d {
            let (_, gradients) = vectorJacobianProduct(at: [x], { bijector.forward($0[0]).y.flattened() }) { y in
                output = y.count
                var e = [Float](repeating: 0, count: y.count)
                e[row] = 1
                return Tensor(e, shape: y.shape)
            }
            for column in 0..<d { jacobian[row * d + column] = Double(gradients[0].scalars[column]) }
        }
        #expect(output == d)
        let expected = logAbsDeterminant(jacobian, size: d)
        let logDeterminant = Double(withoutGradients { bijector.forward(x).logDeterminant }.item)
        #expect(abs(logDeterminant - expected) < 1e-3 * max(1, abs(expected)), "\(c.name): \(logDeterminant) vs brute force \(expected)")
    }

    /// Dequantization: 8-bit values come back after rounding down, with ∓D·log 256.
    @Test func dequantizationRoundTrips() {
        let pixels = Tensor([0, 17, 128, 255, 3, 250], shape: [2, 1, 1, 3])
        let dequantize = Dequantize(generator: RandomGenerator(seed: 1))
        let (u, forwardLog) = dequantize.forward(pixels)
        #expect(u.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        let (back, inverseLog) = dequantize.inverse(u)
        #expect(back.scalars == pixels.scalars)
        #expect(abs(forwardLog.scalars[0] + Float(3 * log(256.0))) < 1e-4 && abs(inverseLog.scalars[1] - Float(3 * log(256.0))) < 1e-4)
    }
}

@Suite("RealNVP")
struct RealNVPTests {
    /// The benchmark configuration has the twin's parameter count and, with the twin's weights,
    /// its log p(x) on a fixed batch to 1e-4 relative.
    @Test func matchesThePyTorchTwin() throws {
        let fixture = try SafeTensors.read(flowsFixtures.appendingPathComponent("realnvp_small_parity.safetensors")).tensors
        let flow = RealNVPFlow(.small)
        #expect(flow.parameterCount == 629_665)
        // the masks gen builds are the twin's (the state dict below would overwrite them)
        let built = flow.stateDict().filter { $0.key.hasSuffix(".mask") }
        #expect(built.count == 10)
        for (name, mask) in built {
            #expect(fixture["weights." + name]?.scalars == mask.scalars, "\(name) is not the twin's mask")
        }
        var weights: [String: Tensor] = [:]
        for (name, tensor) in fixture where name.hasPrefix("weights.") { weights[String(name.dropFirst(8))] = tensor }
        try flow.load(stateDict: weights)
        let logDensity = withoutGradients { flow.logDensity(fixture["input.logit"]!) }
        let expected = fixture["output.log_density"]!
        for (a, b) in zip(logDensity.scalars, expected.scalars) {
            #expect(abs(a - b) <= 1e-4 * abs(b), "log p \(a) vs twin \(b)")
        }
    }

    /// Every change of variables of the preprocessing counts: for uniform 8-bit noise the
    /// dequantized values are uniform on [0, 1), and an identity-initialized flow gives
    /// `8 + E[−log φ(logit s) − log(1 − 2α) + log s + log(1 − s)]/ln 2` bits/dim,
    /// s = α + (1 − 2α)·u, u ~ U(0, 1) (the expectation by the midpoint rule).
    @Test func uniformNoiseHasTheAnalyticBitsPerDimension() {
        let model = RealNVP(RealNVPConfiguration(imageShape: [1, 8, 8], scales: 1, couplings: 2, finalCouplings: 2, hidden: 8))
        model.flow.zeroInitialize()
        let generator = RandomGenerator(seed: 3)
        let pixels = Tensor((0..<(512 * 64)).map { _ in Float(generator.nextInt(below: 256)) }, shape: [512, 1, 8, 8])
        let measured = Double(withoutGradients { model.bitsPerDimension(pixels: pixels, generator: generator) }.mean().item)
        let alpha = 0.05, n = 200_000
        var integral = 0.0
        for i in 0..<n {
            let u = (Double(i) + 0.5) / Double(n), s = alpha + (1 - 2 * alpha) * u
            let y = log(s) - log(1 - s)
            integral += 0.5 * y * y + 0.5 * log(2 * Double.pi) - log(1 - 2 * alpha) + log(s) + log(1 - s)
        }
        let analytic = 8 + integral / Double(n) / log(2.0)
        #expect(abs(measured - analytic) < 0.01, "measured \(measured) bits/dim, analytic \(analytic)")
    }

    /// Sampling inverts the flow: images in [0, 1] of the configured shape; temperature 0 gives
    /// the image of the latent's mode.
    @Test func samplesWithATemperature() {
        let model = RealNVP(RealNVPConfiguration(imageShape: [1, 4, 4], scales: 1, couplings: 1, finalCouplings: 1, hidden: 4))
        let images = model.sample(count: 3, temperature: 0.7, generator: RandomGenerator(seed: 1))
        #expect(images.shape == [3, 1, 4, 4] && images.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        let modes = model.sample(count: 2, temperature: 0, generator: RandomGenerator(seed: 1))
        #expect(modes.slice(axis: 0, start: 0, count: 1).isIdentical(to: modes.slice(axis: 0, start: 1, count: 1)))
    }
}
