import Diffusion
import Foundation
import GenCore
import Testing

/// A run's checkpoint loaded through the family's typed API, and sampled.
@Suite("Library use")
struct LibraryUseTests {
    @Test func loadACheckpointAndSample() throws {
        // A tiny run's checkpoint, as `gen train ddpm` writes it.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-lib-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let trained = DDPM(DDPMConfiguration(unet: UNetConfiguration(baseChannels: 8, channelMultipliers: [1, 2], imageSize: 8)))
        let configuration = RunConfiguration(kind: "ddpm", model: trained.configuration, training: TrainerConfiguration(steps: 1),
                                             data: DataSource(path: "x.h5", dataset: "images", imageShape: [1, 8, 8], pixelRange: .symmetric))
        try RunCheckpoint(configJSON: try configuration.json(), trainer: TrainerState(step: 0, loader: .init(), noise: RandomGenerator(seed: 0).state,
                                                                                          dropout: RandomGenerator(seed: 0).state, nonFiniteStreak: 0),
                          model: trained.model.stateDict(), ema: [:], optimizer: [:])
            .write(to: folder.appendingPathComponent("checkpoint.safetensors"))

        let ddpm = try DDPMFamily.load(folder)
        #expect(!ddpm.network.isTraining, "a loaded model samples in evaluation mode")
        let images = ddpm.sample(count: 4, sampler: DDIMSampler(steps: 10), generator: RandomGenerator(seed: 1))
        try ImageGrid.write(images, to: folder.appendingPathComponent("samples.png"), nrow: 2, range: .symmetric)

        #expect(images.shape == [4, 1, 8, 8] && images.isFinite)
        #expect(try PNG.read(folder.appendingPathComponent("samples.png")).width == 2 * 10 + 2)
        #expect(ddpm.network.conv(at: "out_conv.weight")?.isIdentical(to: trained.network.outConv.weight) == true)
    }
}

extension Module {
    /// A parameter by path, for checks.
    func conv(at path: String) -> Tensor? { namedParameters().first { $0.0 == path }?.1 }
}
