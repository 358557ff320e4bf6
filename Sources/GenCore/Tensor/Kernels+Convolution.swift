import CKernels
import Foundation

/// The sizes of one 2-D convolution, seen from the convolution's side: `input` is
/// `[batch, inChannels, height, width]`, the weight `[outChannels, inChannels / groups, kernelHeight,
/// kernelWidth]`, the output `[batch, outChannels, outHeight, outWidth]`.
///
/// A transposed convolution is the same geometry with the roles of input and output exchanged,
/// so the three kernels below serve both layers.
struct ConvGeometry: Equatable {
    var batch: Int
    var inChannels: Int, height: Int, width: Int
    var outChannels: Int, outHeight: Int, outWidth: Int
    var kernelHeight: Int, kernelWidth: Int
    var strideH: Int, strideW: Int
    var padH: Int, padW: Int
    var dilationH: Int, dilationW: Int
    var groups: Int

    var inPerGroup: Int { inChannels / groups }
    var outPerGroup: Int { outChannels / groups }
    /// Rows of the unfolded (im2col) matrix of one group: `inPerGroup × kh × kw`.
    var patchSize: Int { inPerGroup * kernelHeight * kernelWidth }
    var outPlane: Int { outHeight * outWidth }
    var inPlane: Int { height * width }

    /// The output columns `first..<last` whose input column `ow·strideW + shift` lies inside
    /// the image (`shift` = the kernel column's offset minus the padding).
    @inline(__always)
    func validColumns(shift: Int) -> (first: Int, last: Int) {
        // ceil(−shift / stride) and floor((width − 1 − shift) / stride) + 1, for either sign
        let first = shift >= 0 ? 0 : (-shift + strideW - 1) / strideW
        let span = width - 1 - shift
        let last = span < 0 ? 0 : span / strideW + 1
        let clampedFirst = min(first, outWidth)
        return (clampedFirst, max(clampedFirst, min(last, outWidth)))
    }

    /// How many samples to unfold at once so that one GEMM has enough columns to run well.
    /// One sample when its plane alone is wide enough (28×28): the product then lands in the
    /// output directly, with no copy out of a side-by-side matrix.
    var samplesPerChunk: Int {
        let columns = max(outPlane, 1)
        let byWidth = max(1, 1024 / columns)
        let byMemory = max(1, (8 << 20) / max(1, patchSize * columns * 4))
        return min(batch, byWidth, byMemory)
    }
}

extension Kernels {
    /// Unfolds one group of one sample into columns `[patchSize, outPlane]` of a matrix whose
    /// rows are `rowStride` long (several samples sit side by side in one matrix).
    static func im2col(
        _ input: UnsafePointer<Float>, _ g: ConvGeometry,
        into columns: UnsafeMutablePointer<Float>, rowStride: Int
    ) {
        if usesPhasedUnfolding(g) { return phasedIm2col(input, g, into: columns, rowStride: rowStride) }
        let kh = g.kernelHeight, kw = g.kernelWidth
        Threads.parallelFor(g.patchSize, costPerItem: g.outPlane) { rows in
            for row in rows {
                let c = row / (kh * kw), i = (row / kw) % kh, j = row % kw
                let plane = input + c * g.inPlane
                let target = columns + row * rowStride
                for oh in 0..<g.outHeight {
                    let ih = oh * g.strideH - g.padH + i * g.dilationH
                    let out = target + oh * g.outWidth
                    if ih < 0 || ih >= g.height {
                        out.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let line = plane + ih * g.width
                    let shift = j * g.dilationW - g.padW
                    if g.strideW == 1 {
                        // Valid ow: 0 ≤ ow + shift < width.
                        let first = max(0, -shift), last = min(g.outWidth, g.width - shift)
                        if first > 0 { out.update(repeating: 0, count: min(first, g.outWidth)) }
                        if last > first { (out + first).update(from: line + first + shift, count: last - first) }
                        if last < g.outWidth { (out + max(last, 0)).update(repeating: 0, count: g.outWidth - max(last, 0)) }
                    } else {
                        // Valid ow: 0 ≤ ow·stride + shift < width; no test per element.
                        let (first, last) = g.validColumns(shift: shift)
                        for ow in 0..<first { out[ow] = 0 }
                        let source = line + shift, step = g.strideW
                        for ow in first..<last { out[ow] = source[ow * step] }
                        for ow in last..<g.outWidth { out[ow] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of ``im2col``: adds the columns back into one group of one sample (with a
    /// phased unfolding, writes them: each sample's gradient is folded once, into zeros).
    static func col2im(
        _ columns: UnsafePointer<Float>, _ g: ConvGeometry, rowStride: Int,
        into input: UnsafeMutablePointer<Float>
    ) {
        if usesPhasedUnfolding(g) { return phasedCol2im(columns, g, rowStride: rowStride, into: input) }
        let kh = g.kernelHeight, kw = g.kernelWidth
        // Each channel's plane is written only by its own rows, so channels split over threads.
        Threads.parallelFor(g.inPerGroup, costPerItem: kh * kw * g.outPlane) { channels in
            for c in channels {
                let plane = input + c * g.inPlane
                for i in 0..<kh {
                    for j in 0..<kw {
                        let source = columns + ((c * kh + i) * kw + j) * rowStride
                        let shift = j * g.dilationW - g.padW
                        for oh in 0..<g.outHeight {
                            let ih = oh * g.strideH - g.padH + i * g.dilationH
                            if ih < 0 || ih >= g.height { continue }
                            let line = plane + ih * g.width
                            let src = source + oh * g.outWidth
                            if g.strideW == 1 {
                                // Valid ow: 0 ≤ ow + shift < width; a plain vectorizable add.
                                let first = max(0, -shift), last = min(g.outWidth, g.width - shift)
                                if last > first {
                                    let target = line + shift
                                    for ow in first..<last { target[ow] += src[ow] }
                                }
                            } else {
                                let (first, last) = g.validColumns(shift: shift)
                                let target = line + shift, step = g.strideW
                                for ow in first..<last { target[ow * step] += src[ow] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether ``im2col`` and ``col2im`` go through the phased layout of the shifted products:
    /// ungrouped strided convolutions. Split into its stride phases, a strided convolution reads
    /// contiguous runs of each phase where the plain unfolding gathers every stride-th pixel.
    static func usesPhasedUnfolding(_ g: ConvGeometry) -> Bool { g.groups == 1 && (g.strideH > 1 || g.strideW > 1) }

    /// ``im2col`` through the phased layout: kernel tap (i, j) of channel c reads, for output
    /// row oh, `outWidth` consecutive pixels of its phase from its shift on.
    private static func phasedIm2col(_ input: UnsafePointer<Float>, _ g: ConvGeometry, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        let l = ShiftedLayout(g), taps = l.taps.count
        let phased = TensorStorage(uninitializedCount: g.strideH * g.strideW * l.phaseSize)
        pad(input, g, l, into: phased.pointer)
        for c in 0..<g.inChannels {
            for (tap, shift) in l.taps.enumerated() {
                gen_copy_rows(phased.pointer + shift + c * l.channelStride, l.phaseWidth, Int32(g.outHeight), Int32(g.outWidth),
                              columns + (c * taps + tap) * rowStride, g.outWidth)
            }
        }
    }

    /// ``col2im`` through the phased layout: the adjoint of ``phasedIm2col``.
    private static func phasedCol2im(_ columns: UnsafePointer<Float>, _ g: ConvGeometry, rowStride: Int, into input: UnsafeMutablePointer<Float>) {
        let l = ShiftedLayout(g), taps = l.taps.count
        let phased = TensorStorage(count: g.strideH * g.strideW * l.phaseSize, repeating: 0)
        for c in 0..<g.inChannels {
            for (tap, shift) in l.taps.enumerated() {
                gen_add_rows(columns + (c * taps + tap) * rowStride, g.outWidth, Int32(g.outHeight), Int32(g.outWidth),
                             phased.pointer + shift + c * l.channelStride, l.phaseWidth)
            }
        }
        unpad(phased.pointer, g, l, into: input)
    }

    /// Unfolds `samples` consecutive samples (from `first`) of one group side by side into
    /// `columns`, a `[patchSize, samples·outPlane]` matrix.
    private static func unfold(_ input: Tensor, _ g: ConvGeometry, first: Int, samples: Int, group: Int,
                               into columns: UnsafeMutablePointer<Float>) {
        for s in 0..<samples {
            let source = input.pointer + ((first + s) * g.inChannels + group * g.inPerGroup) * g.inPlane
            im2col(source, g, into: columns + s * g.outPlane, rowStride: samples * g.outPlane)
        }
    }

    /// One group's output gradient for `samples` samples as a `[outPerGroup, samples·outPlane]`
    /// matrix: copied into `scratch` when several samples must sit side by side, read in place
    /// for one.
    private static func gradientMatrix(_ gradOutput: Tensor, _ g: ConvGeometry, first: Int, samples: Int, group: Int,
                                       scratch: TensorStorage?) -> UnsafePointer<Float> {
        guard let scratch else {
            return UnsafePointer(gradOutput.pointer + (first * g.outChannels + group * g.outPerGroup) * g.outPlane)
        }
        let width = samples * g.outPlane
        for s in 0..<samples {
            for o in 0..<g.outPerGroup {
                let source = gradOutput.pointer + ((first + s) * g.outChannels + group * g.outPerGroup + o) * g.outPlane
                (scratch.pointer + o * width + s * g.outPlane).update(from: source, count: g.outPlane)
            }
        }
        return UnsafePointer(scratch.pointer)
    }

    /// The multiply–adds of one sample's convolution: the cost the batch is split by.
    private static func sampleCost(_ g: ConvGeometry) -> Int { g.outChannels * g.patchSize * g.outPlane }

    /// Convolution: `[N, C, H, W] ⊛ [O, C/g, kh, kw] (+ bias [O]) → [N, O, OH, OW]`.
    ///
    /// 3×3 stride-1 "same" convolutions run by Winograd (`Kernels+Winograd.swift`), 4×4
    /// stride-2 ones by Winograd over their stride phases (`Kernels+StridedWinograd.swift`), other
    /// ungrouped ones as shifted products (`Kernels+ShiftedConvolution.swift`); grouped ones
    /// unfold (im2col) and multiply here. Either way the batch is split over the
    /// threads, each with its own single-threaded products: no thread waits for another until
    /// the end.
    static func convolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let output = Tensor(uninitializedShape: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        if usesWinograd(g) {
            winogradConvolve(input, weight, bias: bias, g, into: output)
        } else if usesStridedWinograd(g) {
            stridedWinogradConvolve(input, weight, bias: bias, g, into: output)
        } else if usesShiftedProducts(g) {
            shiftedConvolve(input, weight, bias: bias, g, into: output)
        } else {
            Threads.parallelFor(g.batch, costPerItem: sampleCost(g)) { samples in
                convolve(input, weight, g, samples: samples, into: output)
            }
            if let bias { addChannelBias(output, bias) }
        }
        return output
    }

    /// Walks `range`'s samples in chunks of ``ConvGeometry/samplesPerChunk`` and every group,
    /// giving `body` the chunk's first sample and size, the group, scratch for the unfolded
    /// columns `[patchSize, samples·outPlane]`, and scratch for a side-by-side
    /// `[outPerGroup, samples·outPlane]` matrix (nil when chunks are single samples, whose
    /// matrices are read or written in place).
    private static func forEachChunk(
        _ g: ConvGeometry, _ range: Range<Int>,
        _ body: (_ first: Int, _ samples: Int, _ group: Int, _ columns: UnsafeMutablePointer<Float>, _ sideBySide: TensorStorage?) -> Void
    ) {
        let chunk = min(g.samplesPerChunk, range.count)
        let columns = TensorStorage(uninitializedCount: g.patchSize * chunk * g.outPlane)
        let sideBySide = chunk > 1 ? TensorStorage(uninitializedCount: g.outPerGroup * chunk * g.outPlane) : nil
        for first in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
            for group in 0..<g.groups { body(first, min(chunk, range.upperBound - first), group, columns.pointer, sideBySide) }
        }
    }

    private static func convolve(_ input: Tensor, _ weight: Tensor, _ g: ConvGeometry, samples range: Range<Int>, into output: Tensor) {
        forEachChunk(g, range) { first, samples, group, columns, product in
            let width = samples * g.outPlane
            unfold(input, g, first: first, samples: samples, group: group, into: columns)
            let weights = weight.pointer + group * g.outPerGroup * g.patchSize
            if let product {
                sgemm(transposeA: false, transposeB: false, m: g.outPerGroup, n: width, k: g.patchSize,
                      a: weights, lda: g.patchSize, b: columns, ldb: width, c: product.pointer, ldc: width)
                for s in 0..<samples {
                    for o in 0..<g.outPerGroup {
                        let target = output.pointer + ((first + s) * g.outChannels + group * g.outPerGroup + o) * g.outPlane
                        target.update(from: product.pointer + o * width + s * g.outPlane, count: g.outPlane)
                    }
                }
            } else {
                let target = output.pointer + (first * g.outChannels + group * g.outPerGroup) * g.outPlane
                sgemm(transposeA: false, transposeB: false, m: g.outPerGroup, n: width, k: g.patchSize,
                      a: weights, lda: g.patchSize, b: columns, ldb: width, c: target, ldc: width)
            }
        }
    }

    /// The gradient of ``convolve(_:_:bias:_:)`` with respect to its input: `[N, O, OH, OW] → [N, C, H, W]`.
    /// It is also the forward pass of a transposed convolution. Split over the batch like the forward pass.
    static func convolveBackwardInput(_ gradOutput: Tensor, _ weight: Tensor, _ g: ConvGeometry) -> Tensor {
        let gradInput = Tensor(uninitializedShape: [g.batch, g.inChannels, g.height, g.width])
        if usesWinograd(g) {
            winogradConvolveBackwardInput(gradOutput, weight, g, into: gradInput)
            return gradInput
        }
        if usesStridedWinograd(g) {
            stridedWinogradConvolveBackwardInput(gradOutput, weight, g, into: gradInput)
            return gradInput
        }
        if usesShiftedProducts(g) {
            shiftedConvolveBackwardInput(gradOutput, weight, g, into: gradInput)
            return gradInput
        }
        Threads.parallelFor(g.batch, costPerItem: sampleCost(g)) { range in
            let sampleSize = g.inChannels * g.inPlane
            (gradInput.pointer + range.lowerBound * sampleSize).update(repeating: 0, count: range.count * sampleSize)
            forEachChunk(g, range) { first, samples, group, columns, gathered in
                let width = samples * g.outPlane
                let gradient = gradientMatrix(gradOutput, g, first: first, samples: samples, group: group, scratch: gathered)
                let weights = weight.pointer + group * g.outPerGroup * g.patchSize
                sgemm(transposeA: true, transposeB: false, m: g.patchSize, n: width, k: g.outPerGroup,
                      a: weights, lda: g.patchSize, b: gradient, ldb: width, c: columns, ldc: width)
                for s in 0..<samples {
                    let target = gradInput.pointer + ((first + s) * g.inChannels + group * g.inPerGroup) * g.inPlane
                    col2im(columns + s * g.outPlane, g, rowStride: width, into: target)
                }
            }
        }
        return gradInput
    }

    /// The gradient of ``convolve(_:_:bias:_:)`` with respect to its weight: `[O, C/g, kh, kw]`.
    /// Each thread sums its samples' contributions; the partial sums are added in a fixed order.
    static func convolveBackwardWeight(_ input: Tensor, _ gradOutput: Tensor, _ g: ConvGeometry) -> Tensor {
        if usesWinograd(g) { return winogradConvolveBackwardWeight(input, gradOutput, g) }
        if usesStridedWinograd(g) { return stridedWinogradConvolveBackwardWeight(input, gradOutput, g) }
        if usesShiftedProducts(g) { return shiftedConvolveBackwardWeight(input, gradOutput, g) }
        let partials = Threads.parallelMap(g.batch, costPerItem: sampleCost(g)) { range -> TensorStorage in
            let gradWeight = TensorStorage(count: g.outChannels * g.patchSize, repeating: 0)
            forEachChunk(g, range) { first, samples, group, columns, gathered in
                let width = samples * g.outPlane
                unfold(input, g, first: first, samples: samples, group: group, into: columns)
                let gradient = gradientMatrix(gradOutput, g, first: first, samples: samples, group: group, scratch: gathered)
                sgemm(transposeA: false, transposeB: true, m: g.outPerGroup, n: g.patchSize, k: width,
                      a: gradient, lda: width, b: columns, ldb: width,
                      beta: 1, c: gradWeight.pointer + group * g.outPerGroup * g.patchSize, ldc: g.patchSize)
            }
            return gradWeight
        }
        let count = g.outChannels * g.patchSize
        guard let total = partials.first else {
            return Tensor(shape: [g.outChannels, g.inPerGroup, g.kernelHeight, g.kernelWidth], storage: TensorStorage(count: count, repeating: 0))
        }
        for partial in partials.dropFirst() {
            for i in 0..<count { total.pointer[i] += partial.pointer[i] }
        }
        return Tensor(shape: [g.outChannels, g.inPerGroup, g.kernelHeight, g.kernelWidth], storage: total)
    }

    /// Adds `bias[c]` to every element of channel `c` of `[N, C, …]` in place.
    static func addChannelBias(_ x: Tensor, _ bias: Tensor) {
        let channels = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        let p = x.pointer, b = bias.pointer
        Threads.parallelFor(x.shape[0] * channels, costPerItem: plane) { range in
            for row in range {
                let value = b[row % channels], q = p + row * plane
                for i in 0..<plane { q[i] += value }
            }
        }
    }

    /// Sums `[N, C, …]` over every axis but the channel axis: `[C]`.
    static func sumPerChannel(_ x: Tensor) -> Tensor {
        let channels = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        let result = Tensor(shape: [channels], storage: TensorStorage(count: channels, repeating: 0))
        let p = x.pointer, out = result.pointer, batch = x.shape[0]
        // channels split over the threads; each channel's samples added in order
        Threads.parallelFor(channels, costPerItem: batch * plane) { range in
            for c in range {
                var total: Double = 0
                for n in 0..<batch {
                    let q = p + (n * channels + c) * plane
                    total += laneSum(plane) { q[$0] }
                }
                out[c] = Float(total)
            }
        }
        return result
    }
}
