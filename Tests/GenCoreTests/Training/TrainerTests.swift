import Foundation
import GenCore
import Testing

/// A task whose loss can be made non-finite on demand.
final class ToyTask: TrainingTask {
    let layer = Linear(64, 1, generator: RandomGenerator(seed: 1))
    var poison = false
    var model: Module { layer }
    var pixelRange: PixelRange { .unit }
    func loss(batch: Batch, generator: RandomGenerator) -> Tensor {
        let loss = (layer(batch.images.flattened()) - 1).squared().mean()
        return poison ? loss * Float.nan : loss
    }
    func samples(count: Int, generator: RandomGenerator) -> Tensor { Tensor.zeros([count, 1, 8, 8]) }
}

@Suite("Trainer")
struct TrainerTests {
    func makeTrainer(_ task: ToyTask, folder: URL, steps: Int) throws -> Trainer {
        let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        let loader = BatchLoader(dataset: data, batchSize: 8, seed: 1, pixelRange: .unit)
        let trainer = Trainer(task: task, loader: loader, optimizer: Adam(learningRate: 1e-2),
                              configuration: TrainerConfiguration(steps: steps, batchSize: 8, logEvery: 1, maximumNonFiniteSteps: 3),
                              folder: folder, configJSON: "{}")
        trainer.showsProgress = false
        trainer.log = { _ in }
        return trainer
    }

    /// Non-finite losses skip the update; three in a row stop the run, and the last checkpoint
    /// stays as it was.
    @Test func nonFiniteLossesSkipThenStop() throws {
        let scratch = try TemporaryFolder()
        let task = ToyTask()
        let trainer = try makeTrainer(task, folder: scratch.url, steps: 4)
        #expect(try trainer.run() == .finished)
        let saved = try Data(contentsOf: trainer.checkpointURL)
        let weights = task.layer.weight.copy()
        task.poison = true
        let next = try makeTrainer(task, folder: scratch.url, steps: 10)
        try next.resume()
        #expect(try next.run() == .diverged)
        #expect(next.step == 4)
        #expect(task.layer.weight.isIdentical(to: weights))
        #expect(try Data(contentsOf: trainer.checkpointURL) == saved)
    }

    /// A checkpoint with non-finite weights is refused on resume.
    @Test func refusesNonFiniteCheckpoint() throws {
        let scratch = try TemporaryFolder()
        let task = ToyTask()
        let trainer = try makeTrainer(task, folder: scratch.url, steps: 2)
        _ = try trainer.run()
        var checkpoint = try RunCheckpoint.read(trainer.checkpointURL)
        checkpoint.model["weight"] = Tensor.full([1, 64], .infinity)
        try checkpoint.write(to: trainer.checkpointURL)
        #expect(throws: SafeTensorsError.self) { try makeTrainer(ToyTask(), folder: scratch.url, steps: 4).resume() }
    }

    /// The loss plot is a readable PNG.
    @Test func lossPlotDraws() throws {
        let image = LossPlot.image(steps: Array(1...100), losses: (1...100).map { 1 / Float($0) })
        #expect(image.width == 720 && image.channels == 3)
        #expect(try PNG.decode(PNG.encode(image)) == image)
        #expect(image.pixels.contains { $0 != 255 })
    }
}
