import Foundation
import Testing

@Suite("gen bench, run as a process")
struct BenchCommandTests {
    /// One JSON line per model with the PyTorch twin's keys and its parameter count (timings
    /// are for `gen bench` to report, not for tests to judge).
    @Test func modelLinesHaveTheTwinsKeys() throws {
        let result = try runGen(["bench", "--only", "vae-mlp", "--only", "wgan-sn-dcgan", "--reps", "1", "--warmup", "0", "--threads", "2"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 2)
        let expected = ["vae-mlp": 652_824, "wgan-sn-dcgan": 678_530]
        for line in lines {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let name = try #require(json["bench"] as? String)
            #expect(json["params"] as? Int == expected[name], "\(line)")
            for key in ["batch", "train_step_s", "forward_s", "peak_rss_mb"] { #expect(json[key] != nil, "\(key) missing in \(line)") }
        }
        let unknown = try runGen(["bench", "--only", "resnet"])
        #expect(unknown.status == 64 && unknown.standardError.contains("unknown model 'resnet'"))
        // options that do not go together are usage errors, not silently ignored
        for options in [["--sample", "--ops"], ["--sample", "--only", "vae-mlp"]] {
            let refused = try runGen(["bench"] + options)
            #expect(refused.status == 64, "\(options): \(refused.standardError)")
        }
    }
}
