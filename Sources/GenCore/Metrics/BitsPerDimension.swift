import Foundation

/// 8-bit images as continuous data, and likelihoods of them in bits per dimension: the one
/// place these two formulas live, for every family.
public enum EightBitData {
    /// Maps 8-bit pixel values `k ∈ {0…255}` to continuous values in `range` with uniform
    /// dequantization (Theis et al. 2016): `(k + u)/256`, `u ~ U(0, 1)`, in [0, 1), or
    /// `2·(k + u)/256 − 1` in [−1, 1). A density of these values bounds the 8-bit data's
    /// probability from below; ``bitsPerDimension(logDensity:dimensions:valuesIn:)-(Tensor,_,_)``
    /// converts it.
    /// - Parameter pixels: 8-bit values as floats, any shape.
    public static func dequantize(pixels: Tensor, into range: PixelRange, generator: RandomGenerator) -> Tensor {
        let unit = (pixels + Tensor.randomUniform(pixels.shape, using: generator)) / 256
        return range == .unit ? unit : unit * 2 - 1
    }

    /// Bits per dimension of 8-bit images from a log-density in nats per image (`[N]`), the one
    /// conversion every family's likelihood goes through:
    /// `bpd = −log p/(D·ln 2) + log₂(256/w)`, where `w` is the width of the interval the
    /// dequantized values lie in (the density over `[0, 256)^D` is `p/(256/w)^D`): +8 for [0, 1),
    /// +7 for [−1, 1).
    /// - Parameters:
    ///   - logDensity: nats per image, `[N]`.
    ///   - dimensions: values per image (C·H·W).
    ///   - range: where the dequantized values lie; nil when `logDensity` is already the log
    ///     probability of the discrete values (8-bit pixels through a bijector that counts its
    ///     own dequantization, or binarized pixels): no offset.
    public static func bitsPerDimension(logDensity: Tensor, dimensions: Int, valuesIn range: PixelRange?) -> Tensor {
        let offset = dequantizationBits(range)
        let bits = logDensity * Float(-1 / (Double(dimensions) * log(2.0)))
        return offset == 0 ? bits : bits + Float(offset)
    }

    /// The same conversion of one log-density.
    public static func bitsPerDimension(logDensity: Double, dimensions: Int, valuesIn range: PixelRange?) -> Double {
        -logDensity / (Double(dimensions) * log(2.0)) + dequantizationBits(range)
    }

    /// log₂(256/w): the bits per dimension between a density over values in `range` (width w)
    /// and one over [0, 256).
    private static func dequantizationBits(_ range: PixelRange?) -> Double {
        switch range {
        case nil: return 0
        case .unit?: return 8
        case .symmetric?: return 7
        }
    }
}
