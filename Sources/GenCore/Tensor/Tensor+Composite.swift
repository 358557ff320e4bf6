import Foundation

// Operations composed from the primitives in `Autodiff/Primitives.swift`: they need no
// derivative of their own.

// MARK: - Arithmetic with scalars

extension Tensor {
    public static func + (a: Tensor, b: Float) -> Tensor { a.affine(scale: 1, shift: b) }
    public static func + (a: Float, b: Tensor) -> Tensor { b.affine(scale: 1, shift: a) }
    public static func - (a: Tensor, b: Float) -> Tensor { a.affine(scale: 1, shift: -b) }
    public static func - (a: Float, b: Tensor) -> Tensor { b.affine(scale: -1, shift: a) }
    public static func * (a: Tensor, b: Float) -> Tensor { a.affine(scale: b) }
    public static func * (a: Float, b: Tensor) -> Tensor { b.affine(scale: a) }
    public static func / (a: Tensor, b: Float) -> Tensor { a.affine(scale: 1 / b) }
    public static func / (a: Float, b: Tensor) -> Tensor { Tensor.full(b.shape, a) / b }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func *= (a: inout Tensor, b: Float) { a = a * b }

    /// The element-wise square.
    public func squared() -> Tensor { pow(2) }
}

// MARK: - Comparisons (not differentiable: they give 0/1 masks)

extension Tensor {
    private func compare(_ other: Tensor, _ relation: CompareKernel.Relation) -> Tensor {
        Kernels.zip(self, other, CompareKernel(relation: relation), op: "compare")
    }
    /// 1 where `self < other`, else 0 (broadcasting).
    public func less(_ other: Tensor) -> Tensor { compare(other, .less) }
    /// 1 where `self ≤ other`, else 0.
    public func lessOrEqual(_ other: Tensor) -> Tensor { compare(other, .lessOrEqual) }
    /// 1 where `self > other`, else 0.
    public func greater(_ other: Tensor) -> Tensor { compare(other, .greater) }
    /// 1 where `self ≥ other`, else 0.
    public func greaterOrEqual(_ other: Tensor) -> Tensor { compare(other, .greaterOrEqual) }
    /// 1 where `self == other`, else 0.
    public func equal(_ other: Tensor) -> Tensor { compare(other, .equal) }
    /// 1 where `self > value`, else 0.
    public func greater(_ value: Float) -> Tensor { compare(Tensor(value), .greater) }
    /// 1 where `self < value`, else 0.
    public func less(_ value: Float) -> Tensor { compare(Tensor(value), .less) }

    /// `a` where `condition` is non-zero, `b` elsewhere; `a` and `b` broadcast to `condition`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        a.broadcast(to: condition.shape).selecting(where: condition, else: b.broadcast(to: condition.shape))
    }

    /// Whether every element is finite.
    public var isFinite: Bool {
        withUnsafeBufferPointer { buffer in buffer.allSatisfy { $0.isFinite } }
    }
}

// MARK: - Reductions

extension Tensor {
    /// The mean over `axes` (all axes when empty).
    public func mean(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        let resolved = Shape.axes(axes, rank: rank, op: "mean")
        let n = resolved.reduce(1) { $0 * shape[$1] }
        return sum(axes: resolved, keepingDimensions: keepingDimensions) * (1 / Float(Swift.max(n, 1)))
    }

    /// The minimum over `axes` (all axes when empty): `−max(−x)`, so the gradient is shared
    /// among tied minima as ``max(axes:keepingDimensions:)`` shares it among maxima.
    public func min(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        -(-self).max(axes: axes, keepingDimensions: keepingDimensions)
    }

    /// The (biased, divide-by-n) variance over `axes`.
    public func variance(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        let centered = self - mean(axes: axes, keepingDimensions: true)
        return centered.squared().mean(axes: axes, keepingDimensions: keepingDimensions)
    }

    /// log Σ exp over `axes`, computed stably by subtracting the maximum first.
    public func logSumExp(axes: [Int] = [], keepingDimensions: Bool = false) -> Tensor {
        let resolved = Shape.axes(axes, rank: rank, op: "logSumExp")
        // The shift is a constant: the result does not depend on it, so no gradient flows through it.
        let shift = Kernels.reduce(self, axes: resolved, .max)
        let safeShift = Kernels.map(shift, FiniteOrZero())
        let kept = (self - safeShift).exp().sum(axes: resolved, keepingDimensions: true).log() + safeShift
        return keepingDimensions ? kept : kept.reshaped(Self.removing(resolved, from: shape))
    }

    /// Softmax along `axis`.
    public func softmax(axis: Int = -1) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "softmax")
        let shift = Kernels.reduce(self, axes: [axis], .max)
        let e = (self - Kernels.map(shift, FiniteOrZero())).exp()
        return e / e.sum(axes: [axis], keepingDimensions: true)
    }

    /// log softmax along `axis`.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        self - logSumExp(axes: [axis], keepingDimensions: true)
    }
}

private struct FiniteOrZero: UnaryKernel {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x.isFinite ? x : 0 }
}

// MARK: - Activations

extension Tensor {
    /// GELU with the exact error function (PyTorch's default): x·Φ(x).
    public func gelu() -> Tensor { self * ((self * Float(1 / 2.0.squareRoot())).erf() + 1) * 0.5 }

    /// Softplus log(1 + eˣ), written as max(x, 0) + log(1 + e^−|x|) to stay finite.
    public func softplus() -> Tensor { relu() + ((-self.abs()).exp() + 1).log() }

    /// log σ(x), stable for large |x|.
    public func logSigmoid() -> Tensor { -(-self).softplus() }
}

// MARK: - Layout conveniences

extension Tensor {
    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let a = Shape.axis(a, rank: rank, op: "transpose"), b = Shape.axis(b, rank: rank, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Flattens axes from `startAxis` on into one: `[N, C, H, W] → [N, C·H·W]` by default.
    public func flattened(from startAxis: Int = 1) -> Tensor {
        let start = Shape.axis(startAxis, rank: rank, op: "flatten")
        return reshaped(Array(shape[..<start]) + [shape[start...].reduce(1, *)])
    }

    /// Inserts a size-1 axis at `axis`.
    public func expandingDimension(at axis: Int) -> Tensor {
        let axis = axis < 0 ? axis + rank + 1 : axis
        require(axis >= 0 && axis <= rank, "expandingDimension: axis \(axis) out of range for \(shape)")
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(newShape)
    }

    /// Removes a size-1 axis.
    public func squeezingDimension(at axis: Int) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "squeeze")
        require(shape[axis] == 1, "squeeze: axis \(axis) of \(shape) is not of size 1")
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(newShape)
    }

    /// `count` elements along `axis` from `start`.
    public func slice(axis: Int, start: Int, count: Int, step: Int = 1) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "slice")
        var starts = [Int](repeating: 0, count: rank), counts = shape, steps = [Int](repeating: 1, count: rank)
        starts[axis] = start
        counts[axis] = count
        steps[axis] = step
        return slice(start: starts, count: counts, step: steps)
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let axis = Shape.axis(axis, rank: rank, op: "split")
        require(sizes.reduce(0, +) == shape[axis], "split: sizes \(sizes) do not add up to axis \(axis) of \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: axis, start: start, count: size)
        }
    }

    /// Splits along `axis` into `parts` equal pieces.
    public func chunked(_ parts: Int, axis: Int = 0) -> [Tensor] {
        let axis = Shape.axis(axis, rank: rank, op: "chunk")
        require(parts >= 1 && shape[axis] % parts == 0, "chunk: axis \(axis) of \(shape) does not split into \(parts)")
        return split(sizes: [Int](repeating: shape[axis] / parts, count: parts), axis: axis)
    }

    /// The rows `indices` of a batch: `x[indices]` along the first axis.
    public subscript(rows indices: [Int]) -> Tensor { gathering(rows: indices) }

    /// One sample of a batch, keeping the batch axis: `x[i:i+1]`.
    public func sample(_ index: Int) -> Tensor { slice(axis: 0, start: index, count: 1) }
}

// MARK: - Creation

extension Tensor {
    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }

    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    /// A tensor with every element `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        require(shape.allSatisfy { $0 >= 0 }, "full: negative dimension in \(shape)")
        return Tensor(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), repeating: value))
    }

    /// `start, start + step, …` below `end`.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        require(step != 0, "arange: step must not be zero")
        let count = Swift.max(0, Int((Double(end - start) / Double(step)).rounded(.up)))
        return Tensor((0..<count).map { start + Float($0) * step })
    }

    /// `count` evenly spaced values from `start` to `end` inclusive.
    public static func linspace(_ start: Float, _ end: Float, count: Int) -> Tensor {
        require(count >= 0, "linspace: negative count \(count)")
        if count == 1 { return Tensor([start]) }
        let step = (Double(end) - Double(start)) / Double(count - 1)
        return Tensor((0..<count).map { Float(Double(start) + Double($0) * step) })
    }

    /// A one-hot encoding: `[labels.count, classes]` with a 1 at each label.
    public static func oneHot(_ labels: [Int], classes: Int) -> Tensor {
        require(labels.allSatisfy { $0 >= 0 && $0 < classes }, "oneHot: labels out of range 0..<\(classes)")
        let result = Tensor.zeros([labels.count, classes])
        for (row, label) in labels.enumerated() { result.pointer[row * classes + label] = 1 }
        return result
    }

    /// Samples from the standard normal distribution (or N(mean, std²)).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, using generator: RandomGenerator) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.withUnsafeMutableBufferPointer { generator.fillNormal($0, mean: mean, std: std) }
        return result
    }

    /// Samples uniformly from `[low, high)`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, using generator: RandomGenerator) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.withUnsafeMutableBufferPointer { generator.fillUniform($0, low: low, high: high) }
        return result
    }
}

extension Tensor {
    /// `body` applied to slices of at most `size` rows along axis 0, the results concatenated:
    /// memory bounded by the slice for any number of rows.
    public func mapBatches(_ size: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        require(size >= 1 && rank >= 1, "mapBatches: needs a batch size of at least 1 and a tensor of rank at least 1")
        let rows = shape[0]
        guard rows > size else { return body(self) }
        return Tensor.concatenate(stride(from: 0, to: rows, by: size).map { body(slice(axis: 0, start: $0, count: Swift.min(size, rows - $0))) }, axis: 0)
    }
}
