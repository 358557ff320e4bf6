import Foundation
import GenCore
import Testing

/// A task whose loss can be made non-finite on demand.
final class ToyTask: SingleLossTask {
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

/// Two players taking turns; the second one's loss can be made non-finite on demand.
final class ToyAlternatingTask: TrainingTask {
    final class Pair: Module {
        let first = Linear(64, 1, generator: RandomGenerator(seed: 2))
        let second = Linear(64, 1, generator: RandomGenerator(seed: 3))
    }
    let pair = Pair()
    var poison = false
    var model: Module { pair }
    var sampledModule: Module { pair.second }
    var pixelRange: PixelRange { .unit }
    var phases: [TrainingPhase] {
        [TrainingPhase(name: "first", module: pair.first, updatesPerStep: 2) { batch, _ in
            ((self.pair.first(batch.images.flattened()) - 1).squared().mean(), [:])
         },
         TrainingPhase(name: "second", module: pair.second, usesData: false) { batch, _ in
            let loss = (self.pair.second(batch.images.flattened()) + 1).squared().mean()
            return (self.poison ? loss * Float.nan : loss, [:])
         }]
    }
    func samples(count: Int, generator: RandomGenerator) -> Tensor { Tensor.zeros([count, 1, 8, 8]) }
}

@Suite("Trainer")
struct TrainerTests {
    func makeTrainer(_ task: ToyTask, folder: URL, steps: Int) throws -> Trainer {
        let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        let loader = BatchLoader(dataset: data, batchSize: 8, seed: 1, pixelRange: .unit)
        let trainer = Trainer(task: task, loader: loader, optimizer: Adam(learningRate: 1e-2),
                              configuration: TrainerConfiguration(steps: steps, batchSize: 8, warmupSteps: 0, sampleEvery: 0, checkpointEvery: 0, logEvery: 1, maximumNonFiniteSteps: 3),
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

    /// When a later phase of an alternating step fails, the earlier phases' updates of that
    /// step are undone too: weights and optimizer state are as before the step.
    @Test func alternatingStepIsSkippedWhole() throws {
        let scratch = try TemporaryFolder()
        let task = ToyAlternatingTask()
        func makeTrainer(steps: Int) throws -> Trainer {
            let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
            let loader = BatchLoader(dataset: data, batchSize: 8, seed: 1, pixelRange: .unit)
            let trainer = Trainer(task: task, loader: loader, optimizers: [Adam(learningRate: 1e-2), Adam(learningRate: 1e-2)],
                                  configuration: TrainerConfiguration(steps: steps, batchSize: 8, warmupSteps: 0, sampleEvery: 0, checkpointEvery: 0, logEvery: 1, maximumNonFiniteSteps: 2),
                                  folder: scratch.url, configJSON: "{}")
            trainer.showsProgress = false
            trainer.log = { _ in }
            return trainer
        }
        #expect(try makeTrainer(steps: 3).run() == .finished)
        let next = try makeTrainer(steps: 6)
        try next.resume()
        let first = task.pair.first.weight.copy(), second = task.pair.second.weight.copy()
        let firstMoments = next.optimizers[0].stateDict().mapValues { $0.copy() }
        task.poison = true
        #expect(try next.run() == .diverged)
        #expect(next.step == 3)
        #expect(task.pair.first.weight.isIdentical(to: first), "the first phase's updates of the failed steps were kept")
        #expect(task.pair.second.weight.isIdentical(to: second))
        let moments = next.optimizers[0].stateDict()
        #expect(moments.keys == firstMoments.keys && moments.allSatisfy { $0.value.isIdentical(to: firstMoments[$0.key]!) })
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
        do {
            try makeTrainer(ToyTask(), folder: scratch.url, steps: 4).resume()
            Issue.record("non-finite weights were accepted")
        } catch let error as GenError {
            #expect(error.category == .badData && error.message.contains("'model.weight' holds non-finite values"), "\(error)")
        }
    }

    /// The loss plot is a readable PNG.
    @Test func lossPlotDraws() throws {
        let history = ["loss": (1...100).map { (step: $0, value: 1 / Float($0)) }]
        let image = LossPlot.image(history: history, metrics: ["loss"], title: "ddpm run", width: 760, height: 440)
        #expect(image.width == 760 && image.channels == 3)
        #expect(try PNG.decode(PNG.encode(image)) == image)
        func count(_ color: Canvas.Color) -> Int {
            stride(from: 0, to: image.pixels.count, by: 3).filter { (image.pixels[$0], image.pixels[$0 + 1], image.pixels[$0 + 2]) == color }.count
        }
        // the smoothed line, the faint raw one, and black axes, ticks and numbers
        #expect(count(LinePlot.palette[0]) > 100 && count(LinePlot.light(LinePlot.palette[0])) > 50 && count((0, 0, 0)) > 500)
        // a span of two decades is drawn on a log scale: ticks at 0.01, 0.1 and 1
        #expect(LinePlot.logTicks(low: -2, high: 0).contains(0.01) && LinePlot.label(0.01) == "0.01" && LinePlot.label(2e-5) == "2e-5")
        #expect(LinePlot.ticks(low: 0, high: 1000) == [0, 200, 400, 600, 800, 1000])
    }

    /// The font draws the digits it is given: "8" has more ink than "1", and a label's width
    /// is its length times six.
    @Test func canvasText() {
        func ink(_ text: String) -> Int {
            var canvas = Canvas(width: 40, height: 10)
            canvas.text(text, x: 1, y: 1)
            return stride(from: 0, to: canvas.pixels.count, by: 3).filter { canvas.pixels[$0] == 0 }.count
        }
        #expect(ink("8") > ink("1") && ink("1") > 0 && ink(" ") == 0)
        #expect(Canvas.textWidth("step", scale: 2) == 48)
    }

    /// A deadline stops the run saved, with its samples, as a finished run would be; resuming
    /// goes on to the configured steps.
    @Test func deadlineStopsSavedAndResumable() throws {
        let scratch = try TemporaryFolder()
        let trainer = try makeTrainer(ToyTask(), folder: scratch.url, steps: 6)
        #expect(try trainer.run(until: Date()) == .reachedTimeLimit)
        #expect(trainer.step == 0)
        #expect(FileManager.default.fileExists(atPath: trainer.checkpointURL.path))
        #expect(FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("samples/step-000000.png").path))
        let resumed = try makeTrainer(ToyTask(), folder: scratch.url, steps: 6)
        try resumed.resume()
        #expect(try resumed.run(until: Date().addingTimeInterval(600)) == .finished)
        #expect(resumed.step == 6)
    }

    /// Grids and checkpoints are time-based unless steps are given: with the defaults (a grid
    /// every 2 minutes) a short run writes only its last grid; with 0 seconds, one every step;
    /// with `sampleEvery` steps, by steps whatever the seconds say.
    @Test func intervalsAreTimeBasedUnlessStepsAreGiven() throws {
        let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        func grids(sampleEvery: Int, sampleSeconds: Double?) throws -> [String] {
            let scratch = try TemporaryFolder()
            let loader = BatchLoader(dataset: data, batchSize: 8, seed: 1, pixelRange: .unit)
            let configuration = TrainerConfiguration(steps: 4, batchSize: 8, warmupSteps: 0, sampleEvery: sampleEvery, logEvery: 1,
                                                     sampleSeconds: sampleSeconds)
            let trainer = Trainer(task: ToyTask(), loader: loader, optimizer: Adam(learningRate: 1e-2), configuration: configuration,
                                  folder: scratch.url, configJSON: "{}")
            trainer.showsProgress = false
            trainer.log = { _ in }
            #expect(try trainer.run() == .finished)
            return try FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent("samples").path).sorted()
        }
        #expect(try grids(sampleEvery: 0, sampleSeconds: TrainingDefaults.standard.sampleSeconds) == ["step-000004.png"])
        #expect(TrainingDefaults.standard.sampleSeconds == 120 && TrainingDefaults.standard.checkpointSeconds == 300)
        #expect(try grids(sampleEvery: 0, sampleSeconds: 0) == (1...4).map { String(format: "step-%06d.png", $0) })
        #expect(try grids(sampleEvery: 2, sampleSeconds: 0) == ["step-000002.png", "step-000004.png"])
    }

    /// A task that draws no images (a classifier) trains on labelled batches and gets no grids.
    @Test func classifierTrainsWithoutSampleGrids() throws {
        let scratch = try TemporaryFolder()
        let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        let loader = BatchLoader(dataset: data, batchSize: 8, seed: 1, pixelRange: .symmetric)
        let task = FeatureClassifier(FeatureClassifierConfiguration(imageShape: [1, 8, 8], classes: 10, channels: 4, features: 8))
        let trainer = Trainer(task: task, loader: loader, optimizer: Adam(learningRate: 1e-3),
                              configuration: TrainerConfiguration(steps: 3, batchSize: 8, warmupSteps: 0, sampleEvery: 1, checkpointEvery: 0, logEvery: 1), folder: scratch.url, configJSON: "{}")
        trainer.showsProgress = false
        #expect(try trainer.run() == .finished)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent("samples").path).isEmpty)
    }
}

@Suite("Trainer: batches cut into shards (data parallelism)")
struct ShardedTrainerTests {
    /// The toy model's weights after `steps` SGD steps on batches of 9, cut into `shards`.
    func train(shards: Int?, steps: Int = 6) throws -> [Float] {
        let scratch = try TemporaryFolder()
        let task = ToyTask()
        let data = try HDF5Dataset(url: dataFixtures.appendingPathComponent("chunked_gzip.h5"))
        let loader = BatchLoader(dataset: data, batchSize: 9, seed: 1, pixelRange: .unit)
        let configuration = TrainerConfiguration(steps: steps, batchSize: 9, warmupSteps: 0, gradientClip: nil, emaDecay: nil, sampleEvery: 0,
                                                 checkpointEvery: 0, logEvery: 1, shards: shards)
        let trainer = Trainer(task: task, loader: loader, optimizer: SGD(learningRate: 0.05), configuration: configuration,
                              folder: scratch.url, configJSON: "{}")
        trainer.showsProgress = false
        trainer.log = { _ in }
        #expect(try trainer.run() == .finished)
        return task.layer.weight.scalars + (task.layer.bias?.scalars ?? [])
    }

    /// With nothing random in the loss and plain SGD (no scale-free Adam to hide a wrong
    /// weighting), 2 shards (5 + 4 images) and 3 shards (3 each) move the weights exactly as
    /// whole batches do: the shares' gradients, weighted by their sizes, are the batch's mean.
    @Test(arguments: [2, 3])
    func shardsFollowTheWholeBatchMean(_ shards: Int) throws {
        let whole = try train(shards: nil)
        let sharded = try train(shards: shards)
        let initial = try train(shards: nil, steps: 1)
        let scale = whole.map(abs).max() ?? 1
        #expect(zip(whole, sharded).map { abs($0 - $1) }.max()! <= 1e-5 * scale)
        #expect(zip(whole, initial).map { abs($0 - $1) }.max()! > 1e-3 * scale, "the weights moved")
    }

    /// More ranks than shards, or more shards than images in a batch, is refused up front.
    @Test func shardsBeyondTheBatchAreImpossible() {
        var configuration = TrainerConfiguration(steps: 1, batchSize: 4, shards: 5)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.shards = 4
        #expect(throws: Never.self) { try configuration.validate() }
    }
}
