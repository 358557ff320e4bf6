import Foundation
import GenCore
import Testing

/// `gen eval --floor` computes what it says: the Fréchet distance and KID of the classifier's
/// features of the first n images of the fixed shuffle against the next n, and precision and
/// recall of the same; here recomputed from the file, the classifier and the metric types
/// (themselves checked against SciPy and closed forms in GenCoreTests).
@Suite("gen eval's sample metrics, recomputed", .serialized)
struct SampleMetricsWiringTests {
    @Test func floorIsTheMetricsOfTheShuffledHalves() throws {
        let scratch = try Scratch()
        let data = scratch.path("digits.h5")
        try FileManager.default.copyItem(atPath: fixtureData.appendingPathComponent("chunked_gzip.h5").path, toPath: data)
        let classifier = scratch.path("classifier")
        #expect(try runGen(["train", "classifier", "--data", data, "--steps", "20", "--batch-size", "8", "--channels", "4", "--features", "8",
                            "--threads", "2", "--log-every", "10", "--out", classifier]).status == 0)
        let result = try runGen(["eval", "--floor", "--data", data, "--n", "25", "--features", classifier])
        #expect(result.status == 0, "\(result.standardError)")
        let line = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])

        let model = try FeatureClassifierFamily.load(URL(fileURLWithPath: classifier))
        let test = try HDF5Dataset(url: URL(fileURLWithPath: data))
        let order = RandomGenerator(seed: 0, stream: .dataOrder).permutation(50)
        let real = model.features(try test.images(at: Array(order[0..<25]), scaledTo: .symmetric))
        let other = model.features(try test.images(at: Array(order[25..<50]), scaledTo: .symmetric))
        let fid = FrechetDistance.between(FeatureStatistics(features: real), FeatureStatistics(features: other))
        let kid = KernelInceptionDistance(real, other, generator: RandomGenerator(seed: 0, stream: .dataOrder))
        let pr = PrecisionRecall(real: real, generated: other)
        #expect(abs((json["fid"] as? Double ?? .nan) - fid) < 1e-4 * max(1, fid), "fid \(json["fid"] ?? "none") vs \(fid)")
        #expect(abs((json["kid"] as? Double ?? .nan) - kid.mean) < 1e-6 * max(1, abs(kid.mean)) + 1e-6, "kid \(json["kid"] ?? "none") vs \(kid.mean)")
        #expect(json["precision"] as? Double == (pr.precision * 1e4).rounded() / 1e4 && json["recall"] as? Double == (pr.recall * 1e4).rounded() / 1e4,
                "pr \(json["precision"] ?? "none"), \(json["recall"] ?? "none") vs \(pr.precision), \(pr.recall)")
    }
}
