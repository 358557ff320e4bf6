import Foundation

extension Kernels {
    /// Copies a strided view of `source` into a strided region of `target`.
    ///
    /// Element `i` (a multi-index over `shape`) moves from `sourceOffset + Σ i·sourceStrides` to
    /// `targetOffset + Σ i·targetStrides`. Permute, slice, concat and pad are all this one loop.
    static func stridedCopy(
        from source: UnsafePointer<Float>, sourceOffset: Int, sourceStrides: [Int],
        to target: UnsafeMutablePointer<Float>, targetOffset: Int, targetStrides: [Int],
        shape: [Int]
    ) {
        // Merge dimensions that are contiguous in both views, so the inner loop runs long.
        var dims: [(size: Int, source: Int, target: Int)] = []
        for axis in shape.indices where shape[axis] != 1 {
            if let last = dims.last, last.source == sourceStrides[axis] * shape[axis],
               last.target == targetStrides[axis] * shape[axis] {
                dims[dims.count - 1] = (last.size * shape[axis], sourceStrides[axis], targetStrides[axis])
            } else {
                dims.append((shape[axis], sourceStrides[axis], targetStrides[axis]))
            }
        }
        if shape.contains(0) { return }
        if dims.isEmpty { dims = [(1, 0, 0)] }
        let inner = dims.removeLast()
        let rows = dims.reduce(1) { $0 * $1.size }
        let src = source + sourceOffset, dst = target + targetOffset
        Threads.parallelFor(rows, costPerItem: inner.size) { range in
            for row in range {
                var rest = row, so = 0, to = 0
                for d in dims.reversed() {
                    let i = rest % d.size
                    rest /= d.size
                    so += i * d.source
                    to += i * d.target
                }
                let s = src + so, t = dst + to
                if inner.source == 1 && inner.target == 1 {
                    t.update(from: s, count: inner.size)
                } else {
                    for i in 0..<inner.size { t[i * inner.target] = s[i * inner.source] }
                }
            }
        }
    }

    /// Reorders the axes of `x`: result axis `i` is input axis `order[i]`.
    static func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
        let strides = Shape.strides(x.shape)
        let shape = order.map { x.shape[$0] }
        let result = Tensor(uninitializedShape: shape)
        stridedCopy(
            from: x.pointer, sourceOffset: 0, sourceStrides: order.map { strides[$0] },
            to: result.pointer, targetOffset: 0, targetStrides: Shape.strides(shape), shape: shape)
        return result
    }

    /// The elements `start, start + step, …` (`count` of them) along each axis.
    static func slice(_ x: Tensor, start: [Int], count: [Int], step: [Int]) -> Tensor {
        let strides = Shape.strides(x.shape)
        let offset = Swift.zip(start, strides).reduce(0) { $0 + $1.0 * $1.1 }
        let result = Tensor(uninitializedShape: count)
        stridedCopy(
            from: x.pointer, sourceOffset: offset, sourceStrides: Swift.zip(strides, step).map { $0 * $1 },
            to: result.pointer, targetOffset: 0, targetStrides: Shape.strides(count), shape: count)
        return result
    }

    /// A zero tensor of `shape` with `x` written at `start, start + step, …` (the adjoint of slice).
    static func unslice(_ x: Tensor, into shape: [Int], start: [Int], step: [Int]) -> Tensor {
        let result = Tensor(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), repeating: 0))
        let strides = Shape.strides(shape)
        let offset = Swift.zip(start, strides).reduce(0) { $0 + $1.0 * $1.1 }
        stridedCopy(
            from: x.pointer, sourceOffset: 0, sourceStrides: Shape.strides(x.shape),
            to: result.pointer, targetOffset: offset, targetStrides: Swift.zip(strides, step).map { $0 * $1 },
            shape: x.shape)
        return result
    }

    /// Joins tensors along `axis`.
    static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        var shape = parts[0].shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let result = Tensor(uninitializedShape: shape)
        let strides = Shape.strides(shape)
        var offset = 0
        for part in parts {
            stridedCopy(
                from: part.pointer, sourceOffset: 0, sourceStrides: Shape.strides(part.shape),
                to: result.pointer, targetOffset: offset * strides[axis], targetStrides: strides,
                shape: part.shape)
            offset += part.shape[axis]
        }
        return result
    }

    /// Rows `indices` of `x` along its first axis.
    static func gatherRows(_ x: Tensor, _ indices: [Int]) -> Tensor {
        let rowSize = x.shape.dropFirst().reduce(1, *)
        let result = Tensor(uninitializedShape: [indices.count] + x.shape.dropFirst())
        let source = x.pointer, target = result.pointer
        for (row, index) in indices.enumerated() {
            (target + row * rowSize).update(from: source + index * rowSize, count: rowSize)
        }
        return result
    }

    /// Adds the rows of `x` into a zero tensor of `rows` rows at `indices` (the adjoint of gather).
    static func scatterAddRows(_ x: Tensor, _ indices: [Int], rows: Int) -> Tensor {
        let rowSize = x.shape.dropFirst().reduce(1, *)
        let shape = [rows] + x.shape.dropFirst()
        let result = Tensor(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), repeating: 0))
        let source = x.pointer, target = result.pointer
        for (row, index) in indices.enumerated() {
            let t = target + index * rowSize, s = source + row * rowSize
            for i in 0..<rowSize { t[i] += s[i] }
        }
        return result
    }
}
