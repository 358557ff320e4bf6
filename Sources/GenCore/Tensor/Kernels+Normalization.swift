import Foundation

/// What group normalization's forward pass keeps for the backward pass: each (sample, group)'s
/// mean and reciprocal standard deviation.
struct GroupNormStatistics {
    var mean: [Float]
    var inverseStd: [Float]
}

extension Kernels {
    /// `Σ term(i)` for `i < count`, in sixteen independent float sums (so the loop vectorizes
    /// instead of waiting on one running sum), folded into a double every 1,024 terms.
    @inline(__always)
    static func laneSum(_ count: Int, _ term: (Int) -> Float) -> Double {
        var total: Double = 0, start = 0
        while start < count {
            let end = min(count, start + 1024)
            var lanes = SIMD16<Float>()
            var i = start
            while i + 16 <= end {
                for lane in 0..<16 { lanes[lane] += term(i + lane) }
                i += 16
            }
            var rest: Float = 0
            while i < end { rest += term(i); i += 1 }
            total += Double(lanes.sum()) + Double(rest)
            start = end
        }
        return total
    }

    /// Group normalization of `[N, C, …]` (Wu & He 2018): normalize each sample's group of
    /// `C / groups` channels over those channels and all positions, then `·weight[c] + bias[c]`.
    static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, epsilon: Float) -> (Tensor, GroupNormStatistics) {
        let (batch, channels) = (x.shape[0], x.shape[1])
        let plane = x.shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groups, groupSize = perGroup * plane
        let y = Tensor(uninitializedShape: x.shape)
        var mean = [Float](repeating: 0, count: batch * groups), inverseStd = mean
        let source = x.pointer, target = y.pointer, w = weight.pointer, b = bias.pointer
        mean.withUnsafeMutableBufferPointer { meanBuffer in
            inverseStd.withUnsafeMutableBufferPointer { stdBuffer in
                let means = meanBuffer.baseAddress!, stds = stdBuffer.baseAddress!
                Threads.parallelFor(batch * groups, costPerItem: 3 * groupSize) { range in
                    for index in range {
                        let base = index * groupSize
                        // Two passes: the mean, then the centred sum of squares.
                        let group = source + base
                        let mu = laneSum(groupSize) { group[$0] } / Double(groupSize)
                        let muFloat = Float(mu)
                        let squares = laneSum(groupSize) { let d = group[$0] - muFloat; return d * d }
                        let rstd = Float(1 / (squares / Double(groupSize) + Double(epsilon)).squareRoot())
                        means[index] = muFloat
                        stds[index] = rstd
                        let firstChannel = (index % groups) * perGroup
                        for c in 0..<perGroup {
                            let scale = rstd * w[firstChannel + c], shift = b[firstChannel + c] - muFloat * scale
                            let row = base + c * plane
                            for i in 0..<plane { target[row + i] = source[row + i] * scale + shift }
                        }
                    }
                }
            }
        }
        return (y, GroupNormStatistics(mean: mean, inverseStd: inverseStd))
    }

    /// The gradients of ``groupNorm(_:groups:weight:bias:epsilon:)`` with respect to input,
    /// weight and bias. With x̂ the normalized input and ĝ = g·weight:
    /// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) over each group; dweight = Σ g·x̂; dbias = Σ g.
    static func groupNormBackward(_ gradient: Tensor, _ x: Tensor, groups: Int, weight: Tensor, statistics: GroupNormStatistics)
        -> (input: Tensor, weight: Tensor, bias: Tensor) {
        let (batch, channels) = (x.shape[0], x.shape[1])
        let plane = x.shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groups, groupSize = perGroup * plane
        let dx = Tensor(uninitializedShape: x.shape)
        // Per (sample, channel) partial sums, combined over samples in a fixed order.
        var partialWeight = [Float](repeating: 0, count: batch * channels), partialBias = partialWeight
        let g = gradient.pointer, source = x.pointer, target = dx.pointer, w = weight.pointer
        statistics.mean.withUnsafeBufferPointer { means in
            statistics.inverseStd.withUnsafeBufferPointer { stds in
                partialWeight.withUnsafeMutableBufferPointer { pw in
                    partialBias.withUnsafeMutableBufferPointer { pb in
                        let pwBase = pw.baseAddress!, pbBase = pb.baseAddress!
                        Threads.parallelFor(batch * groups, costPerItem: 4 * groupSize) { range in
                            for index in range {
                                let base = index * groupSize, n = index / groups
                                let mu = means[index], rstd = stds[index]
                                let firstChannel = (index % groups) * perGroup
                                var sumG: Double = 0, sumGX: Double = 0
                                for c in 0..<perGroup {
                                    let channel = firstChannel + c, row = base + c * plane
                                    let gradientRow = g + row, inputRow = source + row
                                    let channelG = Float(laneSum(plane) { gradientRow[$0] })
                                    let channelGX = Float(laneSum(plane) { gradientRow[$0] * ((inputRow[$0] - mu) * rstd) })
                                    pwBase[n * channels + channel] = channelGX
                                    pbBase[n * channels + channel] = channelG
                                    sumG += Double(channelG * w[channel])
                                    sumGX += Double(channelGX * w[channel])
                                }
                                let meanG = Float(sumG / Double(groupSize)), meanGX = Float(sumGX / Double(groupSize))
                                for c in 0..<perGroup {
                                    let scale = w[firstChannel + c], row = base + c * plane
                                    for i in 0..<plane {
                                        let normalized = (source[row + i] - mu) * rstd
                                        target[row + i] = rstd * (g[row + i] * scale - meanG - normalized * meanGX)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let dWeight = Tensor(shape: [channels], storage: TensorStorage(count: channels, repeating: 0))
        let dBias = Tensor(shape: [channels], storage: TensorStorage(count: channels, repeating: 0))
        for n in 0..<batch {
            for c in 0..<channels {
                dWeight.pointer[c] += partialWeight[n * channels + c]
                dBias.pointer[c] += partialBias[n * channels + c]
            }
        }
        return (dx, dWeight, dBias)
    }
}
