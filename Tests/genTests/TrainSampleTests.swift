import Foundation
import GenCore
import Testing

/// A DDPM small enough to train in a second on the 50 8×8 images of `chunked_gzip.h5`.
func tinyTraining(_ out: String, steps: Int, extra: [String] = []) -> [String] {
    ["train", "ddpm", "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--steps", "\(steps)",
     "--batch-size", "8", "--channels", "8", "--channel-multipliers", "1,2", "--threads", "2",
     "--sample-every", "3", "--checkpoint-every", "3", "--log-every", "1", "--warmup", "2", "--out", out] + extra
}

@Suite("gen train ddpm and gen sample, run as processes", .serialized)
struct TrainSampleTests {
    @Test func trainThenSample() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = try runGen(tinyTraining(run, steps: 6))
        #expect(trained.status == 0, "\(trained.standardError)")
        for file in ["config.json", "checkpoint.safetensors", "metrics.jsonl", "loss.png", "samples/step-000003.png", "samples/step-000006.png"] {
            #expect(FileManager.default.fileExists(atPath: "\(run)/\(file)"), "missing \(file)")
        }
        let metrics = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 6 && metrics[0].contains("\"grad_norm\"") && metrics[0].contains("\"images_per_s\""))
        // plain progress lines, not a bar, when stderr is not a terminal
        #expect(trained.standardError.contains("step 6/6 loss") && !trained.standardError.contains("\r"))

        let sampled = try runGen(["sample", scratch.path("grid.png"), "--run", run, "--n", "4", "--steps", "5",
                                  "--npy", scratch.path("raw.npy"), "--h5", scratch.path("raw.h5")])
        #expect(sampled.status == 0, "\(sampled.standardError)")
        let grid = try PNG.read(URL(fileURLWithPath: scratch.path("grid.png")))
        #expect(grid.width == 2 * (8 + 2) + 2 && grid.height == 2 * (8 + 2) + 2)
        let raw = try HDF5Dataset(url: URL(fileURLWithPath: scratch.path("raw.h5")))
        #expect(raw.count == 4 && raw.imageShape == [1, 8, 8])
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("raw.npy"))).count == 128 + 4 * 64 * 4)
        // the same seed gives the same PNG bytes
        let again = try runGen(["sample", scratch.path("again.png"), "--run", run, "--n", "4", "--steps", "5"])
        #expect(again.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("grid.png"))) == Data(contentsOf: URL(fileURLWithPath: scratch.path("again.png"))))
        // without --run: the most recent run under ./runs
        try FileManager.default.createDirectory(atPath: scratch.path("runs"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: run, toPath: scratch.path("runs/first"))
        let latest = try runGen(["sample", "latest.png", "--n", "2", "--steps", "2"], in: scratch.url)
        #expect(latest.status == 0 && latest.standardError.contains("using the most recent run"), "\(latest.standardError)")
    }

    /// 8 steps straight and 4 + resume + 4 give byte-identical checkpoints (fixed threads).
    @Test func resumeIsExact() throws {
        let scratch = try Scratch()
        let straight = scratch.path("straight"), split = scratch.path("split")
        #expect(try runGen(tinyTraining(straight, steps: 8)).status == 0)
        #expect(try runGen(tinyTraining(split, steps: 4)).status == 0)
        let resumed = try runGen(["train", "ddpm", "--resume", split, "--steps", "8", "--threads", "2"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(straight)/checkpoint.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(split)/checkpoint.safetensors"))
        #expect(a == b)
        let metrics = try String(contentsOfFile: "\(split)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 8)
    }

    /// SIGINT finishes the step, saves a loadable checkpoint and exits 130; the run resumes.
    @Test func interruptSavesAndResumes() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let process = Process()
        process.executableURL = genBinary
        process.arguments = tinyTraining(run, steps: 100_000, extra: ["--sample-every", "0", "--checkpoint-every", "0"])
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8), text.split(separator: "\n").count >= 2 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let checkpoint = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        #expect(checkpoint.trainer.step >= 2 && checkpoint.firstNonFiniteTensor == nil)
        let resumed = try runGen(["train", "ddpm", "--resume", run, "--steps", "\(checkpoint.trainer.step + 2)"])
        #expect(resumed.status == 0 && resumed.standardError.contains("resuming \(run) at step \(checkpoint.trainer.step)"), "\(resumed.standardError)")
    }

    /// Every failure: one line on stderr, a distinct exit code.
    @Test(arguments: [
        (["train", "ddpm", "--data", "missing.h5"], Int32(66), "missing.h5: no such file"),
        (["train", "ddpm", "--data", "DATA", "--dataset", "pixels"], Int32(65), "no dataset named 'pixels'"),
        (["train", "ddpm", "--data", "RANK1", "--dataset", "images"], Int32(65), "images must be rank 3"),
        (["train", "ddpm", "--resume", "no-such-run"], Int32(66), "no-such-run: no run to resume"),
        (["sample", "out.png", "--n", "0"], Int32(64), "--n must be at least 1"),
        (["sample", "out.png"], Int32(66), "no run to sample from"),
        (["sample", "/no/such/folder/out.png", "--run", "RUN"], Int32(73), "/no/such/folder/out.png: cannot write"),
        (["train", "ddpm", "--data", "DATA", "--out", "RUN"], Int32(64), "already holds a run"),
    ] as [([String], Int32, String)])
    func failures(_ arguments: [String], _ code: Int32, _ message: String) throws {
        let scratch = try Scratch()
        let run = scratch.path("existing-run")
        if arguments.contains("RUN") { #expect(try runGen(tinyTraining(run, steps: 1)).status == 0) }
        let substituted = arguments.map { argument -> String in
            switch argument {
            case "DATA": return fixtureData.appendingPathComponent("chunked_gzip.h5").path
            case "RANK1": return fixtureData.appendingPathComponent("rank1.h5").path
            case "RUN": return run
            default: return argument
            }
        }
        let result = try runGen(substituted, in: scratch.url)
        #expect(result.status == code, "\(arguments): \(result.standardError)")
        // One error line; notes (which dataset was picked) and usage hints may surround it.
        let errors = result.standardError.split(separator: "\n").filter { $0.hasPrefix("gen: ") || $0.hasPrefix("Error: ") }
        #expect(errors.count == 1 && errors[0].contains(message), "\(result.standardError)")
    }
}
