import Foundation
import GenCore
import Testing

/// The command line around a run: `gen runs` over every family, results kept in `eval.jsonl`,
/// `gen data show`, imports of h5py's LZF files and of MNIST's folder of IDX files, and flags
/// that do not apply refused instead of ignored.
@Suite("gen runs, data show, imports and refused flags, run as processes", .serialized)
struct CommandLineTests {
    /// One tiny run of each of the six image families in `folder`.
    func sixRuns(in folder: String) throws {
        let trainings = [
            tinyTraining("\(folder)/ddpm", steps: 2),
            tinyDiffusionTraining("sde", "\(folder)/sde", steps: 2),
            tinyDiffusionTraining("flow", "\(folder)/flow", steps: 2),
            tinyLikelihoodTraining("vae", "\(folder)/vae", steps: 2),
            tinyLikelihoodTraining("realnvp", "\(folder)/realnvp", steps: 2),
            tinyWGAN("\(folder)/wgan", steps: 2),
        ]
        for arguments in trainings {
            let result = try runGen(arguments)
            #expect(result.status == 0, "\(arguments[1]): \(result.standardError)")
        }
    }

    /// `gen runs` lists a run of each family with its steps; each `gen eval` adds one dated
    /// line to the run's `eval.jsonl`, and the list shows the latest; `--compare` draws one PNG.
    @Test func runsListsEveryFamilyAndKeepsEvaluations() throws {
        let scratch = try Scratch()
        let runs = scratch.path("runs")
        try sixRuns(in: runs)
        let listed = try runGen(["runs", runs])
        #expect(listed.status == 0, "\(listed.standardError)")
        let lines = listed.standardOutput.split(separator: "\n")
        #expect(lines.count == 7, "a header and six runs: \(listed.standardOutput)")
        for kind in ["ddpm", "sde", "flow", "vae", "realnvp", "wgan"] {
            let line = lines.first { $0.hasSuffix("/runs/\(kind)") }
            #expect(line?.hasPrefix(kind) == true && line?.contains("2/2") == true, "\(kind): \(line ?? "missing")")
        }
        #expect(lines.first { $0.hasSuffix("/runs/wgan") }?.contains("wasserstein") == true, "a GAN's progress is its Wasserstein estimate")

        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let log = URL(fileURLWithPath: "\(runs)/vae/eval.jsonl")
        #expect(!FileManager.default.fileExists(atPath: log.path))
        for count in 1...2 {
            let eval = try runGen(["eval", "--run", "\(runs)/vae", "--data", data, "--metric", "nll", "--n", "4", "--k", "2"])
            #expect(eval.status == 0, "\(eval.standardError)")
            let kept = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            #expect(kept.count == count, "one line per evaluation")
            let last = try #require(try JSONSerialization.jsonObject(with: Data(kept.last!.utf8)) as? [String: Any])
            let printed = try #require(try JSONSerialization.jsonObject(with: Data(eval.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
            #expect(last["nll_nats"] as? Double == printed["nll_nats"] as? Double && last["date"] is String, "\(last)")
            #expect(last["images"] as? String == "training", "a run without --holdout is scored on the images it trained on, and says so")
        }
        let after = try runGen(["runs", runs])
        #expect(after.standardOutput.split(separator: "\n").first { $0.hasSuffix("/runs/vae") }?.contains("nll_nats") == true, "\(after.standardOutput)")

        let picture = scratch.path("compare.png")
        let compared = try runGen(["runs", "--compare", "\(runs)/ddpm", "\(runs)/wgan", "--out", picture])
        #expect(compared.status == 0, "\(compared.standardError)")
        let image = try PNG.read(URL(fileURLWithPath: picture))
        #expect(image.width >= 760 && image.height > 400)
        let again = try runGen(["runs", "--compare", "\(runs)/ddpm", "\(runs)/wgan", "--out", picture])
        #expect(again.status == 65 && again.standardError.contains("already exists"), "an existing picture is kept")
        let empty = try runGen(["runs", scratch.path("nothing")])
        #expect(empty.status == 66)

        // gen export: the three files once, then kept unless --force
        let torch = scratch.path("torch")
        let exported = try runGen(["export", "\(runs)/realnvp", "--pytorch", torch])
        #expect(exported.status == 0, "\(exported.standardError)")
        #expect(["model.py", "weights.safetensors", "config.json"].allSatisfy { FileManager.default.fileExists(atPath: "\(torch)/\($0)") })
        #expect(try runGen(["export", "\(runs)/realnvp", "--pytorch", torch]).status == 65)
        #expect(try runGen(["export", "\(runs)/realnvp", "--pytorch", torch, "--force"]).status == 0)
    }

    /// The pixel at (`x`, `y`) of a gray grid.
    func pixel(_ image: PNGImage, _ x: Int, _ y: Int) -> UInt8 { image.pixels[(y * image.width + x) * image.channels] }

    /// The 8×8 image in cell (`row`, `column`) of a grid with 2-pixel padding.
    func cell(_ image: PNGImage, row: Int, column: Int) -> [UInt8] {
        (0..<8).flatMap { y in (0..<8).map { x in pixel(image, 2 + column * 10 + x, 2 + row * 10 + y) } }
    }

    /// `gen data show` puts the file's first images in a grid, pixel for pixel; with `--labels`,
    /// row k holds the first images of class k.
    @Test func dataShowIsPixelExact() throws {
        let scratch = try Scratch()
        let file = fixtureData.appendingPathComponent("chunked_gzip.h5")
        let data = try HDF5Dataset(url: file)
        func stored(_ index: Int) throws -> [UInt8] {
            try data.images(at: [index], scaledTo: .unit).scalars.map { UInt8(($0 * 255).rounded()) }
        }
        let grid = scratch.path("show.png")
        let shown = try runGen(["data", "show", file.path, grid, "--n", "5"])
        #expect(shown.status == 0, "\(shown.standardError)")
        let image = try PNG.read(URL(fileURLWithPath: grid))
        #expect(image.channels == 1 && image.width == 3 * 10 + 2 && image.height == 2 * 10 + 2, "5 images in rows of 3")
        for index in 0..<5 {
            #expect(try cell(image, row: index / 3, column: index % 3) == stored(index), "image \(index)")
        }
        #expect(cell(image, row: 1, column: 2).allSatisfy { $0 == 0 }, "the sixth cell is empty")

        // labels are arange(50) % 10: class k's first images are k, k + 10
        let byClass = scratch.path("classes.png")
        #expect(try runGen(["data", "show", file.path, byClass, "--n", "20", "--labels"]).status == 0)
        let rows = try PNG.read(URL(fileURLWithPath: byClass))
        #expect(rows.width == 2 * 10 + 2 && rows.height == 10 * 10 + 2)
        for label in [0, 3, 9] {
            #expect(try cell(rows, row: label, column: 0) == stored(label) && cell(rows, row: label, column: 1) == stored(label + 10), "class \(label)")
        }
        let unlabelled = try runGen(["data", "show", fixtureData.appendingPathComponent("nchw_float32.h5").path, scratch.path("x.png"), "--labels"])
        #expect(unlabelled.status == 65 && unlabelled.standardError.contains("has no labels"), "\(unlabelled.standardError)")
        #expect(try runGen(["data", "show", file.path, grid]).status == 65, "an existing grid is kept without --force")
    }

    /// A file h5py wrote with LZF imports like its gzip twin; a folder of IDX files as MNIST
    /// ships them becomes one file per split, each images file with its split's labels.
    @Test func importsLZFAndMNISTFolders() throws {
        let scratch = try Scratch()
        let lzf = scratch.path("from-lzf.h5")
        let imported = try runGen(["data", "import", fixtureData.appendingPathComponent("chunked_lzf.h5").path, "--out", lzf])
        #expect(imported.status == 0, "\(imported.standardError)")
        let gzip = try HDF5Dataset(url: fixtureData.appendingPathComponent("chunked_gzip.h5")), copy = try HDF5Dataset(url: URL(fileURLWithPath: lzf))
        #expect(try copy.images(at: Array(0..<50), scaledTo: .unit).scalars == gzip.images(at: Array(0..<50), scaledTo: .unit).scalars)
        #expect(try copy.labels(at: Array(0..<50)) == gzip.labels(at: Array(0..<50)))
        let unknown = try runGen(["data", "info", fixtureData.appendingPathComponent("unknown_filter.h5").path])
        #expect(unknown.status == 65 && unknown.standardError.contains("h5repack"), "\(unknown.standardError)")

        let folder = scratch.url.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (source, name) in [("tiny-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"), ("tiny-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                               ("tiny-images-idx3-ubyte", "t10k-images-idx3-ubyte")] {
            try FileManager.default.copyItem(at: fixtureData.appendingPathComponent(source), to: folder.appendingPathComponent(name))
        }
        let split = try runGen(["data", "import", folder.path, "--out", scratch.path("mnist.h5")])
        #expect(split.status == 0, "\(split.standardError)")
        let train = try HDF5Dataset(url: URL(fileURLWithPath: scratch.path("mnist-train.h5")), options: .init(readLabels: true))
        let test = try HDF5Dataset(url: URL(fileURLWithPath: scratch.path("mnist-t10k.h5")))
        #expect(try train.count == 3 && train.imageShape == [1, 4, 5] && train.labels(at: [0, 1, 2]) == [7, 2, 1])
        #expect(test.count == 3 && test.labelsName == nil, "t10k has no labels file here")
    }

    /// Options that do not apply are refused with a usage error (exit 64), not ignored; a run
    /// goes on with `gen train --resume RUN` whatever its kind.
    @Test func flagsThatDoNotApplyAreRefused() throws {
        let scratch = try Scratch()
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let ddpm = scratch.path("ddpm"), flow = scratch.path("flow"), wgan = scratch.path("wgan")
        #expect(try runGen(tinyTraining(ddpm, steps: 2)).status == 0)
        #expect(try runGen(tinyDiffusionTraining("flow", flow, steps: 2)).status == 0)
        #expect(try runGen(tinyWGAN(wgan, steps: 2)).status == 0)
        let cases: [([String], String)] = [
            (tinyTraining(scratch.path("both"), steps: 2) + ["--epochs", "1"], "--steps"),
            (["sample", scratch.path("a.png"), "--run", ddpm, "--n", "2", "--temperature", "0.5"], "--temperature"),
            (["sample", scratch.path("b.png"), "--run", wgan, "--n", "2", "--temperature", "0.5"], "--temperature"),
            (["sample", scratch.path("c.png"), "--run", wgan, "--n", "2", "--sampler", "ddim"], "draws in one pass"),
            (["eval", "--run", ddpm, "--data", data, "--metric", "bpd", "--features", ddpm], "--features"),
            (["eval", "--run", ddpm, "--data", data, "--metric", "bpd", "--sampler", "ddim"], "--sampler"),
            (["eval", "--run", ddpm, "--data", data, "--metric", "fid", "--k", "5"], "--k"),
            (["train", "--resume", flow, "--lr", "1e-4"], "--lr"),
            (["train", "ddpm", "--resume", ddpm, "--steps", "3", "--lr", "1e-4"], "--lr"),
        ]
        for (arguments, named) in cases {
            let result = try runGen(arguments)
            #expect(result.status == 64 && result.standardError.contains(named), "\(arguments): \(result.status) \(result.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("a.png")) && !FileManager.default.fileExists(atPath: scratch.path("both")))

        let resumed = try runGen(["train", "--resume", flow, "--steps", "3"])
        #expect(resumed.status == 0 && resumed.standardError.contains("resuming"), "\(resumed.standardError)")
        #expect(try RunCheckpoint.read(try RunCheckpoint.locate(URL(fileURLWithPath: flow))).trainer.step == 3)
    }
}
