import Foundation

/// How a model's likelihood is estimated, for models whose likelihood is not exact.
public struct LikelihoodOptions: Sendable {
    /// A family's own estimator (a diffusion family's `LikelihoodEstimator`, a VAE's
    /// `ImportanceWeightedEstimator`); nil: the family's default. A family refuses another's.
    public var method: (any LikelihoodMethod)?

    public init(method: (any LikelihoodMethod)? = nil) { self.method = method }
}

/// A way of estimating a likelihood that some family understands.
public protocol LikelihoodMethod: Sendable {
    /// The options it is set by, for refusals (`--solver, --rtol, --atol, --trace`).
    var options: String { get }
}

extension TrainedModel {
    /// Refuses a likelihood method the model does not use.
    public func requireNoLikelihoodMethod(_ options: LikelihoodOptions, kind: String) throws {
        if let method = options.method { throw GenError.usage("\(method.options) do not fit a \(kind) run") }
    }
}

/// Scores batches of 8-bit images by a model's likelihood: what ``LikelihoodEvaluation`` runs.
public struct LikelihoodScorer {
    /// `.bpd` (values in bits per dimension) or `.nll` (values in nats per image).
    public let metric: EvaluationMetric
    /// How the likelihood is computed, in a few words for a note before the work starts.
    public let summary: String
    /// How it was computed, for the result line.
    public let fields: ResultFields
    /// Per image of a batch of 8-bit values `[N, C, H, W]` (0…255): the metric's value, and the
    /// network evaluations it took.
    public let score: (_ pixels: Tensor, _ generator: RandomGenerator) -> (values: [Double], evaluations: Int)
    /// For `.nll`: the bits per dimension of a mean negative log-likelihood in nats.
    public let bitsPerDimension: ((Double) -> Double)?

    public init(metric: EvaluationMetric, summary: String, fields: ResultFields = [],
                bitsPerDimension: ((Double) -> Double)? = nil,
                score: @escaping (_ pixels: Tensor, _ generator: RandomGenerator) -> (values: [Double], evaluations: Int)) {
        self.metric = metric
        self.summary = summary
        self.fields = fields
        self.bitsPerDimension = bitsPerDimension
        self.score = score
    }
}

/// The mean likelihood of test images under a model, batch by batch.
public struct LikelihoodEvaluation: Sendable {
    /// The mean over images (bits/dim or nats) and its standard error.
    public var mean: Double
    public var standardError: Double
    /// Images scored.
    public var count: Int
    /// Network evaluations per batch, on average (0 for models that need none to speak of).
    public var evaluationsPerBatch: Double
    public var seconds: Double

    /// Scores `rows` of `data` in batches of `batchSize` with `scorer`, reporting progress on
    /// standard error.
    public static func run(_ scorer: LikelihoodScorer, data: HDF5Dataset, rows: [Int], batchSize: Int,
                           generator: RandomGenerator, showsProgress: Bool = true) throws -> LikelihoodEvaluation {
        require(batchSize >= 1 && !rows.isEmpty, "LikelihoodEvaluation: needs rows and a batch size of at least 1")
        let progress = ProgressReporter(total: rows.count, label: "images", lineEvery: max(1, rows.count / 10))
        let start = Date()
        var values: [Double] = [], evaluations = 0, batches = 0
        for first in stride(from: 0, to: rows.count, by: batchSize) {
            let pixels = try eightBitPixels(data, rows: Array(rows[first..<min(rows.count, first + batchSize)]))
            let (scores, nfe) = scorer.score(pixels, generator)
            values += scores
            evaluations += nfe
            batches += 1
            if showsProgress {
                let running = mean(values)
                let field = scorer.metric == .nll ? String(format: "nll %.2f nats", running) : String(format: "bpd %.4f", running)
                progress.update(step: values.count, fields: [field] + (nfe > 0 ? ["nfe \(nfe)"] : []))
            }
        }
        if showsProgress { progress.finishLine() }
        let average = mean(values)
        let variance = values.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(max(1, values.count - 1))
        return LikelihoodEvaluation(mean: average, standardError: (variance / Double(values.count)).squareRoot(), count: values.count,
                                    evaluationsPerBatch: Double(evaluations) / Double(batches), seconds: Date().timeIntervalSince(start))
    }

    /// The result fields of the metric's value: `bpd`, `bpd_stderr`, or `nll_nats`,
    /// `nll_stderr` and `bpd`.
    public func fields(_ scorer: LikelihoodScorer) -> ResultFields {
        if scorer.metric == .nll {
            var fields: ResultFields = [("nll_nats", .number(mean, decimals: 3)), ("nll_stderr", .number(standardError, decimals: 3))]
            if let bits = scorer.bitsPerDimension { fields.set("bpd", .number(bits(mean), decimals: 5)) }
            return fields
        }
        return [("bpd", .number(mean, decimals: 5)), ("bpd_stderr", .number(standardError, decimals: 5))]
    }

    /// 8-bit values (0…255) of the given rows, `[N, C, H, W]`; float data is quantized.
    public static func eightBitPixels(_ data: HDF5Dataset, rows: [Int]) throws -> Tensor {
        let values = (try data.images(at: rows, scaledTo: .unit) * 255).scalars.map { $0.rounded() }
        return Tensor(values, shape: [rows.count] + data.imageShape)
    }

    private static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
}
