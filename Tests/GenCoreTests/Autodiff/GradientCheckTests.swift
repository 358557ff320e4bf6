import GenCore
import Testing

/// One finite-difference gradient check: a name, inputs and a function of them.
struct GradientCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputs: @Sendable () -> [Tensor]
    let function: @Sendable ([Tensor]) -> Tensor
    var testDescription: String { name }

    init(_ name: String, _ inputs: @escaping @Sendable () -> [Tensor], _ function: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name
        self.inputs = inputs
        self.function = function
    }
}

/// Every differentiable primitive, over odd shapes: batch 1, non-square images, broadcasting,
/// stride 2, padding, dilation and groups.
let primitiveCases: [GradientCase] = [
    GradientCase("add broadcast", { [randn([2, 3, 4]), randn([3, 1], seed: 2)] }) { $0[0] + $0[1] },
    GradientCase("subtract broadcast", { [randn([3, 1]), randn([2, 1, 4], seed: 2)] }) { $0[0] - $0[1] },
    GradientCase("multiply broadcast", { [randn([2, 3, 4]), randn([4], seed: 2)] }) { $0[0] * $0[1] },
    GradientCase("divide broadcast", { [randn([2, 3]), randnAwayFromZero([1, 3], seed: 2, margin: 0.5)] }) { $0[0] / $0[1] },
    GradientCase("pow tensor", { [randn([3, 4]).abs() + 0.5, randn([3, 1], seed: 2)] }) { $0[0].pow($0[1]) },
    GradientCase("maximum", { [randn([3, 4]), randn([4], seed: 2)] }) { $0[0].maximum($0[1]) },
    GradientCase("minimum", { [randn([3, 4]), randn([3, 4], seed: 2)] }) { $0[0].minimum($0[1]) },
    GradientCase("affine", { [randn([5])] }) { $0[0].affine(scale: -1.5, shift: 0.25) },
    GradientCase("where", { [randn([3, 4]), randn([3, 4], seed: 2)] }) { xs in
        xs[0].selecting(where: Tensor((0..<12).map { Float($0 % 3 == 0 ? 1 : 0) }, shape: [3, 4]), else: xs[1])
    },
    GradientCase("negate", { [randn([4])] }) { -$0[0] },
    GradientCase("exp", { [randn([2, 3])] }) { $0[0].exp() },
    GradientCase("log", { [randn([2, 3]).abs() + 0.3] }) { $0[0].log() },
    GradientCase("sqrt", { [randn([2, 3]).abs() + 0.3] }) { $0[0].sqrt() },
    GradientCase("pow scalar", { [randn([2, 3]).abs() + 0.3] }) { $0[0].pow(2.5) },
    GradientCase("abs", { [randnAwayFromZero([2, 5])] }) { $0[0].abs() },
    GradientCase("clamp", { [randn([3, 5]) * 2] }) { $0[0].clamped(-1, 1) },
    GradientCase("tanh", { [randn([2, 5])] }) { $0[0].tanh() },
    GradientCase("sigmoid", { [randn([2, 5]) * 3] }) { $0[0].sigmoid() },
    GradientCase("relu", { [randnAwayFromZero([2, 5])] }) { $0[0].relu() },
    GradientCase("silu", { [randn([2, 5]) * 3] }) { $0[0].silu() },
    GradientCase("group norm", { [randn([2, 6, 3, 2]) * 2 + 1, randn([6], seed: 2), randn([6], seed: 3)] }) {
        $0[0].groupNormalized(groups: 3, weight: $0[1], bias: $0[2])
    },
    GradientCase("group norm rank 3", { [randn([1, 4, 5]), randn([4], seed: 2), randn([4], seed: 3)] }) {
        $0[0].groupNormalized(groups: 2, weight: $0[1], bias: $0[2])
    },
    GradientCase("sin", { [randn([6])] }) { $0[0].sin() },
    GradientCase("cos", { [randn([6])] }) { $0[0].cos() },
    GradientCase("erf", { [randn([6])] }) { $0[0].erf() },
    GradientCase("sum over axes", { [randn([2, 3, 4, 5])] }) { $0[0].sum(axes: [1, 3]) },
    GradientCase("sum all", { [randn([3, 4])] }) { $0[0].sum() },
    GradientCase("max over axis", { [randn([3, 5, 2])] }) { $0[0].max(axes: [1]) },
    GradientCase("reshape", { [randn([2, 6])] }) { $0[0].reshaped([3, -1]) * randn([3, 4], seed: 5) },
    GradientCase("permute", { [randn([2, 3, 4])] }) { $0[0].permuted([2, 0, 1]) },
    GradientCase("slice with step", { [randn([5, 7])] }) { $0[0].slice(start: [1, 0], count: [2, 3], step: [2, 3]) },
    GradientCase("pad", { [randn([2, 3])] }) { $0[0].padded([(1, 0), (2, 1)], value: 0.5) },
    GradientCase("concatenate", { [randn([2, 3]), randn([2, 1], seed: 2)] }) { Tensor.concatenate($0, axis: 1) },
    GradientCase("broadcast", { [randn([3, 1])] }) { $0[0].broadcast(to: [2, 3, 4]) },
    GradientCase("gather rows", { [randn([4, 3])] }) { $0[0].gathering(rows: [3, 0, 3, 1]) },
    GradientCase("matmul", { [randn([3, 4]), randn([4, 5], seed: 2)] }) { $0[0].matmul($0[1]) },
    GradientCase("matmul transposed", { [randn([4, 3]), randn([5, 4], seed: 2)] }) { $0[0].matmul($0[1], transposeA: true, transposeB: true) },
    GradientCase("batched matmul broadcast", { [randn([2, 3, 4]), randn([4, 2], seed: 2)] }) { $0[0].matmul($0[1]) },
    GradientCase("batched matmul transposeB", { [randn([2, 3, 4]), randn([1, 5, 4], seed: 2)] }) { $0[0].matmul($0[1], transposeB: true) },
    GradientCase("conv2d stride 2 padding groups", { [randn([2, 4, 7, 6]), randn([6, 2, 3, 3], seed: 2), randn([6], seed: 3)] }) {
        $0[0].conv2d(weight: $0[1], bias: $0[2], stride: (2, 2), padding: (1, 1), groups: 2)
    },
    GradientCase("conv2d batch 1 dilation non-square", { [randn([1, 3, 9, 8]), randn([5, 3, 3, 2], seed: 2)] }) {
        $0[0].conv2d(weight: $0[1], padding: (2, 1), dilation: (2, 2))
    },
    GradientCase("conv2d 1x1", { [randn([3, 4, 2, 5]), randn([2, 4, 1, 1], seed: 2), randn([2], seed: 3)] }) {
        $0[0].conv2d(weight: $0[1], bias: $0[2])
    },
    GradientCase("convTranspose2d stride 2", { [randn([2, 4, 3, 5]), randn([4, 3, 4, 4], seed: 2), randn([3], seed: 3)] }) {
        $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: (2, 2), padding: (1, 1))
    },
    GradientCase("convTranspose2d groups output padding", { [randn([1, 4, 3, 4]), randn([4, 3, 3, 3], seed: 2)] }) {
        $0[0].convTranspose2d(weight: $0[1], stride: (2, 2), padding: (1, 1), outputPadding: (1, 1), groups: 2)
    },
    GradientCase("avgPool2d padding", { [randn([2, 2, 5, 6])] }) { $0[0].avgPool2d(kernel: (3, 2), stride: (2, 2), padding: (1, 1)) },
    GradientCase("maxPool2d", { [randn([1, 2, 6, 5])] }) { $0[0].maxPool2d(kernel: (2, 2), stride: (2, 1)) },
    GradientCase("upsample nearest", { [randn([1, 2, 3, 2])] }) { $0[0].upsampleNearest(scale: (2, 3)) },
]

/// Composite operations (checked too: their gradients come from the primitives).
let compositeCases: [GradientCase] = [
    GradientCase("mean", { [randn([3, 4, 2])] }) { $0[0].mean(axes: [0, 2]) },
    GradientCase("variance", { [randn([3, 6])] }) { $0[0].variance(axes: [1]) },
    GradientCase("logSumExp", { [randn([3, 7]) * 3] }) { $0[0].logSumExp(axes: [1]) },
    GradientCase("softmax", { [randn([3, 7]) * 2] }) { $0[0].softmax(axis: -1) },
    GradientCase("logSoftmax", { [randn([2, 5]) * 2] }) { $0[0].logSoftmax(axis: 1) },
    GradientCase("leakyReLU", { [randnAwayFromZero([2, 5])] }) { $0[0].leakyReLU(slope: 0.1) },
    GradientCase("gelu", { [randn([2, 5]) * 2] }) { $0[0].gelu() },
    GradientCase("softplus", { [randn([2, 5]) * 3] }) { $0[0].softplus() },
    GradientCase("logSigmoid", { [randn([2, 5]) * 3] }) { $0[0].logSigmoid() },
    GradientCase("reused value", { [randn([3, 3])] }) { x in (x[0] * x[0]).matmul(x[0]) + x[0].exp() },
]

@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    @Test(arguments: primitiveCases)
    func primitive(_ testCase: GradientCase) {
        checkGradients(testCase.inputs(), testCase.function)
    }

    @Test(arguments: compositeCases)
    func composite(_ testCase: GradientCase) {
        checkGradients(testCase.inputs(), testCase.function)
    }
}
