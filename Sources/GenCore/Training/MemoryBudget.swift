import Foundation

/// What a model may take of this machine's memory: configurations (from options or crafted
/// files) whose training would need more than the machine has are refused before anything is
/// allocated, with the estimate in the message.
public enum MemoryBudget {
    /// This machine's physical memory in bytes.
    public static var physicalBytes: Double { Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE))) }

    /// Throws a ``ConfigurationError`` (settings) when `bytes` exceed the physical memory.
    public static func check(_ bytes: Double, for what: String) throws(ConfigurationError) {
        let available = physicalBytes
        guard bytes.isFinite, bytes <= available else {
            throw .settings("\(what) would need about \(gigabytes(bytes)) of memory, more than this machine's \(gigabytes(available)); choose a smaller model or batch")
        }
    }

    static func gigabytes(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "more than can be counted" }
        return bytes >= 1e12 ? String(format: "%.3g TB", bytes / 1e12) : String(format: "%.1f GB", bytes / 1e9)
    }
}

extension ModelConfiguration {
    /// An estimate, in bytes, of training this model on batches of `batchSize` (0: the
    /// weights alone): weights, EMA, optimizer moments, gradients and stored activations. Rough
    /// (within a factor of two), for refusing sizes no machine here could hold. Default: 0.
    public func estimatedTrainingBytes(batchSize: Int) -> Double { 0 }
}

/// Bytes of training state for `parameters` Float32 weights and `activations` Float32 values
/// stored per image: weights, EMA, two Adam moments, gradients, one spare copy.
public func trainingBytes(parameters: Double, activationsPerImage: Double, batchSize: Int) -> Double {
    4 * (6 * parameters + Double(batchSize) * activationsPerImage)
}
