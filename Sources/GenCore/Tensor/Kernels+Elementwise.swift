import Foundation

/// A function of one element, applied by ``Kernels/map(_:_:)``. Kernels are small structs so
/// that the compiler specializes and inlines them into the loop: no closure call per element.
protocol UnaryKernel {
    func callAsFunction(_ x: Float) -> Float
}

/// A function of two elements, applied by ``Kernels/zip(_:_:_:op:)`` with broadcasting.
protocol BinaryKernel {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// Raw computations on tensors. They never record on a gradient tape; the differentiable
/// operations in `Autodiff/Primitives.swift` call them and record how to differentiate.
enum Kernels {}

extension Kernels {
    /// Applies `kernel` to every element.
    @inline(__always)
    static func map<K: UnaryKernel>(_ x: Tensor, _ kernel: K) -> Tensor {
        let result = Tensor(uninitializedShape: x.shape)
        let source = x.pointer, target = result.pointer
        Threads.parallelFor(x.count, costPerItem: 4) { range in
            for i in range { target[i] = kernel(source[i]) }
        }
        return result
    }

    /// Applies `kernel` to pairs of elements of `a` and `b` broadcast to a common shape.
    @inline(__always)
    static func zip<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K, op: String) -> Tensor {
        if a.shape == b.shape {
            let result = Tensor(uninitializedShape: a.shape)
            let pa = a.pointer, pb = b.pointer, out = result.pointer
            Threads.parallelFor(a.count, costPerItem: 2) { range in
                for i in range { out[i] = kernel(pa[i], pb[i]) }
            }
            return result
        }
        guard let shape = Shape.broadcast(a.shape, b.shape) else {
            fatalError("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let result = Tensor(uninitializedShape: shape)
        let pa = a.pointer, pb = b.pointer, out = result.pointer
        if b.count == 1 {
            let scalar = pb[0]
            Threads.parallelFor(result.count, costPerItem: 2) { range in
                for i in range { out[i] = kernel(pa[i], scalar) }
            }
            return result
        }
        if a.count == 1 {
            let scalar = pa[0]
            Threads.parallelFor(result.count, costPerItem: 2) { range in
                for i in range { out[i] = kernel(scalar, pb[i]) }
            }
            return result
        }
        let layout = BroadcastLayout(shape: shape, a: a.shape, b: b.shape)
        let inner = layout.shape.last!, sa = layout.stridesA.last!, sb = layout.stridesB.last!
        Threads.parallelFor(layout.rows, costPerItem: inner * 2) { rows in
            for row in rows {
                let (oa, ob) = layout.offsets(row: row)
                let qa = pa + oa, qb = pb + ob, q = out + row * inner
                if sa == 1 && sb == 1 {
                    for i in 0..<inner { q[i] = kernel(qa[i], qb[i]) }
                } else if sa == 1 && sb == 0 {
                    let value = qb[0]
                    for i in 0..<inner { q[i] = kernel(qa[i], value) }
                } else if sa == 0 && sb == 1 {
                    let value = qa[0]
                    for i in 0..<inner { q[i] = kernel(value, qb[i]) }
                } else {
                    for i in 0..<inner { q[i] = kernel(qa[i * sa], qb[i * sb]) }
                }
            }
        }
        return result
    }

    /// Applies `kernel` to triples (`where`, fused updates) of same-shape tensors.
    @inline(__always)
    static func zip3(
        _ a: Tensor, _ b: Tensor, _ c: Tensor, _ body: (Float, Float, Float) -> Float
    ) -> Tensor {
        let result = Tensor(uninitializedShape: a.shape)
        let pa = a.pointer, pb = b.pointer, pc = c.pointer, out = result.pointer
        Threads.parallelFor(a.count, costPerItem: 3) { range in
            for i in range { out[i] = body(pa[i], pb[i], pc[i]) }
        }
        return result
    }
}

/// The iteration plan for a broadcast binary operation: dimensions merged where both operands
/// are contiguous over them, then rows of the last (merged) dimension.
struct BroadcastLayout {
    let shape: [Int]
    let stridesA: [Int]
    let stridesB: [Int]
    let rows: Int

    init(shape full: [Int], a: [Int], b: [Int]) {
        let fa = Shape.broadcastStrides(a, to: full), fb = Shape.broadcastStrides(b, to: full)
        var shape: [Int] = [], sa: [Int] = [], sb: [Int] = []
        for i in 0..<full.count where full[i] != 1 {
            if let last = shape.indices.last,
               sa[last] == fa[i] * full[i], sb[last] == fb[i] * full[i] {
                shape[last] *= full[i]
                sa[last] = fa[i]
                sb[last] = fb[i]
            } else {
                shape.append(full[i]); sa.append(fa[i]); sb.append(fb[i])
            }
        }
        if shape.isEmpty { shape = [1]; sa = [0]; sb = [0] }
        self.shape = shape
        stridesA = sa
        stridesB = sb
        rows = shape.dropLast().reduce(1, *)
    }

    /// The offsets into `a` and `b` of the first element of `row`.
    @inline(__always)
    func offsets(row: Int) -> (Int, Int) {
        var rest = row, oa = 0, ob = 0
        var axis = shape.count - 2
        while axis >= 0 {
            let i = rest % shape[axis]
            rest /= shape[axis]
            oa += i * stridesA[axis]
            ob += i * stridesB[axis]
            axis -= 1
        }
        return (oa, ob)
    }
}

// MARK: - The element functions

struct AddKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
struct SubtractKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
struct MultiplyKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
struct DivideKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
struct PowKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
struct MaximumKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a >= b ? a : b } }
struct MinimumKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a <= b ? a : b } }

/// A comparison giving 1 where it holds and 0 elsewhere.
struct CompareKernel: BinaryKernel {
    enum Relation { case less, lessOrEqual, greater, greaterOrEqual, equal, notEqual }
    let relation: Relation
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float {
        let holds: Bool
        switch relation {
        case .less: holds = a < b
        case .lessOrEqual: holds = a <= b
        case .greater: holds = a > b
        case .greaterOrEqual: holds = a >= b
        case .equal: holds = a == b
        case .notEqual: holds = a != b
        }
        return holds ? 1 : 0
    }
}

struct NegateKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { -x } }
struct LogKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { logf(x) } }
struct SqrtKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
struct AbsKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { abs(x) } }
struct SignKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) } }
struct TanhKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { tanhf(x) } }
struct SinKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { sinf(x) } }
struct CosKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { cosf(x) } }
struct ReLUKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 } }
struct LeakyReLUKernel: UnaryKernel {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : slope * x }
}

/// The (leaky) ReLU's derivative times the incoming gradient, in one pass: g for x > 0, else slope·g.
struct LeakyReLUGradient: BinaryKernel {
    let slope: Float
    @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : slope * g }
}

struct AffineKernel: UnaryKernel {
    let scale: Float, shift: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * scale + shift }
}

struct PowScalarKernel: UnaryKernel {
    let exponent: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        exponent == 2 ? x * x : powf(x, exponent)
    }
}

struct ClampKernel: UnaryKernel {
    let low: Float, high: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { min(max(x, low), high) }
}

/// 1 where `low ≤ x ≤ high`, the derivative mask of clamp.
struct InsideKernel: UnaryKernel {
    let low: Float, high: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x >= low && x <= high ? 1 : 0 }
}
