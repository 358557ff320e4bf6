import Foundation

/// What a caller chooses about a run; everything left nil is the family's
/// ``ModelFamily/trainingDefaults``. These are `gen train`'s common options.
public struct RunSettings: Sendable, Equatable {
    /// Optimizer updates (default: as many as ``epochs``, or as many as fit in ``minutes``).
    public var steps: Int?
    /// The wall-clock budget of a run given neither ``steps`` nor ``epochs`` (default: the
    /// family's ``TrainingDefaults/minutes``, ten): the run times its first steps and plans its
    /// steps, learning-rate decay and EMA to end then (``TrainingBudget``). With steps or
    /// epochs it plans nothing; pass a deadline to ``TrainingRun/train(until:)`` to stop early.
    public var minutes: Double?
    /// Minutes of training at which to keep the run's state in `snapshots/minute-M/`
    /// (``TrainerConfiguration/snapshotMinutes``).
    public var snapshotMinutes: [Double]?
    /// Passes over the training images (an alternative to ``steps``).
    public var epochs: Int?
    public var batchSize: Int?
    /// Adam's peak learning rate.
    public var learningRate: Float?
    public var warmupSteps: Int?
    /// Largest gradient norm; 0: no clipping.
    public var gradientClip: Float?
    /// EMA decay of the sampling weights; 0: no EMA.
    public var emaDecay: Float?
    public var sampleEvery: Int?
    public var checkpointEvery: Int?
    public var logEvery: Int?
    /// Seeds the initial weights, the data order, the held-out split and the noise.
    public var seed: UInt64
    /// The fraction of the images held out from training (a seeded split).
    public var holdout: Double
    /// The shares of each global batch, each with its own noise (default: one per rank of
    /// ``Distributed/world``); see ``TrainerConfiguration/shards``.
    public var shards: Int?
    /// Class conditioning (`--conditional`); nil: an unconditional model.
    public var conditioning: ConditioningSettings?

    public init(steps: Int? = nil, epochs: Int? = nil, batchSize: Int? = nil, learningRate: Float? = nil, warmupSteps: Int? = nil,
                gradientClip: Float? = nil, emaDecay: Float? = nil, sampleEvery: Int? = nil, checkpointEvery: Int? = nil,
                logEvery: Int? = nil, seed: UInt64 = 0, holdout: Double = 0, shards: Int? = nil,
                conditioning: ConditioningSettings? = nil, minutes: Double? = nil, snapshotMinutes: [Double]? = nil) {
        self.conditioning = conditioning
        self.snapshotMinutes = snapshotMinutes
        self.minutes = minutes
        self.shards = shards
        self.steps = steps
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.gradientClip = gradientClip
        self.emaDecay = emaDecay
        self.sampleEvery = sampleEvery
        self.checkpointEvery = checkpointEvery
        self.logEvery = logEvery
        self.seed = seed
        self.holdout = holdout
    }

    /// Throws a usage error for values no run can have.
    public func validate() throws {
        if steps != nil && epochs != nil { throw GenError.usage("give --steps or --epochs, not both") }
        for (name, value) in [("--steps", steps), ("--epochs", epochs), ("--batch-size", batchSize), ("--log-every", logEvery)] {
            if let value, value < 1 { throw GenError.usage("\(name) must be at least 1") }
        }
        guard holdout >= 0, holdout < 1 else { throw GenError.usage("--holdout must be in [0, 1)") }
        if let shards, !(1...4096).contains(shards) { throw GenError.usage("--shards must be in 1...4096") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw GenError.usage("--lr must be positive") }
        if let minutes, !(minutes > 0 && minutes <= 1e7) { throw GenError.usage("--minutes must be positive") }
        if let marks = snapshotMinutes, !marks.allSatisfy({ $0 > 0 && $0 <= 1e7 }) || marks.count > 1000 {
            throw GenError.usage("--snapshot-minutes must be positive minutes")
        }
        if let emaDecay, !(emaDecay >= 0 && emaDecay < 1) { throw GenError.usage("--ema-decay must be in [0, 1)") }
        if let gradientClip, !(gradientClip >= 0 && gradientClip.isFinite) { throw GenError.usage("--grad-clip must not be negative") }
        try conditioning?.validate()
        for (name, value) in [("--sample-every", sampleEvery), ("--checkpoint-every", checkpointEvery), ("--warmup", warmupSteps)] {
            if let value, value < 0 { throw GenError.usage("\(name) must not be negative") }
        }
    }

    /// The trainer's configuration for `trainingImages` images under `defaults`.
    func trainerConfiguration(defaults: TrainingDefaults, trainingImages: Int) throws -> TrainerConfiguration {
        let batchSize = self.batchSize ?? defaults.batchSize
        let batchesPerEpoch = max(1, trainingImages / batchSize)
        // neither steps nor epochs: a run planned for its minutes
        let budget = self.steps == nil && epochs == nil
            ? TrainingBudget(minutes: minutes ?? defaults.minutes, emaFraction: emaDecay == nil && defaults.emaDecay != nil ? 0.1 : nil) : nil
        var steps = self.steps ?? (budget != nil ? TrainingBudget.unplannedSteps : defaults.steps)
        if self.steps == nil, let epochs {
            let (product, overflow) = epochs.multipliedReportingOverflow(by: batchesPerEpoch)
            guard !overflow, product <= 1 << 40 else { throw GenError.usage("--epochs \(epochs) of \(batchesPerEpoch) batches is more steps than can be counted") }
            steps = product
        }
        let clip = gradientClip ?? defaults.gradientClip ?? 0
        let decay = emaDecay ?? defaults.emaDecay ?? 0
        // intervals given in steps replace the defaults' intervals in time
        return TrainerConfiguration(
            steps: steps, batchSize: batchSize, learningRate: learningRate ?? defaults.learningRate,
            warmupSteps: warmupSteps ?? defaults.warmupSteps, learningRateDecay: budget != nil ? .cosine : .constant,
            gradientClip: clip > 0 ? clip : nil, emaDecay: decay > 0 ? decay : nil,
            sampleEvery: sampleEvery ?? defaults.sampleEvery, checkpointEvery: checkpointEvery ?? defaults.checkpointEvery,
            logEvery: logEvery ?? defaults.logEvery, seed: seed,
            sampleSeconds: sampleEvery == nil ? defaults.sampleSeconds : nil,
            checkpointSeconds: checkpointEvery == nil ? defaults.checkpointSeconds : nil,
            shards: shards ?? Distributed.world.size, budget: budget, snapshotMinutes: snapshotMinutes.map { Array(Set($0)).sorted() })
    }
}

/// A run of any family being trained, as ``FamilyRegistry/resume(_:steps:log:)`` returns it.
public protocol ActiveRun: AnyObject {
    /// The run folder.
    var folder: URL { get }
    var kind: String { get }
    var trainer: Trainer { get }
    /// Whether the run went on from a checkpoint.
    var isResumed: Bool { get }
    /// What the run trains on and how long.
    var data: DataSource { get }
    var training: TrainerConfiguration { get }
    /// Trains until the last step, a stop request, divergence or `deadline`.
    func train(until deadline: Date?) throws -> Trainer.Outcome
}

/// One run of one family in its folder: created fresh or resumed from its checkpoint, with its
/// data, task, optimizers and ``Trainer`` set up as `gen train` sets them up.
///
/// ```swift
/// let run = try TrainingRun<FlowMatchingFamily>.create(in: URL(fileURLWithPath: "runs/flow-1"), data: "mnist.h5",
///                                                      settings: RunSettings(steps: 500)) { data in
///     FlowMatchingConfiguration(unet: try UNetConfiguration(imageShape: data.imageShape, baseChannels: 16))
/// }
/// let outcome = try run.train()                 // .finished; the folder holds the checkpoint and samples
/// ```
public final class TrainingRun<Family: ModelFamily>: ActiveRun {
    public let folder: URL
    /// The run's configuration; a budgeted run's training settings as planned so far.
    public var configuration: RunConfiguration<Family.Configuration> {
        var configuration = initialConfiguration
        configuration.training = trainer.configuration
        return configuration
    }
    private let initialConfiguration: RunConfiguration<Family.Configuration>
    public let task: Family.Task
    public let trainer: Trainer
    /// The dataset, and which of its rows train and which are held out.
    public let dataset: HDF5Dataset
    public let trainingRows: [Int]
    public let heldOutRows: [Int]
    /// Whether the run went on from a checkpoint.
    public let isResumed: Bool
    /// Held for the run's life by rank 0: no other process trains in its folder meanwhile.
    private let lock: RunLock?

    public var kind: String { Family.kind }
    public var data: DataSource { initialConfiguration.data }
    public var training: TrainerConfiguration { trainer.configuration }

    /// - Parameter configuration: its data's pixel range is set here, from the task's.
    private init(folder: URL, configuration: RunConfiguration<Family.Configuration>, dataset: HDF5Dataset, isResumed: Bool,
                 lock: RunLock?) throws {
        self.folder = folder
        self.lock = lock
        self.dataset = dataset
        self.isResumed = isResumed
        let training = configuration.training
        if let holdout = configuration.data.holdout, holdout > 0 {
            (trainingRows, heldOutRows) = BatchLoader.split(count: dataset.count, testFraction: holdout, seed: training.seed)
        } else {
            (trainingRows, heldOutRows) = (Array(0..<dataset.count), [])
        }
        guard trainingRows.count >= training.batchSize else {
            throw GenError.badData("\(dataset.path): \(trainingRows.count) training images cannot fill a batch of \(training.batchSize)")
        }
        let world = Distributed.world
        guard training.shardCount >= world.size else {
            throw GenError.usage("\(training.shardCount) shard(s) cannot keep \(world.size) ranks busy; give --shards \(world.size) or more")
        }
        guard training.shardCount <= training.batchSize else {
            throw GenError.usage("a batch of \(training.batchSize) cannot be cut into \(training.shardCount) shards; give --batch-size \(training.shardCount) or more")
        }
        // The weights are drawn from the run's seed: the same seed, the same run.
        Random.seed(training.seed)
        task = Family.makeTask(configuration.model)
        var configuration = configuration
        configuration.data.pixelRange = task.pixelRange
        initialConfiguration = configuration
        let loader = BatchLoader(dataset: dataset, rows: trainingRows, batchSize: training.batchSize, seed: training.seed,
                                 pixelRange: configuration.data.pixelRange)
        trainer = Trainer(task: task, loader: loader, optimizers: Family.optimizers(for: task, learningRate: training.learningRate),
                          configuration: training, folder: folder, configJSON: try configuration.json())
        // a budgeted run's plan goes into config.json and every checkpoint
        trainer.describeRun = { [configuration] training in
            var planned = configuration
            planned.training = training
            return try planned.json()
        }
    }

    /// A new run in `folder` on the images of `path` (its `dataset`, or the one image-like
    /// dataset), its model configured by `model` from the opened data.
    /// - Parameters:
    ///   - force: use a folder that already holds files (a fresh log replaces the old one).
    ///   - model: the family's configuration for this data; a ``ConfigurationError`` it throws
    ///     is a usage error (settings) or a data error naming the file (data).
    ///   - log: notes, such as which dataset of the file was chosen.
    ///
    /// In a ``Distributed/world`` of several ranks, rank 0 sets the run up and sends it to the
    /// others, which follow it (and read only the data); call this on every rank.
    public static func create(in folder: URL, force: Bool = false, data path: String, dataset: String? = nil,
                              settings: RunSettings = RunSettings(), log: (String) -> Void = printNote,
                              model: (HDF5Dataset) throws -> Family.Configuration) throws -> TrainingRun {
        if !Distributed.world.isWriter { return try follow(folder, try receiveRun()) }
        try settings.validate()
        if RunLock.holdsFiles(folder), !force {
            throw GenError.usage("\(folder.path): already holds a run; choose another --out, --resume it, or pass --force")
        }
        let conditional = settings.conditioning
        let data = try HDF5Dataset(url: URL(fileURLWithPath: path), options: .init(
            dataset: dataset, labels: conditional?.labels, readLabels: Family.needsLabels || conditional != nil, requireLabels: conditional != nil))
        if let note = data.choiceNote { log(note) }
        // every label checked before anything is built: a bad one is a data error now, not a trap later
        let classes = try conditional.map { try data.classCount(limit: $0.classes) }
        if Family.needsLabels && data.labelsName == nil {
            throw GenError.badData("\(data.path): no labels beside the images (a rank-1 integer dataset named labels, label, y or targets); a \(Family.kind) needs them")
        }
        let heldOut = Int((Double(data.count) * settings.holdout).rounded())
        let training = try settings.trainerConfiguration(defaults: Family.trainingDefaults, trainingImages: data.count - heldOut)
        var configuration: Family.Configuration
        do {
            try checkImageShape(data.imageShape)
            configuration = try model(data)
            if let conditional, let classes {
                let conditioning = ClassConditioning(classes: classes, dropout: conditional.classDropout)
                do { configuration = try configuration.conditioned(conditioning) } catch {
                    throw error.cause == .settings ? ConfigurationError.settings("--conditional: \(Family.kind): \(error.message)") : error
                }
            }
            try configuration.validate()
            try MemoryBudget.check(configuration.estimatedTrainingBytes(batchSize: training.batchSize), for: "training this \(Family.kind) model on batches of \(training.batchSize)")
        } catch let error as ConfigurationError {
            throw error.cause == .settings ? GenError.usage(error.message) : GenError.badData("\(data.path): \(error.message)")
        }
        do { try training.validate() } catch { throw GenError.usage(error.message) }
        guard data.count - heldOut >= training.batchSize else {
            throw GenError.badData("\(data.path): \(data.count - heldOut) training images cannot fill a batch of \(training.batchSize)")
        }
        let source = DataSource(path: data.path, dataset: data.imagesName, imageShape: data.imageShape, pixelRange: .symmetric,
                                holdout: settings.holdout > 0 ? settings.holdout : nil, labels: conditional != nil ? data.labelsName : nil)
        let lock = try RunLock(folder)
        // a run that appeared since the check above (another gen started at the same time)
        if RunLock.holdsFiles(folder) && !force {
            throw GenError.usage("\(folder.path): already holds a run; choose another --out, --resume it, or pass --force")
        }
        let run = try TrainingRun(folder: folder, configuration: RunConfiguration(kind: Family.kind, model: configuration, training: training, data: source),
                                  dataset: data, isResumed: false, lock: lock)
        try? FileManager.default.removeItem(at: run.trainer.metricsURL)
        try AtomicFile.write(Data(try run.configuration.json().utf8), to: folder.appendingPathComponent("config.json"))
        try run.sendToOtherRanks()
        return run
    }

    /// A new run of a configuration made beforehand (its image shape must be the data's).
    public static func create(in folder: URL, force: Bool = false, data path: String, dataset: String? = nil,
                              settings: RunSettings = RunSettings(), configuration: Family.Configuration,
                              log: (String) -> Void = printNote) throws -> TrainingRun {
        try create(in: folder, force: force, data: path, dataset: dataset, settings: settings, log: log) { _ in configuration }
    }

    /// The run in `folder`, from its checkpoint alone (configuration, weights, optimizer
    /// state, data position and random streams), ready to go on exactly where it stopped.
    ///
    /// In a world of several ranks, rank 0 reads the checkpoint and sends it to the others.
    /// - Parameters:
    ///   - steps: a new total for the run (default: the run's own).
    ///   - shards: the shares of each global batch from here on (default: one per rank). The
    ///     run goes on exactly as before, on any number of ranks, when they are the run's own.
    public static func resume(_ folder: URL, steps: Int? = nil, shards: Int? = nil) throws -> TrainingRun {
        if !Distributed.world.isWriter { return try follow(folder, try receiveRun()) }
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GenError.missingInput("\(folder.path): no run to resume (no checkpoint.safetensors)")
        }
        let lock = try RunLock(folder)
        let checkpoint = try RunCheckpoint.read(url)
        var configuration = try Family.runConfiguration(from: checkpoint.configJSON, file: url.path)
        if let steps {
            guard steps >= 1 else { throw GenError.usage("--steps must be at least 1") }
            configuration.training.steps = steps
            // a new total replaces a plan not made yet
            if configuration.training.budget?.isPlanned == false {
                configuration.training.budget = nil
                configuration.training.learningRateDecay = .constant
            }
        }
        if let shards, !(1...4096).contains(shards) { throw GenError.usage("--shards must be in 1...4096") }
        let shardCount = shards ?? Distributed.world.size
        configuration.training.shards = shardCount > 1 ? shardCount : nil
        let data = try openData(configuration.data, classes: configuration.model.conditioning?.classes)
        let run = try TrainingRun(folder: folder, configuration: configuration, dataset: data, isResumed: true, lock: lock)
        try run.trainer.resume(from: checkpoint)
        // config.json is a copy for people; the checkpoint is what counts.
        try AtomicFile.write(Data(try configuration.json().utf8), to: folder.appendingPathComponent("config.json"))
        try run.sendToOtherRanks()
        return run
    }

    /// The data a run was made for, refused when its images are no longer of the run's shape
    /// or, for a conditional run, its labels no longer fit the run's classes.
    private static func openData(_ source: DataSource, classes: Int?) throws -> HDF5Dataset {
        let conditional = source.labels != nil
        let data = try HDF5Dataset(url: URL(fileURLWithPath: source.path), options: .init(
            dataset: source.dataset, labels: source.labels, readLabels: Family.needsLabels || conditional, requireLabels: conditional))
        let rank = Distributed.world.size > 1 ? " on rank \(Distributed.world.rank)" : ""
        guard data.imageShape == source.imageShape else {
            throw GenError.badData("\(source.path): images are \(data.imageShape)\(rank), the run was made for \(source.imageShape)")
        }
        if conditional, let classes { _ = try data.classCount(limit: classes) }
        return data
    }

    // MARK: Several ranks

    /// Rank 0's part in setting up a run of several ranks: the run as it starts (configuration,
    /// initial or restored weights, optimizer state, EMA, data position) to every other rank.
    private func sendToOtherRanks() throws {
        let world = Distributed.world
        guard world.size > 1 else { return }
        var bytes = [UInt8](try trainer.checkpoint().encoded())
        try world.broadcast(&bytes, from: 0)
    }

    /// The run of a rank other than 0: rank 0's configuration and state, with this rank's own
    /// copy of the data (at the path rank 0 gave), and no files of its own.
    public static func follow(_ folder: URL, _ checkpoint: RunCheckpoint) throws -> TrainingRun {
        let configuration = try Family.runConfiguration(from: checkpoint.configJSON, file: "rank 0's run")
        let data = try openData(configuration.data, classes: configuration.model.conditioning?.classes)
        let run = try TrainingRun(folder: folder, configuration: configuration, dataset: data, isResumed: checkpoint.trainer.step > 0, lock: nil)
        try run.trainer.resume(from: checkpoint)
        return run
    }

    /// Trains until the last step, a stop request (SIGINT, SIGTERM), divergence or `deadline`;
    /// the folder then holds the checkpoint, sample grids, metrics and `loss.png`.
    public func train(until deadline: Date? = nil) throws -> Trainer.Outcome {
        try trainer.run(until: deadline)
    }
}

extension ModelFamily {
    /// ``TrainingRun/resume(_:steps:)`` for callers that hold the family as `any ModelFamily.Type`.
    public static func resumeRun(_ folder: URL, steps: Int?, shards: Int? = nil) throws -> any ActiveRun {
        try TrainingRun<Self>.resume(folder, steps: steps, shards: shards)
    }

    /// ``TrainingRun/follow(_:_:)`` for callers that hold the family as `any ModelFamily.Type`.
    public static func followRun(_ folder: URL, _ checkpoint: RunCheckpoint) throws -> any ActiveRun {
        try TrainingRun<Self>.follow(folder, checkpoint)
    }
}

/// On a rank other than 0: the run rank 0 set up, as it sent it.
func receiveRun() throws -> RunCheckpoint {
    var bytes: [UInt8] = []
    try Distributed.world.broadcast(&bytes, from: 0)
    return try RunCheckpoint.decode(Data(bytes), name: "the run rank 0 sent")
}

extension FamilyRegistry {
    /// The run in `folder`, whatever its family, from its checkpoint alone (on a rank other
    /// than 0: as rank 0 sends it).
    public func resume(_ folder: URL, steps: Int? = nil, shards: Int? = nil) throws -> any ActiveRun {
        if !Distributed.world.isWriter {
            let checkpoint = try receiveRun()
            return try family(ofConfiguration: checkpoint.configJSON, file: "the run rank 0 sent").followRun(folder, checkpoint)
        }
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GenError.missingInput("\(folder.path): no run to resume (no checkpoint.safetensors)")
        }
        let checkpoint = try RunCheckpoint.read(url)
        return try family(ofConfiguration: checkpoint.configJSON, file: url.path).resumeRun(folder, steps: steps, shards: shards)
    }
}
