import Foundation

/// Sample quality as `gen eval --metric fid,kid,pr` measures it: samples and test images
/// embedded by a ``FeatureClassifier``, compared by ``FrechetDistance``,
/// ``KernelInceptionDistance`` and ``PrecisionRecall``.
public enum SampleQuality {
    /// The test images of a comparison of `count`: the first `count` of a fixed shuffle of the
    /// file (seed 0); the floor compares them with the next `count`.
    public static func testRows(count: Int, of total: Int, offset: Int = 0) -> [Int] {
        Array(RandomGenerator(seed: 0, stream: .dataOrder).permutation(total)[offset..<(offset + count)])
    }

    /// The metrics of `generated` features against `real` ones, as result fields.
    public static func compare(real: Tensor, generated: Tensor, metrics: [EvaluationMetric], seed: UInt64) -> ResultFields {
        var fields: ResultFields = []
        if metrics.contains(.fid) {
            let fid = FrechetDistance.between(FeatureStatistics(features: real), FeatureStatistics(features: generated))
            fields.set("fid", .number(fid, decimals: 4))
        }
        if metrics.contains(.kid) {
            let kid = KernelInceptionDistance(real, generated, generator: RandomGenerator(seed: seed, stream: .dataOrder))
            fields.append(contentsOf: [("kid", .number(kid.mean, decimals: 6)), ("kid_stderr", .number(kid.standardError, decimals: 6)),
                                       ("kid_subsets", .integer(kid.subsets)), ("kid_subset_size", .integer(kid.subsetSize))])
        }
        if metrics.contains(.pr) {
            let pr = PrecisionRecall(real: real, generated: generated)
            fields.append(contentsOf: [("precision", .number(pr.precision, decimals: 4)), ("recall", .number(pr.recall, decimals: 4)),
                                       ("pr_k", .integer(pr.k))])
        }
        return fields
    }

    /// Features of `rows` of `data`, from the cache beside the file when it has them, else
    /// computed (with progress) and cached.
    /// - Parameter selection: says which rows these are, for the cache's key.
    public static func features(_ classifier: FeatureClassifier, checkpoint: URL, data: HDF5Dataset, rows: [Int], selection: String,
                                log: (String) -> Void) throws -> Tensor {
        let dataURL = URL(fileURLWithPath: data.path)
        let cache = FeatureCache.url(beside: dataURL, dataHash: try ContentHash.of(file: dataURL),
                                     classifierHash: try ContentHash.of(file: checkpoint), selection: "\(data.imagesName)|\(selection)")
        if let cached = FeatureCache.load(cache, count: rows.count) {
            log("reference features from the cache \(cache.path)")
            return cached
        }
        let progress = ProgressReporter(total: rows.count, label: "reference images", lineEvery: max(1, rows.count / 4))
        var parts: [Tensor] = []
        for start in stride(from: 0, to: rows.count, by: 256) {
            let batch = Array(rows[start..<min(rows.count, start + 256)])
            parts.append(classifier.features(try data.images(at: batch, scaledTo: .symmetric)))
            progress.update(step: start + batch.count)
        }
        progress.finishLine()
        let features = Tensor.concatenate(parts, axis: 0)
        if !FeatureCache.store(features, to: cache, metadata: ["data": data.path, "selection": selection, "classifier": checkpoint.path]) {
            log("\(cache.path): cannot write the feature cache; going on without it")
        }
        return features
    }

    /// Features of `count` images drawn from `source` in batches of `batchSize`, with progress.
    public static func features(of source: ImageSource, count: Int, batchSize: Int, classifier: FeatureClassifier,
                                generator: RandomGenerator) -> Tensor {
        let progress = ProgressReporter(total: count, label: "samples", lineEvery: max(1, count / 10))
        var parts: [Tensor] = []
        for first in stride(from: 0, to: count, by: batchSize) {
            let drawn = source.draw(count: min(batchSize, count - first), generator: generator)
            parts.append(classifier.features(drawn.clamped(-1, 1)))
            progress.update(step: first + drawn.shape[0])
        }
        progress.finishLine()
        return Tensor.concatenate(parts, axis: 0)
    }

    /// Features of `count` images of a class-conditional `source`, image i of class i mod
    /// `classes`, and the classes `classifier` tells them as.
    public static func classFeatures(of source: ImageSource, count: Int, classes: Int, batchSize: Int, classifier: FeatureClassifier,
                                     generator: RandomGenerator) throws -> (features: Tensor, labels: [Int], predictions: [Int]) {
        let progress = ProgressReporter(total: count, label: "samples", lineEvery: max(1, count / 10))
        let labels = ClassSelection.spread.labels(count: count, classes: classes)
        var parts: [Tensor] = [], predictions: [Int] = []
        for first in stride(from: 0, to: count, by: batchSize) {
            let drawn = try source.draw(classes: Array(labels[first..<min(count, first + batchSize)]), generator: generator).clamped(-1, 1)
            parts.append(classifier.features(drawn))
            predictions += classifier.predictions(drawn)
            progress.update(step: first + drawn.shape[0])
        }
        progress.finishLine()
        return (Tensor.concatenate(parts, axis: 0), labels, predictions)
    }

    /// Class accuracy as result fields: overall, then per class (`class_accuracy_K`).
    public static func classAccuracy(labels: [Int], predictions: [Int], classes: Int) -> ResultFields {
        var fields: ResultFields = [("class_accuracy", .number(accuracy(labels, predictions, where: { _ in true }), decimals: 4))]
        for k in 0..<classes { fields.set("class_accuracy_\(k)", .number(accuracy(labels, predictions, where: { $0 == k }), decimals: 4)) }
        return fields
    }

    private static func accuracy(_ labels: [Int], _ predictions: [Int], where chosen: (Int) -> Bool) -> Double {
        let pairs = zip(labels, predictions).filter { chosen($0.0) }
        return pairs.isEmpty ? .nan : Double(pairs.filter { $0.0 == $0.1 }.count) / Double(pairs.count)
    }
}
