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
    /// Steps between sample grids (`samples/step-NNNNNN.png`; 0: only at the end).
    public var sampleEvery: Int
    /// Images in each sample grid.
    public var sampleCount: Int
    /// Steps between checkpoints (0: only at the end and when stopped).
    public var checkpointEvery: Int
    /// Steps between metric records and plain progress lines.
    public var logEvery: Int
    /// The seed of the run's data order and noise.
    public var seed: UInt64
    /// Non-finite losses in a row after which the run stops as diverged.
    public var maximumNonFiniteSteps: Int

    public enum Decay: String, Codable, Sendable, CaseIterable { case constant, cosine }

    public init(steps: Int, batchSize: Int = 64, learningRate: Float = 2e-4, warmupSteps: Int = 0,
                learningRateDecay: Decay = .constant, gradientClip: Float? = 1, emaDecay: Float? = 0.999,
                sampleEvery: Int = 0, sampleCount: Int = 64, checkpointEvery: Int = 0, logEvery: Int = 50,
                seed: UInt64 = 0, maximumNonFiniteSteps: Int = 10) {
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.learningRateDecay = learningRateDecay
        self.gradientClip = gradientClip
        self.emaDecay = emaDecay
        self.sampleEvery = sampleEvery
        self.sampleCount = sampleCount
        self.checkpointEvery = checkpointEvery
        self.logEvery = logEvery
        self.seed = seed
        self.maximumNonFiniteSteps = maximumNonFiniteSteps
    }

    /// The learning-rate schedule these settings describe.
    public var schedule: LearningRateSchedule {
        switch learningRateDecay {
        case .constant: return Schedules.linearWarmup(learningRate, warmupSteps: warmupSteps)
        case .cosine: return Schedules.cosine(learningRate, totalSteps: steps, warmupSteps: warmupSteps)
        }
    }
}
