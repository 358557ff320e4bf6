import Diffusion
import Foundation
import GenCore
import Testing

@Suite("Noise schedules and predictions")
struct ScheduleTests {
    @Test(arguments: NoiseSchedule.Kind.allCases)
    func alphaBarFallsFromOneTowardZero(_ kind: NoiseSchedule.Kind) {
        let schedule = NoiseSchedule(kind, steps: 1000)
        #expect(schedule.alphaBars.count == 1001 && schedule.alphaBars[0] == 1)
        #expect(zip(schedule.alphaBars, schedule.alphaBars.dropFirst()).allSatisfy { $0 > $1 })
        #expect(schedule.alphaBars[1000] < 1e-4)
        #expect(schedule.alpha(0) == 1 && schedule.sigma(0) == 0)
        // alpha² + sigma² = 1 everywhere, also between grid points
        for t in stride(from: 0.0, through: 1.0, by: 0.0137) {
            #expect(abs(schedule.alpha(t) * schedule.alpha(t) + schedule.sigma(t) * schedule.sigma(t) - 1) < 1e-12)
        }
    }

    @Test func linearMatchesHoEtAl() {
        let schedule = NoiseSchedule(.linear, steps: 1000)
        #expect(abs(schedule.beta(step: 1) - 1e-4) < 1e-12 && abs(schedule.beta(step: 1000) - 0.02) < 1e-12)
        #expect(abs(schedule.beta(step: 500) - (1e-4 + (0.02 - 1e-4) * 499 / 999)) < 1e-12)
        // scaled by 1000/T for other T, as improved DDPM does
        #expect(abs(NoiseSchedule(.linear, steps: 100).beta(step: 1) - 1e-3) < 1e-12)
    }

    /// ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008 (Nichol & Dhariwal 2021, Eq. 17).
    @Test(arguments: [1, 100, 250, 500, 750, 900])
    func cosineMatchesNicholAndDhariwal(step: Int) {
        let schedule = NoiseSchedule(.cosine, steps: 1000)
        let s = 0.008
        func f(_ t: Double) -> Double { pow(cos((t + s) / (1 + s) * Double.pi / 2), 2) }
        let expected = f(Double(step) / 1000) / f(0)
        #expect(abs(schedule.alphaBars[step] - expected) < 1e-9 * max(1, expected), "step \(step): \(schedule.alphaBars[step]) vs \(expected)")
    }

    /// Converting any prediction to noise, data or velocity and back gives the original, for a
    /// variance-preserving process (Salimans & Ho's v) and for the linear path (v = noise − data).
    @Test(arguments: Prediction.allCases, [false, true])
    func conversionsInvertEachOther(_ kind: Prediction, linearPath: Bool) {
        let generator = RandomGenerator(seed: 4)
        let data = Tensor.randomNormal([3, 1, 2, 2], using: generator), noise = Tensor.randomNormal([3, 1, 2, 2], using: generator)
        let c: PathCoefficients
        let velocity: Tensor
        if linearPath {
            c = LinearPath().coefficients([0.1, 0.5, 0.9], rank: 4)
            velocity = noise - data
        } else {
            let angles = Tensor.randomUniform([3, 1, 1, 1], low: 0.1, high: 1.4, using: generator)
            c = PathCoefficients(alpha: angles.cos(), sigma: angles.sin())
            velocity = c.alpha * noise - c.sigma * data
        }
        let xt = c.alpha * data + c.sigma * noise
        let output = Prediction.target(kind, data: data, noise: noise, c)
        #expect(maxDifference(Prediction.noise(from: output, kind, xt: xt, c), noise) < 1e-5)
        #expect(maxDifference(Prediction.data(from: output, kind, xt: xt, c), data) < 1e-5)
        #expect(maxDifference(Prediction.velocity(from: output, kind, xt: xt, c), velocity) < 1e-5)
        #expect(maxDifference(Prediction.score(from: output, kind, xt: xt, c), -noise / c.sigma) < 1e-4)
    }
}

