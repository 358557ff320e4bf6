import GenCore

/// What the three diffusion families (``DDPM``, ``ScoreSDE``, ``FlowMatching``) share: a
/// ``UNet`` behind a ``Denoiser``, images in [−1, 1], and sampling with any ``Sampler``,
/// written once here.
public protocol DiffusionModel: TrainedModel {
    /// The kind of the model's runs (`ddpm`), for messages.
    var kind: String { get }
    /// The network every prediction comes from.
    var network: UNet { get }
    /// The network with its prediction type and noise process: what samplers and losses use.
    var denoiser: Denoiser { get }
    /// The process whose probability-flow ODE gives the model's likelihood (the default is
    /// ``denoiser``).
    var likelihoodDenoiser: Denoiser { get }
    /// The sampler of the preview grids during training.
    var previewSampler: any Sampler { get }
    /// The classes and label dropout of a class-conditional model; nil for an unconditional one.
    var conditioning: ClassConditioning? { get }
    /// The built-in sampler and steps the model draws with when not told, for each purpose.
    func defaultSampler(for purpose: DrawOptions.Purpose) -> (sampler: BuiltInSampler, steps: Int)
    /// The steps of a built-in sampler chosen without a step count (default: its
    /// ``BuiltInSampler/defaultSteps``).
    func defaultSteps(_ sampler: BuiltInSampler) -> Int
}

extension DiffusionModel {
    public var likelihoodDenoiser: Denoiser { denoiser }

    /// The module training updates: the network.
    public var model: Module { network }

    /// Diffusion models see their images in [−1, 1].
    public var pixelRange: PixelRange { .symmetric }

    /// `[channels, height, width]` of the images the network is built for.
    public var imageShape: [Int] {
        let c = network.configuration
        return [c.imageChannels, c.imageSize, c.imageSize]
    }

    /// Draws `count` images with `sampler`, starting from fresh noise: unconditionally, or for
    /// a class-conditional model images of `classes` (one per image) with classifier-free
    /// `guidance` w (0: the plain conditional model; see ``Denoiser/conditioned(on:guidance:)``).
    ///
    /// ```swift
    /// let flow = try FlowMatchingFamily.load(URL(fileURLWithPath: "runs/flow-cond"))
    /// let sevens = flow.sample(count: 8, sampler: ProbabilityFlowSampler(method: .heun, steps: 25), generator: RandomGenerator(seed: 0),
    ///                          classes: Array(repeating: 7, count: 8), guidance: 2)
    /// ```
    public func sample<S: Sampler>(count: Int, sampler: S, generator: RandomGenerator, classes: [Int]? = nil, guidance: Float = 0,
                                   onStep: (SamplingProgress) -> Void = { _ in }) -> Tensor {
        require(classes == nil || classes!.count == count, "sample: \(classes?.count ?? 0) classes for \(count) images")
        let noise = Tensor.randomNormal([count] + imageShape, using: generator)
        let denoiser = classes.map { self.denoiser.conditioned(on: $0, guidance: guidance) } ?? self.denoiser
        return sampler.sample(denoiser, noise: noise, generator: generator, onStep: onStep)
    }

    /// The classes of a class-conditional model; nil for an unconditional one.
    public var classCount: Int? { network.classCount }

    /// Preview grids during training: ``previewSampler``; a conditional model's images cycle
    /// through its classes (plain conditional, no guidance).
    public func samples(count: Int, generator: RandomGenerator) -> Tensor {
        sample(count: count, sampler: previewSampler, generator: generator,
               classes: classCount.map { ClassSelection.spread.labels(count: count, classes: $0) })
    }

    public func defaultSteps(_ sampler: BuiltInSampler) -> Int { sampler.defaultSteps }

    /// Fills in masked pixels with ``RePaint`` on ``denoiser``, in batches of at most
    /// ``ImageSource/batchLimit`` images.
    public func inpaint(_ images: Tensor, keep: Tensor, options: InpaintingOptions, generator: RandomGenerator,
                        onStep: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        let (steps, resamplings, jump) = (options.steps ?? 100, options.resamplings ?? 5, options.jump ?? 10)
        guard steps >= 1, resamplings >= 1, jump >= 1 else { throw GenError.usage("inpainting: --steps, --resample and --jump must be at least 1") }
        guard images.rank == 4, Array(images.shape.dropFirst()) == imageShape else {
            throw GenError.badData("inpainting: images are \(Array(images.shape.dropFirst())), the \(kind) run was trained on \(imageShape)")
        }
        guard keep.shape == [1, 1, imageShape[1], imageShape[2]] else {
            throw GenError.badData("inpainting: the mask is \(keep.shape.suffix(2).map(String.init).joined(separator: "×")), the images \(imageShape[1])×\(imageShape[2])")
        }
        let repaint = RePaint(steps: steps, resamplings: resamplings, jump: jump)
        guard images.shape[0] > ImageSource.batchLimit else {
            return repaint.inpaint(denoiser, known: images, keep: keep, generator: generator, onStep: onStep)
        }
        let (scalars, size) = (images.scalars, images.count / images.shape[0])
        var parts: [Tensor] = []
        for first in stride(from: 0, to: images.shape[0], by: ImageSource.batchLimit) {
            let rows = first..<min(images.shape[0], first + ImageSource.batchLimit)
            let batch = Tensor(Array(scalars[(rows.lowerBound * size)..<(rows.upperBound * size)]), shape: [rows.count] + imageShape)
            parts.append(repaint.inpaint(denoiser, known: batch, keep: keep, generator: generator, onStep: onStep))
        }
        return Tensor.concatenate(parts, axis: 0)
    }

    /// Draws with a built-in sampler: the one `options` names (a ``DiffusionSamplerChoice``),
    /// or the model's default for the purpose; refuses samplers that do not fit the process.
    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        if options.temperature != nil { throw GenError.usage("--temperature does not fit a \(kind) run: it draws from noise of a fixed scale") }
        var choice = DiffusionSamplerChoice()
        if let given = options.sampler {
            guard let diffusion = given as? DiffusionSamplerChoice else {
                throw GenError.usage("\(given.name) is not a sampler of a \(kind) run; use one of \(BuiltInSampler.fitting(denoiser.process).map(\.rawValue).joined(separator: ", "))")
            }
            choice = diffusion
        }
        let fallback = defaultSampler(for: options.purpose)
        let name = choice.sampler ?? fallback.sampler
        guard name.fits(denoiser.process) else {
            throw GenError.usage("--sampler \(name.rawValue) does not fit a \(kind) run; use one of \(BuiltInSampler.fitting(denoiser.process).map(\.rawValue).joined(separator: ", "))")
        }
        let steps = choice.steps ?? (choice.sampler == nil ? fallback.steps : defaultSteps(name))
        let sampler = name.make(steps: steps, settings: choice.settings, process: denoiser.process)
        let denoiser = self.denoiser, start = denoiser.evaluations
        guard let classes = classCount else {
            if options.guidance != nil { throw GenError.usage("--guidance needs a class-conditional run (gen train \(kind) --conditional); this one is unconditional") }
            return ImageSource(sampler: name.rawValue, steps: steps, isAdaptive: name == .dopri5, evaluations: { denoiser.evaluations - start }) { count, generator, onStep in
                self.sample(count: count, sampler: sampler, generator: generator) { onStep($0.step) }
            }
        }
        let guidance = options.guidance ?? 0
        guard guidance.isFinite, guidance >= 0 else { throw GenError.usage("--guidance must be a finite number ≥ 0, got \(guidance)") }
        if guidance > 0 && conditioning?.dropout == 0 {
            throw GenError.usage("--guidance needs the unconditional model of the null class, which a run trained with --class-dropout 0 never learned")
        }
        // images of no class asked for: the null class, unguided (the unconditional model)
        return ImageSource(sampler: name.rawValue, steps: steps, isAdaptive: name == .dopri5, classes: classes,
                           evaluations: { denoiser.evaluations - start }) { count, labels, generator, onStep in
            self.sample(count: count, sampler: sampler, generator: generator, classes: labels, guidance: guidance) { onStep($0.step) }
        }
    }

    /// Bits per dimension through the probability-flow ODE of ``likelihoodDenoiser``, with the
    /// ``LikelihoodEstimator`` `options` gives (default: Dormand–Prince at 1e-5, Rademacher
    /// probes), of 8-bit images uniformly dequantized into [−1, 1).
    public func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer {
        var estimator = LikelihoodEstimator()
        if let method = options.method {
            guard let given = method as? LikelihoodEstimator else { throw GenError.usage("\(method.options) do not fit a \(kind) run") }
            estimator = given
        }
        guard estimator.trace != .exact else { throw GenError.usage("--trace exact is for tiny data; use rademacher or gaussian") }
        let solver = estimator.solver
        var fields: ResultFields = [("dequantization", .text("uniform")), ("trace_estimator", .text(estimator.trace.rawValue)),
                                    ("solver", .text(solver.method.rawValue))]
        let how: String
        if solver.method == .dopri5 {
            how = "dopri5 rtol \(solver.relativeTolerance) atol \(solver.absoluteTolerance)"
            fields.append(contentsOf: [("rtol", .real(solver.relativeTolerance)), ("atol", .real(solver.absoluteTolerance))])
        } else {
            how = "\(solver.method.rawValue) \(estimator.steps) steps"
            fields.set("solver_steps", .integer(estimator.steps))
        }
        let denoiser = likelihoodDenoiser
        return LikelihoodScorer(metric: .bpd, summary: "bits/dim through the probability-flow ODE (\(how), \(estimator.trace.rawValue) Hutchinson probes, uniform dequantization)",
                                fields: fields) { pixels, generator in
            let (bits, evaluations) = estimator.bitsPerDimension(pixels: pixels, denoiser: denoiser, generator: generator)
            return (bits.scalars.map(Double.init), evaluations)
        }
    }
}
