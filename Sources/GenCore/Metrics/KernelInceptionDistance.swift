/// The kernel inception distance (Bińkowski et al. 2018): the squared maximum mean discrepancy
/// between two sets of features under the cubic polynomial kernel k(a, b) = (a·b / d + 1)³,
/// estimated without bias.
///
/// The estimate is the mean of the unbiased MMD² of `subsets` disjoint pairs of subsets of
/// `subsetSize` rows each (the paper's subsets of 1,000 when there are enough rows). Disjoint
/// subsets make the subset estimates independent, so the standard error of their mean is
/// their standard deviation over √subsets.
///
/// Both sets are first divided by one number, the root-mean-square feature of `x`, so the
/// kernel sees features of mean square 1 whatever the classifier's scale. The kernel was
/// designed for Inception features of about that size; on features of mean square 20 its
/// values run to 10⁴ and the estimate drowns in its variance. Dividing by a constant of the
/// reference set keeps scores comparable across the runs scored against it.
public struct KernelInceptionDistance: Sendable, Equatable {
    public let mean: Double
    /// The standard deviation of one subset's estimate.
    public let standardDeviation: Double
    /// The standard error of ``mean``.
    public let standardError: Double
    public let subsets: Int
    public let subsetSize: Int

    /// - Parameters:
    ///   - x, y: features `[n, d]` and `[m, d]` (at least 4 rows each); x sets the scale.
    ///   - subsetSize: rows per subset; by default min(1,000, ⌊min(n, m) / 10⌋) (at least 2),
    ///     so there are at least 10 subsets when the sets allow it.
    ///   - generator: shuffles the rows before they are cut into subsets.
    public init(_ x: Tensor, _ y: Tensor, subsetSize: Int? = nil, generator: RandomGenerator) {
        require(x.rank == 2 && y.rank == 2 && x.shape[1] == y.shape[1] && min(x.shape[0], y.shape[0]) >= 4,
                "KernelInceptionDistance: features must be [n ≥ 4, d] with one d, got \(x.shape) and \(y.shape)")
        let rows = min(x.shape[0], y.shape[0]), d = x.shape[1]
        let size = subsetSize ?? max(2, min(1000, rows / 10))
        require(size >= 2 && size <= rows / 2, "KernelInceptionDistance: subsets of \(size) from \(rows) rows (need 2 ≤ size ≤ rows / 2)")
        let count = rows / size
        let xs = x.scalars.map(Double.init)
        let scale = 1 / max(1e-12, (xs.reduce(0) { $0 + $1 * $1 } / Double(xs.count)).squareRoot())
        let xScaled = xs.map { $0 * scale }, ys = y.scalars.map { Double($0) * scale }
        let xOrder = generator.permutation(x.shape[0]), yOrder = generator.permutation(y.shape[0])
        func subset(_ values: [Double], _ order: [Int], _ s: Int) -> [Double] {
            var rows = [Double](); rows.reserveCapacity(size * d)
            for r in order[(s * size)..<((s + 1) * size)] { rows += values[(r * d)..<((r + 1) * d)] }
            return rows
        }
        let estimates = Threads.parallelMap(count, costPerItem: 3 * size * size * d) { range in
            range.map { s in
                KernelInceptionDistance.unbiasedMMD2(subset(xScaled, xOrder, s), subset(ys, yOrder, s), rows: size, dimension: d)
            }
        }.flatMap { $0 }
        let mean = estimates.reduce(0, +) / Double(count)
        let variance = estimates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, count - 1))
        self.mean = mean
        self.standardDeviation = variance.squareRoot()
        self.standardError = (variance / Double(count)).squareRoot()
        self.subsets = count
        self.subsetSize = size
    }

    /// The cubic polynomial kernel matrix `[n, n']` of two row-major feature sets.
    static func kernel(_ a: [Double], _ b: [Double], rows: Int, dimension d: Int) -> [Double] {
        var k = a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            LinearAlgebra.multiply(a, b, m: rows, k: d, n: b.count / d, transposeB: true)
        } }
        for index in k.indices { let t = k[index] / Double(d) + 1; k[index] = t * t * t }
        return k
    }

    /// The unbiased MMD² of two sets of `rows` rows: the means of k(x, x') and k(y, y') over
    /// distinct pairs, minus twice the mean of k(x, y) over all pairs.
    public static func unbiasedMMD2(_ x: [Double], _ y: [Double], rows m: Int, dimension d: Int) -> Double {
        let kxx = kernel(x, x, rows: m, dimension: d), kyy = kernel(y, y, rows: m, dimension: d), kxy = kernel(x, y, rows: m, dimension: d)
        var sxx = 0.0, syy = 0.0
        for i in 0..<m { for j in 0..<m where i != j { sxx += kxx[i * m + j]; syy += kyy[i * m + j] } }
        let sxy = kxy.reduce(0, +)
        let pairs = Double(m * (m - 1))
        return sxx / pairs + syy / pairs - 2 * sxy / Double(m * m)
    }
}
