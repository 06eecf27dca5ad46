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

/// One cblas_sgemm call on the calling thread (OpenBLAS is pinned to one thread).
@inline(__always)
func sgemmPart(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Public wrapper for benchmarks: C[m,n] = A[m,k] * B[k,n].
public func benchSgemm(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       _ c: UnsafeMutablePointer<Float>) {
    sgemm(m: m, n: n, k: k, a, lda: k, b, ldb: n, c, ldc: n)
}
