/// The mean and covariance of a set of feature vectors, in double precision.
public struct FeatureStatistics: Sendable, Equatable {
    /// How many vectors the statistics summarize.
    public let count: Int
    public let dimension: Int
    public let mean: [Double]
    /// The unbiased covariance (divided by count − 1), row-major `[dimension, dimension]`.
    public let covariance: [Double]

    public init(count: Int, mean: [Double], covariance: [Double]) {
        require(!mean.isEmpty && covariance.count == mean.count * mean.count,
                "FeatureStatistics: a mean of \(mean.count) needs a \(mean.count)×\(mean.count) covariance, got \(covariance.count) values")
        self.count = count
        self.dimension = mean.count
        self.mean = mean
        self.covariance = covariance
    }

    /// The statistics of the rows of `features` `[n, d]` (n ≥ 2).
    public init(features: Tensor) {
        require(features.rank == 2 && features.shape[0] >= 2 && features.shape[1] >= 1,
                "FeatureStatistics: features must be [n ≥ 2, d], got \(features.shape)")
        let n = features.shape[0], d = features.shape[1]
        var centered = features.scalars.map(Double.init)
        var mean = [Double](repeating: 0, count: d)
        for row in 0..<n { for j in 0..<d { mean[j] += centered[row * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        for row in 0..<n { for j in 0..<d { centered[row * d + j] -= mean[j] } }
        // Σ = Xcᵀ Xc / (n − 1): the product of the transposed [d, n] view with [n, d]
        var covariance = centered.withUnsafeBufferPointer { LinearAlgebra.transposedProduct($0, rows: n, columns: d) }
        for index in covariance.indices { covariance[index] /= Double(n - 1) }
        self.init(count: n, mean: mean, covariance: covariance)
    }
}

/// The Fréchet distance between Gaussians fitted to two sets of features (Heusel et al. 2017,
/// the "FID" when the features come from a fixed classifier):
///
///     d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½
///
/// The last trace equals tr (Σ₁Σ₂)^½ (the two matrices are similar); the symmetric form needs
/// only symmetric eigendecompositions (LAPACK `dsyevd`), with no complex parts to discard.
public enum FrechetDistance {
    /// The distance between the Gaussians of two feature sets' statistics (≥ 0).
    public static func between(_ a: FeatureStatistics, _ b: FeatureStatistics) -> Double {
        between(mean1: a.mean, covariance1: a.covariance, mean2: b.mean, covariance2: b.covariance)
    }

    /// The distance between N(mean1, covariance1) and N(mean2, covariance2); covariances are
    /// row-major symmetric positive semi-definite `[d, d]` matrices.
    public static func between(mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double]) -> Double {
        let d = mean1.count
        require(d >= 1 && mean2.count == d && covariance1.count == d * d && covariance2.count == d * d,
                "FrechetDistance: means of \(mean1.count) and \(mean2.count) with \(covariance1.count) and \(covariance2.count) covariance values")
        var meanTerm = 0.0
        for j in 0..<d { meanTerm += (mean1[j] - mean2[j]) * (mean1[j] - mean2[j]) }
        var traces = 0.0
        for j in 0..<d { traces += covariance1[j * d + j] + covariance2[j * d + j] }
        let root1 = LinearAlgebra.symmetricSquareRoot(covariance1, size: d)
        var middle = LinearAlgebra.multiply(LinearAlgebra.multiply(root1, covariance2, m: d, k: d, n: d), root1, m: d, k: d, n: d)
        // symmetric in exact arithmetic; make it so in floating point before dsyevd reads one triangle
        for i in 0..<d { for j in (i + 1)..<d { let s = (middle[i * d + j] + middle[j * d + i]) / 2; middle[i * d + j] = s; middle[j * d + i] = s } }
        let eigenvalues = LinearAlgebra.symmetricEigen(middle, size: d).values
        let rootTrace = eigenvalues.reduce(0) { $0 + max($1, 0).squareRoot() }
        // ≥ 0 in exact arithmetic; rounding can leave −1e-12
        return max(0, meanTerm + traces - 2 * rootTrace)
    }
}
