import CGlibc
import Foundation

/// The memory behind a ``Tensor``: a 64-byte aligned buffer of `Float`.
///
/// Storage is shared by tensors that are views of one another (``Tensor/reshaped(_:)``) and by a
/// module's parameter and the tensors read from it. Operations never write into their inputs;
/// only the few explicit in-place APIs (optimizer updates, loading a state dict, running
/// statistics) do.
final class TensorStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// The gradient-tape leaf for this storage while a tape watches it (module parameters).
    var watchedLeaf: TapeNode?

    /// Keeps freed memory in the process for the next allocation, once: by default glibc maps
    /// every buffer over 128 KiB-32 MiB afresh and returns it on free, so each training step
    /// faulted in (and the kernel zeroed) the same activations again: 5% of a UNet step.
    /// Peak memory is unchanged; it is simply not given back between steps. The setting is
    /// process-wide (glibc's `mallopt`), made at the first tensor allocation.
    private static let reuseFreedMemory: Void = {
        gen_malloc_keep_freed_memory(1 << 30, 64 << 20)
    }()

    /// Allocates uninitialized memory for `count` floats.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        _ = Self.reuseFreedMemory
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if let reused = BufferPool.take(bytes: bytes) {
            pointer = reused.bindMemory(to: Float.self, capacity: max(count, 1))
            return
        }
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, bytes)
        guard status == 0, let raw else {
            fatalError("TensorStorage: cannot allocate \(bytes) bytes (error \(status))")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates memory for `count` floats, all set to `value`.
    convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        if value == 0 {
            memset(pointer, 0, count * MemoryLayout<Float>.stride)
        } else {
            pointer.initialize(repeating: value, count: count)
        }
    }

    deinit {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if !BufferPool.give(UnsafeMutableRawPointer(pointer), bytes: bytes) { free(pointer) }
    }
}

/// Freed tensor buffers of 64 KiB or more, kept by exact size for the next tensor of that size.
///
/// A training step allocates the same activations, gradients and scratch buffers, in the same
/// sizes, every step. Through malloc alone, buffers of many sizes freed in a different order
/// than they were taken fragment the heap: it kept growing (a WGAN's resident memory rose with
/// every step) and each step faulted in, and the kernel zeroed, fresh pages for its new
/// buffers: 13% of a WGAN step. Kept here by size, each buffer comes back the next step.
/// Smaller buffers go to malloc, which reuses them well.
enum BufferPool {
    /// Buffers below this many bytes are not pooled.
    static let smallest = 64 << 10
    /// At most this many bytes wait in the pool; a buffer freed beyond it goes back to malloc.
    static let capacity = 1 << 30

    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var pooledBytes = 0

    /// A pooled buffer of exactly `bytes` bytes, if one is waiting.
    static func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= smallest else { return nil }
        return lock.withLock {
            guard let buffer = free[bytes]?.popLast() else { return nil }
            pooledBytes -= bytes
            return buffer
        }
    }

    /// Keeps `buffer` for reuse; false when it is too small or the pool is full (the caller frees it).
    static func give(_ buffer: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= smallest else { return false }
        return lock.withLock {
            guard pooledBytes + bytes <= capacity else { return false }
            free[bytes, default: []].append(buffer)
            pooledBytes += bytes
            return true
        }
    }
}
