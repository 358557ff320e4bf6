import Foundation
import GenCore
import Testing

/// Runs `gen` through `bash -c` (for `ulimit`, redirections and pipes) and waits for it,
/// killing it after `timeLimit` seconds: a hang fails the test instead of stalling the suite.
@discardableResult
func runShell(_ script: String, in folder: URL? = nil, timeLimit: TimeInterval = 120) throws -> RunResult {
    let result = try ChildProcess.run(URL(fileURLWithPath: "/bin/bash"), arguments: ["-c", "cd '\((folder ?? repositoryRoot).path)' && \(script)"],
                                      timeLimit: timeLimit)
    #expect(!result.timedOut, "timed out: \(script)")
    return RunResult(status: result.status, standardOutput: result.standardOutput, standardError: result.standardError)
}

/// `gen` with arguments, killed after `timeLimit` seconds.
@discardableResult
func runGen(_ arguments: [String], timeLimit: TimeInterval) throws -> RunResult {
    let result = try ChildProcess.run(genBinary, arguments: arguments, timeLimit: timeLimit)
    #expect(!result.timedOut, "timed out: gen \(arguments.joined(separator: " "))")
    return RunResult(status: result.status, standardOutput: result.standardOutput, standardError: result.standardError)
}

/// The one `gen: ` line of a failure.
func errorLines(_ result: RunResult) -> [Substring] { result.standardError.split(separator: "\n").filter { $0.hasPrefix("gen: ") } }

/// A NumPy `.npy` file of uint8 images `[count, 28, 28]` of incompressible bytes.
func writeRandomNPY(_ path: String, count: Int) throws {
    var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (\(count), 28, 28), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 255), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<(count * 784) {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        bytes.append(UInt8(truncatingIfNeeded: state >> 33))
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

@Suite("What gen must survive: hostile input, full disks, signals, two writers", .serialized)
struct ReliabilityTests {
    /// 1. An optimizer moment of the wrong size (fewer elements, or the same count in another
    /// shape) is refused by name before any kernel reads it; the checkpoint is left as it was.
    @Test func optimizerStateThatDoesNotFitIsRefused() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 2)).status == 0)
        let url = URL(fileURLWithPath: "\(run)/checkpoint.safetensors")
        let original = try RunCheckpoint.read(url)
        let key = try #require(original.optimizer.keys.sorted().first { $0.hasPrefix("exp_avg.") && original.optimizer[$0]!.count > 8 })
        for replacement in [Tensor.zeros([original.optimizer[key]!.count - 1]), Tensor.zeros([original.optimizer[key]!.count])] {
            var checkpoint = original
            checkpoint.optimizer[key] = replacement
            try checkpoint.write(to: url)
            let before = try Data(contentsOf: url)
            let resumed = try runGen(["train", "ddpm", "--resume", run, "--steps", "4"], timeLimit: 60)
            #expect(resumed.status == 65 && errorLines(resumed).count == 1 && resumed.standardError.contains(key), "\(resumed.status) \(resumed.standardError)")
            #expect(try Data(contentsOf: url) == before, "the checkpoint was rewritten")
        }
    }

    /// 2. A disk that fills while an HDF5 file is written: an error with exit 73, nothing at
    /// the path and no temporary file left (a file-size limit stands in for the full disk).
    @Test func fullDiskDuringImportIsAnError() throws {
        let scratch = try Scratch()
        try writeRandomNPY(scratch.path("m500.npy"), count: 500)
        let result = try runShell("ulimit -f 128; exec '\(genBinary.path)' data import m500.npy --out m.h5", in: scratch.url)
        #expect(result.status == 73 && errorLines(result).count == 1 && result.standardError.contains("m.h5: cannot write"), "\(result.status) \(result.standardError)")
        #expect(errorLines(result).first.map { $0.count < 300 } == true, "one short line")
        #expect(!result.standardOutput.contains("wrote"))
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
        #expect(left.sorted() == ["m500.npy"], "\(left)")
        // with room, the same import succeeds
        #expect(try runShell("exec '\(genBinary.path)' data import m500.npy --out m.h5", in: scratch.url).status == 0)
        let data = try HDF5Dataset(url: URL(fileURLWithPath: scratch.path("m.h5")))
        let last = try data.images(at: [499], scaledTo: .unit)
        #expect(data.count == 500 && last.scalars.contains { $0 > 0 })
    }

    /// 3. `gen sample OUT` never replaces the run's own files or anything that is not a regular
    /// file, and replaces an existing regular file only with --force.
    @Test func sampleDoesNotReplaceWhatItShouldNot() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 1)).status == 0)
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        let own = try runGen(["sample", "\(run)/checkpoint.safetensors", "--run", run, "--n", "1", "--steps", "1", "--force"], timeLimit: 60)
        #expect(own.status == 64 && own.standardError.contains("a file of the run itself"), "\(own.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/checkpoint.safetensors")) == checkpoint)
        #expect(mkfifo(scratch.path("fifo"), 0o644) == 0)
        let fifo = try runGen(["sample", scratch.path("fifo"), "--run", run, "--n", "1", "--steps", "1", "--force"], timeLimit: 60)
        #expect(fifo.status == 64 && fifo.standardError.contains("not a regular file"), "\(fifo.standardError)")
        var status = stat()
        #expect(lstat(scratch.path("fifo"), &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "the FIFO is still a FIFO")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: scratch.path("old.png")))
        let existing = try runGen(["sample", scratch.path("old.png"), "--run", run, "--n", "1", "--steps", "1"], timeLimit: 60)
        #expect(existing.status == 65 && existing.standardError.contains("already exists"), "\(existing.standardError)")
        #expect(try String(contentsOfFile: scratch.path("old.png"), encoding: .utf8) == "keep")
        #expect(try runGen(["sample", scratch.path("old.png"), "--run", run, "--n", "1", "--steps", "1", "--force"], timeLimit: 60).status == 0)
    }

    /// 4. A log that cannot be written does not trap: a full disk during training saves what it
    /// can and exits 73 with whole metric lines; an unwritable or closed stderr, or a reader that
    /// goes away, does not stop training.
    @Test func unwritableOutputsDuringTraining() throws {
        let scratch = try Scratch()
        let arguments = tinyTraining(scratch.path("full"), steps: 6).map { "'\($0)'" }.joined(separator: " ")
        // the tiny DDPM's checkpoint is about 560 KB: 256 KB of file is not enough
        let full = try runShell("ulimit -f 256; exec '\(genBinary.path)' \(arguments)", in: scratch.url)
        #expect(full.status == 73 && errorLines(full).count == 1 && errorLines(full)[0].contains("cannot write"), "\(full.status) \(full.standardError)")
        let metrics = (try? String(contentsOfFile: scratch.path("full/metrics.jsonl"), encoding: .utf8)) ?? ""
        for line in metrics.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "a cut line: \(line)")
        }
        for (name, redirect) in [("devfull", "2>/dev/full"), ("closed", "2>&-"), ("pipe", "2>&1 | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}")] {
            let run = scratch.path(name)
            let command = "'\(genBinary.path)' " + tinyTraining(run, steps: 4).map { "'\($0)'" }.joined(separator: " ") + " " + redirect
            let result = try runShell(command, in: scratch.url)
            #expect(result.status == 0, "\(name): \(result.status)")
            #expect(try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors")).trainer.step == 4, "\(name)")
            let lines = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 4 && lines.allSatisfy { $0.hasPrefix("{") }, "\(name): \(lines)")
        }
    }

    /// 5. Images of 2 and 4 channels train and sample, as gray-and-alpha and RGBA grids.
    @Test(arguments: [(2, UInt8(4)), (4, UInt8(6))])
    func twoAndFourChannelImages(_ channels: Int, _ pngColorType: UInt8) throws {
        let scratch = try Scratch()
        let data = scratch.path("c\(channels).h5")
        let writer = try HDF5ImageWriter(url: URL(fileURLWithPath: data), channels: channels, height: 8, width: 8, withLabels: false)
        try writer.append(pixels: (0..<(16 * channels * 64)).map { UInt8(truncatingIfNeeded: $0 &* 37) }, labels: nil)
        try writer.finish()
        let run = scratch.path("run")
        let trained = try runGen(["train", "ddpm", "--data", data, "--steps", "2", "--batch-size", "4", "--channels", "8",
                                  "--channel-multipliers", "1,2", "--sample-every", "1", "--out", run], timeLimit: 60)
        #expect(trained.status == 0, "\(trained.standardError)")
        let sampled = try runGen(["sample", scratch.path("grid.png"), "--run", run, "--n", "4", "--steps", "2"], timeLimit: 60)
        #expect(sampled.status == 0, "\(sampled.standardError)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch.path("grid.png")))
        #expect(bytes.count > 26 && bytes[25] == pngColorType, "PNG colour type \(bytes.count > 26 ? bytes[25] : 0)")
    }

    /// 6. A FIFO as input is refused at once, never read (which would block forever).
    @Test func fifoInputIsRefused() throws {
        let scratch = try Scratch()
        #expect(mkfifo(scratch.path("in.h5"), 0o644) == 0 && mkfifo(scratch.path("in.npy"), 0o644) == 0)
        for arguments in [["data", "info", scratch.path("in.h5")], ["data", "scan", scratch.path("in.h5")],
                          ["train", "ddpm", "--data", scratch.path("in.h5"), "--out", scratch.path("run")],
                          ["data", "import", scratch.path("in.npy"), "--out", scratch.path("out.h5")]] {
            let result = try runGen(arguments, timeLimit: 20)
            #expect(result.status == 65 && result.standardError.contains("not a regular file"), "\(arguments): \(result.standardError)")
        }
        // the validating child exits when its parent is not the one it was started by
        let child = try runGen(["data", "validate", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--parent", "1"], timeLimit: 20)
        #expect(child.status == 1)
    }

    /// 7. One process trains a run folder at a time: a second `gen train` on it, with --force or
    /// --resume, is refused while the first runs, and the first goes on undisturbed.
    @Test func aRunFolderHasOneWriter() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let first = Process()
        first.executableURL = genBinary
        first.arguments = tinyTraining(run, steps: 100_000, extra: ["--sample-every", "0", "--checkpoint-every", "2"])
        first.standardError = FileHandle.nullDevice
        first.standardOutput = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate() } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !FileManager.default.fileExists(atPath: "\(run)/checkpoint.safetensors") { Thread.sleep(forTimeInterval: 0.05) }
        let forced = try runGen(tinyTraining(run, steps: 2, extra: ["--force"]), timeLimit: 60)
        #expect(forced.status == 75 && forced.standardError.contains("another gen (process \(first.processIdentifier))"), "\(forced.status) \(forced.standardError)")
        let resumed = try runGen(["train", "ddpm", "--resume", run, "--steps", "5"], timeLimit: 60)
        #expect(resumed.status == 75, "\(resumed.standardError)")
        first.interrupt()
        first.waitUntilExit()
        #expect(first.terminationStatus == 130)
        let step = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors")).trainer.step
        #expect(try runGen(["train", "ddpm", "--resume", run, "--steps", "\(step + 1)"], timeLimit: 60).status == 0)
    }

    /// 8. Training settings in a checkpoint that no run could have are refused with exit 65 by
    /// resume and sample alike, never trapped on.
    @Test(arguments: [("\"batchSize\" : 8", "\"batchSize\" : 0"), ("\"checkpointEvery\" : 3", "\"checkpointEvery\" : -3"),
                      ("\"logEvery\" : 1", "\"logEvery\" : 0"), ("\"baseChannels\" : 8", "\"baseChannels\" : 1000000000"),
                      ("\"imageSize\" : 8", "\"imageSize\" : 1000000")])
    func craftedSettingsAreRefused(_ original: String, _ crafted: String) throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 1)).status == 0)
        let url = URL(fileURLWithPath: "\(run)/checkpoint.safetensors")
        var checkpoint = try RunCheckpoint.read(url)
        #expect(checkpoint.configJSON.contains(original), "\(checkpoint.configJSON)")
        checkpoint.configJSON = checkpoint.configJSON.replacingOccurrences(of: original, with: crafted)
        try checkpoint.write(to: url)
        for arguments in [["train", "ddpm", "--resume", run, "--steps", "3"], ["sample", scratch.path("x.png"), "--run", run, "--n", "1", "--steps", "1"]] {
            let result = try runGen(arguments, timeLimit: 60)
            #expect(result.status == 65 && errorLines(result).count == 1, "\(crafted), \(arguments[0]): \(result.status) \(result.standardError)")
        }
    }

    /// 9. Values that would trap or take all memory are refused at once, with the reason.
    @Test func hostileValuesAreRefused() throws {
        let scratch = try Scratch()
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let cases: [([String], String)] = [
            (["--channels", "7"], "--channels must be even"), (["--channels", "1"], "--channels must be even"),
            (["--channels", "100000"], "more than this machine's"), (["--channel-multipliers", "1000000"], "more than this machine's"),
            (["--dropout", "nan"], "--dropout must be in [0, 1)"), (["--diffusion-steps", "1000000000"], "--diffusion-steps must be from 1 to 100000"),
            (["--epochs", "1152921504606846976"], "more steps than can be counted"),
        ]
        for (extra, message) in cases {
            let arguments = ["train", "ddpm", "--data", data, "--batch-size", "8", "--out", scratch.path("run-\(extra[1])")] + extra
            let result = try runGen(arguments, timeLimit: 30)
            #expect(result.status == 64 && result.standardError.contains(message), "\(extra): \(result.status) \(result.standardError)")
        }
        let shape = try runGen(["data", "import", fixtureData.appendingPathComponent("kaggle.csv").path, "--out", scratch.path("x.h5"),
                                "--shape", "99999999999x99999999999"], timeLimit: 30)
        #expect(shape.status == 65, "\(shape.standardError)")
        // many samples are drawn in bounded batches
        let run = scratch.path("small")
        #expect(try runGen(tinyTraining(run, steps: 1)).status == 0)
        let many = try runGen(["sample", scratch.path("many.png"), "--run", run, "--n", "600", "--steps", "1", "--npy", scratch.path("many.npy")], timeLimit: 120)
        #expect(many.status == 0 && many.standardOutput.contains("600 images"), "\(many.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("many.npy"))).count == 128 + 600 * 64 * 4)
    }

    /// 10. The HDF5 guard needs no temporary folder: a file that crashes libhdf5 is refused with
    /// TMPDIR missing too, and no file is left in the temporary folder.
    @Test func guardWithoutATemporaryFolder() throws {
        let known = repositoryRoot.appendingPathComponent("Tests/Fuzz/Known-libhdf5")
        let crasher = try #require(try FileManager.default.contentsOfDirectory(atPath: known.path).first { $0.hasPrefix("crash-") })
        let scratch = try Scratch()
        let result = try runShell("TMPDIR=/nonexistent '\(genBinary.path)' train ddpm --data '\(known.appendingPathComponent(crasher).path)' --out '\(scratch.path("run"))'")
        #expect(result.status == 65 && result.standardError.contains("the HDF5 library crashed"), "\(result.status) \(result.standardError)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path).filter { $0.hasPrefix("gen-validate-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// 11. Temporary files of writes that a kill cut short are cleaned when the run is next
    /// opened.
    @Test func leftoversOfKilledWritesAreRemoved() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 2)).status == 0)
        for name in [".checkpoint.safetensors.tmp-12345-678", ".loss.png.tmp-12345-9"] {
            try Data(count: 1000).write(to: URL(fileURLWithPath: "\(run)/\(name)"))
        }
        #expect(try runGen(["train", "ddpm", "--resume", run, "--steps", "3"], timeLimit: 60).status == 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "\(left)")
    }

    /// 12. Damaged or missing run files and bad pixels get their own exit codes and messages.
    @Test func wrongCodesAndMessagesAreRight() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 1)).status == 0)
        // config.json is only a copy: missing or garbage, resume reads the checkpoint
        try FileManager.default.removeItem(atPath: "\(run)/config.json")
        #expect(try runGen(["train", "ddpm", "--resume", run, "--steps", "2"], timeLimit: 60).status == 0)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: "\(run)/config.json"))
        #expect(try runGen(["train", "ddpm", "--resume", run, "--steps", "3"], timeLimit: 60).status == 0)
        // garbage configuration metadata in the checkpoint
        let url = URL(fileURLWithPath: "\(run)/checkpoint.safetensors")
        var checkpoint = try RunCheckpoint.read(url)
        checkpoint.configJSON = "{ not json"
        try checkpoint.write(to: url)
        let sampled = try runGen(["sample", scratch.path("x.png"), "--run", run], timeLimit: 60)
        #expect(sampled.status == 65 && errorLines(sampled).count == 1 && sampled.standardError.contains("not JSON"), "\(sampled.standardError)")
        // a folder given as data
        let folder = try runGen(["train", "ddpm", "--data", scratch.url.path, "--out", scratch.path("r2")], timeLimit: 30)
        #expect(folder.status == 65 && folder.standardError.contains("is a folder"), "\(folder.standardError)")
        // all-NaN data: listed without a value range, no crash blamed on HDF5
        let nan = try runGen(["data", "info", fixtureData.appendingPathComponent("float_all_nan.h5").path], timeLimit: 30)
        #expect(nan.status == 0 && nan.standardOutput.contains("images  16×8×8  float32") && !nan.standardOutput.contains("values"), "\(nan.standardOutput) \(nan.standardError)")
        // an infinite pixel is bad data (65), not a diverged run (3)
        let inf = try runGen(["train", "ddpm", "--data", fixtureData.appendingPathComponent("float_inf_pixel.h5").path, "--batch-size", "16",
                              "--channels", "8", "--channel-multipliers", "1,2", "--steps", "2", "--out", scratch.path("r3")], timeLimit: 60)
        #expect(inf.status == 65 && inf.standardError.contains("image 9") && inf.standardError.contains("inf"), "\(inf.status) \(inf.standardError)")
    }

    /// 13. A resumed run keeps its settings: options that would change them are refused, not
    /// ignored; trailing bytes, fractional CSV pixels and loose PNGs beside class folders are
    /// errors.
    @Test func garbageIsNotAccepted() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyTraining(run, steps: 1)).status == 0)
        for extra in [["--lr", "1e-4"], ["--data", "other.h5"], ["--out", "elsewhere"], ["--channels", "16"]] {
            let result = try runGen(["train", "ddpm", "--resume", run, "--steps", "2"] + extra, timeLimit: 30)
            #expect(result.status == 64 && result.standardError.contains(extra[0]), "\(extra): \(result.standardError)")
        }
        // a tensor the model does not have
        let url = URL(fileURLWithPath: "\(run)/checkpoint.safetensors")
        var checkpoint = try RunCheckpoint.read(url)
        checkpoint.model["stray.weight"] = Tensor([1, 2])
        try checkpoint.write(to: url)
        let stray = try runGen(["train", "ddpm", "--resume", run, "--steps", "2"], timeLimit: 30)
        #expect(stray.status == 65 && stray.standardError.contains("stray.weight"), "\(stray.standardError)")
        // float images that are not what they claim
        for name in ["float_0_255", "float_range_equal", "float_range_reversed", "float_range_nan", "float_range_three", "float_range_string"] {
            let result = try runGen(["train", "ddpm", "--data", fixtureData.appendingPathComponent("\(name).h5").path, "--batch-size", "16",
                                     "--steps", "1", "--out", scratch.path("f-\(name)")], timeLimit: 30)
            let message = name == "float_0_255" ? "outside its range" : "'range' attribute"
            #expect(result.status == 65 && result.standardError.contains(message), "\(name): \(result.status) \(result.standardError)")
        }
        // importers
        let idx = try Data(contentsOf: fixtureData.appendingPathComponent("tiny-images-idx3-ubyte")) + Data([1, 2, 3])
        try idx.write(to: URL(fileURLWithPath: scratch.path("long-idx3-ubyte")))
        try "label,p0,p1,p2,p3\n1,0,0.5,255,3\n".write(toFile: scratch.path("half.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: scratch.path("pngs/cats"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("png_folder/img_0.png").path, toPath: scratch.path("pngs/cats/a.png"))
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("png_folder/img_1.png").path, toPath: scratch.path("pngs/loose.png"))
        for (source, message) in [("long-idx3-ubyte", "has bytes after"), ("half.csv", "whole number"), ("pngs", "beside them")] {
            let result = try runGen(["data", "import", scratch.path(source), "--out", scratch.path("\(source).h5")], timeLimit: 30)
            #expect(result.status == 65 && result.standardError.contains(message), "\(source): \(result.standardError)")
        }
    }

    /// 14. Signals: a second SIGINT exits at once with its own code (4), the last checkpoint
    /// intact; a SIGTERM right after the start still ends saved (130).
    @Test func signals() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let process = Process()
        process.executableURL = genBinary
        // steps slow enough (a wider UNet, larger batches) that the second signal comes mid-step
        process.arguments = ["train", "ddpm", "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--steps", "100000",
                             "--batch-size", "32", "--channels", "32", "--res-blocks", "2", "--threads", "2", "--sample-every", "0",
                             "--checkpoint-every", "1", "--out", run]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !FileManager.default.fileExists(atPath: "\(run)/checkpoint.safetensors") { Thread.sleep(forTimeInterval: 0.05) }
        kill(process.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 0.05)      // a pending signal is not queued twice: the second must come after the first
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 4, "\(process.terminationStatus)")
        #expect(try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors")).firstNonFiniteTensor == nil)

        let early = Process()
        early.executableURL = genBinary
        early.arguments = tinyTraining(scratch.path("early"), steps: 100_000)
        early.standardError = FileHandle.nullDevice
        early.standardOutput = FileHandle.nullDevice
        try early.run()
        Thread.sleep(forTimeInterval: 0.15)
        early.terminate()
        early.waitUntilExit()
        #expect(early.terminationReason == .exit && early.terminationStatus == 130, "SIGTERM: \(early.terminationReason) \(early.terminationStatus)")
    }

    /// 15. A dataset stored as one huge chunk reads at chunk speed (the cache holds the chunk),
    /// and `gen data info` says the layout is slow.
    @Test func oneGiantChunk() throws {
        let scratch = try Scratch()
        let path = scratch.path("giant.h5")
        let writer = try HDF5ImageWriter(url: URL(fileURLWithPath: path), channels: 1, height: 28, width: 28, withLabels: false, rowsPerChunk: 100_000)
        try writer.append(pixels: [UInt8](repeating: 7, count: 100_000 * 784), labels: nil)
        try writer.finish()
        let info = try runGen(["data", "info", path], timeLimit: 120)
        #expect(info.status == 0 && info.standardOutput.contains("slow: one chunk holds 100000 rows"), "\(info.standardOutput)")
        let start = Date()
        let scan = try runGen(["data", "scan", path, "--batch-size", "512"], timeLimit: 120)
        #expect(scan.status == 0 && Date().timeIntervalSince(start) < 60, "\(scan.standardError)")
    }
}
