import Foundation

/// Multi-head self-attention over the spatial positions of `[N, C, H, W]`, with a residual
/// connection: `x + proj(attention(qkv(norm(x))))` (the attention block of Ho et al. 2020's UNet).
///
/// `qkv` is a 1×1 convolution to `3·C` channels (queries, keys, values in that order); each
/// head attends over the `H·W` positions with scale 1/√(C / heads).
public final class SelfAttention2d: Module, UnaryLayer {
    public let norm: GroupNorm
    public let qkv: Conv2d
    public let proj: Conv2d
    public let heads: Int

    public init(channels: Int, heads: Int = 1, groups: Int = 8, generator: RandomGenerator = Random.initializer) {
        require(heads >= 1 && channels % heads == 0, "SelfAttention2d: \(channels) channels do not split into \(heads) heads")
        norm = GroupNorm(groups: groups, channels: channels)
        qkv = Conv2d(channels, 3 * channels, kernelSize: 1, generator: generator)
        proj = Conv2d(channels, channels, kernelSize: 1, generator: generator)
        self.heads = heads
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let positions = height * width, headSize = channels / heads
        // 1. queries, keys and values: [batch·heads, headSize, positions] each
        let projected = qkv(norm(input)).reshaped([batch, 3, heads * headSize * positions])
        let parts = projected.chunked(3, axis: 1).map { $0.reshaped([batch * heads, headSize, positions]) }
        let (queries, keys, values) = (parts[0], parts[1], parts[2])
        // 2. attention weights over positions: [batch·heads, positions, positions]
        let scores = queries.matmul(keys, transposeA: true) * (1 / Float(headSize).squareRoot())
        let weights = scores.softmax(axis: -1)
        // 3. weighted values: out[c, i] = Σⱼ weights[i, j]·values[c, j]
        let attended = values.matmul(weights, transposeB: true).reshaped([batch, channels, height, width])
        return input + proj(attended)
    }
}

/// The sinusoidal embedding of (diffusion) time (Vaswani et al. 2017; Ho et al. 2020):
/// `[sin(t·f₀), …, sin(t·f₍d/2−1₎), cos(t·f₀), …]` with `fᵢ = exp(−ln(10000)·i / (d/2))`.
public final class SinusoidalTimeEmbedding: Module {
    public let dimension: Int
    private let frequencies: [Float]

    public init(dimension: Int) {
        require(dimension >= 2 && dimension % 2 == 0, "SinusoidalTimeEmbedding: dimension \(dimension) must be even")
        self.dimension = dimension
        let half = dimension / 2
        frequencies = (0..<half).map { Float(Foundation.exp(-Foundation.log(10000.0) * Double($0) / Double(half))) }
    }

    /// Embeds times `[N]` as `[N, dimension]`.
    public func callAsFunction(_ times: Tensor) -> Tensor {
        require(times.rank == 1, "SinusoidalTimeEmbedding: times must be [N], got \(times.shape)")
        let arguments = times.reshaped([-1, 1]) * Tensor(frequencies, shape: [1, frequencies.count])
        return Tensor.concatenate([arguments.sin(), arguments.cos()], axis: 1)
    }
}
