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
    public let configuration: TrainerConfiguration
    public let folder: URL
    /// The run's configuration, stored in every checkpoint.
    public let configJSON: String
    public private(set) var step = 0
    public private(set) var ema: ExponentialMovingAverage?
    /// Where messages go (stderr by default).
    public var log: (String) -> Void = printNote
    /// Whether to show progress on stderr.
    public var showsProgress = true

    private let noise: RandomGenerator
    private var nonFiniteStreak = 0
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
    public init(task: TrainingTask, loader: BatchLoader, optimizers: [Optimizer], configuration: TrainerConfiguration,
                folder: URL, configJSON: String) {
        let phases = task.phases
        require(!phases.isEmpty && optimizers.count == phases.count,
                "Trainer: \(phases.count) phase(s) need \(phases.count) optimizer(s), got \(optimizers.count)")
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

    /// Saves the checkpoint and the loss plot.
    public func save() throws {
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
        if let text = try? String(contentsOf: metricsURL, encoding: .utf8) {
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
        do {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("samples"), withIntermediateDirectories: true)
        } catch {
            throw AtomicFileError(path: folder.appendingPathComponent("samples").path, reason: (error as NSError).localizedDescription)
        }
        Interruption.install()
        defer { Interruption.uninstall() }
        let metrics = try AppendOnlyFile(metricsURL)
        do {
            return try loop(until: deadline, metrics: metrics)
        } catch let error as AtomicFileError {
            if (try? save()) != nil { log("saved \(checkpointURL.path) at step \(step) before stopping: \(error)") }
            throw error
        }
    }

    private func loop(until deadline: Date?, metrics: AppendOnlyFile) throws -> Outcome {
        let progress = ProgressReporter(total: configuration.steps, startStep: step, label: "step", lineEvery: configuration.logEvery)
        progress.deadline = deadline
        var windowStart = Date(), windowImages = 0
        var lastSamples = Date(), lastCheckpoint = Date()
        let start = Date()
        task.model.train()
        var reachedDeadline = false
        while step < configuration.steps {
            if let deadline, Date() >= deadline {
                reachedDeadline = true
                break
            }
            if Interruption.isRequested {
                if showsProgress { progress.finishLine() }
                try save()
                log("stopped at step \(step); saved \(checkpointURL.path)")
                return .interrupted
            }
            // 1–4. batch, learning rate, loss and gradients, update (skipped when non-finite)
            guard let result = try trainStep() else {
                nonFiniteStreak += 1
                log("step \(step + 1): non-finite loss or gradient (\(nonFiniteStreak) in a row); update skipped")
                if nonFiniteStreak >= configuration.maximumNonFiniteSteps {
                    if showsProgress { progress.finishLine() }
                    log("stopping: \(nonFiniteStreak) non-finite steps in a row; the last checkpoint is kept as it was")
                    return .diverged
                }
                continue
            }
            nonFiniteStreak = 0
            ema?.update(from: task.sampledModule)
            step += 1
            windowImages += result.images
            let loss = Tensor(result.loss)
            // 5. report, sample, save
            if step % configuration.logEvery == 0 || step == configuration.steps {
                let seconds = Date().timeIntervalSince(windowStart)
                var record: [String: Any] = ["step": step, "loss": Double(loss.item), "lr": Double(optimizer.learningRate),
                                             "grad_norm": Double(result.gradientNorm), "images_per_s": Double(windowImages) / max(seconds, 1e-9),
                                             "elapsed": ((elapsedBefore + Date().timeIntervalSince(start)) * 10).rounded() / 10]
                for (key, value) in result.metrics { record[key] = value }
                try metrics.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self) + "\n")
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
            if step < configuration.steps && due(configuration.sampleEvery, configuration.sampleSeconds, since: &lastSamples) {
                try writeSamples()
            }
            if step < configuration.steps && due(configuration.checkpointEvery, configuration.checkpointSeconds, since: &lastCheckpoint) {
                try save()
            }
        }
        if showsProgress && reachedDeadline { progress.finishLine() }
        try save()
        try writeSamples()
        return reachedDeadline ? .reachedTimeLimit : .finished
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
        for optimizer in optimizers { optimizer.learningRate = learningRate }
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
        var result = StepResult(loss: 0, gradientNorm: 0, images: 0)
        var batch: Batch?
        for (phase, optimizer) in zip(phases, optimizers) {
            var lossSum = 0.0
            for _ in 0..<phase.updatesPerStep {
                if phase.usesData || batch == nil {
                    batch = try loader.next()
                    result.images += batch!.images.shape[0]
                }
                var extra: [String: Double] = [:]
                let (loss, gradients) = valueAndGrad(phase.module) { _ in
                    let output = phase.loss(batch!, noise)
                    extra = output.metrics
                    return output.loss
                }
                let norm = gradientNorm(gradients)
                guard loss.item.isFinite && norm.isFinite else { return try skip() }
                optimizer.update(phase.module, with: configuration.gradientClip.map { clipGradientNorm(gradients, maxNorm: $0, norm: norm).gradients } ?? gradients)
                lossSum += Double(loss.item)
                result.loss = loss.item
                result.gradientNorm = norm
                for (key, value) in extra { result.metrics[key] = value }
                if hasSeveralPhases { result.metrics["\(phase.name)_grad_norm"] = Double(norm) }
            }
            if hasSeveralPhases { result.metrics["\(phase.name)_loss"] = lossSum / Double(phase.updatesPerStep) }
        }
        return result
    }

    /// Writes `samples/step-NNNNNN.png` from the EMA weights, leaving training state untouched
    /// (nothing for a task that draws no images).
    public func writeSamples() throws {
        guard task.drawsSamples else { return }
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
