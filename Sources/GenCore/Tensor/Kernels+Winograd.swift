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

    /// Samples per chunk of Winograd's products: enough tiles for the products to run well
    /// (about 256 columns), few enough that the transformed chunk (`taps` matrices of both sides'
    /// `channels`) stays near the core's cache.
    static func winogradChunk(taps: Int, tiles: Int, channels: Int, batch: Int) -> Int {
        let byColumns = (256 + tiles - 1) / tiles
        let byMemory = max(1, (1 << 20) / (taps * 4 * channels * tiles))
        return max(1, min(batch, byColumns, byMemory))
    }

    /// The forward pass and the input gradient of every Winograd convolution, the batch split over
    /// the threads: per chunk of samples, each sample's tiles transformed (`transform(sample,
    /// target, tapStride, rowStride, scratch)` writes `from` channels of them), one product
    /// `[to, from]·[from, tiles]` per tap with `u` (`taps` matrices `[to, from]`), and each
    /// sample's product tiles taken back out (`emit(sample, products, tapStride, rowStride,
    /// scratch)`). `scratch` is `scratchFloats` floats of the thread's own.
    static func winogradProducts(
        taps: Int, batch: Int, from: Int, to: Int, tiles: Int, weights u: TensorStorage, scratchFloats: Int = 0,
        transform: (Int, UnsafeMutablePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void,
        emit: (Int, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let chunk = winogradChunk(taps: taps, tiles: tiles, channels: from + to, batch: batch)
        Threads.parallelFor(batch, costPerItem: taps * from * to * tiles) { range in
            let scratch = TensorStorage(uninitializedCount: scratchFloats)
            let transformed = TensorStorage(uninitializedCount: taps * from * chunk * tiles)
            let products = TensorStorage(uninitializedCount: taps * to * chunk * tiles)
            for first in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                let samples = min(chunk, range.upperBound - first), columns = samples * tiles
                // 1. the tiles' transforms, the chunk's samples side by side
                for s in 0..<samples { transform(first + s, transformed.pointer + s * tiles, from * columns, columns, scratch.pointer) }
                // 2. one product per tap
                for tap in 0..<taps {
                    sgemm(transposeA: false, transposeB: false, m: to, n: columns, k: from,
                          a: u.pointer + tap * to * from, lda: from, b: transformed.pointer + tap * from * columns, ldb: columns,
                          c: products.pointer + tap * to * columns, ldc: columns)
                }
                // 3. the products' tiles back out
                for s in 0..<samples { emit(first + s, products.pointer + s * tiles, to * columns, columns, scratch.pointer) }
            }
        }
    }

    /// The weight gradient's products of every Winograd convolution: per tap `dU += dM · Vᵀ`
    /// over the tiles, where `transform(sample, input target, gradient target, input tap stride,
    /// gradient tap stride, rowStride, scratch)` writes the sample's `inputs` channels of input
    /// tiles and `outputs` channels of output-gradient tiles. Each thread sums its samples, the
    /// threads' sums are added in a fixed order, and the total `[taps][outputs, inputs]` is
    /// returned (nil for an empty batch).
    static func winogradWeightProducts(
        taps: Int, batch: Int, inputs: Int, outputs: Int, tiles: Int, scratchFloats: Int = 0,
        transform: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) -> TensorStorage? {
        let tapSize = outputs * inputs
        let chunk = winogradChunk(taps: taps, tiles: tiles, channels: inputs + outputs, batch: batch)
        let partials = Threads.parallelMap(batch, costPerItem: taps * tapSize * tiles) { range -> TensorStorage in
            let sums = TensorStorage(count: taps * tapSize, repeating: 0)
            let scratch = TensorStorage(uninitializedCount: scratchFloats)
            let transformed = TensorStorage(uninitializedCount: taps * inputs * chunk * tiles)
            let gradients = TensorStorage(uninitializedCount: taps * outputs * chunk * tiles)
            for first in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                let samples = min(chunk, range.upperBound - first), columns = samples * tiles
                // 1. both sides' tiles transformed, the chunk's samples side by side
                for s in 0..<samples {
                    transform(first + s, transformed.pointer + s * tiles, gradients.pointer + s * tiles,
                              inputs * columns, outputs * columns, columns, scratch.pointer)
                }
                // 2. per tap, dU += dM · Vᵀ over the chunk's tiles
                for tap in 0..<taps {
                    sgemm(transposeA: false, transposeB: true, m: outputs, n: inputs, k: columns,
                          a: gradients.pointer + tap * outputs * columns, lda: columns,
                          b: transformed.pointer + tap * inputs * columns, ldb: columns,
                          beta: 1, c: sums.pointer + tap * tapSize, ldc: inputs)
                }
            }
            return sums
        }
        // 3. the threads' sums in order, output channels split over the threads
        guard let total = partials.first else { return nil }
        Threads.parallelFor(outputs, costPerItem: taps * inputs * partials.count) { channels in
            for partial in partials.dropFirst() {
                for tap in 0..<taps {
                    let offset = tap * tapSize + channels.lowerBound * inputs
                    let target = total.pointer + offset, source = partial.pointer + offset
                    for i in 0..<channels.count * inputs { target[i] += source[i] }
                }
            }
        }
        return total
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

    /// `[N, from, H, W] → [N, to, H, W]` by F(2×2, 3×3) with `u` (16 matrices `[to, from]`) and
    /// an optional bias `[to]`: the forward pass, or the input gradient with the turned kernels.
    private static func winogradConvolve(_ input: Tensor, from: Int, to: Int, _ g: ConvGeometry, weights u: TensorStorage,
                                         bias: Tensor?, into output: Tensor) {
        let tilesH = (g.height + 1) / 2, tilesW = (g.width + 1) / 2, plane = g.height * g.width
        winogradProducts(taps: 16, batch: g.batch, from: from, to: to, tiles: tilesH * tilesW, weights: u) { n, target, tapStride, rowStride, _ in
            gen_winograd_input(input.pointer + n * from * plane, Int32(from), Int32(g.height), Int32(g.width),
                               Int32(tilesH), Int32(tilesW), target, tapStride, rowStride)
        } emit: { n, products, tapStride, rowStride, _ in
            gen_winograd_output(products, tapStride, rowStride, Int32(to), Int32(g.height), Int32(g.width),
                                Int32(tilesH), Int32(tilesW), bias?.pointer, output.pointer + n * to * plane)
        }
    }

    /// The forward pass by Winograd (plus `bias [O]`, if given).
    static func winogradConvolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, _ g: ConvGeometry, into output: Tensor) {
        winogradConvolve(input, from: g.inChannels, to: g.outChannels, g, weights: winogradWeights(weight, g, flipTranspose: false),
                         bias: bias, into: output)
    }

    /// The input gradient by Winograd: the convolution of the output gradient with the kernel
    /// turned half a turn, its channel axes swapped.
    static func winogradConvolveBackwardInput(_ gradOutput: Tensor, _ weight: Tensor, _ g: ConvGeometry, into gradInput: Tensor) {
        winogradConvolve(gradOutput, from: g.outChannels, to: g.inChannels, g, weights: winogradWeights(weight, g, flipTranspose: true),
                         bias: nil, into: gradInput)
    }

    /// The weight gradient by Winograd: per tap `dM_tap · V_tapᵀ` with `dM = A dY Aᵀ`, taken back
    /// through the weight transform's adjoint `Gᵀ dU G`.
    static func winogradConvolveBackwardWeight(_ input: Tensor, _ gradOutput: Tensor, _ g: ConvGeometry) -> Tensor {
        let tilesH = (g.height + 1) / 2, tilesW = (g.width + 1) / 2
        let gradWeight = Tensor(uninitializedShape: [g.outChannels, g.inChannels, 3, 3])
        let total = winogradWeightProducts(taps: 16, batch: g.batch, inputs: g.inChannels, outputs: g.outChannels,
                                           tiles: tilesH * tilesW) { n, inputTiles, gradientTiles, inputStride, gradientStride, rowStride, _ in
            gen_winograd_input(input.pointer + n * g.inChannels * g.inPlane, Int32(g.inChannels), Int32(g.height), Int32(g.width),
                               Int32(tilesH), Int32(tilesW), inputTiles, inputStride, rowStride)
            gen_winograd_gradient(gradOutput.pointer + n * g.outChannels * g.outPlane, Int32(g.outChannels), Int32(g.height), Int32(g.width),
                                  Int32(tilesH), Int32(tilesW), gradientTiles, gradientStride, rowStride)
        }
        guard let total else {
            gradWeight.pointer.update(repeating: 0, count: gradWeight.count)
            return gradWeight
        }
        Threads.parallelFor(g.outChannels, costPerItem: 64 * g.inChannels) { channels in
            gen_winograd_weights_adjoint(total.pointer, Int32(g.outChannels), Int32(g.inChannels),
                                         Int32(channels.lowerBound), Int32(channels.upperBound), gradWeight.pointer)
        }
        return gradWeight
    }
}
