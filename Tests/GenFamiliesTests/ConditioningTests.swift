import Diffusion
import Flows
import Foundation
import GAN
import GenCore
import GenFamilies
import Testing
import VAE

/// Four classes of 8×8 images whose class anyone can read off: class k is a bright 4×4
/// quadrant k (0 top left, 1 top right, 2 bottom left, 3 bottom right) of random brightness on
/// a dark, slightly noisy background. 400 images, 100 per class, labels beside them.
func writeQuadrants(to url: URL, count: Int = 400, seed: UInt64 = 7) throws {
    let random = RandomGenerator(seed: seed)
    let writer = try HDF5ImageWriter(url: url, channels: 1, height: 8, width: 8, withLabels: true)
    var pixels: [UInt8] = [], labels: [Int] = []
    for i in 0..<count {
        let k = i % 4
        let brightness = 170 + Int(random.nextUniform() * 85)
        for y in 0..<8 {
            for x in 0..<8 {
                let inside = (y / 4) == k / 2 && (x / 4) == k % 2
                pixels.append(UInt8(inside ? brightness : Int(random.nextUniform() * 40)))
            }
        }
        labels.append(k)
    }
    try writer.append(pixels: pixels, labels: labels)
    try writer.finish()
}

/// The class of each quadrant image (`[N, 1, 8, 8]`, any range): its brightest quadrant. A
/// rule from how the data was made, not from any model.
func quadrantClasses(_ images: Tensor) -> [Int] {
    let values = images.scalars
    return (0..<images.shape[0]).map { n in
        var sums = [Float](repeating: 0, count: 4)
        for y in 0..<8 { for x in 0..<8 { sums[(y / 4) * 2 + x / 4] += values[n * 64 + y * 8 + x] } }
        return sums.indices.max { sums[$0] < sums[$1] }!
    }
}

/// The fraction of `images` whose quadrant is their class in `labels`.
func quadrantAccuracy(_ images: Tensor, labels: [Int]) -> Double {
    Double(zip(quadrantClasses(images), labels).filter { $0 == $1 }.count) / Double(labels.count)
}

/// A conditional run of `kind` on the quadrant data, trained for `steps` through the run API.
func trainConditional(_ kind: String, data: String, in folder: URL, steps: Int, learningRate: Float? = nil) throws -> any ActiveRun {
    // an EMA of 0.999 would still hold much of the initial weights after a few hundred steps
    let settings = RunSettings(steps: steps, batchSize: 32, learningRate: learningRate, warmupSteps: 0, emaDecay: 0.99, sampleEvery: 0,
                               checkpointEvery: 0, logEvery: 50, seed: 1, conditioning: ConditioningSettings())
    func go<F: ModelFamily>(_ family: F.Type, _ make: @escaping (HDF5Dataset) throws -> F.Configuration) throws -> any ActiveRun {
        let run = try TrainingRun<F>.create(in: folder, data: data, settings: settings, log: { _ in }, model: make)
        run.trainer.showsProgress = false
        run.trainer.log = { _ in }
        #expect(try run.train() == .finished)
        return run
    }
    let unet = { (data: HDF5Dataset) in try UNetConfiguration(imageShape: data.imageShape, baseChannels: 16, channelMultipliers: [1, 2]) }
    switch kind {
    case "ddpm": return try go(DDPMFamily.self) { DDPMConfiguration(unet: try unet($0), schedule: .cosine, diffusionSteps: 100) }
    case "sde": return try go(ScoreSDEFamily.self) { ScoreSDEConfiguration(unet: try unet($0)) }
    case "flow": return try go(FlowMatchingFamily.self) { FlowMatchingConfiguration(unet: try unet($0)) }
    case "vae": return try go(VAEFamily.self) { VAEConfiguration(imageShape: $0.imageShape, latent: 4, hidden: 64) }
    case "realnvp": return try go(RealNVPFamily.self) { RealNVPConfiguration(imageShape: $0.imageShape, scales: 1, couplings: 1, finalCouplings: 1, hidden: 16) }
    default: return try go(WGANFamily.self) { GANConfiguration(imageShape: $0.imageShape, latent: 8, generatorWidth: 16, criticWidth: 16, criticSteps: 2) }
    }
}

@Suite("Class-conditional models and classifier-free guidance", .serialized)
struct ConditioningTests {
    /// Steps each family gets on the quadrants (and its learning rate where the default is slow
    /// for so small a problem).
    static let budgets: [(kind: String, steps: Int, learningRate: Float?)] = [
        ("flow", 300, 2e-3), ("ddpm", 300, 2e-3), ("sde", 300, 2e-3), ("vae", 1000, nil), ("realnvp", 300, nil), ("wgan", 300, nil),
    ]

    /// Every family, trained conditionally, draws images of the class asked for: at least 80%
    /// of 16 images per class land in their quadrant (an unconditional model, or one that
    /// ignores its label, scores about 25%). The diffusion families' unconditional path (the
    /// null class) on the same model does not follow the classes.
    @Test(arguments: budgets.map(\.kind))
    func eachFamilyLearnsItsClasses(kind: String) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let data = scratch.folder("quadrants.h5")
        try writeQuadrants(to: data)
        let budget = Self.budgets.first { $0.kind == kind }!
        let run = try trainConditional(kind, data: data.path, in: scratch.folder(kind), steps: budget.steps, learningRate: budget.learningRate)
        let loaded = try FamilyRegistry.builtIn.load(run.folder)
        #expect(loaded.model.classCount == 4)
        let source = try loaded.model.imageSource(DrawOptions(purpose: .evaluation))
        let labels = ClassSelection.spread.labels(count: 64, classes: 4)
        let images = try source.draw(classes: labels, generator: RandomGenerator(seed: 3))
        let accuracy = quadrantAccuracy(images, labels: labels)
        #expect(accuracy >= 0.8, "\(kind): \(accuracy) of the samples are of the class asked for")
        if ["ddpm", "sde", "flow"].contains(kind) {
            let unconditional = source.draw(count: 64, generator: RandomGenerator(seed: 3))
            #expect(quadrantAccuracy(unconditional, labels: labels) < 0.6, "\(kind): the null class must not follow the labels")
        }
    }

    /// A conditional RealNVP is a classifier by Bayes' rule: `gen eval --metric accuracy`.
    @Test func conditionalRealNVPClassifiesByBayesRule() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let data = scratch.folder("quadrants.h5")
        try writeQuadrants(to: data)
        let run = try trainConditional("realnvp", data: data.path, in: scratch.folder("realnvp"), steps: 100)
        let fields = try Evaluation.evaluate(try FamilyRegistry.builtIn.open(run.folder), EvaluationRequest(data: data.path, metrics: [.accuracy]),
                                             registry: .builtIn, log: { _ in })
        #expect((fields["accuracy"]?.number ?? 0) >= 0.95, "\(fields.json)")

        // an unconditional flow classifies nothing
        let plain = try trainTiny("realnvp", in: scratch.folder("plain"))
        #expect(throws: GenError.self) {
            try Evaluation.evaluate(try FamilyRegistry.builtIn.open(plain.folder), EvaluationRequest(data: fixtureData, metrics: [.accuracy]),
                                    registry: .builtIn, log: { _ in })
        }
    }

    /// `gen eval --metric class-accuracy`: a classifier run tells the samples' classes; the
    /// result has the overall and per-class accuracy beside FID.
    @Test func classAccuracyOfSamples() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let data = scratch.folder("quadrants.h5")
        try writeQuadrants(to: data)
        let classifier = try TrainingRun<FeatureClassifierFamily>.create(
            in: scratch.folder("classifier"), data: data.path, settings: RunSettings(steps: 300, batchSize: 32, sampleEvery: 0, checkpointEvery: 0),
            log: { _ in }) { FeatureClassifierConfiguration(imageShape: $0.imageShape, classes: 4, channels: 8, features: 16) }
        classifier.trainer.showsProgress = false
        classifier.trainer.log = { _ in }
        _ = try classifier.train()
        // the judge first: it must tell the real images' classes
        #expect(try classifier.task.accuracy(on: classifier.dataset, rows: Array(0..<400)) >= 0.95)
        let vae = try trainConditional("vae", data: data.path, in: scratch.folder("vae"), steps: 1000)
        var request = EvaluationRequest(data: data.path, metrics: [.classAccuracy], count: 80)
        request.features = classifier.folder
        request.recordsResult = false
        let fields = try Evaluation.evaluate(try FamilyRegistry.builtIn.open(vae.folder), request, registry: .builtIn, log: { _ in })
        #expect((fields["class_accuracy"]?.number ?? 0) >= 0.8, "\(fields.json)")
        #expect(fields["class_accuracy_3"]?.number != nil && fields["fid"]?.number != nil, "\(fields.json)")

        // an unconditional run has no classes to ask for
        let plain = try trainTiny("vae", in: scratch.folder("plain"))
        #expect(throws: GenError.self) {
            try Evaluation.evaluate(try FamilyRegistry.builtIn.open(plain.folder), request, registry: .builtIn, log: { _ in })
        }
    }

    /// A conditional run resumes exactly (the label dropout draws from the run's noise stream).
    @Test func conditionalRunResumesExactly() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let data = scratch.folder("quadrants.h5")
        try writeQuadrants(to: data, count: 64)
        let whole = try trainConditional("flow", data: data.path, in: scratch.folder("whole"), steps: 6)
        // the first half's run (and its lock on the folder) ends here
        _ = try trainConditional("flow", data: data.path, in: scratch.folder("split"), steps: 3).folder
        let resumed = try FamilyRegistry.builtIn.resume(scratch.folder("split"), steps: 6)
        resumed.trainer.showsProgress = false
        resumed.trainer.log = { _ in }
        #expect(try resumed.train(until: nil) == .finished)
        let a = whole.trainer.task.model.stateDict(), b = resumed.trainer.task.model.stateDict()
        #expect(a.keys.contains("class_embedding.weight"))
        for (name, tensor) in a { #expect(tensor.scalars == b[name]?.scalars, "\(name) differs after resuming") }
    }

    /// An unconditional run's configuration says nothing of classes: runs made before
    /// conditioning existed and runs made now without it are the same files.
    @Test func unconditionalConfigurationsAreUnchanged() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        for kind in RegistryTests.generative {
            let run = try trainTiny(kind, in: scratch.folder(kind))
            let json = try String(contentsOf: run.folder.appendingPathComponent("config.json"), encoding: .utf8)
            #expect(!json.contains("classes") && !json.contains("classDropout") && !json.contains("\"labels\""), "\(kind): \(json)")
            #expect(try FamilyRegistry.builtIn.load(run.folder).model.classCount == nil)
        }
    }

    /// Label errors are data errors naming the file and the problem, before any training.
    @Test func badLabelsAreRefused() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let fixtures = URL(fileURLWithPath: fixtureData).deletingLastPathComponent()
        let cases: [(file: String, classes: Int?, says: String)] = [
            ("labels_negative.h5", nil, "row 7 holds -1"),
            ("labels_float.h5", nil, "not integers"),
            ("labels_short.h5", nil, "39 entries but there are 40 images"),
            ("labels_twelve_classes.h5", 10, "row 10 holds class 10, but --classes 10"),
            ("nchw_float32.h5", nil, "no labels beside the images"),
        ]
        for (index, item) in cases.enumerated() {
            let settings = RunSettings(steps: 1, batchSize: 4, conditioning: ConditioningSettings(classes: item.classes))
            do {
                _ = try TrainingRun<VAEFamily>.create(in: scratch.folder("run-\(index)"), data: fixtures.appendingPathComponent(item.file).path,
                                                      settings: settings, log: { _ in }) { VAEConfiguration(imageShape: $0.imageShape) }
                Issue.record("\(item.file) was accepted")
            } catch let error as CategorizedError {
                #expect(error.category == .badData, "\(item.file): \(error)")
                #expect(error.description.contains(item.file) && error.description.contains(item.says), "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: scratch.folder("run-\(index)").appendingPathComponent("config.json").path))
        }
    }
}

@Suite("Classifier-free guidance in the Denoiser")
struct GuidanceTests {
    let labels = [0, 2, 1, 2]

    /// A conditional UNet with a data prediction (so noise, velocity and score are all
    /// derived), on the cosine schedule, and a batch at t = 0.4.
    func setUp() -> (UNet, Denoiser, Tensor) {
        Random.seed(5)
        var configuration = UNetConfiguration(imageChannels: 1, baseChannels: 8, channelMultipliers: [1, 2], imageSize: 8)
        configuration.classes = 3
        let network = UNet(configuration)
        network.eval()
        let denoiser = Denoiser(network: network, prediction: .data, process: NoiseSchedule(.cosine, steps: 100))
        return (network, denoiser, Tensor.randomNormal([4, 1, 8, 8], using: RandomGenerator(seed: 9)))
    }

    @Test func guidanceZeroIsTheConditionalModel() {
        let (network, denoiser, xt) = setUp()
        let guided = denoiser.conditioned(on: labels, guidance: 0).output(xt, times: [0.4, 0.4, 0.4, 0.4])
        let conditional = network(xt, times: Tensor([Float](repeating: 0.4, count: 4)), classes: labels)
        #expect(guided.scalars == conditional.scalars)
        #expect(maxDifference(network(xt, times: Tensor([Float](repeating: 0.4, count: 4)), classes: [0, 0, 0, 0]), conditional) > 1e-3,
                "the class embedding must change the prediction")
    }

    @Test func nullClassIsTheUnconditionalModel() {
        let (network, denoiser, xt) = setUp()
        let times = Tensor([Float](repeating: 0.4, count: 4))
        let null = network(xt, times: times, classes: [3, 3, 3, 3])
        #expect(denoiser.output(xt, times: [0.4, 0.4, 0.4, 0.4]).scalars == null.scalars)
        #expect(network(xt, times: times).scalars == null.scalars)
    }

    /// ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅), and the same combination of the data, the velocity
    /// and the score, from a data-predicting network: each derived quantity is affine in the
    /// output with weights summing to 1.
    @Test func guidanceCombinesEveryPrediction() {
        let (network, denoiser, xt) = setUp()
        let w: Float = 2.5
        let guided = denoiser.conditioned(on: labels, guidance: w)
        let conditional = denoiser.conditioned(on: labels, guidance: 0)
        let unconditional = denoiser
        let (eG, xG) = guided.predict(xt, at: 0.4), (eC, xC) = conditional.predict(xt, at: 0.4), (eU, xU) = unconditional.predict(xt, at: 0.4)
        #expect(maxDifference(eG, eC * (1 + w) - eU * w) < 1e-4)
        #expect(maxDifference(xG, xC * (1 + w) - xU * w) < 1e-4)
        #expect(maxDifference(guided.velocity(xt, at: 0.4), conditional.velocity(xt, at: 0.4) * (1 + w) - unconditional.velocity(xt, at: 0.4) * w) < 1e-4)
        #expect(maxDifference(guided.score(xt, at: 0.4), conditional.score(xt, at: 0.4) * (1 + w) - unconditional.score(xt, at: 0.4) * w) < 1e-3)
        _ = network
    }

    /// A sampler written without any notion of classes (one Euler step of the probability-flow
    /// ODE) draws guided, class-conditional images through `sample(classes:guidance:)`.
    @Test func aCustomSamplerGetsGuidanceWithoutKnowing() {
        struct OneEulerStep: Sampler {
            var timeGrid: [Double] { [1, 0] }
            func start(from noise: Tensor) -> Tensor { noise }
            func step(_ state: Tensor, from t: Double, to s: Double, denoiser: Denoiser, generator: RandomGenerator) -> Tensor {
                state + denoiser.velocity(state, at: t) * Float(s - t)
            }
            func images(_ state: Tensor) -> Tensor { state }
        }
        Random.seed(5)
        var configuration = FlowMatchingConfiguration(unet: UNetConfiguration(imageChannels: 1, baseChannels: 8, channelMultipliers: [1, 2], imageSize: 8))
        configuration.unet.classes = 3
        let flow = FlowMatching(configuration)
        flow.network.eval()
        let drawn = flow.sample(count: 4, sampler: OneEulerStep(), generator: RandomGenerator(seed: 2), classes: labels, guidance: 3)
        let noise = Tensor.randomNormal([4, 1, 8, 8], using: RandomGenerator(seed: 2))
        let velocity = flow.denoiser.conditioned(on: labels).velocity(noise, at: 1) * 4 - flow.denoiser.velocity(noise, at: 1) * 3
        #expect(maxDifference(drawn, noise - velocity) < 1e-4)
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }
}
