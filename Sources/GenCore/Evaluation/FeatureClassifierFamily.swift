import Foundation

/// The feature classifier as a family: `gen train classifier` trains it on labelled images,
/// and its features serve the sample metrics of every other family.
public enum FeatureClassifierFamily: ModelFamily {
    public static let kind = "classifier"
    public static let summary = "the feature classifier of gen eval's fid, kid and pr (two conv stages, a feature layer, the logits)"
    public static let trainingDefaults = TrainingDefaults(learningRate: 1e-3, warmupSteps: 0, gradientClip: nil)
    public static let capabilities: FamilyCapabilities = []
    public static let metrics: [EvaluationMetric] = [.accuracy]
    public static var needsLabels: Bool { true }

    public static func makeTask(_ configuration: FeatureClassifierConfiguration) -> FeatureClassifier {
        FeatureClassifier(configuration)
    }

    /// `PyTorch/classifier.py`: `Model(x)` gives the logits, `Model.features(x)` the features the
    /// sample metrics compare.
    public static func pytorchModule(for configuration: FeatureClassifierConfiguration) -> PyTorchModule? {
        PyTorchModule(source: String(decoding: PackageResources.classifier_py, as: UTF8.self), arguments: [
            "image_shape": .integers(configuration.imageShape), "classes": .integer(configuration.classes),
            "channels": .integer(configuration.channels), "features": .integer(configuration.features),
        ])
    }

    /// The classifier of a run folder for the sample metrics, refusing runs of other kinds.
    public static func loadForFeatures(_ folder: URL) throws -> (classifier: FeatureClassifier, checkpoint: URL) {
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GenError.missingInput("\(folder.path): no checkpoint.safetensors (train a classifier with gen train classifier --data FILE.h5)")
        }
        let checkpoint = try RunCheckpoint.read(url)
        let header: RunKind
        do { header = try RunKind.decode(checkpoint.configJSON) } catch {
            throw GenError.badData("\(url.path): the run configuration is not understood: \(RunKind.describe(error))")
        }
        guard header.kind == kind else {
            throw GenError.usage("\(folder.path): is a \(header.kind) run, not a classifier (gen train classifier makes one)")
        }
        return (try load(checkpoint, from: url), url)
    }

    /// The most recent classifier run under `runs` for images of `imageShape`.
    public static func latest(for imageShape: [Int], under runs: URL) throws -> URL {
        guard let latest = RunFolders.mostRecent(under: runs, where: { $0.kind == kind && $0.data.imageShape == imageShape }) else {
            throw GenError.missingInput("no feature classifier for \(imageShape) images under ./\(runs.relativePath): train one with gen train classifier --data FILE.h5, or give --features RUN")
        }
        return latest
    }
}

extension FeatureClassifier: TrainedModel {
    public var imageShape: [Int] { configuration.imageShape }

    public func imageSource(_ options: DrawOptions) throws -> ImageSource {
        throw GenError.usage("a classifier run draws no images; score it with --metric accuracy")
    }

    /// The fraction of `rows` of `data` classified as their labels say, read 256 at a time.
    public func accuracy(on data: HDF5Dataset, rows: [Int]) throws -> Double {
        var correct = 0.0
        for start in stride(from: 0, to: rows.count, by: 256) {
            let batch = Array(rows[start..<min(rows.count, start + 256)])
            guard let labels = try data.labels(at: batch) else {
                throw GenError.badData("\(data.path): no labels beside the images to score accuracy against")
            }
            correct += accuracy(try data.images(at: batch, scaledTo: .symmetric), labels: labels) * Double(batch.count)
        }
        return correct / Double(rows.count)
    }
}
