import Foundation
import GenCore
import Testing

/// Forward outputs and gradients of a fixed loss (Σ y·cot) match PyTorch's, from
/// `Tests/Fixtures/gencore_parity.safetensors` (made by `make_gencore_fixtures.py`).
@Suite("Parity with PyTorch")
struct PyTorchParityTests {
    static let fixture = try! SafeTensors.read(fixturesFolder.appendingPathComponent("gencore_parity.safetensors")).tensors

    func t(_ name: String) -> Tensor { Self.fixture[name]! }

    /// Loads `weights` into the module, runs it on the case's input, and compares the output
    /// and the gradients of Σ y·cot with respect to the input and every parameter.
    func check(_ name: String, _ model: Module, parameters: [String], forward: (Tensor) -> Tensor,
               sourceLocation: SourceLocation = #_sourceLocation) {
        var state = model.stateDict()
        for path in parameters { state[path] = t("\(name).\(path)") }
        for (path, _) in model.namedBuffers() { state[path] = Self.fixture["\(name).\(path)"] ?? state[path] }
        #expect(throws: Never.self) { try model.load(stateDict: state) }
        let cotangent = t("\(name).cot")
        var output = Tensor(0)
        let (_, gradients, inputGradients) = valueAndGrad(model, at: [t("\(name).input")]) { _, xs in
            output = forward(xs[0])
            return (output * cotangent).sum()
        }
        #expect(allClose(output.detached, t("\(name).y"), rtol: 1e-4, atol: 1e-5), "\(name) output: max diff \(maxDifference(output.detached, t("\(name).y")))", sourceLocation: sourceLocation)
        #expect(allClose(inputGradients[0], t("\(name).grad.input"), rtol: 1e-4, atol: 1e-5),
                "\(name) input gradient: max diff \(maxDifference(inputGradients[0], t("\(name).grad.input")))", sourceLocation: sourceLocation)
        for path in parameters {
            let expected = t("\(name).grad.\(path)")
            #expect(gradients[path].map { allClose($0, expected, rtol: 1e-4, atol: 1e-5) } == true,
                    "\(name) gradient of \(path): max diff \(gradients[path].map { maxDifference($0, expected) } ?? .nan)", sourceLocation: sourceLocation)
        }
    }

    @Test func linear() {
        let layer = Linear(5, 4)
        check("linear", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func conv2dStride2Groups() {
        let layer = Conv2d(4, 6, kernelSize: 3, stride: 2, padding: 1, groups: 2)
        check("conv2d_a", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func conv2dDilationNonSquare() {
        let layer = Conv2d(3, 5, kernelSize: (3, 2), padding: (2, 1), dilation: (2, 2))
        check("conv2d_b", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func convTranspose2d() {
        let layer = ConvTranspose2d(4, 3, kernelSize: 4, stride: 2, padding: 1)
        check("conv_transpose2d_a", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func convTranspose2dGroupsOutputPadding() {
        let layer = ConvTranspose2d(4, 6, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, groups: 2)
        check("conv_transpose2d_b", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func groupNorm() {
        let layer = GroupNorm(groups: 3, channels: 6)
        check("group_norm", layer, parameters: ["weight", "bias"]) { layer($0) }
    }

    @Test func batchNormTraining() {
        let layer = BatchNorm2d(3)
        check("batch_norm_train", layer, parameters: ["weight", "bias"]) { layer($0) }
        #expect(allClose(layer._runningMean, t("batch_norm_train.running_mean_after"), rtol: 1e-5, atol: 1e-6))
        #expect(allClose(layer._runningVar, t("batch_norm_train.running_var_after"), rtol: 1e-5, atol: 1e-6))
    }

    @Test func batchNormEvaluation() {
        let layer = BatchNorm2d(3)
        layer.eval()
        check("batch_norm_eval", layer, parameters: ["weight", "bias"]) { layer($0) }
        #expect(layer._runningMean.isIdentical(to: t("batch_norm_eval.running_mean")))
    }

    @Test func attention() {
        let layer = SelfAttention2d(channels: 16)
        let names = ["norm.weight", "norm.bias", "qkv.weight", "qkv.bias", "proj.weight", "proj.bias"]
        #expect(Set(layer.stateDict().keys) == Set(names))
        check("attention", layer, parameters: names) { layer($0) }
    }

    @Test func softmaxAndLogSumExp() {
        for (name, f) in [("softmax", { (x: Tensor) in x.softmax(axis: -1) }), ("logsumexp", { (x: Tensor) in x.logSumExp(axes: [1]) })] {
            let (value, gradient) = vectorJacobianProduct(at: [t("\(name).input")], { f($0[0]) }, cotangent: { _ in t("\(name).cot") })
            #expect(allClose(value, t("\(name).y"), rtol: 1e-5, atol: 1e-6), "\(name) forward")
            #expect(allClose(gradient[0], t("\(name).grad.input"), rtol: 1e-4, atol: 1e-6), "\(name) gradient")
        }
    }
}
