import CKernels
import Foundation
import GenCore
import Testing

@Suite("Tensor forward values")
struct TensorTests {
    @Test func broadcastingArithmetic() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([10, 20, 30], shape: [3])
        #expect((a + b).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor([2, 3], shape: [2, 1])).scalars == [2, 4, 6, 12, 15, 18])
        #expect((Tensor([1], shape: [1, 1]) - a).shape == [2, 3])
        #expect((a / 2).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
        #expect((1 - a).scalars == [0, -1, -2, -3, -4, -5])
        // broadcasting over a middle axis: [2, 1, 3] with [4, 1]
        let c = Tensor((0..<6).map(Float.init), shape: [2, 1, 3]) + Tensor([0, 100, 200, 300], shape: [4, 1])
        #expect(c.shape == [2, 4, 3])
        #expect(c[1, 2, 1] == 204)
    }

    @Test func elementFunctions() {
        let x = Tensor([-2, -0.5, 0, 0.5, 2])
        #expect(x.abs().scalars == [2, 0.5, 0, 0.5, 2])
        #expect(x.relu().scalars == [0, 0, 0, 0.5, 2])
        #expect(x.clamped(-1, 1).scalars == [-1, -0.5, 0, 0.5, 1])
        #expect(allClose(x.exp().log(), x, atol: 1e-6))
        #expect(allClose(x.sigmoid(), Tensor(x.scalars.map { 1 / (1 + exp(-$0)) })))
        #expect(allClose(x.tanh(), Tensor(x.scalars.map { tanh($0) })))
        #expect(allClose(x.softplus(), Tensor(x.scalars.map { log(1 + exp($0)) })))
        #expect(allClose(Tensor([4, 9]).sqrt(), Tensor([2, 3])))
        #expect(allClose(Tensor([2, 3]).pow(Tensor([3, 2])), Tensor([8, 9])))
        #expect(Tensor([Float(1000)]).sigmoid().item == 1)
        #expect(Tensor([Float(-1000)]).softplus().item == 0)
        #expect(Tensor([Float(1000)]).softplus().item == 1000)
    }

    /// The vectorizable exp behind exp, sigmoid and SiLU stays within a few ulp of libm's.
    @Test func fastExpIsAccurate() {
        let x = Tensor.linspace(-87, 88, count: 100_001)
        let worst = zip(x.exp().scalars, x.scalars).map { Swift.abs($0 - Foundation.exp($1)) / Foundation.exp($1) }.max()!
        #expect(worst < 5e-7)
        #expect(Tensor([-1000, 1000]).sigmoid().scalars == [0, 1])
        #expect(Tensor([Float](repeating: 0, count: 1)).exp().item == 1)
    }

    /// SiLU and its gradient come from a C kernel built per CPU generation: they agree with
    /// x·σ(x) and σ(x)·(1 + x(1 − σ(x))) from the Swift kernels over the whole range (odd
    /// counts leave vector remainders), keep the limits, and pass NaN through.
    @Test func siluKernelMatchesTheSwiftDefinition() {
        let x = Tensor.linspace(-100, 100, count: 20_003)
        let sigmoid = x.sigmoid()
        #expect(allClose(x.silu(), x * sigmoid, rtol: 1e-6, atol: 1e-7))
        let g = Tensor.linspace(-2, 3, count: 20_003)
        let (_, gradients) = valueAndGrad(at: [x]) { inputs in (inputs[0].silu() * g).sum() }
        let expected = g * sigmoid * ((x * (1 - sigmoid)) + 1)
        #expect(allClose(gradients[0], expected, rtol: 1e-5, atol: 1e-6))
        let edges = Tensor([-1000, 1000, .nan, 0]).silu().scalars
        #expect(edges[0] == 0 && edges[1] == 1000 && edges[2].isNaN && edges[3] == 0, "\(edges)")
    }

    @Test func comparisonsAndWhere() {
        let a = Tensor([1, 5, 3]), b = Tensor([2, 5, 1])
        #expect(a.less(b).scalars == [1, 0, 0])
        #expect(a.greaterOrEqual(b).scalars == [0, 1, 1])
        #expect(a.equal(b).scalars == [0, 1, 0])
        #expect(Tensor.where(a.greater(b), a, Tensor(0)).scalars == [0, 0, 3])
        #expect(a.maximum(b).scalars == [2, 5, 3])
        #expect(a.minimum(b).scalars == [1, 5, 1])
    }

    @Test func reductions() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(x.sum().item == 276)
        #expect(x.sum(axes: [1]).scalars == [12, 15, 18, 21, 48, 51, 54, 57])
        #expect(x.sum(axes: [0, 2], keepingDimensions: true).shape == [1, 3, 1])
        #expect(x.sum(axes: [0, 2]).scalars == [60, 92, 124])
        #expect(x.sum(axes: [-1]).scalars == [6, 22, 38, 54, 70, 86])
        #expect(x.mean(axes: [1, 2]).scalars == [5.5, 17.5])
        #expect(x.max(axes: [1]).scalars == [8, 9, 10, 11, 20, 21, 22, 23])
        #expect(x.max().item == 23)
        #expect(x.min().item == 0 && x.min(axes: [2]).scalars == [0, 4, 8, 12, 16, 20])
        // the minimum's gradient goes to the smallest element, shared between ties
        let (_, gradients) = vectorJacobianProduct(at: [Tensor([3, 1, 2, 1])], { $0[0].min() }, cotangent: { _ in Tensor(1) })
        #expect(gradients[0].scalars == [0, 0.5, 0, 0.5])
        #expect(abs(Tensor([1, 2, 3, 4]).variance().item - 1.25) < 1e-6)
        let lse = Tensor([1000, 1000]).logSumExp()
        #expect(abs(lse.item - (1000 + log(2))) < 1e-3)
        #expect(Tensor([-Float.infinity, -Float.infinity]).logSumExp().item == -.infinity)
        let softmax = Tensor([1, 2, 3, 1, 1, 1], shape: [2, 3]).softmax(axis: 1)
        #expect(allClose(softmax.sum(axes: [1]), Tensor([1, 1])))
    }

    @Test func largeSumIsAccurate() {
        // 2²⁰ ones plus one: a float running sum would stall; the kernel accumulates in double.
        let x = Tensor.full([1 << 22], 0.1)
        #expect(abs(x.sum().item - 419_430.4) < 0.05)
    }

    @Test func layout() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p[3, 1, 2] == x[1, 2, 3])
        #expect(x.transposed(0, 2)[3, 1, 0] == x[0, 1, 3])
        #expect(x.reshaped([4, -1]).shape == [4, 6])
        #expect(x.slice(axis: 2, start: 1, count: 2).scalars.prefix(4) == [1, 2, 5, 6])
        #expect(x.slice(start: [0, 0, 0], count: [1, 2, 2], step: [1, 2, 3]).scalars == [0, 3, 8, 11])
        let parts = x.split(sizes: [1, 2], axis: 1)
        #expect(parts[1].shape == [2, 2, 4])
        #expect(Tensor.concatenate(parts, axis: 1).isIdentical(to: x))
        #expect(Tensor.concatenate(x.chunked(2, axis: 2), axis: 2).isIdentical(to: x))
        let padded = Tensor([1, 2, 3, 4], shape: [2, 2]).padded([(1, 0), (0, 2)], value: -1)
        #expect(padded.shape == [3, 4])
        #expect(padded.scalars == [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1])
        #expect(Tensor([1, 2], shape: [2, 1]).broadcast(to: [2, 3]).scalars == [1, 1, 1, 2, 2, 2])
        #expect(x[rows: [1, 0]].sample(0).isIdentical(to: x.sample(1)))
        #expect(x.flattened().shape == [2, 12])
        #expect(x.expandingDimension(at: 1).squeezingDimension(at: 1).shape == [2, 3, 4])
    }

    @Test func creation() {
        #expect(Tensor.arange(0, 1, step: 0.25).scalars == [0, 0.25, 0.5, 0.75])
        #expect(Tensor.linspace(-1, 1, count: 5).scalars == [-1, -0.5, 0, 0.5, 1])
        #expect(Tensor.oneHot([2, 0], classes: 3).scalars == [0, 0, 1, 1, 0, 0])
        #expect(Tensor.full([2, 2], 7).scalars == [7, 7, 7, 7])
        #expect(Tensor.zeros([0, 3]).count == 0)
        #expect(Tensor(3).shape == [])
    }

    /// Matrix products against a naive triple loop.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulMatchesNaive(transposeA: Bool, transposeB: Bool) {
        let (m, k, n) = (5, 7, 3)
        let a = randn(transposeA ? [2, k, m] : [2, m, k]), b = randn(transposeB ? [2, n, k] : [2, k, n], seed: 2)
        let c = a.matmul(b, transposeA: transposeA, transposeB: transposeB)
        #expect(c.shape == [2, m, n])
        for batch in 0..<2 {
            for i in 0..<m {
                for j in 0..<n {
                    var total: Float = 0
                    for l in 0..<k {
                        total += (transposeA ? a[batch, l, i] : a[batch, i, l]) * (transposeB ? b[batch, j, l] : b[batch, l, j])
                    }
                    #expect(abs(c[batch, i, j] - total) < 1e-4)
                }
            }
        }
    }

    /// Products large enough to be split over the threads, by rows of the result (200 × 150)
    /// and by columns (20 × 500), with sizes that are no multiple of the 16-row blocks.
    @Test(arguments: [(200, 70, 150), (20, 200, 500)], [(false, false), (true, false), (false, true), (true, true)])
    func splitMatmulMatchesNaive(_ size: (Int, Int, Int), _ transposes: (Bool, Bool)) {
        let (m, k, n) = size, (transposeA, transposeB) = transposes
        let a = randn(transposeA ? [k, m] : [m, k]), b = randn(transposeB ? [n, k] : [k, n], seed: 2)
        let c = a.matmul(b, transposeA: transposeA, transposeB: transposeB)
        let pa = a.scalars, pb = b.scalars, pc = c.scalars
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                var total: Float = 0
                for l in 0..<k { total += (transposeA ? pa[l * m + i] : pa[i * k + l]) * (transposeB ? pb[j * k + l] : pb[l * n + j]) }
                worst = max(worst, abs(pc[i * n + j] - total))
            }
        }
        #expect(worst < 1e-3, "\(size) \(transposes): worst error \(worst)")
    }

    /// Forward pass and both gradients of convolutions against their direct sums, mostly at
    /// sizes that split over the threads (three samples, uneven halves): the shifted products
    /// with odd planes; 3×3, 3×2 dilated, 5×5, no padding, 1×1 read in place and 1×1 padded,
    /// one small sample; strides 2 (DCGAN's 4×4; a row of 37 for the sixteen-lane phase split),
    /// (3, 2) and (2, 1) with dilation; and im2col for one to three input channels, unfolding the
    /// phased layout when strided (strides 2 and (2, 3), dilation, batch 1). Winograd F(2×2, 3×3)
    /// (eight channels or more, 3×3, stride 1, pad 1, 100 pixels or more): odd planes whose last
    /// tiles hang over the edge, batch 1, a row of 19 tiles (two vectors of them), a plane two
    /// pixels wide, and 70 samples of 25 tiles each, several chunks a thread. Winograd over the
    /// stride phases (eight channels or more, 4×4, stride 2): DCGAN's 14×14, odd planes with
    /// padding 2 and batch 1, a plane of 100 phase tiles (seven vectors of them) without padding,
    /// and 70 samples of 3×3 planes.
    @Test(arguments: [
        ConvCase(batch: 3, inChannels: 8, outChannels: 16, height: 15, width: 13, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 1, inChannels: 9, outChannels: 8, height: 11, width: 10, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 2, inChannels: 8, outChannels: 12, height: 10, width: 37, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 1, inChannels: 12, outChannels: 10, height: 51, width: 2, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 70, inChannels: 8, outChannels: 8, height: 10, width: 10, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 8, outChannels: 12, height: 14, width: 14, kernel: (4, 4), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 1, inChannels: 9, outChannels: 8, height: 15, width: 13, kernel: (4, 4), stride: (2, 2), padding: (2, 2), dilation: (1, 1), groups: 1),
        ConvCase(batch: 2, inChannels: 8, outChannels: 10, height: 40, width: 37, kernel: (4, 4), stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 1),
        ConvCase(batch: 70, inChannels: 8, outChannels: 8, height: 6, width: 7, kernel: (4, 4), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 8, outChannels: 16, height: 15, width: 13, kernel: (3, 3), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 5, outChannels: 7, height: 17, width: 19, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 4, outChannels: 6, height: 18, width: 17, kernel: (3, 2), stride: (1, 1), padding: (2, 0), dilation: (2, 2), groups: 1),
        ConvCase(batch: 2, inChannels: 4, outChannels: 5, height: 20, width: 21, kernel: (5, 5), stride: (1, 1), padding: (2, 2), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 6, outChannels: 4, height: 19, width: 18, kernel: (3, 3), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1),
        ConvCase(batch: 5, inChannels: 9, outChannels: 11, height: 7, width: 9, kernel: (1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 4, outChannels: 5, height: 6, width: 7, kernel: (1, 1), stride: (1, 1), padding: (1, 2), dilation: (1, 1), groups: 1),
        ConvCase(batch: 1, inChannels: 4, outChannels: 2, height: 5, width: 4, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 1, outChannels: 6, height: 16, width: 15, kernel: (4, 4), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 2, outChannels: 5, height: 11, width: 9, kernel: (3, 3), stride: (2, 3), padding: (1, 2), dilation: (1, 1), groups: 1),
        ConvCase(batch: 1, inChannels: 3, outChannels: 4, height: 13, width: 10, kernel: (3, 2), stride: (2, 2), padding: (0, 1), dilation: (2, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 4, outChannels: 5, height: 11, width: 37, kernel: (3, 3), stride: (2, 2), padding: (1, 2), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 6, outChannels: 8, height: 14, width: 14, kernel: (4, 4), stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 5, outChannels: 4, height: 17, width: 16, kernel: (3, 4), stride: (3, 2), padding: (2, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 4, outChannels: 6, height: 19, width: 17, kernel: (3, 3), stride: (2, 1), padding: (1, 2), dilation: (2, 3), groups: 1),
    ])
    func convolutionGradientsMatchDirect(_ c: ConvCase) {
        let x = randn([c.batch, c.inChannels, c.height, c.width]), w = randn([c.outChannels, c.inChannels, c.kernel.0, c.kernel.1], seed: 2)
        let bias = randn([c.outChannels], seed: 4)
        func convolve(_ inputs: [Tensor]) -> Tensor {
            inputs[0].conv2d(weight: inputs[1], bias: bias, stride: c.stride, padding: c.padding, dilation: c.dilation)
        }
        let y = convolve([x, w])
        let cotangent = randn(y.shape, seed: 3)
        let (_, gradients) = vectorJacobianProduct(at: [x, w], convolve) { _ in cotangent }
        let (oh, ow) = (y.shape[2], y.shape[3])
        var output = [Float](repeating: 0, count: y.count)
        var gradInput = [Float](repeating: 0, count: x.count), gradWeight = [Float](repeating: 0, count: w.count)
        let xs = x.scalars, ws = w.scalars, gs = cotangent.scalars
        for n in 0..<c.batch {
            for o in 0..<c.outChannels {
                for i in 0..<oh {
                    for j in 0..<ow {
                        let yi = ((n * c.outChannels + o) * oh + i) * ow + j
                        output[yi] = bias[o]
                        for ci in 0..<c.inChannels {
                            for ki in 0..<c.kernel.0 {
                                for kj in 0..<c.kernel.1 {
                                    let h = i * c.stride.0 - c.padding.0 + ki * c.dilation.0, v = j * c.stride.1 - c.padding.1 + kj * c.dilation.1
                                    guard h >= 0 && h < c.height && v >= 0 && v < c.width else { continue }
                                    let xi = ((n * c.inChannels + ci) * c.height + h) * c.width + v
                                    let wi = ((o * c.inChannels + ci) * c.kernel.0 + ki) * c.kernel.1 + kj
                                    output[yi] += xs[xi] * ws[wi]
                                    gradInput[xi] += gs[yi] * ws[wi]
                                    gradWeight[wi] += gs[yi] * xs[xi]
                                }
                            }
                        }
                    }
                }
            }
        }
        func worst(_ a: Tensor, _ b: [Float]) -> Float { zip(a.scalars, b).map { abs($0 - $1) }.max()! }
        #expect(worst(y, output) < 1e-3, "forward \(worst(y, output))")
        #expect(worst(gradients[0], gradInput) < 1e-3, "input gradient \(worst(gradients[0], gradInput))")
        #expect(worst(gradients[1], gradWeight) < 2e-3, "weight gradient \(worst(gradients[1], gradWeight))")
    }

    /// Winograd's transforms, the stride-2 column split and merge and the phased unfolding (one
    /// input channel) have AVX-512 code and portable loops; both give the same convolutions and
    /// gradients, to the bit, on ragged planes (odd sizes, a row of tiles longer than a vector,
    /// rows of 14, 27 and 37 columns).
    @Test(.enabled(if: gen_kernels_have_avx512() != 0, "this CPU runs no AVX-512: the vector and portable paths are the same code"),
          arguments: [(15, 13, 3, 1, 8), (10, 37, 3, 1, 8), (51, 2, 3, 1, 8), (14, 14, 4, 2, 8), (11, 37, 3, 2, 8), (28, 27, 4, 2, 1)])
    func portableKernelsMatchVectorOnes(_ c: (height: Int, width: Int, kernel: Int, stride: Int, channels: Int)) {
        let x = randn([2, c.channels, c.height, c.width]), w = randn([12, c.channels, c.kernel, c.kernel], seed: 2), bias = randn([12], seed: 4)
        let convolve = { (xs: [Tensor]) in xs[0].conv2d(weight: xs[1], bias: xs[2], stride: (c.stride, c.stride), padding: (1, 1)) }
        let cotangent = randn(convolve([x, w, bias]).shape, seed: 3)
        func run() -> [Tensor] {
            let (y, gradients) = vectorJacobianProduct(at: [x, w, bias], convolve) { _ in cotangent }
            return [y] + gradients
        }
        let vector = run()
        gen_kernels_set_portable(1)
        let portable = run()
        gen_kernels_set_portable(0)
        for (a, b) in zip(vector, portable) { #expect(a.scalars == b.scalars) }
    }

    /// A stride-1 transposed convolution (the shifted products' adjoint as a forward pass, and
    /// Winograd's with eight channels or more) is the adjoint of its convolution:
    /// ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩.
    @Test(arguments: [(6, 4), (12, 8)])
    func stride1ConvTransposeIsAdjointOfConv(_ channels: (out: Int, in: Int)) {
        let w = randn([channels.out, channels.in, 3, 3], seed: 2), x = randn([3, channels.in, 18, 17])
        let y = x.conv2d(weight: w, padding: (1, 1))
        let z = randn(y.shape, seed: 3)
        let back = z.convTranspose2d(weight: w, padding: (1, 1))
        #expect(back.shape == x.shape)
        let left = (y * z).sum().item, right = (x * back).sum().item
        #expect(abs(left - right) < 1e-3 * max(1, abs(left)))
    }

    /// Convolutions against a direct nested-loop definition, over odd geometries.
    @Test(arguments: [
        ConvCase(batch: 1, inChannels: 3, outChannels: 4, height: 7, width: 5, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        ConvCase(batch: 3, inChannels: 4, outChannels: 6, height: 9, width: 8, kernel: (3, 2), stride: (2, 2), padding: (1, 0), dilation: (1, 1), groups: 2),
        ConvCase(batch: 2, inChannels: 2, outChannels: 2, height: 8, width: 8, kernel: (3, 3), stride: (1, 2), padding: (2, 2), dilation: (2, 2), groups: 2),
        ConvCase(batch: 70, inChannels: 2, outChannels: 3, height: 4, width: 4, kernel: (1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1),
    ])
    func conv2dMatchesDirect(_ c: ConvCase) {
        let x = randn([c.batch, c.inChannels, c.height, c.width])
        let w = randn([c.outChannels, c.inChannels / c.groups, c.kernel.0, c.kernel.1], seed: 2)
        let bias = randn([c.outChannels], seed: 3)
        let y = x.conv2d(weight: w, bias: bias, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let (oh, ow) = (y.shape[2], y.shape[3])
        #expect(oh == (c.height + 2 * c.padding.0 - c.dilation.0 * (c.kernel.0 - 1) - 1) / c.stride.0 + 1)
        let inPer = c.inChannels / c.groups, outPer = c.outChannels / c.groups
        var worst: Float = 0
        for n in 0..<c.batch {
            for o in 0..<c.outChannels {
                let g = o / outPer
                for i in 0..<oh {
                    for j in 0..<ow {
                        var total = bias[o]
                        for ci in 0..<inPer {
                            for ki in 0..<c.kernel.0 {
                                for kj in 0..<c.kernel.1 {
                                    let h = i * c.stride.0 - c.padding.0 + ki * c.dilation.0
                                    let v = j * c.stride.1 - c.padding.1 + kj * c.dilation.1
                                    if h >= 0 && h < c.height && v >= 0 && v < c.width {
                                        total += x[n, g * inPer + ci, h, v] * w[o, ci, ki, kj]
                                    }
                                }
                            }
                        }
                        worst = max(worst, abs(total - y[n, o, i, j]))
                    }
                }
            }
        }
        #expect(worst < 1e-4)
    }

    /// A transposed convolution is the adjoint of a convolution: ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩.
    @Test func convTransposeIsAdjointOfConv() {
        let w = randn([6, 2, 3, 3], seed: 2)
        let x = randn([2, 4, 9, 7])
        let y = x.conv2d(weight: w, stride: (2, 2), padding: (1, 1), groups: 2)
        let z = randn(y.shape, seed: 3)
        let back = z.convTranspose2d(weight: w, stride: (2, 2), padding: (1, 1), groups: 2)
        #expect(back.shape == x.shape)
        let left = (y * z).sum().item, right = (x * back).sum().item
        #expect(abs(left - right) < 1e-3 * max(1, abs(left)))
    }

    @Test func pooling() {
        let x = Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        #expect(x.maxPool2d(kernel: (2, 2)).scalars == [5, 7, 13, 15])
        #expect(x.avgPool2d(kernel: (2, 2)).scalars == [2.5, 4.5, 10.5, 12.5])
        let up = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2]).upsampleNearest()
        #expect(up.scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        // zero padding counts in the average (count_include_pad, PyTorch's default)
        #expect(Tensor.ones([1, 1, 2, 2]).avgPool2d(kernel: (2, 2), stride: (1, 1), padding: (1, 1))[0, 0, 0, 0] == 0.25)
    }

    /// A convolution large enough to split over threads, checked at sampled outputs.
    @Test func largeParallelConvolutionMatchesDirect() {
        let x = randn([64, 8, 14, 14]), w = randn([16, 8, 3, 3], seed: 2)
        let y = x.conv2d(weight: w, padding: (1, 1))
        for (n, o, i, j) in [(0, 0, 0, 0), (63, 15, 13, 13), (31, 7, 6, 0), (5, 3, 0, 13)] {
            var total: Float = 0
            for c in 0..<8 {
                for ki in 0..<3 {
                    for kj in 0..<3 where (0..<14).contains(i + ki - 1) && (0..<14).contains(j + kj - 1) {
                        total += x[n, c, i + ki - 1, j + kj - 1] * w[o, c, ki, kj]
                    }
                }
            }
            #expect(abs(y[n, o, i, j] - total) < 1e-4)
        }
        #expect(abs(y.sum(axes: [0, 2, 3]).sum().item - y.sum().item) < 1e-2 * max(1, abs(y.sum().item)))
    }
}

struct ConvCase: Sendable, CustomTestStringConvertible {
    var batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int
    var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int
    var testDescription: String {
        "N\(batch) C\(inChannels)→\(outChannels) \(height)×\(width) k\(kernel) s\(stride) p\(padding) d\(dilation) g\(groups)"
    }
}

@Suite("Random numbers")
struct RandomTests {
    @Test func seededStreamsAreReproducibleAndIndependent() {
        let a = Tensor.randomNormal([100], using: RandomGenerator(seed: 7, stream: .noise))
        let b = Tensor.randomNormal([100], using: RandomGenerator(seed: 7, stream: .noise))
        let c = Tensor.randomNormal([100], using: RandomGenerator(seed: 7, stream: .dataOrder))
        #expect(a.isIdentical(to: b))
        #expect(!a.isIdentical(to: c))
    }

    @Test func stateRestoresTheStream() {
        let generator = RandomGenerator(seed: 3)
        _ = generator.next()
        let saved = generator.state
        let first = Tensor.randomUniform([10], using: generator)
        generator.state = saved
        #expect(Tensor.randomUniform([10], using: generator).isIdentical(to: first))
    }

    @Test func moments() {
        let normal = Tensor.randomNormal([200_000], mean: 1, std: 2, using: RandomGenerator(seed: 1))
        #expect(abs(normal.mean().item - 1) < 0.02)
        #expect(abs(normal.variance().item.squareRoot() - 2) < 0.02)
        let uniform = Tensor.randomUniform([200_000], low: -1, high: 3, using: RandomGenerator(seed: 1))
        #expect(abs(uniform.mean().item - 1) < 0.02)
        #expect(uniform.max().item < 3 && (-uniform).max().item <= 1)
        let permutation = RandomGenerator(seed: 1).permutation(50)
        #expect(permutation.sorted() == Array(0..<50) && permutation != Array(0..<50))
    }
}

@Suite("Worker pool")
struct WorkerPoolTests {
    /// Every task of every region runs exactly once, on the pool or (while another thread's
    /// region holds it) on the caller: 3 threads × 3,000 back-to-back regions of 2 to 9 tasks.
    @Test func everyTaskRunsOnceUnderContention() {
        let failures = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        failures.initialize(repeating: 0)
        defer { failures.deallocate() }
        let shared = UncheckedBox(failures)
        DispatchQueue.concurrentPerform(iterations: 3) { thread in
            let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 9)
            defer { counts.deallocate() }
            for region in 0..<3_000 {
                let tasks = 2 + (region + thread) % 8
                counts.initialize(repeating: 0)
                let ran = gen_pool_run(Int32(tasks), { context, task in
                    context!.assumingMemoryBound(to: Int32.self)[Int(task)] += 1
                }, counts.baseAddress)
                if ran == 0 { for task in 0..<tasks { counts[task] += 1 } }
                if counts.prefix(tasks).contains(where: { $0 != 1 }) || counts.dropFirst(tasks).contains(where: { $0 != 0 }) {
                    shared.value[thread] += 1
                }
            }
        }
        #expect(Array(failures) == [0, 0, 0])
    }
}

/// Hands a buffer whose parts the threads write disjointly to `concurrentPerform`.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
