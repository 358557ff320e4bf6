import Diffusion
import Foundation
import GAN
import GenCore
import VAE

/// Loads, finds and applies the feature classifiers that `gen train classifier` makes.
enum ClassifierRun {
    /// The classifier of a run folder (its sampling weights) and its checkpoint's path.
    static func load(_ folder: URL) throws -> (classifier: FeatureClassifier, checkpoint: URL) {
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Failure(message: "\(folder.path): no checkpoint.safetensors (train a classifier with gen train classifier --data FILE.h5)", code: Exit.missingInput)
        }
        let checkpoint = try RunCheckpoint.read(url)
        let kind = try RunKind.decode(checkpoint.configJSON).kind
        guard kind == "classifier" else {
            throw Failure(message: "\(folder.path): is a \(kind) run, not a classifier (gen train classifier makes one)", code: Exit.usage)
        }
        let configuration: FeatureClassifierConfiguration = try ModelRun.configuration(checkpoint, from: url, kind: "classifier")
        if let problem = configuration.problem { throw Failure(message: "\(url.path): \(problem)", code: Exit.badData) }
        let classifier = FeatureClassifier(configuration)
        try ModelRun.loadWeights(classifier.network, checkpoint, from: url, emaWeights: true)
        return (classifier, url)
    }

    /// The most recent classifier run under ./runs for images of `imageShape`.
    static func latest(for imageShape: [Int]) throws -> URL {
        let runs = URL(fileURLWithPath: "runs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
        let candidates = names.compactMap { name -> (URL, Date)? in
            let folder = runs.appendingPathComponent(name)
            guard let text = try? String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8),
                  let header = try? RunKind.decode(text), header.kind == "classifier", header.data.imageShape == imageShape,
                  let attributes = try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("checkpoint.safetensors").path),
                  let date = attributes[.modificationDate] as? Date else { return nil }
            return (folder, date)
        }
        guard let latest = candidates.max(by: { $0.1 < $1.1 }) else {
            throw Failure(message: "no feature classifier for \(imageShape) images under ./runs: train one with gen train classifier --data FILE.h5, or give --features RUN", code: Exit.missingInput)
        }
        printNote("features from the most recent classifier run, \(latest.0.path)")
        return latest.0
    }

    /// Images of `rows` in [-1, 1], read and handed to `body` in batches of 256.
    static func forEachBatch(of data: HDF5Dataset, rows: [Int], _ body: (Tensor, Range<Int>) throws -> Void) throws {
        for start in stride(from: 0, to: rows.count, by: 256) {
            let range = start..<min(rows.count, start + 256)
            try body(try data.images(at: Array(rows[range]), scaledTo: .symmetric), range)
        }
    }

    /// The fraction of `rows` the classifier labels correctly.
    static func accuracy(_ classifier: FeatureClassifier, data: HDF5Dataset, rows: [Int]) throws -> Double {
        var correct = 0.0
        try forEachBatch(of: data, rows: rows) { images, range in
            guard let labels = try data.labels(at: Array(rows[range])) else {
                throw Failure(message: "\(data.path): no labels to score accuracy against", code: Exit.badData)
            }
            correct += classifier.accuracy(images, labels: labels) * Double(range.count)
        }
        return correct / Double(rows.count)
    }

    /// Features of `rows` of `data`, from the cache beside the file when it has them, else
    /// computed (with progress) and cached.
    static func features(_ classifier: FeatureClassifier, checkpoint: URL, data: HDF5Dataset, rows: [Int], selection: String) throws -> Tensor {
        let dataURL = URL(fileURLWithPath: data.path)
        let cache = FeatureCache.url(beside: dataURL, dataHash: try ContentHash.of(file: dataURL),
                                     classifierHash: try ContentHash.of(file: checkpoint), selection: "\(data.imagesName)|\(selection)")
        if let cached = FeatureCache.load(cache, count: rows.count) {
            printNote("reference features from the cache \(cache.path)")
            return cached
        }
        let progress = ProgressReporter(total: rows.count, label: "reference images", lineEvery: max(1, rows.count / 4))
        var parts: [Tensor] = []
        try forEachBatch(of: data, rows: rows) { images, range in
            parts.append(classifier.features(images))
            progress.update(step: range.upperBound)
        }
        progress.finishLine()
        let features = Tensor.concatenate(parts, axis: 0)
        if !FeatureCache.store(features, to: cache, metadata: ["data": data.path, "selection": selection, "classifier": checkpoint.path]) {
            printNote("\(cache.path): cannot write the feature cache; going on without it")
        }
        return features
    }
}

/// Draws images in [-1, 1] from a run of any generative kind.
struct RunImages {
    /// What was drawn, for the results: the sampler and its steps, or the model's one pass.
    let description: [(String, String)]
    let draw: (_ count: Int, _ generator: RandomGenerator) -> Tensor

    /// - Parameters: `sampler` and `steps` for diffusion-family runs (default: ddim 50 for
    ///   ddpm, heun 25 — 50 network evaluations — for sde and flow).
    static func make(_ checkpoint: RunCheckpoint, from url: URL, kind: String, emaWeights: Bool,
                     sampler: Sample.SamplerName?, steps: Int?) throws -> RunImages {
        let weights = ("weights", emaWeights ? "\"ema\"" : "\"raw\"")
        if sampler != nil && !DiffusionRun.kinds.contains(kind) {
            throw Failure(message: "--sampler \(sampler!.rawValue) does not fit a \(kind) run: it draws in one pass", code: Exit.usage)
        }
        switch kind {
        case "vae":
            let vae = try ModelRun.vae(checkpoint, from: url, emaWeights: emaWeights)
            return RunImages(description: [weights, ("sampler", "\"prior, decoder means\"")]) { count, generator in
                withoutGradients { vae.samples(count: count, generator: generator) } * 2 - 1
            }
        case "realnvp":
            let model = try ModelRun.realNVP(checkpoint, from: url, emaWeights: emaWeights)
            return RunImages(description: [weights, ("sampler", "\"temperature 1\"")]) { count, generator in
                withoutGradients { model.sample(count: count, generator: generator) } * 2 - 1
            }
        case "wgan":
            let wgan = try GANRun.load(checkpoint, from: url, emaWeights: emaWeights)
            return RunImages(description: [weights, ("sampler", "\"generator\"")]) { count, generator in
                wgan.sample(latents: wgan.latents(count, generator: generator))
            }
        case "classifier":
            throw Failure(message: "\(url.deletingLastPathComponent().path): a classifier run draws no images; score it with --metric accuracy", code: Exit.usage)
        default:
            let (kind, model) = try DiffusionRun.load(checkpoint, from: url, emaWeights: emaWeights)
            let name = sampler ?? (kind == "ddpm" ? .ddim : .heun)
            guard Sample.SamplerName.valid(for: kind).contains(name) else {
                throw Failure(message: "--sampler \(name.rawValue) does not fit a \(kind) run; use one of \(Sample.SamplerName.valid(for: kind).map(\.rawValue).joined(separator: ", "))", code: Exit.usage)
            }
            let total = steps ?? (sampler == nil ? (name == .ddim ? 50 : 25) : name.defaultSteps)
            return RunImages(description: [weights, ("sampler", jsonString(name.rawValue)), ("sampler_steps", "\(total)")]) { count, generator in
                withoutGradients { name.sample(model, count: count, steps: total, options: DiffusionSamplerOptions(), generator: generator) { _ in } }
            }
        }
    }
}

extension Eval {
    /// `--metric accuracy` of a classifier run.
    func evaluateAccuracy(folder: URL, test: HDF5Dataset, rows: [Int]) throws {
        guard test.labelsName != nil else {
            throw Failure(message: "\(data): no labels beside the images to score accuracy against", code: Exit.badData)
        }
        let (classifier, _) = try ClassifierRun.load(folder)
        let start = Date()
        let accuracy = try ClassifierRun.accuracy(classifier, data: test, rows: rows)
        printJSON([("run", jsonString(folder.path)), ("kind", "\"classifier\""), ("data", jsonString(data)), ("metric", "\"accuracy\""),
                   ("accuracy", String(format: "%.5f", accuracy)), ("n", "\(rows.count)"),
                   ("seconds", String(format: "%.1f", Date().timeIntervalSince(start)))])
    }

    /// `--metric fid,kid,pr` of a run, or of the test images themselves (`--floor`, `run` nil).
    func evaluateSampleQuality(run: (folder: URL, checkpoint: RunCheckpoint, kind: String)?, metrics: [Metric]) throws {
        try HDF5Guard.check(data, dataset: dataset)
        let test = try HDF5Dataset(url: URL(fileURLWithPath: data), options: .init(dataset: dataset, readLabels: false))
        let imageShape = try run.map { try RunKind.decode($0.checkpoint.configJSON).data.imageShape } ?? test.imageShape
        guard test.imageShape == imageShape else {
            throw Failure(message: "\(data): images are \(test.imageShape), the \(run!.kind) run was trained on \(imageShape)", code: Exit.badData)
        }
        // the run's sampler first: a sampler that does not fit is a usage error before any work
        let images = try run.map {
            try RunImages.make($0.checkpoint, from: $0.folder.appendingPathComponent("checkpoint.safetensors"), kind: $0.kind,
                               emaWeights: !noEMA, sampler: sampler, steps: steps)
        }
        let (classifier, classifierURL) = try ClassifierRun.load(try features.map { URL(fileURLWithPath: $0) } ?? ClassifierRun.latest(for: imageShape))
        guard classifier.configuration.imageShape == imageShape else {
            throw Failure(message: "\(classifierURL.deletingLastPathComponent().path): the classifier takes \(classifier.configuration.imageShape) images, not \(imageShape)", code: Exit.usage)
        }
        // The test images: the first n of a fixed shuffle; the floor compares them with the next n.
        let count = min(n ?? 10_000, floor ? test.count / 2 : test.count)
        guard count >= 20 else {
            throw Failure(message: "\(data): \(test.count) images are too few for sample metrics (need \(floor ? 40 : 20))", code: Exit.badData)
        }
        let shuffle = RandomGenerator(seed: 0, stream: .dataOrder).permutation(test.count)
        let selection = "shuffle 0, rows 0..<\(count) of \(test.count)"
        let real = try ClassifierRun.features(classifier, checkpoint: classifierURL, data: test, rows: Array(shuffle[0..<count]), selection: selection)
        let start = Date()
        var fields: [(String, String)]
        let generated: Tensor
        if let run, let images {
            printNote("\(metrics.map(\.rawValue).joined(separator: ", ")) of \(count) samples from \(run.folder.path) (\(run.kind)) against \(count) images of \(data)")
            let generator = RandomGenerator(seed: seed, stream: .sampling)
            let progress = ProgressReporter(total: count, label: "samples", lineEvery: max(1, count / 10))
            var parts: [Tensor] = []
            for first in stride(from: 0, to: count, by: batchSize) {
                let drawn = images.draw(min(batchSize, count - first), generator)
                parts.append(classifier.features(drawn.clamped(-1, 1)))
                progress.update(step: first + drawn.shape[0])
            }
            progress.finishLine()
            generated = Tensor.concatenate(parts, axis: 0)
            fields = [("run", jsonString(run.folder.path)), ("kind", jsonString(run.kind))] + images.description
        } else {
            printNote("the floor: \(count) images of \(data) against \(count) others")
            generated = try ClassifierRun.features(classifier, checkpoint: classifierURL, data: test, rows: Array(shuffle[count..<(2 * count)]),
                                                   selection: "shuffle 0, rows \(count)..<\(2 * count) of \(test.count)")
            fields = [("run", "null"), ("kind", "\"floor\"")]
        }
        fields += [("data", jsonString(data)), ("n", "\(count)"), ("features", jsonString(classifierURL.deletingLastPathComponent().path))]
        guard generated.scalars.allSatisfy(\.isFinite) else {
            throw Failure(message: "\(run?.folder.path ?? data): the samples' features are not finite (the model draws NaN or ∞)", code: Exit.badData)
        }
        if metrics.contains(.fid) {
            let fid = FrechetDistance.between(FeatureStatistics(features: real), FeatureStatistics(features: generated))
            fields.append(("fid", String(format: "%.4f", fid)))
        }
        if metrics.contains(.kid) {
            let kid = KernelInceptionDistance(real, generated, generator: RandomGenerator(seed: seed, stream: .dataOrder))
            fields += [("kid", String(format: "%.6f", kid.mean)), ("kid_stderr", String(format: "%.6f", kid.standardError)),
                       ("kid_subsets", "\(kid.subsets)"), ("kid_subset_size", "\(kid.subsetSize)")]
        }
        if metrics.contains(.pr) {
            let pr = PrecisionRecall(real: real, generated: generated)
            fields += [("precision", String(format: "%.4f", pr.precision)), ("recall", String(format: "%.4f", pr.recall)), ("pr_k", "\(pr.k)")]
        }
        fields.append(("seconds", String(format: "%.1f", Date().timeIntervalSince(start))))
        printJSON(fields)
    }
}
