import GenCore

/// The samplers `gen` has built in, by the names the command line takes: each one's default
/// step count, the processes it fits, and the ``Sampler`` it makes.
public enum BuiltInSampler: String, Sendable, CaseIterable {
    /// ``DDPMSampler``: ancestral sampling (Ho et al. 2020).
    case ddpm
    /// ``DDIMSampler`` with η (Song, Meng & Ermon 2021).
    case ddim
    /// ``EulerMaruyamaSampler`` on the reverse SDE.
    case eulerMaruyama = "euler-maruyama"
    /// ``ReverseDiffusionSampler``.
    case reverseDiffusion = "reverse-diffusion"
    /// ``PredictorCorrectorSampler``: a predictor and Langevin corrector steps.
    case pc
    /// ``ProbabilityFlowSampler`` with each ``ODESolver/Method``.
    case euler, midpoint, heun, rk4, dopri5
    /// ``DPMSolverSampler`` of order 2: DPM-Solver++(2M) (Lu et al. 2022).
    case dpmSolver2M = "dpm++2m"
    /// ``DPMSolverSampler`` of order 3: DPM-Solver++(3M).
    case dpmSolver3M = "dpm++3m"
    /// ``KarrasHeunSampler``: EDM's deterministic Heun sampler on its σ grid (Karras et al. 2022).
    case heunKarras = "heun-karras"

    /// The ODE method of the probability-flow samplers.
    public var odeMethod: ODESolver.Method? { ODESolver.Method(rawValue: rawValue) }

    /// Steps when none are given (for dopri5, the intervals that pace its progress reports).
    public var defaultSteps: Int {
        switch self {
        case .ddpm: return 250
        case .ddim: return 50
        case .eulerMaruyama, .reverseDiffusion, .pc: return 500
        case .euler: return 100
        case .midpoint, .heun: return 50
        case .rk4: return 25
        case .dopri5: return 4
        case .dpmSolver2M, .dpmSolver3M: return 20
        case .heunKarras: return 18
        }
    }

    /// Whether the sampler works with `process`. The reverse-SDE samplers need the drift α'/α,
    /// which is infinite at t = 1 where α(1) = 0 (flow matching's linear path); DDPM's and
    /// DDIM's steps use only α and σ, and the ODE methods only the velocity.
    public func fits(_ process: any NoiseProcess) -> Bool {
        switch self {
        case .eulerMaruyama, .reverseDiffusion, .pc: return process.alpha(1) > 0
        default: return true
        }
    }

    /// The built-in samplers that work with `process`.
    public static func fitting(_ process: any NoiseProcess) -> [BuiltInSampler] { allCases.filter { $0.fits(process) } }

    /// Whether the sampler clips its predicted data to [−1, 1] when `settings.clipData` says so:
    /// DDPM's, DDIM's and DPM-Solver++'s do; the others take the denoiser's prediction as it is
    /// (a ``Denoiser`` with ``Denoiser/clipsData`` clips for any sampler).
    public var clipsData: Bool { [.ddpm, .ddim, .dpmSolver2M, .dpmSolver3M].contains(self) }

    /// The sampler with `steps` steps and `settings`, for `process` (the samplers that lay out
    /// their grid by the process's noise levels need it).
    public func make(steps: Int, settings: SamplerSettings = SamplerSettings(), process: any NoiseProcess) -> any Sampler {
        switch self {
        case .ddpm: return DDPMSampler(steps: steps, variance: settings.variance, clipData: settings.clipData)
        case .ddim: return DDIMSampler(steps: steps, eta: settings.eta, clipData: settings.clipData)
        case .eulerMaruyama: return EulerMaruyamaSampler(steps: steps)
        case .reverseDiffusion: return ReverseDiffusionSampler(steps: steps)
        case .pc:
            return PredictorCorrectorSampler(steps: steps, predictor: settings.predictor, signalToNoise: settings.signalToNoise,
                                             correctorSteps: settings.correctorSteps)
        case .euler, .midpoint, .heun, .rk4, .dopri5:
            return ProbabilityFlowSampler(method: odeMethod ?? .heun, steps: steps, relativeTolerance: settings.relativeTolerance,
                                          absoluteTolerance: settings.absoluteTolerance)
        case .dpmSolver2M, .dpmSolver3M:
            return DPMSolverSampler(steps: steps, order: self == .dpmSolver2M ? 2 : 3, clipData: settings.clipData, process: process)
        case .heunKarras: return KarrasHeunSampler(steps: steps, process: process)
        }
    }
}

/// The settings of the built-in samplers besides their name and step count; each sampler reads
/// its own.
public struct SamplerSettings: Sendable, Equatable {
    /// DDIM's η (0: deterministic).
    public var eta = 0.0
    /// DDPM's fixed variance.
    public var variance = DDPMSampler.Variance.small
    /// DDPM and DDIM: clip the predicted data to [−1, 1].
    public var clipData = true
    /// Predictor–corrector: the corrector's signal-to-noise ratio, predictor and Langevin steps.
    public var signalToNoise = 0.16
    public var predictor = PredictorCorrectorSampler.Predictor.reverseDiffusion
    public var correctorSteps = 1
    /// dopri5's tolerances.
    public var relativeTolerance = 1e-5
    public var absoluteTolerance = 1e-5

    public init(eta: Double = 0, variance: DDPMSampler.Variance = .small, clipData: Bool = true, signalToNoise: Double = 0.16,
                predictor: PredictorCorrectorSampler.Predictor = .reverseDiffusion, correctorSteps: Int = 1,
                relativeTolerance: Double = 1e-5, absoluteTolerance: Double = 1e-5) {
        self.eta = eta
        self.variance = variance
        self.clipData = clipData
        self.signalToNoise = signalToNoise
        self.predictor = predictor
        self.correctorSteps = correctorSteps
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
    }
}

/// A built-in sampler chosen for a diffusion model's ``TrainedModel/imageSource(_:)``: by
/// name, or the model's default, with a step count or the sampler's default.
///
/// ```swift
/// let source = try model.imageSource(DrawOptions(sampler: DiffusionSamplerChoice(.ddim, steps: 20)))
/// ```
public struct DiffusionSamplerChoice: SamplerChoice {
    /// nil: the model's default sampler for the purpose of the drawing.
    public var sampler: BuiltInSampler?
    /// nil: the sampler's default.
    public var steps: Int?
    public var settings: SamplerSettings

    public init(_ sampler: BuiltInSampler? = nil, steps: Int? = nil, settings: SamplerSettings = SamplerSettings()) {
        self.sampler = sampler
        self.steps = steps
        self.settings = settings
    }

    public var name: String { sampler?.rawValue ?? "default" }
}
