import Foundation
import GenCore
import Testing

/// `gen train sde|flow` on the 50 8×8 fixture images, small enough to run in a second or two.
func tinyDiffusionTraining(_ kind: String, _ out: String, steps: Int = 4, extra: [String] = []) -> [String] {
    ["train", kind, "--data", fixtureData.appendingPathComponent("chunked_gzip.h5").path, "--steps", "\(steps)",
     "--batch-size", "8", "--channels", "8", "--channel-multipliers", "1,2", "--threads", "2",
     "--sample-every", "0", "--log-every", "1", "--warmup", "1", "--out", out] + extra
}

@Suite("gen train sde and flow, every sampler, gen eval bpd, run as processes", .serialized)
struct DiffusionFamiliesTests {
    /// Each SDE and each coupling trains; every sampler valid for the kind writes a grid and
    /// reports its network evaluations; the wrong samplers are usage errors.
    @Test(arguments: [("ddpm", ["--prediction", "noise"]), ("sde", ["--sde", "vp"]), ("sde", ["--sde", "subvp"]), ("sde", ["--sde", "ve"]),
                      ("flow", ["--coupling", "independent"]), ("flow", ["--coupling", "ot"])])
    func trainAndSampleWithEverySampler(_ kind: String, _ options: [String]) throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = try runGen(tinyDiffusionTraining(kind, run, extra: options))
        #expect(trained.status == 0, "\(trained.standardError)")
        let config = try String(contentsOfFile: "\(run)/config.json", encoding: .utf8)
        #expect(config.contains("\"kind\" : \"\(kind)\"") && config.contains(options[1]))
        #expect(FileManager.default.fileExists(atPath: "\(run)/samples/step-000004.png"))

        let samplers = (kind == "flow" ? ["ddpm", "ddim", "euler", "midpoint", "heun", "rk4", "dopri5"]
            : ["ddpm", "ddim", "euler-maruyama", "reverse-diffusion", "pc", "euler", "midpoint", "heun", "rk4", "dopri5"])
            + ["dpm++2m", "dpm++3m", "heun-karras"]
        for sampler in samplers {
            let png = scratch.path("\(sampler).png")
            let steps = sampler == "dopri5" ? "1" : "3"
            // the predictor-corrector sampler with the other predictor
            let predictor = sampler == "pc" ? ["--predictor", "euler-maruyama"] : []
            let result = try runGen(["sample", png, "--run", run, "--n", "2", "--sampler", sampler, "--steps", steps, "--rtol", "1e-2", "--atol", "1e-2"] + predictor)
            #expect(result.status == 0, "\(sampler): \(result.standardError)")
            // dopri5 chooses its own steps: it reports its intervals and its network evaluations
            let told = sampler == "dopri5" ? "(dopri5, adaptive steps in \(steps) intervals," : "(\(sampler), \(steps) steps,"
            #expect(result.standardOutput.contains(told) && result.standardOutput.contains("network evaluations"), "\(result.standardOutput)")
            #expect(try PNG.read(URL(fileURLWithPath: png)).width == 2 * 10 + 2)
        }
        if kind == "flow" {
            let wrong = try runGen(["sample", scratch.path("x.png"), "--run", run, "--sampler", "pc", "--n", "1"])
            #expect(wrong.status == 64 && wrong.standardError.contains("does not fit a flow run"), "\(wrong.standardError)")
        }
    }

    /// The recipe flags reach the run's configuration (and so its loss, which RecipeTests check);
    /// two weightings at once, or σ_data without --edm, are usage errors that leave no run.
    @Test func recipeFlagsReachTheRun() throws {
        let scratch = try Scratch()
        for (kind, flags, expected) in [("ddpm", ["--edm", "--prediction", "velocity", "--edm-sigma-data", "1"], "\"sigmaData\" : 1"),
                                        ("sde", ["--edm"], "\"meanLogSigma\" : -1.2"), ("ddpm", ["--min-snr", "5"], "\"minSNRGamma\" : 5"),
                                        ("flow", ["--time-sampling", "logit-normal"], "\"timeSampling\" : \"logit-normal\"")] {
            let run = scratch.path("\(kind)-\(flags[0])")
            let trained = try runGen(tinyDiffusionTraining(kind, run, steps: 2, extra: flags))
            #expect(trained.status == 0, "\(flags): \(trained.standardError)")
            let config = try String(contentsOfFile: "\(run)/config.json", encoding: .utf8)
            #expect(config.contains(expected), "\(flags): \(config)")
        }
        for flags in [["--edm", "--min-snr", "5"], ["--edm-sigma-data", "1"], ["--edm", "--edm-sigma-data", "0"]] {
            let run = scratch.path("refused")
            let refused = try runGen(tinyDiffusionTraining("ddpm", run, extra: flags))
            #expect(refused.status == 64 && refused.standardError.contains("edm"), "\(flags): \(refused.standardError)")
            #expect(!FileManager.default.fileExists(atPath: "\(run)/config.json"), "\(flags)")
        }
    }

    /// Bits per dimension of a tiny run: one JSON line with the estimate and how it was made.
    @Test(arguments: ["ddpm", "sde", "flow"])
    func evalBitsPerDimension(_ kind: String) throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        let trained = kind == "ddpm" ? try runGen(tinyTraining(run, steps: 3)) : try runGen(tinyDiffusionTraining(kind, run, steps: 3))
        #expect(trained.status == 0, "\(trained.standardError)")
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        let result = try runGen(["eval", "--run", run, "--data", data, "--metric", "bpd", "--n", "4", "--rtol", "1e-3", "--atol", "1e-3"])
        #expect(result.status == 0, "\(result.standardError)")
        let line = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let bpd = try #require(json["bpd"] as? Double)
        // an untrained model on 8-bit data: a few bits per dimension, finite and positive
        #expect(bpd > 0 && bpd < 30, "\(line)")
        #expect(json["dequantization"] as? String == "uniform" && json["n"] as? Int == 4 && json["kind"] as? String == kind)
        #expect(result.standardError.contains("uniform dequantization"))
    }

    /// `gen sample --inpaint`: a grid of rows (masked input, completions, original) whose kept
    /// pixels are the original's; masks of the wrong kind are one-line errors.
    @Test(arguments: ["ddpm", "sde", "flow"])
    func inpaintKeepsTheKnownPixels(_ kind: String) throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyDiffusionTraining(kind, run, steps: 2)).status == 0)
        let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path
        // keep the left half, generate the right
        let mask = scratch.path("mask.png")
        try PNG.write(PNGImage(width: 8, height: 8, channels: 1, pixels: (0..<64).map { $0 % 8 < 4 ? 255 : 0 }), to: URL(fileURLWithPath: mask))
        let out = scratch.path("filled.png")
        let result = try runGen(["sample", out, "--run", run, "--inpaint", data, "--mask", mask, "--n", "3", "--completions", "2",
                                 "--steps", "6", "--resample", "2", "--jump", "2"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("masked input, 2 completions by RePaint"), "\(result.standardOutput)")
        // 3 rows of 4 images: masked input, 2 completions, original
        let grid = try PNG.read(URL(fileURLWithPath: out))
        #expect(grid.width == 4 * 10 + 2 && grid.height == 3 * 10 + 2, "\(grid.width)×\(grid.height)")
        func pixel(row: Int, column: Int, y: Int, x: Int) -> UInt8 { grid.pixels[((2 + row * 10 + y) * grid.width + 2 + column * 10 + x) * grid.channels] }
        var keptSame = true, changed = 0
        for row in 0..<3 {
            for y in 0..<8 {
                for x in 0..<8 {
                    let original = pixel(row: row, column: 3, y: y, x: x)
                    for column in 1...2 {
                        let filled = pixel(row: row, column: column, y: y, x: x)
                        if x < 4 { keptSame = keptSame && filled == original } else if filled != original { changed += 1 }
                    }
                }
            }
        }
        #expect(keptSame, "the kept half of every completion is the original's")
        #expect(changed > 0, "the generated half is drawn, not copied")

        let wrongSize = scratch.path("wide.png"), colour = scratch.path("rgb.png")
        try PNG.write(PNGImage(width: 9, height: 8, channels: 1, pixels: [UInt8](repeating: 0, count: 72)), to: URL(fileURLWithPath: wrongSize))
        try PNG.write(PNGImage(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 0, count: 192)), to: URL(fileURLWithPath: colour))
        let cases: [([String], Int32, String)] = [
            (["--inpaint", data, "--mask", wrongSize], 65, "the mask is 9×8; the images are 8×8"),
            (["--inpaint", data, "--mask", colour], 65, "must be 8-bit gray"),
            (["--inpaint", data], 64, "--inpaint needs --mask"),
            (["--mask", mask], 64, "are for --inpaint"),
            (["--inpaint", data, "--mask", mask, "--sampler", "ddim"], 64, "--sampler does not apply"),
            (["--inpaint", data, "--mask", mask, "--n", "5000"], 64, "at most 1000 images"),
            (["--inpaint", fixtureData.appendingPathComponent("nhw_uint8.h5").path, "--mask", mask], 65, "the run was trained on [1, 8, 8]"),
        ]
        for (arguments, status, message) in cases {
            let failed = try runGen(["sample", scratch.path("bad.png"), "--run", run] + arguments)
            #expect(failed.status == status && failed.standardError.contains(message), "\(arguments): \(failed.status) \(failed.standardError)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path("bad.png")))
        }
    }

    /// Bad input to eval: another image size, a missing run.
    @Test func evalRejectsMismatchedData() throws {
        let scratch = try Scratch()
        let run = scratch.path("run")
        #expect(try runGen(tinyDiffusionTraining("flow", run, steps: 1)).status == 0)
        let other = fixtureData.appendingPathComponent("nhw_uint8.h5").path
        let result = try runGen(["eval", "--run", run, "--data", other, "--n", "2"])
        #expect(result.status == 65 && result.standardError.contains("the flow run was trained on [1, 8, 8]"), "\(result.standardError)")
        #expect(result.standardError.split(separator: "\n").count == 1)
        let missing = try runGen(["eval", "--run", scratch.path("nothing"), "--data", other])
        #expect(missing.status == 66)
    }
}
