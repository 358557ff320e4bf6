import Foundation

/// The window of a 2-D pooling: kernel, stride and zero padding, per axis.
struct PoolGeometry {
    var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padH: Int, padW: Int
    var height: Int, width: Int

    var outHeight: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    var outWidth: Int { (width + 2 * padW - kernelW) / strideW + 1 }
}

extension Kernels {
    /// Average pooling over `[N, C, H, W]`; padding counts as zeros (PyTorch's default).
    static func averagePool(_ x: Tensor, _ p: PoolGeometry) -> Tensor {
        let planes = x.shape[0] * x.shape[1]
        let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], p.outHeight, p.outWidth])
        let scale = 1 / Float(p.kernelH * p.kernelW)
        let source = x.pointer, target = result.pointer
        Threads.parallelFor(planes, costPerItem: p.height * p.width) { range in
            for plane in range {
                let s = source + plane * p.height * p.width, t = target + plane * p.outHeight * p.outWidth
                for oh in 0..<p.outHeight {
                    for ow in 0..<p.outWidth {
                        var total: Float = 0
                        for i in 0..<p.kernelH {
                            let ih = oh * p.strideH - p.padH + i
                            if ih < 0 || ih >= p.height { continue }
                            for j in 0..<p.kernelW {
                                let iw = ow * p.strideW - p.padW + j
                                if iw >= 0 && iw < p.width { total += s[ih * p.width + iw] }
                            }
                        }
                        t[oh * p.outWidth + ow] = total * scale
                    }
                }
            }
        }
        return result
    }

    /// The adjoint of ``averagePool(_:_:)``.
    static func averagePoolBackward(_ gradient: Tensor, _ p: PoolGeometry, inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * inputShape[1]
        let result = Tensor(shape: inputShape, storage: TensorStorage(count: inputShape.reduce(1, *), repeating: 0))
        let scale = 1 / Float(p.kernelH * p.kernelW)
        let source = gradient.pointer, target = result.pointer
        Threads.parallelFor(planes, costPerItem: p.height * p.width) { range in
            for plane in range {
                let s = source + plane * p.outHeight * p.outWidth, t = target + plane * p.height * p.width
                for oh in 0..<p.outHeight {
                    for ow in 0..<p.outWidth {
                        let g = s[oh * p.outWidth + ow] * scale
                        for i in 0..<p.kernelH {
                            let ih = oh * p.strideH - p.padH + i
                            if ih < 0 || ih >= p.height { continue }
                            for j in 0..<p.kernelW {
                                let iw = ow * p.strideW - p.padW + j
                                if iw >= 0 && iw < p.width { t[ih * p.width + iw] += g }
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Max pooling over `[N, C, H, W]` (padding never wins); also returns, for each output, the
    /// flat index within its plane of the input element that won.
    static func maxPool(_ x: Tensor, _ p: PoolGeometry) -> (Tensor, [Int32]) {
        let planes = x.shape[0] * x.shape[1]
        let outPlane = p.outHeight * p.outWidth
        let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], p.outHeight, p.outWidth])
        var winners = [Int32](repeating: 0, count: planes * outPlane)
        let source = x.pointer, target = result.pointer
        winners.withUnsafeMutableBufferPointer { winners in
            let w = winners.baseAddress!
            Threads.parallelFor(planes, costPerItem: p.height * p.width) { range in
                for plane in range {
                    let s = source + plane * p.height * p.width
                    for oh in 0..<p.outHeight {
                        for ow in 0..<p.outWidth {
                            var best = -Float.infinity, bestIndex = -1
                            for i in 0..<p.kernelH {
                                let ih = oh * p.strideH - p.padH + i
                                if ih < 0 || ih >= p.height { continue }
                                for j in 0..<p.kernelW {
                                    let iw = ow * p.strideW - p.padW + j
                                    if iw < 0 || iw >= p.width { continue }
                                    let v = s[ih * p.width + iw]
                                    if bestIndex < 0 || v > best || v.isNaN { best = v; bestIndex = ih * p.width + iw }
                                }
                            }
                            let o = plane * outPlane + oh * p.outWidth + ow
                            target[o] = best
                            w[o] = Int32(bestIndex)
                        }
                    }
                }
            }
        }
        return (result, winners)
    }

    /// The adjoint of ``maxPool(_:_:)``: each output's gradient goes to the element that won.
    static func maxPoolBackward(_ gradient: Tensor, winners: [Int32], inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * inputShape[1], plane = inputShape[2] * inputShape[3]
        let outPlane = gradient.count / max(planes, 1)
        let result = Tensor(shape: inputShape, storage: TensorStorage(count: inputShape.reduce(1, *), repeating: 0))
        let source = gradient.pointer, target = result.pointer
        winners.withUnsafeBufferPointer { w in
            for p in 0..<planes {
                for o in 0..<outPlane where w[p * outPlane + o] >= 0 {
                    target[p * plane + Int(w[p * outPlane + o])] += source[p * outPlane + o]
                }
            }
        }
        return result
    }

    /// Nearest-neighbour upsampling of `[N, C, H, W]` by integer factors.
    static func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], h * scaleH, w * scaleW])
        let source = x.pointer, target = result.pointer
        let outW = w * scaleW
        Threads.parallelFor(x.shape[0] * x.shape[1] * h, costPerItem: outW * scaleH) { rows in
            for row in rows {
                let s = source + row * w, t = target + row * scaleH * outW
                for iw in 0..<w {
                    let v = s[iw]
                    for j in 0..<scaleW { t[iw * scaleW + j] = v }
                }
                for i in 1..<max(scaleH, 1) { (t + i * outW).update(from: t, count: outW) }
            }
        }
        return result
    }

    /// The adjoint of ``upsampleNearest(_:scaleH:scaleW:)``: sums each block.
    static func upsampleNearestBackward(_ gradient: Tensor, scaleH: Int, scaleW: Int) -> Tensor {
        let (oh, ow) = (gradient.shape[2], gradient.shape[3])
        let (h, w) = (oh / scaleH, ow / scaleW)
        let result = Tensor(uninitializedShape: [gradient.shape[0], gradient.shape[1], h, w])
        let source = gradient.pointer, target = result.pointer
        Threads.parallelFor(gradient.shape[0] * gradient.shape[1] * h, costPerItem: ow * scaleH) { rows in
            for row in rows {
                let t = target + row * w
                for iw in 0..<w {
                    var total: Float = 0
                    for i in 0..<scaleH {
                        let s = source + (row * scaleH + i) * ow + iw * scaleW
                        for j in 0..<scaleW { total += s[j] }
                    }
                    t[iw] = total
                }
            }
        }
        return result
    }
}
