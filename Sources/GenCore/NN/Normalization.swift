/// Group normalization (Wu & He 2018; `nn.GroupNorm`): normalizes `[N, C, …]` over each group of
/// `C / groups` channels and the spatial axes, then scales and shifts per channel.
public final class GroupNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let epsilon: Float

    public init(groups: Int, channels: Int, epsilon: Float = 1e-5) {
        require(groups >= 1 && channels % groups == 0, "GroupNorm: \(channels) channels do not split into \(groups) groups")
        weight = Tensor.ones([channels])
        bias = Tensor.zeros([channels])
        self.groups = groups
        self.epsilon = epsilon
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let channels = weight.shape[0]
        require(input.rank >= 2 && input.shape[1] == channels, "GroupNorm: input \(input.shape) does not have \(channels) channels")
        return input.groupNormalized(groups: groups, weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// Batch normalization over `[N, C, H, W]` (Ioffe & Szegedy 2015; `nn.BatchNorm2d`).
///
/// In training mode it normalizes with the batch's statistics and updates the running mean
/// and (unbiased) variance with `momentum`; in evaluation mode it uses the running statistics.
public final class BatchNorm2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let _runningMean: Tensor
    public let _runningVar: Tensor
    public let momentum: Float
    public let epsilon: Float

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        weight = Tensor.ones([channels])
        bias = Tensor.zeros([channels])
        _runningMean = Tensor.zeros([channels])
        _runningVar = Tensor.ones([channels])
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let channels = weight.shape[0]
        require(input.rank == 4 && input.shape[1] == channels, "BatchNorm2d: input \(input.shape) is not [N, \(channels), H, W]")
        let shape = [1, channels, 1, 1]
        let normalized: Tensor
        if isTraining {
            let mean = input.mean(axes: [0, 2, 3], keepingDimensions: true)
            let centered = input - mean
            let variance = centered.squared().mean(axes: [0, 2, 3], keepingDimensions: true)
            normalized = centered / (variance + epsilon).sqrt()
            updateRunningStatistics(mean: mean, variance: variance, count: input.count / channels)
        } else {
            normalized = (input - _runningMean.reshaped(shape)) / (_runningVar.reshaped(shape) + epsilon).sqrt()
        }
        return normalized * weight.reshaped(shape) + bias.reshaped(shape)
    }

    private func updateRunningStatistics(mean: Tensor, variance: Tensor, count: Int) {
        let unbias = count > 1 ? Float(count) / Float(count - 1) : 1
        let m = momentum
        mean.withUnsafeBufferPointer { mean in
            variance.withUnsafeBufferPointer { variance in
                _runningMean.withUnsafeMutableBufferPointer { runningMean in
                    _runningVar.withUnsafeMutableBufferPointer { runningVar in
                        for c in runningMean.indices {
                            runningMean[c] = (1 - m) * runningMean[c] + m * mean[c]
                            runningVar[c] = (1 - m) * runningVar[c] + m * variance[c] * unbias
                        }
                    }
                }
            }
        }
    }
}
