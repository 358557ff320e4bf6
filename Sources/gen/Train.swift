import ArgumentParser
import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import VAE

/// `gen train <kind>`: train a model on an HDF5 dataset into a run folder.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a generative model.",
        subcommands: [TrainDDPM.self, TrainSDE.self, TrainFlow.self, TrainVAE.self, TrainRealNVP.self, TrainWGAN.self, TrainClassifier.self])
}

/// Options every model kind shares.
struct CommonTrainingOptions: ParsableArguments {
    @Option(help: "The HDF5 dataset to train on.")
    var data: String?

    @Option(help: "The image dataset's name in the file (default: the one image-like dataset).")
    var dataset: String?

    @Option(help: "Optimizer updates (default: as many as --epochs, or 2000).")
    var steps: Int?

    @Option(help: "Passes over the data (an alternative to --steps).")
    var epochs: Int?

    @Option(help: "Images per batch.")
    var batchSize: Int = 64

    @Option(help: "Fraction of the images held out from training (a seeded split); gen eval on the same file scores them.")
    var holdout: Double = 0

    @Option(help: "Peak learning rate (Adam; default 2e-4, and 1e-3 for vae and realnvp).")
    var lr: Float?

    @Option(help: "Linear warm-up steps (default 100; 0 for wgan).")
    var warmup: Int?

    @Option(help: "Largest gradient norm (0: no clipping; default 1, and 0 for wgan as in SNGAN).")
    var gradClip: Float?

    @Option(help: "EMA decay of the sampling weights (0: no EMA).")
    var emaDecay: Float = 0.999

    @Option(help: "Seed of initialization, data order and noise.")
    var seed: UInt64 = 0

    @Option(help: "Threads for GenCore and OpenBLAS (default: all cores).")
    var threads: Int?

    @Option(help: "The run folder (default: runs/<kind>-<date>-<time>).")
    var out: String?

    @Option(help: "Continue the run in this folder from its checkpoint, exactly where it stopped.")
    var resume: String?

    @Option(help: "Steps between sample grids in <run>/samples (0: only at the end).")
    var sampleEvery: Int = 500

    @Option(help: "Steps between checkpoints (0: only at the end and when stopped).")
    var checkpointEvery: Int = 500

    @Option(help: "Steps between metric records and progress lines.")
    var logEvery: Int = 50

    @Option(help: "Stop after this many minutes of training, saved as at the last step (resume goes on toward --steps).")
    var minutes: Double?

    @Flag(help: "Use an existing non-empty --out folder anyway.")
    var force = false

    func validate() throws {
        if resume == nil && data == nil { throw ValidationError("give --data FILE.h5 (or --resume RUN)") }
        for (name, value) in [("--steps", steps), ("--epochs", epochs), ("--threads", threads)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw ValidationError("--minutes must be positive") }
        guard holdout >= 0, holdout < 1 else { throw ValidationError("--holdout must be in [0, 1)") }
        guard (lr ?? 1) > 0, (lr ?? 1).isFinite else { throw ValidationError("--lr must be positive") }
        guard emaDecay >= 0, emaDecay < 1 else { throw ValidationError("--ema-decay must be in [0, 1)") }
        guard sampleEvery >= 0, checkpointEvery >= 0, logEvery >= 1, (warmup ?? 0) >= 0, (gradClip ?? 0) >= 0 else {
            throw ValidationError("--sample-every, --checkpoint-every, --warmup and --grad-clip must not be negative; --log-every at least 1")
        }
    }
}

/// The UNet options of the three diffusion families.
struct UNetOptions: ParsableArguments {
    @Option(help: "Base channels of the UNet.")
    var channels: Int = 32

    @Option(help: "Channel multipliers per resolution level, comma-separated.")
    var channelMultipliers: String = "1,2,2"

    @Option(help: "Residual blocks per level.")
    var resBlocks: Int = 1

    @Option(help: "Image sizes with self-attention after res blocks, comma-separated (the middle always has it).")
    var attentionResolutions: String = ""

    @Option(help: "Dropout in residual blocks.")
    var dropout: Float = 0

    @Option(help: "Image size (must match the data; default: from the data).")
    var imageSize: Int?

    /// The UNet for images of `data`'s shape, or the reason it cannot be built.
    func configuration(for data: DataSource, kind: String) throws -> UNetConfiguration {
        guard data.imageShape[1] == data.imageShape[2] else {
            throw Failure(message: "\(data.path): \(kind) needs square images, got \(data.imageShape[1])×\(data.imageShape[2])", code: Exit.badData)
        }
        if let imageSize, imageSize != data.imageShape[1] {
            throw Failure(message: "--image-size \(imageSize) does not match the data's \(data.imageShape[1])", code: Exit.usage)
        }
        let multipliers = try parseList(channelMultipliers, option: "--channel-multipliers")
        let attention = attentionResolutions.isEmpty ? [] : try parseList(attentionResolutions, option: "--attention-resolutions")
        guard channels >= 1, channels % 8 == 0 || channels < 8, resBlocks >= 1, !multipliers.isEmpty else {
            throw Failure(message: "--channels must be a multiple of 8 (group norm), --res-blocks and the multipliers at least 1", code: Exit.usage)
        }
        let levels = multipliers.count - 1
        guard data.imageShape[1] % (1 << levels) == 0 else {
            throw Failure(message: "\(data.path): images of \(data.imageShape[1]) pixels cannot be halved \(levels) times (--channel-multipliers has \(multipliers.count) levels)", code: Exit.usage)
        }
        return UNetConfiguration(imageChannels: data.imageShape[0], baseChannels: channels, channelMultipliers: multipliers,
                                 residualBlocksPerLevel: resBlocks, attentionResolutions: attention, dropout: dropout,
                                 groups: min(8, channels), imageSize: data.imageShape[1])
    }
}

struct TrainDDPM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddpm", abstract: "Train a denoising diffusion model (Ho et al. 2020) with a UNet.")

    @OptionGroup var common: CommonTrainingOptions
    @OptionGroup var unet: UNetOptions

    @Option(help: "Noise schedule: linear or cosine.")
    var schedule: NoiseSchedule.Kind = .linear

    @Option(help: "Diffusion steps T.")
    var diffusionSteps: Int = 1000

    @Option(help: "What the network predicts: noise, data or velocity.")
    var prediction: Prediction = .noise

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "ddpm") { data in
                guard diffusionSteps >= 1 else { throw Failure(message: "--diffusion-steps must be at least 1", code: Exit.usage) }
                return DDPMConfiguration(unet: try unet.configuration(for: data, kind: "DDPM"), schedule: schedule,
                                         diffusionSteps: diffusionSteps, prediction: prediction)
            } makeTask: { (model: DDPMConfiguration) in
                DDPM(model)
            }
        }
    }
}

struct TrainSDE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sde", abstract: "Train a score-based model through an SDE (Song et al. 2021): VP, sub-VP or VE.")

    @OptionGroup var common: CommonTrainingOptions
    @OptionGroup var unet: UNetOptions

    @Option(help: "The SDE: vp, subvp or ve.")
    var sde: SDEConfiguration.Kind = .vp

    @Option(help: "β at t = 0 (VP, sub-VP).")
    var betaMin: Double = 0.1

    @Option(help: "β at t = 1 (VP, sub-VP).")
    var betaMax: Double = 20

    @Option(help: "σ at t = 0 (VE).")
    var sigmaMin: Double = 0.01

    @Option(help: "σ at t = 1 (VE).")
    var sigmaMax: Double = 50

    @Option(help: "What the network predicts: noise, data or velocity.")
    var prediction: Prediction = .noise

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "sde") { data in
                guard betaMin > 0, betaMax >= betaMin, sigmaMin > 0, sigmaMax > sigmaMin else {
                    throw Failure(message: "need 0 < --beta-min ≤ --beta-max and 0 < --sigma-min < --sigma-max", code: Exit.usage)
                }
                let configuration = SDEConfiguration(sde, betaMin: betaMin, betaMax: betaMax, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
                return ScoreSDEConfiguration(unet: try unet.configuration(for: data, kind: "an SDE model"), sde: configuration,
                                             prediction: prediction)
            } makeTask: { (model: ScoreSDEConfiguration) in
                ScoreSDE(model)
            }
        }
    }
}

struct TrainFlow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow", abstract: "Train a flow-matching model (Lipman et al. 2023) on the linear path.")

    @OptionGroup var common: CommonTrainingOptions
    @OptionGroup var unet: UNetOptions

    @Option(help: "How data and noise are paired: independent, or ot (minibatch optimal transport).")
    var coupling: Coupling = .independent

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "flow") { data in
                FlowMatchingConfiguration(unet: try unet.configuration(for: data, kind: "flow matching"), coupling: coupling)
            } makeTask: { (model: FlowMatchingConfiguration) in
                FlowMatching(model)
            }
        }
    }
}

struct TrainWGAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wgan", abstract: "Train a Wasserstein GAN with a spectral-normalized critic (Miyato et al. 2018).",
        discussion: "Adam with SNGAN's betas (0, 0.9) for both players; --lr (default 2e-4) for both.")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "The adversarial loss: wasserstein or hinge.")
    var loss: GANLoss = .wasserstein

    @Option(help: "Critic updates per generator update.")
    var criticSteps: Int = 5

    @Option(help: "Dimension of the latent vector.")
    var latent: Int = 64

    @Option(help: "Generator width (channels before its last layer).")
    var generatorWidth: Int = 64

    @Option(help: "Critic width (channels of its first convolution).")
    var criticWidth: Int = 64

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "wgan", defaultGradientClip: 0, defaultWarmup: 0) { data in
                let configuration = GANConfiguration(imageShape: data.imageShape, latent: latent, generatorWidth: generatorWidth,
                                                     criticWidth: criticWidth, loss: loss, criticSteps: criticSteps)
                if let problem = configuration.problem {
                    throw Failure(message: "\(data.path): \(problem)", code: problem.contains("halved") ? Exit.badData : Exit.usage)
                }
                return configuration
            } makeTask: { (model: GANConfiguration) in
                WGAN(model)
            } makeOptimizers: { task, learningRate in
                (task as! WGAN).optimizers(learningRate: learningRate)
            }
        }
    }
}

struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae", abstract: "Train a variational autoencoder (Kingma & Welling 2014).",
        discussion: "The loss is the negative ELBO in nats per image; the Bernoulli likelihood binarizes each batch dynamically.")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "Encoder and decoder: mlp or conv.")
    var arch: VAEConfiguration.Architecture = .mlp

    @Option(help: "Latent dimensions.")
    var latent: Int = 20

    @Option(help: "Hidden width.")
    var hidden: Int = 400

    @Option(help: "p(x|z): bernoulli or gaussian.")
    var likelihood: VAEConfiguration.Likelihood = .bernoulli

    @Option(help: "Gaussian likelihood: a fixed σ (default: learned).")
    var fixedStd: Float?

    @Option(help: "Weight of the KL term (β-VAE).")
    var beta: Float = 1

    @Option(help: "Steps over which the KL weight rises linearly from 0 to β.")
    var klWarmup: Int = 0

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "vae", defaultGradientClip: 0, defaultWarmup: 0, defaultLearningRate: 1e-3, pixelRange: .unit) { data in
                let configuration = VAEConfiguration(imageShape: data.imageShape, architecture: arch, latent: latent, hidden: hidden,
                                                     likelihood: likelihood, fixedStd: fixedStd, beta: beta, klWarmup: klWarmup)
                if let problem = configuration.problem {
                    throw Failure(message: "\(data.path): \(problem)", code: problem.contains("multiple of 4") ? Exit.badData : Exit.usage)
                }
                return configuration
            } makeTask: { (model: VAEConfiguration) in
                VAE(model)
            }
        }
    }
}

struct TrainRealNVP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realnvp", abstract: "Train a RealNVP normalizing flow (Dinh et al. 2017) with the multi-scale architecture.",
        discussion: "The loss is the exact negative log-likelihood in bits per dimension of the 8-bit data (uniform dequantization, logit with α = 0.05).")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "Scales (each ends in a squeeze and a factor-out).")
    var scales: Int = 2

    @Option(help: "Couplings per stage.")
    var couplings: Int = 3

    @Option(help: "Checkerboard couplings at the last scale.")
    var finalCouplings: Int = 4

    @Option(help: "Channels of the s/t networks.")
    var hidden: Int = 32

    @Option(help: "Residual blocks per s/t network.")
    var resBlocks: Int = 2

    @Option(help: "A normalizing bijector after each coupling: none, actnorm or batchnorm.")
    var norm: RealNVPConfiguration.Normalization = .none

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "realnvp", defaultGradientClip: 100, defaultWarmup: 100, defaultLearningRate: 1e-3, pixelRange: .unit) { data in
                let configuration = RealNVPConfiguration(imageShape: data.imageShape, scales: scales, couplings: couplings,
                                                         finalCouplings: finalCouplings, hidden: hidden, residualBlocks: resBlocks, normalization: norm)
                if let problem = configuration.problem {
                    throw Failure(message: "\(data.path): \(problem)", code: problem.contains("squeezed") ? Exit.badData : Exit.usage)
                }
                return configuration
            } makeTask: { (model: RealNVPConfiguration) in
                RealNVP(model)
            }
        }
    }
}

extension VAEConfiguration.Architecture: ExpressibleByArgument {}
extension VAEConfiguration.Likelihood: ExpressibleByArgument {}
extension RealNVPConfiguration.Normalization: ExpressibleByArgument {}
extension GANLoss: ExpressibleByArgument {}
extension SDEConfiguration.Kind: ExpressibleByArgument {}
extension Coupling: ExpressibleByArgument {}
extension NoiseSchedule.Kind: ExpressibleByArgument {}
extension Prediction: ExpressibleByArgument {}

func parseList(_ text: String, option: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
        throw Failure(message: "\(option) must be a comma-separated list of positive integers, got '\(text)'", code: Exit.usage)
    }
    return values.map { $0! }
}

/// The steps shared by every `gen train <kind>`: the run folder, the data, the trainer, and the
/// exit code of the outcome.
enum TrainingRun {
    static func execute<Model: Codable & Sendable>(
        common: CommonTrainingOptions, kind: String, defaultGradientClip: Float = 1, defaultWarmup: Int = 100,
        defaultLearningRate: Float = 2e-4, pixelRange: PixelRange = .symmetric, needsLabels: Bool = false,
        makeModel: (DataSource) throws -> Model, makeTask: (Model) -> TrainingTask,
        makeOptimizers: ((TrainingTask, Float) -> [Optimizer])? = nil,
        afterTraining: ((TrainingTask, _ data: HDF5Dataset, _ heldOut: [Int]) throws -> Void)? = nil
    ) throws {
        if let threads = common.threads { Threads.set(threads) }
        let fileManager = FileManager.default
        let folder: URL
        var configuration: RunConfiguration<Model>
        // 1. the run folder and its configuration: new, or the resumed run's own
        if let resume = common.resume {
            folder = URL(fileURLWithPath: resume)
            let configURL = folder.appendingPathComponent("config.json")
            guard fileManager.fileExists(atPath: folder.appendingPathComponent("checkpoint.safetensors").path) else {
                throw Failure(message: "\(resume): no run to resume (no checkpoint.safetensors)", code: Exit.missingInput)
            }
            let text = try String(contentsOf: configURL, encoding: .utf8)
            let header = try RunKind.decode(text)
            guard header.kind == kind else {
                throw Failure(message: "\(resume): is a \(header.kind) run, not \(kind)", code: Exit.badData)
            }
            configuration = try RunConfiguration<Model>.decode(text)
            if let steps = common.steps { configuration.training.steps = steps }
        } else {
            folder = URL(fileURLWithPath: common.out ?? defaultRunFolder(kind: kind))
            if let contents = try? fileManager.contentsOfDirectory(atPath: folder.path), !contents.isEmpty, !common.force {
                throw Failure(message: "\(folder.path): already holds a run; choose another --out, --resume it, or pass --force", code: Exit.usage)
            }
            try HDF5Guard.check(common.data!, dataset: common.dataset)
            let data = try HDF5Dataset(url: URL(fileURLWithPath: common.data!), options: .init(dataset: common.dataset, readLabels: false))
            if let note = data.choiceNote { printNote(note) }
            let source = DataSource(path: data.path, dataset: data.imagesName, imageShape: data.imageShape, pixelRange: pixelRange,
                                    holdout: common.holdout > 0 ? common.holdout : nil)
            let model = try makeModel(source)
            let trainingCount = data.count - Int((Double(data.count) * common.holdout).rounded())
            let batchesPerEpoch = max(1, trainingCount / common.batchSize)
            let steps = common.steps ?? common.epochs.map { $0 * batchesPerEpoch } ?? 2000
            guard trainingCount >= common.batchSize else {
                throw Failure(message: "\(data.path): \(trainingCount) training images cannot fill a batch of \(common.batchSize)", code: Exit.badData)
            }
            let training = TrainerConfiguration(
                steps: steps, batchSize: common.batchSize, learningRate: common.lr ?? defaultLearningRate, warmupSteps: common.warmup ?? defaultWarmup,
                gradientClip: (common.gradClip ?? defaultGradientClip) > 0 ? (common.gradClip ?? defaultGradientClip) : nil, emaDecay: common.emaDecay > 0 ? common.emaDecay : nil,
                sampleEvery: common.sampleEvery, checkpointEvery: common.checkpointEvery, logEvery: common.logEvery, seed: common.seed)
            configuration = RunConfiguration(kind: kind, model: model, training: training, data: source)
            do {
                try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw Failure(message: "\(folder.path): cannot create the run folder: \((error as NSError).localizedDescription)", code: Exit.cannotWrite)
            }
        }
        // 2. data, model, optimizer, trainer
        let source = configuration.data
        if common.resume != nil { try HDF5Guard.check(source.path, dataset: source.dataset) }
        let data = try HDF5Dataset(url: URL(fileURLWithPath: source.path), options: .init(dataset: source.dataset, readLabels: needsLabels))
        if needsLabels && data.labelsName == nil {
            throw TrainingRun.noLabels(source.path, kind: kind)
        }
        guard data.imageShape == source.imageShape else {
            throw Failure(message: "\(source.path): images are \(data.imageShape), the run was made for \(source.imageShape)", code: Exit.badData)
        }
        Random.seed(configuration.training.seed)
        let task = makeTask(configuration.model)
        let rows = (source.holdout ?? 0) > 0
            ? BatchLoader.split(count: data.count, testFraction: source.holdout!, seed: configuration.training.seed).train : nil
        let loader = BatchLoader(dataset: data, rows: rows, batchSize: configuration.training.batchSize, seed: configuration.training.seed,
                                 pixelRange: source.pixelRange)
        let learningRate = configuration.training.learningRate
        let optimizers = makeOptimizers?(task, learningRate) ?? [Adam(learningRate: learningRate)]
        let trainer = Trainer(task: task, loader: loader, optimizers: optimizers,
                              configuration: configuration.training, folder: folder, configJSON: try configuration.json())
        if common.resume != nil {
            try trainer.resume()
            printNote("resuming \(folder.path) at step \(trainer.step) of \(configuration.training.steps)")
        } else {
            // A fresh run in a reused (--force) folder starts a fresh log.
            try? fileManager.removeItem(at: trainer.metricsURL)
            try AtomicFile.write(Data(try configuration.json().utf8), to: folder.appendingPathComponent("config.json"))
            printNote("training \(kind) (\(task.model.parameterCount) parameters) on \(loader.rows.count) images of \(source.imageShape.map(String.init).joined(separator: "×")) for \(configuration.training.steps) steps; run folder \(folder.path)")
        }
        // 3. train
        let start = Date()
        let outcome = try trainer.run(until: common.minutes.map { start.addingTimeInterval($0 * 60) })
        let seconds = Date().timeIntervalSince(start)
        let outputs = task.drawsSamples ? "; samples in \(folder.appendingPathComponent("samples").path)" : ""
        switch outcome {
        case .finished:
            print("finished \(trainer.step) steps in \(ProgressReporter.clock(seconds)); checkpoint \(trainer.checkpointURL.path)\(outputs)")
        case .reachedTimeLimit:
            print("stopped at the --minutes limit after \(trainer.step) of \(configuration.training.steps) steps in \(ProgressReporter.clock(seconds)); checkpoint \(trainer.checkpointURL.path)\(outputs)")
        case .interrupted:
            throw Failure(message: "interrupted at step \(trainer.step); resume with: gen train \(kind) --resume \(folder.path)", code: Exit.interrupted)
        case .diverged:
            throw Failure(message: "training diverged at step \(trainer.step) (non-finite loss); last checkpoint kept", code: Exit.diverged)
        }
        try afterTraining?(task, data, rows == nil ? [] : BatchLoader.split(count: data.count, testFraction: source.holdout!, seed: configuration.training.seed).test)
    }

    static func noLabels(_ path: String, kind: String) -> Failure {
        Failure(message: "\(path): no labels beside the images (a rank-1 integer dataset named labels, label, y or targets); a \(kind) needs them", code: Exit.badData)
    }

    static func defaultRunFolder(kind: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "runs/\(kind)-\(formatter.string(from: Date()))"
    }
}

struct TrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier", abstract: "Train the feature classifier whose penultimate layer serves gen eval's fid, kid and pr.",
        discussion: "Needs labels beside the images. With --holdout, prints the accuracy on the held-out images at the end; gen eval --metric accuracy scores any labelled test file.")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "Channels of the first convolution (the second has twice as many).")
    var channels: Int = 32

    @Option(help: "Width of the feature layer.")
    var features: Int = 128

    func run() throws {
        try reportingFailures {
            try TrainingRun.execute(common: common, kind: "classifier", defaultGradientClip: 0, defaultWarmup: 0, defaultLearningRate: 1e-3,
                                    needsLabels: true) { data in
                let labelled = try HDF5Dataset(url: URL(fileURLWithPath: data.path), options: .init(dataset: data.dataset))
                guard labelled.labelsName != nil, let labels = try labelled.labels(at: Array(0..<labelled.count)) else {
                    throw TrainingRun.noLabels(data.path, kind: "classifier")
                }
                guard let smallest = labels.min(), smallest >= 0 else {
                    throw Failure(message: "\(data.path): labels must be class numbers 0, 1, …; found \(labels.min() ?? 0)", code: Exit.badData)
                }
                let configuration = FeatureClassifierConfiguration(imageShape: data.imageShape, classes: labels.max()! + 1,
                                                                   channels: channels, features: features)
                if let problem = configuration.problem {
                    throw Failure(message: "\(data.path): \(problem)", code: problem.hasPrefix("--") ? Exit.usage : Exit.badData)
                }
                return configuration
            } makeTask: { (model: FeatureClassifierConfiguration) in
                FeatureClassifier(model)
            } afterTraining: { task, data, heldOut in
                guard !heldOut.isEmpty else { return }
                let accuracy = try ClassifierRun.accuracy(task as! FeatureClassifier, data: data, rows: heldOut)
                print(String(format: "held-out accuracy %.2f%% on %d images of %@", 100 * accuracy, heldOut.count, data.path))
            }
        }
    }
}
