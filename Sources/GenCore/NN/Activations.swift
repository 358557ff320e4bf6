/// Layers without parameters, for use in a ``Sequential``.
public final class ReLU: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// `x` for x > 0, `slope·x` otherwise.
public final class LeakyReLU: Module, UnaryLayer {
    public let slope: Float
    public init(slope: Float = 0.01) { self.slope = slope }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.leakyReLU(slope: slope) }
}

/// x·σ(x) (also called swish).
public final class SiLU: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.silu() }
}

/// x·Φ(x) with the exact normal CDF.
public final class GELU: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.gelu() }
}

/// The hyperbolic tangent.
public final class Tanh: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// The logistic sigmoid.
public final class Sigmoid: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// log(1 + eˣ).
public final class Softplus: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.softplus() }
}

/// Flattens `[N, …]` to `[N, features]`.
public final class Flatten: Module, UnaryLayer {
    public override init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.flattened(from: 1) }
}

/// Zeroes each element with probability `probability` during training and scales the rest by
/// 1 / (1 − probability) (inverted dropout); the identity in evaluation mode.
public final class Dropout: Module, UnaryLayer {
    public let probability: Float
    private let generator: RandomGenerator

    public init(probability: Float, generator: RandomGenerator = Random.dropout) {
        require(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        self.probability = probability
        self.generator = generator
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining && probability > 0 else { return input }
        let keep = Tensor.randomUniform(input.shape, using: generator).greaterOrEqual(Tensor(probability))
        return input * keep * (1 / (1 - probability))
    }
}

/// Layers applied in order (`nn.Sequential`); their paths are their indices (`0.weight`).
public final class Sequential: Module, UnaryLayer {
    public let layers: [any UnaryLayer]

    public init(_ layers: [any UnaryLayer]) { self.layers = layers }
    public convenience init(_ layers: any UnaryLayer...) { self.init(layers) }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { $1($0) }
    }

    public override func storedProperties() -> [(String, Any)] {
        layers.enumerated().map { ("\($0.offset)", $0.element as Module) }
    }
}
