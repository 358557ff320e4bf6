import Foundation

/// What to evaluate a run on, and how: `gen eval`'s options.
public struct EvaluationRequest: Sendable {
    /// The HDF5 test file, and its image dataset when the file has several.
    public var data: String
    public var dataset: String?
    /// fid, kid and pr together, or one of bpd, nll and accuracy; nil: the family's default.
    public var metrics: [EvaluationMetric]?
    /// Sample metrics: samples and test images (default 10,000). bpd, nll: test images (default
    /// 512). accuracy: test images (default all).
    public var count: Int?
    public var batchSize = 64
    /// Seeds the samples, the dequantization, binarization, probes and importance samples.
    public var seed: UInt64 = 0
    /// How sample metrics draw (default: the family's sampler for evaluation).
    public var draw = DrawOptions(purpose: .evaluation)
    public var likelihood = LikelihoodOptions()
    /// The classifier run whose features the sample metrics compare; nil: the most recent one
    /// for the image shape under ``runs``.
    public var features: URL?
    /// Where runs live, for finding a classifier.
    public var runs = URL(fileURLWithPath: "runs")
    /// Whether the result is appended to the run folder's `eval.jsonl` (as `gen eval` does);
    /// false for a run folder that must not change (a read-only or shared one).
    public var recordsResult = true

    public init(data: String, dataset: String? = nil, metrics: [EvaluationMetric]? = nil, count: Int? = nil) {
        self.data = data
        self.dataset = dataset
        self.metrics = metrics
        self.count = count
    }
}

/// `gen eval` as a library call: a run's sample quality, likelihood or accuracy on test data,
/// as one line of result fields.
///
/// ```swift
/// let run = try FamilyRegistry.builtIn.open(URL(fileURLWithPath: "runs/flow-1"))
/// let result = try Evaluation.evaluate(run, EvaluationRequest(data: "test.h5", metrics: [.bpd], count: 128),
///                                      registry: .builtIn)
/// print(result.json)
/// ```
public enum Evaluation {
    /// Evaluates the run as `request` asks, with its `weights`.
    /// - Parameters:
    ///   - saved: the run (its model is built once the test data is found to fit it).
    ///   - registry: names the families that have a metric, in refusals.
    ///   - log: notes on what is being done (stderr by default).
    public static func evaluate(_ saved: SavedRun, _ request: EvaluationRequest, weights: ModelWeights = .sampling,
                                registry: FamilyRegistry, log: (String) -> Void = printNote) throws -> ResultFields {
        let run = saved
        let metrics = request.metrics ?? run.family.defaultMetrics
        try checkCombination(metrics)
        for metric in metrics where !run.family.measures(metric) && !metric.isSampleMetric {
            let valid = registry.kinds { $0.measures(metric) }
            throw GenError.usage("\(run.folder.path): --metric \(metric.rawValue) needs a \(valid.joined(separator: ", ")) run; this is a \(run.kind) run")
        }
        let test = try HDF5Dataset(url: URL(fileURLWithPath: request.data),
                                   options: .init(dataset: request.dataset, readLabels: metrics == [.accuracy]))
        guard test.imageShape == run.header.data.imageShape else {
            throw GenError.badData("\(request.data): images are \(test.imageShape), the \(run.kind) run was trained on \(run.header.data.imageShape)")
        }
        if request.metrics == nil {
            log("no --metric: measuring \(metrics.map(\.rawValue).joined(separator: ",")), the default for \(run.kind) runs (it measures \(run.family.metrics.map(\.rawValue).joined(separator: ", ")))")
        }
        let model = try saved.load(weights: weights).model
        if metrics[0].isSampleMetric {
            // the sampler first: one that does not fit is a usage error before any work
            let source = try model.imageSource(request.draw)
            try checkClasses(source, draw: request.draw, metrics: metrics, run: run)
            log("\(metrics.map(\.rawValue).joined(separator: ", ")) of samples from \(run.folder.path) (\(run.kind)) against images of \(request.data)")
            let real = try realFeatures(test: test, request: request, log: log)
            let fields = try sampleQuality(source, draw: request.draw, real: real, test: test, request: request, metrics: metrics, run: run, weights: weights, log: log)
            if request.recordsResult { record(fields, in: run.folder, log: log) }
            return fields
        }
        let rows = try scoredRows(run, test: test, request: request, metrics: metrics, log: log)
        var fields: ResultFields = [("run", .text(run.folder.path)), ("kind", .text(run.kind)), ("data", .text(request.data)),
                                    ("images", .text(imagesScored(run, test: test))), ("metric", .text(metrics[0].rawValue))]
        let start = Date()
        if metrics == [.accuracy] {
            guard let classifier = model as? ImageClassifier else {
                throw GenError.usage("\(run.folder.path): --metric accuracy needs a classifier or a class-conditional realnvp run; this is a \(run.kind) run")
            }
            try classifier.requireClasses()
            guard test.labelsName != nil else { throw GenError.badData("\(request.data): no labels beside the images to score accuracy against") }
            fields.append(contentsOf: [("accuracy", .number(try classifier.accuracy(on: test, rows: rows), decimals: 5)), ("n", .integer(rows.count))])
        } else {
            let scorer = try model.likelihoodScorer(request.likelihood)
            if test.storedType != "uint8" { log("\(request.data): \(test.storedType) pixels are quantized to 8 bits") }
            log("\(scorer.summary): \(rows.count) images of \(request.data) under \(run.folder.path) (\(run.kind))")
            let result = try LikelihoodEvaluation.run(scorer, data: test, rows: rows, batchSize: request.batchSize,
                                                      generator: RandomGenerator(seed: request.seed, stream: .sampling))
            fields.append(contentsOf: result.fields(scorer))
            fields.set("n", .integer(result.count))
            fields.append(contentsOf: scorer.fields)
            if result.evaluationsPerBatch > 0 { fields.set("nfe_per_batch", .number(result.evaluationsPerBatch, decimals: 1)) }
            fields.set("weights", .text(weights.label))
            fields.set("seed", .integer(Int(truncatingIfNeeded: request.seed)))
        }
        fields.set("seconds", .number(Date().timeIntervalSince(start), decimals: 1))
        if request.recordsResult { record(fields, in: run.folder, log: log) }
        return fields
    }

    /// Sample metrics of one run drawn several ways (`gen eval --metric fid --sampler a,b
    /// --steps 5,10,20`): one result per entry of `draws`, in order, each with its sampler,
    /// steps, network evaluations per image (`nfe`) and seconds, the test images' features
    /// computed once. Every draw is checked before any work; each result is recorded and
    /// handed to `onResult` as it is done. With two results or more, `plot` (if given) gets
    /// the first metric against the network evaluations, one line per sampler.
    public static func sweep(_ saved: SavedRun, _ request: EvaluationRequest, draws: [DrawOptions], weights: ModelWeights = .sampling,
                             plot: URL? = nil, log: (String) -> Void = printNote,
                             onResult: (ResultFields) -> Void = { _ in }) throws -> [ResultFields] {
        let metrics = request.metrics ?? EvaluationMetric.sampleMetrics
        try checkCombination(metrics)
        guard metrics[0].isSampleMetric else { throw GenError.usage("several samplers or step counts are for fid, kid and pr") }
        guard !draws.isEmpty else { throw GenError.usage("nothing to evaluate: no sampler and steps given") }
        let test = try HDF5Dataset(url: URL(fileURLWithPath: request.data), options: .init(dataset: request.dataset, readLabels: false))
        guard test.imageShape == saved.header.data.imageShape else {
            throw GenError.badData("\(request.data): images are \(test.imageShape), the \(saved.kind) run was trained on \(saved.header.data.imageShape)")
        }
        let model = try saved.load(weights: weights).model
        // every sampler first: one that does not fit is a usage error before any work
        let sources = try draws.map { try model.imageSource($0) }
        for (source, draw) in zip(sources, draws) { try checkClasses(source, draw: draw, metrics: metrics, run: saved) }
        log("\(metrics.map(\.rawValue).joined(separator: ", ")) of samples from \(saved.folder.path) (\(saved.kind)) drawn \(sources.count) ways, against images of \(request.data)")
        let real = try realFeatures(test: test, request: request, log: log)
        var results: [ResultFields] = []
        for (source, draw) in zip(sources, draws) {
            log("\(source.sampler)\(source.steps.map { ", \($0) steps" } ?? "")\(draw.guidance.map { ", guidance \($0)" } ?? "")")
            let fields = try sampleQuality(source, draw: draw, real: real, test: test, request: request, metrics: metrics, run: saved, weights: weights, log: log)
            if request.recordsResult { record(fields, in: saved.folder, log: log) }
            onResult(fields)
            results.append(fields)
        }
        if let plot, results.count >= 2 {
            do {
                let picture = qualityPlot(results, metric: metrics[0], title: "\(saved.folder.lastPathComponent): \(metrics[0].rawValue) against network evaluations")
                try PNG.write(picture.image(), to: plot)
                log("\(plot.path): \(metrics[0].rawValue) against network evaluations")
            } catch {
                log("\(plot.path): cannot write the plot (\(error))")
            }
        }
        return results
    }

    /// The file ``sweep``'s plot goes to in the run folder: `fid-vs-nfe.png` for FID.
    public static func sweepPlotName(_ metric: EvaluationMetric) -> String { "\(metric.rawValue)-vs-nfe.png" }

    /// A metric against the network evaluations per image, one line per sampler (in the order
    /// they first appear), from results of ``sweep``.
    public static func qualityPlot(_ results: [ResultFields], metric: EvaluationMetric, title: String) -> LinePlot {
        let key = metric == .pr ? "precision" : metric == .classAccuracy ? "class_accuracy" : metric.rawValue
        var names: [String] = [], points: [String: [(x: Double, y: Double)]] = [:]
        for result in results {
            guard case .text(let sampler)? = result["sampler"], let nfe = result["nfe"]?.number, let value = result[key]?.number else { continue }
            if points[sampler] == nil { names.append(sampler) }
            points[sampler, default: []].append((nfe, value))
        }
        let series = names.enumerated().map { index, name in
            LinePlot.Series(name: name, points: points[name, default: []].sorted { $0.x < $1.x }, color: LinePlot.palette[index % LinePlot.palette.count])
        }
        return LinePlot(title: title, xLabel: "network evaluations per image", yLabel: key, series: series)
    }

    /// Appends a result line, with the date, to the run's `eval.jsonl`, so results stay with the
    /// run (`gen runs` shows the latest); a folder that cannot be written only gets a note.
    public static func record(_ fields: ResultFields, in folder: URL, log: (String) -> Void = printNote) {
        var dated = fields
        dated.set("date", .text(ISO8601DateFormatter().string(from: Date())))
        do { try AppendOnlyFile(folder.appendingPathComponent("eval.jsonl")).append(dated.json + "\n") } catch {
            log("\(folder.appendingPathComponent("eval.jsonl").path): cannot record this result (\(error))")
        }
    }

    /// The sample metrics' floor: `count` test images against the next `count` of the same
    /// shuffle, what a perfect model would score.
    public static func floor(_ request: EvaluationRequest, log: (String) -> Void = printNote) throws -> ResultFields {
        let metrics = request.metrics ?? EvaluationMetric.sampleMetrics
        try checkCombination(metrics)
        guard metrics[0].isSampleMetric, !metrics.contains(.classAccuracy) else { throw GenError.usage("--floor is for fid, kid and pr") }
        let test = try HDF5Dataset(url: URL(fileURLWithPath: request.data), options: .init(dataset: request.dataset, readLabels: false))
        var fields: ResultFields = [("run", .null), ("kind", .text("floor"))]
        fields.append(contentsOf: try floorQuality(test: test, request: request, metrics: metrics, log: log))
        return fields
    }

    /// Refuses, before any work, class accuracy of a model that draws no classes, and guidance
    /// where no classes are drawn (fid, kid and pr of a conditional diffusion run are of its
    /// unconditional model, which guidance does not change).
    private static func checkClasses(_ source: ImageSource, draw: DrawOptions, metrics: [EvaluationMetric], run: SavedRun) throws {
        if metrics.contains(.classAccuracy) && source.classCount == nil {
            throw GenError.usage("\(run.folder.path): --metric class-accuracy needs a class-conditional run (gen train \(run.kind) --conditional)")
        }
        if draw.guidance != nil && !metrics.contains(.classAccuracy) {
            throw GenError.usage("--guidance applies to samples drawn for classes: use it with --metric class-accuracy (fid, kid and pr alone score the run's unconditional samples)")
        }
    }

    /// fid, kid and pr go together; bpd, nll and accuracy alone.
    public static func checkCombination(_ metrics: [EvaluationMetric]) throws {
        let sample = metrics.filter(\.isSampleMetric)
        guard !metrics.isEmpty, sample.isEmpty ? metrics.count == 1 : sample.count == metrics.count else {
            throw GenError.usage("--metric takes fid, kid, pr and class-accuracy together, or one of bpd, nll and accuracy")
        }
    }

    /// The rows a likelihood or accuracy is scored on: the run's held-out images when it held
    /// some out of this very file, else the whole file; `count` of them, spread evenly.
    private static func scoredRows(_ run: SavedRun, test: HDF5Dataset, request: EvaluationRequest, metrics: [EvaluationMetric],
                                   log: (String) -> Void) throws -> [Int] {
        var pool = Array(0..<test.count)
        let source = run.header.data
        let sameFile = URL(fileURLWithPath: test.path).standardizedFileURL.path == URL(fileURLWithPath: source.path).standardizedFileURL.path
        if sameFile, let holdout = source.holdout, holdout > 0 {
            pool = BatchLoader.split(count: test.count, testFraction: holdout, seed: run.header.training.seed).test
            log("\(request.data): scoring the run's \(pool.count) held-out images (--holdout \(holdout) at training)")
        } else if sameFile {
            log("\(request.data): the run trained on this very file and held nothing out: these are training images")
        }
        let count = min(request.count ?? (metrics == [.accuracy] ? pool.count : 512), pool.count)
        return (0..<count).map { pool[$0 * pool.count / count] }
    }

    /// What the scored images are to the run: `held-out`, `training` (the run's own file, none
    /// held out) or `test` (another file).
    private static func imagesScored(_ run: SavedRun, test: HDF5Dataset) -> String {
        let source = run.header.data
        guard URL(fileURLWithPath: test.path).standardizedFileURL.path == URL(fileURLWithPath: source.path).standardizedFileURL.path else { return "test" }
        return (source.holdout ?? 0) > 0 ? "held-out" : "training"
    }

    /// The test images' features for the sample metrics, and what computed them.
    private struct RealFeatures {
        var features: Tensor
        var classifier: FeatureClassifier
        var classifierURL: URL
        var classifierFolder: URL
        var count: Int
    }

    /// The features of `count` test images (10,000 or all by default; half for the floor).
    private static func realFeatures(test: HDF5Dataset, request: EvaluationRequest, isFloor: Bool = false,
                                     log: (String) -> Void) throws -> RealFeatures {
        let classifierFolder: URL
        if let features = request.features {
            classifierFolder = features
        } else {
            classifierFolder = try FeatureClassifierFamily.latest(for: test.imageShape, under: request.runs)
            log("features from the most recent classifier run, \(classifierFolder.path)")
        }
        let (classifier, classifierURL) = try FeatureClassifierFamily.loadForFeatures(classifierFolder)
        guard classifier.configuration.imageShape == test.imageShape else {
            throw GenError.usage("\(classifierFolder.path): the classifier takes \(classifier.configuration.imageShape) images, not \(test.imageShape)")
        }
        let count = min(request.count ?? 10_000, isFloor ? test.count / 2 : test.count)
        guard count >= 20 else {
            throw GenError.badData("\(request.data): \(test.count) images are too few for sample metrics (need \(isFloor ? 40 : 20))")
        }
        let real = try SampleQuality.features(classifier, checkpoint: classifierURL, data: test, rows: SampleQuality.testRows(count: count, of: test.count),
                                              selection: "shuffle 0, rows 0..<\(count) of \(test.count)", log: log)
        return RealFeatures(features: real, classifier: classifier, classifierURL: classifierURL, classifierFolder: classifierFolder, count: count)
    }

    /// The sample metrics of `source` against the test images' features, as one result: the
    /// run, its sampler and steps, the metrics, network evaluations per image and seconds.
    private static func sampleQuality(_ source: ImageSource, draw: DrawOptions, real: RealFeatures, test: HDF5Dataset, request: EvaluationRequest,
                                      metrics: [EvaluationMetric], run: SavedRun, weights: ModelWeights,
                                      log: (String) -> Void) throws -> ResultFields {
        var fields: ResultFields = [("run", .text(run.folder.path)), ("kind", .text(run.kind)), ("weights", .text(weights.label)),
                                    ("sampler", .text(source.sampler))]
        if let steps = source.steps { fields.set("sampler_steps", .integer(steps)) }
        if let guidance = draw.guidance { fields.set("guidance", .number(Double(guidance), decimals: 3)) }
        let start = Date(), evaluationsBefore = source.networkEvaluations
        let generator = RandomGenerator(seed: request.seed, stream: .sampling)
        let generated: Tensor
        var classFields: ResultFields = []
        if metrics.contains(.classAccuracy) {
            guard let classes = source.classCount else {
                throw GenError.usage("\(run.folder.path): --metric class-accuracy needs a class-conditional run (gen train \(run.kind) --conditional)")
            }
            guard real.classifier.configuration.classes == classes else {
                throw GenError.usage("\(real.classifierFolder.path): the classifier tells \(real.classifier.configuration.classes) classes, the run draws \(classes)")
            }
            let drawn = try SampleQuality.classFeatures(of: source, count: real.count, classes: classes, batchSize: request.batchSize,
                                                        classifier: real.classifier, generator: generator)
            generated = drawn.features
            classFields = SampleQuality.classAccuracy(labels: drawn.labels, predictions: drawn.predictions, classes: classes)
        } else {
            generated = SampleQuality.features(of: source, count: real.count, batchSize: request.batchSize, classifier: real.classifier,
                                               generator: generator)
        }
        guard generated.isFinite else {
            throw GenError.badData("\(run.folder.path): the samples' features are not finite (the model draws NaN or ∞)")
        }
        fields.append(contentsOf: [("data", .text(request.data)), ("n", .integer(real.count)), ("features", .text(real.classifierFolder.path))])
        // class accuracy comes with FID beside it
        let compared = metrics.contains(where: { EvaluationMetric.sampleMetrics.contains($0) }) ? metrics : metrics + [.fid]
        fields.append(contentsOf: SampleQuality.compare(real: real.features, generated: generated, metrics: compared, seed: request.seed))
        fields.append(contentsOf: classFields)
        // every image of a batch shares the batch's network evaluations (a --batch-size above
        // the source's limit is drawn in several)
        let batches = stride(from: 0, to: real.count, by: request.batchSize).reduce(0) { total, first in
            total + (min(request.batchSize, real.count - first) + ImageSource.batchLimit - 1) / ImageSource.batchLimit
        }
        fields.set("nfe", .number(Double(source.networkEvaluations - evaluationsBefore) / Double(batches), decimals: 1))
        fields.set("seconds", .number(Date().timeIntervalSince(start), decimals: 1))
        return fields
    }

    /// The floor's metrics: test images against the next `count` test images.
    private static func floorQuality(test: HDF5Dataset, request: EvaluationRequest, metrics: [EvaluationMetric],
                                     log: (String) -> Void) throws -> ResultFields {
        let real = try realFeatures(test: test, request: request, isFloor: true, log: log)
        let count = real.count
        log("the floor: \(count) images of \(request.data) against \(count) others")
        let start = Date()
        let other = try SampleQuality.features(real.classifier, checkpoint: real.classifierURL, data: test,
                                               rows: SampleQuality.testRows(count: count, of: test.count, offset: count),
                                               selection: "shuffle 0, rows \(count)..<\(2 * count) of \(test.count)", log: log)
        var fields: ResultFields = [("data", .text(request.data)), ("n", .integer(count)), ("features", .text(real.classifierFolder.path))]
        fields.append(contentsOf: SampleQuality.compare(real: real.features, generated: other, metrics: metrics, seed: request.seed))
        fields.set("seconds", .number(Date().timeIntervalSince(start), decimals: 1))
        return fields
    }
}

extension ModelWeights {
    /// How results name the weights: `ema` or `raw`.
    public var label: String { self == .sampling ? "ema" : "raw" }
}
