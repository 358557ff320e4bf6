/// How long and how a ``Trainer`` trains, and how often it reports, samples and saves.
public struct TrainerConfiguration: Codable, Sendable, Equatable {
    /// Optimizer updates in the whole run.
    public var steps: Int
    public var batchSize: Int
    /// The peak learning rate.
    public var learningRate: Float
    /// Linear warm-up steps before the peak rate.
    public var warmupSteps: Int
    /// Decay after warm-up: constant or cosine to zero at the last step.
    public var learningRateDecay: Decay
    /// Largest gradient norm; larger gradients are scaled down (nil: no clipping).
    public var gradientClip: Float?
    /// EMA decay of the weights used for sampling (nil: no EMA, sample the raw weights).
    public var emaDecay: Float?
    /// Steps between sample grids (`samples/step-NNNNNN.png`; 0: by ``sampleSeconds``, or only
    /// at the end).
    public var sampleEvery: Int
    /// Seconds between sample grids when ``sampleEvery`` is 0 (nil: only at the end).
    public var sampleSeconds: Double?
    /// Images in each sample grid.
    public var sampleCount: Int
    /// Steps between checkpoints (0: by ``checkpointSeconds``, or only at the end and when
    /// stopped).
    public var checkpointEvery: Int
    /// Seconds between checkpoints when ``checkpointEvery`` is 0 (nil: only at the end).
    public var checkpointSeconds: Double?
    /// Steps between metric records and plain progress lines.
    public var logEvery: Int
    /// The seed of the run's data order and noise.
    public var seed: UInt64
    /// Non-finite losses in a row after which the run stops as diverged.
    public var maximumNonFiniteSteps: Int
    /// The shares each global batch is cut into, each with its own noise and dropout streams
    /// (nil: one): the ranks of a data-parallel run, one share each. A run with the same shards
    /// gives the same weights on any number of ranks.
    public var shards: Int?
    /// A run planned for a wall-clock budget (nil: a run of ``steps``): ``steps`` is set from the
    /// speed of the run's first steps so that the schedule ends at the deadline.
    public var budget: TrainingBudget?
    /// Wall-clock minutes of training at which the run's state is kept in
    /// `snapshots/minute-M/` (a checkpoint and `config.json`, a run folder of its own for
    /// `gen sample` and `gen eval`); nil: none.
    public var snapshotMinutes: [Double]?

    /// ``shards``, 1 when not set.
    public var shardCount: Int { shards ?? 1 }

    public enum Decay: String, Codable, Sendable, CaseIterable { case constant, cosine }

    /// Settings not given are ``TrainingDefaults/standard``'s; a family's own defaults, the
    /// ones the command line and ``TrainingRun`` use, are ``TrainingDefaults/configuration(steps:seed:)`` of its
    /// ``ModelFamily/trainingDefaults``.
    public init(steps: Int, batchSize: Int = TrainingDefaults.standard.batchSize,
                learningRate: Float = TrainingDefaults.standard.learningRate,
                warmupSteps: Int = TrainingDefaults.standard.warmupSteps, learningRateDecay: Decay = .constant,
                gradientClip: Float? = TrainingDefaults.standard.gradientClip, emaDecay: Float? = TrainingDefaults.standard.emaDecay,
                sampleEvery: Int = TrainingDefaults.standard.sampleEvery, sampleCount: Int = 64,
                checkpointEvery: Int = TrainingDefaults.standard.checkpointEvery, logEvery: Int = TrainingDefaults.standard.logEvery,
                seed: UInt64 = 0, maximumNonFiniteSteps: Int = 10,
                sampleSeconds: Double? = TrainingDefaults.standard.sampleSeconds,
                checkpointSeconds: Double? = TrainingDefaults.standard.checkpointSeconds, shards: Int? = nil,
                budget: TrainingBudget? = nil, snapshotMinutes: [Double]? = nil) {
        self.steps = steps
        self.snapshotMinutes = snapshotMinutes
        self.budget = budget
        self.shards = shards.flatMap { $0 > 1 ? $0 : nil }
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.learningRateDecay = learningRateDecay
        self.gradientClip = gradientClip
        self.emaDecay = emaDecay
        self.sampleEvery = sampleEvery
        self.sampleSeconds = sampleSeconds
        self.sampleCount = sampleCount
        self.checkpointEvery = checkpointEvery
        self.checkpointSeconds = checkpointSeconds
        self.logEvery = logEvery
        self.seed = seed
        self.maximumNonFiniteSteps = maximumNonFiniteSteps
    }

    /// Throws when no run could train with these settings (they may come from a crafted file).
    public func validate() throws(ConfigurationError) {
        guard steps >= 1, steps <= 1 << 40, batchSize >= 1, batchSize <= 1 << 20, warmupSteps >= 0, logEvery >= 1,
              sampleEvery >= 0, checkpointEvery >= 0, sampleCount >= 1, sampleCount <= 4096, maximumNonFiniteSteps >= 1,
              (sampleSeconds ?? 1) > 0, (checkpointSeconds ?? 1) > 0, (1...4096).contains(shardCount), shardCount <= batchSize else {
            throw .settings("the training settings are impossible (steps \(steps), batch \(batchSize), warm-up \(warmupSteps), every \(logEvery)/\(sampleEvery)/\(checkpointEvery), shards \(shardCount))")
        }
        guard learningRate > 0, learningRate.isFinite, (gradientClip ?? 1) > 0, (gradientClip ?? 1).isFinite,
              (emaDecay ?? 0) >= 0, (emaDecay ?? 0) < 1 else {
            throw .settings("the learning rate must be positive, the gradient clip positive, the EMA decay in [0, 1)")
        }
        if let marks = snapshotMinutes, !marks.allSatisfy({ $0 > 0 && $0 <= 1e7 }) || marks.count > 1000 {
            throw .settings("the snapshot minutes must be positive")
        }
        if let budget {
            guard budget.minutes > 0, budget.minutes <= 1e7, budget.probeSteps >= 1, budget.probeSteps <= 1 << 20,
                  (budget.secondsPerStep ?? 1) > 0, (budget.secondsPerStep ?? 1).isFinite,
                  (0.001...1).contains(budget.emaFraction ?? 0.1) else {
                throw .settings("the time budget is impossible (\(budget.minutes) minutes, \(budget.probeSteps) probe steps)")
            }
        }
    }

    /// The learning-rate schedule these settings describe.
    public var schedule: LearningRateSchedule {
        switch learningRateDecay {
        case .constant: return Schedules.linearWarmup(learningRate, warmupSteps: warmupSteps)
        case .cosine: return Schedules.cosine(learningRate, totalSteps: steps, warmupSteps: warmupSteps)
        }
    }
}

/// A run planned for a wall-clock budget (`gen train --minutes M` without `--steps`).
///
/// The run starts with ``TrainerConfiguration/steps`` unknown: its first steps (at least
/// ``probeSteps``, and ten seconds or a twentieth of the budget, whichever is less) run at the
/// warm-up's rate, are timed, and then a
/// checkpoint and a sample grid are written and timed as well. From these the run plans the
/// steps that fit before its deadline with its previews and checkpoints, sets
/// ``TrainerConfiguration/steps`` to that number (the learning rate's cosine decay ends there)
/// and, unless an EMA decay was given, the EMA decay to average over the last
/// ``emaFraction`` of them; a warm-up longer than a fifth of the planned steps is cut to end
/// at the plan, so the rate always decays to 0. The plan is written to `config.json` and every checkpoint, so a
/// resumed run goes on exactly as planned. The deadline still stops a run whose machine slowed
/// down after the plan (saved; resume goes on to the planned steps).
public struct TrainingBudget: Codable, Sendable, Equatable {
    /// The wall-clock minutes the run is planned for.
    public var minutes: Double
    /// The fewest steps timed before the plan is made.
    public var probeSteps: Int
    /// The EMA's mean age as a fraction of the planned steps (its decay `1 − 1 / (fraction ·
    /// steps)`); nil: the decay is the configuration's own.
    public var emaFraction: Double?
    /// What the plan measured: seconds per step, previews and checkpoints included (nil until
    /// the plan is made).
    public var secondsPerStep: Double?

    /// Steps while the run has no plan yet: more than any run makes.
    public static let unplannedSteps = 1 << 40

    public init(minutes: Double, probeSteps: Int = 20, emaFraction: Double? = 0.1) {
        self.minutes = minutes
        self.probeSteps = probeSteps
        self.emaFraction = emaFraction
    }

    /// The minutes in words: `10 minutes`, `1.5 minutes`.
    public var minutesText: String {
        minutes == minutes.rounded() && minutes < 1e7 ? "\(Int(minutes)) minute\(minutes == 1 ? "" : "s")" : "\(minutes) minutes"
    }

    /// Whether the run's steps are planned.
    public var isPlanned: Bool { secondsPerStep != nil }

    /// The EMA decay for a run of `steps`: mean age ``emaFraction`` of them, within [0.9, 0.9999].
    public func emaDecay(steps: Int) -> Float? {
        emaFraction.map { Float(min(0.9999, max(0.9, 1 - 1 / ($0 * Double(steps))))) }
    }

    /// The steps to plan: `done` plus as many as fit in `seconds` at `secondsPerStep` (at
    /// least one).
    public static func plannedSteps(done: Int, seconds: Double, secondsPerStep: Double) -> Int {
        let more = seconds / secondsPerStep
        return done + (more.isFinite ? Int(max(1, min(more, Double(unplannedSteps / 2)))) : 1)
    }
}

/// The training settings a model family starts from where the caller gives none: one set,
/// used alike by the command line and by ``TrainingRun``.
public struct TrainingDefaults: Sendable, Equatable {
    /// Optimizer updates of ``configuration(steps:seed:)`` when none are given.
    public var steps = 2000
    /// The wall-clock budget of a run given neither steps, epochs nor minutes
    /// (``RunSettings``): ten minutes.
    public var minutes = 10.0
    public var batchSize = 64
    /// Adam's peak learning rate.
    public var learningRate: Float = 2e-4
    public var warmupSteps = 100
    /// Largest gradient norm (nil: no clipping).
    public var gradientClip: Float? = 1
    /// EMA decay of the sampling weights (nil: no EMA).
    public var emaDecay: Float? = 0.999
    /// Steps between sample grids (0: every ``sampleSeconds``).
    public var sampleEvery = 0
    /// Seconds between sample grids: one every two minutes suits every family's speed.
    public var sampleSeconds: Double? = 120
    /// Steps between checkpoints (0: every ``checkpointSeconds``).
    public var checkpointEvery = 0
    /// Seconds between checkpoints: a kill loses at most five minutes.
    public var checkpointSeconds: Double? = 300
    /// Steps between metric records and progress lines.
    public var logEvery = 50

    /// The starting point of every family's defaults, and ``TrainerConfiguration``'s: batches
    /// of 64 at lr 2e-4, 100 warm-up steps, gradients clipped at norm 1.
    public static let standard = TrainingDefaults()

    /// The diffusion families' (ddpm, sde, flow): batches of 32 at lr 1e-3, 100 warm-up steps,
    /// gradients clipped at norm 1. Measured on MNIST in ten-minute runs (README, "Quality
    /// against time"): more, smaller steps at a higher rate beat the standard's in short budgets.
    public static let diffusion = TrainingDefaults(batchSize: 32, learningRate: 1e-3)

    public init(steps: Int = 2000, batchSize: Int = 64, learningRate: Float = 2e-4, warmupSteps: Int = 100,
                gradientClip: Float? = 1, emaDecay: Float? = 0.999, sampleEvery: Int = 0, checkpointEvery: Int = 0,
                logEvery: Int = 50, sampleSeconds: Double? = 120, checkpointSeconds: Double? = 300) {
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.gradientClip = gradientClip
        self.emaDecay = emaDecay
        self.sampleEvery = sampleEvery
        self.checkpointEvery = checkpointEvery
        self.logEvery = logEvery
        self.sampleSeconds = sampleSeconds
        self.checkpointSeconds = checkpointSeconds
    }

    /// A trainer configuration with these defaults.
    public func configuration(steps: Int? = nil, seed: UInt64 = 0) -> TrainerConfiguration {
        TrainerConfiguration(steps: steps ?? self.steps, batchSize: batchSize, learningRate: learningRate, warmupSteps: warmupSteps,
                             gradientClip: gradientClip, emaDecay: emaDecay, sampleEvery: sampleEvery,
                             checkpointEvery: checkpointEvery, logEvery: logEvery, seed: seed,
                             sampleSeconds: sampleSeconds, checkpointSeconds: checkpointSeconds)
    }
}
