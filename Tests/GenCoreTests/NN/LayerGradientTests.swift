import GenCore
import Testing

/// Finite-difference checks of every layer's gradients, with respect to each parameter and
/// to the input.
@Suite("Layer gradient checks")
struct LayerGradientTests {
    @Test func linear() {
        checkModuleGradients(Linear(5, 3, generator: RandomGenerator(seed: 1)), input: randn([2, 4, 5])) { m, x in (m as! Linear)(x) }
    }

    @Test func conv2d() {
        let layer = Conv2d(4, 6, kernelSize: (3, 2), stride: (2, 1), padding: (1, 1), groups: 2, generator: RandomGenerator(seed: 1))
        checkModuleGradients(layer, input: randn([1, 4, 7, 5])) { m, x in (m as! Conv2d)(x) }
    }

    @Test func convTranspose2d() {
        let layer = ConvTranspose2d(4, 2, kernelSize: 4, stride: 2, padding: 1, generator: RandomGenerator(seed: 1))
        checkModuleGradients(layer, input: randn([2, 4, 3, 2])) { m, x in (m as! ConvTranspose2d)(x) }
    }

    @Test func groupNorm() {
        let layer = GroupNorm(groups: 2, channels: 4)
        layer.weight.assign(randn([4], seed: 3) * 0.5 + 1)
        layer.bias.assign(randn([4], seed: 4))
        checkModuleGradients(layer, input: randn([2, 4, 3, 5]) * 2 + 1, rtol: 2e-2) { m, x in (m as! GroupNorm)(x) }
    }

    @Test(arguments: [true, false])
    func batchNorm2d(training: Bool) {
        let layer = BatchNorm2d(3)
        layer.weight.assign(randn([3], seed: 3) * 0.5 + 1)
        layer.bias.assign(randn([3], seed: 4))
        layer._runningVar.assign(Tensor([0.5, 1.5, 2]))
        layer.train(training)
        checkModuleGradients(layer, input: randn([4, 3, 2, 3]), rtol: 2e-2) { m, x in (m as! BatchNorm2d)(x) }
    }

    @Test func embedding() {
        let layer = Embedding(5, 3, generator: RandomGenerator(seed: 1))
        checkModuleGradients(layer, input: randn([1])) { m, x in (m as! Embedding)([4, 0, 4]) + x }
    }

    @Test(arguments: [1, 2])
    func selfAttention(heads: Int) {
        let layer = SelfAttention2d(channels: 8, heads: heads, groups: 4, generator: RandomGenerator(seed: 1))
        checkModuleGradients(layer, input: randn([2, 8, 3, 2]), rtol: 2e-2, atol: 2e-3) { m, x in (m as! SelfAttention2d)(x) }
    }

    @Test func timeEmbedding() {
        checkGradients([Tensor([0.1, 0.5, 2.0])]) { SinusoidalTimeEmbedding(dimension: 6)($0[0]) }
    }

    @Test func sequentialWithActivations() {
        let model = Sequential(
            Conv2d(2, 4, kernelSize: 3, padding: 1, generator: RandomGenerator(seed: 1)), SiLU(),
            Conv2d(4, 4, kernelSize: 3, stride: 2, padding: 1, generator: RandomGenerator(seed: 2)), Tanh(),
            Flatten(), Linear(16, 3, generator: RandomGenerator(seed: 3)), Softplus(), Sigmoid(), GELU())
        checkModuleGradients(model, input: randn([2, 2, 4, 4])) { m, x in (m as! Sequential)(x) }
    }

    @Test func dropoutWithFixedMask() {
        checkGradients([randn([4, 6])]) { xs in Dropout(probability: 0.3, generator: RandomGenerator(seed: 5))(xs[0]) }
    }
}
