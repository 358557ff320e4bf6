import Foundation
import GenCore
import Testing

final class Block: Module {
    let conv1: Conv2d
    let norm: BatchNorm2d
    let heads: [Linear]
    let skip: Linear?
    let _scaleFactor: Tensor

    init(skip: Bool) {
        conv1 = Conv2d(2, 3, kernelSize: 3)
        norm = BatchNorm2d(3)
        heads = [Linear(3, 2), Linear(2, 1, bias: false)]
        self.skip = skip ? Linear(3, 3) : nil
        _scaleFactor = Tensor([1])
    }
}

@Suite("Module")
struct ModuleTests {
    @Test func parameterPathsFollowPyTorch() {
        let block = Block(skip: false)
        #expect(block.namedParameters().map(\.0) == [
            "conv1.weight", "conv1.bias", "norm.weight", "norm.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight",
        ])
        #expect(block.namedBuffers().map(\.0) == ["norm.running_mean", "norm.running_var", "scale_factor"])
        #expect(Set(Block(skip: true).stateDict().keys).isSuperset(of: ["skip.weight", "skip.bias"]))
        let sequential = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        #expect(sequential.namedParameters().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(block.parameterCount == 2 * 3 * 9 + 3 + 3 + 3 + 6 + 2 + 2)
    }

    @Test func trainAndEvalReachEverySubmodule() {
        let block = Block(skip: true)
        block.eval()
        #expect(!block.norm.isTraining && !block.heads[1].isTraining && block.skip?.isTraining == false)
        block.train()
        #expect(block.norm.isTraining)
    }

    @Test func loadStateDictChecksNamesAndShapes() throws {
        let source = Block(skip: false), target = Block(skip: false)
        try target.load(stateDict: source.stateDict())
        #expect(target.conv1.weight.isIdentical(to: source.conv1.weight))

        var missing = source.stateDict()
        missing["norm.running_var"] = nil
        #expect(throws: StateDictError.missing("norm.running_var")) { try target.load(stateDict: missing) }

        var wrong = source.stateDict()
        wrong["heads.0.weight"] = Tensor.zeros([3, 3])
        #expect(throws: StateDictError.shapeMismatch("heads.0.weight", expected: [2, 3], found: [3, 3])) {
            try target.load(stateDict: wrong)
        }
        #expect(!target.heads[0].weight.isIdentical(to: Tensor.zeros([2, 3])))

        var extra = source.stateDict()
        extra["skip.weight"] = Tensor.zeros([3, 3])
        #expect(throws: StateDictError.unexpected("skip.weight")) { try target.load(stateDict: extra) }
    }

    /// PyTorch's default initialization bounds: U(±1/√fanIn).
    @Test func defaultInitialization() {
        let conv = Conv2d(16, 32, kernelSize: 3)
        let bound = 1 / Float(16 * 9).squareRoot()
        #expect(conv.weight.abs().max().item <= bound)
        #expect(conv.weight.abs().max().item > 0.9 * bound)
        let transposed = ConvTranspose2d(64, 8, kernelSize: 4)
        #expect(transposed.weight.shape == [64, 8, 4, 4])
        #expect(transposed.weight.abs().max().item <= 1 / Float(8 * 16).squareRoot())
        let norm = GroupNorm(groups: 8, channels: 32)
        #expect(norm.weight.scalars.allSatisfy { $0 == 1 } && norm.bias.scalars.allSatisfy { $0 == 0 })
    }

    @Test func gradientsOnlyForReachedParameters() {
        let block = Block(skip: true)
        let (_, gradients) = valueAndGrad(block) { m in m.heads[0](Tensor.ones([1, 3])).sum() }
        #expect(Set(gradients.keys) == ["heads.0.weight", "heads.0.bias"])
    }

    @Test func recordingIsOffOutsideValueAndGrad() {
        let layer = Linear(3, 2)
        let y = layer(Tensor.ones([1, 3]))
        // a tensor made without a tape is a plain value: to a function it is a constant, so
        // d/dx Σ x·y is y itself, and no gradient reaches the layer that made it
        let (_, gradient) = valueAndGrad(at: Tensor([3, -2])) { x in (x * y.reshaped([2])).sum() }
        #expect(gradient.scalars == y.scalars && y.scalars != [0, 0])
        let (_, layerGradients) = valueAndGrad(layer) { _ in (y * y).sum() }
        #expect(layerGradients.isEmpty, "\(layerGradients.keys)")
        let sampled = withoutGradients { layer(Tensor.ones([1, 3])) }
        #expect(sampled.isIdentical(to: y))
    }
}

@Suite("safetensors basics")
struct SafeTensorsBasicTests {
    @Test func roundTripWithMetadataZeroSizeAndScalar() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-st-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let tensors = ["b.weight": randn([2, 3]), "a": Tensor(4), "empty": Tensor.zeros([0, 5])]
        try SafeTensors.write(.init(tensors: tensors, metadata: ["config": "{\"kind\":\"ddpm\"}"]), to: url)
        let read = try SafeTensors.read(url)
        #expect(read.metadata == ["config": "{\"kind\":\"ddpm\"}"])
        #expect(Set(read.tensors.keys) == Set(tensors.keys))
        for (name, tensor) in tensors { #expect(read.tensors[name]!.isIdentical(to: tensor)) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(leftovers == ["model.safetensors"])
    }

    @Test func fixtureWrittenByPythonLoads() throws {
        let contents = try SafeTensors.read(fixturesFolder.appendingPathComponent("gencore_parity.safetensors"))
        #expect(contents.metadata["made_by"] == "Tests/Fixtures/make_gencore_fixtures.py")
        #expect(contents.tensors["conv2d_a.weight"]?.shape == [6, 2, 3, 3])
    }
}
