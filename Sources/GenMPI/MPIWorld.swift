import CMPI
import Foundation
import GenCore

/// The ranks of an MPI job (`mpirun -np N gen …`, `srun --mpi=pmix gen …`) as a
/// ``Communicator``: sums with `MPI_Allreduce`, broadcasts with `MPI_Bcast`, on
/// `MPI_COMM_WORLD`.
///
/// ```swift
/// if let world = try MPIWorld.joinIfLaunched() { Distributed.world = world }
/// let run = try TrainingRun<DDPMFamily>.create(…)   // rank 0 sets up, the others follow
/// _ = try run.train()
/// Distributed.world.finish()
/// ```
///
/// A process not started by an MPI launcher never calls MPI at all: it stays a world of one,
/// with the same results and speed as a build without MPI.
public final class MPIWorld: Communicator {
    public let rank: Int
    public let size: Int
    /// The ranks on this host (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, else 1).
    public let localSize: Int
    private var finished = false

    private init() {
        rank = Int(gen_mpi_rank())
        size = Int(gen_mpi_size())
        let environment = ProcessInfo.processInfo.environment
        localSize = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? environment["MPI_LOCALNRANKS"].flatMap(Int.init) ?? 1
    }

    nonisolated(unsafe) private static var joined: MPIWorld?

    /// Whether an MPI launcher (Open MPI's `mpirun`, a PMIx or PMI launcher such as Slurm's
    /// `srun`) started this process.
    public static var isLaunched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// Joins the job this process was launched into (`MPI_Init`, once), or nil for a process
    /// started without a launcher.
    public static func joinIfLaunched() throws -> MPIWorld? {
        if let joined { return joined }
        guard isLaunched else { return nil }
        guard gen_mpi_init() == 0 else { throw GenError.usage("MPI could not start (MPI_Init failed); was gen started by a matching mpirun?") }
        let world = MPIWorld()
        joined = world
        return world
    }

    public func allreduceSum(_ values: inout [Float]) throws {
        guard size > 1, !values.isEmpty else { return }
        let status = values.withUnsafeMutableBufferPointer { gen_mpi_allreduce_sum_float($0.baseAddress, Int64($0.count)) }
        if status != 0 { abortOnFailure("MPI_Allreduce", status) }
    }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) throws {
        guard size > 1 else { return }
        var count = Int64(bytes.count)
        var status = gen_mpi_broadcast_int64(&count, Int32(root))
        if status != 0 { abortOnFailure("MPI_Bcast", status) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        status = bytes.withUnsafeMutableBytes { gen_mpi_broadcast_bytes($0.baseAddress, count, Int32(root)) }
        if status != 0 { abortOnFailure("MPI_Bcast", status) }
    }

    /// Waits for every rank without spinning a core meanwhile.
    public func idleBarrier() {
        let status = gen_mpi_idle_barrier()
        if status != 0 { abortOnFailure("MPI_Ibarrier", status) }
    }

    /// Waits for every rank.
    public func barrier() {
        let status = gen_mpi_barrier()
        if status != 0 { abortOnFailure("MPI_Barrier", status) }
    }

    /// The CPUs this rank may run on (its binding), or nil when it cannot be read.
    public var allowedCPUs: Int? {
        let count = gen_allowed_cpus()
        return count > 0 ? Int(count) : nil
    }

    /// A warning when this rank is bound to fewer cores than it runs threads (`mpirun` binds
    /// each of one or two ranks to a single core unless told otherwise).
    public func bindingWarning(threads: Int) -> String? {
        guard let cpus = allowedCPUs, cpus < threads else { return nil }
        return "rank \(rank) may only run on \(cpus) core\(cpus == 1 ? "" : "s") but uses \(threads) threads: start mpirun with --bind-to none (or --map-by slot:PE=\(threads))"
    }

    /// Seconds on MPI's clock.
    public var time: Double { gen_mpi_wtime() }

    public func abort(exitCode: Int32) -> Never {
        gen_mpi_abort(exitCode)
        exit(exitCode)
    }

    public func finish() {
        guard !finished else { return }
        finished = true
        if gen_mpi_is_initialized() != 0 && gen_mpi_is_finalized() == 0 { _ = gen_mpi_finalize() }
    }

    private func abortOnFailure(_ call: String, _ status: Int32) -> Never {
        StandardError.write("gen: rank \(rank): \(call) failed (MPI error \(status)); stopping every rank\n")
        abort(exitCode: 70)
    }
}
