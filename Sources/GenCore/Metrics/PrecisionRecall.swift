/// Improved precision and recall (Kynkäänniemi et al. 2019): each set of features stands for a
/// manifold, the union of balls around its points whose radius is the distance to the point's
/// k-th nearest neighbour within the set. Precision is the fraction of generated points inside
/// the real manifold (how many samples look real); recall is the fraction of real points inside
/// the generated manifold (how much of the data the samples cover).
public struct PrecisionRecall: Sendable, Equatable {
    public let precision: Double
    public let recall: Double
    /// The neighbour that sets each ball's radius (the paper's k = 3).
    public let k: Int

    /// - Parameters: real `[n, d]` and generated `[m, d]` features, each with more than k rows.
    public init(real: Tensor, generated: Tensor, k: Int = 3) {
        require(real.rank == 2 && generated.rank == 2 && real.shape[1] == generated.shape[1] && k >= 1
                    && min(real.shape[0], generated.shape[0]) > k,
                "PrecisionRecall: features must be [n > k, d] with one d and k ≥ 1, got \(real.shape), \(generated.shape), k \(k)")
        let d = real.shape[1]
        let r = real.scalars.map(Double.init), g = generated.scalars.map(Double.init)
        let realRadii = PrecisionRecall.neighbourRadii(r, dimension: d, k: k)
        let generatedRadii = PrecisionRecall.neighbourRadii(g, dimension: d, k: k)
        precision = PrecisionRecall.fractionInside(g, manifold: r, radii: realRadii, dimension: d)
        recall = PrecisionRecall.fractionInside(r, manifold: g, radii: generatedRadii, dimension: d)
        self.k = k
    }

    /// Squared norms of the rows.
    static func squaredNorms(_ x: [Double], dimension d: Int) -> [Double] {
        (0..<(x.count / d)).map { row in
            var s = 0.0
            for j in 0..<d { s += x[row * d + j] * x[row * d + j] }
            return s
        }
    }

    /// Squared distances `[rows in block, all rows of b]` from rows `block` of a to every row of b.
    static func squaredDistances(_ a: [Double], _ block: Range<Int>, aNorms: [Double], _ b: [Double], bNorms: [Double], dimension d: Int) -> [Double] {
        let columns = b.count / d
        var products = a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            LinearAlgebra.multiply(UnsafeBufferPointer(rebasing: a[(block.lowerBound * d)..<(block.upperBound * d)]), b,
                                   m: block.count, k: d, n: columns, transposeB: true)
        } }
        for (i, row) in block.enumerated() {
            for j in 0..<columns { products[i * columns + j] = max(0, aNorms[row] + bNorms[j] - 2 * products[i * columns + j]) }
        }
        return products
    }

    /// Each row's squared distance to its k-th nearest other row.
    static func neighbourRadii(_ x: [Double], dimension d: Int, k: Int) -> [Double] {
        let n = x.count / d, norms = squaredNorms(x, dimension: d)
        return Threads.parallelMap(n, costPerItem: n * d) { range in
            var radii: [Double] = []
            for start in stride(from: range.lowerBound, to: range.upperBound, by: 256) {
                let block = start..<min(start + 256, range.upperBound)
                let distances = squaredDistances(x, block, aNorms: norms, x, bNorms: norms, dimension: d)
                for (i, row) in block.enumerated() {
                    // the k smallest distances to other rows, kept sorted
                    var smallest: [Double] = []
                    for j in 0..<n where j != row {
                        let value = distances[i * n + j]
                        if smallest.count < k || value < smallest[k - 1] {
                            let at = smallest.firstIndex { $0 > value } ?? smallest.count
                            smallest.insert(value, at: at)
                            if smallest.count > k { smallest.removeLast() }
                        }
                    }
                    radii.append(smallest[k - 1])
                }
            }
            return radii
        }.flatMap { $0 }
    }

    /// The fraction of rows of `points` within the squared radius of some row of `manifold`.
    static func fractionInside(_ points: [Double], manifold: [Double], radii: [Double], dimension d: Int) -> Double {
        let n = points.count / d, m = manifold.count / d
        let pointNorms = squaredNorms(points, dimension: d), manifoldNorms = squaredNorms(manifold, dimension: d)
        let inside = Threads.parallelMap(n, costPerItem: m * d) { range in
            var count = 0
            for start in stride(from: range.lowerBound, to: range.upperBound, by: 256) {
                let block = start..<min(start + 256, range.upperBound)
                let distances = squaredDistances(points, block, aNorms: pointNorms, manifold, bNorms: manifoldNorms, dimension: d)
                for i in 0..<block.count where (0..<m).contains(where: { distances[i * m + $0] <= radii[$0] }) { count += 1 }
            }
            return count
        }.reduce(0, +)
        return Double(inside) / Double(n)
    }
}
