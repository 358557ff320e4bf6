import Foundation
import GenCore
import Testing

/// `gen train vae|realnvp` on the 50 8×8 fixture images.
func tinyLikelihoodTraining(_ kind: String, _ out: String, steps: Int = 3, extra: [String] = []) -> [String] {
    let size = kind == "vae" ? ["--latent", "4", "--hidden", "32"] : ["--scales", "1", "--couplings", "1", "--final-couplings", "1", "--hidden", "8"]
    return ["train", kind, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--steps", "\(steps)",
            "--batch-size", "8", "--threads", "2", "--sample-every", "0", "--log-every", "1", "--out", out] + size + extra
}

@Suite("gen train vae and realnvp, sampling and likelihoods, run as processes", .serialized)
struct VAEFlowCommandTests {
    @Test(arguments: [["--arch", "mlp", "--likelihood", "bernoulli"], ["--arch", "conv", "--likelihood", "gaussian", "--kl-warmup", "2"]])
    func vaeTrainsSamplesReconstructsAndScores(_ options: [String]) throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = try runGen(tinyLikelihoodTraining("vae", run, extra: options))
        #expect(trained.status == 0, "\(trained.standardError)")
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        for (index, extra) in [[], ["--reconstruct", data], ["--interpolate", "--nrow", "4"]].enumerated() {
            let result = try runGen(["sample", scratch.path("grid-\(index).png"), "--run", run, "--n", "8"] + extra)
            #expect(result.status == 0, "\(extra): \(result.standardError)")
        }
        // 8 inputs + 8 reconstructions in rows of 8: two rows
        let reconstructed = try runGen(["sample", scratch.path("recon.png"), "--run", run, "--n", "8", "--reconstruct", data])
        #expect(reconstructed.status == 0)
        #expect(try PNG.read(URL(fileURLWithPath: scratch.path("recon.png"))).height == 2 * 10 + 2)
        let eval = try runGen(["eval", "--run", run, "--data", data, "--metric", "nll", "--n", "4", "--k", "20"])
        #expect(eval.status == 0, "\(eval.standardError)")
        let line = try #require(eval.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((json["nll_nats"] as? Double)?.isFinite == true && json["k"] as? Int == 20 && json["data_treatment"] != nil, "\(line)")
        // the wrong metric for the kind is a usage error
        let wrong = try runGen(["eval", "--run", run, "--data", data, "--metric", "bpd"])
        #expect(wrong.status == 64 && wrong.standardError.contains("this is a vae run"), "\(wrong.standardError)")
    }

    @Test func realnvpTrainsSamplesAndScores() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = try runGen(tinyLikelihoodTraining("realnvp", run, extra: ["--norm", "actnorm"]))
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardError.contains("loss"))
        let sampled = try runGen(["sample", scratch.path("grid.png"), "--run", run, "--n", "4", "--temperature", "0.7"])
        #expect(sampled.status == 0, "\(sampled.standardError)")
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let eval = try runGen(["eval", "--run", run, "--data", data, "--n", "8"])
        #expect(eval.status == 0, "\(eval.standardError)")
        let line = try #require(eval.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let bpd = try #require(json["bpd"] as? Double)
        #expect(bpd > 0 && bpd < 30 && json["kind"] as? String == "realnvp", "\(line)")
        // a vae-only option on a realnvp run, and data of another size
        let reconstruct = try runGen(["sample", scratch.path("x.png"), "--run", run, "--reconstruct", data])
        #expect(reconstruct.status == 64 && reconstruct.standardError.contains("needs a vae run"))
        let other = try runGen(["eval", "--run", run, "--data", fixtureData.appendingPathComponent("nhw_uint8.h5").path])
        #expect(other.status == 65 && other.standardError.contains("the realnvp run was trained on [1, 8, 8]"), "\(other.standardError)")
    }

    /// --holdout keeps a seeded part of the file out of training, and gen eval on the same file
    /// scores exactly those images.
    @Test func heldOutImagesAreScored() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = try runGen(tinyLikelihoodTraining("realnvp", run, steps: 1, extra: ["--holdout", "0.2"]))
        #expect(trained.status == 0 && trained.standardError.contains("on 40 images"), "\(trained.standardError)")
        let eval = try runGen(["eval", "--run", run, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path])
        #expect(eval.status == 0 && eval.standardError.contains("scoring the run's 10 held-out images"), "\(eval.standardError)")
        #expect(eval.standardOutput.contains("\"n\": 10"))
    }

    /// A checkpoint whose weights belong to another kind or another image size is refused with
    /// one line naming the file, by sample and by eval.
    @Test func checkpointsThatDoNotFitAreRefused() throws {
        let scratch = try Scratch()
        let vae = scratch.path("vae"), flow = scratch.path("flow")
        #expect(try runGen(tinyLikelihoodTraining("vae", vae, steps: 1)).status == 0)
        #expect(try runGen(tinyLikelihoodTraining("realnvp", flow, steps: 1)).status == 0)
        // the realnvp run's configuration with the vae run's weights
        let vaeCheckpoint = try RunCheckpoint.read(URL(fileURLWithPath: "\(vae)/checkpoint.safetensors"))
        var mixed = try RunCheckpoint.read(URL(fileURLWithPath: "\(flow)/checkpoint.safetensors"))
        mixed.model = vaeCheckpoint.model
        mixed.ema = vaeCheckpoint.ema
        try mixed.write(to: URL(fileURLWithPath: "\(flow)/checkpoint.safetensors"))
        let sampled = try runGen(["sample", scratch.path("x.png"), "--run", flow])
        #expect(sampled.status == 65 && sampled.standardError.contains("does not fit its own configuration"), "\(sampled.standardError)")
        #expect(sampled.standardError.split(separator: "\n").count == 1)
        let evaluated = try runGen(["eval", "--run", flow, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path])
        #expect(evaluated.status == 65, "\(evaluated.standardError)")
        // a vae configuration for 16×16 images with weights for 8×8 ones
        var resized = vaeCheckpoint
        resized.configJSON = vaeCheckpoint.configJSON.replacingOccurrences(of: "8,\n      8", with: "16,\n      16")
        #expect(resized.configJSON != vaeCheckpoint.configJSON)
        try resized.write(to: URL(fileURLWithPath: "\(vae)/checkpoint.safetensors"))
        let wrongSize = try runGen(["sample", scratch.path("y.png"), "--run", vae])
        #expect(wrongSize.status == 65 && wrongSize.standardError.contains("does not fit its own configuration"), "\(wrongSize.standardError)")
        let wrongSizeEval = try runGen(["eval", "--run", vae, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--metric", "nll", "--k", "2"])
        // eval compares the data with the configuration first, which here already disagrees
        #expect(wrongSizeEval.status == 65 && wrongSizeEval.standardError.contains("the vae run was trained on [1, 16, 16]"), "\(wrongSizeEval.standardError)")
        #expect(wrongSizeEval.standardError.split(separator: "\n").count == 1)
    }

    /// Scale counts that cannot be built are usage errors, not traps (1 << 64 is 0 in Swift).
    @Test(arguments: ["-1", "99"])
    func impossibleScaleCountsAreUsageErrors(_ scales: String) throws {
        let scratch = try Scratch()
        let result = try runGen(tinyLikelihoodTraining("realnvp", scratch.path("run"), steps: 1) + ["--scales=\(scales)"])
        #expect(result.status == 64 && result.standardError.contains("scales"), "\(result.standardError)")
    }
}
