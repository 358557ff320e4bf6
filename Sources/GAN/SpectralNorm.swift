import GenCore

/// A layer whose weight ``SpectralNorm`` can replace: it runs with any weight of its own
/// weight's shape.
public protocol SpectrallyNormalizable: Module {
    var weight: Tensor { get }
    /// The layer's output with `weight` in place of its own.
    func callAsFunction(_ input: Tensor, weight: Tensor) -> Tensor
    /// A plain copy of the layer with `weight` as its own (and a copy of its bias).
    func withWeight(_ weight: Tensor) -> Self
}

extension Linear: SpectrallyNormalizable {
    public func callAsFunction(_ input: Tensor, weight: Tensor) -> Tensor {
        let output = input.matmul(weight, transposeB: true)
        return bias.map { output + $0 } ?? output
    }

    public func withWeight(_ weight: Tensor) -> Linear { Linear(weight: weight.copy(), bias: bias?.copy()) }
}

extension Conv2d: SpectrallyNormalizable {
    public func callAsFunction(_ input: Tensor, weight: Tensor) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public func withWeight(_ weight: Tensor) -> Conv2d {
        Conv2d(weight: weight.copy(), bias: bias?.copy(), stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// Spectral normalization (Miyato et al. 2018): the wrapped layer runs with `W / σ(W)`, σ the
/// largest singular value of W viewed as `[out, in·kh·kw]`, estimated by power iteration with
/// persistent vectors u and v (buffers, so checkpoints keep them).
///
/// As PyTorch's `nn.utils.parametrizations.spectral_norm`: u and v start as normalized Gaussian
/// vectors refined by 15 iterations; each forward pass in training mode runs one iteration
/// (`u ← normalize(W v)`, `v ← normalize(Wᵀ u)`) before computing `σ = uᵀ W v`; evaluation mode
/// runs none, so it is deterministic. σ is differentiated through W (u and v are constants),
/// and each pass uses copies of u and v, so `critic(real) − critic(fake)` back-propagates
/// through both passes although the second one moved the vectors.
public final class SpectralNorm: Module, UnaryLayer {
    public let layer: any SpectrallyNormalizable
    public let _u: Tensor
    public let _v: Tensor
    /// The floor of a vector's norm when normalizing (PyTorch's eps).
    public let epsilon: Float

    public init(_ layer: any SpectrallyNormalizable, initialIterations: Int = 15, epsilon: Float = 1e-12,
                generator: RandomGenerator = Random.initializer) {
        let (rows, columns) = SpectralNorm.matrixShape(layer.weight)
        self.layer = layer
        self.epsilon = epsilon
        _u = Tensor.randomNormal([rows], using: generator)
        _v = Tensor.randomNormal([columns], using: generator)
        super.init()
        _u.assign(normalized(_u))
        _v.assign(normalized(_v))
        powerIteration(count: initialIterations)
    }

    /// `[out, everything else]`: the matrix whose spectral norm is taken.
    static func matrixShape(_ weight: Tensor) -> (Int, Int) {
        require(weight.rank >= 2, "SpectralNorm: the weight \(weight.shape) must have at least two dimensions")
        return (weight.shape[0], weight.count / weight.shape[0])
    }

    private var matrix: Tensor {
        let (rows, columns) = SpectralNorm.matrixShape(layer.weight)
        return layer.weight.reshaped([rows, columns])
    }

    private func normalized(_ x: Tensor) -> Tensor { x / max(x.squared().sum().item.squareRoot(), epsilon) }

    /// Runs `count` power iterations, updating u and v in place (never recorded for gradients).
    public func powerIteration(count: Int = 1) {
        withoutGradients {
            let w = matrix
            for _ in 0..<count {
                _u.assign(normalized(w.matmul(_v.reshaped([-1, 1])).reshaped([-1])))
                _v.assign(normalized(w.matmul(_u.reshaped([-1, 1]), transposeA: true).reshaped([-1])))
            }
        }
    }

    /// σ = uᵀ W v with the current vectors: a scalar tensor, differentiable in W.
    public func sigma() -> Tensor {
        let u = _u.copy().reshaped([1, -1]), v = _v.copy().reshaped([-1, 1])
        return u.matmul(matrix).matmul(v).reshaped([])
    }

    /// W / σ with the current vectors.
    public var normalizedWeight: Tensor { layer.weight / sigma() }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        if isTraining { powerIteration() }
        return layer(input, weight: normalizedWeight)
    }

    /// A plain layer with the normalized weight baked in (for export or fast inference).
    public func baked() -> any SpectrallyNormalizable {
        layer.withWeight(withoutGradients { normalizedWeight })
    }
}
