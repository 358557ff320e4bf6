import GenCore

/// A small time-conditioned MLP for vector data `[N, D]`: `[x, embed(t)]` through `layers`
/// hidden layers of width `hidden` with SiLU, to `D` outputs. The network of the 2-D toy
/// problems (and a starting point for tabular data).
public final class TimeMLP: Module, DenoisingNetwork {
    public let embedding: SinusoidalTimeEmbedding
    public let body: Sequential

    public init(dimension: Int, hidden: Int = 128, layers: Int = 3, timeFeatures: Int = 32) {
        require(dimension >= 1 && hidden >= 1 && layers >= 1 && timeFeatures >= 2 && timeFeatures % 2 == 0,
                "TimeMLP: dimension, hidden and layers must be positive, timeFeatures even")
        embedding = SinusoidalTimeEmbedding(dimension: timeFeatures)
        var stack: [any UnaryLayer] = [Linear(dimension + timeFeatures, hidden), SiLU()]
        for _ in 1..<layers { stack += [Linear(hidden, hidden), SiLU()] }
        stack.append(Linear(hidden, dimension))
        body = Sequential(stack)
    }

    /// - Parameters: xt `[N, D]`, times `[N]` in [0, 1].
    public func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        require(xt.rank == 2 && times.shape == [xt.shape[0]], "TimeMLP: input \(xt.shape) and times \(times.shape) do not fit")
        return body(Tensor.concatenate([xt, embedding(times * Conventions.timeScale)], axis: 1))
    }
}
