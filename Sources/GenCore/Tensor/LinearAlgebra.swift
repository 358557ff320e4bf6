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
