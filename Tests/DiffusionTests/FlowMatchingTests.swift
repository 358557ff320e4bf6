import Diffusion
import Foundation
import GenCore
import Testing

/// Eight Gaussians (std 0.1) on a circle of radius 2: the 2-D target of the flow-matching tests.
func eightGaussians(_ count: Int, generator: RandomGenerator) -> Tensor {
    let points = (0..<count).flatMap { _ -> [Float] in
        let angle = Float(generator.nextInt(below: 8)) * Float.pi / 4
        return [2 * cos(angle) + 0.1 * generator.nextNormal(), 2 * sin(angle) + 0.1 * generator.nextNormal()]
    }
    return Tensor(points, shape: [count, 2])
}

/// The energy distance 2E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖ (Székely & Rizzo 2013) of two 2-D samples.
func energyDistance(_ a: Tensor, _ b: Tensor) -> Double {
    func meanDistance(_ x: [Float], _ y: [Float]) -> Double {
        var total = 0.0
        for i in stride(from: 0, to: x.count, by: 2) {
            for j in stride(from: 0, to: y.count, by: 2) {
                let dx = x[i] - y[j], dy = x[i + 1] - y[j + 1]
                total += Double((dx * dx + dy * dy).squareRoot())
            }
        }
        return total / Double(x.count / 2 * y.count / 2)
    }
    let x = a.scalars, y = b.scalars
    return 2 * meanDistance(x, y) - meanDistance(x, x) - meanDistance(y, y)
}

@Suite("Flow matching")
struct FlowMatchingTests {
    /// Trains a small MLP by conditional flow matching from N(0, I) to eight Gaussians.
    static func train(_ coupling: Coupling) -> Denoiser {
        Random.seed(1)
        let network = TimeMLP(dimension: 2, hidden: 128, layers: 3)
        let denoiser = Denoiser(network: network, prediction: .velocity, process: LinearPath())
        let optimizer = Adam(learningRate: 2e-3)
        let generator = RandomGenerator(seed: 5)
        let steps = 4000
        for step in 0..<steps {
            optimizer.learningRate = 2e-3 * Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(steps))))
            let batch = eightGaussians(128, generator: generator)
            let (_, gradients) = valueAndGrad(network) { _ in
                flowMatchingLoss(denoiser: denoiser, data: batch, coupling: coupling, generator: generator)
            }
            optimizer.update(network, with: gradients)
        }
        return denoiser
    }

    /// Samples and the excess length of their paths: Σ‖x_{k+1} − x_k‖ over 100 Euler steps,
    /// divided by the straight distance ‖x₀ − x₁‖, minus 1 (0 for straight paths).
    static func sampleWithPathExcess(_ denoiser: Denoiser) -> (samples: Tensor, excess: Double) {
        let noise = Tensor.randomNormal([1000, 2], using: RandomGenerator(seed: 8))
        var previous = noise, length = [Double](repeating: 0, count: 1000)
        let samples = ProbabilityFlowSampler(method: .euler, steps: 100).sample(denoiser, noise: noise, generator: RandomGenerator(seed: 0)) { progress in
            let step = (progress.images - previous).squared().sum(axes: [1]).sqrt().scalars
            for i in 0..<1000 { length[i] += Double(step[i]) }
            previous = progress.images
        }
        // a ratio of sums: a point that starts next to its end adds little either way
        let straight = (samples - noise).squared().sum(axes: [1]).sqrt().scalars.map(Double.init)
        return (samples, length.reduce(0, +) / straight.reduce(0, +) - 1)
    }

    /// The fraction of points within 3σ (0.3) of one of the eight modes, and the smallest
    /// fraction of points that any one mode holds.
    static func modeCoverage(_ points: Tensor) -> (nearModes: Double, leastMode: Double) {
        let p = points.scalars, count = p.count / 2
        var near = 0, perMode = [Int](repeating: 0, count: 8)
        for i in 0..<count {
            let angle = atan2(Double(p[2 * i + 1]), Double(p[2 * i]))
            let mode = (Int((angle / (Double.pi / 4)).rounded()) + 8) % 8
            let center = (2 * cos(Double(mode) * Double.pi / 4), 2 * sin(Double(mode) * Double.pi / 4))
            let dx = Double(p[2 * i]) - center.0, dy = Double(p[2 * i + 1]) - center.1
            if (dx * dx + dy * dy).squareRoot() < 0.3 { near += 1; perMode[mode] += 1 }
        }
        return (Double(near) / Double(count), Double(perMode.min()!) / Double(count))
    }

    /// Both couplings learn the target: the energy distance of 1,000 samples (RK4, 25 steps) to
    /// 1,000 fresh target points is below 0.02, where the prior N(0, I) is at 0.25 and a second
    /// target sample at the floor; nearly all samples lie within 3σ of a mode and every mode
    /// holds at least half its share; and the OT coupling's paths are far straighter than the
    /// independent coupling's (measured: path-length excess 0.75 independent, 0.014 OT).
    @Test func learnsEightGaussiansAndOTStraightensPaths() {
        let reference = eightGaussians(1000, generator: RandomGenerator(seed: 99))
        let prior = Tensor.randomNormal([1000, 2], using: RandomGenerator(seed: 98))
        let priorDistance = energyDistance(prior, reference)
        let floor = energyDistance(eightGaussians(1000, generator: RandomGenerator(seed: 97)), reference)
        var excess: [Coupling: Double] = [:]
        for coupling in Coupling.allCases {
            let denoiser = Self.train(coupling)
            excess[coupling] = Self.sampleWithPathExcess(denoiser).excess
            let samples = ProbabilityFlowSampler(method: .rk4, steps: 25)
                .sample(denoiser, noise: Tensor.randomNormal([1000, 2], using: RandomGenerator(seed: 8)), generator: RandomGenerator(seed: 0))
            let distance = energyDistance(samples, reference)
            #expect(distance < 0.02, "\(coupling): energy distance \(distance) (prior \(priorDistance), floor \(floor))")
            let coverage = Self.modeCoverage(samples)
            #expect(coverage.nearModes > 0.9 && coverage.leastMode > 0.5 / 8, "\(coupling): \(coverage)")
            print("flow matching, \(coupling) coupling: energy distance \(distance) (prior \(priorDistance), floor \(floor)), path-length excess \(excess[coupling]!), \(coverage)")
        }
        #expect(priorDistance > 0.2 && floor < 0.01)
        let referenceCoverage = Self.modeCoverage(reference)
        #expect(referenceCoverage.nearModes > 0.97, "the target itself: \(referenceCoverage)")
        #expect(excess[.ot]! < 0.25 * excess[.independent]!, "path-length excess: OT \(excess[.ot]!), independent \(excess[.independent]!)")
    }
}
