import Foundation
import GenCore
import Testing

/// A module holding one parameter vector, for optimizer trajectories.
final class Vector: Module {
    let weight: Tensor
    init(_ weight: Tensor) { self.weight = weight }
}

@Suite("Optimizers")
struct OptimizerTests {
    static let fixture = try! SafeTensors.read(fixturesFolder.appendingPathComponent("gencore_parity.safetensors")).tensors

    static let optimizers: [(String, @Sendable () -> Optimizer)] = [
        ("adam", { Adam(learningRate: 1e-2) }),
        ("adam_l2", { Adam(learningRate: 1e-2, weightDecay: 0.1) }),
        ("adamw", { AdamW(learningRate: 1e-2, weightDecay: 0.1) }),
        ("adam_sngan", { Adam(learningRate: 2e-4, beta1: 0, beta2: 0.9) }),
        ("sgd_nesterov", { SGD(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4) }),
        ("sgd_momentum", { SGD(learningRate: 0.05, momentum: 0.9, dampening: 0.1) }),
    ]

    /// 20 steps on fixed gradients follow PyTorch's trajectory to 1e-6.
    @Test(arguments: optimizers.map(\.0))
    func trajectoryMatchesPyTorch(_ name: String) {
        let optimizer = Self.optimizers.first { $0.0 == name }!.1()
        let model = Vector(Self.fixture["optim.p0"]!.copy())
        let gradients = Self.fixture["optim.grads"]!
        let expected = Self.fixture["optim.\(name)"]!
        var worst: Float = 0
        for step in 0..<20 {
            optimizer.update(model, with: ["weight": gradients.slice(axis: 0, start: step, count: 1).reshaped([10])])
            let reference = expected.slice(axis: 0, start: step, count: 1).reshaped([10])
            worst = max(worst, maxDifference(model.weight, reference))
        }
        #expect(worst <= 1e-6, "\(name): largest deviation from PyTorch \(worst)")
    }

    /// Adam's sixteen-lane loop, its scalar tail and its split over the threads compute the
    /// same numbers: a 20,037-element vector (vector body, tail, two threads) updated whole
    /// equals the same vector updated in pieces of 15 elements (tail only), bit for bit.
    @Test(arguments: ["adam", "adam_l2", "adamw", "adam_sngan"])
    func adamLanesEqualTheScalarLoop(_ name: String) {
        let make = Self.optimizers.first { $0.0 == name }!.1
        let count = 20_037, piece = 15
        let start = Tensor.randomNormal([count], using: RandomGenerator(seed: 1))
        let whole = Vector(start.copy()), wholeOptimizer = make()
        let pieces = stride(from: 0, to: count, by: piece).map { Vector(start.slice(axis: 0, start: $0, count: min(piece, count - $0)).copy()) }
        let pieceOptimizers = pieces.map { _ in make() }
        let generator = RandomGenerator(seed: 2)
        for _ in 0..<5 {
            let gradient = Tensor.randomNormal([count], using: generator)
            wholeOptimizer.update(whole, with: ["weight": gradient])
            for (index, (module, optimizer)) in zip(pieces, pieceOptimizers).enumerated() {
                optimizer.update(module, with: ["weight": gradient.slice(axis: 0, start: index * piece, count: module.weight.count).copy()])
            }
        }
        #expect(whole.weight.scalars == pieces.flatMap(\.weight.scalars))
    }

    /// Saving and restoring the state mid-way continues the identical trajectory.
    @Test func stateRoundTripContinuesExactly() throws {
        let gradients = (0..<6).map { randn([4], seed: UInt64($0)) }
        let straight = Vector(Tensor([1, 2, 3, 4])), optimizer = Adam(learningRate: 0.1)
        for g in gradients { optimizer.update(straight, with: ["weight": g]) }

        let resumed = Vector(Tensor([1, 2, 3, 4])), first = Adam(learningRate: 0.1)
        for g in gradients[..<3] { first.update(resumed, with: ["weight": g]) }
        let saved = first.stateDict()
        let second = Adam(learningRate: 0.1)
        try second.load(stateDict: saved, for: resumed)
        #expect(second.step == 3)
        for g in gradients[3...] { second.update(resumed, with: ["weight": g]) }
        #expect(resumed.weight.isIdentical(to: straight.weight))
    }

    @Test func nonFiniteStateIsRefused() {
        let optimizer = Adam(), model = Vector(Tensor([1]))
        #expect(throws: OptimizerStateError.nonFinite("exp_avg.weight")) {
            try optimizer.load(stateDict: ["step": Tensor(1), "exp_avg.weight": Tensor([Float.nan]), "exp_avg_sq.weight": Tensor([1])], for: model)
        }
    }

    /// State that does not fit the model is refused by name before any update can read past a
    /// buffer: fewer elements, the same count in another shape, a missing slot, a stray entry.
    @Test func stateOfAnotherShapeIsRefused() {
        let model = Vector(Tensor([1, 2, 3, 4]))
        func load(_ state: [String: Tensor]) throws { try Adam().load(stateDict: ["step": Tensor(2)].merging(state) { $1 }, for: model) }
        let good = ["exp_avg.weight": Tensor([0, 0, 0, 0]), "exp_avg_sq.weight": Tensor([0, 0, 0, 0])]
        #expect(throws: Never.self) { try load(good) }
        #expect(throws: OptimizerStateError.shapeMismatch("exp_avg.weight", expected: [4], found: [2])) {
            try load(good.merging(["exp_avg.weight": Tensor([0, 0])]) { $1 })
        }
        #expect(throws: OptimizerStateError.shapeMismatch("exp_avg_sq.weight", expected: [4], found: [2, 2])) {
            try load(good.merging(["exp_avg_sq.weight": Tensor([0, 0, 0, 0], shape: [2, 2])]) { $1 })
        }
        #expect(throws: OptimizerStateError.missingEntry("exp_avg_sq.weight")) { try load(["exp_avg.weight": Tensor([0, 0, 0, 0])]) }
        #expect(throws: OptimizerStateError.unknownEntry("exp_avg.bias")) { try load(good.merging(["exp_avg.bias": Tensor([0])]) { $1 }) }
    }

    @Test func gradientClippingScalesToMaxNorm() {
        let gradients: Gradients = ["a": Tensor([3, 0]), "b": Tensor([0, 4])]
        let (clipped, norm) = clipGradientNorm(gradients, maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(gradientNorm(clipped) - 1) < 1e-5)
        let (unchanged, _) = clipGradientNorm(gradients, maxNorm: 10)
        #expect(unchanged["a"]!.isIdentical(to: gradients["a"]!))
    }

    @Test func schedules() {
        let warmup = Schedules.linearWarmup(1, warmupSteps: 4)
        #expect([0, 1, 3, 4, 100].map(warmup) == [0.25, 0.5, 1, 1, 1])
        let cosine = Schedules.cosine(1, totalSteps: 110, warmupSteps: 10, minimum: 0.1)
        #expect(abs(cosine(10) - 1) < 1e-6)
        #expect(abs(cosine(60) - 0.55) < 1e-5)
        #expect(abs(cosine(110) - 0.1) < 1e-6)
        #expect(Schedules.constant(0.3)(12345) == 0.3)
    }

    @Test func emaFollowsTheWeightsWithWarmup() throws {
        let model = Vector(Tensor([0, 0]))
        let ema = ExponentialMovingAverage(model, decay: 0.9, warmup: true)
        // update 0 uses decay min(0.9, 1/10) = 0.1
        model.weight.assign(Tensor([10, -10]))
        ema.update(from: model)
        #expect(allClose(ema.shadow["weight"]!, Tensor([9, -9])))
        // later updates use at most 0.9
        for _ in 0..<100 { ema.update(from: model) }
        #expect(ema.currentDecay == 0.9)
        #expect(allClose(ema.shadow["weight"]!, Tensor([10, -10]), rtol: 1e-4))
        let copy = Vector(Tensor([0, 0]))
        try ema.copy(to: copy)
        #expect(copy.weight.isIdentical(to: ema.shadow["weight"]!))
    }
}
