import Foundation

/// The processes that train one run together (data parallelism): every rank runs the same
/// ``Trainer`` on its share of each global batch, and the gradients are summed across ranks.
///
/// GenCore holds no message passing of its own: ``SingleProcess`` is the world of one rank that
/// a plain process is, and the `GenMPI` module's `MPIWorld` is a world of `mpirun`'s ranks. A
/// program sets ``Distributed/world`` once at start-up; ``TrainingRun`` and ``Trainer`` take it
/// from there.
public protocol Communicator: AnyObject {
    /// This process's rank, from 0.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Replaces `values` on every rank with their element-wise sum over all ranks, summed in
    /// the same order on every call with the same rank count (so two runs agree bit for bit).
    func allreduceSum(_ values: inout [Float]) throws
    /// Replaces `bytes` on every rank with rank `root`'s (any length; the receivers' arrays
    /// take the sender's length).
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws
    /// Waits until every rank has come here.
    func barrier() throws
    /// Ends the job on every rank at once with `code`: for an error one rank met alone, which
    /// would otherwise leave the others waiting for it.
    func abort(exitCode: Int32) -> Never
    /// Leaves the world normally, once, when every rank is done.
    func finish()
}

extension Communicator {
    /// Whether this rank writes the run's files (checkpoints, metrics, samples, `loss.png`)
    /// and prints its progress: rank 0.
    public var isWriter: Bool { rank == 0 }

    /// Whether any rank has `flag` set: every rank gets the same answer.
    public func anyRank(_ flags: [Bool]) throws -> [Bool] {
        guard size > 1 else { return flags }
        var values = flags.map { $0 ? Float(1) : 0 }
        try allreduceSum(&values)
        return values.map { $0 > 0 }
    }
}

/// The world of one process: sums and broadcasts leave their values as they are.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ values: inout [Float]) throws {}
    public func broadcast(_ bytes: inout [UInt8], from root: Int) throws {}
    public func barrier() throws {}
    public func abort(exitCode: Int32) -> Never { exit(exitCode) }
    public func finish() {}
}

/// The process-wide world of ranks (one process unless a program joins an MPI job).
public enum Distributed {
    nonisolated(unsafe) public static var world: any Communicator = SingleProcess()
}

/// How a global batch of `batchSize` images is cut into `shards` shares: the first
/// `batchSize % shards` shares hold one image more than the others.
public struct BatchShares: Sendable, Equatable {
    public let batchSize: Int
    public let shards: Int

    public init(batchSize: Int, shards: Int) {
        self.batchSize = batchSize
        self.shards = shards
    }

    /// Positions of shard `index`'s images within the global batch.
    public func range(_ index: Int) -> Range<Int> {
        let base = batchSize / shards, extra = batchSize % shards
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }

    /// The shards rank `rank` of `ranks` computes: every `ranks`-th from its own index, so rank 0
    /// always holds shard 0.
    public func shards(ofRank rank: Int, of ranks: Int) -> [Int] {
        Array(stride(from: rank, to: shards, by: ranks))
    }
}
