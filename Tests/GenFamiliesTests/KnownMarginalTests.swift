import Foundation
import GenCore
import GenFamilies
import Testing
import VAE

/// The VAE's importance-weighted bound, through the library's `gen eval --metric nll`, on a
/// model whose marginal is known: a decoder that is linear in z (fc3 = [I; −I] and fc4 = [W, −W],
/// so ReLU(z) − ReLU(−z) = z comes out as W·z + b) with a fixed Gaussian σ, so
/// p(x) = N(b, W·Wᵀ + σ²I); and an encoder that answers the prior, so the bound's proposal is
/// p(z). For 8-bit pixels dequantized into [0, 1), E[log p(x)] over the noise is
/// log N(x̄; b, C) − ½·tr(C⁻¹)·(1/256)²/12, with x̄ the bins' centres.
@Suite("The IWAE bound of a VAE with a known marginal")
struct KnownMarginalTests {
    @Test func boundMatchesTheExactLogLikelihood() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let (latent, sigma) = (2, 0.3)
        let configuration = VAEConfiguration(imageShape: [1, 8, 8], architecture: .mlp, latent: latent, hidden: 2 * latent,
                                             likelihood: .gaussian, fixedStd: Float(sigma))
        let vae = VAE(configuration)
        // W: smooth columns of size ~0.15; b: mid-grey
        var w: [Double] = [], b: [Double] = []
        for row in 0..<64 {
            for column in 0..<latent { w.append(0.15 * sin(Double(row + 1) * Double(column + 1) * 0.37)) }
            b.append(0.5 + 0.1 * cos(Double(row) * 0.21))
        }
        var state = vae.network.stateDict()
        for (name, tensor) in state { state[name] = Tensor.zeros(tensor.shape) }
        state["fc3.weight"] = Tensor([1, 0, 0, 1, -1, 0, 0, -1], shape: [4, 2])
        var decoder: [Float] = []
        for row in 0..<64 {
            for column in 0..<latent { decoder.append(Float(w[row * latent + column])) }
            for column in 0..<latent { decoder.append(-Float(w[row * latent + column])) }
        }
        state["fc4.weight"] = Tensor(decoder, shape: [64, 4])
        state["fc4.bias"] = Tensor(b.map(Float.init), shape: [64])
        try vae.network.load(stateDict: state)
        let folder = scratch.folder("vae")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let json = try RunConfiguration(kind: "vae", model: configuration, training: TrainerConfiguration(steps: 1, batchSize: 8),
                                        data: DataSource(path: fixtureData, dataset: "images", imageShape: [1, 8, 8], pixelRange: .unit)).json()
        let trainer = TrainerState(step: 1, loader: LoaderPosition(), noise: RandomGenerator(seed: 0).state, dropout: RandomGenerator(seed: 0).state, nonFiniteStreak: 0)
        try RunCheckpoint(configJSON: json, trainer: trainer, model: vae.network.stateDict(), ema: [:], optimizer: [:])
            .write(to: folder.appendingPathComponent("checkpoint.safetensors"))

        var request = EvaluationRequest(data: fixtureData, metrics: [.nll], count: 20)
        request.likelihood = LikelihoodOptions(method: ImportanceWeightedEstimator(samples: 4000))
        let fields = try Evaluation.evaluate(try FamilyRegistry.builtIn.open(folder), request, registry: .builtIn, log: { _ in })
        guard case .number(let nll, _)? = fields["nll_nats"], case .number(let standardError, _)? = fields["nll_stderr"] else {
            Issue.record("no nll in \(fields.json)")
            return
        }

        // the exact answer: C = σ²I + WWᵀ, by Cholesky in double precision
        var c = [Double](repeating: 0, count: 64 * 64)
        for i in 0..<64 {
            for j in 0..<64 {
                var sum: Double = i == j ? sigma * sigma : 0
                for k in 0..<latent { sum += w[i * latent + k] * w[j * latent + k] }
                c[i * 64 + j] = sum
            }
        }
        var l = [Double](repeating: 0, count: 64 * 64)
        for i in 0..<64 {
            for j in 0...i {
                var sum: Double = c[i * 64 + j]
                for k in 0..<j { sum -= l[i * 64 + k] * l[j * 64 + k] }
                l[i * 64 + j] = i == j ? sum.squareRoot() : sum / l[j * 64 + j]
            }
        }
        var logDeterminant: Double = 0
        for i in 0..<64 { logDeterminant += 2 * log(l[i * 64 + i]) }
        func solve(_ v: [Double]) -> [Double] {       // C⁻¹v by forward and back substitution
            var y = v
            for i in 0..<64 {
                var sum: Double = y[i]
                for k in 0..<i { sum -= l[i * 64 + k] * y[k] }
                y[i] = sum / l[i * 64 + i]
            }
            for i in (0..<64).reversed() {
                var sum: Double = y[i]
                for k in (i + 1)..<64 { sum -= l[k * 64 + i] * y[k] }
                y[i] = sum / l[i * 64 + i]
            }
            return y
        }
        var traceOfInverse: Double = 0
        for i in 0..<64 {
            var e = [Double](repeating: 0, count: 64)
            e[i] = 1
            traceOfInverse += solve(e)[i]
        }
        // the 20 scored images: rows spread over the 50 of the file, pixels (i·37 + 11) mod 256
        var exact: Double = 0
        for row in (0..<20).map({ $0 * 50 / 20 }) {
            var residual: [Double] = []
            for pixel in 0..<64 { residual.append((Double(((row * 64 + pixel) * 37 + 11) % 256) + 0.5) / 256 - b[pixel]) }
            let solved = solve(residual)
            var quadratic: Double = 0
            for k in 0..<64 { quadratic += residual[k] * solved[k] }
            exact += (-0.5 * (quadratic + logDeterminant + 64 * log(2 * Double.pi)) - 0.5 * traceOfInverse / (256 * 256 * 12)) / 20
        }
        // the bound lies below log p(x) by its gap, which k = 4,000 prior draws keep to hundredths
        // of a nat; the dequantization noise adds less (the answer is per image, so the spread
        // between images, the standard error gen reports, does not enter)
        #expect(abs(nll - (-exact)) < 0.1, "IWAE nll \(nll) ± \(standardError) nats, exact \(-exact)")
        #expect(nll >= -exact - 0.02, "the bound is a lower bound on log p: \(nll) vs \(-exact)")
    }
}
