import CBLAS

/// Row-major C = alpha * op(A) * op(B) + beta * C through cblas_sgemm.
/// A is [m,k] (or [k,m] when transA), B is [k,n] (or [n,k] when transB), C is [m,n].
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    _ = Threads.count   // the first use pins OpenBLAS to one thread
    if m * n * k < 1 << 18 {
        sgemmPart(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    // Split the longer side of C into up to 8 blocks (multiples of 16) taken by the engine's threads. The split
    // depends on the shape alone: OpenBLAS picks its kernels by block size, so a thread-dependent split would
    // change the rounding with the thread count.
    let splitRows = m >= n
    let side = splitRows ? m : n
    let parts = max(1, min(8, side / 128))
    // Long K (weight gradients): slicing K packs each operand once, where splitting C packs one of them
    // again for every block.
    if k >= 4096 && k >= 4 * side {
        sgemmSplitK(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    let part = ((side + parts - 1) / parts + 15) / 16 * 16
    let ap = UncheckedBox(a), bp = UncheckedBox(b), cp = SendablePtr(c)
    Threads.parallelFor((side + part - 1) / part) { t in
        let lo = t * part, len = min(side, lo + part) - lo
        if splitRows {
            sgemmPart(transA, transB, len, n, k, alpha, ap.value + (transA ? lo : lo * lda), lda, bp.value, ldb,
                      beta, cp.p + lo * ldc, ldc)
        } else {
            sgemmPart(transA, transB, m, len, k, alpha, ap.value, lda, bp.value + (transB ? lo * ldb : lo), ldb,
                      beta, cp.p + lo, ldc)
        }
    }
}

/// Long K (weight gradients: K runs over every output pixel): up to 8 slices of K, each product into its
/// own buffer, then C = beta*C + the slices' sum in slice order. Slices depend on the shape alone.
private func sgemmSplitK(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                         _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                         _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let slices = min(8, k / 2048)
    let slice = ((k + slices - 1) / slices + 15) / 16 * 16
    let count = (k + slice - 1) / slice
    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: count * m * n)
    defer { tmp.deallocate() }
    let ap = UncheckedBox(a), bp = UncheckedBox(b), tp = SendablePtr(tmp), cp = SendablePtr(c)
    Threads.parallelFor(count) { t in
        let lo = t * slice, len = min(k, lo + slice) - lo
        sgemmPart(transA, transB, m, n, len, alpha, ap.value + (transA ? lo * lda : lo), lda,
                  bp.value + (transB ? lo : lo * ldb), ldb, 0, tp.p + t * m * n, n)
    }
    Threads.parallelFor(m) { i in
        let row = cp.p + i * ldc
        for j in 0..<n {
            var s = tp.p[i * n + j]
            for t in 1..<count { s += tp.p[(t * m + i) * n + j] }
            row[j] = beta == 0 ? s : beta * row[j] + s
        }
    }
}

/// One product on the calling thread (OpenBLAS is pinned to one thread): a single cblas_sgemm call, or
/// pieces that OpenBLAS's small-matrix kernels take (see `SmallProducts`).
@inline(__always)
func sgemmPart(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
               _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
               _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if SmallProducts.enabled && m * n * k > SmallProducts.limit {
        if !transA, SmallProducts.limit / (k * n) >= SmallProducts.minRows {
            SmallProducts.rowPieces(transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        if transA && !transB, SmallProducts.limit / (m * n) >= SmallProducts.minDepth {
            SmallProducts.depthPieces(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
    }
    cblasSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

@inline(__always)
private func cblasSgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS's AVX-512 kernel sets (0.3.17 on) multiply products of at most 10^6 multiply-adds with
/// "small-matrix" kernels that read the operands where they lie: no packing copies, and no separate pass
/// clearing C when beta = 0. Those passes dominate the pointwise convolutions' thin products (K and N of
/// 4-128), so long products of that kind are cut into pieces under the limit. Measured on one core of an
/// Emerald Rapids VM against one call over 4096 rows: 1.2-1.7x faster for K x N up to 8192 (pieces of
/// 112 rows and more), 1.1x for the stem's 147 x 64 (96 rows), slower with fewer rows; weight gradients
/// cut along K: 1.1-1.4x.
///
/// The pieces depend on the shape alone (not on threads), so results stay bit-identical run to run; they
/// differ from one call's rounding only where OpenBLAS's kernels do.
enum SmallProducts {
    /// OpenBLAS's limit on M x N x K for the small kernels (sgemm_small_kernel_permit, SkylakeX family).
    static let limit = 1_000_000
    /// Fewest rows of C per piece worth a call: below it the calls' overhead outweighs the gain.
    static let minRows = 96
    /// Fewest reduction steps per piece of a weight gradient.
    static let minDepth = 48
    /// The small kernels exist for these kernel sets only; elsewhere pieces would just add calls.
    static let enabled = ["skylakex", "cooperlake", "sapphirerapids"].contains(BLASKernels.current.lowercased())

    /// C = alpha A op(B) + beta C in row pieces. The small kernels do not take a transposed B with a long C
    /// (OpenBLAS permits that case only for C of at most 1200 entries), so op(B) is first laid out plainly.
    static func rowPieces(_ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let rows = limit / (k * n) / 16 * 16
        func pieces(_ b: UnsafePointer<Float>, _ ldb: Int) {
            var lo = 0
            while lo < m {
                let len = min(rows, m - lo)
                cblasSgemm(false, false, len, n, k, alpha, a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc)
                lo += len
            }
        }
        guard transB else { return pieces(b, ldb) }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k * n) { bt in
            for j in 0..<n { for i in 0..<k { bt[i * n + j] = b[j * ldb + i] } }
            pieces(UnsafePointer(bt.baseAddress!), n)
        }
    }

    /// C = alpha A^T B + beta C with the reduction (A's and B's rows) cut into pieces, added in order.
    static func depthPieces(_ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let depth = limit / (m * n) / 16 * 16
        var lo = 0
        while lo < k {
            let len = min(depth, k - lo)
            cblasSgemm(true, false, m, n, len, alpha, a + lo * lda, lda, b + lo * ldb, ldb, lo == 0 ? beta : 1, c, ldc)
            lo += len
        }
    }
}

/// Public wrapper for benchmarks: C[m,n] = A[m,k] * B[k,n].
public func benchSgemm(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       _ c: UnsafeMutablePointer<Float>) {
    sgemm(m: m, n: n, k: k, a, lda: k, b, ldb: n, c, ldc: n)
}
