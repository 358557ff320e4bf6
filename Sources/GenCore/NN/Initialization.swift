/// PyTorch's default initializations, so a `gen` layer starts from the same distribution as
/// its PyTorch twin.
public enum Initialization {
    /// `kaiming_uniform_(a = √5)` as `nn.Linear` and `nn.Conv2d` use it: U(−1/√fanIn, 1/√fanIn).
    public static func kaimingUniform(_ shape: [Int], fanIn: Int, using generator: RandomGenerator) -> Tensor {
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        return Tensor.randomUniform(shape, low: -bound, high: bound, using: generator)
    }

    /// The bias initialization of `nn.Linear` and `nn.Conv2d`: U(−1/√fanIn, 1/√fanIn).
    public static func bias(_ count: Int, fanIn: Int, using generator: RandomGenerator) -> Tensor {
        kaimingUniform([count], fanIn: fanIn, using: generator)
    }
}
