import Foundation
import GenCore

/// The shape of a ``UNet``.
public struct UNetConfiguration: Codable, Sendable, Equatable {
    /// Channels of the images (1 gray, 3 RGB).
    public var imageChannels: Int
    /// Channels at the first resolution; level `i` has `baseChannels · channelMultipliers[i]`.
    public var baseChannels: Int
    /// One entry per resolution level; every level but the last halves the resolution.
    public var channelMultipliers: [Int]
    /// Residual blocks per level, on the way down and on the way up.
    public var residualBlocksPerLevel: Int
    /// Image sizes (height) at which res blocks are followed by self-attention. The middle of
    /// the network always has attention.
    public var attentionResolutions: [Int]
    /// Dropout inside residual blocks.
    public var dropout: Float
    /// Groups of the group normalizations.
    public var groups: Int
    /// The image height (and width) the network is built for.
    public var imageSize: Int
    /// The classes of a class-conditional UNet: a learned class embedding (one row more for
    /// the null class, index `classes`) is added to the time embedding. nil: unconditional.
    public var classes: Int?

    public init(imageChannels: Int = 1, baseChannels: Int = 32, channelMultipliers: [Int] = [1, 2, 2],
                residualBlocksPerLevel: Int = 1, attentionResolutions: [Int] = [], dropout: Float = 0,
                groups: Int = 8, imageSize: Int = 28) {
        self.imageChannels = imageChannels
        self.baseChannels = baseChannels
        self.channelMultipliers = channelMultipliers
        self.residualBlocksPerLevel = residualBlocksPerLevel
        self.attentionResolutions = attentionResolutions
        self.dropout = dropout
        self.groups = groups
        self.imageSize = imageSize
    }

    /// `ddpm-unet-small` of BENCHMARKS.md: 32/64/64 channels on 1×28×28, attention at 7×7 in the
    /// middle, 793,697 parameters, layer for layer the PyTorch twin's `UNetSmall`.
    public static let small = UNetConfiguration()

    /// A UNet for images of `imageShape` (`[C, H, W]`, square), with group norms of
    /// `min(8, baseChannels)` groups; throws when the images or the settings do not fit.
    public init(imageShape: [Int], baseChannels: Int = 16, channelMultipliers: [Int] = [1, 2, 2], residualBlocksPerLevel: Int = 1,
                attentionResolutions: [Int] = [], dropout: Float = 0) throws(ConfigurationError) {
        try checkImageShape(imageShape)
        guard imageShape[1] == imageShape[2] else { throw .data("the UNet needs square images, got \(imageShape[1])×\(imageShape[2])") }
        self.init(imageChannels: imageShape[0], baseChannels: baseChannels, channelMultipliers: channelMultipliers,
                  residualBlocksPerLevel: residualBlocksPerLevel, attentionResolutions: attentionResolutions, dropout: dropout,
                  groups: max(1, min(8, baseChannels)), imageSize: imageShape[1])
        try validate()
    }

    /// Roughly the bytes of training at `batchSize`: per level, res blocks of two 3×3
    /// convolutions on the way down and (wider) up, about a dozen stored activations each, and
    /// the attention maps; see ``MemoryBudget``.
    public func estimatedTrainingBytes(batchSize: Int) -> Double {
        var parameters = 0.0, activations = 0.0
        for (level, multiplier) in channelMultipliers.enumerated() {
            let channels = Double(baseChannels) * Double(multiplier), side = Double(imageSize) / pow(2, Double(level))
            let blocks = Double(residualBlocksPerLevel) * 3
            parameters += blocks * 18 * channels * channels
            activations += blocks * 12 * channels * side * side
            if attentionResolutions.contains(Int(side)) || level == channelMultipliers.count - 1 {
                parameters += 8 * channels * channels
                activations += 3 * side * side * side * side + 6 * channels * side * side
            }
        }
        return trainingBytes(parameters: parameters, activationsPerImage: activations, batchSize: batchSize)
    }

    /// Throws when no UNet can be built from these values.
    public func validate() throws(ConfigurationError) {
        guard imageChannels >= 1, imageSize >= 1 else { throw .data("images of \(imageChannels) channels and \(imageSize) pixels are not images") }
        guard baseChannels >= 2, baseChannels % 2 == 0, baseChannels <= 1 << 20, groups >= 1, baseChannels % groups == 0,
              residualBlocksPerLevel >= 1, residualBlocksPerLevel <= 64, !channelMultipliers.isEmpty,
              channelMultipliers.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }) else {
            throw .settings("--channels must be even and a multiple of 8 (group norm) from 8 on, --res-blocks and the multipliers at least 1")
        }
        guard attentionResolutions.allSatisfy({ $0 >= 1 }) else { throw .settings("--attention-resolutions must be positive image sizes") }
        guard dropout >= 0 && dropout < 1 else { throw .settings("--dropout must be in [0, 1), got \(dropout)") }
        if let classes { try ClassConditioning(classes: classes).validate() }
        let levels = channelMultipliers.count - 1
        guard levels < 31, imageSize % (1 << levels) == 0 else {
            throw .settings("images of \(imageSize) pixels cannot be halved \(levels) times (--channel-multipliers has \(channelMultipliers.count) levels)")
        }
    }
}

/// A residual block with time conditioning (Ho et al. 2020): GroupNorm → SiLU → conv, plus a
/// projection of the time embedding, GroupNorm → SiLU → dropout → conv, plus a skip path.
public final class ResidualBlock: Module {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let timeProjection: Linear
    public let norm2: GroupNorm
    public let dropout: Dropout
    public let conv2: Conv2d
    /// A 1×1 convolution when the channel count changes.
    public let skip: Conv2d?

    public init(_ inChannels: Int, _ outChannels: Int, timeChannels: Int, groups: Int, dropout: Float) {
        norm1 = GroupNorm(groups: groups, channels: inChannels)
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1)
        timeProjection = Linear(timeChannels, outChannels)
        norm2 = GroupNorm(groups: groups, channels: outChannels)
        self.dropout = Dropout(probability: dropout)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1)
        skip = inChannels != outChannels ? Conv2d(inChannels, outChannels, kernelSize: 1) : nil
    }

    /// - Parameters:
    ///   - input: `[N, inChannels, H, W]`
    ///   - time: the time embedding `[N, timeChannels]`
    /// - Returns: `[N, outChannels, H, W]`
    public func callAsFunction(_ input: Tensor, time: Tensor) -> Tensor {
        var h = conv1(norm1(input).silu())
        h = h + timeProjection(time.silu()).reshaped([input.shape[0], -1, 1, 1])
        h = conv2(dropout(norm2(h).silu()))
        return h + (skip.map { $0(input) } ?? input)
    }
}

/// One resolution level of the encoder: residual blocks (each optionally followed by
/// attention), then a stride-2 convolution unless it is the last level.
public final class DownLevel: Module {
    public let blocks: [ResidualBlock]
    public let attentions: [SelfAttention2d]
    public let downsample: Conv2d?

    init(blocks: [ResidualBlock], attentions: [SelfAttention2d], downsample: Conv2d?) {
        self.blocks = blocks
        self.attentions = attentions
        self.downsample = downsample
    }
}

/// One resolution level of the decoder: residual blocks over the feature map joined with the
/// encoder's skip, then nearest upsampling and a convolution unless it is the top level.
public final class UpLevel: Module {
    public let blocks: [ResidualBlock]
    public let attentions: [SelfAttention2d]
    public let upsample: Conv2d?

    init(blocks: [ResidualBlock], attentions: [SelfAttention2d], upsample: Conv2d?) {
        self.blocks = blocks
        self.attentions = attentions
        self.upsample = upsample
    }
}

/// The denoising UNet of Ho et al. 2020, sized by a ``UNetConfiguration``: a sinusoidal time
/// embedding and MLP, an encoder of residual blocks with skips, a middle of residual block,
/// self-attention and residual block, and a decoder that joins the skips back in.
///
/// Input `xt` `[N, imageChannels, H, W]` and times `[N]` in [0, 1]; output has the shape of
/// `xt` (the network's prediction: noise, data or velocity, as its ``Denoiser`` says).
public final class UNet: Module {
    public let configuration: UNetConfiguration
    public let embedding: SinusoidalTimeEmbedding
    public let timeEmbedding: Sequential
    public let inputConv: Conv2d
    public let down: [DownLevel]
    public let middle1: ResidualBlock
    public let middleAttention: SelfAttention2d
    public let middle2: ResidualBlock
    public let up: [UpLevel]
    public let outNorm: GroupNorm
    public let outConv: Conv2d
    /// A class-conditional UNet's class embedding, `[classes + 1, timeChannels]` (the last row
    /// the null class), added to the time embedding (Ho & Salimans 2022; diffusers' `class_embedding`).
    public let classEmbedding: Embedding?

    public init(_ configuration: UNetConfiguration) {
        let c = configuration
        require(!c.channelMultipliers.isEmpty && c.residualBlocksPerLevel >= 1, "UNet: needs at least one level and one block per level")
        self.configuration = c
        let timeChannels = 4 * c.baseChannels
        embedding = SinusoidalTimeEmbedding(dimension: c.baseChannels)
        timeEmbedding = Sequential(Linear(c.baseChannels, timeChannels), SiLU(), Linear(timeChannels, timeChannels))
        inputConv = Conv2d(c.imageChannels, c.baseChannels, kernelSize: 3, padding: 1)
        var channels = c.baseChannels
        var skipChannels: [Int] = []
        var resolution = c.imageSize
        var down: [DownLevel] = []
        for (level, multiplier) in c.channelMultipliers.enumerated() {
            var blocks: [ResidualBlock] = [], attentions: [SelfAttention2d] = []
            for _ in 0..<c.residualBlocksPerLevel {
                blocks.append(ResidualBlock(channels, c.baseChannels * multiplier, timeChannels: timeChannels, groups: c.groups, dropout: c.dropout))
                channels = c.baseChannels * multiplier
                if c.attentionResolutions.contains(resolution) { attentions.append(SelfAttention2d(channels: channels, groups: c.groups)) }
                skipChannels.append(channels)
            }
            let isLast = level == c.channelMultipliers.count - 1
            down.append(DownLevel(blocks: blocks, attentions: attentions,
                                  downsample: isLast ? nil : Conv2d(channels, channels, kernelSize: 3, stride: 2, padding: 1)))
            if !isLast { resolution = (resolution + 1) / 2 }
        }
        self.down = down
        middle1 = ResidualBlock(channels, channels, timeChannels: timeChannels, groups: c.groups, dropout: c.dropout)
        middleAttention = SelfAttention2d(channels: channels, groups: c.groups)
        middle2 = ResidualBlock(channels, channels, timeChannels: timeChannels, groups: c.groups, dropout: c.dropout)
        var up: [UpLevel] = []
        for (level, multiplier) in c.channelMultipliers.enumerated().reversed() {
            var blocks: [ResidualBlock] = [], attentions: [SelfAttention2d] = []
            for _ in 0..<c.residualBlocksPerLevel {
                blocks.append(ResidualBlock(channels + skipChannels.removeLast(), c.baseChannels * multiplier,
                                            timeChannels: timeChannels, groups: c.groups, dropout: c.dropout))
                channels = c.baseChannels * multiplier
                if c.attentionResolutions.contains(resolution) { attentions.append(SelfAttention2d(channels: channels, groups: c.groups)) }
            }
            up.append(UpLevel(blocks: blocks, attentions: attentions,
                              upsample: level == 0 ? nil : Conv2d(channels, channels, kernelSize: 3, padding: 1)))
            if level > 0 { resolution *= 2 }
        }
        self.up = up
        outNorm = GroupNorm(groups: c.groups, channels: channels)
        outConv = Conv2d(channels, c.imageChannels, kernelSize: 3, padding: 1)
        // made last: an unconditional UNet draws the same initial weights as before conditioning existed
        classEmbedding = c.classes.map { Embedding($0 + 1, timeChannels) }
    }

    /// The classes of a class-conditional UNet; nil for an unconditional one.
    public var classCount: Int? { configuration.classes }

    /// - Parameters:
    ///   - xt: noisy images `[N, imageChannels, H, W]`
    ///   - times: `[N]` in [0, 1] (scaled by ``Conventions/timeScale`` for the embedding)
    /// - Returns: the prediction, `[N, imageChannels, H, W]`
    public func callAsFunction(_ xt: Tensor, times: Tensor) -> Tensor {
        self(xt, times: times, classes: nil)
    }

    /// The prediction for images of `classes` (one per image; the null class `classCount` for
    /// none). nil: the null class for every image of a conditional UNet.
    public func callAsFunction(_ xt: Tensor, times: Tensor, classes: [Int]?) -> Tensor {
        require(xt.rank == 4 && xt.shape[1] == configuration.imageChannels && times.shape == [xt.shape[0]],
                "UNet: images \(xt.shape) and times \(times.shape) do not fit a \(configuration.imageChannels)-channel UNet")
        var time = timeEmbedding(embedding(times * Conventions.timeScale))
        if let classEmbedding, let count = configuration.classes {
            let labels = classes ?? Array(repeating: count, count: xt.shape[0])
            require(labels.count == xt.shape[0] && labels.allSatisfy { $0 >= 0 && $0 <= count },
                    "UNet: \(labels.count) classes for \(xt.shape[0]) images, each must be in 0…\(count) (\(count): none)")
            time = time + classEmbedding(labels)
        } else {
            require(classes == nil, "UNet: classes given to an unconditional UNet")
        }
        // 1. encoder, keeping every block's output for the decoder
        var h = inputConv(xt)
        var skips: [Tensor] = []
        var sizes: [(Int, Int)] = []
        for level in down {
            for (i, block) in level.blocks.enumerated() {
                h = block(h, time: time)
                if i < level.attentions.count { h = level.attentions[i](h) }
                skips.append(h)
            }
            if let downsample = level.downsample {
                sizes.append((h.shape[2], h.shape[3]))
                h = downsample(h)
            }
        }
        // 2. middle
        h = middle2(middleAttention(middle1(h, time: time)), time: time)
        // 3. decoder, joining the skips in reverse order
        for level in up {
            for (i, block) in level.blocks.enumerated() {
                h = block(Tensor.concatenate([h, skips.removeLast()], axis: 1), time: time)
                if i < level.attentions.count { h = level.attentions[i](h) }
            }
            if let upsample = level.upsample {
                let (height, width) = sizes.removeLast()
                h = h.upsampleNearest(scale: (2, 2))
                if h.shape[2] != height || h.shape[3] != width {
                    h = h.slice(start: [0, 0, 0, 0], count: [h.shape[0], h.shape[1], height, width])
                }
                h = upsample(h)
            }
        }
        return outConv(outNorm(h).silu())
    }
}
