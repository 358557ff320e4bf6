import Foundation

/// Stride-1 convolutions without im2col: one product per kernel tap on a shifted view.
///
/// Pad each input plane once into a `[C, Hp·Wp]` matrix (Hp = H + 2·padH, Wp = W + 2·padW).
/// Output row `oh`, column `ow` then reads input `(oh + i·dh, ow + j·dw)` for tap `(i, j)`, at
/// flat index `q + shift(i, j)` with `q = oh·Wp + ow` and `shift = i·dh·Wp + j·dw`. So the
/// output in a "wide" layout `[O, OH·Wp]` (Wp columns per row; the last `Wp − OW` of each row
/// are junk and dropped) is `Σ_taps W_tap · padded[:, shift_tap ..< shift_tap + OH·Wp]`, with
/// `W_tap = W[:, :, i, j]` as an `[O, C]` matrix: kh·kw products of depth C, reading the
/// padded input in place instead of writing it out nine times as im2col does. The backward
/// passes are the adjoint products on the same views.
extension Kernels {
    /// Whether the shifted products serve this geometry: stride 1, one group. (Measured on the
    /// benchmark models they beat im2col at every plane size down to 7×7.)
    static func usesShiftedProducts(_ g: ConvGeometry) -> Bool {
        g.strideH == 1 && g.strideW == 1 && g.groups == 1
    }

    /// The padded layout of one sample.
    private struct ShiftedLayout {
        let paddedHeight: Int, paddedWidth: Int
        /// Floats per channel: the padded plane plus the reach of the last tap past its end.
        let channelStride: Int
        /// Columns of the wide output: OH rows of Wp.
        let wideColumns: Int
        let taps: [Int]
        /// No padding and no reach past the plane (a 1×1 kernel): the input is its own padded
        /// layout and the output its own wide layout, read and written in place.
        let inPlace: Bool

        init(_ g: ConvGeometry) {
            inPlace = g.padH == 0 && g.padW == 0 && g.kernelWidth == 1 && g.kernelHeight == 1
            paddedHeight = g.height + 2 * g.padH
            paddedWidth = g.width + 2 * g.padW
            channelStride = paddedHeight * paddedWidth + (g.kernelWidth - 1) * g.dilationW
            wideColumns = g.outHeight * paddedWidth
            var taps: [Int] = []
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth { taps.append(i * g.dilationH * paddedWidth + j * g.dilationW) }
            }
            self.taps = taps
        }
    }

    /// `[O, C, kh, kw]` → `[kh·kw, O, C]`: one contiguous `[O, C]` matrix per tap.
    private static func tapMatrices(_ weight: Tensor, _ g: ConvGeometry) -> TensorStorage {
        let taps = g.kernelHeight * g.kernelWidth, c = g.inChannels
        let result = TensorStorage(uninitializedCount: taps * g.outChannels * c)
        let w = weight.pointer, r = result.pointer
        for o in 0..<g.outChannels {
            for ci in 0..<c {
                for tap in 0..<taps { r[(tap * g.outChannels + o) * c + ci] = w[(o * c + ci) * taps + tap] }
            }
        }
        return result
    }

    /// Copies one sample `[C, H, W]` into the zero-bordered padded layout.
    private static func pad(_ source: UnsafePointer<Float>, _ g: ConvGeometry, _ l: ShiftedLayout, into padded: UnsafeMutablePointer<Float>) {
        padded.update(repeating: 0, count: g.inChannels * l.channelStride)
        for c in 0..<g.inChannels {
            for h in 0..<g.height {
                (padded + c * l.channelStride + (h + g.padH) * l.paddedWidth + g.padW)
                    .update(from: source + (c * g.height + h) * g.width, count: g.width)
            }
        }
    }

    /// Copies one sample's output gradient `[O, OH, OW]` into the wide layout, junk columns zero.
    private static func widen(_ source: UnsafePointer<Float>, _ g: ConvGeometry, _ l: ShiftedLayout, into wide: UnsafeMutablePointer<Float>) {
        wide.update(repeating: 0, count: g.outChannels * l.wideColumns)
        for o in 0..<g.outChannels {
            for oh in 0..<g.outHeight {
                (wide + o * l.wideColumns + oh * l.paddedWidth).update(from: source + (o * g.outHeight + oh) * g.outWidth, count: g.outWidth)
            }
        }
    }

    /// The forward pass by shifted products, the batch split over the threads.
    static func shiftedConvolve(_ input: Tensor, _ weight: Tensor, _ g: ConvGeometry, into output: Tensor) {
        let l = ShiftedLayout(g), taps = tapMatrices(weight, g)
        Threads.parallelFor(g.batch, costPerItem: g.outChannels * g.patchSize * g.outPlane) { samples in
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.inChannels * l.channelStride)
            let wide = l.inPlace ? nil : TensorStorage(uninitializedCount: g.outChannels * l.wideColumns)
            for n in samples {
                let sample = input.pointer + n * g.inChannels * g.inPlane
                let target = output.pointer + n * g.outChannels * g.outPlane
                if let padded { pad(sample, g, l, into: padded.pointer) }
                let source = UnsafePointer(padded?.pointer ?? sample), product = wide?.pointer ?? target
                for (index, shift) in l.taps.enumerated() {
                    sgemm(transposeA: false, transposeB: false, m: g.outChannels, n: l.wideColumns, k: g.inChannels,
                          a: taps.pointer + index * g.outChannels * g.inChannels, lda: g.inChannels,
                          b: source + shift, ldb: l.channelStride,
                          beta: index == 0 ? 0 : 1, c: product, ldc: l.wideColumns)
                }
                guard let wide else { continue }
                // drop the junk columns
                for o in 0..<g.outChannels {
                    for oh in 0..<g.outHeight {
                        (target + (o * g.outHeight + oh) * g.outWidth).update(from: wide.pointer + o * l.wideColumns + oh * l.paddedWidth, count: g.outWidth)
                    }
                }
            }
        }
    }

    /// The input gradient by shifted products: each tap's `W_tapᵀ · wide gradient` is added at
    /// its shift into a padded gradient, whose interior is the result.
    static func shiftedConvolveBackwardInput(_ gradOutput: Tensor, _ weight: Tensor, _ g: ConvGeometry, into gradInput: Tensor) {
        let l = ShiftedLayout(g), taps = tapMatrices(weight, g)
        Threads.parallelFor(g.batch, costPerItem: g.outChannels * g.patchSize * g.outPlane) { samples in
            let wide = l.inPlace ? nil : TensorStorage(uninitializedCount: g.outChannels * l.wideColumns)
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.inChannels * l.channelStride)
            for n in samples {
                let gradient = gradOutput.pointer + n * g.outChannels * g.outPlane
                let target = gradInput.pointer + n * g.inChannels * g.inPlane
                if let wide { widen(gradient, g, l, into: wide.pointer) }
                padded?.pointer.update(repeating: 0, count: g.inChannels * l.channelStride)
                let source = UnsafePointer(wide?.pointer ?? gradient), sums = padded?.pointer ?? target
                for (index, shift) in l.taps.enumerated() {
                    sgemm(transposeA: true, transposeB: false, m: g.inChannels, n: l.wideColumns, k: g.outChannels,
                          a: taps.pointer + index * g.outChannels * g.inChannels, lda: g.inChannels,
                          b: source, ldb: l.wideColumns,
                          beta: l.inPlace ? 0 : 1, c: sums + shift, ldc: l.channelStride)
                }
                guard let padded else { continue }
                for c in 0..<g.inChannels {
                    for h in 0..<g.height {
                        (target + (c * g.height + h) * g.width)
                            .update(from: padded.pointer + c * l.channelStride + (h + g.padH) * l.paddedWidth + g.padW, count: g.width)
                    }
                }
            }
        }
    }

    /// The weight gradient by shifted products: per tap, `wide gradient · shifted inputᵀ`,
    /// summed over each thread's samples, then over the threads in a fixed order.
    static func shiftedConvolveBackwardWeight(_ input: Tensor, _ gradOutput: Tensor, _ g: ConvGeometry) -> Tensor {
        let l = ShiftedLayout(g), tapCount = l.taps.count, tapSize = g.outChannels * g.inChannels
        let partials = Threads.parallelMap(g.batch, costPerItem: g.outChannels * g.patchSize * g.outPlane) { samples -> TensorStorage in
            let sums = TensorStorage(count: tapCount * tapSize, repeating: 0)
            let wide = l.inPlace ? nil : TensorStorage(uninitializedCount: g.outChannels * l.wideColumns)
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.inChannels * l.channelStride)
            for n in samples {
                let gradient = gradOutput.pointer + n * g.outChannels * g.outPlane
                let sample = input.pointer + n * g.inChannels * g.inPlane
                if let wide { widen(gradient, g, l, into: wide.pointer) }
                if let padded { pad(sample, g, l, into: padded.pointer) }
                let a = UnsafePointer(wide?.pointer ?? gradient), b = UnsafePointer(padded?.pointer ?? sample)
                for (index, shift) in l.taps.enumerated() {
                    sgemm(transposeA: false, transposeB: true, m: g.outChannels, n: g.inChannels, k: l.wideColumns,
                          a: a, lda: l.wideColumns, b: b + shift, ldb: l.channelStride,
                          beta: 1, c: sums.pointer + index * tapSize, ldc: g.inChannels)
                }
            }
            return sums
        }
        let gradWeight = Tensor(shape: [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth],
                                storage: TensorStorage(count: g.outChannels * g.patchSize, repeating: 0))
        let w = gradWeight.pointer
        for partial in partials {
            let p = partial.pointer
            for tap in 0..<tapCount {
                for o in 0..<g.outChannels {
                    for c in 0..<g.inChannels { w[(o * g.inChannels + c) * tapCount + tap] += p[(tap * g.outChannels + o) * g.inChannels + c] }
                }
            }
        }
        return gradWeight
    }
}
