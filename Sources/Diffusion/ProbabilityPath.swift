import GenCore

/// How flow matching pairs a batch of data with a batch of noise.
public enum Coupling: String, Codable, Sendable, CaseIterable {
    /// Independent pairs, as drawn (Lipman et al. 2023).
    case independent
    /// Minibatch optimal transport (Tong et al. 2023): the noise is permuted so that the total
    /// squared distance between paired data and noise is the least possible, found exactly per
    /// batch by the Hungarian algorithm. Paths cross less and are straighter to integrate.
    case ot

    /// `noise` reordered to pair with `data` (both `[N, …]`).
    public func pair(data: Tensor, noise: Tensor) -> Tensor {
        guard self == .ot, data.shape[0] > 1 else { return noise }
        let n = data.shape[0]
        let a = data.flattened(), b = noise.flattened()
        // ‖a_i − b_j‖² = ‖a_i‖² + ‖b_j‖² − 2·a_i·b_j
        let cross = a.matmul(b, transposeB: true).scalars
        let aa = a.squared().sum(axes: [1]).scalars, bb = b.squared().sum(axes: [1]).scalars
        var cost = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { cost[i * n + j] = Double(aa[i]) + Double(bb[j]) - 2 * Double(cross[i * n + j]) } }
        let assignment = optimalAssignment(cost: cost, size: n)
        return noise.gathering(rows: assignment)
    }
}

/// The assignment `row → column` of least total cost for a square `size × size` cost matrix
/// (row-major): the Hungarian algorithm with potentials (Kuhn–Munkres, Jonker–Volgenant's
/// shortest augmenting paths), O(n³).
public func optimalAssignment(cost: [Double], size n: Int) -> [Int] {
    require(cost.count == n * n, "optimalAssignment: \(cost.count) costs for a \(n)×\(n) matrix")
    // 1-based arrays; column 0 is the virtual start of each augmenting path.
    var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: n + 1)
    var rowOfColumn = [Int](repeating: 0, count: n + 1), way = [Int](repeating: 0, count: n + 1)
    for row in 1...n {
        rowOfColumn[0] = row
        var column = 0
        var minimum = [Double](repeating: .infinity, count: n + 1)
        var used = [Bool](repeating: false, count: n + 1)
        repeat {
            used[column] = true
            let i = rowOfColumn[column]
            var delta = Double.infinity, next = 0
            for j in 1...n where !used[j] {
                let reduced = cost[(i - 1) * n + (j - 1)] - u[i] - v[j]
                if reduced < minimum[j] { minimum[j] = reduced; way[j] = column }
                if minimum[j] < delta { delta = minimum[j]; next = j }
            }
            for j in 0...n {
                if used[j] { u[rowOfColumn[j]] += delta; v[j] -= delta } else { minimum[j] -= delta }
            }
            column = next
        } while rowOfColumn[column] != 0
        // augment along the path back to the start
        repeat {
            let previous = way[column]
            rowOfColumn[column] = rowOfColumn[previous]
            column = previous
        } while column != 0
    }
    var assignment = [Int](repeating: 0, count: n)
    for j in 1...n { assignment[rowOfColumn[j] - 1] = j - 1 }
    return assignment
}
