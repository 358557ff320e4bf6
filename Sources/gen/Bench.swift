import ArgumentParser
import Foundation
import GenCore
import GenFamilies
import GenMPI

/// `gen bench`: speed measurements to set beside the PyTorch twin's.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the four benchmark models (or single operations); prints one JSON line per measurement.",
        discussion: """
            Each model line has the PyTorch twin's keys (bench, batch, params, train_step_s, forward_s: medians after \
            warm-up) plus the peak resident memory so far. Compare with ../shared/peers/reference_models.py, both run \
            with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`.
            """)

    @Flag(help: "Time single operations (matmul 512×512, a 64-channel 3×3 conv on 64×28×28), forward and backward.")
    var ops = false

    @Flag(help: "Time sampling 64 images with ddpm-unet-small: 1,000 ancestral (DDPM) steps and 50 DDIM steps.")
    var sample = false

    @Flag(help: "Under mpirun -np N: each model's gradient all-reduce time, and its training step as N ranks (a share of the batch each, then the all-reduce) beside one rank alone on all the threads.")
    var allreduce = false

    @Option(help: "Only this model (ddpm-unet-small, vae-mlp, realnvp-small, wgan-sn-dcgan); repeatable.")
    var only: [String] = []

    @Option(help: "Untimed warm-up steps per model.")
    var warmup: Int = 3

    @Flag(help: "Accepted for the BENCHMARKS.md command line; the output is always JSON lines.")
    var json = false

    @Option(help: "Threads for GenCore's kernels and OpenBLAS (per rank with --allreduce, default 1 there).")
    var threads: Int?

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var reps: Int = 20

    func validate() throws {
        guard [ops, sample, allreduce].filter({ $0 }).count <= 1 else { throw ValidationError("--ops, --sample and --allreduce are separate runs; give one") }
        guard !((ops || sample) && !only.isEmpty) else { throw ValidationError("--only picks among the four models; --ops and --sample time other things") }
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        if let unknown = only.first(where: { !ModelBenchmarks.names.contains($0) }) {
            throw ValidationError("unknown model '\(unknown)'; choose from \(ModelBenchmarks.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        if allreduce { return try reportingFailures { try dataParallel() } }
        Threads.set(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func emit<T: Encodable>(_ results: [T]) throws {
            for result in results { print(String(decoding: try encoder.encode(result), as: UTF8.self)) }
        }
        if ops { return try emit(OpBenchmarks.run(repetitions: reps)) }
        if sample { return try emit(ModelBenchmarks.sampling()) }
        for name in ModelBenchmarks.names where only.isEmpty || only.contains(name) {
            try emit(ModelBenchmarks.measure(name, repetitions: reps, warmup: warmup).map { [$0] } ?? [])
        }
    }

    /// `mpirun -np N gen bench --allreduce`: per model, the ranks' all-reduce and data-parallel
    /// step (rank 0's line), then rank 0 alone on every rank's threads (the others wait without
    /// spinning), the single-process step to set beside it.
    private func dataParallel() throws {
        guard let world = try MPIWorld.joinIfLaunched(), world.size > 1 else {
            throw GenError.usage("--allreduce measures ranks: start it with mpirun -np 2 (or more) gen bench --allreduce")
        }
        let perRank = threads ?? 1
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for name in ModelBenchmarks.names where only.isEmpty || only.contains(name) {
            Threads.set(perRank)
            let result = try ModelBenchmarks.measureDataParallel(name, world: world, repetitions: reps, warmup: warmup)
            if world.isWriter, let result {
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
                Threads.set(perRank * world.localSize)
                if let warning = world.bindingWarning(threads: Threads.count) { printNote("the one-process line is slowed: \(warning)") }
                if let alone = ModelBenchmarks.measure(name, repetitions: reps, warmup: warmup) {
                    print(String(decoding: try encoder.encode(alone), as: UTF8.self))
                }
                fflush(nil)
            }
            world.idleBarrier()
        }
        world.finish()
    }
}
