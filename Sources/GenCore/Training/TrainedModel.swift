import Foundation

/// A trained model of any family, as ``ModelFamily/load(_:weights:)`` returns it: what
/// `gen sample` and `gen eval` ask of it. Every family's task conforms; what a family cannot
/// do (a GAN has no likelihood, a classifier draws no images) throws a usage error, and its
/// ``FamilyCapabilities`` and ``ModelFamily/metrics`` say so beforehand.
public protocol TrainedModel: AnyObject {
    /// `[channels, height, width]` of the images the model was trained on.
    var imageShape: [Int] { get }

    /// The classes a class-conditional model draws (its labels run from 0 to `classCount − 1`);
    /// nil (the default) for an unconditional model.
    var classCount: Int? { get }

    /// Prepares drawing images as `options` asks, refusing what does not fit the model (a
    /// sampler for a model that draws in one pass) before any work.
    func imageSource(_ options: DrawOptions) throws -> ImageSource

    /// Walks between random points of the latent space: `rows` walks of `columns` images,
    /// `[rows·columns, C, H, W]` in [−1, 1].
    func interpolationGrid(rows: Int, columns: Int, generator: RandomGenerator) throws -> Tensor

    /// `images` (`[N, C, H, W]` in [0, 1]) and their reconstructions in alternate rows of
    /// `columns`, in [−1, 1].
    func reconstructionGrid(of images: Tensor, columns: Int, generator: RandomGenerator) throws -> Tensor

    /// Prepares scoring 8-bit images by the model's likelihood (``ModelFamily/metrics`` has
    /// `bpd` or `nll`).
    func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer

    /// Fills in the pixels of `images` (`[N, C, H, W]` in [−1, 1]) where `keep` (`[1, 1, H, W]`,
    /// 1 known, 0 to generate) is 0; the known pixels come back exactly as given. `onStep`
    /// reports the steps done and the total, per batch of ``ImageSource/batchLimit`` images.
    func inpaint(_ images: Tensor, keep: Tensor, options: InpaintingOptions, generator: RandomGenerator,
                 onStep: (Int, Int) -> Void) throws -> Tensor
}

/// How to fill in masked pixels: RePaint's settings for the diffusion families (nil: theirs).
public struct InpaintingOptions: Sendable {
    /// Steps of the time grid (default 100).
    public var steps: Int?
    /// How often each stretch of ``jump`` steps is run (RePaint's R; default 5; 1: never again).
    public var resamplings: Int?
    /// The length of the stretches noised back up and run again (RePaint's J; default 10).
    public var jump: Int?

    public init(steps: Int? = nil, resamplings: Int? = nil, jump: Int? = nil) {
        self.steps = steps
        self.resamplings = resamplings
        self.jump = jump
    }
}

extension TrainedModel {
    public var classCount: Int? { nil }

    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        throw GenError.usage("this model draws no images")
    }

    public func interpolationGrid(rows: Int, columns: Int, generator: RandomGenerator) throws -> Tensor {
        throw GenError.usage("this model has no latent space to walk")
    }

    public func reconstructionGrid(of images: Tensor, columns: Int, generator: RandomGenerator) throws -> Tensor {
        throw GenError.usage("this model does not reconstruct images")
    }

    public func inpaint(_ images: Tensor, keep: Tensor, options: InpaintingOptions, generator: RandomGenerator,
                        onStep: (Int, Int) -> Void) throws -> Tensor {
        throw GenError.usage("this model does not fill in masked images")
    }

    public func likelihoodScorer(_ options: LikelihoodOptions) throws -> LikelihoodScorer {
        throw GenError.usage("this model has no likelihood")
    }

    /// Refuses what a model that draws in one pass cannot use: a sampler, and a temperature
    /// unless it has one.
    public func requireOnePass(_ options: DrawOptions, kind: String, temperature: Bool = false) throws {
        if let sampler = options.sampler {
            throw GenError.usage("--sampler \(sampler.name) does not fit a \(kind) run: it draws in one pass")
        }
        if options.temperature != nil && !temperature {
            throw GenError.usage("--temperature does not fit a \(kind) run: it has no latent temperature")
        }
        if options.guidance != nil {
            throw GenError.usage("--guidance is classifier-free guidance of a conditional diffusion run (ddpm, sde, flow); a \(kind) run has none")
        }
    }
}

/// How to draw images from a ``TrainedModel``.
public struct DrawOptions: Sendable {
    /// What the images are for: a family picks its default sampler by it.
    public enum Purpose: Sendable {
        /// Pictures to look at (`gen sample`): the family's best sampler.
        case display
        /// Sample metrics (`gen eval --metric fid`): about 50 network evaluations per image.
        case evaluation
    }

    public var purpose: Purpose
    /// A sampler for families that draw in steps (a diffusion family's `BuiltInSampler`);
    /// nil: the family's default for ``purpose``. A family that draws in one pass refuses one.
    public var sampler: (any SamplerChoice)?
    /// The latent's temperature, for families that have one (default 1); others refuse it.
    public var temperature: Float?
    /// Classifier-free guidance w of a conditional diffusion model (Ho & Salimans 2022):
    /// ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅), and the same for data, velocity and score. nil or 0:
    /// the plain conditional model. (diffusers' `guidance_scale` is w + 1.)
    public var guidance: Float?

    public init(purpose: Purpose = .display, sampler: (any SamplerChoice)? = nil, temperature: Float? = nil, guidance: Float? = nil) {
        self.guidance = guidance
        self.purpose = purpose
        self.sampler = sampler
        self.temperature = temperature
    }
}

/// A sampler chosen for a model that draws in steps, by a family that knows what to make of it.
public protocol SamplerChoice: Sendable {
    /// The name it goes by (`ddim`), for messages and results.
    var name: String { get }
}

/// Images drawn from a trained model as a ``DrawOptions`` asked, ready for any number of batches.
public final class ImageSource {
    /// How the images are drawn, for results: the sampler's name, or what the model's one
    /// pass is (`prior, decoder means`).
    public let sampler: String
    /// Sampling steps, for models that draw in steps.
    public let steps: Int?
    /// Whether each step chooses its own sub-steps (an adaptive ODE solver): the network
    /// evaluations, not the steps, then say what the drawing cost.
    public let isAdaptive: Bool
    /// The classes it draws from when given labels (``draw(classes:generator:onStep:)``); nil:
    /// an unconditional model.
    public let classCount: Int?
    private let evaluationCount: () -> Int
    private let body: (Int, [Int]?, RandomGenerator, (Int) -> Void) -> Tensor

    /// - Parameters:
    ///   - evaluations: network evaluations so far (the NFE of what was drawn).
    ///   - draw: `count` images `[count, C, H, W]` in [−1, 1] (samplers that do not clip may
    ///     step a little outside), calling its last argument after each finished step.
    public init(sampler: String, steps: Int? = nil, isAdaptive: Bool = false, evaluations: @escaping () -> Int = { 0 },
                draw: @escaping (_ count: Int, _ generator: RandomGenerator, _ onStep: (Int) -> Void) -> Tensor) {
        self.sampler = sampler
        self.steps = steps
        self.isAdaptive = isAdaptive
        classCount = nil
        evaluationCount = evaluations
        body = { count, _, generator, onStep in draw(count, generator, onStep) }
    }

    /// A source of a class-conditional model: `draw` gets each image's class, or nil for
    /// images of no class asked for (the model's unconditional draw).
    public init(sampler: String, steps: Int? = nil, isAdaptive: Bool = false, classes: Int, evaluations: @escaping () -> Int = { 0 },
                draw: @escaping (_ count: Int, _ labels: [Int]?, _ generator: RandomGenerator, _ onStep: (Int) -> Void) -> Tensor) {
        self.sampler = sampler
        self.steps = steps
        self.isAdaptive = isAdaptive
        classCount = classes
        evaluationCount = evaluations
        body = draw
    }

    /// Network evaluations since the source was made.
    public var networkEvaluations: Int { evaluationCount() }

    /// Images drawn in one pass of the network at most: larger requests go in batches of this
    /// many, so memory stays bounded whatever the count.
    public static let batchLimit = 256

    /// Steps reported while drawing `count` images (``steps`` per batch of ``batchLimit``).
    public func totalSteps(count: Int) -> Int? {
        steps.map { $0 * ((count + Self.batchLimit - 1) / Self.batchLimit) }
    }

    /// `count` images `[count, C, H, W]` in [−1, 1], without recording gradients, drawn in
    /// batches of at most ``batchLimit``; `onStep` counts the steps of all batches together.
    public func draw(count: Int, generator: RandomGenerator, onStep: (Int) -> Void = { _ in }) -> Tensor {
        require(count >= 1, "ImageSource.draw: count must be at least 1")
        return batched(count: count, labels: nil, generator: generator, onStep: onStep)
    }

    /// One image of each class of `classes` (`[classes.count, C, H, W]` in [−1, 1]), from a
    /// class-conditional model; throws a usage error for an unconditional one or a class it
    /// does not know.
    ///
    /// ```swift
    /// let source = try run.model.imageSource(DrawOptions(guidance: 2))
    /// let threes = try source.draw(classes: Array(repeating: 3, count: 16), generator: RandomGenerator(seed: 0))
    /// ```
    public func draw(classes: [Int], generator: RandomGenerator, onStep: (Int) -> Void = { _ in }) throws -> Tensor {
        try check(classes: classes)
        require(!classes.isEmpty, "ImageSource.draw: no classes")
        return batched(count: classes.count, labels: classes, generator: generator, onStep: onStep)
    }

    /// Throws a usage error unless the model is conditional and knows every class of `classes`.
    public func check(classes: [Int]) throws {
        guard let classCount else { throw GenError.usage("--class needs a class-conditional run (gen train <family> --conditional); this one is unconditional") }
        if let wrong = classes.first(where: { !(0..<classCount).contains($0) }) {
            throw GenError.usage("--class \(wrong): the run knows classes 0…\(classCount - 1)")
        }
    }

    private func batched(count: Int, labels: [Int]?, generator: RandomGenerator, onStep: (Int) -> Void) -> Tensor {
        withoutGradients {
            guard count > Self.batchLimit else { return body(count, labels, generator, onStep) }
            var parts: [Tensor] = [], done = 0, stepsDone = 0
            while done < count {
                let size = min(Self.batchLimit, count - done)
                parts.append(body(size, labels.map { Array($0[done..<(done + size)]) }, generator) { onStep(stepsDone + $0) })
                stepsDone += steps ?? 0
                done += size
            }
            return Tensor.concatenate(parts, axis: 0)
        }
    }
}
