import Foundation

/// The one training loop of every model family.
///
/// Each step: the next batch, the learning rate of the schedule, the loss and its gradients,
/// a check that both are finite (a non-finite step is skipped, and too many in a row stop the
/// run as diverged), gradient clipping, the optimizer update and the EMA update. Around the
/// steps: metric records (`metrics.jsonl`), progress on stderr, sample grids from the EMA
/// weights (`samples/step-NNNNNN.png`), atomic checkpoints (`checkpoint.safetensors`) from which
/// a run resumes bit for bit, a `loss.png` plot, and a clean stop on SIGINT/SIGTERM.
///
/// A task with several ``TrainingTask/phases`` (a GAN) gets one optimizer per phase; each step
/// runs every phase's updates in turn, and the metrics record each phase's loss and its extra
/// numbers.
///
/// Data parallelism: with ``TrainerConfiguration/shards`` above one, each global batch is cut
/// into that many shares (``BatchShares``), each drawn with its own noise and dropout streams,
/// and the update follows the gradients' mean over the whole batch (the shares' gradients
/// weighted by their sizes). In a ``Distributed/world`` of several ranks each rank computes its
/// shares and the sums go through one ``Communicator/allreduceSum(_:)`` of one flat buffer per
/// update (gradients, buffers such as batch-norm statistics, loss and metrics); a single
/// process computes every share in turn and ends with the same weights. Every rank keeps the
/// same weights, optimizer state and EMA; only rank 0 writes files and shows progress, and
/// stops (signals, the deadline) are agreed by all ranks before each step.
public final class Trainer {
    /// How a run ended.
    public enum Outcome: Equatable, Sendable {
        case finished
        /// Stopped by a signal (or ``Interruption/request()``) after saving.
        case interrupted
        /// Stopped after too many non-finite losses in a row; the last checkpoint is untouched.
        case diverged
        /// Stopped at the deadline given to ``run(until:)``, saved and with samples as at the
        /// last step; resuming continues toward ``TrainerConfiguration/steps``.
        case reachedTimeLimit
    }

    public let task: TrainingTask
    /// The task's phases, read once.
    public let phases: [TrainingPhase]
    public let loader: BatchLoader
    /// One optimizer per phase (one for a plain task).
    public let optimizers: [Optimizer]
    public var optimizer: Optimizer { optimizers[0] }
    /// The training settings; a budgeted run's steps and EMA decay as planned.
    public private(set) var configuration: TrainerConfiguration
    public let folder: URL
    /// The run's configuration, stored in every checkpoint (a budgeted run's as planned).
    public private(set) var configJSON: String
    /// The run's configuration with other training settings (a budgeted run's plan), for
    /// `config.json` and the checkpoints; nil: the plan is not recorded there.
    public var describeRun: ((TrainerConfiguration) throws -> String)?
    public private(set) var step = 0
    public private(set) var ema: ExponentialMovingAverage?
    /// Where messages go (stderr by default; rank 0's only).
    public var log: (String) -> Void = printNote
    /// The ranks training together (one unless the program joined an MPI job).
    public let world: any Communicator
    /// The shares of each global batch, and which of them this rank computes.
    public let shares: BatchShares
    public let localShards: [Int]
    /// Whether to show progress on stderr.
    public var showsProgress = true

    private let noise: RandomGenerator
    private var nonFiniteStreak = 0
    /// Seconds the last sample grid took (0 before the first).
    private var previewCost = 0.0
    /// The largest share of the wall time that sample grids by the clock may take: the
    /// interval between them grows to 40 times the time one takes.
    static let previewShare = 0.025
    /// Seconds of training before this process took the run over (from the metrics log).
    private var elapsedBefore = 0.0
    /// The plotted metrics' values by step, for `loss.png`.
    private var history: [String: [(step: Int, value: Float)]] = [:]

    public var checkpointURL: URL { folder.appendingPathComponent("checkpoint.safetensors") }
    public var metricsURL: URL { folder.appendingPathComponent("metrics.jsonl") }

    public convenience init(task: TrainingTask, loader: BatchLoader, optimizer: Optimizer, configuration: TrainerConfiguration,
                            folder: URL, configJSON: String) {
        self.init(task: task, loader: loader, optimizers: [optimizer], configuration: configuration, folder: folder, configJSON: configJSON)
    }

    /// - Parameter optimizers: one per phase of the task, in order.
    /// - Parameter world: the ranks training together; it needs at least one shard per rank
    ///   (``TrainerConfiguration/shards``).
    public init(task: TrainingTask, loader: BatchLoader, optimizers: [Optimizer], configuration: TrainerConfiguration,
                folder: URL, configJSON: String, world: any Communicator = Distributed.world) {
        let phases = task.phases
        require(!phases.isEmpty && optimizers.count == phases.count,
                "Trainer: \(phases.count) phase(s) need \(phases.count) optimizer(s), got \(optimizers.count)")
        require(configuration.shardCount >= world.size && configuration.shardCount <= configuration.batchSize,
                "Trainer: \(configuration.shardCount) shard(s) of batches of \(configuration.batchSize) cannot keep \(world.size) ranks busy")
        self.world = world
        shares = BatchShares(batchSize: configuration.batchSize, shards: configuration.shardCount)
        localShards = shares.shards(ofRank: world.rank, of: world.size)
        self.task = task
        self.phases = phases
        self.loader = loader
        self.optimizers = optimizers
        self.configuration = configuration
        self.folder = folder
        self.configJSON = configJSON
        noise = RandomGenerator(seed: configuration.seed, stream: .noise)
        ema = configuration.emaDecay.map { ExponentialMovingAverage(task.sampledModule, decay: $0) }
    }

    /// The metrics-log key that `loss.png` plots and the progress line shows.
    private var progressKey: String { task.progressMetric }

    /// Whether phases are named in the metrics and in the optimizers' checkpoint keys.
    private var hasSeveralPhases: Bool { phases.count > 1 }

    /// The optimizers' state, prefixed by phase name when there are several phases.
    private func optimizerState() -> [String: Tensor] {
        guard hasSeveralPhases else { return optimizer.stateDict() }
        var state: [String: Tensor] = [:]
        for (phase, optimizer) in zip(phases, optimizers) {
            for (key, tensor) in optimizer.stateDict() { state["\(phase.name).\(key)"] = tensor }
        }
        return state
    }

    private func loadOptimizerState(_ state: [String: Tensor]) throws {
        guard hasSeveralPhases else { return try optimizer.load(stateDict: state, for: phases[0].module) }
        if let stray = state.keys.sorted().first(where: { key in !phases.contains { key.hasPrefix("\($0.name).") } }) {
            throw OptimizerStateError.unknownEntry(stray)
        }
        for (phase, optimizer) in zip(phases, optimizers) {
            let prefix = "\(phase.name)."
            try optimizer.load(stateDict: Dictionary(uniqueKeysWithValues: state.filter { $0.key.hasPrefix(prefix) }
                .map { (String($0.key.dropFirst(prefix.count)), $0.value) }), for: phase.module)
        }
    }

    // MARK: Checkpoints

    /// The run's complete state as a checkpoint.
    public func checkpoint() -> RunCheckpoint {
        RunCheckpoint(
            configJSON: configJSON,
            trainer: TrainerState(step: step, loader: loader.position, noise: noise.state, dropout: Random.dropout.state,
                                  nonFiniteStreak: nonFiniteStreak),
            model: task.model.stateDict().mapValues { $0.copy() }, ema: ema?.stateDict() ?? [:],
            optimizer: optimizerState())
    }

    /// Saves the checkpoint and the loss plot (rank 0 only; other ranks hold the same state).
    public func save() throws {
        guard world.isWriter else { return }
        try checkpoint().write(to: checkpointURL)
        let title = "\((try? RunKind.decode(configJSON).kind) ?? "training") \(folder.lastPathComponent)"
        try? PNG.write(LossPlot.image(history: history, metrics: task.plottedMetrics, title: title), to: folder.appendingPathComponent("loss.png"))
    }

    /// Restores everything from the folder's checkpoint, refusing non-finite weights, and drops
    /// metric records past the restored step.
    public func resume() throws {
        try resume(from: try RunCheckpoint.read(checkpointURL))
    }

    /// Restores everything from `saved` (this run's checkpoint, already read), refusing
    /// non-finite weights, and drops metric records past the restored step.
    public func resume(from saved: RunCheckpoint) throws {
        func refuse(_ problem: String) -> GenError { GenError.badData("\(checkpointURL.path): \(problem); refusing to resume") }
        if let bad = saved.firstNonFiniteTensor { throw refuse("'\(bad)' holds non-finite values") }
        let position = saved.trainer
        guard position.step >= 0, position.loader.epoch >= 0, position.loader.batch >= 0, position.nonFiniteStreak >= 0 else {
            throw refuse("the trainer state (step \(position.step), epoch \(position.loader.epoch), batch \(position.loader.batch)) is impossible")
        }
        if ema == nil && !saved.ema.isEmpty { throw refuse("it holds EMA weights but the run keeps none") }
        do {
            try task.model.load(stateDict: saved.model)
            if let ema { try ema.load(stateDict: saved.ema) }
        } catch let error as StateDictError {
            throw refuse("it does not fit this model: \(error)")
        }
        do { try loadOptimizerState(saved.optimizer) } catch { throw refuse("\(error)") }
        step = saved.trainer.step
        loader.position = saved.trainer.loader
        noise.state = saved.trainer.noise
        Random.dropout.state = saved.trainer.dropout
        nonFiniteStreak = saved.trainer.nonFiniteStreak
        // Keep the metrics up to the restored step, so the log has no duplicates.
        if world.isWriter, let text = try? String(contentsOf: metricsURL, encoding: .utf8) {
            var kept: [String] = []
            for line in text.split(separator: "\n") {
                guard let data = line.data(using: .utf8),
                      let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let recordStep = record["step"] as? Int, recordStep <= step else { continue }
                kept.append(String(line))
                if let elapsed = record["elapsed"] as? Double { elapsedBefore = elapsed }
                for key in task.plottedMetrics {
                    if let value = record[key] as? Double { history[key, default: []].append((recordStep, Float(value))) }
                }
            }
            try AtomicFile.write(Data((kept.map { $0 + "\n" }.joined()).utf8), to: metricsURL)
        }
    }

    // MARK: The loop

    /// Trains until ``TrainerConfiguration/steps``, a stop request, divergence, or `deadline`
    /// (checked between steps, so the last step may end a little after it).
    ///
    /// When an output cannot be written (a full disk), it saves the checkpoint if it still can
    /// and throws the ``AtomicFileError``; a metrics record is written whole or not at all.
    public func run(until deadline: Date? = nil) throws -> Outcome {
        if world.isWriter {
            do {
                try FileManager.default.createDirectory(at: folder.appendingPathComponent("samples"), withIntermediateDirectories: true)
            } catch {
                throw AtomicFileError(path: folder.appendingPathComponent("samples").path, reason: (error as NSError).localizedDescription)
            }
        }
        Interruption.install()
        defer { Interruption.uninstall() }
        let metrics = world.isWriter ? try AppendOnlyFile(metricsURL) : nil
        do {
            return try loop(until: deadline, metrics: metrics)
        } catch let error as AtomicFileError {
            if world.isWriter, (try? save()) != nil { note("saved \(checkpointURL.path) at step \(step) before stopping: \(error)") }
            throw error
        }
    }

    /// A message from rank 0 (the others hold the same news).
    private func note(_ message: String) {
        if world.isWriter { log(message) }
    }

    private func loop(until deadline: Date?, metrics: AppendOnlyFile?) throws -> Outcome {
        let showsProgress = self.showsProgress && world.isWriter
        let progress = ProgressReporter(total: configuration.steps, startStep: step, label: "step", lineEvery: configuration.logEvery)
        var windowStart = Date(), windowImages = 0
        var lastSamples = Date(), lastCheckpoint = Date()
        let start = Date()
        // a budget not planned yet: its end is a deadline, and the first steps are timed
        var deadline = deadline
        var budgetEnd: Date?
        if let budget = configuration.budget, !budget.isPlanned {
            // a resumed run whose budget is spent gets a tenth of it
            let end = start.addingTimeInterval(max(budget.minutes * 6, budget.minutes * 60 - elapsedBefore))
            budgetEnd = end
            deadline = min(deadline ?? end, end)
        }
        progress.deadline = deadline
        var timing: (start: Date, step: Int)?
        // snapshots not yet due at the run's elapsed time
        var snapshots = (configuration.snapshotMinutes ?? []).filter { $0 * 60 > elapsedBefore }
        task.model.train()
        var reachedDeadline = false
        while step < configuration.steps {
            // every rank stops at the same step: at the deadline or a signal of any of them; and
            // a budgeted run plans at the same step on every rank
            var plans = false
            if let budgetEnd, let timing, let budget = configuration.budget {
                let seconds = Date().timeIntervalSince(timing.start)
                plans = step - timing.step >= budget.probeSteps && seconds >= min(10, budgetEnd.timeIntervalSince(start) / 20)
            }
            let stops = try world.anyRank([deadline.map { Date() >= $0 } ?? false, Interruption.isRequested, plans])
            if stops[2], let end = budgetEnd, let timing {
                try plan(until: end, timedSteps: step - timing.step, timedSeconds: Date().timeIntervalSince(timing.start))
                progress.total = configuration.steps
                lastSamples = Date()
                lastCheckpoint = Date()
                budgetEnd = nil
            }
            if stops[0] {
                reachedDeadline = true
                break
            }
            if stops[1] {
                if showsProgress { progress.finishLine() }
                try save()
                note("stopped at step \(step); saved \(checkpointURL.path)")
                return .interrupted
            }
            // 1–4. batch, learning rate, loss and gradients, update (skipped when non-finite)
            guard let result = try trainStep() else {
                nonFiniteStreak += 1
                note("step \(step + 1): non-finite loss or gradient (\(nonFiniteStreak) in a row); update skipped")
                if nonFiniteStreak >= configuration.maximumNonFiniteSteps {
                    if showsProgress { progress.finishLine() }
                    note("stopping: \(nonFiniteStreak) non-finite steps in a row; the last checkpoint is kept as it was")
                    return .diverged
                }
                continue
            }
            nonFiniteStreak = 0
            ema?.update(from: task.sampledModule)
            step += 1
            // the plan's timing starts after this process's first step (which allocates)
            if budgetEnd != nil && timing == nil { timing = (Date(), step) }
            windowImages += result.images
            let loss = Tensor(result.loss)
            // 5. report, sample, save
            if step % configuration.logEvery == 0 || step == configuration.steps {
                let seconds = Date().timeIntervalSince(windowStart)
                // "lr": the first phase's rate (a WGAN's critic's, scaled by its learningRateScale)
                var record: [String: Any] = ["step": step, "loss": Double(loss.item), "lr": Double(optimizer.learningRate),
                                             "grad_norm": Double(result.gradientNorm), "images_per_s": Double(windowImages) / max(seconds, 1e-9),
                                             "elapsed": ((elapsedBefore + Date().timeIntervalSince(start)) * 10).rounded() / 10]
                for (key, value) in result.metrics { record[key] = value }
                try metrics?.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self) + "\n")
                for key in task.plottedMetrics {
                    if let value = record[key] as? Double { history[key, default: []].append((step, Float(value))) }
                }
                windowStart = Date()
                windowImages = 0
            }
            if showsProgress {
                var fields = ["loss \(String(format: "%.4f", loss.item))"]
                if progressKey != "loss", let value = result.metrics[progressKey] { fields.append("\(progressKey) \(String(format: "%.4f", value))") }
                progress.update(step: step, fields: fields)
            }
            if step < configuration.steps && due(configuration.sampleEvery, sampleInterval, since: &lastSamples) {
                try writeSamples()
            }
            if step < configuration.steps && due(configuration.checkpointEvery, configuration.checkpointSeconds, since: &lastCheckpoint) {
                try save()
            }
            if let minute = snapshots.first, elapsedBefore + Date().timeIntervalSince(start) >= minute * 60 {
                snapshots.removeFirst()
                try writeSnapshot(minute: minute)
            }
        }
        if showsProgress && reachedDeadline { progress.finishLine() }
        try save()
        try writeSamples()
        return reachedDeadline ? .reachedTimeLimit : .finished
    }

    /// A budgeted run's plan: from the timed steps, and a sample grid and a checkpoint written
    /// and timed now, the steps that fit before `end` with the previews and checkpoints to come
    /// and the final ones. Sets ``configuration``'s steps (where the cosine decay ends) and EMA
    /// decay, records them in ``configJSON`` and `config.json`, and saves. Rank 0 plans; every
    /// rank gets its numbers.
    private func plan(until end: Date, timedSteps: Int, timedSeconds: Double) throws {
        guard var budget = configuration.budget else { return }
        try writeSamples()  // sets previewCost
        let clock = Date()
        try save()
        let saveCost = Date().timeIntervalSince(clock)
        let perStep = timedSeconds / Double(max(1, timedSteps))
        // previews and checkpoints by the clock take a share of the time; by steps, a share of each step
        var share = 0.0, extra = 0.0
        for (cost, every, seconds) in [(previewCost, configuration.sampleEvery, sampleInterval),
                                       (saveCost, configuration.checkpointEvery, configuration.checkpointSeconds)] {
            if every > 0 { extra += cost / Double(every) } else if let seconds { share += cost / seconds }
        }
        let secondsPerStep = perStep * (1 + share) + extra
        let available = end.timeIntervalSinceNow - previewCost - saveCost
        var shared: [Float] = world.isWriter
            ? [Float(TrainingBudget.plannedSteps(done: step, seconds: available, secondsPerStep: secondsPerStep)), Float(secondsPerStep)] : [0, 0]
        try world.allreduceSum(&shared)
        budget.secondsPerStep = max(1e-9, Double(String(format: "%.4g", Double(shared[1]))) ?? Double(shared[1]))
        configuration.budget = budget
        configuration.steps = max(step + 1, Int(shared[0]))
        // a warm-up longer than a fifth of the plan ends now, so that the rate still decays to 0
        configuration.warmupSteps = min(configuration.warmupSteps, max(step, configuration.steps / 5))
        if configuration.emaDecay != nil, let decay = budget.emaDecay(steps: configuration.steps) {
            configuration.emaDecay = decay
            ema?.decay = decay
        }
        if let describeRun {
            configJSON = try describeRun(configuration)
            if world.isWriter { try AtomicFile.write(Data(configJSON.utf8), to: folder.appendingPathComponent("config.json")) }
        }
        try save()
        let ema = configuration.emaDecay.map { String(format: ", EMA decay %.4f", $0) } ?? ""
        note("planned \(configuration.steps) steps to fill \(budget.minutesText) at \(String(format: "%.3f", budget.secondsPerStep ?? 0)) s a step (previews and checkpoints included): the learning rate decays to 0 at the last\(ema)")
    }

    /// The folder of the snapshot at `minute` minutes: `snapshots/minute-5`, `snapshots/minute-0.5`.
    public func snapshotFolder(minute: Double) -> URL {
        folder.appendingPathComponent("snapshots").appendingPathComponent("minute-\(Self.number(minute))")
    }

    /// `5` for 5.0, `0.5` for 0.5.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
    }

    /// Keeps the run's state as it is now in ``snapshotFolder(minute:)`` (rank 0).
    private func writeSnapshot(minute: Double) throws {
        guard world.isWriter else { return }
        let target = snapshotFolder(minute: minute)
        do { try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true) } catch {
            throw AtomicFileError(path: target.path, reason: (error as NSError).localizedDescription)
        }
        try checkpoint().write(to: target.appendingPathComponent("checkpoint.safetensors"))
        try AtomicFile.write(Data(configJSON.utf8), to: target.appendingPathComponent("config.json"))
        note("snapshot at \(Self.number(minute)) minutes (step \(step)): \(target.path)")
    }

    /// Seconds between sample grids by the clock: ``TrainerConfiguration/sampleSeconds``, or
    /// longer when grids take more than ``previewShare`` of the time (nil: only at the end).
    private var sampleInterval: Double? {
        configuration.sampleSeconds.map { $0 > 0 ? max($0, previewCost / Self.previewShare) : 0 }
    }

    /// Whether an interval of `steps` (when positive) or else of `seconds` since `last` has
    /// passed at this step; moves `last` on when it has.
    private func due(_ steps: Int, _ seconds: Double?, since last: inout Date) -> Bool {
        if steps > 0 { return step % steps == 0 }
        guard let seconds, Date().timeIntervalSince(last) >= seconds else { return false }
        last = Date()
        return true
    }

    /// What one training step did.
    private struct StepResult {
        var loss: Float
        var gradientNorm: Float
        var images: Int
        var metrics: [String: Double] = [:]
    }

    /// One training step: every phase's updates in turn (one update for a single-loss task).
    /// Returns nil (and changes no weights) when a loss or gradient is not finite.
    private func trainStep() throws -> StepResult? {
        let learningRate = configuration.schedule(step)
        for (phase, optimizer) in zip(phases, optimizers) { optimizer.learningRate = learningRate * phase.learningRateScale }
        task.willTrain(step: step)
        // A later update's failure must not leave the earlier ones applied (a critic updated
        // without its generator update, moved power-iteration vectors): keep what to go back to.
        let rollback = hasSeveralPhases || phases[0].updatesPerStep > 1
        let weightsBefore = rollback ? task.model.stateDict().mapValues { $0.copy() } : [:]
        let optimizersBefore = rollback ? optimizerState().mapValues { $0.copy() } : [:]
        func skip() throws -> StepResult? {
            if rollback {
                try task.model.load(stateDict: weightsBefore)
                try loadOptimizerState(optimizersBefore)
            }
            return nil
        }
        var streams = isSharded ? shardStreams() : nil
        defer {
            // shard 0 goes on with the run's own dropout stream, which checkpoints keep
            if let streams, localShards.first == 0 { Random.dropout.state = streams.dropout[0] }
        }
        var result = StepResult(loss: 0, gradientNorm: 0, images: 0)
        var batches: [Batch] = []
        for (phase, optimizer) in zip(phases, optimizers) {
            var lossSum = 0.0
            for _ in 0..<phase.updatesPerStep {
                if phase.usesData || batches.isEmpty {
                    let indices = loader.nextIndices()
                    batches = try isSharded ? localShards.map { try loader.batch(at: Array(indices[shares.range($0)])) } : [loader.batch(at: indices)]
                    result.images += indices.count
                }
                let update: (loss: Float, gradients: Gradients, metrics: [String: Double])
                if var current = streams {
                    update = try shardedUpdate(phase, batches: batches, streams: &current)
                    streams = current
                } else {
                    var extra: [String: Double] = [:]
                    let (loss, gradients) = valueAndGrad(phase.module) { _ in
                        let output = phase.loss(batches[0], noise)
                        extra = output.metrics
                        return output.loss
                    }
                    update = (loss.item, gradients, extra)
                }
                let norm = gradientNorm(update.gradients)
                guard update.loss.isFinite && norm.isFinite else { return try skip() }
                let gradients = update.gradients
                optimizer.update(phase.module, with: configuration.gradientClip.map { clipGradientNorm(gradients, maxNorm: $0, norm: norm).gradients } ?? gradients)
                lossSum += Double(update.loss)
                result.loss = update.loss
                result.gradientNorm = norm
                for (key, value) in update.metrics { result.metrics[key] = value }
                if hasSeveralPhases { result.metrics["\(phase.name)_grad_norm"] = Double(norm) }
            }
            if hasSeveralPhases { result.metrics["\(phase.name)_loss"] = lossSum / Double(phase.updatesPerStep) }
        }
        return result
    }

    // MARK: Shards

    /// Whether batches are cut into shares: several shards, or several ranks.
    private var isSharded: Bool { shares.shards > 1 || world.size > 1 }

    /// The noise and dropout streams of this rank's shards for one step.
    private struct ShardStreams {
        var noise: [RandomGenerator]
        var dropout: [RandomState]
    }

    /// Shard 0 goes on with the run's own streams (which checkpoints keep); shard s > 0 draws
    /// from streams derived from the seed, the shard and the step, so that no rank needs
    /// another rank's state and a run resumes exactly on any number of ranks.
    private func shardStreams() -> ShardStreams {
        var streams = ShardStreams(noise: [], dropout: [])
        for shard in localShards {
            if shard == 0 {
                streams.noise.append(noise)
                streams.dropout.append(Random.dropout.state)
            } else {
                let seed = configuration.seed ^ (UInt64(shard) &* 0xD1B5_4A32_D192_ED03) ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
                streams.noise.append(RandomGenerator(seed: seed, stream: .noise))
                streams.dropout.append(RandomGenerator(seed: seed, stream: .dropout).state)
            }
        }
        return streams
    }

    /// One update's loss, gradients and metrics over the whole global batch: each local
    /// shard's, weighted by its share of the batch, summed over the ranks in one flat buffer.
    /// Buffers (batch-norm statistics, power-iteration vectors) start every shard from the same
    /// values and end as the shards' weighted mean, on every rank.
    private func shardedUpdate(_ phase: TrainingPhase, batches: [Batch], streams: inout ShardStreams) throws
        -> (loss: Float, gradients: Gradients, metrics: [String: Double]) {
        let parameters = phase.module.namedParameters()
        let buffers = task.model.namedBuffers().map(\.1)
        let saved = batches.count > 1 ? buffers.map { $0.copy() } : []
        // layout: gradients, one presence count per parameter, buffers, loss, metrics
        var parameterOffsets: [Int] = [], bufferOffsets: [Int] = [], size = 0
        for (_, parameter) in parameters { parameterOffsets.append(size); size += parameter.count }
        let presence = size
        size += parameters.count
        for buffer in buffers { bufferOffsets.append(size); size += buffer.count }
        let lossSlot = size
        var flat = [Float](repeating: 0, count: size + 1)
        var metricKeys: [String] = []
        for (i, batch) in batches.enumerated() {
            if i > 0 { for (buffer, value) in zip(buffers, saved) { buffer.assign(value) } }
            Random.dropout.state = streams.dropout[i]
            var extra: [String: Double] = [:]
            let (loss, gradients) = valueAndGrad(phase.module) { _ in
                let output = phase.loss(batch, streams.noise[i])
                extra = output.metrics
                return output.loss
            }
            streams.dropout[i] = Random.dropout.state
            if i == 0 {
                metricKeys = extra.keys.sorted()
                flat += [Float](repeating: 0, count: metricKeys.count)
            }
            let weight = Float(batch.images.shape[0]) / Float(shares.batchSize)
            flat.withUnsafeMutableBufferPointer { flat in
                func add(_ tensor: Tensor, at offset: Int) {
                    tensor.withUnsafeBufferPointer { values in
                        for k in values.indices { flat[offset + k] += weight * values[k] }
                    }
                }
                for (j, (path, _)) in parameters.enumerated() {
                    guard let gradient = gradients[path] else { continue }
                    flat[presence + j] += 1
                    add(gradient, at: parameterOffsets[j])
                }
                for (buffer, offset) in zip(buffers, bufferOffsets) { add(buffer, at: offset) }
                flat[lossSlot] += weight * loss.item
                for (j, key) in metricKeys.enumerated() { flat[lossSlot + 1 + j] += weight * Float(extra[key] ?? 0) }
            }
        }
        try world.allreduceSum(&flat)
        var gradients = Gradients()
        for (j, (path, parameter)) in parameters.enumerated() where flat[presence + j] > 0 {
            gradients[path] = Tensor(Array(flat[parameterOffsets[j]..<(parameterOffsets[j] + parameter.count)]), shape: parameter.shape)
        }
        for (buffer, offset) in zip(buffers, bufferOffsets) {
            buffer.assign(Tensor(Array(flat[offset..<(offset + buffer.count)]), shape: buffer.shape))
        }
        var metrics: [String: Double] = [:]
        for (j, key) in metricKeys.enumerated() { metrics[key] = Double(flat[lossSlot + 1 + j]) }
        return (flat[lossSlot], gradients, metrics)
    }

    /// Writes `samples/step-NNNNNN.png` from the EMA weights, leaving training state untouched
    /// (nothing for a task that draws no images).
    public func writeSamples() throws {
        guard task.drawsSamples, world.isWriter else { return }
        let start = Date()
        defer { previewCost = Date().timeIntervalSince(start) }
        let images = try withSamplingWeights {
            task.samples(count: configuration.sampleCount, generator: RandomGenerator(seed: configuration.seed, stream: .sampling))
        }
        let name = String(format: "step-%06d.png", step)
        try ImageGrid.write(images, to: folder.appendingPathComponent("samples").appendingPathComponent(name),
                            nrow: Int(Double(configuration.sampleCount).squareRoot().rounded(.up)), range: task.pixelRange)
    }

    /// Runs `body` with the EMA weights in the model and the model in evaluation mode, then
    /// restores the training weights and mode.
    public func withSamplingWeights<R>(_ body: () throws -> R) throws -> R {
        let training = task.model.stateDict().mapValues { $0.copy() }
        let dropout = Random.dropout.state
        defer {
            try? task.model.load(stateDict: training)
            task.model.train()
            Random.dropout.state = dropout
        }
        if let ema { try ema.copy(to: task.sampledModule) }
        task.model.eval()
        return try withoutGradients(body)
    }


}
