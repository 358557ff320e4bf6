import Diffusion
import Flows
import Foundation
import GenCore
import Testing

/// `gen eval --metric bpd` end to end on models whose answer is known in closed form: every
/// part of the chain (reading 8-bit pixels, uniform dequantization, the change of variables or
/// the probability-flow ODE, the conversion of nats to bits with its offset) must be right.
///
/// For 8-bit pixels k, the dequantized values lie uniformly in one bin; the expectations over
/// that noise are taken here by a 200-point midpoint rule per pixel value, independently of gen.
@Suite("gen eval bpd on models with a known answer", .serialized)
struct KnownAnswerTests {
    static let data = fixtureData.appendingPathComponent("chunked_gzip.h5").path

    /// The fixture's pixel values: pattern(shape) = (i·37 + 11) mod 256 over [50, 8, 8].
    static let pixels: [Double] = (0..<(50 * 64)).map { Double(($0 * 37 + 11) % 256) }

    /// E over u ~ U(0, 1) of f((k + u)/256), the mean over every pixel of the file.
    static func expectation(_ f: (Double) -> Double) -> Double {
        var perValue = [Double](repeating: 0, count: 256)
        for k in 0..<256 {
            perValue[k] = (0..<200).map { f((Double(k) + (Double($0) + 0.5) / 200) / 256) }.reduce(0, +) / 200
        }
        return pixels.map { perValue[Int($0)] }.reduce(0, +) / Double(pixels.count)
    }

    /// Writes a one-step checkpoint of `model` (configuration `json`) in `folder`.
    static func writeRun(_ folder: String, configuration json: String, model: Module) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let state = TrainerState(step: 1, loader: LoaderPosition(), noise: RandomGenerator(seed: 0).state, dropout: RandomGenerator(seed: 0).state, nonFiniteStreak: 0)
        try RunCheckpoint(configJSON: json, trainer: state, model: model.stateDict(), ema: [:], optimizer: [:])
            .write(to: URL(fileURLWithPath: "\(folder)/checkpoint.safetensors"))
    }

    static func source(pixelRange: PixelRange) -> DataSource {
        DataSource(path: data, dataset: "images", imageShape: [1, 8, 8], pixelRange: pixelRange)
    }

    /// `gen eval --metric bpd` of all 50 images: the estimate and its standard error.
    static func evaluate(_ run: String, _ extra: [String] = []) throws -> (bpd: Double, standardError: Double) {
        let result = try runGen(["eval", "--run", run, "--data", data, "--metric", "bpd", "--n", "50"] + extra)
        #expect(result.status == 0, "\(result.standardError)")
        let line = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (try #require(json["bpd"] as? Double), try #require(json["bpd_stderr"] as? Double))
    }

    /// RealNVP with every coupling the identity: log p is that of N(0, I) at the logit of the
    /// dequantized pixels plus the logit's and the dequantization's log-determinants:
    /// bpd = E[½y² + ½log 2π − log(1 − 2α) + log s + log(1 − s)]/ln 2 + 8, y = logit(s),
    /// s = α + (1 − 2α)·x, x = (k + u)/256.
    @Test func identityRealNVP() throws {
        let scratch = try Scratch()
        let configuration = RealNVPConfiguration(imageShape: [1, 8, 8], scales: 1, couplings: 1, finalCouplings: 1, hidden: 8)
        let model = RealNVP(configuration)
        model.flow.zeroInitialize()
        let json = try RunConfiguration(kind: "realnvp", model: configuration, training: TrainerConfiguration(steps: 1, batchSize: 8), data: Self.source(pixelRange: .unit)).json()
        try Self.writeRun(scratch.path("run"), configuration: json, model: model.model)
        let alpha = Double(configuration.alpha)
        let expected = Self.expectation { x in
            let s = alpha + (1 - 2 * alpha) * x, y = log(s / (1 - s))
            return (0.5 * y * y + 0.5 * log(2 * Double.pi) - log(1 - 2 * alpha) + log(s) + log(1 - s)) / log(2.0) + 8
        }
        let (bpd, standardError) = try Self.evaluate(scratch.path("run"))
        // the dequantization noise of 3,200 pixels leaves a few thousandths of a bit; the spread
        // between images (the standard error gen reports) does not enter: the answer is per image
        #expect(abs(bpd - expected) < 5e-3, "bpd \(bpd) ± \(standardError), closed form \(expected)")
    }

    /// Flow matching whose network outputs zero: the ODE does not move the points and the
    /// divergence is 0, so log p is that of N(0, I) at the dequantized pixels in [−1, 1):
    /// bpd = E[½x² + ½log 2π]/ln 2 + 7.
    @Test func motionlessFlow() throws {
        let scratch = try Scratch()
        let configuration = FlowMatchingConfiguration(unet: UNetConfiguration(baseChannels: 8, channelMultipliers: [1, 2], imageSize: 8))
        let model = FlowMatching(configuration)
        model.network.outConv.weight.assign(Tensor.zeros(model.network.outConv.weight.shape))
        model.network.outConv.bias?.assign(Tensor.zeros([1]))
        let json = try RunConfiguration(kind: "flow", model: configuration, training: TrainerConfiguration(steps: 1, batchSize: 8), data: Self.source(pixelRange: .symmetric)).json()
        try Self.writeRun(scratch.path("run"), configuration: json, model: model.model)
        let expected = Self.expectation { u in
            let x = 2 * u - 1
            return (0.5 * x * x + 0.5 * log(2 * Double.pi)) / log(2.0) + 7
        }
        let (bpd, standardError) = try Self.evaluate(scratch.path("run"))
        #expect(abs(bpd - expected) < 1e-3, "bpd \(bpd) ± \(standardError), closed form \(expected)")
    }

    /// A DDPM whose network predicts zero noise, scored (as every linear DDPM) through its VP
    /// SDE: the ODE dx/dt = (α'/α)·x scales each point by r = α(1)/α(ε) and adds D·log r, so
    /// bpd = E[½(r·x)² + ½log 2π − log r]/ln 2 + 7.
    @Test func noiselessDDPM() throws {
        let scratch = try Scratch()
        let configuration = DDPMConfiguration(unet: UNetConfiguration(baseChannels: 8, channelMultipliers: [1, 2], imageSize: 8))
        let model = DDPM(configuration)
        model.network.outConv.weight.assign(Tensor.zeros(model.network.outConv.weight.shape))
        model.network.outConv.bias?.assign(Tensor.zeros([1]))
        let json = try RunConfiguration(kind: "ddpm", model: configuration, training: TrainerConfiguration(steps: 1, batchSize: 8), data: Self.source(pixelRange: .symmetric)).json()
        try Self.writeRun(scratch.path("run"), configuration: json, model: model.model)
        let vp = VPSDE(betaMin: 0.1, betaMax: 20)
        let r = vp.alpha(1) / vp.alpha(vp.minimumTime)
        let expected = Self.expectation { u in
            let x = 2 * u - 1
            return (0.5 * r * r * x * x + 0.5 * log(2 * Double.pi) - log(r)) / log(2.0) + 7
        }
        let (bpd, standardError) = try Self.evaluate(scratch.path("run"), ["--rtol", "1e-6", "--atol", "1e-6"])
        #expect(abs(bpd - expected) < 2e-3, "bpd \(bpd) ± \(standardError), closed form \(expected)")
    }
}
