import CKernels

/// eˣ in single precision without a library call, so loops over it vectorize: Cody–Waite range
/// reduction x = n·ln 2 + r, Cephes' degree-6 polynomial for eʳ, and 2ⁿ built from its bits.
/// Relative error about 2 ulp for x in [−87.3, 88.3]; below that it gives 0, above +∞, and NaN
/// stays NaN.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let clamped = min(max(x, -87.3), 88.3)
    // Adding 1.5·2²³ rounds x/ln 2 to the nearest integer and leaves it in the low mantissa bits.
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let expR = p * r * r + r + 1
    let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
    let value = expR * Float(bitPattern: exponent)
    return x < -87.3 ? 0 : (x > 88.3 ? .infinity : value)
}

/// σ(x) = 1 / (1 + e⁻ˣ) with ``fastExp``: finite for every input, exact limits 0 and 1.
@inline(__always)
func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

struct FastExpKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { fastExp(x) } }
struct FastSigmoidKernel: UnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { fastSigmoid(x) } }

extension Kernels {
    /// SiLU x·σ(x) of every element, in the C kernel built for this CPU's widest vectors (with
    /// ``fastExp``'s steps, so it agrees with ``FastSigmoidKernel`` to rounding).
    static func silu(_ x: Tensor) -> Tensor {
        let result = Tensor(uninitializedShape: x.shape)
        let source = x.pointer, target = result.pointer
        Threads.parallelFor(x.count, costPerItem: 4) { range in
            gen_silu(source + range.lowerBound, target + range.lowerBound, range.count)
        }
        return result
    }

    /// SiLU's derivative at `x` times the gradient `g` (same shape): g·σ(x)·(1 + x·(1 − σ(x))).
    static func siluGradient(_ g: Tensor, _ x: Tensor) -> Tensor {
        require(g.shape == x.shape, "silu: gradient \(g.shape) for input \(x.shape)")
        let result = Tensor(uninitializedShape: x.shape)
        let gradient = g.pointer, source = x.pointer, target = result.pointer
        Threads.parallelFor(x.count, costPerItem: 4) { range in
            gen_silu_gradient(gradient + range.lowerBound, source + range.lowerBound, target + range.lowerBound, range.count)
        }
        return result
    }
}
