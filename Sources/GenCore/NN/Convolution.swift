/// A 2-D convolution layer (`nn.Conv2d`): input `[N, inChannels, H, W]`, weight
/// `[outChannels, inChannels / groups, kh, kw]`, bias `[outChannels]`.
public final class Conv2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let dilation: (Int, Int)
    public let groups: Int

    /// A layer initialized as PyTorch does (uniform in ±1/√fanIn, fanIn = inChannels/groups·kh·kw).
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
        generator: RandomGenerator = Random.initializer
    ) {
        require(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                "Conv2d: \(inChannels) → \(outChannels) channels do not split into \(groups) groups")
        let fanIn = inChannels / groups * kernelSize.0 * kernelSize.1
        weight = Initialization.kaimingUniform(
            [outChannels, inChannels / groups, kernelSize.0, kernelSize.1], fanIn: fanIn, using: generator)
        self.bias = bias ? Initialization.bias(outChannels, fanIn: fanIn, using: generator) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    /// A layer with the given weight `[out, in / groups, kh, kw]` and bias `[out]`.
    public init(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1), groups: Int = 1) {
        require(weight.rank == 4 && groups >= 1 && weight.shape[0] % groups == 0 && (bias == nil || bias!.shape == [weight.shape[0]]),
                "Conv2d: weight \(weight.shape), bias \(bias?.shape ?? []) and \(groups) groups do not fit")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    /// A square-kernel layer: `Conv2d(32, 64, kernelSize: 3, padding: 1)`.
    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: RandomGenerator = Random.initializer
    ) {
        self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), dilation: (dilation, dilation), groups: groups, bias: bias,
                  generator: generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// A 2-D transposed convolution layer (`nn.ConvTranspose2d`): input `[N, inChannels, H, W]`,
/// weight `[inChannels, outChannels / groups, kh, kw]`, bias `[outChannels]`.
public final class ConvTranspose2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let outputPadding: (Int, Int)
    public let dilation: (Int, Int)
    public let groups: Int

    /// A layer initialized as PyTorch does (fanIn = outChannels/groups·kh·kw, from weight axis 1).
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1),
        groups: Int = 1, bias: Bool = true, generator: RandomGenerator = Random.initializer
    ) {
        require(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                "ConvTranspose2d: \(inChannels) → \(outChannels) channels do not split into \(groups) groups")
        let fanIn = outChannels / groups * kernelSize.0 * kernelSize.1
        weight = Initialization.kaimingUniform(
            [inChannels, outChannels / groups, kernelSize.0, kernelSize.1], fanIn: fanIn, using: generator)
        self.bias = bias ? Initialization.bias(outChannels, fanIn: fanIn, using: generator) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
    }

    /// A square-kernel layer: `ConvTranspose2d(128, 64, kernelSize: 4, stride: 2, padding: 1)`.
    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, groups: Int = 1, bias: Bool = true, generator: RandomGenerator = Random.initializer
    ) {
        self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), outputPadding: (outputPadding, outputPadding), groups: groups,
                  bias: bias, generator: generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        input.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding,
                              outputPadding: outputPadding, dilation: dilation, groups: groups)
    }
}
