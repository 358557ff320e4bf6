import Foundation

extension Kernels {
    /// What a reduction computes over each group of elements.
    enum Reduction { case sum, max }

    /// Reduces `x` over `axes` (sorted, distinct), keeping them as size-1 dimensions.
    static func reduce(_ x: Tensor, axes: [Int], _ reduction: Reduction) -> Tensor {
        var current = x
        var shape = x.shape
        // Reduce each run of consecutive axes as one, from the last run to the first.
        var runs: [ClosedRange<Int>] = []
        for axis in axes {
            if let last = runs.last, last.upperBound == axis - 1 {
                runs[runs.count - 1] = last.lowerBound...axis
            } else {
                runs.append(axis...axis)
            }
        }
        for run in runs.reversed() {
            let outer = shape[..<run.lowerBound].reduce(1, *)
            let length = shape[run].reduce(1, *)
            let inner = shape[(run.upperBound + 1)...].reduce(1, *)
            for axis in run { shape[axis] = 1 }
            current = reduceAxis(current, outer: outer, length: length, inner: inner, shape: shape, reduction)
        }
        return current.count == x.count ? Tensor(shape: shape, storage: current.storage) : current
    }

    /// Reduces the middle dimension of `x` seen as `[outer, length, inner]`.
    private static func reduceAxis(
        _ x: Tensor, outer: Int, length: Int, inner: Int, shape: [Int], _ reduction: Reduction
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let source = x.pointer, target = result.pointer
        if length == 0 {
            let empty: Float = reduction == .sum ? 0 : -.infinity
            target.initialize(repeating: empty, count: result.count)
            return result
        }
        if inner == 1 {
            if outer == 1 {
                target[0] = reduceContiguous(source, count: length, reduction)
                return result
            }
            Threads.parallelFor(outer, costPerItem: length) { rows in
                for o in rows { target[o] = reduceRow(source + o * length, count: length, reduction) }
            }
            return result
        }
        Threads.parallelFor(outer * inner, costPerItem: length) { range in
            // Split by whole (outer, inner-chunk) pieces so that each thread writes its own outputs.
            var index = range.lowerBound
            while index < range.upperBound {
                let o = index / inner, start = index % inner
                let end = min(inner, start + (range.upperBound - index))
                let out = target + o * inner
                let base = source + o * length * inner
                for i in start..<end { out[i] = base[i] }
                for k in 1..<length {
                    let row = base + k * inner
                    switch reduction {
                    case .sum: for i in start..<end { out[i] += row[i] }
                    case .max: for i in start..<end where row[i] > out[i] || row[i].isNaN { out[i] = row[i] }
                    }
                }
                index += end - start
            }
        }
        return result
    }

    @inline(__always)
    private static func reduceRow(_ p: UnsafePointer<Float>, count: Int, _ reduction: Reduction) -> Float {
        switch reduction {
        case .sum:
            // Four float accumulators in double keep long sums accurate and still vectorize.
            var total: Double = 0
            var i = 0
            while i + 4 <= count {
                total += Double(p[i] + p[i + 1]) + Double(p[i + 2] + p[i + 3])
                i += 4
            }
            while i < count { total += Double(p[i]); i += 1 }
            return Float(total)
        case .max:
            var best = p[0]
            for i in 1..<max(count, 1) where p[i] > best || p[i].isNaN { best = p[i] }
            return best
        }
    }

    /// A whole-tensor reduction split over the threads, combined in a fixed order.
    private static func reduceContiguous(_ p: UnsafePointer<Float>, count: Int, _ reduction: Reduction) -> Float {
        let threads = Threads.count
        if threads == 1 || count < 65_536 { return reduceRow(p, count: count, reduction) }
        let chunk = (count + threads - 1) / threads
        var partials = [Float](repeating: 0, count: threads)
        partials.withUnsafeMutableBufferPointer { partials in
            let out = partials.baseAddress!
            Threads.parallelFor(threads, costPerItem: 1 << 20) { range in
                for t in range {
                    let start = t * chunk, end = min(count, start + chunk)
                    out[t] = start < end ? reduceRow(p + start, count: end - start, reduction)
                        : (reduction == .sum ? 0 : -.infinity)
                }
            }
        }
        switch reduction {
        case .sum: return Float(partials.reduce(0.0) { $0 + Double($1) })
        case .max: return partials.max()!
        }
    }
}
