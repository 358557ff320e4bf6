import Foundation
import GenCore
import Testing

/// The last stdout line of a run as JSON.
private func jsonLine(_ result: RunResult) throws -> [String: Any] {
    let line = try #require(result.standardOutput.split(separator: "\n").last, "no output; stderr: \(result.standardError)")
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
}

@Suite("gen train classifier and gen eval's sample metrics, run as processes", .serialized)
struct EvalCommandTests {
    /// A copy of the labelled 8×8 fixture (the feature cache is written beside the data) and a
    /// classifier trained on it.
    func classifierRun(_ scratch: Scratch) throws -> (data: String, classifier: String) {
        let data = scratch.path("digits.h5")
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("chunked_gzip.h5").path, toPath: data)
        let classifier = scratch.path("runs/classifier-a")
        let trained = try runGen(["train", "classifier", "--data", data, "--holdout", "0.2", "--steps", "30", "--batch-size", "8",
                                  "--channels", "4", "--features", "8", "--threads", "2", "--log-every", "10", "--out", classifier], in: scratch.url)
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("held-out accuracy") && trained.standardOutput.contains("on 10 images"), "\(trained.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: "\(classifier)/samples/step-000030.png"), "a classifier draws no grids")
        return (data, classifier)
    }

    @Test func classifierAccuracyFloorAndCache() throws {
        let scratch = try Scratch()
        let (data, classifier) = try classifierRun(scratch)
        let accuracy = try runGen(["eval", "--run", classifier, "--data", data])
        #expect(accuracy.status == 0, "\(accuracy.standardError)")
        let scored = try jsonLine(accuracy)
        #expect(scored["metric"] as? String == "accuracy" && scored["n"] as? Int == 10, "held-out images of the training file: \(scored)")
        #expect((scored["accuracy"] as? Double).map { $0 >= 0 && $0 <= 1 } == true)

        // the floor: 25 test images against the other 25, classifier found under ./runs
        let floor = try runGen(["eval", "--floor", "--data", data, "--n", "25"], in: scratch.url)
        #expect(floor.status == 0, "\(floor.standardError)")
        let first = try jsonLine(floor)
        #expect(first["kind"] as? String == "floor" && first["n"] as? Int == 25, "\(first)")
        for key in ["fid", "kid", "kid_stderr", "precision", "recall"] { #expect((first[key] as? Double)?.isFinite == true, "\(key): \(first)") }
        #expect(floor.standardError.contains("most recent classifier run"))
        let cached = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).filter { $0.hasPrefix("digits.h5.features-") }
        #expect(cached.count == 2, "the test images and the floor's other half: \(cached)")
        // the second time reads the cache and gives the same numbers
        let again = try runGen(["eval", "--floor", "--data", data, "--n", "25", "--features", classifier])
        #expect(again.standardError.contains("from the cache"))
        #expect(try jsonLine(again)["fid"] as? Double == first["fid"] as? Double)
        // one metric alone
        let fidOnly = try jsonLine(try runGen(["eval", "--floor", "--data", data, "--n", "25", "--features", classifier, "--metric", "fid"]))
        #expect(fidOnly["fid"] as? Double == first["fid"] as? Double && fidOnly["kid"] == nil && fidOnly["precision"] == nil, "\(fidOnly)")
    }

    /// Every generative family is scored by fid, kid and pr against the same test images.
    @Test func sampleMetricsForEveryFamily() throws {
        let scratch = try Scratch()
        let (data, classifier) = try classifierRun(scratch)
        let runs: [(String, [String])] = [
            ("ddpm", tinyDiffusionTraining("ddpm", scratch.path("ddpm"), steps: 2)),
            ("sde", tinyDiffusionTraining("sde", scratch.path("sde"), steps: 2, extra: ["--sde", "ve"])),
            ("flow", tinyDiffusionTraining("flow", scratch.path("flow"), steps: 2)),
            ("vae", tinyLikelihoodTraining("vae", scratch.path("vae"), steps: 2)),
            ("realnvp", tinyLikelihoodTraining("realnvp", scratch.path("realnvp"), steps: 2)),
            ("wgan", tinyWGAN(scratch.path("wgan"), steps: 2)),
        ]
        for (kind, arguments) in runs {
            #expect(try runGen(arguments).status == 0, "\(kind)")
            let sampler = DiffusionRunKinds.contains(kind) ? ["--sampler", "euler", "--steps", "2"] : []
            let result = try runGen(["eval", "--run", scratch.path(kind), "--data", data, "--metric", "fid,kid,pr", "--n", "20",
                                     "--features", classifier, "--batch-size", "8"] + sampler)
            #expect(result.status == 0, "\(kind): \(result.standardError)")
            let json = try jsonLine(result)
            #expect(json["kind"] as? String == kind && json["n"] as? Int == 20 && json["weights"] as? String == "ema", "\(json)")
            for key in ["fid", "kid", "precision", "recall"] { #expect((json[key] as? Double)?.isFinite == true, "\(kind) \(key): \(json)") }
            if !sampler.isEmpty { #expect(json["sampler"] as? String == "euler" && json["sampler_steps"] as? Int == 2, "\(json)") }
        }
        // a wgan's default metrics are the sample metrics
        let wgan = try runGen(["eval", "--run", scratch.path("wgan"), "--data", data, "--n", "20", "--features", classifier])
        #expect(wgan.status == 0, "\(wgan.standardError)")
        #expect(try jsonLine(wgan)["fid"] != nil)
    }

    /// `--sampler a,b --steps m,n`: every sampler at every step count, one line each with its
    /// network evaluations per image, recorded in eval.jsonl, and the FID-against-NFE plot.
    @Test func samplerSweepGivesOneLineEachAndAPlot() throws {
        let scratch = try Scratch()
        let (data, classifier) = try classifierRun(scratch)
        let run = scratch.path("flow")
        #expect(try runGen(tinyDiffusionTraining("flow", run, steps: 2)).status == 0)
        let result = try runGen(["eval", "--run", run, "--data", data, "--metric", "fid", "--n", "20", "--features", classifier,
                                 "--batch-size", "8", "--sampler", "dpm++2m,heun-karras,euler", "--steps", "2,3"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = try result.standardOutput.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let combinations = lines.map { "\($0["sampler"] as? String ?? "?") \($0["sampler_steps"] as? Int ?? 0) \(Int(exactly: $0["nfe"] as? Double ?? 0.5) ?? -1)" }
        // 20 images in batches of 8: every batch costs the sampler's evaluations; Karras–Heun's
        // N noise levels cost 2N − 1 (flow matching's jump out of t = 1 costs none)
        #expect(combinations == ["dpm++2m 2 2", "dpm++2m 3 3", "heun-karras 2 3", "heun-karras 3 5", "euler 2 2", "euler 3 3"], "\(combinations)")
        #expect(lines.allSatisfy { ($0["fid"] as? Double)?.isFinite == true && $0["seconds"] != nil })
        let plot = try PNG.read(URL(fileURLWithPath: "\(run)/fid-vs-nfe.png"))
        #expect(plot.width > 300 && plot.height > 200)
        let recorded = try String(contentsOfFile: "\(run)/eval.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(recorded.count == 6 && recorded.allSatisfy { $0.contains("\"nfe\"") })
        // one value each: one line, no plot
        let single = try jsonLine(try runGen(["eval", "--run", run, "--data", data, "--metric", "fid", "--n", "20", "--features", classifier,
                                              "--batch-size", "8", "--sampler", "dpm++3m", "--steps", "4"]))
        #expect(single["sampler"] as? String == "dpm++3m" && single["nfe"] as? Double == 4, "\(single)")
        // lists are for gen eval's sample metrics
        let sample = try runGen(["sample", scratch.path("x.png"), "--run", run, "--sampler", "euler,heun"])
        #expect(sample.status == 64 && sample.standardError.contains("lists are for gen eval"), "\(sample.standardError)")
        let bpd = try runGen(["eval", "--run", run, "--data", data, "--metric", "bpd", "--steps", "2,3"])
        #expect(bpd.status == 64, "\(bpd.standardError)")
    }

    @Test func misuseGetsOneLineErrors() throws {
        let scratch = try Scratch()
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let vae = scratch.path("vae")
        #expect(try runGen(tinyLikelihoodTraining("vae", vae, steps: 1)).status == 0)
        // an unlabelled file for a classifier
        let unlabelled = scratch.path("unlabelled.h5")
        let writer = try HDF5ImageWriter(url: URL(fileURLWithPath: unlabelled), channels: 1, height: 8, width: 8, withLabels: false)
        try writer.append(pixels: [UInt8](repeating: 7, count: 16 * 64), labels: nil)
        try writer.finish()
        let cases: [([String], Int32, String)] = [
            (["train", "classifier", "--data", unlabelled, "--out", scratch.path("c1")], 65, "no labels beside the images"),
            (["train", "classifier", "--data", fixtureData.appendingPathComponent("nhw_uint8.h5").path, "--batch-size", "2", "--out", scratch.path("c2")], 65, "not a multiple of 4"),
            (["eval", "--run", vae, "--data", data, "--metric", "fid"], 66, "no feature classifier for [1, 8, 8] images"),
            (["eval", "--run", vae, "--data", data, "--metric", "fid,nll"], 64, "fid, kid, pr and class-accuracy together"),
            (["eval", "--run", vae, "--data", data, "--metric", "fid", "--features", vae], 64, "is a vae run, not a classifier"),
            (["eval", "--run", vae, "--data", data, "--metric", "fid", "--sampler", "ddim"], 64, "does not fit a vae run"),
            (["eval", "--floor", "--run", vae, "--data", data], 64, "give it no --run"),
            (["eval", "--data", data], 64, "give --run RUN"),
            (["eval", "--run", vae, "--data", data, "--metric", "accuracy"], 64, "needs a realnvp, classifier run"),
        ]
        for (arguments, status, message) in cases {
            let result = try runGen(arguments, in: scratch.url)
            #expect(result.status == status && result.standardError.contains(message), "\(arguments): \(result.status) \(result.standardError)")
            if status != 64 { #expect(result.standardError.split(separator: "\n").filter { $0.hasPrefix("gen:") }.count == 1, "\(arguments): \(result.standardError)") }
        }
    }

    /// `--minutes` stops a run saved, and `--resume` finishes it.
    @Test func minutesLimitStopsAndResumes() throws {
        let scratch = try Scratch()
        let run = scratch.path("vae")
        let limited = try runGen(tinyLikelihoodTraining("vae", run, steps: 1_000_000, extra: ["--minutes", "0.0005"]))
        #expect(limited.status == 0 && limited.standardOutput.contains("stopped at the --minutes limit"), "\(limited.standardOutput) \(limited.standardError)")
        let checkpoint = try RunCheckpoint.read(URL(fileURLWithPath: "\(run)/checkpoint.safetensors"))
        #expect(checkpoint.trainer.step < 1_000_000)
        let resumed = try runGen(["train", "vae", "--resume", run, "--steps", "\(checkpoint.trainer.step + 2)"])
        #expect(resumed.status == 0 && resumed.standardOutput.contains("finished \(checkpoint.trainer.step + 2) steps"), "\(resumed.standardError)")
    }

    /// `--minutes` without `--steps` is a budget: the run plans its steps from its first ones,
    /// says so, and ends at them, with the plan in config.json.
    @Test func minutesWithoutStepsPlanTheRun() throws {
        let scratch = try Scratch()
        let run = scratch.path("vae")
        var arguments = tinyLikelihoodTraining("vae", run, extra: ["--minutes", "0.1"])
        // no steps; and few progress lines (a run of thousands of steps would fill the pipe)
        for option in ["--steps", "--log-every"] {
            let at = try #require(arguments.firstIndex(of: option))
            arguments.removeSubrange(at...at + 1)
        }
        arguments += ["--log-every", "1000000"]
        let budgeted = try runGen(arguments)
        #expect(budgeted.status == 0 && budgeted.standardError.contains("for 0.1 minutes (steps planned from the first ones)"), "\(budgeted.standardError)")
        let planned = try #require(budgeted.standardError.split(separator: "\n").first { $0.hasPrefix("planned ") }, "\(budgeted.standardError)")
        let steps = try #require(Int(planned.split(separator: " ")[1]))
        #expect(budgeted.standardOutput.contains("finished \(steps) steps") || budgeted.standardOutput.contains("stopped at the end of its budget"), "\(budgeted.standardOutput)")
        let config = try RunKind.decode(String(contentsOf: URL(fileURLWithPath: "\(run)/config.json"), encoding: .utf8))
        #expect(config.training.steps == steps && config.training.budget?.isPlanned == true)
    }
}

private let DiffusionRunKinds = ["ddpm", "sde", "flow"]
