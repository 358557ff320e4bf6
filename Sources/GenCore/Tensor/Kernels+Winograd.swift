import CKernels

/// 3×3 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2015).
///
/// The output is cut into 2×2 tiles, each computed from the 4×4 input tile around it as
/// `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`: 16 multiplies per channel pair and tile where the direct sum
/// needs 36. Over channels the element-wise product becomes 16 independent products ("taps"),
/// `M_tap [O, tiles] = U_tap [O, C] · V_tap [C, tiles]`, one GEMM each over the tiles of several
/// samples at once. The transforms themselves (Sources/CKernels/winograd.c) are additions only.
///
/// The input gradient is the same computation with the kernel turned half a turn and its channel
/// axes swapped (a stride-1, pad-1 convolution's adjoint is again one). The weight gradient is the
/// adjoint of the forward products: `dU_tap = Σ_tiles dM_tap · V_tapᵀ` with `dM = A dY Aᵀ`, then
/// `dg = Gᵀ dU G`.
extension Kernels {
    /// Whether Winograd serves this geometry: an ungrouped 3×3 convolution with stride 1, no
    /// dilation and one pixel of padding (output the size of the input), at least eight channels
    /// on each side (narrower products waste the GEMM's register tiles more than they save) and a
    /// plane of at least 100 pixels. (Measured with `gen bench --ops`: on 7×7 planes a row of four
    /// tiles fills a quarter of a vector in the transforms, and the shifted products are faster.)
    static func usesWinograd(_ g: ConvGeometry) -> Bool {
        g.groups == 1 && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideH == 1 && g.strideW == 1
            && g.padH == 1 && g.padW == 1 && g.dilationH == 1 && g.dilationW == 1
            && g.inChannels >= 8 && g.outChannels >= 8 && g.height * g.width >= 100
    }

    /// The tiling of one sample's plane and how many samples share one set of products.
    private struct WinogradTiling {
        let height: Int, width: Int
        let tilesH: Int, tilesW: Int
        var tiles: Int { tilesH * tilesW }

        init(height: Int, width: Int) {
            self.height = height
            self.width = width
            tilesH = (height + 1) / 2
            tilesW = (width + 1) / 2
        }

        /// Samples per chunk: enough tiles for the products to run well (about 256 columns),
        /// few enough that the transformed chunk (16 taps of both sides' channels) stays near
        /// the core's cache.
        func samplesPerChunk(channels: Int, batch: Int) -> Int {
            let byColumns = (256 + tiles - 1) / tiles
            let byMemory = max(1, (1 << 20) / (16 * 4 * channels * tiles))
            return max(1, min(batch, byColumns, byMemory))
        }
    }

    /// `[N, C, H, W] → [N, O, H, W]` by Winograd, with `u` the transformed weights (16 matrices
    /// `[O, C]`) and an optional bias `[O]`; the batch split over the threads.
    private static func winogradConvolve(
        _ input: Tensor, channels: Int, outChannels: Int, _ t: WinogradTiling,
        weights u: TensorStorage, bias: Tensor?, into output: Tensor
    ) {
        let batch = input.shape[0], inPlane = channels * t.height * t.width, outPlane = outChannels * t.height * t.width
        let chunk = t.samplesPerChunk(channels: channels + outChannels, batch: batch)
        Threads.parallelFor(batch, costPerItem: 16 * channels * outChannels * t.tiles) { range in
            let transformed = TensorStorage(uninitializedCount: 16 * channels * chunk * t.tiles)
            let products = TensorStorage(uninitializedCount: 16 * outChannels * chunk * t.tiles)
            for first in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                let samples = min(chunk, range.upperBound - first), columns = samples * t.tiles
                // 1. Bᵀ d B of every input tile, the chunk's samples side by side
                for s in 0..<samples {
                    gen_winograd_input(input.pointer + (first + s) * inPlane, Int32(channels), Int32(t.height), Int32(t.width),
                                       Int32(t.tilesH), Int32(t.tilesW), transformed.pointer + s * t.tiles, channels * columns, columns)
                }
                // 2. one product per tap
                for tap in 0..<16 {
                    sgemm(transposeA: false, transposeB: false, m: outChannels, n: columns, k: channels,
                          a: u.pointer + tap * outChannels * channels, lda: channels,
                          b: transformed.pointer + tap * channels * columns, ldb: columns,
                          c: products.pointer + tap * outChannels * columns, ldc: columns)
                }
                // 3. Aᵀ m A of every product tile, with the bias, into the output planes
                for s in 0..<samples {
                    gen_winograd_output(products.pointer + s * t.tiles, outChannels * columns, columns, Int32(outChannels),
                                        Int32(t.height), Int32(t.width), Int32(t.tilesH), Int32(t.tilesW),
                                        bias?.pointer, output.pointer + (first + s) * outPlane)
                }
            }
        }
    }

    /// G g Gᵀ of every kernel (turned half a turn, channel axes swapped, with `flipTranspose`),
    /// output channels split over the threads.
    private static func winogradWeights(_ weight: Tensor, _ g: ConvGeometry, flipTranspose: Bool) -> TensorStorage {
        let u = TensorStorage(uninitializedCount: 16 * g.outChannels * g.inChannels)
        Threads.parallelFor(g.outChannels, costPerItem: 64 * g.inChannels) { channels in
            gen_winograd_weights(weight.pointer, Int32(g.outChannels), Int32(g.inChannels), flipTranspose ? 1 : 0,
                                 Int32(channels.lowerBound), Int32(channels.upperBound), u.pointer)
        }
        return u
    }

    /// The forward pass by Winograd (plus `bias [O]`, if given).
    static func winogradConvolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, _ g: ConvGeometry, into output: Tensor) {
        let u = winogradWeights(weight, g, flipTranspose: false)
        winogradConvolve(input, channels: g.inChannels, outChannels: g.outChannels, WinogradTiling(height: g.height, width: g.width),
                         weights: u, bias: bias, into: output)
    }

    /// The input gradient by Winograd: the convolution of the output gradient with the kernel
    /// turned half a turn, its channel axes swapped.
    static func winogradConvolveBackwardInput(_ gradOutput: Tensor, _ weight: Tensor, _ g: ConvGeometry, into gradInput: Tensor) {
        let u = winogradWeights(weight, g, flipTranspose: true)
        winogradConvolve(gradOutput, channels: g.outChannels, outChannels: g.inChannels, WinogradTiling(height: g.height, width: g.width),
                         weights: u, bias: nil, into: gradInput)
    }

    /// The weight gradient by Winograd: per tap `dM_tap · V_tapᵀ`, summed over each thread's
    /// samples, then over the threads in a fixed order, and taken back through the weight
    /// transform's adjoint.
    static func winogradConvolveBackwardWeight(_ input: Tensor, _ gradOutput: Tensor, _ g: ConvGeometry) -> Tensor {
        let t = WinogradTiling(height: g.height, width: g.width)
        let inPlane = g.inChannels * g.inPlane, outPlane = g.outChannels * g.outPlane, tapSize = g.outChannels * g.inChannels
        let chunk = t.samplesPerChunk(channels: g.inChannels + g.outChannels, batch: g.batch)
        let partials = Threads.parallelMap(g.batch, costPerItem: 16 * tapSize * t.tiles) { range -> TensorStorage in
            let sums = TensorStorage(count: 16 * tapSize, repeating: 0)
            let transformed = TensorStorage(uninitializedCount: 16 * g.inChannels * chunk * t.tiles)
            let gradients = TensorStorage(uninitializedCount: 16 * g.outChannels * chunk * t.tiles)
            for first in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                let samples = min(chunk, range.upperBound - first), columns = samples * t.tiles
                // 1. Bᵀ d B of the input tiles and A dY Aᵀ of the output-gradient tiles
                for s in 0..<samples {
                    gen_winograd_input(input.pointer + (first + s) * inPlane, Int32(g.inChannels), Int32(t.height), Int32(t.width),
                                       Int32(t.tilesH), Int32(t.tilesW), transformed.pointer + s * t.tiles, g.inChannels * columns, columns)
                    gen_winograd_gradient(gradOutput.pointer + (first + s) * outPlane, Int32(g.outChannels), Int32(t.height), Int32(t.width),
                                          Int32(t.tilesH), Int32(t.tilesW), gradients.pointer + s * t.tiles, g.outChannels * columns, columns)
                }
                // 2. per tap, dU += dM · Vᵀ over the chunk's tiles
                for tap in 0..<16 {
                    sgemm(transposeA: false, transposeB: true, m: g.outChannels, n: g.inChannels, k: columns,
                          a: gradients.pointer + tap * g.outChannels * columns, lda: columns,
                          b: transformed.pointer + tap * g.inChannels * columns, ldb: columns,
                          beta: 1, c: sums.pointer + tap * tapSize, ldc: g.inChannels)
                }
            }
            return sums
        }
        // 3. the threads' sums in order, then Gᵀ dU G, output channels split over the threads
        let gradWeight = Tensor(uninitializedShape: [g.outChannels, g.inChannels, 3, 3])
        guard let total = partials.first else {
            gradWeight.pointer.update(repeating: 0, count: 9 * tapSize)
            return gradWeight
        }
        Threads.parallelFor(g.outChannels, costPerItem: 16 * g.inChannels * partials.count) { channels in
            for partial in partials.dropFirst() {
                for tap in 0..<16 {
                    let offset = tap * tapSize + channels.lowerBound * g.inChannels, count = channels.count * g.inChannels
                    let target = total.pointer + offset, source = partial.pointer + offset
                    for i in 0..<count { target[i] += source[i] }
                }
            }
            gen_winograd_weights_adjoint(total.pointer, Int32(g.outChannels), Int32(g.inChannels),
                                         Int32(channels.lowerBound), Int32(channels.upperBound), gradWeight.pointer)
        }
        return gradWeight
    }
}
