/// An n-dimensional array of `Float` in contiguous row-major order.
///
/// Images are `[batch, channels, height, width]`. A `Tensor` is a value: operations return new
/// tensors and never change their inputs. Two tensors may share memory when one is a reshaped
/// view of the other, or when both were read from the same module parameter.
///
/// While a gradient tape records (see ``valueAndGrad(_:_:)``), each tensor produced by a
/// differentiable operation remembers how it was made so that gradients can flow back to it.
///
/// ```swift
/// let images = Tensor.randomNormal([8, 1, 28, 28], using: rng)
/// let brightness = images.mean(axes: [1, 2, 3])      // [8]
/// ```
public struct Tensor: @unchecked Sendable {
    /// The size of each dimension; `[]` is a scalar.
    public let shape: [Int]
    let storage: TensorStorage
    /// How this tensor was made, while a tape records.
    var node: TapeNode?

    init(shape: [Int], storage: TensorStorage, node: TapeNode? = nil) {
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// Creates a tensor from `scalars` in row-major order.
    public init(_ scalars: [Float], shape: [Int]) {
        let count = shape.reduce(1, *)
        require(
            shape.allSatisfy { $0 >= 0 } && scalars.count == count,
            "Tensor(_:shape:): \(scalars.count) scalars do not fill shape \(shape)")
        let storage = TensorStorage(uninitializedCount: count)
        scalars.withUnsafeBufferPointer { source in
            if count > 0 { storage.pointer.update(from: source.baseAddress!, count: count) }
        }
        self.init(shape: shape, storage: storage)
    }

    /// Creates a one-dimensional tensor.
    public init(_ scalars: [Float]) { self.init(scalars, shape: [scalars.count]) }

    /// Creates a scalar (rank-0) tensor.
    public init(_ scalar: Float) { self.init([scalar], shape: []) }

    /// Creates a tensor of `shape` with uninitialized memory, for kernels that write every element.
    init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: shape.reduce(1, *)))
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The number of elements.
    public var count: Int { storage.count }

    /// Every element in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// The single element of a tensor with one element.
    public var item: Float {
        require(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.pointer[0]
    }

    /// The element at a multi-dimensional index.
    public subscript(index: Int...) -> Float {
        require(index.count == rank, "Tensor[\(index)]: index rank does not match shape \(shape)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            require(i >= 0 && i < shape[axis], "Tensor[\(index)]: index out of range for shape \(shape)")
            offset = offset * shape[axis] + i
        }
        return storage.pointer[offset]
    }

    /// The same values, cut off from any gradient tape: gradients do not flow through the result.
    public var detached: Tensor { Tensor(shape: shape, storage: storage) }

    /// A copy with its own memory.
    public func copy() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.storage.pointer.update(from: storage.pointer, count: count)
        return result
    }

    /// Reads the elements through a buffer pointer.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Writes the elements in place. Every tensor that shares this memory sees the change: use it
    /// for optimizer updates and buffers, never on a tensor another computation still reads.
    public func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Copies `other`'s elements into this tensor's memory in place (shapes must match).
    public func assign(_ other: Tensor) {
        require(other.shape == shape, "Tensor.assign: shape \(other.shape) does not match \(shape)")
        if other.storage !== storage {
            storage.pointer.update(from: other.storage.pointer, count: count)
        }
    }

    /// Whether both tensors have the same shape and the same elements bit for bit.
    public func isIdentical(to other: Tensor) -> Bool {
        shape == other.shape && memcmp(storage.pointer, other.storage.pointer, count * 4) == 0
    }

    var pointer: UnsafeMutablePointer<Float> { storage.pointer }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }
        return "Tensor(shape: \(shape), [\(shown.joined(separator: ", "))\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
