import CBLAS

/// Dense linear algebra in double precision through OpenBLAS's LAPACK: singular values (for
/// spectral-norm checks) and symmetric eigendecompositions (for matrix square roots of
/// covariance matrices). Matrices are row-major `[Double]`.
public enum LinearAlgebra {
    /// The singular values of a `rows × columns` matrix, largest first (LAPACK `dgesvd`).
    public static func singularValues(_ matrix: [Double], rows: Int, columns: Int) -> [Double] {
        require(matrix.count == rows * columns && rows >= 1 && columns >= 1, "singularValues: \(matrix.count) values for \(rows)×\(columns)")
        // LAPACK is column-major: the row-major matrix is its transpose, with the same singular values.
        var a = matrix
        var m = Int32(columns), n = Int32(rows), lda = Int32(columns), one: Int32 = 1, info: Int32 = 0
        var values = [Double](repeating: 0, count: min(rows, columns))
        var noU = [Double](repeating: 0, count: 1), noV = [Double](repeating: 0, count: 1)
        var job = Int8(UInt8(ascii: "N"))
        var lwork: Int32 = -1, query = [Double](repeating: 0, count: 1)
        dgesvd_(&job, &job, &m, &n, &a, &lda, &values, &noU, &one, &noV, &one, &query, &lwork, &info, 1, 1)
        lwork = Int32(query[0])
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesvd_(&job, &job, &m, &n, &a, &lda, &values, &noU, &one, &noV, &one, &work, &lwork, &info, 1, 1)
        require(info == 0, "singularValues: LAPACK dgesvd failed (info \(info))")
        return values
    }

    /// Eigenvalues (ascending) and eigenvectors (`vectors[i * n + j]` is component i of
    /// eigenvector j) of a symmetric `n × n` matrix (LAPACK `dsyevd`).
    public static func symmetricEigen(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        require(matrix.count == n * n && n >= 1, "symmetricEigen: \(matrix.count) values for \(n)×\(n)")
        var a = matrix  // symmetric, so row- and column-major agree
        var order = Int32(n), lda = Int32(n), info: Int32 = 0
        var values = [Double](repeating: 0, count: n)
        var jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery = [Double](repeating: 0, count: 1), iworkQuery = [Int32](repeating: 0, count: 1)
        dsyevd_(&jobz, &uplo, &order, &a, &lda, &values, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        lwork = Int32(workQuery[0]); liwork = iworkQuery[0]
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &order, &a, &lda, &values, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        require(info == 0, "symmetricEigen: LAPACK dsyevd failed (info \(info))")
        // LAPACK returns column-major eigenvectors: column j is eigenvector j, i.e. a[j * n + i].
        var vectors = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { vectors[i * n + j] = a[j * n + i] } }
        return (values, vectors)
    }
}

extension LinearAlgebra {
    /// The row-major product `a · bᵀ` (`transposeB`) or `a · b` of double matrices:
    /// a `[m, k]`, b `[n, k]` or `[k, n]`, result `[m, n]` (OpenBLAS `cblas_dgemm`).
    public static func multiply(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>, m: Int, k: Int, n: Int,
                                transposeB: Bool = false) -> [Double] {
        require(a.count >= m * k && b.count >= k * n, "multiply: \(a.count) and \(b.count) values for [\(m), \(k)] · [\(k), \(n)]")
        var result = [Double](repeating: 0, count: m * n)
        guard m > 0, n > 0, k > 0 else { return result }
        result.withUnsafeMutableBufferPointer { c in
            cblas_dgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, a.baseAddress, Int32(k), b.baseAddress, transposeB ? Int32(k) : Int32(n), 0, c.baseAddress, Int32(n))
        }
        return result
    }

    /// The row-major product of `[m, k]` and `[k, n]` double matrices.
    public static func multiply(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in multiply(a, b, m: m, k: k, n: n) } }
    }

    /// The symmetric positive semi-definite square root of a symmetric `n × n` matrix:
    /// `V diag(√max(λ, 0)) Vᵀ` (rounding can leave tiny negative eigenvalues; they count as 0).
    public static func symmetricSquareRoot(_ matrix: [Double], size n: Int) -> [Double] {
        let (values, vectors) = symmetricEigen(matrix, size: n)
        // scaled[i, j] = V[i, j] · √λ_j; the root is scaled · Vᵀ
        var scaled = vectors
        for i in 0..<n { for j in 0..<n { scaled[i * n + j] *= max(values[j], 0).squareRoot() } }
        return scaled.withUnsafeBufferPointer { s in vectors.withUnsafeBufferPointer { v in multiply(s, v, m: n, k: n, n: n, transposeB: true) } }
    }
}

extension LinearAlgebra {
    /// `xᵀ x` `[d, d]` of a row-major `[n, d]` double matrix (`cblas_dgemm`).
    public static func transposedProduct(_ x: UnsafeBufferPointer<Double>, rows n: Int, columns d: Int) -> [Double] {
        require(x.count >= n * d, "transposedProduct: \(x.count) values for [\(n), \(d)]")
        var result = [Double](repeating: 0, count: d * d)
        guard n > 0, d > 0 else { return result }
        result.withUnsafeMutableBufferPointer { c in
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(n),
                        1, x.baseAddress, Int32(d), x.baseAddress, Int32(d), 0, c.baseAddress, Int32(d))
        }
        return result
    }
}
