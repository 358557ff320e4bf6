import Diffusion
import Foundation
import GenCore
import GenFamilies
import Testing
import VAE

/// Checkpoints written by gen 0.1.0 (before the family registry; no `kind` in their metadata)
/// load through the registry and give that version's samples, byte for byte, and its numbers.
@Suite("Checkpoints of an earlier gen", .serialized)
struct EarlierCheckpointTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoints/gen-0.1.0")

    /// `gen sample --n 4` as 0.1.0 ran it: seed 0, a 2×2 grid, the EMA weights.
    @Test(arguments: [("ddpm", DrawOptions(sampler: DiffusionSamplerChoice(steps: 3))), ("vae", DrawOptions()),
                      ("realnvp", DrawOptions(temperature: 0.7)), ("wgan", DrawOptions())])
    func samplesAreTheSame(_ kind: String, _ options: DrawOptions) throws {
        Threads.set(2)
        let checkpoint = Self.folder.appendingPathComponent("\(kind).safetensors")
        #expect(try SafeTensors.read(checkpoint).metadata["kind"] == nil, "an old checkpoint has no kind of its own")
        let run = try FamilyRegistry.builtIn.load(checkpoint)
        #expect(run.kind == kind)
        let images = try run.model.imageSource(options).draw(count: 4, generator: RandomGenerator(seed: 0, stream: .sampling))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("gen-old-\(kind)-\(UInt32.random(in: 0...UInt32.max)).png")
        defer { try? FileManager.default.removeItem(at: output) }
        try ImageGrid.write(images, to: output, nrow: 2, range: .symmetric)
        #expect(try Data(contentsOf: output) == Data(contentsOf: Self.folder.appendingPathComponent("\(kind)-samples.png")), "\(kind)")
    }

    /// `gen eval` as 0.1.0 ran it gives the same likelihoods.
    @Test(arguments: [("ddpm", "bpd"), ("vae", "nll_nats"), ("realnvp", "bpd")])
    func likelihoodsAreTheSame(_ kind: String, _ key: String) throws {
        Threads.set(2)
        let line = try String(contentsOf: Self.folder.appendingPathComponent("\(kind)-eval.json"), encoding: .utf8)
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        var request = EvaluationRequest(data: fixtureData, count: expected["n"] as? Int)
        request.recordsResult = false  // the fixture folder stays as committed
        if kind == "ddpm" {
            request.likelihood = LikelihoodOptions(method: LikelihoodEstimator(solver: ODESolver(method: .dopri5, relativeTolerance: 1e-3, absoluteTolerance: 1e-3)))
        } else if kind == "vae" {
            request.likelihood = LikelihoodOptions(method: ImportanceWeightedEstimator(samples: 20))
        }
        let fields = try Evaluation.evaluate(try FamilyRegistry.builtIn.open(Self.folder.appendingPathComponent("\(kind).safetensors")), request,
                                             registry: .builtIn, log: { _ in })
        guard case .number(let value, let decimals)? = fields[key] else {
            Issue.record("no \(key) in \(fields.json)")
            return
        }
        let old = try #require(expected[key] as? Double)
        #expect(abs(value - old) <= 0.6 * pow(10, Double(-decimals)), "\(kind): \(value) against 0.1.0's \(old)")
    }
}
