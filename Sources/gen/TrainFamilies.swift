import ArgumentParser
import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import VAE

/// The UNet options of the three diffusion families.
struct UNetOptions: ParsableArguments {
    @Option(help: "Base channels of the UNet (16: in short runs more steps of a small UNet beat fewer of a wider one).")
    var channels: Int = 16

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

    /// The UNet for the images of `data`.
    func configuration(for data: HDF5Dataset) throws -> UNetConfiguration {
        if let imageSize, imageSize != data.imageShape[1] {
            throw GenError.usage("--image-size \(imageSize) does not match the data's \(data.imageShape[1])")
        }
        return try UNetConfiguration(
            imageShape: data.imageShape, baseChannels: channels, channelMultipliers: try parseList(channelMultipliers, option: "--channel-multipliers"),
            residualBlocksPerLevel: resBlocks,
            attentionResolutions: attentionResolutions.isEmpty ? [] : try parseList(attentionResolutions, option: "--attention-resolutions"),
            dropout: dropout)
    }
}

/// EDM's training recipe, for ddpm and sde.
struct EDMOptions: ParsableArguments {
    @Flag(help: ArgumentHelp("EDM's training recipe (Karras et al. 2022): noise levels with ln σ ~ N(−1.2, 1.2²) and the loss weight (σ² + σ_data²)/(σ·σ_data)².",
                             discussion: "With --prediction velocity and --edm-sigma-data 1 on a variance-preserving process this is EDM's preconditioned network and loss."))
    var edm = false

    @Option(help: "σ_data of --edm, the data's standard deviation (the paper's 0.5).")
    var edmSigmaData: Double?

    /// The recipe asked for; nil without --edm.
    func training() throws -> EDMTraining? {
        guard edm else {
            if edmSigmaData != nil { throw GenError.usage("--edm-sigma-data goes with --edm") }
            return nil
        }
        return EDMTraining(sigmaData: edmSigmaData ?? 0.5)
    }
}

struct TrainDDPM: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: DDPMFamily.kind, abstract: "Train \(DDPMFamily.summary).")

    @OptionGroup var common: CommonTrainingOptions
    @OptionGroup var unet: UNetOptions

    @Option(help: "Noise schedule: linear or cosine.")
    var schedule: NoiseSchedule.Kind = .linear

    @Option(help: "Diffusion steps T.")
    var diffusionSteps: Int = 1000

    @Option(help: "What the network predicts: noise, data or velocity.")
    var prediction: Prediction = .noise

    @Option(help: "Min-SNR-γ loss weighting (Hang et al. 2023; the paper's γ is 5); default: none.")
    var minSnr: Float?

    @OptionGroup var edm: EDMOptions

    func run() throws {
        try TrainingCommand.run(DDPMFamily.self, common) { data in
            DDPMConfiguration(unet: try unet.configuration(for: data), schedule: schedule, diffusionSteps: diffusionSteps, prediction: prediction,
                              minSNRGamma: minSnr, edm: try edm.training())
        }
    }
}

struct TrainSDE: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: ScoreSDEFamily.kind, abstract: "Train \(ScoreSDEFamily.summary).")

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

    @Option(help: "Min-SNR-γ weighting of the noise error (Hang et al. 2023; the paper's γ is 5); default: the paper's λ = σ².")
    var minSnr: Float?

    @OptionGroup var edm: EDMOptions

    func run() throws {
        try TrainingCommand.run(ScoreSDEFamily.self, common) { data in
            ScoreSDEConfiguration(unet: try unet.configuration(for: data),
                                  sde: SDEConfiguration(sde, betaMin: betaMin, betaMax: betaMax, sigmaMin: sigmaMin, sigmaMax: sigmaMax),
                                  prediction: prediction, minSNRGamma: minSnr, edm: try edm.training())
        }
    }
}

struct TrainFlow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: FlowMatchingFamily.kind, abstract: "Train \(FlowMatchingFamily.summary).")

    @OptionGroup var common: CommonTrainingOptions
    @OptionGroup var unet: UNetOptions

    @Option(help: "How data and noise are paired: independent, or ot (minibatch optimal transport).")
    var coupling: Coupling = .independent

    @Option(help: "How training draws t: uniform, or logit-normal (Esser et al. 2024).")
    var timeSampling: TimeSampling = .uniform

    func run() throws {
        try TrainingCommand.run(FlowMatchingFamily.self, common) { data in
            FlowMatchingConfiguration(unet: try unet.configuration(for: data), coupling: coupling, timeSampling: timeSampling)
        }
    }
}

struct TrainWGAN: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: WGANFamily.kind, abstract: "Train \(WGANFamily.summary).",
                                                    discussion: "--lr (default 2e-4) for both players.")

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

    @Option(help: "The critic's learning rate over the generator's (two time-scale updates, Heusel et al. 2017); default 1.")
    var criticLrScale: Float?

    func run() throws {
        try TrainingCommand.run(WGANFamily.self, common) { data in
            GANConfiguration(imageShape: data.imageShape, latent: latent, generatorWidth: generatorWidth, criticWidth: criticWidth,
                             loss: loss, criticSteps: criticSteps, criticLearningRateScale: criticLrScale)
        }
    }
}

struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: VAEFamily.kind, abstract: "Train \(VAEFamily.summary).",
        discussion: "The loss is the negative ELBO in nats per image; the Bernoulli likelihood binarizes each batch dynamically.")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "Encoder and decoder: mlp or conv.")
    var arch: VAEConfiguration.Architecture = .mlp

    @Option(help: "Latent dimensions.")
    var latent: Int = 20

    @Option(help: "Hidden width.")
    var hidden: Int = 400

    @Option(help: "p(x|z): bernoulli or gaussian (default: bernoulli for gray images, gaussian for colour).")
    var likelihood: VAEConfiguration.Likelihood?

    @Option(help: "Gaussian likelihood: a fixed σ (default: learned).")
    var fixedStd: Float?

    @Option(help: "Weight of the KL term (β-VAE).")
    var beta: Float = 1

    @Option(help: "Steps over which the KL weight rises linearly from 0 to β.")
    var klWarmup: Int = 0

    func run() throws {
        try TrainingCommand.run(VAEFamily.self, common) { data in
            VAEConfiguration(imageShape: data.imageShape, architecture: arch, latent: latent, hidden: hidden, likelihood: likelihood,
                             fixedStd: fixedStd, beta: beta, klWarmup: klWarmup)
        }
    }
}

struct TrainRealNVP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: RealNVPFamily.kind, abstract: "Train \(RealNVPFamily.summary).",
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
        try TrainingCommand.run(RealNVPFamily.self, common) { data in
            RealNVPConfiguration(imageShape: data.imageShape, scales: scales, couplings: couplings, finalCouplings: finalCouplings,
                                 hidden: hidden, residualBlocks: resBlocks, normalization: norm)
        }
    }
}

struct TrainClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: FeatureClassifierFamily.kind, abstract: "Train \(FeatureClassifierFamily.summary).",
        discussion: "Needs labels beside the images. With --holdout, prints the accuracy on the held-out images at the end; gen eval --metric accuracy scores any labelled test file.")

    @OptionGroup var common: CommonTrainingOptions

    @Option(help: "Channels of the first convolution (the second has twice as many).")
    var channels: Int = 32

    @Option(help: "Width of the feature layer.")
    var features: Int = 128

    func run() throws {
        try reportingFailures {
            let run = try TrainingCommand.run(FeatureClassifierFamily.self, common) { data in
                guard let labels = try data.labels(at: Array(0..<data.count)), let smallest = labels.min(), let largest = labels.max() else {
                    throw GenError.badData("\(data.path): no labels beside the images")
                }
                guard smallest >= 0 else { throw GenError.badData("\(data.path): labels must be class numbers 0, 1, …; found \(smallest)") }
                return FeatureClassifierConfiguration(imageShape: data.imageShape, classes: largest + 1, channels: channels, features: features)
            }
            guard !run.heldOutRows.isEmpty, Distributed.world.isWriter else { return }
            let accuracy = try run.task.accuracy(on: run.dataset, rows: run.heldOutRows)
            print(String(format: "held-out accuracy %.2f%% on %d images of %@", 100 * accuracy, run.heldOutRows.count, run.dataset.path))
        }
    }
}

extension VAEConfiguration.Architecture: ExpressibleByArgument {}
extension VAEConfiguration.Likelihood: ExpressibleByArgument {}
extension RealNVPConfiguration.Normalization: ExpressibleByArgument {}
extension GANLoss: ExpressibleByArgument {}
extension SDEConfiguration.Kind: ExpressibleByArgument {}
extension Coupling: ExpressibleByArgument {}
extension TimeSampling: ExpressibleByArgument {}
extension NoiseSchedule.Kind: ExpressibleByArgument {}
extension Prediction: ExpressibleByArgument {}
