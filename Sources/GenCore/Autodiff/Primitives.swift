import Foundation

// The differentiable primitives: each computes its value with a kernel and records its
// vector-Jacobian product (the pullback from the output's gradient to the inputs' gradients).
// Every other differentiable operation in gen is composed from these, so this file is the
// whole table of derivatives.

// MARK: - Element-wise arithmetic with broadcasting

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let y = Kernels.zip(a, b, AddKernel(), op: "add")
        return record(y, inputs: [a, b]) { g in [g.summed(toShape: a.shape), g.summed(toShape: b.shape)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let y = Kernels.zip(a, b, SubtractKernel(), op: "subtract")
        return record(y, inputs: [a, b]) { g in
            [g.summed(toShape: a.shape), Kernels.map(g, NegateKernel()).summed(toShape: b.shape)]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let y = Kernels.zip(a, b, MultiplyKernel(), op: "multiply")
        return record(y, inputs: [a, b]) { g in
            [Kernels.zip(g, b, MultiplyKernel(), op: "multiply").summed(toShape: a.shape),
             Kernels.zip(g, a, MultiplyKernel(), op: "multiply").summed(toShape: b.shape)]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let y = Kernels.zip(a, b, DivideKernel(), op: "divide")
        return record(y, inputs: [a, b]) { g in
            let ga = Kernels.zip(g, b, DivideKernel(), op: "divide")
            // d(a/b)/db = −a/b² = −y/b
            let gb = Kernels.map(Kernels.zip(Kernels.zip(g, y, MultiplyKernel(), op: "divide"), b, DivideKernel(), op: "divide"), NegateKernel())
            return [ga.summed(toShape: a.shape), gb.summed(toShape: b.shape)]
        }
    }

    /// `self` raised to `exponent` element-wise (broadcasting). The base must be positive where
    /// the exponent's gradient is needed.
    public func pow(_ exponent: Tensor) -> Tensor {
        let base = self
        let y = Kernels.zip(base, exponent, PowKernel(), op: "pow")
        return record(y, inputs: [base, exponent]) { g in
            // d/da aᵇ = b·aᵇ⁻¹, d/db aᵇ = aᵇ·log a
            let gb = Kernels.zip(Kernels.zip(g, y, MultiplyKernel(), op: "pow"), Kernels.map(base, LogKernel()), MultiplyKernel(), op: "pow")
            let ga = Kernels.zip(Kernels.zip(g, exponent, MultiplyKernel(), op: "pow"),
                                 Kernels.zip(base, Kernels.map(exponent, AffineKernel(scale: 1, shift: -1)), PowKernel(), op: "pow"),
                                 MultiplyKernel(), op: "pow")
            return [ga.summed(toShape: base.shape), gb.summed(toShape: exponent.shape)]
        }
    }

    /// The larger of the two, element-wise; ties send the gradient to `self`.
    public func maximum(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        let y = Kernels.zip(a, b, MaximumKernel(), op: "maximum")
        return record(y, inputs: [a, b]) { g in
            let mask = Kernels.zip(a, b, CompareKernel(relation: .greaterOrEqual), op: "maximum")
            let ga = Kernels.zip(g, mask, MultiplyKernel(), op: "maximum")
            let gb = Kernels.zip(g, ga, SubtractKernel(), op: "maximum")
            return [ga.summed(toShape: a.shape), gb.summed(toShape: b.shape)]
        }
    }

    /// The smaller of the two, element-wise; ties send the gradient to `self`.
    public func minimum(_ other: Tensor) -> Tensor {
        let (a, b) = (self, other)
        let y = Kernels.zip(a, b, MinimumKernel(), op: "minimum")
        return record(y, inputs: [a, b]) { g in
            let mask = Kernels.zip(a, b, CompareKernel(relation: .lessOrEqual), op: "minimum")
            let ga = Kernels.zip(g, mask, MultiplyKernel(), op: "minimum")
            let gb = Kernels.zip(g, ga, SubtractKernel(), op: "minimum")
            return [ga.summed(toShape: a.shape), gb.summed(toShape: b.shape)]
        }
    }

    /// `self · scale + shift`, the primitive behind arithmetic with a scalar.
    public func affine(scale: Float, shift: Float = 0) -> Tensor {
        let y = Kernels.map(self, AffineKernel(scale: scale, shift: shift))
        return record(y, inputs: [self]) { g in [Kernels.map(g, AffineKernel(scale: scale, shift: 0))] }
    }

    /// Picks `self` where `condition` is non-zero and `other` elsewhere (same shapes). The
    /// condition is not differentiated.
    public func selecting(where condition: Tensor, else other: Tensor) -> Tensor {
        require(condition.shape == shape && other.shape == shape,
                "where: condition \(condition.shape), values \(shape) and \(other.shape) must have one shape")
        let y = Kernels.zip3(condition, self, other) { c, a, b in c != 0 ? a : b }
        return record(y, inputs: [self, other]) { g in
            let zeros = Tensor.zeros(g.shape)
            return [Kernels.zip3(condition, g, zeros) { c, a, b in c != 0 ? a : b },
                    Kernels.zip3(condition, zeros, g) { c, a, b in c != 0 ? a : b }]
        }
    }
}

// MARK: - Element-wise functions

extension Tensor {
    public static prefix func - (x: Tensor) -> Tensor {
        let y = Kernels.map(x, NegateKernel())
        return record(y, inputs: [x]) { g in [Kernels.map(g, NegateKernel())] }
    }

    /// eˣ element-wise.
    public func exp() -> Tensor {
        let y = Kernels.map(self, FastExpKernel())
        return record(y, inputs: [self]) { g in [Kernels.zip(g, y, MultiplyKernel(), op: "exp")] }
    }

    /// The natural logarithm element-wise.
    public func log() -> Tensor {
        let x = self
        let y = Kernels.map(x, LogKernel())
        return record(y, inputs: [x]) { g in [Kernels.zip(g, x, DivideKernel(), op: "log")] }
    }

    /// The square root element-wise.
    public func sqrt() -> Tensor {
        let y = Kernels.map(self, SqrtKernel())
        return record(y, inputs: [self]) { g in
            [Kernels.zip(g, Kernels.map(y, AffineKernel(scale: 2, shift: 0)), DivideKernel(), op: "sqrt")]
        }
    }

    /// `self` raised to a constant power element-wise.
    public func pow(_ exponent: Float) -> Tensor {
        let x = self
        let y = Kernels.map(x, PowScalarKernel(exponent: exponent))
        return record(y, inputs: [x]) { g in
            let slope = exponent == 2 ? Kernels.map(x, AffineKernel(scale: 2, shift: 0))
                : Kernels.map(Kernels.map(x, PowScalarKernel(exponent: exponent - 1)), AffineKernel(scale: exponent, shift: 0))
            return [Kernels.zip(g, slope, MultiplyKernel(), op: "pow")]
        }
    }

    /// |x| element-wise; the gradient at 0 is 0.
    public func abs() -> Tensor {
        let x = self
        let y = Kernels.map(x, AbsKernel())
        return record(y, inputs: [x]) { g in [Kernels.zip(g, Kernels.map(x, SignKernel()), MultiplyKernel(), op: "abs")] }
    }

    /// Limits every element to `low...high`; the gradient passes where the element was inside.
    public func clamped(_ low: Float = -.infinity, _ high: Float = .infinity) -> Tensor {
        let x = self
        let y = Kernels.map(x, ClampKernel(low: low, high: high))
        return record(y, inputs: [x]) { g in
            [Kernels.zip(g, Kernels.map(x, InsideKernel(low: low, high: high)), MultiplyKernel(), op: "clamp")]
        }
    }

    /// The hyperbolic tangent element-wise.
    public func tanh() -> Tensor {
        let y = Kernels.map(self, TanhKernel())
        return record(y, inputs: [self]) { g in
            [Kernels.zip(g, y, TanhGradient(), op: "tanh")]
        }
    }

    /// The logistic sigmoid 1 / (1 + e⁻ˣ) element-wise.
    public func sigmoid() -> Tensor {
        let y = Kernels.map(self, FastSigmoidKernel())
        return record(y, inputs: [self]) { g in [Kernels.zip(g, y, SigmoidGradient(), op: "sigmoid")] }
    }

    /// max(x, 0) element-wise; the gradient at 0 is 0.
    public func relu() -> Tensor {
        let x = self
        let y = Kernels.map(x, ReLUKernel())
        return record(y, inputs: [x]) { g in [Kernels.zip(g, x, LeakyReLUGradient(slope: 0), op: "relu")] }
    }

    /// Leaky ReLU: x for x > 0, `slope`·x otherwise, in one pass each way; the gradient at 0
    /// is `slope`, as PyTorch's.
    public func leakyReLU(slope: Float = 0.01) -> Tensor {
        let x = self
        let y = Kernels.map(x, LeakyReLUKernel(slope: slope))
        return record(y, inputs: [x]) { g in [Kernels.zip(g, x, LeakyReLUGradient(slope: slope), op: "leakyReLU")] }
    }

    /// SiLU (swish) x·σ(x) element-wise, fused: one pass forward, one backward.
    public func silu() -> Tensor {
        let x = self
        let y = Kernels.silu(x)
        return record(y, inputs: [x]) { g in [Kernels.siluGradient(g, x)] }
    }

    /// The sine element-wise.
    public func sin() -> Tensor {
        let x = self
        let y = Kernels.map(x, SinKernel())
        return record(y, inputs: [x]) { g in [Kernels.zip(g, Kernels.map(x, CosKernel()), MultiplyKernel(), op: "sin")] }
    }

    /// The cosine element-wise.
    public func cos() -> Tensor {
        let x = self
        let y = Kernels.map(x, CosKernel())
        return record(y, inputs: [x]) { g in
            [Kernels.map(Kernels.zip(g, Kernels.map(x, SinKernel()), MultiplyKernel(), op: "cos"), NegateKernel())]
        }
    }

    /// The error function element-wise.
    public func erf() -> Tensor {
        let x = self
        let y = Kernels.map(x, ErfKernel())
        return record(y, inputs: [x]) { g in [Kernels.zip(g, x, ErfGradient(), op: "erf")] }
    }
}

private struct TanhGradient: BinaryKernel {
    @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) }
}
private struct SigmoidGradient: BinaryKernel {
    @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) }
}
private struct ErfKernel: UnaryKernel {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.erf(x) }
}
private struct ErfGradient: BinaryKernel {
    @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { g * 1.1283791670955126 * expf(-x * x) }
}

// MARK: - Normalization

extension Tensor {
    /// Group normalization of `[N, C, …]` (Wu & He 2018) with per-channel `weight` and `bias`
    /// `[C]`, fused into one pass forward and one backward (a primitive for speed; its gradient
    /// is checked against finite differences and PyTorch like every other).
    public func groupNormalized(groups: Int, weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
        let x = self
        require(rank >= 2 && groups >= 1 && shape[1] % groups == 0 && weight.shape == [shape[1]] && bias.shape == [shape[1]],
                "groupNorm: input \(shape), \(groups) groups, weight \(weight.shape) and bias \(bias.shape) do not fit")
        let (y, statistics) = Kernels.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon)
        return record(y, inputs: [x, weight, bias]) { g in
            let (dx, dWeight, dBias) = Kernels.groupNormBackward(g, x, groups: groups, weight: weight, statistics: statistics)
            return [dx, dWeight, dBias]
        }
    }
}

// MARK: - Reductions

extension Tensor {
    /// The sum over `axes` (all axes when empty).
    /// - Parameter keepingDimensions: keep the reduced axes as size 1 instead of removing them.
    public func sum(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        let resolved = Shape.axes(axes, rank: rank, op: "sum")
        let kept = Kernels.reduce(self, axes: resolved, .sum)
        let y = keepingDimensions ? kept : Tensor(shape: Self.removing(resolved, from: shape), storage: kept.storage)
        let inputShape = shape
        return record(y, inputs: [self]) { g in
            [Tensor(shape: kept.shape, storage: g.storage).broadcastKernel(to: inputShape)]
        }
    }

    /// The maximum over `axes` (all axes when empty). The gradient is shared equally among tied
    /// maxima, like PyTorch's `amax`.
    public func max(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        let x = self
        let resolved = Shape.axes(axes, rank: rank, op: "max")
        let kept = Kernels.reduce(x, axes: resolved, .max)
        let y = keepingDimensions ? kept : Tensor(shape: Self.removing(resolved, from: shape), storage: kept.storage)
        return record(y, inputs: [x]) { g in
            let winners = Kernels.zip(x, kept, CompareKernel(relation: .equal), op: "max")
            let ties = Kernels.reduce(winners, axes: resolved, .sum)
            let share = Kernels.zip(Tensor(shape: kept.shape, storage: g.storage), ties, DivideKernel(), op: "max")
            return [Kernels.zip(winners, share, MultiplyKernel(), op: "max")]
        }
    }

    static func removing(_ axes: [Int], from shape: [Int]) -> [Int] {
        shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }
}

// MARK: - Layout

extension Tensor {
    /// The same elements with another shape; one dimension may be `-1` (inferred). Shares memory.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var newShape = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            require(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            newShape[inferred] = count / known
        }
        require(newShape.allSatisfy { $0 >= 0 } && newShape.reduce(1, *) == count,
                "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        let inputShape = shape
        let y = Tensor(shape: newShape, storage: storage)
        return record(y, inputs: [self]) { g in [Tensor(shape: inputShape, storage: g.storage)] }
    }

    /// Reorders the axes: axis `i` of the result is axis `order[i]` of `self`.
    public func permuted(_ order: [Int]) -> Tensor {
        let resolved = order.map { Shape.axis($0, rank: rank, op: "permute") }
        require(resolved.count == rank && Set(resolved).count == rank,
                "permute: \(order) is not a permutation of the \(rank) axes of \(shape)")
        let y = Kernels.permute(self, resolved)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, axis) in resolved.enumerated() { inverse[axis] = i }
        return record(y, inputs: [self]) { g in [Kernels.permute(g, inverse)] }
    }

    /// Elements `start, start + step, …` (`count` of them) along every axis.
    public func slice(start: [Int], count: [Int], step: [Int]? = nil) -> Tensor {
        let step = step ?? [Int](repeating: 1, count: rank)
        require(start.count == rank && count.count == rank && step.count == rank,
                "slice: start \(start), count \(count), step \(step) must each have \(rank) entries for \(shape)")
        for axis in 0..<rank {
            require(start[axis] >= 0 && count[axis] >= 0 && step[axis] >= 1
                    && (count[axis] == 0 || start[axis] + (count[axis] - 1) * step[axis] < shape[axis]),
                    "slice: start \(start), count \(count), step \(step) exceed shape \(shape)")
        }
        let inputShape = shape
        let y = Kernels.slice(self, start: start, count: count, step: step)
        return record(y, inputs: [self]) { g in [Kernels.unslice(g, into: inputShape, start: start, step: step)] }
    }

    /// Pads every axis with a constant: `padding[i] = (before, after)` elements on axis `i`.
    public func padded(_ padding: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        require(padding.count == rank && padding.allSatisfy { $0.before >= 0 && $0.after >= 0 },
                "pad: padding \(padding) must give (before, after) ≥ 0 for each of the \(rank) axes of \(shape)")
        let newShape = zip(shape, padding).map { $0 + $1.before + $1.after }
        let start = padding.map(\.before)
        let y = Tensor(shape: newShape, storage: TensorStorage(count: newShape.reduce(1, *), repeating: value))
        let strides = Shape.strides(newShape)
        Kernels.stridedCopy(
            from: pointer, sourceOffset: 0, sourceStrides: Shape.strides(shape),
            to: y.pointer, targetOffset: zip(start, strides).reduce(0) { $0 + $1.0 * $1.1 },
            targetStrides: strides, shape: shape)
        let inputShape = shape
        return record(y, inputs: [self]) { g in [Kernels.slice(g, start: start, count: inputShape, step: [Int](repeating: 1, count: inputShape.count))] }
    }

    /// Joins tensors along `axis`; every other dimension must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        require(!parts.isEmpty, "concat: needs at least one tensor")
        let rank = parts[0].rank
        let axis = Shape.axis(axis, rank: rank, op: "concat")
        for part in parts {
            require(part.rank == rank && (0..<rank).allSatisfy { $0 == axis || part.shape[$0] == parts[0].shape[$0] },
                    "concat: shapes \(parts.map(\.shape)) differ outside axis \(axis)")
        }
        let y = Kernels.concat(parts, axis: axis)
        return record(y, inputs: parts) { g in
            var offset = 0
            return parts.map { part in
                var start = [Int](repeating: 0, count: rank)
                start[axis] = offset
                offset += part.shape[axis]
                return Kernels.slice(g, start: start, count: part.shape, step: [Int](repeating: 1, count: rank))
            }
        }
    }

    /// `self` repeated along size-1 (or missing leading) axes to `shape`.
    public func broadcast(to shape: [Int]) -> Tensor {
        require(Shape.broadcast(self.shape, shape) == shape, "broadcast: cannot broadcast \(self.shape) to \(shape)")
        let inputShape = self.shape
        let y = broadcastKernel(to: shape)
        return record(y, inputs: [self]) { g in [g.summed(toShape: inputShape)] }
    }

    /// Rows `indices` along the first axis (indexing a batch, embedding look-up).
    public func gathering(rows indices: [Int]) -> Tensor {
        require(rank >= 1 && indices.allSatisfy { $0 >= 0 && $0 < shape[0] },
                "gather: indices out of range for first axis of \(shape)")
        let rows = shape[0]
        let y = Kernels.gatherRows(self, indices)
        return record(y, inputs: [self]) { g in [Kernels.scatterAddRows(g, indices, rows: rows)] }
    }

    /// Sums a broadcast gradient back down to `target` (the adjoint of broadcasting).
    func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let extra = rank - target.count
        var axes = Array(0..<extra)
        for (i, size) in target.enumerated() where size == 1 && shape[i + extra] != 1 { axes.append(i + extra) }
        let reduced = Kernels.reduce(self, axes: axes, .sum)
        return Tensor(shape: target, storage: reduced.storage)
    }

    /// Materializes a broadcast without recording.
    func broadcastKernel(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let result = Tensor(uninitializedShape: target)
        Kernels.stridedCopy(
            from: pointer, sourceOffset: 0, sourceStrides: Shape.broadcastStrides(shape, to: target),
            to: result.pointer, targetOffset: 0, targetStrides: Shape.strides(target), shape: target)
        return result
    }
}

// MARK: - Matrix products

extension Tensor {
    /// The matrix product over the last two axes, broadcasting leading batch axes:
    /// `[…, m, k] × […, k, n] → […, m, n]`. `transposeA`/`transposeB` read an operand's last two
    /// axes swapped without copying it.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        let (a, b) = (self, other)
        let y = Kernels.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        return record(y, inputs: [a, b]) { g, wanted in
            // C = AB: dA = G·Bᵀ, dB = Aᵀ·G, with the transposes folded into the flags.
            let ga = !wanted[0] ? nil : transposeA
                ? Kernels.matmul(b, g, transposeA: transposeB, transposeB: true)
                : Kernels.matmul(g, b, transposeA: false, transposeB: !transposeB)
            let gb = !wanted[1] ? nil : transposeB
                ? Kernels.matmul(g, a, transposeA: true, transposeB: transposeA)
                : Kernels.matmul(a, g, transposeA: !transposeA, transposeB: false)
            return [ga?.summed(toShape: a.shape), gb?.summed(toShape: b.shape)]
        }
    }
}

// MARK: - Convolution, pooling, upsampling

extension Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch): `[N, C, H, W]` with weight
    /// `[O, C / groups, kh, kw]` and optional bias `[O]` gives `[N, O, OH, OW]`,
    /// `OH = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1`.
    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        let input = self
        require(rank == 4 && weight.rank == 4, "conv2d: input \(shape) and weight \(weight.shape) must be rank 4")
        require(groups >= 1 && shape[1] % groups == 0 && weight.shape[0] % groups == 0 && weight.shape[1] * groups == shape[1],
                "conv2d: input \(shape), weight \(weight.shape) and groups \(groups) do not agree on channels")
        require(bias == nil || bias!.shape == [weight.shape[0]], "conv2d: bias \(bias?.shape ?? []) must be [\(weight.shape[0])]")
        let g = ConvGeometry(
            batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
            outChannels: weight.shape[0],
            outHeight: (shape[2] + 2 * padding.0 - dilation.0 * (weight.shape[2] - 1) - 1) / stride.0 + 1,
            outWidth: (shape[3] + 2 * padding.1 - dilation.1 * (weight.shape[3] - 1) - 1) / stride.1 + 1,
            kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
            strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1,
            dilationH: dilation.0, dilationW: dilation.1, groups: groups)
        require(g.outHeight >= 1 && g.outWidth >= 1 && stride.0 >= 1 && stride.1 >= 1,
                "conv2d: kernel \(weight.shape) does not fit input \(shape) with padding \(padding)")
        let y = Kernels.convolve(input, weight, bias: bias, g)
        return record(y, inputs: bias.map { [input, weight, $0] } ?? [input, weight]) { gradient, wanted in
            [wanted[0] ? Kernels.convolveBackwardInput(gradient, weight, g) : nil,
             wanted[1] ? Kernels.convolveBackwardWeight(input, gradient, g) : nil,
             bias != nil && wanted[2] ? Kernels.sumPerChannel(gradient) : nil]
        }
    }

    /// 2-D transposed convolution (PyTorch `conv_transpose2d`): `[N, C, H, W]` with weight
    /// `[C, O / groups, kh, kw]` gives `[N, O, OH, OW]`,
    /// `OH = (H − 1)·stride − 2·padding + dilation·(kh − 1) + outputPadding + 1`.
    public func convTranspose2d(
        weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        let input = self
        require(rank == 4 && weight.rank == 4, "convTranspose2d: input \(shape) and weight \(weight.shape) must be rank 4")
        require(groups >= 1 && weight.shape[0] == shape[1] && shape[1] % groups == 0,
                "convTranspose2d: input \(shape), weight \(weight.shape) and groups \(groups) do not agree on channels")
        let outChannels = weight.shape[1] * groups
        require(bias == nil || bias!.shape == [outChannels], "convTranspose2d: bias \(bias?.shape ?? []) must be [\(outChannels)]")
        require(outputPadding.0 < Swift.max(stride.0, dilation.0) && outputPadding.1 < Swift.max(stride.1, dilation.1),
                "convTranspose2d: output padding \(outputPadding) must be smaller than stride or dilation")
        let outHeight = (shape[2] - 1) * stride.0 - 2 * padding.0 + dilation.0 * (weight.shape[2] - 1) + outputPadding.0 + 1
        let outWidth = (shape[3] - 1) * stride.1 - 2 * padding.1 + dilation.1 * (weight.shape[3] - 1) + outputPadding.1 + 1
        require(outHeight >= 1 && outWidth >= 1, "convTranspose2d: output of input \(shape) would be empty")
        // The convolution whose input gradient this layer computes: its input is our output.
        let g = ConvGeometry(
            batch: shape[0], inChannels: outChannels, height: outHeight, width: outWidth,
            outChannels: shape[1], outHeight: shape[2], outWidth: shape[3],
            kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
            strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1,
            dilationH: dilation.0, dilationW: dilation.1, groups: groups)
        let y = Kernels.convolveBackwardInput(input, weight, g)
        if let bias { Kernels.addChannelBias(y, bias) }
        return record(y, inputs: bias.map { [input, weight, $0] } ?? [input, weight]) { gradient, wanted in
            [wanted[0] ? Kernels.convolve(gradient, weight, bias: nil, g) : nil,
             wanted[1] ? Kernels.convolveBackwardWeight(gradient, input, g) : nil,
             bias != nil && wanted[2] ? Kernels.sumPerChannel(gradient) : nil]
        }
    }

    /// Average pooling of `[N, C, H, W]` over `kernel` windows; zero padding counts in the average.
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let p = poolGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding, op: "avgPool2d")
        let inputShape = shape
        let y = Kernels.averagePool(self, p)
        return record(y, inputs: [self]) { g in [Kernels.averagePoolBackward(g, p, inputShape: inputShape)] }
    }

    /// Max pooling of `[N, C, H, W]` over `kernel` windows.
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let p = poolGeometry(kernel: kernel, stride: stride ?? kernel, padding: padding, op: "maxPool2d")
        let inputShape = shape
        let (y, winners) = Kernels.maxPool(self, p)
        return record(y, inputs: [self]) { g in [Kernels.maxPoolBackward(g, winners: winners, inputShape: inputShape)] }
    }

    /// Nearest-neighbour upsampling of `[N, C, H, W]` by integer factors.
    public func upsampleNearest(scale: (Int, Int) = (2, 2)) -> Tensor {
        require(rank == 4 && scale.0 >= 1 && scale.1 >= 1, "upsampleNearest: needs [N, C, H, W] and scale ≥ 1, got \(shape), \(scale)")
        let y = Kernels.upsampleNearest(self, scaleH: scale.0, scaleW: scale.1)
        return record(y, inputs: [self]) { g in [Kernels.upsampleNearestBackward(g, scaleH: scale.0, scaleW: scale.1)] }
    }

    private func poolGeometry(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), op: String) -> PoolGeometry {
        require(rank == 4, "\(op): input \(shape) must be [N, C, H, W]")
        let p = PoolGeometry(kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                             padH: padding.0, padW: padding.1, height: shape[2], width: shape[3])
        require(kernel.0 >= 1 && kernel.1 >= 1 && stride.0 >= 1 && stride.1 >= 1
                && padding.0 * 2 <= kernel.0 && padding.1 * 2 <= kernel.1 && p.outHeight >= 1 && p.outWidth >= 1,
                "\(op): kernel \(kernel), stride \(stride), padding \(padding) do not fit input \(shape)")
        return p
    }
}
