import CKernels

/// 4×4 stride-2 convolutions (a DCGAN's) by Winograd F(2×2, 2×2) over their stride phases.
///
/// Split into its four stride phases (the shifted products' phased layout), the input becomes
/// four times as many channels of planes half as wide and high, and kernel tap (2a + ρ, 2b + τ)
/// reads phase (ρ, τ) at shift (a, b): the convolution is a 2×2 stride-1 one over `4C` channels,
/// `W'[o][(2ρ + τ)·C + c][a][b] = W[o][c][2a + ρ][2b + τ]`. F(2×2, 2×2) computes each 2×2 output
/// tile with 9 multiplies per channel pair instead of 16, as 9 products
/// `M_tap [O, tiles] = U_tap [O, 4C] · V_tap [4C, tiles]` over the tiles of several samples. On
/// a DCGAN's 7×7 outputs the 4×4 tiles cover 8×8, so the products do 0.64 of the shifted
/// products' multiplies (which carry a junk column per output row).
///
/// The input gradient is again such a convolution: the output gradient, padded by one pixel
/// before, with `W'` turned half a turn and its channel axes swapped, gives the phases' gradient,
/// which is folded back into the input's. The weight gradient is the adjoint of the forward
/// products, `dU_tap = Σ_tiles dM_tap · V_tapᵀ` with `dM = A dY Aᵀ`, then `dW' = Gᵀ dU G`.
extension Kernels {
    /// Whether this path serves the geometry: ungrouped, 4×4, stride 2, no dilation (any
    /// padding), at least eight channels on each side.
    static func usesStridedWinograd(_ g: ConvGeometry) -> Bool {
        g.groups == 1 && g.kernelHeight == 4 && g.kernelWidth == 4 && g.strideH == 2 && g.strideW == 2
            && g.dilationH == 1 && g.dilationW == 1 && g.inChannels >= 8 && g.outChannels >= 8
    }

    /// `W` `[O, C, 4, 4]` as the phases' 2×2 kernels `W'`, then G W' Gᵀ: 9 matrices `[O, 4C]`; with
    /// `flipTranspose`, of `W'` turned half a turn, 9 matrices `[4C, O]`. `W'` is laid out as four
    /// planes, one per kernel position (a, b), so that the transform is sums of whole planes.
    private static func stridedWeights(_ weight: Tensor, _ g: ConvGeometry, flipTranspose: Bool) -> TensorStorage {
        let c = g.inChannels, o = g.outChannels, k = 4 * c, plane = o * k
        let planes = TensorStorage(uninitializedCount: 4 * plane), u = TensorStorage(uninitializedCount: 9 * plane)
        let w = weight.pointer, p = planes.pointer
        // tap (i, j) = (2a + ρ, 2b + τ) is position (a, b) of phase (ρ, τ)'s kernel, channel (2ρ + τ)·C + c;
        // each loop's innermost run writes consecutive floats
        Threads.parallelFor(o, costPerItem: 16 * c) { channels in
            for i in 0..<4 {
                for j in 0..<4 {
                    let (a, b) = flipTranspose ? (1 - i / 2, 1 - j / 2) : (i / 2, j / 2), first = (i % 2 * 2 + j % 2) * c
                    let target = p + (a * 2 + b) * plane, tap = i * 4 + j
                    if flipTranspose {
                        for ci in 0..<c {
                            let row = target + (first + ci) * o
                            for oc in channels { row[oc] = w[(oc * c + ci) * 16 + tap] }
                        }
                    } else {
                        for oc in channels {
                            let row = target + oc * k + first, kernels = w + oc * c * 16 + tap
                            for ci in 0..<c { row[ci] = kernels[ci * 16] }
                        }
                    }
                }
            }
        }
        Threads.parallelFor(9, costPerItem: 2 * plane) { taps in
            gen_winograd2_weight_planes(p, plane, Int32(taps.lowerBound), Int32(taps.upperBound), u.pointer)
        }
        return u
    }

    /// The forward pass (plus `bias [O]`, if given): Bᵀ d B of the phases' tiles, the products,
    /// Aᵀ m A into the output planes.
    static func stridedWinogradConvolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, _ g: ConvGeometry, into output: Tensor) {
        let l = ShiftedLayout(g), k = 4 * g.inChannels, o = g.outChannels
        let tilesH = (g.outHeight + 1) / 2, tilesW = (g.outWidth + 1) / 2
        winogradProducts(taps: 9, batch: g.batch, from: k, to: o, tiles: tilesH * tilesW, weights: stridedWeights(weight, g, flipTranspose: false),
                         scratchFloats: 4 * l.phaseSize) { n, target, tapStride, rowStride, phased in
            pad(input.pointer + n * g.inChannels * g.inPlane, g, l, into: phased)
            gen_winograd2_input(phased, Int32(k), l.channelStride, Int32(l.phaseHeight), Int32(l.phaseWidth), 0,
                                Int32(tilesH), Int32(tilesW), target, tapStride, rowStride)
        } emit: { n, products, tapStride, rowStride, _ in
            gen_winograd2_output(products, tapStride, rowStride, Int32(o), Int32(g.outHeight), Int32(g.outWidth),
                                 Int32(tilesH), Int32(tilesW), bias?.pointer, output.pointer + n * o * g.outPlane, g.outPlane)
        }
    }

    /// The input gradient: the phases' gradient as a 2×2 convolution of the output gradient
    /// (padded by one pixel before) with the turned, transposed kernels, folded into the input's.
    static func stridedWinogradConvolveBackwardInput(_ gradOutput: Tensor, _ weight: Tensor, _ g: ConvGeometry, into gradInput: Tensor) {
        let l = ShiftedLayout(g), k = 4 * g.inChannels, o = g.outChannels
        let tilesH = (l.phaseHeight + 1) / 2, tilesW = (l.phaseWidth + 1) / 2
        winogradProducts(taps: 9, batch: g.batch, from: o, to: k, tiles: tilesH * tilesW, weights: stridedWeights(weight, g, flipTranspose: true),
                         scratchFloats: 4 * l.phaseSize) { n, target, tapStride, rowStride, _ in
            gen_winograd2_input(gradOutput.pointer + n * o * g.outPlane, Int32(o), g.outPlane, Int32(g.outHeight), Int32(g.outWidth), -1,
                                Int32(tilesH), Int32(tilesW), target, tapStride, rowStride)
        } emit: { n, products, tapStride, rowStride, phased in
            gen_winograd2_output(products, tapStride, rowStride, Int32(k), Int32(l.phaseHeight), Int32(l.phaseWidth),
                                 Int32(tilesH), Int32(tilesW), nil, phased, l.channelStride)
            unpad(phased, g, l, into: gradInput.pointer + n * g.inChannels * g.inPlane)
        }
    }

    /// The weight gradient: per tap `dM_tap · V_tapᵀ` with `dM = A dY Aᵀ`, taken back through
    /// Gᵀ · G and out of the phases.
    static func stridedWinogradConvolveBackwardWeight(_ input: Tensor, _ gradOutput: Tensor, _ g: ConvGeometry) -> Tensor {
        let l = ShiftedLayout(g), c = g.inChannels, k = 4 * c, o = g.outChannels
        let tilesH = (g.outHeight + 1) / 2, tilesW = (g.outWidth + 1) / 2
        let gradWeight = Tensor(uninitializedShape: [o, c, 4, 4])
        let total = winogradWeightProducts(taps: 9, batch: g.batch, inputs: k, outputs: o, tiles: tilesH * tilesW,
                                           scratchFloats: 4 * l.phaseSize) { n, inputTiles, gradientTiles, inputStride, gradientStride, rowStride, phased in
            pad(input.pointer + n * c * g.inPlane, g, l, into: phased)
            gen_winograd2_input(phased, Int32(k), l.channelStride, Int32(l.phaseHeight), Int32(l.phaseWidth), 0,
                                Int32(tilesH), Int32(tilesW), inputTiles, inputStride, rowStride)
            gen_winograd2_gradient(gradOutput.pointer + n * o * g.outPlane, Int32(o), Int32(g.outHeight), Int32(g.outWidth),
                                   Int32(tilesH), Int32(tilesW), gradientTiles, gradientStride, rowStride)
        }
        guard let total else {
            gradWeight.pointer.update(repeating: 0, count: gradWeight.count)
            return gradWeight
        }
        // Gᵀ dU G into the phases' kernels, then back to [O, C, 4, 4]
        let phases = TensorStorage(uninitializedCount: o * k * 4)
        Threads.parallelFor(o, costPerItem: 40 * k) { channels in
            gen_winograd2_weights_adjoint(total.pointer, Int32(o), Int32(k), Int32(channels.lowerBound), Int32(channels.upperBound), phases.pointer)
            for oc in channels {
                for ci in 0..<c {
                    let kernel = gradWeight.pointer + (oc * c + ci) * 16
                    for phase in 0..<4 {
                        let (rho, tau) = (phase / 2, phase % 2), source = phases.pointer + ((oc * k) + phase * c + ci) * 4
                        for a in 0..<2 {
                            for b in 0..<2 { kernel[(2 * a + rho) * 4 + 2 * b + tau] = source[a * 2 + b] }
                        }
                    }
                }
            }
        }
        return gradWeight
    }
}
