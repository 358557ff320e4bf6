import ArgumentParser
import Foundation
import GenCore
import GenFamilies

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

    @Option(help: "Only this model (ddpm-unet-small, vae-mlp, realnvp-small, wgan-sn-dcgan); repeatable.")
    var only: [String] = []

    @Option(help: "Untimed warm-up steps per model.")
    var warmup: Int = 3

    @Flag(help: "Accepted for the BENCHMARKS.md command line; the output is always JSON lines.")
    var json = false

    @Option(help: "Threads for GenCore's kernels and OpenBLAS.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var reps: Int = 20

    func validate() throws {
        guard !(ops && sample) else { throw ValidationError("--ops and --sample are separate runs; give one") }
        guard !((ops || sample) && !only.isEmpty) else { throw ValidationError("--only picks among the four models; --ops and --sample time other things") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        if let unknown = only.first(where: { !ModelBenchmarks.names.contains($0) }) {
            throw ValidationError("unknown model '\(unknown)'; choose from \(ModelBenchmarks.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        Threads.set(threads)
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
}
