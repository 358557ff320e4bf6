import CBLAS

extension Kernels {
    /// One single-precision GEMM through OpenBLAS: `C = alpha·op(A)·op(B) + beta·C`, row-major.
    ///
    /// A product large enough to pay for it is split over the threads: by rows of C when it has
    /// enough of them, else by columns; each thread runs single-threaded OpenBLAS on its block.
    /// Inside a parallel region (a convolution split over samples) it runs whole on the caller.
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for row in 0..<m {
                if beta == 0 { (c + row * ldc).update(repeating: 0, count: n) } else { for j in 0..<n { c[row * ldc + j] *= beta } }
            }
            return
        }
        _ = Threads.singleThreadedBLAS
        // Blocks narrower than OpenBLAS's register tiles (16 × 4 for AVX-512 sgemm) waste them;
        // parallelFor keeps the product whole when it is too small to split.
        let byRows = m >= 32 * Threads.count || m >= n
        let parts = max(1, (byRows ? m : n) / 16)
        Threads.parallelFor(parts, costPerItem: 16 * (byRows ? n : m) * k / 8) { blocks in
            let first = blocks.lowerBound * 16
            let last = blocks.upperBound == parts ? (byRows ? m : n) : blocks.upperBound * 16
            if byRows {
                // rows of op(A): A's rows, or A's columns when transposed
                blockSgemm(transposeA, transposeB, last - first, n, k, alpha, a + (transposeA ? first : first * lda), lda,
                           b, ldb, beta, c + first * ldc, ldc)
            } else {
                // columns of op(B): B's columns, or B's rows when transposed
                blockSgemm(transposeA, transposeB, m, last - first, k, alpha, a, lda,
                           b + (transposeB ? first * ldb : first), ldb, beta, c + first, ldc)
            }
        }
    }

    @inline(__always)
    private static func blockSgemm(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The matrix product of the last two axes, broadcasting leading (batch) axes.
    ///
    /// With `transposeA`, `a`'s last two axes are read as `[k, m]` instead of `[m, k]`; with
    /// `transposeB`, `b`'s as `[n, k]` instead of `[k, n]`.
    static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        require(a.rank >= 2 && b.rank >= 2, "matmul: needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let (ra, ca) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (rb, cb) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ca, ra) : (ra, ca)
        let (kb, n) = transposeB ? (cb, rb) : (rb, cb)
        require(k == kb, "matmul: inner sizes differ in \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        guard let batch = Shape.broadcast(batchA, batchB) else {
            fatalError("matmul: batch shapes of \(a.shape) and \(b.shape) do not broadcast")
        }
        let result = Tensor(uninitializedShape: batch + [m, n])
        let batchCount = batch.reduce(1, *)
        // A batch of plain matrices times one shared matrix is one tall GEMM.
        if !transposeA && batchB.reduce(1, *) == 1 && batchA == batch {
            sgemm(
                transposeA: false, transposeB: transposeB, m: batchCount * m, n: n, k: k,
                a: a.pointer, lda: ca, b: b.pointer, ldb: cb, c: result.pointer, ldc: n)
            return result
        }
        let stridesA = Shape.broadcastStrides(batchA, to: batch), stridesB = Shape.broadcastStrides(batchB, to: batch)
        let shape = batch
        // one product per thread at a time, each single-threaded
        Threads.parallelFor(batchCount, costPerItem: max(1, m * n * k / 8)) { indices in
            for index in indices {
                var rest = index, oa = 0, ob = 0
                for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                    let i = rest % shape[axis]
                    rest /= shape[axis]
                    oa += i * stridesA[axis]
                    ob += i * stridesB[axis]
                }
                sgemm(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                    a: a.pointer + oa * ra * ca, lda: ca, b: b.pointer + ob * rb * cb, ldb: cb,
                    c: result.pointer + index * m * n, ldc: n)
            }
        }
        return result
    }
}
