import CKernels
import Foundation

/// Convolutions without im2col: one product per kernel tap on a shifted view of the input.
///
/// Pad each input plane once (Hp = H + 2·padH, Wp = W + 2·padW). With stride 1, output row
/// `oh`, column `ow` reads padded `(oh + i·dh, ow + j·dw)` for tap `(i, j)`: flat index
/// `q + shift(i, j)` with `q = oh·Wp + ow`, `shift = i·dh·Wp + j·dw`. So the output in a "wide"
/// layout `[O, OH·Wp]` (Wp columns per row; the last `Wp − OW` of each row are junk and
/// dropped) is `Σ_taps W_tap · padded[:, shift_tap ..< shift_tap + OH·Wp]`, `W_tap = W[:, :, i, j]`
/// as an `[O, C]` matrix: kh·kw products of depth C that read the padded input in place
/// instead of writing it out kh·kw times as im2col does.
///
/// Stride s splits the padded plane into s² phases, phase (ρ, τ) holding the pixels at rows
/// ≡ ρ and columns ≡ τ (mod s), each `Hq × Wq` (Hq = ⌈Hp/s⌉). Padded pixel (s·oh + R, s·ow + C)
/// is pixel (oh + R/s, ow + C/s) of phase (R mod s, C mod s), so every tap is again a shift,
/// within one phase. The backward passes are the adjoint products on the same views.
extension Kernels {
    /// Whether the shifted products serve this geometry: one group and at least four input
    /// channels. (Measured on the benchmark models they beat im2col at every plane size down
    /// to 7×7 and at stride 2, even when im2col unfolds the phased layout; with one to three
    /// input channels a tap's product has depth 1–3, and one im2col product of depth kh·kw·C
    /// does better.)
    static func usesShiftedProducts(_ g: ConvGeometry) -> Bool { g.groups == 1 && g.inChannels >= 4 }

    /// The phase layout of one sample.
    struct ShiftedLayout {
        let paddedWidth: Int
        /// The size of one phase: ⌈Hp / strideH⌉ × ⌈Wp / strideW⌉.
        let phaseHeight: Int, phaseWidth: Int
        /// Floats per channel of a phase: the phase plus the reach of the last tap past its end.
        let channelStride: Int
        /// Floats per phase: `channels × channelStride`.
        let phaseSize: Int
        /// Columns of the wide output: OH rows of Wq.
        let wideColumns: Int
        /// Each tap's offset into the phased input: its phase's start plus its shift there.
        let taps: [Int]
        /// Stride 1, no padding, a 1×1 kernel: the input is its own phased layout and the
        /// output its own wide layout, read and written in place.
        let inPlace: Bool

        init(_ g: ConvGeometry) {
            let paddedHeight = g.height + 2 * g.padH
            paddedWidth = g.width + 2 * g.padW
            phaseHeight = (paddedHeight + g.strideH - 1) / g.strideH
            phaseWidth = (paddedWidth + g.strideW - 1) / g.strideW
            channelStride = phaseHeight * phaseWidth + (g.kernelWidth - 1) * g.dilationW / g.strideW
            phaseSize = g.inChannels * channelStride
            wideColumns = g.outHeight * phaseWidth
            var taps: [Int] = []
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let row = i * g.dilationH, column = j * g.dilationW
                    let phase = (row % g.strideH) * g.strideW + column % g.strideW
                    taps.append(phase * phaseSize + (row / g.strideH) * phaseWidth + column / g.strideW)
                }
            }
            self.taps = taps
            inPlace = g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0 && g.kernelWidth == 1 && g.kernelHeight == 1
        }
    }

    /// `[O, C, kh, kw]` → `[kh·kw, O, C]`: one contiguous `[O, C]` matrix per tap. Output channels
    /// split over the threads; each one's `[C, kh·kw]` block is small enough to read across
    /// from cache while the rows it becomes are written straight through.
    private static func tapMatrices(_ weight: Tensor, _ g: ConvGeometry) -> TensorStorage {
        let taps = g.kernelHeight * g.kernelWidth, c = g.inChannels, o = g.outChannels
        let result = TensorStorage(uninitializedCount: taps * o * c)
        let w = weight.pointer, r = result.pointer
        Threads.parallelFor(o, costPerItem: taps * c) { channels in
            for oc in channels {
                let block = w + oc * c * taps
                for tap in 0..<taps {
                    let row = r + (tap * o + oc) * c
                    for ci in 0..<c { row[ci] = block[ci * taps + tap] }
                }
            }
        }
        return result
    }

    /// Copies one sample `[C, H, W]` into the zero-bordered phased layout.
    static func pad(_ source: UnsafePointer<Float>, _ g: ConvGeometry, _ l: ShiftedLayout, into padded: UnsafeMutablePointer<Float>) {
        if g.strideH == 1 && g.strideW == 1 {
            // One phase: zero only the border around each row copy, not the whole buffer.
            let width = l.paddedWidth
            for c in 0..<g.inChannels {
                let plane = padded + c * l.channelStride
                var end = 0  // everything before `end` is written
                for h in 0..<g.height {
                    let start = (h + g.padH) * width + g.padW
                    (plane + end).update(repeating: 0, count: start - end)
                    (plane + start).update(from: source + (c * g.height + h) * g.width, count: g.width)
                    end = start + g.width
                }
                (plane + end).update(repeating: 0, count: l.channelStride - end)
            }
            return
        }
        padded.update(repeating: 0, count: g.strideH * g.strideW * l.phaseSize)
        if g.strideW == 2 {
            // Both column phases of a row at once (CKernels' split; rows of one row phase are
            // phaseWidth apart in the layout).
            forEachRowPhase(g, l) { line, rows, even, odd in
                gen_split_columns(source + line, g.strideH * g.width, Int32(rows), Int32(g.width), padded + even, padded + odd, l.phaseWidth)
            }
            return
        }
        forEachPhasedRun(g, l) { line, start, step, target, count in
            if step == 1 {
                (padded + target).update(from: source + line + start, count: count)
            } else {
                for k in 0..<count { padded[target + k] = source[line + start + k * step] }
            }
        }
    }

    /// The adjoint of ``pad``: the input's pixels out of the phased layout.
    static func unpad(_ padded: UnsafePointer<Float>, _ g: ConvGeometry, _ l: ShiftedLayout, into target: UnsafeMutablePointer<Float>) {
        if g.strideW == 2 {
            // The reverse of pad's split: each row interleaved from its two column phases.
            forEachRowPhase(g, l) { line, rows, even, odd in
                gen_merge_columns(padded + even, padded + odd, l.phaseWidth, Int32(rows), Int32(g.width), target + line, g.strideH * g.width)
            }
            return
        }
        forEachPhasedRun(g, l) { line, start, step, position, count in
            if step == 1 {
                (target + line + start).update(from: padded + position, count: count)
            } else {
                for k in 0..<count { target[line + start + k * step] = padded[position + k] }
            }
        }
    }

    /// With column stride 2: for every channel and row phase (the rows h ≡ first mod strideH),
    /// `body(offset of the first row in the input, rows, where its even columns w = 0, 2, … and its
    /// odd columns w = 1, 3, … start in the phased layout)`; each next row of the phase starts
    /// `phaseWidth` further on in both.
    @inline(__always)
    private static func forEachRowPhase(_ g: ConvGeometry, _ l: ShiftedLayout, _ body: (Int, Int, Int, Int) -> Void) {
        for c in 0..<g.inChannels {
            for first in 0..<min(g.strideH, g.height) {
                let row = first + g.padH, rows = (g.height - first + g.strideH - 1) / g.strideH
                let rowStart = (row % g.strideH) * 2 * l.phaseSize + c * l.channelStride + (row / g.strideH) * l.phaseWidth
                body((c * g.height + first) * g.width, rows,
                     rowStart + (g.padW % 2) * l.phaseSize + g.padW / 2, rowStart + ((1 + g.padW) % 2) * l.phaseSize + (1 + g.padW) / 2)
            }
        }
    }

    /// Walks the input's pixels as runs that are contiguous in the phased layout: for every
    /// channel, row and column phase, `body(line, first column, column step, position in the
    /// phased layout, count)`.
    @inline(__always)
    private static func forEachPhasedRun(_ g: ConvGeometry, _ l: ShiftedLayout, _ body: (Int, Int, Int, Int, Int) -> Void) {
        let sW = g.strideW
        for c in 0..<g.inChannels {
            for h in 0..<g.height {
                let row = h + g.padH, line = (c * g.height + h) * g.width
                let rowStart = (row % g.strideH) * sW * l.phaseSize + c * l.channelStride + (row / g.strideH) * l.phaseWidth
                for columnPhase in 0..<sW {
                    // the first column w with (w + padW) ≡ columnPhase (mod stride)
                    let first = ((columnPhase - g.padW) % sW + sW) % sW
                    guard first < g.width else { continue }
                    let count = (g.width - first + sW - 1) / sW
                    body(line, first, sW, rowStart + columnPhase * l.phaseSize + (first + g.padW) / sW, count)
                }
            }
        }
    }

    /// Copies one sample's output gradient `[O, OH, OW]` into the wide layout, junk columns zero.
    private static func widen(_ source: UnsafePointer<Float>, _ g: ConvGeometry, _ l: ShiftedLayout, into wide: UnsafeMutablePointer<Float>) {
        wide.update(repeating: 0, count: g.outChannels * l.wideColumns)
        for o in 0..<g.outChannels {
            for oh in 0..<g.outHeight {
                (wide + o * l.wideColumns + oh * l.phaseWidth).update(from: source + (o * g.outHeight + oh) * g.outWidth, count: g.outWidth)
            }
        }
    }

    /// Adds `value` to `count` floats in place.
    @inline(__always)
    private static func addToRow(_ row: UnsafeMutablePointer<Float>, count: Int, _ value: Float) {
        for i in 0..<count { row[i] += value }
    }

    /// The forward pass by shifted products (plus `bias [O]` per channel, if given), the batch
    /// split over the threads.
    static func shiftedConvolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, _ g: ConvGeometry, into output: Tensor) {
        let l = ShiftedLayout(g), taps = tapMatrices(weight, g)
        Threads.parallelFor(g.batch, costPerItem: g.outChannels * g.patchSize * g.outPlane) { samples in
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.strideH * g.strideW * l.phaseSize)
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
                guard let wide else {
                    if let bias { for o in 0..<g.outChannels { addToRow(target + o * g.outPlane, count: g.outPlane, bias.pointer[o]) } }
                    continue
                }
                // drop the junk columns, adding the bias on the way
                for o in 0..<g.outChannels {
                    let b = bias?.pointer[o] ?? 0
                    for oh in 0..<g.outHeight {
                        let from = wide.pointer + o * l.wideColumns + oh * l.phaseWidth, to = target + (o * g.outHeight + oh) * g.outWidth
                        for ow in 0..<g.outWidth { to[ow] = from[ow] + b }
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
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.strideH * g.strideW * l.phaseSize)
            for n in samples {
                let gradient = gradOutput.pointer + n * g.outChannels * g.outPlane
                let target = gradInput.pointer + n * g.inChannels * g.inPlane
                if let wide { widen(gradient, g, l, into: wide.pointer) }
                padded?.pointer.update(repeating: 0, count: g.strideH * g.strideW * l.phaseSize)
                let source = UnsafePointer(wide?.pointer ?? gradient), sums = padded?.pointer ?? target
                for (index, shift) in l.taps.enumerated() {
                    sgemm(transposeA: true, transposeB: false, m: g.inChannels, n: l.wideColumns, k: g.outChannels,
                          a: taps.pointer + index * g.outChannels * g.inChannels, lda: g.inChannels,
                          b: source, ldb: l.wideColumns,
                          beta: l.inPlace ? 0 : 1, c: sums + shift, ldc: l.channelStride)
                }
                if let padded { unpad(padded.pointer, g, l, into: target) }
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
            let padded = l.inPlace ? nil : TensorStorage(uninitializedCount: g.strideH * g.strideW * l.phaseSize)
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
        // the threads' sums in a fixed order, back to [O, C, kh, kw]; output channels split over the threads
        let gradWeight = Tensor(shape: [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth],
                                storage: TensorStorage(count: g.outChannels * g.patchSize, repeating: 0))
        let w = gradWeight.pointer
        Threads.parallelFor(g.outChannels, costPerItem: partials.count * g.patchSize) { channels in
            for o in channels {
                for partial in partials {
                    let p = partial.pointer
                    for tap in 0..<tapCount {
                        let row = p + (tap * g.outChannels + o) * g.inChannels, target = w + o * g.inChannels * tapCount + tap
                        for c in 0..<g.inChannels { target[c * tapCount] += row[c] }
                    }
                }
            }
        }
        return gradWeight
    }
}
