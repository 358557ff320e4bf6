import ArgumentParser
import Foundation
import GenCore

/// `gen bench`: speed measurements to set beside the PyTorch twin's.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time operations and models; prints one JSON line per measurement.")

    @Flag(help: "Time single operations (matmul 512×512, a 64-channel 3×3 conv on 64×28×28), forward and backward.")
    var ops = false

    @Option(help: "Threads for GenCore's kernels and OpenBLAS.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var reps: Int = 20

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        guard ops else { throw ValidationError("choose what to time: --ops (model benchmarks are not built yet)") }
    }

    func run() throws {
        Threads.set(threads)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for result in OpBenchmarks.run(repetitions: reps) {
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }
}
