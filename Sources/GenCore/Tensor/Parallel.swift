import CBLAS
import CKernels
import Foundation

/// How many threads GenCore's kernels use.
///
/// All parallelism is GenCore's own: OpenBLAS runs single-threaded inside the kernels' threads
/// (``Kernels/sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` splits a large
/// product over them). OpenBLAS's own workers would spin with `sched_yield` between products
/// and take the cores from the element-wise kernels running meanwhile: a quarter of a UNet
/// training step went to that on two cores.
public enum Threads {
    nonisolated(unsafe) private static var _count = ProcessInfo.processInfo.activeProcessorCount

    /// The number of threads the kernels split work over (default: the number of cores).
    public static var count: Int { _count }

    /// Sets the thread count for GenCore's kernels.
    public static func set(_ count: Int) {
        require(count >= 1, "Threads.set: thread count must be at least 1, got \(count)")
        _count = count
    }

    /// OpenBLAS single-threaded, once, before the first product (process-wide: a program that
    /// also calls OpenBLAS itself can raise it again with `openblas_set_num_threads`).
    static let singleThreadedBLAS: Void = { openblas_set_num_threads(1) }()

    /// Marks the threads running a parallel region, so that a kernel called from inside one
    /// (an im2col inside a convolution already split over samples) runs serially there.
    private static let insideKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether the calling thread is already one of a parallel region's threads.
    static var isInsideParallelRegion: Bool { pthread_getspecific(insideKey) != nil }

    /// How many threads a loop of `count` items costing `costPerItem` elementary operations
    /// each should use: 1 when the work is too small to pay for the threads (a region on the
    /// pool's awake workers costs about a microsecond; 32K operations take several) or when
    /// already inside a parallel region.
    @inline(__always)
    static func threads(for count: Int, costPerItem: Int) -> Int {
        let threads = min(_count, count)
        if threads <= 1 || count * costPerItem < 32_768 || isInsideParallelRegion { return 1 }
        return threads
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, one per thread, when the work
    /// (`count × costPerItem` elementary operations) is large enough to pay for the threads.
    ///
    /// Each chunk is a disjoint range, so kernels that write disjoint outputs need no locks, and
    /// the split depends only on `count` and the thread count: results are deterministic.
    @inline(__always)
    static func parallelFor(
        _ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        let threads = threads(for: count, costPerItem: costPerItem)
        if threads == 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let chunk = (count + threads - 1) / threads
        run(threads) { t in
            let start = t * chunk, end = min(start + chunk, count)
            if start < end { body(start..<end) }
        }
    }

    /// Runs `body` on each chunk of `0..<count` as ``parallelFor(_:costPerItem:_:)`` splits it
    /// and returns the chunks' results in order (for reductions whose partial results are then
    /// combined in a fixed order, so the sum does not depend on timing).
    static func parallelMap<Result>(
        _ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Result
    ) -> [Result] {
        let threads = threads(for: count, costPerItem: costPerItem)
        if threads == 1 { return count > 0 ? [body(0..<count)] : [] }
        let chunk = (count + threads - 1) / threads
        let pieces = (count + chunk - 1) / chunk
        let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: pieces)
        results.initialize(repeating: nil)
        defer {
            // release what the slots hold (a bare deallocate would leak every result)
            _ = results.deinitialize()
            results.deallocate()
        }
        let slots = UncheckedSendable(results)
        run(pieces) { t in
            slots.value[t] = body(t * chunk..<min((t + 1) * chunk, count))
        }
        return results.map { $0! }
    }

    /// Runs `body(0)`, …, `body(tasks − 1)` concurrently, each marked as inside a parallel region:
    /// on CKernels' pool (`gen_pool_run`, whose workers stay awake between the many short regions
    /// of a training step), or on the caller alone while another thread's region holds the pool.
    private static func run(_ tasks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var task: (Int) -> Void = { t in
                let outer = pthread_getspecific(insideKey)
                pthread_setspecific(insideKey, UnsafeRawPointer(bitPattern: 1))
                body(t)
                pthread_setspecific(insideKey, outer)
            }
            withUnsafeMutablePointer(to: &task) { task in
                let ran = gen_pool_run(Int32(tasks), { context, t in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(t))
                }, task)
                if ran == 0 { for t in 0..<tasks { task.pointee(t) } }
            }
        }
    }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees the threads touch
/// disjoint data (each kernel chunk writes its own outputs).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
