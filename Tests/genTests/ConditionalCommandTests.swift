import Foundation
import GenCore
import Testing

/// `gen train <family> --conditional`, `gen sample --class`, `--guidance`, and their refusals,
/// run as processes.
@Suite("Class-conditional runs on the command line", .serialized)
struct ConditionalCommandTests {
    /// Each label problem is a data error (65) naming the file and the problem, before any
    /// training: the run folder gets no files.
    @Test(arguments: [
        ("labels_negative.h5", [], "labels 'labels' must be class numbers 0, 1, …; row 7 holds -1"),
        ("labels_float.h5", [], "labels 'labels' hold float32 of shape [40], not integers"),
        ("labels_short.h5", [], "labels 'labels' has 39 entries but there are 40 images"),
        ("labels_twelve_classes.h5", ["--classes", "10"], "labels 'labels': row 10 holds class 10, but --classes 10 allows 0…9"),
        ("nchw_float32.h5", [], "no labels beside the images"),
        ("chunked_gzip.h5", ["--labels", "targets"], "no dataset named 'targets'"),
    ])
    func labelErrors(file: String, extra: [String], says: String) throws {
        let scratch = try Scratch()
        let data = fixtureData.appendingPathComponent(file).path
        let result = try runGen(["train", "vae", "--data", data, "--conditional", "--steps", "1", "--batch-size", "4", "--out", scratch.path("run")] + extra)
        #expect(result.status == 65, "\(result.standardError)")
        #expect(result.standardError.contains(data) && result.standardError.contains(says), "\(result.standardError)")
        #expect(result.standardError.split(separator: "\n").filter { $0.hasPrefix("gen:") }.count == 1, "one error line: \(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("run/config.json")))
    }

    @Test func usageErrors() throws {
        let scratch = try Scratch()
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let base = ["--data", data, "--steps", "2", "--batch-size", "8", "--sample-every", "0", "--log-every", "1"]
        // conditioning options without --conditional, a family with no conditional form, dropout outside the diffusion families
        for arguments in [["train", "vae", "--labels", "labels"] + base, ["train", "vae", "--classes", "10"] + base,
                          ["train", "classifier", "--conditional", "--out", scratch.path("c")] + base,
                          ["train", "vae", "--conditional", "--class-dropout", "0.2", "--out", scratch.path("v0")] + base,
                          ["train", "flow", "--conditional", "--class-dropout", "1.5", "--out", scratch.path("f0")] + base] {
            let result = try runGen(arguments)
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
        }

        // an unconditional run refuses --class and --guidance; a conditional VAE refuses guidance and unknown classes
        #expect(try runGen(["train", "vae", "--out", scratch.path("plain"), "--latent", "2", "--hidden", "8"] + base).status == 0)
        #expect(try runGen(["train", "vae", "--conditional", "--out", scratch.path("cvae"), "--latent", "2", "--hidden", "8"] + base).status == 0)
        let refusals: [([String], String)] = [
            (["--run", scratch.path("plain"), "--class", "3"], "needs a class-conditional run"),
            (["--run", scratch.path("cvae"), "--class", "10"], "--class 10: the run knows classes 0…9"),
            (["--run", scratch.path("cvae"), "--class", "1", "--guidance", "2"], "--guidance is classifier-free guidance"),
        ]
        for (arguments, says) in refusals {
            let result = try runGen(["sample", scratch.path("x.png")] + arguments)
            #expect(result.status == 64 && result.standardError.contains(says), "\(arguments): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path("x.png")))
        }
        // a grid of every class of a run with thousands of them is refused, not drawn
        #expect(try runGen(["train", "vae", "--conditional", "--classes", "2000", "--out", scratch.path("many"), "--latent", "2", "--hidden", "8"] + base).status == 0)
        let many = try runGen(["sample", scratch.path("m.png"), "--run", scratch.path("many"), "--class", "all"])
        #expect(many.status == 64 && many.standardError.contains("2000 classes × 10 = 20000 images"), "\(many.standardError)")
        let eval = try runGen(["eval", "--run", scratch.path("plain"), "--data", data, "--metric", "class-accuracy", "--n", "20"])
        #expect(eval.status == 64 && eval.standardError.contains("needs a class-conditional run"), "\(eval.standardError)")
    }

    /// A conditional flow: `--class all` writes one row per class, `--class K` only class K,
    /// guidance doubles the network evaluations; without --class it draws unconditionally.
    @Test func sampleByClass() throws {
        let scratch = try Scratch()
        let train = try runGen(tinyDiffusionTraining("flow", scratch.path("flow"), extra: ["--conditional"]))
        #expect(train.status == 0, "\(train.standardError)")
        let config = try String(contentsOfFile: scratch.path("flow/config.json"), encoding: .utf8)
        #expect(config.contains("\"classes\" : 10") && config.contains("\"classDropout\" : 0.1") && config.contains("\"labels\" : \"labels\""), "\(config)")

        let all = try runGen(["sample", scratch.path("all.png"), "--run", scratch.path("flow"), "--class", "all", "--nrow", "3", "--steps", "2"])
        #expect(all.status == 0 && all.standardOutput.contains("30 images") && all.standardOutput.contains("one row per class"), "\(all.standardOutput) \(all.standardError)")
        let grid = try PNG.read(URL(fileURLWithPath: scratch.path("all.png")))
        #expect(grid.width == 3 * 10 + 2 && grid.height == 10 * 10 + 2)

        let plain = try runGen(["sample", scratch.path("one.png"), "--run", scratch.path("flow"), "--class", "4", "--n", "4", "--steps", "2"])
        let guided = try runGen(["sample", scratch.path("guided.png"), "--run", scratch.path("flow"), "--class", "4", "--n", "4", "--steps", "2",
                                 "--guidance", "3"])
        #expect(plain.status == 0 && plain.standardOutput.contains("class 4") && plain.standardOutput.contains("4 network evaluations"), "\(plain.standardOutput)")
        #expect(guided.status == 0 && guided.standardOutput.contains("guidance 3.0") && guided.standardOutput.contains("8 network evaluations"), "\(guided.standardOutput)")
        #expect(try runGen(["sample", scratch.path("none.png"), "--run", scratch.path("flow"), "--n", "4", "--steps", "2"]).status == 0)

        // --guidance 0 is the plain conditional model, image for image
        let zero = try runGen(["sample", scratch.path("zero.png"), "--run", scratch.path("flow"), "--class", "4", "--n", "4", "--steps", "2",
                               "--guidance", "0", "--npy", scratch.path("zero.npy")])
        let again = try runGen(["sample", scratch.path("again.png"), "--run", scratch.path("flow"), "--class", "4", "--n", "4", "--steps", "2",
                                "--npy", scratch.path("again.npy")])
        #expect(zero.status == 0 && again.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("zero.npy"))) == Data(contentsOf: URL(fileURLWithPath: scratch.path("again.npy"))))

        // guidance only steers images drawn for classes, and only with a null class that learned something
        let unguided = try runGen(["sample", scratch.path("u.png"), "--run", scratch.path("flow"), "--guidance", "2", "--steps", "2"])
        #expect(unguided.status == 64 && unguided.standardError.contains("give --class K or --class all"), "\(unguided.standardError)")
        let fid = try runGen(["eval", "--run", scratch.path("flow"), "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path,
                              "--metric", "fid", "--guidance", "2", "--n", "20"])
        #expect(fid.status == 64 && fid.standardError.contains("use it with --metric class-accuracy"), "\(fid.standardError)")
        #expect(try runGen(tinyDiffusionTraining("flow", scratch.path("nodrop"), extra: ["--conditional", "--class-dropout", "0"])).status == 0)
        let nodrop = try runGen(["sample", scratch.path("n.png"), "--run", scratch.path("nodrop"), "--class", "1", "--guidance", "1", "--steps", "2"])
        #expect(nodrop.status == 64 && nodrop.standardError.contains("--class-dropout 0"), "\(nodrop.standardError)")
    }
}
