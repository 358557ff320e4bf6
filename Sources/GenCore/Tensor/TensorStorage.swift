import CMalloc
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
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
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

    deinit { free(pointer) }
}
