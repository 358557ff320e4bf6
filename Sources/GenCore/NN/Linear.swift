/// A fully connected layer: `y = x·Wᵀ + b` over the last axis (`nn.Linear`).
///
/// `weight` is `[outputs, inputs]`, `bias` `[outputs]`; input `[…, inputs]`, output `[…, outputs]`.
public final class Linear: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?

    /// A layer initialized as PyTorch does (uniform in ±1/√inputs).
    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, generator: RandomGenerator = Random.initializer) {
        weight = Initialization.kaimingUniform([outputs, inputs], fanIn: inputs, using: generator)
        self.bias = bias ? Initialization.bias(outputs, fanIn: inputs, using: generator) : nil
    }

    /// A layer with the given weight `[outputs, inputs]` and bias `[outputs]`.
    public init(weight: Tensor, bias: Tensor?) {
        require(weight.rank == 2 && (bias == nil || bias!.shape == [weight.shape[0]]),
                "Linear: weight \(weight.shape) and bias \(bias?.shape ?? []) do not fit")
        self.weight = weight
        self.bias = bias
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        require(input.rank >= 1 && input.shape.last == weight.shape[1],
                "Linear: input \(input.shape) does not end in \(weight.shape[1]) features")
        let output = input.matmul(weight, transposeB: true)
        return bias.map { output + $0 } ?? output
    }
}

/// A look-up table of learned vectors (`nn.Embedding`): `weight` `[count, dimension]` ~ N(0, 1).
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dimension: Int, generator: RandomGenerator = Random.initializer) {
        weight = Tensor.randomNormal([count, dimension], using: generator)
    }

    /// The vectors of `indices`: `[indices.count, dimension]`.
    public func callAsFunction(_ indices: [Int]) -> Tensor {
        require(indices.allSatisfy { $0 >= 0 && $0 < weight.shape[0] },
                "Embedding: an index is outside 0..<\(weight.shape[0])")
        return weight.gathering(rows: indices)
    }
}
