import Foundation

/// A trained model of any family, as ``ModelFamily/load(_:weights:)`` returns it: what
/// `gen sample` and `gen eval` ask of it. Every family's task conforms; what a family cannot
/// do (a GAN has no likelihood, a classifier draws no images) throws a usage error, and its
/// ``FamilyCapabilities`` and ``ModelFamily/metrics`` say so beforehand.
public protocol TrainedModel: AnyObject {
    /// `[channels, height, width]` of the images the model was trained on.
    var imageShape: [Int] { get }

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

    public init(purpose: Purpose = .display, sampler: (any SamplerChoice)? = nil, temperature: Float? = nil) {
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
    private let evaluationCount: () -> Int
    private let body: (Int, RandomGenerator, (Int) -> Void) -> Tensor

    /// - Parameters:
    ///   - evaluations: network evaluations so far (the NFE of what was drawn).
    ///   - draw: `count` images `[count, C, H, W]` in [−1, 1] (samplers that do not clip may
    ///     step a little outside), calling its last argument after each finished step.
    public init(sampler: String, steps: Int? = nil, isAdaptive: Bool = false, evaluations: @escaping () -> Int = { 0 },
                draw: @escaping (_ count: Int, _ generator: RandomGenerator, _ onStep: (Int) -> Void) -> Tensor) {
        self.sampler = sampler
        self.steps = steps
        self.isAdaptive = isAdaptive
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
        return withoutGradients {
            guard count > Self.batchLimit else { return body(count, generator, onStep) }
            var parts: [Tensor] = [], done = 0, stepsDone = 0
            while done < count {
                let size = min(Self.batchLimit, count - done)
                parts.append(body(size, generator) { onStep(stepsDone + $0) })
                stepsDone += steps ?? 0
                done += size
            }
            return Tensor.concatenate(parts, axis: 0)
        }
    }
}
