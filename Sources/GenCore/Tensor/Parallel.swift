import CBLAS
import Dispatch
import Foundation

/// How many threads GenCore's kernels and OpenBLAS use.
public enum Threads {
    nonisolated(unsafe) private static var _count = ProcessInfo.processInfo.activeProcessorCount

    /// The number of threads the kernels split work over (default: the number of cores).
    public static var count: Int { _count }

    /// Sets the thread count for GenCore's kernels and for OpenBLAS.
    public static func set(_ count: Int) {
        require(count >= 1, "Threads.set: thread count must be at least 1, got \(count)")
        _count = count
        openblas_set_num_threads(Int32(count))
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
        let threads = min(_count, count)
        if threads <= 1 || count * costPerItem < 32_768 {
            if count > 0 { body(0..<count) }
            return
        }
        let chunk = (count + threads - 1) / threads
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let start = t * chunk
                let end = min(start + chunk, count)
                if start < end { work.value(start..<end) }
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
